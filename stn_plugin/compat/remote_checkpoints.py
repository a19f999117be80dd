"""Weights-only loading for checkpoints mmengine fetches by URL.

mmengine 0.10.7 loads local files with ``torch.load(filename, map_location=...)``,
which under torch >= 2.6 means ``weights_only=True``. Its URL schemes
(``http://``, ``https://``, ``open-mmlab://``, ``openmmlab://``, ``torchvision://``,
``mmcls://``; e.g. mmdet's ``init_cfg=dict(type='Pretrained',
checkpoint='torchvision://resnet50')``), however, go through
``mmengine.runner.checkpoint.load_url``, which is
``torch.hub.load_state_dict_from_url`` -- and *that* function defaults to
``weights_only=False`` (torch 2.14.1: ``weights_only: bool = False``). A downloaded
(or already cached, ``~/.cache/torch/hub/checkpoints``) file would be unpickled
with full pickle, i.e. could run code.

:func:`harden_remote_checkpoint_loading` rebinds that module attribute to a
wrapper whose ``weights_only`` default is True, so remote checkpoints get the same
allow-list as local ones (:func:`stn_plugin.compat.enable_safe_checkpoint_loading`).
A caller that explicitly passes ``weights_only=False`` still gets it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

_WRAPPED_MARKER = "_stn_plugin_weights_only_default"


def _weights_only_by_default(load_url: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``load_url`` so that ``weights_only`` defaults to True."""

    @functools.wraps(load_url)
    def load_url_weights_only(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("weights_only", True)
        return load_url(*args, **kwargs)

    setattr(load_url_weights_only, _WRAPPED_MARKER, True)
    return load_url_weights_only


def harden_remote_checkpoint_loading() -> bool:
    """Make mmengine's URL checkpoint loaders use ``weights_only=True`` by default.

    Idempotent. Only applies when mmengine's ``load_url`` accepts ``weights_only``
    (it does for every torch >= 1.13; for older torch mmengine ships its own
    ``load_url`` without the argument and this does nothing).

    Returns:
        bool: True if this call installed the wrapper.
    """
    import inspect

    import mmengine.runner.checkpoint as mm_checkpoint

    current = mm_checkpoint.load_url
    if getattr(current, _WRAPPED_MARKER, False):
        return False
    try:
        params = inspect.signature(current).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        return False
    if "weights_only" not in params:  # pragma: no cover - torch < 1.13
        return False
    mm_checkpoint.load_url = _weights_only_by_default(current)
    return True
