"""Frame geometry of a rectification (stn_plugin.geometry.frames): the size of the
sampled region, the aspect-keeping cap, the outline, the automatic sampling ratio."""
import numpy as np
import pytest
import torch

from stn_plugin.geometry import MatrixTransform
from stn_plugin.geometry.frames import (FRAME_POINTS, auto_sampling_ratio, bounded_size, frame_outline, frame_sizes,
                                        region_sizes)


def test_frame_size_measures_the_sampled_region():
    identity = MatrixTransform(torch.eye(3)[None, :2])
    assert frame_sizes(identity, [(40, 120)]) == [(40, 120)]
    # the middle half of the width and a quarter of the height, rotated by 90 degrees:
    # the sampled region is 0.25 * 40 high and 0.5 * 120 long whatever way it lies
    m = torch.tensor([[[0.5, 0.0, 0.0], [0.0, 0.25, 0.0]]])
    assert frame_sizes(MatrixTransform(m), [(40, 120)]) == [(10, 60)]
    rot = torch.tensor([[[0.0, -0.25 * 40 / 120, 0.0], [0.5 * 120 / 40, 0.0, 0.0]]])  # in pixel terms: x -> y
    assert frame_sizes(MatrixTransform(rot), [(40, 120)]) == [(10, 60)]
    with pytest.raises(ValueError, match="NaN|non-finite"):
        frame_sizes(MatrixTransform(torch.full((1, 2, 3), float("nan"))), [(40, 120)])
    nan = torch.full((2, 2, 3), float("nan"))
    nan[0] = torch.eye(3)[:2]
    with pytest.raises(ValueError, match=r"non-finite points \(batch entry 1\)"):
        frame_sizes(MatrixTransform(nan, check_values=False), [(40, 120), (40, 120)])


@pytest.mark.parametrize("size", [(300, 12000), (12000, 300), (5000, 5000), (64, 9000)])
def test_capped_sizes_keep_the_aspect_ratio(size):
    """A region longer than max_side shrinks by one factor for both sides."""
    identity = MatrixTransform(torch.eye(3)[None, :2])
    (h, w), = frame_sizes(identity, [size])
    assert max(h, w) == 4096
    # the aspect within the rounding of the shorter side
    assert abs(h / w - size[0] / size[1]) <= 0.5 / min(h, w) * max(size[0] / size[1], 1)
    assert frame_sizes(identity, [size], max_side=1000)[0] == bounded_size(*size, max_side=1000)


def test_bounded_size_limits():
    assert bounded_size(40, 120) == (40, 120)
    assert bounded_size(3, 5000) == (8, 4096)       # min_side is a floor, after the scaling
    assert bounded_size(0.5, 2, min_side=1) == (1, 2)
    with pytest.raises(ValueError, match="min_side"):
        bounded_size(10, 10, min_side=20, max_side=10)


def test_outline_is_the_mapped_frame_lines():
    m = torch.tensor([[[0.5, 0.0, 0.1], [0.0, 0.25, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    outlines = frame_outline(MatrixTransform(m), [(40, 120), (10, 20)])
    assert [o.shape for o in outlines] == [(10, FRAME_POINTS, 2)] * 2
    # the second entry is the identity: its first line is the top edge of a 10 x 20 crop
    np.testing.assert_allclose(outlines[1][0][[0, -1]], [[0, 0], [20, 0]])
    # the first: x in [0.25, 0.75] * 120 shifted by 0.05 * 120, y = 0.375 * 40
    np.testing.assert_allclose(outlines[0][0][[0, -1]], [[36, 15], [96, 15]])
    np.testing.assert_allclose(region_sizes(MatrixTransform(m), [(40, 120), (10, 20)]), [(10, 60), (10, 20)])
    with pytest.raises(ValueError, match="sizes has 1"):
        frame_outline(MatrixTransform(m), [(40, 120)])


def test_auto_sampling_ratio():
    assert auto_sampling_ratio((40, 120), (40, 120)) == 1
    assert auto_sampling_ratio((80, 240), (40, 120)) == 2
    assert auto_sampling_ratio((800, 2400), (40, 120)) == 4          # at most 4
    assert auto_sampling_ratio((10, 30), (40, 120)) == 1             # enlarging needs none
    assert auto_sampling_ratio((8000, 8000), (4096, 4096), 4096 ** 2) == 1
