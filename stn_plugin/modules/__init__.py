"""Plain nn.Modules: localization nets, spatial transformers, regulariser losses.

No registry logic here; :mod:`stn_plugin.integration` registers them by name.
"""
from .localization import ConvLocalizationNet, MLPLocalizationNet, build_localization_net, identity_regressor
from .regularization import (AreaBoundLoss, BendingEnergyLoss, IdentityDistanceLoss, OutsideSamplingLoss,
                             build_regularizers)
from .spatial_transformer import (ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer,
                                  SpatialTransformerChain)

__all__ = [name for name in dir() if not name.startswith("_")]
