"""stn_plugin: Spatial Transformer Networks for MMDetection.

Layers (imports point downward only)::

    stn_plugin.experiments              the lab: benchmark and experiment drivers
                                        (tools/ runs them); nothing imports them
    stn_plugin.detection, .textrecog,   task packages: each registers its own modules
    .classification, .cli               into mmdet's registries and holds its
                                        application code (data, tools' logic)
    stn_plugin.modules                  plain nn.Modules: localization nets,
                                        SpatialTransformer, RoIRectifier, losses
    stn_plugin.ops                      differentiable sampling (torch path + Triton kernels)
    stn_plugin.geometry                 coordinate contract, transform families, TPS

``geometry``, ``ops`` and ``modules`` never import the OpenMMLab stack, and importing
them does not import it either. Registration into mmdet happens by
:func:`register_all_modules` -- called here when mmengine is already imported, as it
is whenever a config says ``custom_imports = dict(imports=['stn_plugin'], ...)``.
A program that imported ``stn_plugin`` before mmengine calls it itself (the tools do).
Loading mmengine checkpoints under torch's ``weights_only=True`` needs no call: it is
enabled here, whenever mmengine gets imported (:mod:`stn_plugin.compat`).
"""
import sys as _sys
from importlib.util import find_spec as _find_spec

__version__ = "0.1.0"


def register_all_modules() -> None:
    """Register stn_plugin's modules into mmdet's registries (see :mod:`stn_plugin.registration`)."""
    from .registration import register_all_modules as _register

    _register()


from .compat import enable_safe_checkpoint_loading_on_import as _enable_safe_loading

_enable_safe_loading()  # waits for mmengine's modules; imports nothing of it

# mmengine already imported means a config or an OpenMMLab program is loading us; without
# mmdet installed there is nothing to register into (the core still works).
if "mmengine" in _sys.modules and _find_spec("mmdet") is not None:
    register_all_modules()
