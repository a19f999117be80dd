"""Build a model from an mmengine config and load its weights: :func:`init_model`.

The one way the package and its tools load a model (a detector, a text recognizer, a
text spotter, a digit classifier), after ``mmdet.apis.init_detector``: the config's
model is built in its default scope with every stn_plugin module registered, the
checkpoint is loaded, and the model is returned in eval mode with its config as
``model.cfg``. Unlike ``init_detector`` the load is strict by default: a checkpoint of
another model is refused with the keys that do not match, instead of a warning and a
model that is silently partly untrained.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Union

import torch.nn as nn

if TYPE_CHECKING:
    from mmengine.config import Config

__all__ = ["init_model"]

# How many mismatching keys an error names per kind (the rest are counted).
_KEYS_SHOWN = 8


def init_model(config: Union[str, Path, "Config"], checkpoint: Optional[Union[str, Path]] = None, device: str = "cpu",
               cfg_options: Optional[dict] = None, strict: bool = True) -> nn.Module:
    """The model of ``config`` with the weights of ``checkpoint``, on ``device``, in eval mode.

    Args:
        config: a config file path or an ``mmengine.Config`` (copied: the caller's
            object is not changed).
        checkpoint: a checkpoint file (or URL mmengine can load); ``None`` keeps the
            config's initialisation.
        device: torch device the model is moved to.
        cfg_options: overrides merged into the config (``Config.merge_from_dict`` keys,
            e.g. ``{'model.preprocessor': None}``) before the model is built.
        strict: the checkpoint's parameters and buffers must match the model's exactly
            (names and shapes); otherwise ``ValueError`` names the missing, unexpected
            and mis-shaped keys. ``False`` loads what matches and warns about the rest.

    Returns the model; ``model.cfg`` is the config it was built from, and
    ``model.dataset_meta`` the checkpoint's ``meta['dataset_meta']`` when it has one.
    Raises ``FileNotFoundError`` for a missing config or checkpoint file and
    ``TypeError`` for a ``config`` that is neither a path nor a ``Config``.
    """
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner import CheckpointLoader

    import stn_plugin

    if isinstance(config, (str, Path)):
        if not os.path.isfile(config):
            raise FileNotFoundError(f"config file not found: {config}")
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f"config must be a config file path or an mmengine Config, got {type(config).__name__}")
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get("custom_imports"):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    stn_plugin.register_all_modules()
    scope = cfg.get("default_scope", "mmdet")
    if scope is not None:
        init_default_scope(scope)
    from mmdet.registry import MODELS

    model = MODELS.build(cfg.model)
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        if not (os.path.isfile(checkpoint) or "://" in str(checkpoint)):
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        loaded = CheckpointLoader.load_checkpoint(str(checkpoint), map_location="cpu")
        _load_weights(model, loaded, strict, checkpoint, config)
        meta = loaded.get("meta", {}) if isinstance(loaded, dict) else {}
        if isinstance(meta, dict) and "dataset_meta" in meta:
            model.dataset_meta = {k.lower(): v for k, v in meta["dataset_meta"].items()}
    model.cfg = cfg
    return model.to(device).eval()


def _load_weights(model: nn.Module, loaded, strict: bool, checkpoint, config) -> None:
    """Load the state dict of the checkpoint ``loaded`` into ``model`` (mmengine's
    loader: a ``module.`` prefix of a wrapped model is dropped); strict: every key and
    shape must match."""
    from mmengine.runner import load_state_dict

    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {checkpoint}: holds no state dict (got {type(state).__name__})")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    if strict:
        problems = _mismatch(model.state_dict(), state)
        if problems:
            where = config if isinstance(config, (str, Path)) else "the config"
            raise ValueError(f"checkpoint {checkpoint} does not fit the {type(model).__name__} of {where}: "
                             + "; ".join(problems) + " (a checkpoint of another model? strict=False loads "
                             "what matches)")
    load_state_dict(model, state, strict=False)


def _mismatch(expected: Dict, found: Dict) -> List[str]:
    """What differs between the model's state dict ``expected`` and a checkpoint's ``found``."""
    def listed(kind: str, keys: List[str]) -> str:
        more = f", ... ({len(keys) - _KEYS_SHOWN} more)" if len(keys) > _KEYS_SHOWN else ""
        return f"{len(keys)} {kind}: " + ", ".join(keys[:_KEYS_SHOWN]) + more

    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [f"{k} {tuple(found[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in found and hasattr(found[k], "shape") and tuple(found[k].shape) != tuple(v.shape)]
    out = []
    if missing:
        out.append(listed("missing keys (in the model, not in the checkpoint)", missing))
    if unexpected:
        out.append(listed("unexpected keys (in the checkpoint, not in the model)", unexpected))
    if shapes:
        out.append(listed("keys of another shape (checkpoint vs model)", shapes))
    return out
