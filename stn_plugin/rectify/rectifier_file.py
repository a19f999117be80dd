"""The rectifier file: a learned text rectifier without its recognizer, and the ones
shipped with the package.

A rectifier file is a ``torch.save`` dict of plain types and tensors, read with
``weights_only=True`` (no code runs): ``format`` (:data:`FILE_FORMAT`), ``version``,
``preprocessor`` (the module's config dict), ``in_channels``, ``mean`` and ``std`` (the
input normalisation, one value per channel, in ``[0, 255]`` units), ``input_size``
(``(h, w)`` of the localization net's input), ``state_dict`` and ``meta`` (how it was
made).
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from torch import nn

__all__ = ["DEFAULT_RECTIFIER", "PRETRAINED_DIR", "PRETRAINED", "FILE_FORMAT", "FILE_VERSION", "pretrained_path",
           "rectifier_spec", "load_rectifier_file", "save_rectifier_file"]

PRETRAINED_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), "textrecog", "pretrained")
#: Rectifiers shipped with the package: name -> file in :data:`PRETRAINED_DIR`.
PRETRAINED = {"text-lines": "text-lines.pt", "tps-words": "tps-words.pt"}
#: What :meth:`~stn_plugin.rectify.TextRectifier.from_pretrained` loads by default: the
#: outline rectifier for words and text lines (``tps-words`` is the older word rectifier).
DEFAULT_RECTIFIER = "text-lines"
FILE_FORMAT = "stn_plugin.text_rectifier"
FILE_VERSION = 1
_REQUIRED = ("preprocessor", "in_channels", "mean", "std", "input_size", "state_dict")


def pretrained_path(name_or_path: str) -> str:
    """The file of a shipped rectifier by name (:data:`PRETRAINED`), or ``name_or_path``
    itself when it is a file."""
    if name_or_path in PRETRAINED:
        path = osp.join(PRETRAINED_DIR, PRETRAINED[name_or_path])
        if not osp.isfile(path):
            raise FileNotFoundError(f"the shipped rectifier {name_or_path!r} is missing: {path}")
        return path
    if osp.isfile(name_or_path):
        return name_or_path
    raise FileNotFoundError(f"no shipped rectifier named {name_or_path!r} (known: {sorted(PRETRAINED)}) "
                            "and no such file")


def _to_plain(value):
    """Config values (mmengine ConfigDict, tuples) as plain dicts / lists / tuples."""
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_to_plain(v) for v in value)
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value


def rectifier_spec(preprocessor: Optional[dict], in_channels: int, mean: Sequence[float], std: Sequence[float],
                   input_size: Sequence[int], module: Optional[nn.Module] = None, meta: Optional[dict] = None) -> Dict:
    """A rectifier file's dict (without ``state_dict`` when ``module`` is None).
    ``preprocessor`` may be None for a rectifier taken from a built model without its
    config: such a rectifier works but cannot be saved."""
    spec = dict(format=FILE_FORMAT, version=FILE_VERSION,
                preprocessor=None if preprocessor is None else _to_plain(preprocessor),
                in_channels=int(in_channels), mean=[float(v) for v in mean], std=[float(v) for v in std],
                input_size=[int(s) for s in input_size], meta=dict(meta or {}))
    if module is not None:
        spec["state_dict"] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    return spec


def save_rectifier_file(spec: Dict, module: nn.Module, path: str) -> None:
    """Write ``spec`` with ``module``'s weights to ``path``."""
    if spec.get("preprocessor") is None:
        raise ValueError(f"cannot write {path!r}: this rectifier was taken from a model without its config "
                         "(pass the config: TextRectifier.from_recognizer(model, cfg))")
    out = {k: v for k, v in spec.items() if k != "state_dict"}
    out["state_dict"] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    torch.save(out, path)


def load_rectifier_file(path: str) -> Dict:
    """Read a rectifier file (``weights_only`` loading: no code runs) and check its format."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"rectifier file not found: {path!r}")
    spec = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(spec, dict) or spec.get("format") != FILE_FORMAT:
        raise ValueError(f"{path!r} is not a rectifier file (expected format {FILE_FORMAT!r}); for a recognizer "
                         "checkpoint pass its config too: TextRectifier(config, checkpoint)")
    if int(spec.get("version", 0)) > FILE_VERSION:
        raise ValueError(f"{path!r} has rectifier file version {spec['version']}, this code reads up to {FILE_VERSION}")
    for key in _REQUIRED:
        if key not in spec:
            raise KeyError(f"rectifier file {path!r} lacks {key!r}")
    return spec
