"""Make mmengine's ``HistoryBuffer`` safe to pickle and to unpickle with ``weights_only``.

Why this exists
---------------
mmengine 0.10.7's :class:`~mmengine.logging.HistoryBuffer` (one per logged scalar in
the message hub, which the Runner saves into every checkpoint) defines::

    def __getstate__(self):
        self.__dict__.update(statistics_methods=self._statistics_methods)
        return self.__dict__

``_statistics_methods`` is a *class-level* dict ``{'min': HistoryBuffer.min, ...}``.
``torch.save`` pickles with protocol 2, and protocol < 4 cannot name a nested
qualname such as ``HistoryBuffer.min`` directly, so pickle writes each method as
``builtins.getattr(HistoryBuffer, 'min')`` (``GLOBAL 'builtins getattr'`` +
``REDUCE``; visible with :mod:`pickletools`). Under torch >= 2.6's default
``torch.load(weights_only=True)`` this fails with "Unsupported global: GLOBAL
getattr", and allow-listing ``builtins.getattr`` itself would let any checkpoint
fetch any attribute of any allow-listed object (e.g. a method it can then misuse),
so that is not an option.

The fix has two halves:

1. :func:`patch_history_buffer_pickling` replaces ``__getstate__`` so that *new*
   pickles hold only data (``max_length``, ``_log_history``, ``_count_history``:
   an int and two numpy arrays) and no functions at all. The methods never needed
   to be saved: ``_statistics_methods`` is a process-wide registry that is filled
   at import time (defaults in ``__init__``/``_set_default_statistics``, custom
   ones by the ``@HistoryBuffer.register_statistics`` decorator). ``__setstate__``
   is replaced too, so that a loaded state can no longer overwrite entries of that
   process-wide registry with whatever objects a checkpoint contains.
2. :func:`legacy_history_buffer_getattr` is what the name ``builtins.getattr`` is
   resolved to by torch's weights-only unpickler (registered as
   ``(legacy_history_buffer_getattr, "builtins.getattr")`` in
   :mod:`stn_plugin.compat`). It returns ``getattr(HistoryBuffer, name)`` only for
   the four statistic methods mmengine registers by default and raises
   :class:`~stn_plugin.compat.errors.DisallowedGlobalError` for everything else, so
   checkpoints written before the fix (by any unpatched mmengine) still load, while
   a crafted ``getattr(<anything else>, ...)`` is refused.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

from .errors import DisallowedGlobalError

#: The statistic methods that mmengine 0.10.7 registers on every ``HistoryBuffer``
#: and that its unpatched ``__getstate__`` therefore pickles as
#: ``getattr(HistoryBuffer, <name>)``. Nothing else is resolved by
#: :func:`legacy_history_buffer_getattr`.
LEGACY_STATISTIC_METHODS: frozenset[str] = frozenset({"current", "max", "mean", "min"})

# Marker attribute set on the HistoryBuffer class once it has been patched.
_PATCH_MARKER = "_stn_plugin_safe_pickling"


def _history_buffer_cls() -> type:
    """Import mmengine's HistoryBuffer lazily (mmengine is optional for stn_plugin)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    return HistoryBuffer


def _safe_getstate(self: Any) -> dict[str, Any]:
    """Pickle state of a HistoryBuffer: its data only, never its statistic methods.

    Unlike mmengine's version this does not mutate ``self.__dict__`` (the original
    adds a ``statistics_methods`` attribute to the live object as a side effect) and
    drops such an attribute if an earlier, unpatched ``__getstate__`` call left it.
    """
    state = dict(self.__dict__)
    state.pop("statistics_methods", None)
    return state


def _safe_setstate(self: Any, state: dict[str, Any]) -> None:
    """Restore a HistoryBuffer from a (new or legacy) pickle state.

    A legacy state carries ``statistics_methods``. Entries that are exactly the
    methods already registered in this process are redundant and dropped silently;
    anything else is *not* written into the class-wide registry (mmengine's original
    ``__setstate__`` did that, letting a checkpoint replace e.g. ``'mean'`` for every
    buffer in the process) and a warning names it: register custom statistics with
    ``@HistoryBuffer.register_statistics`` in code, not through a checkpoint.
    """
    state = dict(state)
    saved_methods = state.pop("statistics_methods", None) or {}
    self._set_default_statistics()
    registered: dict[str, Callable[..., Any]] = type(self)._statistics_methods
    ignored = sorted(
        str(name) for name, method in dict(saved_methods).items() if registered.get(name) is not method
    )
    if ignored:
        warnings.warn(
            "HistoryBuffer state names statistic method(s) "
            f"{ignored} that differ from those registered in this process; they were "
            "ignored. Register custom statistics with "
            "`@HistoryBuffer.register_statistics` before using them.",
            stacklevel=2,
        )
    self.__dict__.update(state)


def patch_history_buffer_pickling() -> bool:
    """Make ``HistoryBuffer`` pickle data only (see the module docstring).

    Idempotent: the class is patched once and marked; later calls do nothing.

    Returns:
        bool: True if this call patched the class, False if it was already patched.
    """
    history_buffer = _history_buffer_cls()
    if getattr(history_buffer, _PATCH_MARKER, False):
        return False
    history_buffer.__getstate__ = _safe_getstate  # type: ignore[method-assign]
    history_buffer.__setstate__ = _safe_setstate  # type: ignore[attr-defined]
    setattr(history_buffer, _PATCH_MARKER, True)
    return True


def is_history_buffer_patched() -> bool:
    """Whether :func:`patch_history_buffer_pickling` has been applied."""
    return bool(getattr(_history_buffer_cls(), _PATCH_MARKER, False))


def _describe(obj: object) -> str:
    """Short, side-effect-free description of a getattr target for error messages."""
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    kind = type(obj)
    return f"a {kind.__module__}.{kind.__qualname__} object"


def legacy_history_buffer_getattr(obj: object, name: object, *default: object) -> Any:
    """Stand-in for ``builtins.getattr`` inside weights-only checkpoint loading.

    Only ``getattr(HistoryBuffer, name)`` with ``name`` one of
    :data:`LEGACY_STATISTIC_METHODS` (and no default) is answered: that is exactly
    what unpatched mmengine writes into checkpoints. The returned plain functions
    are not allow-listed as callables, so a checkpoint cannot call them either.

    Raises:
        DisallowedGlobalError: for any other target or attribute name.
    """
    history_buffer = _history_buffer_cls()
    if obj is history_buffer and not default and isinstance(name, str) and name in LEGACY_STATISTIC_METHODS:
        return getattr(history_buffer, name)
    shown_name = repr(name) if isinstance(name, str) else f"<{type(name).__name__}>"
    raise DisallowedGlobalError(
        "The checkpoint contains a disallowed global: builtins.getattr, applied to "
        f"{_describe(obj)} with attribute {shown_name[:80]}. stn_plugin's safe checkpoint "
        "loading resolves getattr only for mmengine HistoryBuffer statistic methods "
        f"{sorted(LEGACY_STATISTIC_METHODS)}; the file was refused. Do not load it with "
        "weights_only=False unless you fully trust its source."
    )
