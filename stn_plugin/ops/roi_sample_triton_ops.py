"""The Triton kernels of :mod:`.roi_sample_triton` as PyTorch operators.

``stn_plugin::roi_sample_forward`` and ``stn_plugin::roi_sample_backward`` are
registered with ``torch.library.triton_op`` and the forward's gradient with
``torch.library.register_autograd``. ``torch.compile`` and ``torch.export`` therefore
see one operator per kernel call -- traced into the Triton kernels it launches (through
``torch.library.wrap_triton``), not a graph break at an opaque autograd Function -- and
inductor can schedule the kernels with the rest of the graph. In eager mode an operator
call launches the kernel directly.

The operator bodies look the kernel module up at call time, so a test that reloads it
(to switch triton's interpreter on) is served by the reloaded kernels.

Deterministic mode: the backward adds the features gradient with atomics, so under
``torch.use_deterministic_algorithms(True)`` it raises (warns with ``warn_only=True``)
instead of silently varying; the coordinate gradients are deterministic.
"""
from __future__ import annotations

import importlib
import warnings
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.library import register_autograd, triton_op

__all__ = ["roi_sample_forward", "roi_sample_backward", "roi_sample_levels_forward", "roi_sample_levels_backward",
           "deterministic_guard"]


def _kernels():
    return importlib.import_module("stn_plugin.ops.roi_sample_triton")


def _level_kernels():
    return importlib.import_module("stn_plugin.ops.roi_sample_levels_triton")


@triton_op("stn_plugin::roi_sample_forward", mutates_args=())
def roi_sample_forward(features: Tensor, batch_idx: Tensor, matrices: Optional[Tensor], xs: Optional[Tensor],
                       ys: Optional[Tensor], grid: Optional[Tensor], out_h: int, out_w: int, sampling_ratio: int,
                       padding: str) -> Tensor:
    """``(N, C, out_h, out_w)`` samples: parametric (``matrices``, ``xs``, ``ys``) or explicit
    ``grid``; see :func:`.roi_sample_triton.sample_forward`."""
    return _kernels().sample_forward(features, batch_idx, (out_h, out_w), sampling_ratio, padding,
                                     matrices=matrices, xs=xs, ys=ys, grid=grid)


@triton_op("stn_plugin::roi_sample_backward", mutates_args=())
def roi_sample_backward(grad_out: Tensor, features: Tensor, batch_idx: Tensor, matrices: Optional[Tensor],
                        xs: Optional[Tensor], ys: Optional[Tensor], grid: Optional[Tensor], out_h: int, out_w: int,
                        sampling_ratio: int, padding: str, need_features: bool,
                        need_coords: bool) -> Tuple[Tensor, Tensor]:
    """``(d features, d matrices | d grid)``; an operator returns tensors, so a gradient
    not asked for is an empty tensor."""
    gfeat, gcoord = _kernels().sample_backward(grad_out, features, batch_idx, (out_h, out_w), sampling_ratio,
                                               padding, need_features, need_coords, matrices=matrices, xs=xs,
                                               ys=ys, grid=grid)
    empty = grad_out.new_empty(0, dtype=torch.float32)
    return (empty if gfeat is None else gfeat), (empty if gcoord is None else gcoord)


def deterministic_guard() -> None:
    """Raise (or warn, with ``warn_only=True``) under deterministic mode: the features
    gradient is added with atomics, whose order varies between runs."""
    if not torch.are_deterministic_algorithms_enabled():
        return
    msg = ("roi_sample(backend='triton') backward adds the features gradient with atomic adds, "
           "whose order (and so the float rounding) varies between runs, but "
           "torch.use_deterministic_algorithms(True) is set. Turn deterministic mode off for "
           "this op, or detach the features (the transform / box gradients are deterministic).")
    if torch.is_deterministic_algorithms_warn_only_enabled():
        warnings.warn(msg, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(msg)


# indices of the differentiable inputs of roi_sample_forward
_FEATURES, _MATRICES, _GRID = 0, 2, 5


def _setup_context(ctx, inputs, output) -> None:
    features, batch_idx, matrices, xs, ys, grid, out_h, out_w, sampling_ratio, padding = inputs
    ctx.save_for_backward(features, batch_idx, matrices, xs, ys, grid)
    ctx.cfg = (out_h, out_w, sampling_ratio, padding)


def _backward(ctx, grad_out: Tensor):
    features, batch_idx, matrices, xs, ys, grid = ctx.saved_tensors
    coords = _GRID if grid is not None else _MATRICES
    need_features, need_coords = ctx.needs_input_grad[_FEATURES], ctx.needs_input_grad[coords]
    if need_features:
        deterministic_guard()
    gfeat, gcoord = torch.ops.stn_plugin.roi_sample_backward(grad_out.contiguous(), features, batch_idx, matrices,
                                                             xs, ys, grid, *ctx.cfg, need_features, need_coords)
    grads = [None] * 10
    grads[_FEATURES] = gfeat if need_features else None
    grads[coords] = gcoord if need_coords else None
    return tuple(grads)


register_autograd("stn_plugin::roi_sample_forward", _backward, setup_context=_setup_context)


# --------------------------------------------------------------------------- every FPN level in one call

@triton_op("stn_plugin::roi_sample_levels_forward", mutates_args=())
def roi_sample_levels_forward(features: List[Tensor], rois: Tensor, transform: Optional[Tensor], out_h: int,
                              out_w: int, sampling_ratio: int, padding: str, finest_scale: float,
                              spatial_scales: List[float]) -> Tensor:
    """``(N, C, out_h, out_w)`` samples, each RoI from its FPN level; see
    :func:`.roi_sample_levels_triton.levels_forward`."""
    return _level_kernels().levels_forward(features, rois, transform, (out_h, out_w), sampling_ratio, padding,
                                           finest_scale, spatial_scales)


@triton_op("stn_plugin::roi_sample_levels_backward", mutates_args=())
def roi_sample_levels_backward(grad_out: Tensor, features: List[Tensor], rois: Tensor, transform: Optional[Tensor],
                               out_h: int, out_w: int, sampling_ratio: int, padding: str, finest_scale: float,
                               spatial_scales: List[float], need_features: bool, need_transform: bool,
                               need_boxes: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """``(flat fp32 features gradient of all levels, d rois, d transform)``, each an empty
    tensor when not asked for."""
    gflat, grois, gtf = _level_kernels().levels_backward(
        grad_out, features, rois, transform, (out_h, out_w), sampling_ratio, padding, finest_scale, spatial_scales,
        need_features, need_transform, need_boxes)
    # one empty tensor per slot: outputs of an operator must not alias each other
    return tuple(grad_out.new_empty(0, dtype=torch.float32) if g is None else g for g in (gflat, grois, gtf))


def _levels_setup_context(ctx, inputs, output) -> None:
    features, rois, transform = inputs[:3]
    ctx.num_levels = len(features)
    ctx.save_for_backward(rois, transform, *features)
    ctx.cfg = tuple(inputs[3:])


def _level_gradients(gflat: Tensor, features: Tuple[Tensor, ...]) -> List[Tensor]:
    """Each level's gradient: its block of the flat buffer in the level's strides (dense
    layouts only, which the caller guarantees), in the level's dtype."""
    grads, start = [], 0
    for f in features:
        g = gflat.as_strided(f.shape, f.stride(), start)
        grads.append(g if g.dtype == f.dtype else g.to(f.dtype))
        start += f.numel()
    return grads


def _levels_backward(ctx, grad_out: Tensor):
    rois, transform, *features = ctx.saved_tensors
    need_features = any(ctx.needs_input_grad[0]) if isinstance(ctx.needs_input_grad[0], (list, tuple)) \
        else bool(ctx.needs_input_grad[0])
    need_boxes, need_transform = ctx.needs_input_grad[1], transform is not None and ctx.needs_input_grad[2]
    if need_features:
        deterministic_guard()
    gflat, grois, gtf = torch.ops.stn_plugin.roi_sample_levels_backward(
        grad_out.contiguous(), features, rois, transform, *ctx.cfg, need_features, need_transform, need_boxes)
    return ((_level_gradients(gflat, tuple(features)) if need_features else [None] * len(features)),
            grois if need_boxes else None, gtf if need_transform else None, *([None] * len(ctx.cfg)))


register_autograd("stn_plugin::roi_sample_levels_forward", _levels_backward, setup_context=_levels_setup_context)
