"""RoI-level rectification: predict a per-RoI transform and sample the RoI through it.

:class:`RoIRectifier` is the plain-module core of the detection rectifiers
(:mod:`stn_plugin.detection.roi_rectifiers` wraps it as a drop-in replacement of
mmdet's ``SingleRoIExtractor``). For one feature map at ``spatial_scale = 1/stride``:

1. a cheap pooled view of each (optionally context-enlarged) RoI,
   ``(N, C, *loc_input_size)``, is sampled with :func:`~stn_plugin.ops.roi_sample`;
2. a localization net turns it into raw family parameters ``(N, P)``; its last layer
   starts at zero weight and identity bias, so a fresh rectifier samples exactly the
   box, i.e. what ``RoIAlign(aligned=True)`` with the same sampling ratio gives;
3. the transform (in the RoI frame: normalised output -> normalised box coordinates)
   is applied by :func:`~stn_plugin.ops.roi_sample` straight from the feature map --
   a 3x3 matrix for matrix families, an explicit sub-sample grid for TPS.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ..geometry.families import TransformFamily, build_family
from ..geometry.transforms import Transform
from ..geometry.validation import check_choice, check_size2
from ..ops.profiling import profile_stage
from ..ops.roi_sample import PADDING_MODES, roi_sample
from .localization import build_localization_net
from .regularization import RegularizedModule, build_regularizers


def scale_rois(rois: Tensor, factor: float) -> Tensor:
    """Boxes of ``rois (N, 5)`` scaled about their centres by ``factor``."""
    if factor == 1.0:
        return rois
    cx, cy = (rois[:, 1] + rois[:, 3]) / 2, (rois[:, 2] + rois[:, 4]) / 2
    hw, hh = (rois[:, 3] - rois[:, 1]) * (factor / 2), (rois[:, 4] - rois[:, 2]) * (factor / 2)
    return torch.stack([rois[:, 0], cx - hw, cy - hh, cx + hw, cy + hh], 1)


class RoIRectifier(RegularizedModule):
    """Localization net + transform family + per-RoI sampler for one feature map.

    Args:
        in_channels: channels of the feature map.
        out_size: ``(h, w)`` of each rectified RoI feature.
        family: transform family (name or dict with bounds), see
            :mod:`stn_plugin.geometry.families`.
        loc_net: localization-net config (``dict(type='conv' | 'mlp', ...)``).
        loc_input_size: ``(h, w)`` of the pooled view the localization net sees.
        sampling_ratio: sub-samples per output cell per axis.
        context_factor: the pooled view covers the box enlarged by this factor
            (rotated content spills out of axis-aligned boxes); the identity still
            samples the box itself.
        padding: boundary rule of :func:`roi_sample` (``'roi_align'`` = mmcv's).
        regularizers: loss configs applied to the predicted transforms.
    """

    def __init__(self, in_channels: int, out_size: Union[int, Sequence[int]] = 7,
                 family: Union[str, dict, TransformFamily] = "affine", loc_net: Optional[dict] = None,
                 loc_input_size: Union[int, Sequence[int]] = 7, sampling_ratio: int = 2,
                 context_factor: float = 1.0, padding: str = "roi_align",
                 regularizers: Optional[Sequence[dict]] = None) -> None:
        super().__init__()
        self.family = build_family(family)
        self.out_size = check_size2(out_size, "out_size")
        self.loc_input_size = check_size2(loc_input_size, "loc_input_size")
        if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
            raise ValueError(f"sampling_ratio must be a positive int, got {sampling_ratio!r}")
        if not context_factor >= 1.0:
            raise ValueError(f"context_factor must be >= 1, got {context_factor!r}")
        self.sampling_ratio = sampling_ratio
        self.context_factor = float(context_factor)
        self.padding = check_choice(padding, PADDING_MODES, "padding")  # at build, not at the first forward
        loc_cfg = dict(loc_net or dict(type="conv", channels=(64,), hidden_dims=(128,)))
        loc_cfg.setdefault("input_size", self.loc_input_size)
        self.loc_net = build_localization_net(loc_cfg, in_channels, self.family.identity_params())
        self.regularizers = build_regularizers(regularizers)

    def pooled_view(self, features: Tensor, rois: Tensor, spatial_scale: float) -> Tensor:
        """What the localization net sees: ``(N, C, *loc_input_size)`` of the context-enlarged boxes."""
        with profile_stage("rectifier.pooled_view"):
            return roi_sample(features, scale_rois(rois, self.context_factor), None, self.loc_input_size,
                              spatial_scale, sampling_ratio=1, padding=self.padding)

    def predict_params(self, features: Tensor, rois: Tensor, spatial_scale: float) -> Tensor:
        """Raw family parameters ``(N, P)`` for ``rois (N, 5)`` on ``features (B, C, H, W)``."""
        view = self.pooled_view(features, rois, spatial_scale)
        with profile_stage("rectifier.loc_net"):
            return self.loc_net(view)

    def sample(self, features: Tensor, rois: Tensor, transform: Transform, spatial_scale: float,
               out_size: Optional[Sequence[int]] = None, sampling_ratio: Optional[int] = None) -> Tensor:
        """Sample ``(N, C, h, w)`` through ``transform`` (RoI frame) from ``features``."""
        out_size = self.out_size if out_size is None else check_size2(out_size, "out_size")
        s = self.sampling_ratio if sampling_ratio is None else sampling_ratio
        with profile_stage("rectifier.sample"):
            return roi_sample(features, rois, transform, out_size, spatial_scale, s, self.padding)

    def forward(self, features: Tensor, rois: Tensor, spatial_scale: float):
        """``(rectified features (N, C, h, w), raw params (N, P))``."""
        params = self.predict_params(features, rois, spatial_scale)
        with profile_stage("rectifier.transform"):
            transform = self.family.build(params)
        return self.sample(features, rois, transform, spatial_scale), params
