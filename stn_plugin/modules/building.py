"""The plain modules a config names, by class name, and their builder without a registry.

Two mechanisms build modules, one name per class in both:

* what configs build goes through mmdet's registry: :mod:`stn_plugin.registration`
  registers every class of :data:`MODULES` into ``mmdet.registry.MODELS`` under its
  class name (``dict(type='SpatialTransformer', ...)``);
* code that runs without the OpenMMLab stack (plain PyTorch, a saved rectifier's file)
  builds from the same table with :func:`build_module`
  (:func:`~stn_plugin.geometry.tables.build_from_table`).

The parts inside a module have their own tables, keyed by the short names configs
use: transform families (``family=dict(type='tps')``,
:data:`~stn_plugin.geometry.families.FAMILIES`), localization nets
(``loc_net=dict(type='conv')``, :data:`~stn_plugin.modules.localization.LOCALIZATION_NETS`)
and regularisers (:data:`~stn_plugin.modules.regularization.REGULARIZERS`, by class name).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Type

import torch.nn as nn

from ..geometry.tables import build_from_table
from .regularization import AreaBoundLoss, BendingEnergyLoss, IdentityDistanceLoss, OutsideSamplingLoss
from .spatial_transformer import (ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer,
                                  SpatialTransformerChain)

__all__ = ["MODULES", "build_module"]

MODULES: Dict[str, Type[nn.Module]] = {cls.__name__: cls for cls in (
    SpatialTransformer, SpatialTransformerChain, RecurrentSpatialTransformer, ParallelSpatialTransformers,
    IdentityDistanceLoss, AreaBoundLoss, OutsideSamplingLoss, BendingEnergyLoss)}


def build_module(cfg: Any, **defaults: Any) -> nn.Module:
    """Build ``dict(type=name, **options)`` (or a bare name) from :data:`MODULES`;
    ``defaults`` fill options the config leaves out (e.g. ``in_channels``). A module
    is returned as it is.

    >>> st = build_module(dict(type="SpatialTransformer", family=dict(type="affine")), in_channels=3)
    >>> type(st).__name__, st.family.name
    ('SpatialTransformer', 'affine')
    """
    if isinstance(cfg, Mapping):
        cfg = {**defaults, **cfg}
    elif isinstance(cfg, str):
        cfg = dict(defaults, type=cfg)
    return build_from_table(cfg, MODULES, "module", instance_of=nn.Module)
