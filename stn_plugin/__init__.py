"""stn_plugin: Spatial Transformer Networks for MMDetection.

Layers (imports point downward only)::

    stn_plugin.integration   registration into mmdet/mmengine registries, datasets, hooks
    stn_plugin.modules       plain nn.Modules: localization nets, SpatialTransformer, ...
    stn_plugin.ops           differentiable sampling (pure torch + Triton kernels)
    stn_plugin.geometry      coordinate contract, transform families, TPS

``geometry`` and ``ops`` never import the OpenMMLab stack. When mmengine is
installed, importing ``stn_plugin`` makes mmengine checkpoints loadable under
torch's ``weights_only=True`` default (see :mod:`stn_plugin.compat`); when mmdet is
installed it also registers the plugin's modules, so a config only needs
``custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)``.
"""
from importlib.util import find_spec as _find_spec

__version__ = "0.1.0"

if _find_spec("mmengine") is not None:
    from .compat import enable_safe_checkpoint_loading as _enable_safe_loading

    _enable_safe_loading()

if _find_spec("mmdet") is not None:
    from . import integration  # noqa: F401  (registers modules into mmdet's registries)
