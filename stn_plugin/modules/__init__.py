"""Plain nn.Modules: localization nets, spatial transformers, regulariser losses.

No registry logic here; :mod:`stn_plugin.registration` registers them by name.
"""
from .localization import ConvLocalizationNet, MLPLocalizationNet, build_localization_net, identity_regressor
from .regularization import (AreaBoundLoss, BendingEnergyLoss, IdentityDistanceLoss, OutsideSamplingLoss,
                             RegularizedModule, build_regularizers)
from .roi_rectifier import RoIRectifier
from .spatial_transformer import (ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer,
                                  SpatialTransformerBase, SpatialTransformerChain)

__all__ = [name for name in dir() if not name.startswith("_")]
