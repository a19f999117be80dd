"""Plain nn.Modules: localization nets, spatial transformers, regulariser losses.

No registry logic here: :data:`MODULES` is the table of what a config names, which
:mod:`stn_plugin.registration` registers into mmdet's ``MODELS`` by the same names and
:func:`build_module` builds without mmdet.
"""
from .building import MODULES, build_module
from .localization import ConvLocalizationNet, MLPLocalizationNet, build_localization_net, identity_regressor
from .regularization import (AreaBoundLoss, BendingEnergyLoss, IdentityDistanceLoss, OutsideSamplingLoss,
                             RegularizedModule, build_regularizers)
from .roi_rectifier import RoIRectifier
from .spatial_transformer import (ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer,
                                  SpatialTransformerBase, SpatialTransformerChain)

__all__ = ["MODULES", "build_module",
           "SpatialTransformerBase", "SpatialTransformer", "SpatialTransformerChain", "RecurrentSpatialTransformer",
           "ParallelSpatialTransformers", "RoIRectifier",
           "ConvLocalizationNet", "MLPLocalizationNet", "build_localization_net", "identity_regressor",
           "IdentityDistanceLoss", "AreaBoundLoss", "OutsideSamplingLoss", "BendingEnergyLoss", "RegularizedModule",
           "build_regularizers"]
