"""Regulariser losses: values on known transforms, assembly into a loss dict, config errors."""
import pytest
import torch

from stn_plugin.geometry import build_family
from stn_plugin.modules import (AreaBoundLoss, BendingEnergyLoss, IdentityDistanceLoss, OutsideSamplingLoss,
                                SpatialTransformer)


def test_regularizers():
    fam = build_family("affine")
    ident = fam.identity(2)
    shrink = fam.build(torch.tensor([[0.05, 0, 0, 0, 0.05, 0]] * 2))
    outside = fam.build(torch.tensor([[1.0, 0, 3.0, 0, 1, 0]] * 2))
    area = AreaBoundLoss(min_scale=0.1, max_scale=4.0)
    assert area(ident).item() == 0 and area(shrink).item() > 0
    assert OutsideSamplingLoss()(ident).item() == 0 and OutsideSamplingLoss()(outside).item() > 1
    assert IdentityDistanceLoss(weight=2.0)(outside).item() == pytest.approx(2 * 9.0, rel=1e-5)
    with pytest.raises(TypeError, match="TPS"):
        BendingEnergyLoss()(ident)
    st = SpatialTransformer(1, family="tps", regularizers=[dict(type="BendingEnergyLoss", weight=0.5),
                                                           dict(type="AreaBoundLoss")])
    _, t = st(torch.randn(1, 1, 8, 8), return_transform=True)
    losses = st.regularization_losses(t, prefix="stn.")
    assert set(losses) == {"stn.loss_stn_bending", "stn.loss_stn_area"}
    with pytest.raises(KeyError, match="allowed values"):
        SpatialTransformer(1, regularizers=[dict(type="NoSuchLoss")])


def test_empty_batch_gives_zeros_that_keep_every_parameter_in_the_graph():
    st = SpatialTransformer(1, family="affine", regularizers=[dict(type="IdentityDistanceLoss"),
                                                              dict(type="AreaBoundLoss")])
    empty = st.family.build(torch.zeros(0, 6))
    losses = st.regularization_losses(empty)
    assert set(losses) == {"loss_stn_identity", "loss_stn_area"}
    sum(losses.values()).backward()
    assert all(p.grad is not None and not p.grad.any() for p in st.parameters())


def test_bad_regularizer_options_name_the_regularizer():
    with pytest.raises(TypeError, match="bad options for regularizer 'AreaBoundLoss'"):
        SpatialTransformer(1, regularizers=[dict(type="AreaBoundLoss", min_area=0.1)])
