"""Run a function right after a module is first imported, whoever imports it.

``import stn_plugin`` must make mmengine checkpoints loadable under
``torch.load(weights_only=True)`` whether mmengine was imported before it or is
imported later (or never): the allow-list names mmengine's ``HistoryBuffer`` class,
which only exists once mmengine's module is loaded, and importing mmengine eagerly
would cost every user of the plain modules its import time.
:func:`call_after_import` applies a patch at once when the module is already loaded,
else when the import system has just executed it: a finder placed first in
``sys.meta_path`` lets the regular finders locate the module and wraps its loader so
that the callback runs after the module's code, before the importer sees it. The
finder removes itself once every awaited module was loaded.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from types import ModuleType
from typing import Callable, Dict, List, Optional, Sequence

Callback = Callable[[ModuleType], None]


class _CallbackLoader(importlib.abc.Loader):
    """The module's own loader, then the finder's callbacks for it once its code has run."""

    def __init__(self, loader: importlib.abc.Loader, finder: "_AfterImportFinder") -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        # from here on the module looks as if it was imported without us
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._finder.fire(module)


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the finders after it, then wraps the awaited modules' loaders."""

    def __init__(self) -> None:
        self.pending: Dict[str, List[Callback]] = {}
        self.lock = threading.RLock()

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
                  ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname not in self.pending:  # every import asks: no lock on this path
            return None
        for finder in list(sys.meta_path):
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CallbackLoader(spec.loader, self)
        return spec

    def fire(self, module: ModuleType) -> None:
        """Run (once) the callbacks waiting for ``module``; step aside when none is left."""
        with self.lock:
            callbacks = self.pending.pop(module.__name__, [])
            if not self.pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        for callback in callbacks:
            callback(module)


_FINDER = _AfterImportFinder()


def call_after_import(module_name: str, callback: Callback) -> None:
    """Call ``callback(module)`` once ``module_name`` is imported: now if it already is,
    else right after its code has run on its first import (before the importer gets it).

    An exception from ``callback`` propagates to the import statement that loaded the module."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    with _FINDER.lock:
        _FINDER.pending.setdefault(module_name, []).append(callback)
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
