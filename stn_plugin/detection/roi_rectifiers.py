"""RoI rectifiers as drop-in replacements of mmdet's ``SingleRoIExtractor``.

Same constructor fields (``roi_layer``, ``out_channels``, ``featmap_strides``,
``finest_scale``) and the same ``forward(feats, rois, roi_scale_factor=None)``;
``roi_layer`` gives the output size (and, when positive, the default sampling
ratio), the FPN level of each RoI follows mmdet's rule. Each level's RoIs go
through one :class:`~stn_plugin.modules.roi_rectifier.RoIRectifier` shared by all
levels (so the net's parameters do not depend on the pyramid depth).

:class:`RoIRectifierExtractor` is the public base class and contract that the heads
(:mod:`.roi_heads`) and hooks (:mod:`.hooks`) rely on; its docstring says what state it
keeps and why.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor

from ..geometry.families import TransformFamily, matrix_family_names
from ..geometry.transforms import MatrixTransform, Transform
from ..geometry.validation import is_tracing
from ..modules.ddp import zero_touching_parameters
from ..modules.roi_rectifier import RoIRectifier
from ..ops.profiling import profile_stage
from ..ops.roi_sample import auto_backend
from ..ops.roi_sample_levels import MAX_TRITON_LEVELS, roi_sample_levels

__all__ = ["RoIRectifierExtractor", "AffineRoIRectifier", "TPSRoIRectifier"]


def _check_roi_layer(roi_layer: dict) -> None:
    """The rectifiers take only ``output_size`` (and ``sampling_ratio``) from ``roi_layer``
    and always sample with ``RoIAlign(aligned=True)``'s coordinates: a layer asking for
    something else would be silently ignored."""
    kind = roi_layer.get("type")
    if kind != "RoIAlign":
        raise ValueError(f"roi_layer type={kind!r}: RoI rectifiers sample like RoIAlign(aligned=True) and take "
                         "only output_size / sampling_ratio from roi_layer; use dict(type='RoIAlign', ...)")
    if not roi_layer.get("aligned", True):
        raise ValueError("roi_layer aligned=False: RoI rectifiers always sample with RoIAlign(aligned=True)'s "
                         "half-pixel convention; drop aligned=False from roi_layer")


class RoIRectifierExtractor(SingleRoIExtractor):
    """Base class of the RoI rectifiers: a ``SingleRoIExtractor`` whose RoIs are sampled
    through a learned per-RoI transform (one :class:`~stn_plugin.modules.roi_rectifier.RoIRectifier`
    shared by all FPN levels).

    State it keeps, and why: mmdet's heads call an RoI extractor as a function
    ``(feats, rois) -> (N, C, h, w)`` and keep nothing else, but what the rectifier
    predicted is needed after that call -- by the head of the same forward (regulariser
    losses; mask targets sampled, and mask predictions mapped back, through the same
    transforms) and by hooks after the iteration (statistics, drawings). So each
    ``forward`` replaces:

    * ``last_rois`` ``(N, 5)``: the RoIs it sampled (after ``roi_scale_factor``),
      ``(batch_idx, x1, y1, x2, y2)`` in image pixels;
    * ``last_params`` ``(N, P)``: their raw family parameters, in ``last_rois`` order and
      still attached to that forward's graph (so losses built from them train the
      localization net).

    Both are ``None`` before the first forward. Read them through
    :meth:`transform_of_last` (the batched transform in the RoI frame: normalised output
    -> normalised box coordinates) and :meth:`regularization_losses_of_last`; only the
    most recent forward is kept, so a consumer must read before the extractor runs
    again (a head reads right after its own call).
    """

    def __init__(self, roi_layer: dict, out_channels: int, featmap_strides: List[int], finest_scale: int = 56,
                 family: Union[str, dict] = "affine", loc_net: Optional[dict] = None,
                 loc_input_size: Union[int, Sequence[int]] = 7, sampling_ratio: Optional[int] = None,
                 context_factor: float = 1.0, padding: str = "roi_align",
                 regularizers: Optional[Sequence[dict]] = None, init_cfg=None) -> None:
        _check_roi_layer(roi_layer)
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
    def family(self) -> TransformFamily:
        """The transform family that turns ``last_params`` into transforms."""
        return self.rectifier.family

    def forward(self, feats: Tuple[Tensor], rois: Tensor, roi_scale_factor: Optional[float] = None) -> Tensor:
        """``feats``: FPN levels ``(B, C, H_l, W_l)``; ``rois (N, 5)`` -> ``(N, C, h, w)``."""
        if feats[0].shape[1] != self.out_channels:  # else it fails deep inside the localization net
            raise ValueError(f"{type(self).__name__}: out_channels={self.out_channels} but the feature maps have "
                             f"{feats[0].shape[1]} channels; set the RoI extractor's out_channels to the neck's")
        rois = rois.type_as(feats[0])
        if self._one_call(feats, rois, roi_scale_factor):
            roi_feats, params = self._rectify_in_one_call(feats, rois)
            self.last_params, self.last_rois = params, rois
            return roi_feats
        num_levels = len(feats)
        out_size = self.rectifier.out_size
        roi_feats = feats[0].new_zeros(rois.size(0), self.out_channels, *out_size)
        params = feats[0].new_zeros(rois.size(0), self.family.num_params)
        target_lvls = (self.map_roi_levels(rois, num_levels) if num_levels > 1
                       else rois.new_zeros(rois.size(0), dtype=torch.long))
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        if is_tracing():  # torch.compile / export: one graph, a dynamic number of RoIs
            roi_feats, params = self._rectify_on_every_level(feats, rois, target_lvls)
            self.last_params, self.last_rois = params, rois
            return roi_feats
        empty_levels = []
        for i in range(num_levels):
            inds = (target_lvls == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                feats_i, params_i = self.rectifier(feats[i], rois[inds], 1.0 / self.featmap_strides[i])
                roi_feats[inds] = feats_i.to(roi_feats.dtype)
                params[inds] = params_i.to(params.dtype)
            else:
                empty_levels.append(feats[i])
        if empty_levels:
            # DDP: every parameter and level stays in the graph even without RoIs; in place,
            # as a copy of the output per empty level would cost more than the RoIs' samples
            roi_feats.add_(zero_touching_parameters(self, *empty_levels))
        self.last_params, self.last_rois = params, rois
        return roi_feats

    def _one_call(self, feats: Tuple[Tensor], rois: Tensor, roi_scale_factor: Optional[float]) -> bool:
        """Whether the Triton kernels sample every level in one call: CUDA features the
        kernels run on, a matrix family, RoIs to sample, and levels decided by the boxes
        that are sampled (``roi_scale_factor`` rescales them after the level mapping)."""
        return (roi_scale_factor is None and rois.shape[0] > 0 and self.family.is_matrix
                and len(feats) <= MAX_TRITON_LEVELS and auto_backend(feats[0].device, feats[0].dtype) == "triton")

    def _rectify_in_one_call(self, feats: Tuple[Tensor], rois: Tensor) -> Tuple[Tensor, Tensor]:
        """``(rectified features, raw params)`` with two calls of the one-launch kernels (the
        pooled view, then the rectified samples) for all levels. The pooled view's context
        enlargement is a scaling in the RoI frame, so that the levels follow the boxes
        themselves, as mmdet's rule and the level loop have them."""
        rectifier = self.rectifier
        common = dict(strides=list(self.featmap_strides), finest_scale=self.finest_scale, padding=rectifier.padding,
                      backend="triton")
        context = None
        if rectifier.context_factor != 1.0:
            context = torch.diag(rois.new_tensor([rectifier.context_factor, rectifier.context_factor, 1.0]))
            context = context.expand(rois.shape[0], 3, 3)
        with profile_stage("rectifier.pooled_view"):
            view = roi_sample_levels(feats, rois, context, rectifier.loc_input_size, sampling_ratio=1, **common)
        with profile_stage("rectifier.loc_net"):
            params = rectifier.loc_net(view)
        with profile_stage("rectifier.transform"):
            transform = self.family.build(params)
        if not isinstance(transform, MatrixTransform):  # a matrix family builds matrices; say so if not
            raise TypeError(f"family {self.family.name!r} built a {type(transform).__name__}, not a MatrixTransform")
        with profile_stage("rectifier.sample"):
            out = roi_sample_levels(feats, rois, transform, rectifier.out_size,
                                    sampling_ratio=rectifier.sampling_ratio, **common)
        return out, params

    def _rectify_on_every_level(self, feats: Tuple[Tensor], rois: Tensor, levels: Tensor) -> Tuple[Tensor, Tensor]:
        """``(rectified features (N, C, h, w), raw params (N, P))`` without data-dependent indexing.

        The eager loop gathers each level's RoIs, whose count is data: ``torch.compile``
        cannot capture that in one graph and an exported graph would freeze it. Here every
        level computes the pooled view, then the rectified features, of every RoI, and each
        RoI keeps its own level's: the same numbers for ``L`` times the sampling work.
        """
        rectifier, view, out = self.rectifier, None, None
        for i, feat in enumerate(feats):
            v = rectifier.pooled_view(feat, rois, 1.0 / self.featmap_strides[i])
            view = v if view is None else torch.where((levels == i)[:, None, None, None], v, view)
        params = rectifier.loc_net(view)
        transform = self.family.build(params)
        for i, feat in enumerate(feats):
            o = rectifier.sample(feat, rois, transform, 1.0 / self.featmap_strides[i])
            out = o if out is None else torch.where((levels == i)[:, None, None, None], o, out)
        return out, params

    def transform_of_last(self, index: Optional[Tensor] = None) -> Transform:
        """Batched transform (RoI frame) of the RoIs of the last forward, or of ``index``."""
        if self.last_params is None:
            raise RuntimeError("no forward has run yet: there is no transform to report")
        params = self.last_params if index is None else self.last_params[index]
        return self.family.build(params)

    def regularization_losses_of_last(self, prefix: str = "") -> dict:
        """``{prefix + loss key: weighted scalar}`` of the rectifier's regularisers on the
        last forward's transforms (``{}`` before the first forward)."""
        if self.last_params is None:
            return {}
        with profile_stage("rectifier.regularizers"):
            return self.rectifier.regularization_losses(self.transform_of_last(), prefix)


@MODELS.register_module()
class AffineRoIRectifier(RoIRectifierExtractor):
    """RoI rectifier with a matrix family: ``family`` one of ``translation``,
    ``attention``, ``similarity``, ``affine`` (default), ``projective`` (name or dict
    with bounds, e.g. ``dict(type='similarity', max_rotation=90, scale_range=(0.5, 2))``)."""

    def __init__(self, *args, family: Union[str, dict] = "affine", **kwargs) -> None:
        name = family if isinstance(family, str) else dict(family).get("type")
        if name not in matrix_family_names():
            raise KeyError(f"AffineRoIRectifier: unknown family type={name!r}; allowed values: "
                           f"{list(matrix_family_names())} (use TPSRoIRectifier for thin-plate splines)")
        super().__init__(*args, family=family, **kwargs)


@MODELS.register_module()
class TPSRoIRectifier(RoIRectifierExtractor):
    """RoI rectifier with a thin-plate spline of ``num_control_points``.

    ``layout``: ``'grid'`` (default; a square grid, 16 = 4 x 4) or ``'text'`` (ASTER's:
    half the points along the crop's top edge, half along its bottom edge).
    ``control_point_range`` bounds the source points (default 1.5 box half-sizes).
    """

    def __init__(self, *args, num_control_points: int = 16, control_point_range: Optional[float] = 1.5,
                 margin: float = 0.0, layout: str = "grid", **kwargs) -> None:
        if "family" in kwargs:
            raise KeyError("TPSRoIRectifier takes num_control_points / control_point_range / margin, "
                           "not family (use AffineRoIRectifier for matrix families)")
        family = dict(type="tps", num_control_points=num_control_points, margin=margin,
                      control_point_range=control_point_range, layout=layout)
        super().__init__(*args, family=family, **kwargs)
