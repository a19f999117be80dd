"""Regulariser losses a config can weight (thin nn.Module wrappers of
:mod:`stn_plugin.geometry.regularizers`).

Each takes a batched transform (and, where needed, its sampling grid) and returns
``weight * mean over the batch`` as a scalar.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from ..geometry import regularizers as reg
from ..geometry.transforms import Transform


class _TransformLoss(nn.Module):
    key = "loss"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, transform: Transform, grid: Optional[Tensor] = None) -> Tensor:
        return self.weight * self.per_sample(transform, grid).mean()

    def per_sample(self, transform: Transform, grid: Optional[Tensor]) -> Tensor:
        raise NotImplementedError


class IdentityDistanceLoss(_TransformLoss):
    """Mean squared displacement from the identity: keeps the warp near its start."""

    key = "loss_stn_identity"

    def per_sample(self, transform, grid):
        return reg.identity_distance(transform)


class AreaBoundLoss(_TransformLoss):
    """Penalises local area scales outside ``[min_scale, max_scale]`` (collapse / blow-up / folds)."""

    key = "loss_stn_area"

    def __init__(self, min_scale: float = 0.1, max_scale: float = 4.0, weight: float = 1.0) -> None:
        super().__init__(weight)
        if not 0 <= min_scale < max_scale:
            raise ValueError(f"need 0 <= min_scale < max_scale, got {min_scale}, {max_scale}")
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)

    def per_sample(self, transform, grid):
        return reg.area_bound_violation(transform, self.min_scale, self.max_scale)


class OutsideSamplingLoss(_TransformLoss):
    """Penalises samples outside the input (a differentiable overshoot, not a count)."""

    key = "loss_stn_outside"

    def per_sample(self, transform, grid):
        if grid is None:
            grid = reg.probe_points(transform)[1]
        return reg.outside_excess(grid)


class BendingEnergyLoss(_TransformLoss):
    """TPS bending energy: prefers smooth, near-affine splines."""

    key = "loss_stn_bending"

    def per_sample(self, transform, grid):
        return reg.bending_energy(transform)


REGULARIZERS = {cls.__name__: cls for cls in (IdentityDistanceLoss, AreaBoundLoss, OutsideSamplingLoss,
                                              BendingEnergyLoss)}


def build_regularizers(cfgs: Optional[Sequence[dict]]) -> nn.ModuleList:
    """``[dict(type='IdentityDistanceLoss', weight=0.1), ...]`` -> ModuleList."""
    out = nn.ModuleList()
    for cfg in cfgs or ():
        if isinstance(cfg, nn.Module):
            out.append(cfg)
            continue
        cfg = dict(cfg)
        name = cfg.pop("type", None)
        if name not in REGULARIZERS:
            raise KeyError(f"unknown regularizer type={name!r}; allowed values: {sorted(REGULARIZERS)}")
        out.append(REGULARIZERS[name](**cfg))
    return out
