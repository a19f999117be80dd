"""warp's options fail early and clearly: a fill value that is no number, a fill value
the padding mode would ignore, and nearest sampling of a transform that is trained."""
from __future__ import annotations

import warnings

import pytest
import torch

from stn_plugin.modules.spatial_transformer import SpatialTransformer
from stn_plugin.ops import warp

IMAGES = torch.rand(1, 3, 4, 5)
EYE = torch.eye(3)[None]


@pytest.mark.parametrize("fill_value", ["black", [0.0, "x", 1.0], object(), float("nan")])
def test_fill_value_must_be_numbers(fill_value):
    with pytest.raises((TypeError, ValueError), match="fill_value"):
        warp(IMAGES, EYE, padding="fill", fill_value=fill_value)


@pytest.mark.parametrize("padding", ["border", "reflection"])
def test_fill_value_with_a_padding_that_ignores_it(padding):
    with pytest.raises(ValueError, match=f"fill_value.*padding='{padding}'"):
        warp(IMAGES, EYE, padding=padding, fill_value=0.5)


def test_fill_value_as_numbers_tensor_or_per_channel_still_works():
    for fill in (0.5, 1, [0.1, 0.2, 0.3], torch.tensor([0.1, 0.2, 0.3]), torch.tensor(0.5)):
        zoom_out = torch.diag(torch.tensor([2.0, 2.0, 1.0]))[None]  # half the output is outside
        out = warp(IMAGES, zoom_out, fill_value=fill)
        corner = torch.as_tensor(fill, dtype=out.dtype).reshape(-1)
        torch.testing.assert_close(out[0, :, 0, 0], corner.expand(3))


def test_nearest_with_a_trained_transform_warns():
    m = EYE.clone().requires_grad_()
    with pytest.warns(UserWarning, match="nearest.*gradient"):
        warp(IMAGES, m, mode="nearest")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warp(IMAGES, EYE, mode="nearest")  # nothing to train: no warning


def test_spatial_transformer_checks_sampling_options_at_build():
    with pytest.raises(ValueError, match="padding"):
        SpatialTransformer(3, padding="zero")
    with pytest.raises(TypeError, match="fill_value"):
        SpatialTransformer(3, padding="fill", fill_value="black")
    with pytest.raises(ValueError, match="fill_value"):
        SpatialTransformer(3, padding="border", fill_value=0.0)
    with pytest.warns(UserWarning, match="nearest.*gradient"):
        SpatialTransformer(3, mode="nearest")


def test_roi_rectifier_checks_padding_at_build():
    from stn_plugin.modules.roi_rectifier import RoIRectifier
    with pytest.raises(ValueError, match="padding must be one of"):
        RoIRectifier(4, padding="zero")
