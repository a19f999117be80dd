"""Does a checkpoint belong to the model a config builds? Checked before the tools use it.

mmengine's Runner loads ``load_from`` non-strictly: weights the model lacks, or that
have another shape, are skipped with a log warning. So ``tools/test.py`` with another
model's checkpoint evaluates a randomly initialised model and exits 0, and
``tools/train.py --resume`` with a checkpoint of another rectifier family reports
"resumed" and then fails inside the optimizer, whose saved state has other shapes.

* :func:`check_test_checkpoint`: strict -- every weight of the model must be in the
  checkpoint with its shape (extra checkpoint weights are only logged).
* :func:`check_resume_checkpoint`: the same, for the checkpoint ``--resume`` resumes.
* :func:`check_load_from`: fine-tuning from another model's weights is legitimate, so
  only a checkpoint of which *no* weight fits is an error; mmengine's own warning lists
  partial mismatches.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple

import torch

from ..apis import read_checkpoint

__all__ = ["CheckpointMatch", "compare_state_dict", "checkpoint_state_dict", "check_test_checkpoint",
           "check_resume_checkpoint", "check_load_from"]

_EXAMPLES = 3  # key names quoted per kind of mismatch


@dataclass
class CheckpointMatch:
    """How a checkpoint's state dict fits a model's."""

    num_model: int  # weights (parameters and buffers) of the model
    missing: List[str] = field(default_factory=list)  # model weights not in the checkpoint
    unexpected: List[str] = field(default_factory=list)  # checkpoint weights the model lacks
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, checkpoint, model shape)

    @property
    def num_loaded(self) -> int:
        return self.num_model - len(self.missing) - len(self.mismatched)

    @property
    def strict_ok(self) -> bool:
        return not self.missing and not self.mismatched

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} of the model's {self.num_model} weights are not in it "
                         f"(e.g. {', '.join(self.missing[:_EXAMPLES])})")
        if self.mismatched:
            shown = ", ".join(f"{k}: checkpoint {tuple(c)} vs model {tuple(m)}"
                              for k, c, m in self.mismatched[:_EXAMPLES])
            parts.append(f"{len(self.mismatched)} have another shape ({shown})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} of its weights are not in the model "
                         f"(e.g. {', '.join(self.unexpected[:_EXAMPLES])})")
        return "; ".join(parts) or "it matches"


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The model whose weights a checkpoint holds: without DDP / TTA wrappers, as
    mmengine's ``load_state_dict`` unwraps them."""
    from mmengine.model import BaseTTAModel, is_model_wrapper

    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def compare_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> CheckpointMatch:
    """Compare ``state_dict`` (keys as mmengine revises them: no leading ``module.``)
    with the weights of ``model``."""
    own = _unwrapped(model).state_dict()
    match = CheckpointMatch(num_model=len(own))
    for key, value in own.items():
        if key not in state_dict:
            match.missing.append(key)
        elif hasattr(state_dict[key], "shape") and tuple(state_dict[key].shape) != tuple(value.shape):
            match.mismatched.append((key, tuple(state_dict[key].shape), tuple(value.shape)))
    match.unexpected = [k for k in state_dict if k not in own]
    return match


def checkpoint_state_dict(path: str) -> Mapping[str, torch.Tensor]:
    """The model weights of a checkpoint file or URL, keys revised as mmengine does
    (read by :func:`stn_plugin.apis.read_checkpoint`, which names a damaged file)."""
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not a state dict")
    state = checkpoint.get("state_dict", checkpoint)
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def _log(message: str) -> None:
    from mmengine.logging import print_log

    print_log(message, logger="current", level=logging.WARNING)


def check_test_checkpoint(model: torch.nn.Module, path: str, config: str) -> CheckpointMatch:
    """Raise ``ValueError`` unless every weight of ``model`` is in the checkpoint at
    ``path`` with its shape."""
    match = compare_state_dict(model, checkpoint_state_dict(path))
    if not match.strict_ok:
        raise ValueError(f"checkpoint {path} does not match the model of {config}: {match.describe()}. "
                         "tools/test.py loads checkpoints strictly; was it trained with this config?")
    if match.unexpected:
        _log(f"checkpoint {path}: {match.describe()} (ignored)")
    return match


def check_resume_checkpoint(model: torch.nn.Module, path: Optional[str]) -> Optional[CheckpointMatch]:
    """Raise ``ValueError`` unless the checkpoint ``--resume`` would resume from fits the
    model exactly (its optimizer state could not be loaded otherwise). ``path`` None:
    nothing to resume, nothing to check."""
    if path is None:
        return None
    match = compare_state_dict(model, checkpoint_state_dict(path))
    if not match.strict_ok:
        raise ValueError(f"--resume: checkpoint {path} does not match this config's model: {match.describe()}. "
                         "Resume only from a checkpoint of the same config; to start from its weights "
                         f"instead, use --cfg-options load_from={path} (loads what fits) without --resume")
    return match


def check_load_from(model: torch.nn.Module, path: Optional[str]) -> Optional[CheckpointMatch]:
    """Raise ``ValueError`` if not a single weight of ``load_from`` fits the model."""
    if path is None:
        return None
    match = compare_state_dict(model, checkpoint_state_dict(path))
    if match.num_model and match.num_loaded == 0:
        raise ValueError(f"load_from={path}: none of the model's {match.num_model} weights can be loaded from "
                         f"it ({match.describe()}); it is a checkpoint of another model")
    return match
