"""Module building without mmdet: one table of what configs name (stn_plugin.modules.MODULES),
one name per class."""
import pytest
import torch

from stn_plugin.modules import (MODULES, BendingEnergyLoss, SpatialTransformer, build_localization_net,
                                build_module)


def test_build_module_from_the_table_with_defaults():
    st = build_module(dict(type="SpatialTransformer", family=dict(type="tps", num_control_points=16),
                           regularizers=[dict(type="BendingEnergyLoss", weight=0.1)]), in_channels=1)
    assert isinstance(st, SpatialTransformer) and isinstance(st.regularizers[0], BendingEnergyLoss)
    assert st(torch.zeros(2, 1, 16, 16)).shape == (2, 1, 16, 16)
    assert build_module("AreaBoundLoss").weight == 1.0
    assert build_module(st) is st
    with pytest.raises(KeyError, match=r"unknown module type='Transformer'; allowed values: \['AreaBoundLoss'"):
        build_module(dict(type="Transformer"), in_channels=1)
    with pytest.raises(TypeError, match="bad options for module 'SpatialTransformer'"):
        build_module(dict(type="SpatialTransformer", channels=3), in_channels=1)


def test_one_name_per_class():
    assert all(name == cls.__name__ for name, cls in MODULES.items())
    identity = torch.tensor([1.0, 0, 0, 0, 1, 0])
    assert type(build_localization_net(dict(type="mlp"), 1, identity)).__name__ == "MLPLocalizationNet"
    with pytest.raises(KeyError, match=r"allowed values: \['conv', 'mlp'\]"):
        build_localization_net(dict(type="ConvLocalizationNet"), 1, identity)
