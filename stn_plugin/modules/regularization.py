"""Regulariser losses a config can weight (thin nn.Module wrappers of
:mod:`stn_plugin.geometry.regularizers`).

Each takes a batched transform and returns ``weight * mean over the batch`` as a
scalar. :class:`RegularizedModule` assembles the
configured losses of a module into a loss dict, the one place that does so.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from ..geometry import regularizers as reg
from ..geometry.tables import build_from_table
from ..geometry.transforms import Transform
from .ddp import zero_touching_parameters


class _TransformLoss(nn.Module):
    key = "loss"

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, transform: Transform) -> Tensor:
        return self.weight * self.per_sample(transform).mean()

    def per_sample(self, transform: Transform) -> Tensor:
        """``(N,)`` the unweighted loss of each transform of the batch."""
        raise NotImplementedError


class IdentityDistanceLoss(_TransformLoss):
    """Mean squared displacement from the identity: keeps the warp near its start."""

    key = "loss_stn_identity"

    def per_sample(self, transform):
        return reg.identity_distance(transform)


class AreaBoundLoss(_TransformLoss):
    """Penalises local area scales outside ``[min_scale, max_scale]`` (collapse / blow-up / folds)."""

    key = "loss_stn_area"

    def __init__(self, min_scale: float = 0.1, max_scale: float = 4.0, weight: float = 1.0) -> None:
        super().__init__(weight)
        if not 0 <= min_scale < max_scale:
            raise ValueError(f"need 0 <= min_scale < max_scale, got {min_scale}, {max_scale}")
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)

    def per_sample(self, transform):
        return reg.area_bound_violation(transform, self.min_scale, self.max_scale)


class OutsideSamplingLoss(_TransformLoss):
    """Penalises samples outside the input (a differentiable overshoot, not a count)."""

    key = "loss_stn_outside"

    def per_sample(self, transform):
        return reg.outside_excess(reg.probe_points(transform)[1])


class BendingEnergyLoss(_TransformLoss):
    """TPS bending energy: prefers smooth, near-affine splines."""

    key = "loss_stn_bending"

    def per_sample(self, transform):
        return reg.bending_energy(transform)


REGULARIZERS = {cls.__name__: cls for cls in (IdentityDistanceLoss, AreaBoundLoss, OutsideSamplingLoss,
                                              BendingEnergyLoss)}


def build_regularizers(cfgs: Optional[Sequence[dict]]) -> nn.ModuleList:
    """``[dict(type='IdentityDistanceLoss', weight=0.1), ...]`` -> ModuleList."""
    return nn.ModuleList(build_from_table(cfg, REGULARIZERS, "regularizer", instance_of=nn.Module)
                         for cfg in cfgs or ())


class RegularizedModule(nn.Module):
    """A module with configured regulariser losses (``self.regularizers``, built by
    :func:`build_regularizers`; empty by default) on the transforms it predicts."""

    def __init__(self) -> None:
        super().__init__()
        self.regularizers = nn.ModuleList()

    def regularization_losses(self, transform: Transform, prefix: str = "") -> Dict[str, Tensor]:
        """``{prefix + loss key: weighted scalar}`` for a batched ``transform``.

        A transform of batch size 0 gives zeros that keep every parameter of the module
        in the graph (see :mod:`.ddp`), where the batch mean would be NaN.
        """
        if not self.regularizers:
            return {}
        if transform.batch_size == 0:
            zero = zero_touching_parameters(self)
            return {prefix + r.key: zero for r in self.regularizers}
        return {prefix + r.key: r(transform) for r in self.regularizers}
