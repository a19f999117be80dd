"""Thin ``nn.Module`` adapters that give each model a tensors-in, tensors-out forward.

The TorchScript exporter calls ``forward`` with positional tensors only (and binds the
defaults of every further parameter, keyword-only ones included, as extra positional
arguments), so a model whose ``forward`` takes options, tuples of levels or data
samples is exported through one of these. They add no computation of their own apart
from the input normalisation of :class:`ModelTensorGraph`, which moves the data
preprocessor's ``(x - mean) / std`` into the graph so the exported file takes pixels.
"""
from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ["PositionalForward", "RoIExtractorGraph", "ModelTensorGraph"]


class PositionalForward(nn.Module):
    """``module(*inputs)`` with nothing else bound: spatial transformers (any family,
    recurrent, parallel), localization nets, backbones."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *inputs: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        return self.module(*inputs)


class RoIExtractorGraph(nn.Module):
    """An mmdet RoI extractor (e.g. :class:`~stn_plugin.detection.AffineRoIRectifier`) as
    a graph: inputs ``feat_0 .. feat_{L-1}`` (FPN levels ``(B, C, H_l, W_l)``) and ``rois
    (N, 5)`` = ``(batch_idx, x1, y1, x2, y2)`` in image pixels; output ``(N, C, h, w)``."""

    def __init__(self, extractor: nn.Module) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, *inputs: Tensor) -> Tensor:
        *feats, rois = inputs
        return self.extractor(tuple(feats), rois)


class ModelTensorGraph(nn.Module):
    """An mmengine ``BaseModel`` in ``mode='tensor'`` with its input normalisation.

    Input: images ``(N, C, H, W)`` as the data pipeline delivers them (pixel values,
    float, the pipeline's channel order); the data preprocessor's channel swap and
    ``(x - mean) / std`` run in the graph. Output: what ``model(x, mode='tensor')``
    returns, e.g. a recognizer's logits ``(N, T, num_classes)`` or a classifier's
    ``(N, num_classes)``.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        pre = getattr(model, "data_preprocessor", None)
        self.swap_channels = bool(getattr(pre, "_channel_conversion", False))
        normalize = bool(getattr(pre, "_enable_normalize", False))
        mean = pre.mean.detach().clone() if normalize else torch.zeros(1)
        std = pre.std.detach().clone() if normalize else torch.ones(1)
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1).float(), persistent=False)
        self.register_buffer("std", std.reshape(1, -1, 1, 1).float(), persistent=False)

    def normalize(self, images: Tensor) -> Tensor:
        """What the data preprocessor does to a stacked batch (padding aside)."""
        x = images.float()
        if self.swap_channels:
            x = x.flip(1)
        return (x - self.mean) / self.std

    def forward(self, images: Tensor) -> Tensor:
        return self.model(self.normalize(images), None, "tensor")
