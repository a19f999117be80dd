"""Registration of stn_plugin's modules into MMDetection's registries.

Configs that inherit ``mmdet::`` bases are built in mmdet's scope, so everything
goes into ``mmdet.registry`` (``MODELS``, ``DATASETS``, ``METRICS``, ``HOOKS``, ...).
Importing :mod:`stn_plugin` is enough; a config says
``custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)``.
"""
from .register_modules import register_modules

register_modules()
from . import roi_rectifiers  # noqa: E402,F401  (registers AffineRoIRectifier, TPSRoIRectifier)
from . import roi_heads  # noqa: E402,F401  (registers RectifyingRoIHead, RectifyingCascadeRoIHead)
from . import mnist  # noqa: E402,F401  (registers the distorted-MNIST dataset, models, metric, hook)
from . import hooks  # noqa: E402,F401  (registers RectifierStatsHook, RectifierVisualizationHook)
from . import textrecog  # noqa: E402,F401  (registers the CTC recognizer, text datasets, transforms, metric)
