"""The plain modules are registered in mmdet's MODELS and build from config dicts."""
import pytest
import torch

import stn_plugin  # noqa: F401  (registers)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

register_all_modules(init_default_scope=True)


def test_modules_build_from_config_dicts():
    st = MODELS.build(dict(type="SpatialTransformer", in_channels=1,
                           family=dict(type="tps", num_control_points=16, control_point_range=1.5),
                           loc_net=dict(type="conv", channels=(4,)), out_size=(8, 8),
                           regularizers=[dict(type="BendingEnergyLoss", weight=0.1)]))
    x = torch.randn(2, 1, 16, 16)
    assert st(x).shape == (2, 1, 8, 8)
    for name in ["RecurrentSpatialTransformer", "ParallelSpatialTransformers"]:
        assert MODELS.build(dict(type=name, in_channels=1))(x).shape[-2:] == (16, 16)
    loss = MODELS.build(dict(type="AreaBoundLoss", min_scale=0.2, max_scale=3.0, weight=0.5))
    assert loss.min_scale == 0.2 and loss.weight == 0.5


def test_registration_is_idempotent():
    from stn_plugin.registration import register_all_modules
    register_all_modules()
    register_all_modules()
    assert MODELS.get("SpatialTransformer").__module__.startswith("stn_plugin.modules")


def test_the_registered_modules_are_the_building_table():
    from stn_plugin.modules import MODULES

    for name, cls in MODULES.items():
        assert MODELS.get(name) is cls
    # localization nets are parts, built by their short names inside a transformer
    assert "ConvLocalizationNet" not in MODELS.module_dict


def test_registration_refuses_to_replace_another_packages_class():
    from mmengine.registry import Registry

    from stn_plugin.registration import register_module_classes

    registry = Registry("scratch")

    class SpatialTransformer:  # another package's class of the same name
        pass

    registry.register_module(module=SpatialTransformer)
    from stn_plugin.modules import SpatialTransformer as Ours
    with pytest.raises(KeyError, match="already has a SpatialTransformer from .*would replace it"):
        register_module_classes([Ours], registry)
    register_module_classes([Ours], Registry("fresh"))
