"""A text spotter's weights joined from a word detector's and a crop-level recognizer's.

:func:`compose_spotter_checkpoint` writes an mmengine checkpoint whose ``state_dict``
holds a detector checkpoint's weights as they are (backbone, neck, RPN, box head) and a
crop-level recognizer's (``configs/textrecog/``: backbone, decoder, optional rectifier)
under ``roi_head.recognizer.``. Loaded into a spotting config (``tools/test.py CONFIG
CKPT``, ``tools/spot_text.py``) it is the "detect, crop the box, read the crop" pipeline
when the config's recognition crops are axis-aligned (``SingleRoIExtractor``); as
``load_from`` it starts end-to-end training from both models. The recognizer's keys
must match the spotting config's ``recognizer`` (same backbone and decoder; a crop TPS
rectifier comes as ``roi_head.recognizer.preprocessor.*``).

Example::

    from stn_plugin.spotting.checkpoints import compose_spotter_checkpoint
    compose_spotter_checkpoint('work_dirs/detector/iter_2000.pth', 'work_dirs/crnn/iter_2000.pth',
                               'work_dirs/detect-then-read.pth')
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, Optional

import torch

RECOGNIZER_PREFIX = "roi_head.recognizer."
RECOGNITION_PREFIXES = (RECOGNIZER_PREFIX, "roi_head.recog_roi_extractor.")

__all__ = ["compose_spotter_checkpoint", "RECOGNIZER_PREFIX"]


def _state_dict(path: str, what: str) -> Dict[str, torch.Tensor]:
    from mmengine.runner.checkpoint import _load_checkpoint

    if not osp.isfile(path):
        raise FileNotFoundError(f"{what} checkpoint not found: {path}")
    try:
        ckpt = _load_checkpoint(path, map_location="cpu")
    except Exception as err:  # a truncated or foreign file: say which one
        raise ValueError(f"cannot read the {what} checkpoint {path}: {err}") from err
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"the {what} checkpoint {path} holds no state_dict")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def compose_spotter_checkpoint(detector: str, recognizer: str, out: str, overwrite: bool = False,
                               meta: Optional[dict] = None, keep_recog_roi_extractor: bool = False) -> str:
    """Write ``out``: ``detector``'s weights plus ``recognizer``'s under
    ``roi_head.recognizer.`` (see the module docstring); returns ``out``.

    Args:
        detector: checkpoint of a two-stage detector (keys ``rpn_head.*``, ``roi_head.*``);
            recognition weights it may hold (a spotter's) are dropped, but for its
            recognition RoI rectifier's with ``keep_recog_roi_extractor``.
        recognizer: checkpoint of a crop-level ``CTCTextRecognizer`` (keys ``backbone.*``,
            ``decoder.*``, ``preprocessor.*``).
        out: the file to write; an existing one is refused unless ``overwrite``.
        meta: extra entries of the checkpoint's ``meta``.
        keep_recog_roi_extractor: keep ``detector``'s ``roi_head.recog_roi_extractor.*``
            (a spotter's trained RoI rectifier, whose outlines a crop recognizer then reads).
    """
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    det = _state_dict(detector, "detector")
    rec = _state_dict(recognizer, "recognizer")
    if not any(k.startswith("rpn_head.") for k in det):
        raise ValueError(f"{detector} is not a two-stage detector's checkpoint (no rpn_head.* weights)")
    if any(k.startswith("rpn_head.") for k in rec) or not any(k.startswith("decoder.") for k in rec):
        raise ValueError(f"{recognizer} is not a crop-level recognizer's checkpoint (it needs decoder.* weights "
                         "and no rpn_head.*): give the detector first, the recognizer second")
    dropped = (RECOGNIZER_PREFIX,) if keep_recog_roi_extractor else RECOGNITION_PREFIXES
    state = {k: v for k, v in det.items() if not k.startswith(dropped)}
    state.update({RECOGNIZER_PREFIX + k: v for k, v in rec.items()})
    meta = dict(meta or {}, composed_from=dict(detector=osp.abspath(detector), recognizer=osp.abspath(recognizer)))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state), out)
    return out
