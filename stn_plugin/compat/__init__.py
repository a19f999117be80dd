"""Compatibility layer: mmengine 0.10.7 checkpoints under torch >= 2.6's safe loading.

torch >= 2.6 defaults ``torch.load(weights_only=True)``: only tensors, plain
containers and explicitly allow-listed globals may be unpickled, so a checkpoint
cannot run code. mmengine 0.10.7 calls ``torch.load`` without ``weights_only`` (in
``mmengine.runner.checkpoint.load_from_local`` and friends, used by
``load_checkpoint``, ``Runner(load_from=...)`` and ``Runner.resume``), and the
checkpoints its Runner writes contain more than that: the message hub's
``HistoryBuffer`` objects, numpy arrays/scalars/dtypes, and -- through
``HistoryBuffer.__getstate__`` -- ``builtins.getattr`` calls. Loading them failed
with ``UnpicklingError: Weights only load failed``.

:func:`enable_safe_checkpoint_loading` keeps ``weights_only=True`` and allow-lists
exactly:

* ``mmengine.logging.history_buffer.HistoryBuffer`` (created via NEWOBJ, restored
  via its ``__setstate__``, which we also make safe; see
  :mod:`stn_plugin.compat.history_buffer`);
* the name ``builtins.getattr``, bound *not* to ``getattr`` but to
  :func:`~stn_plugin.compat.history_buffer.legacy_history_buffer_getattr`, which
  answers only ``getattr(HistoryBuffer, 'min'|'max'|'mean'|'current')`` -- what
  checkpoints written by plain mmengine contain -- and refuses everything else;
* numpy's array/scalar/dtype reconstruction (:mod:`stn_plugin.compat.numpy_globals`).

``collections.OrderedDict`` (model ``state_dict``, message hub), ``_codecs.encode``
(bytes), ``set``/``complex`` and all tensor/storage rebuild functions are allowed by
torch itself. Everything else -- ``os.system``, ``subprocess.*``, ``eval`` ... --
is still refused by torch's unpickler with an error naming the global.

It also patches ``HistoryBuffer`` pickling so that *new* checkpoints contain no
functions at all (they load even without this package, with plain numpy
allow-listing), and makes mmengine's URL loaders (``https://``, ``torchvision://``,
``open-mmlab://`` ...), which call ``torch.hub.load_state_dict_from_url`` whose
default is ``weights_only=False``, default to ``weights_only=True`` as well
(:mod:`stn_plugin.compat.remote_checkpoints`).

``import stn_plugin`` applies it whatever the import order, through
:func:`enable_safe_checkpoint_loading_on_import`: at once for the parts of mmengine
already imported, else as soon as mmengine imports them
(:mod:`stn_plugin.compat.import_hook`), so that ``import stn_plugin`` followed by
``import mmengine`` and ``load_checkpoint(...)`` works too.

mmengine's local paths were checked in 0.10.7's source: ``load_checkpoint`` ->
``_load_checkpoint`` -> ``CheckpointLoader.load_checkpoint`` -> ``load_from_local``
-> ``torch.load(filename, map_location=map_location)``; ``Runner(load_from=...)``,
``Runner.resume`` and auto-resume all end there, so they use torch's default and
this allow-list (``map_location='cpu'`` included).
"""
from __future__ import annotations

import warnings
from types import ModuleType

from .errors import DisallowedGlobalError
from .history_buffer import (
    LEGACY_STATISTIC_METHODS,
    is_history_buffer_patched,
    legacy_history_buffer_getattr,
    patch_history_buffer_pickling,
)
from .import_hook import call_after_import
from .numpy_globals import SafeGlobal, numpy_safe_globals
from .remote_checkpoints import harden_remote_checkpoint_loading

__all__ = [
    "DisallowedGlobalError",
    "LEGACY_STATISTIC_METHODS",
    "enable_safe_checkpoint_loading",
    "enable_safe_checkpoint_loading_on_import",
    "harden_remote_checkpoint_loading",
    "is_history_buffer_patched",
    "legacy_history_buffer_getattr",
    "mmengine_safe_globals",
    "numpy_safe_globals",
    "patch_history_buffer_pickling",
]


def mmengine_safe_globals() -> list[SafeGlobal]:
    """Entries for ``torch.serialization.add_safe_globals`` that mmengine checkpoints need.

    Returns:
        list: ``HistoryBuffer``, the restricted ``builtins.getattr`` stand-in and
        the numpy entries of :func:`numpy_safe_globals`.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    return [
        HistoryBuffer,
        (legacy_history_buffer_getattr, "builtins.getattr"),
        *numpy_safe_globals(),
    ]


def enable_safe_checkpoint_loading() -> None:
    """Make mmengine checkpoints load under ``torch.load(weights_only=True)``.

    Patches ``HistoryBuffer`` pickling (new checkpoints hold data only) and
    allow-lists :func:`mmengine_safe_globals` with
    ``torch.serialization.add_safe_globals``; makes mmengine's URL loaders default
    to ``weights_only=True`` too. ``weights_only`` stays torch's default and stays
    True. Idempotent: each patch is applied once (marked), and torch keeps its
    allow-list in a set, so calling this again changes nothing.
    """
    _allow_mmengine_globals()
    harden_remote_checkpoint_loading()


def _allow_mmengine_globals() -> None:
    import torch.serialization

    patch_history_buffer_pickling()
    torch.serialization.add_safe_globals(mmengine_safe_globals())


def _after_import(apply):
    """``apply`` as an import callback: a failure warns instead of breaking the user's
    ``import mmengine`` (checkpoints then fail to load with torch's own message)."""

    def callback(module: ModuleType) -> None:
        try:
            apply()
        except Exception as err:  # noqa: BLE001 - reported, never raised into an unrelated import
            warnings.warn(f"stn_plugin could not make mmengine checkpoints load under weights_only=True "
                          f"when {module.__name__} was imported: {type(err).__name__}: {err}", stacklevel=2)

    return callback


def enable_safe_checkpoint_loading_on_import() -> None:
    """:func:`enable_safe_checkpoint_loading`, whether mmengine is imported already or later.

    Each half is applied when the mmengine module it patches is loaded: the
    ``HistoryBuffer`` pickling and the allow-list with
    ``mmengine.logging.history_buffer``, the URL loaders with
    ``mmengine.runner.checkpoint`` -- at once for a module already imported, else right
    after its first import. Nothing imports mmengine here."""
    call_after_import("mmengine.logging.history_buffer", _after_import(_allow_mmengine_globals))
    call_after_import("mmengine.runner.checkpoint", _after_import(harden_remote_checkpoint_loading))
