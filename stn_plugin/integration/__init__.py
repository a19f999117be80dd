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
