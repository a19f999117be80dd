"""Registration of stn_plugin into MMDetection's registries.

Configs that inherit ``mmdet::`` bases are built in mmdet's scope, so everything
goes into ``mmdet.registry`` (``MODELS``, ``DATASETS``, ``METRICS``, ``HOOKS``, ...).

* The core's plain modules (:mod:`stn_plugin.modules`) know nothing of registries;
  they are registered here, under their class names, from the table
  :data:`stn_plugin.modules.MODULES` (the same table the mmdet-free
  :func:`stn_plugin.modules.build_module` builds from).
* Each task package registers its own classes with mmdet's decorators when it is
  imported: :mod:`stn_plugin.detection`, :mod:`stn_plugin.textrecog`,
  :mod:`stn_plugin.classification`, and :mod:`stn_plugin.spotting`, which sits above
  detection and text recognition (it imports from both; they never import it).

:func:`register_all_modules` does both, and makes mmengine checkpoints loadable
under torch's ``weights_only=True`` (:mod:`stn_plugin.compat`). ``import stn_plugin``
calls it when mmengine is already imported, which is always the case when a config
says ``custom_imports = dict(imports=['stn_plugin'], allow_failed_imports=False)``.
"""
from __future__ import annotations

import importlib

from . import modules

# Plain modules registered under their own names, e.g. ``dict(type='SpatialTransformer', ...)``.
CORE_MODULES = tuple(modules.MODULES.values())

TASK_PACKAGES = ("stn_plugin.detection", "stn_plugin.textrecog", "stn_plugin.classification",
                 "stn_plugin.spotting")
# what tools/train.py puts into the configs it runs (and so into the configs it dumps
# into work dirs): registered too, so those configs run wherever stn_plugin is imported
TOOL_MODULES = ("stn_plugin.cli.checkpoint_hook",)


def register_module_classes(classes, registry=None) -> None:
    """Register plain ``classes`` in ``registry`` (default mmdet's ``MODELS``) under their names.

    Idempotent: a class already registered under its name is left alone, and one of
    the same module and name (the module was reloaded) is replaced. Raises ``KeyError``
    rather than replace another package's class of the same name."""
    if registry is None:
        from mmdet.registry import MODELS as registry
    for cls in classes:
        existing = registry.module_dict.get(cls.__name__)
        if existing is cls:
            continue
        if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__,
                                                                                    cls.__qualname__):
            raise KeyError(f"{registry.name} registry already has a {cls.__name__} from {existing.__module__}; "
                           f"registering {cls.__module__}.{cls.__qualname__} would replace it")
        registry.register_module(module=cls, force=existing is not None)


def register_core_modules() -> None:
    """Register the core's plain modules (:data:`CORE_MODULES`) into mmdet's ``MODELS``
    and make mmengine checkpoints loadable under ``weights_only=True`` (idempotent).

    Each task package calls this when it is imported, so its configs can use the
    core modules by name (``dict(type='SpatialTransformer', ...)``)."""
    try:
        import mmdet  # noqa: F401
        import mmengine  # noqa: F401
    except ImportError as err:
        raise ImportError("stn_plugin.register_all_modules() needs mmengine and mmdet "
                          "(pip install 'stn_plugin[detection]'); the geometry, ops and modules "
                          "work without them") from err
    from .compat import enable_safe_checkpoint_loading

    enable_safe_checkpoint_loading()
    register_module_classes(CORE_MODULES)


def register_all_modules() -> None:
    """Register every stn_plugin module into mmdet's registries (idempotent): the core
    modules and every task package's. Needs mmengine and mmdet (``ImportError`` naming
    them otherwise)."""
    register_core_modules()
    for name in TASK_PACKAGES + TOOL_MODULES:
        importlib.import_module(name)
