"""roi_sample's spatial_scale may be a 0-d tensor (what a model often holds); anything
else that is no positive number gets an error saying what was expected."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.ops import roi_sample

FEATS = torch.randn(1, 2, 8, 8)
ROIS = torch.tensor([[0, 1.0, 1.0, 9.0, 9.0]])


def test_zero_dim_tensor_spatial_scale_is_a_number():
    want = roi_sample(FEATS, ROIS, None, 2, 0.5)
    torch.testing.assert_close(roi_sample(FEATS, ROIS, None, 2, torch.tensor(0.5)), want, rtol=0, atol=0)
    torch.testing.assert_close(roi_sample(FEATS, ROIS, None, 2, torch.tensor(0.5, dtype=torch.float64)), want,
                               rtol=0, atol=0)


@pytest.mark.parametrize("value, expected", [
    (torch.tensor([0.5]), "0-d"), (torch.tensor(0.5, requires_grad=True), "gradient"),
    (torch.tensor(-1.0), "positive"), ("0.5", "number"),
])
def test_other_spatial_scales_say_what_is_expected(value, expected):
    with pytest.raises(ValueError, match=f"spatial_scale.*{expected}"):
        roi_sample(FEATS, ROIS, None, 2, value)
