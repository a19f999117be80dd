"""The rectifier module of a rectifier file, built from its config without a registry."""
from __future__ import annotations

import copy
from typing import Mapping

from torch import nn

from ..geometry.tables import build_from_table
from ..modules import (ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer,
                       SpatialTransformerChain)
from .outline_net import TextOutlineNet

__all__ = ["PREPROCESSORS", "build_preprocessor"]

#: The spatial transformers (and outline nets) a rectifier file can hold, by class name (its config's ``type``).
PREPROCESSORS = {cls.__name__: cls for cls in (SpatialTransformer, RecurrentSpatialTransformer,
                                               ParallelSpatialTransformers, SpatialTransformerChain, TextOutlineNet)}


def build_preprocessor(cfg: Mapping, in_channels: int) -> nn.Module:
    """A plain :mod:`stn_plugin.modules` spatial transformer (or a
    :class:`~stn_plugin.rectify.outline_net.TextOutlineNet`) from its config dict
    (``type`` = class name, default ``'SpatialTransformer'``; ``in_channels`` filled in
    where the config lacks it; the training-only ``regularizers`` are dropped)."""
    cfg = copy.deepcopy(dict(cfg))
    cfg.pop("regularizers", None)
    if cfg.get("type", "SpatialTransformer") != "SpatialTransformerChain":
        cfg.setdefault("in_channels", in_channels)
    return build_from_table(cfg, PREPROCESSORS, "rectifier preprocessor", default_type="SpatialTransformer")
