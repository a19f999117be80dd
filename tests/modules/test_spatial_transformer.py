"""Spatial transformer modules: identity at init, chaining, recurrence, heads, config errors."""
import pytest
import torch

from stn_plugin.geometry import build_family, compose_transforms
from stn_plugin.modules import (IdentityDistanceLoss, ParallelSpatialTransformers, RecurrentSpatialTransformer,
                                SpatialTransformer, SpatialTransformerChain)
from stn_plugin.ops.warp import warp

FAMILIES = ["translation", "attention", "similarity", "affine", "projective", "tps"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("loc_net", [dict(type="conv", channels=(4, 8)), dict(type="mlp", hidden_dims=(16,))])
def test_fresh_transformer_is_identity_at_any_size(family, loc_net):
    torch.manual_seed(0)
    st = SpatialTransformer(3, family=family, loc_net=loc_net)
    for size in [(12, 12), (20, 33)]:
        x = torch.randn(2, 3, *size)
        y, t = st(x, return_transform=True)
        # float32 rounding of the normalised grid: ~1e-6 relative to the input range
        assert y.shape == x.shape and (y - x).abs().max() < 1e-5 * x.abs().max()
        assert IdentityDistanceLoss()(t).item() < 1e-10


def test_gradients_reach_the_localization_net():
    torch.manual_seed(0)
    st = SpatialTransformer(1, family="affine", loc_net=dict(type="conv", channels=(4,)))
    x = torch.randn(2, 1, 16, 16)
    (st(x) * torch.randn(2, 1, 16, 16)).sum().backward()
    assert st.loc_net.head[-1].weight.grad.abs().sum() > 0


def test_tps_transformer_loads_at_another_output_size():
    fam = dict(type="tps", num_control_points=20, layout="text")
    small = SpatialTransformer(3, family=fam, out_size=(8, 16))
    with torch.no_grad():
        small.loc_net.head[-1].bias.add_(0.05 * torch.randn_like(small.loc_net.head[-1].bias))
    large = SpatialTransformer(3, family=fam, out_size=(32, 100))
    large.load_state_dict(small.state_dict())  # no size-dependent buffer in the checkpoint
    x = torch.randn(1, 3, 40, 120)
    assert large(x).shape == (1, 3, 32, 100) and small(x).shape == (1, 3, 8, 16)


def test_chain_resamples_the_source_once_with_the_composed_transform():
    torch.manual_seed(0)
    a = SpatialTransformer(2, family="affine")
    b = SpatialTransformer(2, family="tps")
    for st in (a, b):
        with torch.no_grad():
            st.loc_net.head[-1].bias.add_(0.05 * torch.randn_like(st.loc_net.head[-1].bias))
    chain = SpatialTransformerChain([a, b])
    x = torch.randn(2, 2, 14, 14)
    out, t = chain(x, return_transform=True)
    t1 = a.predict_transform(x)
    y1 = warp(x, t1)
    t2 = b.predict_transform(y1)
    assert torch.allclose(out, warp(x, compose_transforms(t1, t2)), atol=1e-6)
    # and it differs from resampling the resampled image (which blurs)
    assert not torch.allclose(out, warp(y1, t2), atol=1e-3)


def _recurrent_shifting_by_a_tenth(num_steps):
    """A recurrent transformer whose every step predicts the shift x -> x + 0.1."""
    torch.manual_seed(0)
    st = RecurrentSpatialTransformer(1, num_steps=num_steps, family="affine", out_size=(6, 6))
    with torch.no_grad():
        st.loc_net.head[-1].bias.add_(torch.tensor([0.0, 0.0, 0.1, 0.0, 0.0, 0.0]))
    return st


def test_recurrent_transformer_composes_updates():
    st = _recurrent_shifting_by_a_tenth(num_steps=3)
    x = torch.randn(1, 1, 12, 12)
    out, t = st(x, return_transform=True)
    # three constant shifts of 0.1 compose to 0.3
    assert torch.allclose(t.matrix[0, 0, 2], torch.tensor(0.3), atol=1e-6)
    assert torch.allclose(out, warp(x, t, (6, 6)), atol=1e-6)


def test_recurrent_transformer_as_a_chain_stage_resamples_the_source_once():
    st = _recurrent_shifting_by_a_tenth(num_steps=2)
    source = torch.randn(1, 1, 12, 12)
    base = build_family("affine").build(torch.tensor([[0.5, 0.0, 0.0, 0.0, 0.5, 0.0]]))
    x = warp(source, base)
    out, t = st(x, source=source, base_transform=base, return_transform=True)
    # the base, then two shifts of 0.1: x -> 0.5 * (x + 0.2)
    expected = torch.tensor([[0.5, 0.0, 0.1], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(t.matrix[0], expected, atol=1e-6)
    assert torch.allclose(out, warp(source, t, (6, 6)), atol=1e-6)


def test_parallel_heads_are_symmetry_broken():
    st = ParallelSpatialTransformers(3, num_heads=3, family="affine")
    w = [h.loc_net.head[-1].weight for h in st.heads]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])
    x = torch.randn(2, 3, 10, 10)
    out, ts = st(x, return_transform=True)
    assert out.shape == (2, 9, 10, 10) and len(ts) == 3
    assert (out - x.repeat(1, 3, 1, 1)).abs().max() < 0.1  # starts near the identity


def test_bad_config_names_the_key():
    with pytest.raises(KeyError, match="family"):
        SpatialTransformer(1, family="rigid")
    with pytest.raises(KeyError, match="localization net"):
        SpatialTransformer(1, loc_net=dict(type="transformer"))
    with pytest.raises(ValueError, match="x must have 4"):
        SpatialTransformer(1)(torch.zeros(1, 8, 8))
