"""RoI rectifiers as drop-in replacements of mmdet's ``SingleRoIExtractor``.

Same constructor fields (``roi_layer``, ``out_channels``, ``featmap_strides``,
``finest_scale``) and the same ``forward(feats, rois, roi_scale_factor=None)``;
``roi_layer`` gives the output size (and, when positive, the default sampling
ratio), the FPN level of each RoI follows mmdet's rule. Each level's RoIs go
through one :class:`~stn_plugin.modules.roi_rectifier.RoIRectifier` shared by all
levels (so the net's parameters do not depend on the pyramid depth).

After each forward the extractor keeps the raw transform parameters of the RoIs it
saw (``last_params``, see ``transform_of_last``); :class:`~stn_plugin.detection.roi_heads.RectifyingRoIHead`
turns it into regulariser losses and uses it to keep masks right.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor

from ..geometry.transforms import Transform
from ..modules.roi_rectifier import RoIRectifier

MATRIX_FAMILIES = ("translation", "attention", "similarity", "affine", "projective")


class _RoIRectifierExtractor(SingleRoIExtractor):
    def __init__(self, roi_layer: dict, out_channels: int, featmap_strides: List[int], finest_scale: int = 56,
                 family: Union[str, dict] = "affine", loc_net: Optional[dict] = None,
                 loc_input_size: Union[int, Sequence[int]] = 7, sampling_ratio: Optional[int] = None,
                 context_factor: float = 1.0, padding: str = "roi_align",
                 regularizers: Optional[Sequence[dict]] = None, init_cfg=None) -> None:
        super().__init__(roi_layer, out_channels, featmap_strides, finest_scale, init_cfg)
        out_size = tuple(self.roi_layers[0].output_size)
        if sampling_ratio is None:
            # mmdet's default roi_layer uses sampling_ratio=0 (adaptive): a fixed ratio
            # is needed here, so fall back to 2 and say so in the docs.
            sampling_ratio = int(roi_layer.get("sampling_ratio", 0)) or 2
        self.rectifier = RoIRectifier(out_channels, out_size, family, loc_net, loc_input_size, sampling_ratio,
                                      context_factor, padding, regularizers)
        self.last_params: Optional[Tensor] = None
        self.last_rois: Optional[Tensor] = None

    @property
    def family(self):
        return self.rectifier.family

    def forward(self, feats: Tuple[Tensor], rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        """``feats``: FPN levels ``(B, C, H_l, W_l)``; ``rois (N, 5)`` -> ``(N, C, h, w)``."""
        rois = rois.type_as(feats[0])
        num_levels = len(feats)
        out_size = self.rectifier.out_size
        roi_feats = feats[0].new_zeros(rois.size(0), self.out_channels, *out_size)
        params = feats[0].new_zeros(rois.size(0), self.family.num_params)
        target_lvls = (self.map_roi_levels(rois, num_levels) if num_levels > 1
                       else rois.new_zeros(rois.size(0), dtype=torch.long))
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        for i in range(num_levels):
            inds = (target_lvls == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                feats_i, params_i = self.rectifier(feats[i], rois[inds], 1.0 / self.featmap_strides[i])
                roi_feats[inds] = feats_i.to(roi_feats.dtype)
                params[inds] = params_i.to(params.dtype)
            else:
                # DDP: every parameter and level stays in the graph even without RoIs
                roi_feats = roi_feats + (sum(p.view(-1)[0] for p in self.parameters()) * 0.0
                                         + feats[i].sum() * 0.0)
        self.last_params, self.last_rois = params, rois
        return roi_feats

    def transform_of_last(self, index: Optional[Tensor] = None) -> Transform:
        """Batched transform (RoI frame) of the RoIs of the last forward, or of ``index``."""
        if self.last_params is None:
            raise RuntimeError("no forward has run yet: there is no transform to report")
        params = self.last_params if index is None else self.last_params[index]
        return self.family.build(params)

    def regularization_losses(self, prefix: str = "") -> dict:
        if self.last_params is None:
            return {}
        return self.rectifier.regularization_losses(self.transform_of_last(), prefix)


@MODELS.register_module()
class AffineRoIRectifier(_RoIRectifierExtractor):
    """RoI rectifier with a matrix family: ``family`` one of ``translation``,
    ``attention``, ``similarity``, ``affine`` (default), ``projective`` (name or dict
    with bounds, e.g. ``dict(type='similarity', max_rotation=90, scale_range=(0.5, 2))``)."""

    def __init__(self, *args, family: Union[str, dict] = "affine", **kwargs) -> None:
        name = family if isinstance(family, str) else dict(family).get("type")
        if name not in MATRIX_FAMILIES:
            raise KeyError(f"AffineRoIRectifier: unknown family type={name!r}; allowed values: "
                           f"{list(MATRIX_FAMILIES)} (use TPSRoIRectifier for thin-plate splines)")
        super().__init__(*args, family=family, **kwargs)


@MODELS.register_module()
class TPSRoIRectifier(_RoIRectifierExtractor):
    """RoI rectifier with a thin-plate spline of ``num_control_points`` (grid layout).

    ``control_point_range`` bounds the source points (default 1.5 box half-sizes).
    """

    def __init__(self, *args, num_control_points: int = 16, control_point_range: Optional[float] = 1.5,
                 margin: float = 0.0, **kwargs) -> None:
        if "family" in kwargs:
            raise KeyError("TPSRoIRectifier takes num_control_points / control_point_range / margin, "
                           "not family (use AffineRoIRectifier for matrix families)")
        family = dict(type="tps", num_control_points=num_control_points, margin=margin,
                      control_point_range=control_point_range)
        super().__init__(*args, family=family, **kwargs)
