"""stn_plugin.compat.import_hook: a callback runs right after a module's first import,
whoever imports it, or at once when it is already imported."""
from __future__ import annotations

import importlib
import sys

from stn_plugin.compat import import_hook
from stn_plugin.compat.import_hook import call_after_import


def _pending() -> dict:
    return import_hook._FINDER.pending


def _package(tmp_path, name: str) -> None:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import inner\n")  # the package imports the module itself
    (pkg / "inner.py").write_text("VALUE = 41\n")


def test_callback_runs_after_the_modules_code_once(tmp_path, monkeypatch):
    _package(tmp_path, "after_import_pkg")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []

    def patch(module):
        seen.append((module.__name__, module.VALUE))
        module.VALUE += 1

    call_after_import("after_import_pkg.inner", patch)
    assert seen == [] and import_hook._FINDER in sys.meta_path and "after_import_pkg.inner" in _pending()
    import after_import_pkg  # noqa: F401  (imports .inner: the callback runs then)

    inner = sys.modules["after_import_pkg.inner"]
    assert seen == [("after_import_pkg.inner", 41)] and inner.VALUE == 42
    # the module looks as if imported without the hook, and nothing waits for it any more
    assert type(inner.__loader__).__name__ == "SourceFileLoader" and inner.__spec__.loader is inner.__loader__
    assert "after_import_pkg.inner" not in _pending()
    importlib.reload(inner)
    assert len(seen) == 1


def test_callback_runs_at_once_for_an_imported_module():
    seen = []
    call_after_import("json", seen.append)
    assert seen == [sys.modules["json"]]


def test_a_module_that_is_not_there_keeps_nothing_else_waiting(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    call_after_import("no_such_module_here", seen.append)
    try:
        importlib.import_module("no_such_module_here")
    except ModuleNotFoundError:
        pass
    (tmp_path / "no_such_module_here.py").write_text("")
    importlib.invalidate_caches()
    importlib.import_module("no_such_module_here")  # appears later: the callback still runs
    assert [m.__name__ for m in seen] == ["no_such_module_here"] and "no_such_module_here" not in _pending()


def test_the_finder_steps_aside_when_nothing_is_awaited(tmp_path, monkeypatch):
    monkeypatch.setattr(import_hook, "_FINDER", import_hook._AfterImportFinder())
    (tmp_path / "awaited_alone.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    call_after_import("awaited_alone", lambda module: None)
    assert import_hook._FINDER in sys.meta_path
    importlib.import_module("awaited_alone")
    assert import_hook._FINDER not in sys.meta_path
