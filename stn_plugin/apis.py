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
import errno
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

import torch.nn as nn

if TYPE_CHECKING:
    from mmengine.config import Config

__all__ = ["init_model", "read_checkpoint", "unreadable_reason"]

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
    import stn_plugin

    if checkpoint is not None and not (os.path.isfile(checkpoint) or "://" in str(checkpoint)):
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")  # before the model is built
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
        loaded = read_checkpoint(checkpoint)
        _load_weights(model, loaded, strict, checkpoint, config)
        meta = loaded.get("meta", {}) if isinstance(loaded, dict) else {}
        if isinstance(meta, dict) and "dataset_meta" in meta:
            model.dataset_meta = {k.lower(): v for k, v in meta["dataset_meta"].items()}
    model.cfg = cfg
    return model.to(device).eval()


def read_checkpoint(path: Union[str, Path]) -> Any:
    """The object a checkpoint file or URL holds (mmengine's loader, ``weights_only``
    loading). A file that cannot be read raises ``ValueError`` naming it and why
    (:func:`unreadable_reason`); a missing one ``FileNotFoundError``."""
    from mmengine.runner import CheckpointLoader

    try:
        return CheckpointLoader.load_checkpoint(str(path), map_location="cpu")
    except (FileNotFoundError, PermissionError):
        raise  # named well enough already
    except (EOFError, OSError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} cannot be loaded: {unreadable_reason(str(path), err)}") from err


def unreadable_reason(path: str, err: BaseException) -> str:
    """Why ``torch.load`` could not read the checkpoint at ``path``, in one line."""
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return "the file is empty (a save that never finished?)"
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in text:
        # torch's message is a page long; its reason is the line naming what was refused
        reason = next((line.strip() for line in text.splitlines() if "WeightsUnpickler error" in line),
                      text.splitlines()[0])
        return (f"torch's weights_only loading refused it ({reason}); load it with weights_only=False "
                "only if you trust its source")
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    # torch's zip reader: "failed finding central directory", or EINVAL seeking past the end
    truncated = (isinstance(err, (EOFError, zipfile.BadZipFile)) or "zip archive" in text
                 or (isinstance(err, OSError) and err.errno == errno.EINVAL))
    if truncated:
        return f"it is truncated or not a PyTorch checkpoint (a save that never finished?): {first}"
    return f"{type(err).__name__}: {first}"


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
