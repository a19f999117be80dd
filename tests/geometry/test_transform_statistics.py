"""roi_transform_statistics: area scale is |det| (a mirror is not a collapse), and
mirroring is reported on its own."""
from __future__ import annotations

import pytest
import torch

from stn_plugin.geometry import MatrixTransform
from stn_plugin.geometry.regularizers import roi_transform_statistics

BOXES = torch.tensor([[0.0, 0.0, 8.0, 8.0], [4.0, 4.0, 12.0, 12.0]])


def _stats(*diagonals):
    mats = torch.stack([torch.diag(torch.tensor([a, b, 1.0])) for a, b in diagonals])
    return roi_transform_statistics(MatrixTransform(mats), BOXES[:len(diagonals)], (16, 16))


def test_mirrored_transforms_keep_their_area():
    stats = _stats((-1.0, 1.0), (1.0, -1.0))
    assert stats["area_scale"] == pytest.approx(1.0)
    assert stats["min_area_scale"] == pytest.approx(1.0)
    assert stats["mirrored_fraction"] == pytest.approx(1.0)


def test_half_mirrored_batch_and_zoom():
    stats = _stats((-0.5, 0.5), (1.0, 1.0))
    assert stats["area_scale"] == pytest.approx((0.25 + 1.0) / 2)
    assert stats["min_area_scale"] == pytest.approx(0.25)
    assert stats["mirrored_fraction"] == pytest.approx(0.5)


def test_identity_is_not_mirrored():
    stats = _stats((1.0, 1.0))
    assert stats["mirrored_fraction"] == 0.0 and stats["area_scale"] == pytest.approx(1.0)
