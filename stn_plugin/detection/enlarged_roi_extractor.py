"""A fixed wider RoI: mmdet's ``SingleRoIExtractor`` sampling each box enlarged about its centre.

The ablation that separates context from warping: the RoI rectifiers learn, among
other things, to sample a region larger than the proposal (the statistics hook reports
that as the mean *area* scale of the learned transform), so this extractor samples
every RoI enlarged by a fixed area factor and has no localization net. Given the
rectifier's learned area scale, it answers "would enlarging the RoIs by the same
amount give the same gain?".
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor

__all__ = ["EnlargedRoIExtractor"]


@MODELS.register_module()
class EnlargedRoIExtractor(SingleRoIExtractor):
    """``SingleRoIExtractor`` whose RoIs cover ``area_scale`` times the box's area.

    Each box ``(x1, y1, x2, y2)`` (image pixels) keeps its centre and aspect ratio and has
    both sides multiplied by ``sqrt(area_scale)`` -- the same measure as the rectifier
    statistics' area scale (``|det|`` of the RoI-frame transform), so an affine rectifier
    at area scale 2 and ``EnlargedRoIExtractor(area_scale=2)`` sample regions of equal
    size. The enlarged RoIs are not clipped to the image: like the rectifiers' samples
    outside the image, RoIAlign reads zeros there, and the box stays centred in its
    ``(h, w)`` output at a fixed scale (clipping would shift and squash the object
    differently for each RoI near a border). The FPN level of each RoI is chosen from
    the box *before* enlarging (mmdet's rule for ``roi_scale_factor``, and the
    rectifiers' rule), so only the sampled region changes, not the feature level.

    Args:
        roi_layer, out_channels, featmap_strides, finest_scale, init_cfg: as
            ``SingleRoIExtractor``.
        area_scale: area of the sampled region over the box's area, ``>= 1``
            (1: exactly ``SingleRoIExtractor``).

    ``forward(feats, rois (N, 5), roi_scale_factor=None) -> (N, C, h, w)``; a
    ``roi_scale_factor`` given by a head multiplies the sides on top of ``area_scale``.
    """

    def __init__(self, roi_layer: dict, out_channels: int, featmap_strides: List[int], finest_scale: int = 56,
                 area_scale: float = 1.0, init_cfg=None) -> None:
        if isinstance(area_scale, bool) or not isinstance(area_scale, (int, float)) \
                or not math.isfinite(area_scale) or area_scale < 1.0:
            raise ValueError(f"EnlargedRoIExtractor: area_scale must be a finite number >= 1 (the area of the "
                             f"sampled region over the box's area), got {area_scale!r}")
        super().__init__(roi_layer, out_channels, featmap_strides, finest_scale, init_cfg)
        self.area_scale = float(area_scale)
        self.side_scale = math.sqrt(self.area_scale)

    def forward(self, feats: Tuple[Tensor], rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        factor = self.side_scale * (1.0 if roi_scale_factor is None else float(roi_scale_factor))
        if factor == 1.0:
            return super().forward(feats, rois)
        if len(feats) == 1:  # mmdet's single-level path ignores roi_scale_factor
            return super().forward(feats, self.roi_rescale(rois, factor))
        return super().forward(feats, rois, factor)
