"""Transform families: identity parameters, gradients, bounds, config errors."""
import math

import pytest
import torch

from stn_plugin.geometry import FAMILIES, build_family, invert
from stn_plugin.geometry.coords import output_grid

BOUNDED = {
    "translation": dict(max_translation=0.5),
    "attention": dict(scale_range=(0.5, 2.0), max_translation=0.5),
    "similarity": dict(scale_range=(0.5, 2.0), max_rotation=30, max_translation=0.5),
    "affine": dict(max_linear_deviation=0.5, max_translation=0.5),
    "projective": dict(max_linear_deviation=0.5, max_translation=0.5, max_perspective=0.3),
    "tps": dict(num_control_points=9, control_point_range=1.5),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
@pytest.mark.parametrize("bounded", [False, True])
def test_identity_params_give_identity(name, bounded):
    fam = build_family(dict(type=name, **(BOUNDED[name] if bounded else {})))
    t = fam.identity(3, dtype=torch.float64)
    pts = torch.rand(3, 11, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(t.map_points(pts), pts, atol=1e-10)
    g = t.grid((4, 5), 2)
    assert torch.allclose(g, output_grid((4, 5), 2, dtype=torch.float64).expand_as(g), atol=1e-10)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_gradcheck_params_to_grid(name):
    fam = build_family(dict(type=name, **BOUNDED[name]))
    torch.manual_seed(0)
    raw = (fam.identity_params(torch.float64) + 0.1 * torch.randn(2, fam.num_params, dtype=torch.float64))
    raw.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda r: fam.build(r).grid((3, 4), 2), (raw,))


def test_bounds_hold_for_extreme_raw_values():
    raw = torch.tensor([[50.0, -50.0, 50.0, -50.0]])
    m = build_family(dict(type="similarity", **BOUNDED["similarity"])).to_matrix(raw)[0]
    scale = math.hypot(m[0, 0].item(), m[1, 0].item())
    angle = math.degrees(math.atan2(m[1, 0].item(), m[0, 0].item()))
    assert 0.5 - 1e-6 <= scale <= 2.0 + 1e-6 and abs(angle) <= 30 + 1e-4
    assert m[:2, 2].abs().max() <= 0.5
    proj = build_family(dict(type="projective", **BOUNDED["projective"])).to_matrix(torch.full((1, 8), 1e3))[0]
    assert (proj[:2, :2] - torch.eye(2)).abs().max() <= 0.5 and proj[2, :2].abs().max() <= 0.3
    tps = build_family(dict(type="tps", **BOUNDED["tps"]))
    assert tps.to_control_points(torch.full((1, 18), -1e4)).abs().max() <= 1.5


def test_bad_input_errors_name_the_argument():
    fam = build_family("affine")
    with pytest.raises(ValueError, match="affine parameters"):
        fam.build(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="NaN"):
        fam.build(torch.full((1, 6), float("nan")))
    with pytest.raises(TypeError, match="floating"):
        fam.build(torch.zeros(1, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="singular"):
        invert(torch.tensor([[[1.0, 2, 0], [2, 4, 0], [0, 0, 1]]]))
    with pytest.raises(KeyError, match="allowed values") as err:
        build_family(dict(type="perspectiv"))
    assert "projective" in str(err.value)
    with pytest.raises(ValueError, match="scale_range"):
        build_family(dict(type="attention", scale_range=(1.2, 2.0)))
    with pytest.raises(ValueError, match="at least 3 control points"):
        from stn_plugin.geometry import ThinPlateSpline
        ThinPlateSpline(torch.zeros(2, 2))


@pytest.mark.parametrize("family, option", [
    ("translation", "max_translation"), ("similarity", "max_rotation"), ("similarity", "max_translation"),
    ("affine", "max_linear_deviation"), ("projective", "max_perspective"), ("tps", "control_point_range"),
])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), "30", True])
def test_bounds_must_be_finite_positive_numbers_at_build(family, option, value):
    """Refused when the family is built, not at the first forward."""
    with pytest.raises((ValueError, TypeError), match=option):
        build_family(dict(type=family, **{option: value}))


@pytest.mark.parametrize("scale_range, message", [
    ((0.5, 1, 2), "two numbers"), ((0.5,), "two numbers"), (0.5, "two numbers"),
    ((0.5, float("inf")), "finite"), ((float("nan"), 2.0), "finite"), (("0.5", 2.0), "numbers"),
])
def test_scale_range_shape_and_values_named(scale_range, message):
    with pytest.raises((ValueError, TypeError), match=f"scale_range.*{message}"):
        build_family(dict(type="attention", scale_range=scale_range))


def test_nan_parameters_say_training_diverged_and_what_to_try():
    with pytest.raises(ValueError, match=r"affine parameters.*NaN.*diverged.*learning rate") as err:
        build_family("affine").build(torch.full((1, 6), float("nan")))
    assert "clip_grad" in str(err.value) and "scale_range" in str(err.value)
