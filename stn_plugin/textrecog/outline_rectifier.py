"""Training a text-outline rectifier with mmengine's Runner, supervised by geometry.

* ``DATASETS``: :class:`TextCropOutlineDataset`: crops of
  :func:`~stn_plugin.datasets.text_crops.make_text_crop` drawn on the fly (sample ``i``
  of a seed is always the same), with their outlines; training or held-out fonts and
  photos.
* ``MODELS``: :class:`TextOutlineRectifier`: a
  :class:`~stn_plugin.rectify.outline_net.TextOutlineNet` and its losses: the
  predicted edge points against the true ones (smooth L1, measured in text heights so
  that a 30:1 line's ends count as much as a word's), and whether the text is flat
  (binary cross-entropy).
* ``METRICS``: :class:`TextOutlineMetric`: mean outline-point error and end error in
  text heights, and flatness accuracy, on a validation set.

``tools/export_text_rectifier.py CONFIG CHECKPOINT OUT.pt`` writes the trained net as a
rectifier file that :class:`~stn_plugin.rectify.TextRectifier` loads with torch, numpy
and OpenCV alone.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmdet.registry import DATASETS, METRICS, MODELS

from ..datasets.text_crops import (EDGE_POINTS, FLAT_KINDS, KINDS, TRAINING_WEIGHTS, crop_style, make_text_crop,
                                  normalized_outline)
from ..geometry.outline import points_along
from ..rectify.images import TextCrop, padded_batch
from ..rectify.outline_net import TextOutlineNet, outline_input
from ..rectify.rectifier_file import rectifier_spec

__all__ = ["OUTLINE_MEAN", "OUTLINE_STD", "TextCropOutlineDataset", "TextOutlineMetric", "TextOutlineRectifier"]

#: Input normalisation of the outline nets, ``[0, 255]`` units.
OUTLINE_MEAN = (127.5, 127.5, 127.5)
OUTLINE_STD = (64.0, 64.0, 64.0)


@DATASETS.register_module()
class TextCropOutlineDataset(Dataset):
    """``num_samples`` synthetic text crops of ``seed`` with their outlines.

    Args:
        num_samples: length of the set (sample ``i`` depends only on ``seed`` and ``i``).
        seed: the set's seed.
        split: ``'training'`` or ``'held_out'`` fonts and photos
            (:func:`~stn_plugin.datasets.text_crops.crop_style`).
        kinds: which :data:`~stn_plugin.datasets.text_crops.KINDS`; ``None``: all, drawn
            with :data:`~stn_plugin.datasets.text_crops.TRAINING_WEIGHTS`.
        kind_weights: relative weights of some kinds, replacing their
            :data:`~stn_plugin.datasets.text_crops.TRAINING_WEIGHTS` (only with
            ``kinds=None``), e.g. to fine-tune on a kind the net reads worst.
        height, max_width: the net's input (see :class:`TextOutlineNet`).
    """

    def __init__(self, num_samples: int, seed: int = 0, split: str = "training",
                 kinds: Optional[Sequence[str]] = None, height: int = 32, max_width: int = 512,
                 kind_weights: Optional[Dict[str, float]] = None) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples, self.seed, self.split = int(num_samples), int(seed), split
        self.kinds = tuple(kinds) if kinds is not None else tuple(KINDS)
        self.weights = None if kinds is not None else [TRAINING_WEIGHTS[k] for k in self.kinds]
        if kind_weights:
            unknown = sorted(set(kind_weights) - set(KINDS))
            if kinds is not None or unknown or min(kind_weights.values()) < 0:
                raise ValueError("kind_weights must map kinds of KINDS to weights >= 0 and needs kinds=None; got "
                                 f"{dict(kind_weights)} (unknown: {unknown}), kinds={kinds}")
            self.weights = [float(kind_weights.get(k, w)) for k, w in zip(self.kinds, self.weights)]
        self.height, self.max_width = height, max_width
        self._style = None
        self.metainfo = dict(split=split, kinds=self.kinds)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> Dict:
        if self._style is None:  # loaded in the worker that needs it
            self._style = crop_style(self.split)
        s = make_text_crop(self.seed, index, self.kinds, self._style.fonts, self._style.photos, self.weights)
        h, w = s.image.shape[:2]
        mean = np.array(OUTLINE_MEAN, np.float32)[:, None, None]
        std = np.array(OUTLINE_STD, np.float32)[:, None, None]
        text_h = float(np.linalg.norm(s.bottom - s.top, axis=1).mean())
        return dict(inputs=outline_input(TextCrop(s.image, 1.0), self.height, self.max_width, mean, std),
                    outline=normalized_outline(s),
                    scale=np.array([w / 2 / text_h, h / 2 / text_h], np.float32),
                    flat=float(s.kind in FLAT_KINDS), kind=s.kind)


def _batch(data: Dict, device) -> Dict:
    """pseudo-collated samples -> padded tensors on ``device``."""
    x, widths = padded_batch([np.asarray(a) for a in data["inputs"]])
    as_tensor = lambda v: torch.as_tensor(np.stack([np.asarray(a) for a in v]), device=device)  # noqa: E731
    return dict(x=torch.from_numpy(x).to(device), widths=torch.from_numpy(widths).to(device),
                outline=as_tensor(data["outline"]).float(), scale=as_tensor(data["scale"]).float(),
                flat=torch.as_tensor(np.asarray(data["flat"], np.float32), device=device))


@MODELS.register_module()
class TextOutlineRectifier(BaseModel):
    """:class:`TextOutlineNet` with its geometric losses (see the module docstring).

    Args:
        net: :class:`TextOutlineNet` arguments.
        loss_outline_weight, loss_flat_weight: the two losses' weights.
        beta: smooth L1's beta, in text heights.
    """

    def __init__(self, net: Optional[dict] = None, loss_outline_weight: float = 1.0, loss_flat_weight: float = 0.2,
                 beta: float = 0.05, data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.net_cfg = dict(net or {})
        self.net = TextOutlineNet(**self.net_cfg)
        self.loss_outline_weight, self.loss_flat_weight, self.beta = loss_outline_weight, loss_flat_weight, beta

    def _errors(self, batch: Dict):
        """Predictions and per-point errors in text heights, ``(N, 2, L)``, with the valid mask."""
        pred = self.net(batch["x"], batch["widths"])
        n_cols = pred.edges.shape[2]
        # column j of crop i predicts the point j / (columns_i - 1) of the way along the text
        frac = torch.arange(n_cols, device=pred.edges.device)[None] / (pred.columns[:, None] - 1).clamp_min(1)
        pos = frac.clamp(max=1.0) * (EDGE_POINTS - 1)
        target = torch.stack([points_along(batch["outline"][:, e], pos) for e in range(2)], 1)  # (N, 2, L, 2)
        err = (pred.edges - target) * batch["scale"][:, None, None, :]          # text heights
        valid = (torch.arange(n_cols, device=err.device)[None] < pred.columns[:, None])  # (N, L)
        return pred, err, valid

    def forward(self, inputs, outline=None, scale=None, flat=None, kind=None, mode: str = "tensor", **kwargs):
        batch = _batch(dict(inputs=inputs, outline=outline, scale=scale, flat=flat), self.net.head.weight.device)
        if mode == "tensor":
            return self.net(batch["x"], batch["widths"])
        pred, err, valid = self._errors(batch)
        if mode == "loss":
            per_point = F.smooth_l1_loss(err, torch.zeros_like(err), beta=self.beta, reduction="none").sum(-1)
            mask = valid[:, None].expand_as(per_point).to(per_point.dtype)
            loss_outline = (per_point * mask).sum() / mask.sum()
            loss_flat = F.binary_cross_entropy_with_logits(pred.flat_logit, batch["flat"])
            return dict(loss_outline=self.loss_outline_weight * loss_outline,
                        loss_flat=self.loss_flat_weight * loss_flat)
        if mode == "predict":
            dist = err.norm(dim=-1)  # (N, 2, L)
            out = []
            for i in range(dist.shape[0]):
                n = int(pred.columns[i])
                d = dist[i, :, :n]
                out.append(dict(mean_error=float(d.mean()), end_error=float(d[:, [0, n - 1]].mean()),
                                flat_correct=float((pred.flat_logit[i] > 0) == (batch["flat"][i] > 0.5)),
                                kind=kind[i] if kind is not None else ""))
            return out
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")

    def rectifier_spec(self, meta: Optional[dict] = None) -> Dict:
        """The rectifier file's dict of the net (without weights): what
        :class:`~stn_plugin.rectify.TextRectifier` (config, checkpoint) and
        ``tools/export_text_rectifier.py`` use."""
        net = self.net
        return rectifier_spec(dict(type="TextOutlineNet", **self.net_cfg), net.in_channels, OUTLINE_MEAN, OUTLINE_STD,
                              (net.height, net.max_width), meta=meta)


@METRICS.register_module()
class TextOutlineMetric(BaseMetric):
    """Mean distance of the predicted outline points to the true ones and of the
    predicted ends, in text heights, and flatness accuracy (prefix ``outline``)."""

    default_prefix = "outline"

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError("TextOutlineMetric got no results")
        return dict(error=float(np.mean([r["mean_error"] for r in results])),
                    end_error=float(np.mean([r["end_error"] for r in results])),
                    flat_acc=float(np.mean([r["flat_correct"] for r in results])))
