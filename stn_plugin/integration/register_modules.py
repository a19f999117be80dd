"""Register the plain modules of :mod:`stn_plugin.modules` in mmdet's ``MODELS``."""
from mmdet.registry import MODELS

from .. import modules

# Classes registered under their own names, e.g. ``dict(type='SpatialTransformer', ...)``.
REGISTERED_MODULES = (
    modules.SpatialTransformer,
    modules.SpatialTransformerChain,
    modules.RecurrentSpatialTransformer,
    modules.ParallelSpatialTransformers,
    modules.ConvLocalizationNet,
    modules.MLPLocalizationNet,
    modules.IdentityDistanceLoss,
    modules.AreaBoundLoss,
    modules.OutsideSamplingLoss,
    modules.BendingEnergyLoss,
)


def register_modules() -> None:
    """Idempotent: re-registering the same class is a no-op."""
    for cls in REGISTERED_MODULES:
        if MODELS.get(cls.__name__) is not cls:
            MODELS.register_module(module=cls, force=True)
