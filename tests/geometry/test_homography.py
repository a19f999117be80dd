"""geometry.matrices.homography_from_points: the one 4-point homography (batched,
float64), OpenCV's numbers, and a clear error for degenerate corners."""
import cv2
import numpy as np
import pytest
import torch

from stn_plugin.geometry.matrices import apply_matrix, homography_from_points

SQUARE = np.array([[0.0, 0.0], [28.0, 0.0], [28.0, 28.0], [0.0, 28.0]])


def test_batched_homographies_map_the_corners_and_agree_with_opencv():
    rng = np.random.default_rng(0)
    dst = SQUARE + rng.normal(0.0, 3.0, (2, 5, 4, 2))
    h = homography_from_points(SQUARE, dst)  # src broadcasts over the batch
    assert h.shape == (2, 5, 3, 3) and h.dtype == torch.float64
    assert torch.allclose(apply_matrix(h, torch.from_numpy(SQUARE)), torch.from_numpy(dst), atol=1e-10)
    for i in range(2):
        for j in range(5):
            src32, dst32 = SQUARE.astype(np.float32), dst[i, j].astype(np.float32)
            ref = cv2.getPerspectiveTransform(src32, dst32)
            ours = homography_from_points(src32, dst32)
            # OpenCV's solve is accurate to float32 only in some versions (5.x); ours to float64
            np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5, atol=1e-7)
            mapped = apply_matrix(ours, torch.from_numpy(SQUARE))
            assert torch.allclose(mapped, torch.from_numpy(dst32.astype(np.float64)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("which", ["src", "dst"])
def test_three_collinear_corners_are_refused_naming_the_argument_and_index(which):
    good = np.broadcast_to(SQUARE, (3, 4, 2)).copy()
    bad = good.copy()
    bad[1, 1] = [14.0, 0.0]  # corners 0, 1 and 2 on the top edge
    bad[1, 2] = [28.0, 0.0]
    src, dst = (bad, good) if which == "src" else (good, bad)
    with pytest.raises(ValueError, match=rf"{which} has three collinear points \(index \[1\]\)"):
        homography_from_points(src, dst)


def test_a_homography_that_sends_the_origin_to_infinity_is_refused():
    # H = [[1, 0, 1], [0, 1, 0], [1, 0, 0]] has h33 = 0: no solution with h33 = 1 exists
    src = np.array([[1.0, -1.0], [2.0, -1.0], [2.0, 1.0], [1.0, 1.0]])
    dst = np.stack([(src[:, 0] + 1) / src[:, 0], src[:, 1] / src[:, 0]], -1)
    with pytest.raises(ValueError, match="origin"):
        homography_from_points(src, dst)


def test_bad_shapes_and_values():
    with pytest.raises(ValueError, match=r"src must have shape \(\.\.\., 4, 2\), got \(3, 2\)"):
        homography_from_points(SQUARE[:3], SQUARE[:3])
    with pytest.raises(ValueError, match="dst must be finite"):
        homography_from_points(SQUARE, np.full((4, 2), np.nan))
