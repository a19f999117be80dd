"""The coordinate contract: conversions, grids and the RoI frame."""
import pytest
import torch
import torch.nn.functional as F

from stn_plugin.geometry import coords


@pytest.mark.parametrize("align_corners", [False, True])
def test_pixel_normalized_round_trip(align_corners):
    pts = torch.rand(5, 7, 2, dtype=torch.float64) * 30 - 5
    size = (13, 21)
    back = coords.normalized_to_pixel(coords.pixel_to_normalized(pts, size, align_corners), size, align_corners)
    assert torch.allclose(back, pts, atol=1e-12)


def test_normalized_extent_conventions():
    size = (4, 10)  # h, w
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    # align_corners=False: -1 and 1 are the outer edges of the image
    assert coords.normalized_to_pixel(corners, size, False).tolist() == [[0.0, 0.0], [10.0, 4.0]]
    # align_corners=True: -1 and 1 are the centres of the border pixels
    assert coords.normalized_to_pixel(corners, size, True).tolist() == [[0.5, 0.5], [9.5, 3.5]]


@pytest.mark.parametrize("align_corners", [False, True])
def test_output_grid_matches_affine_grid(align_corners):
    theta = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]], dtype=torch.float64)
    ref = F.affine_grid(theta, [1, 1, 5, 7], align_corners=align_corners)[0]
    ours = coords.output_grid((5, 7), 1, align_corners, dtype=torch.float64)
    assert torch.allclose(ours, ref, atol=1e-12)


def test_supersampled_positions_average_to_cell_centres():
    r = 3
    sub = coords.sample_positions_1d(4, r, dtype=torch.float64)
    centres = coords.sample_positions_1d(4, 1, dtype=torch.float64)
    assert torch.allclose(sub.reshape(4, r).mean(1), centres, atol=1e-12)
    # sub-samples are evenly spaced across the whole extent
    assert torch.allclose(sub, coords.sample_positions_1d(4 * r, 1, dtype=torch.float64), atol=1e-12)


def test_roi_frame_maps_corners_to_box():
    boxes = torch.tensor([[2.0, 3.0, 10.0, 7.0], [0.0, 0.0, 1.0, 1.0]])
    m = coords.roi_frame_matrix(boxes)
    corners = torch.tensor([[-1.0, -1.0, 1.0], [1.0, 1.0, 1.0]]).T  # columns: homogeneous points
    mapped = (m @ corners)[:, :2].transpose(1, 2)
    assert torch.allclose(mapped, boxes.reshape(2, 2, 2))
    pts = torch.rand(2, 9, 2) * 2 - 1
    via_matrix = (pts @ m[:, :2, :2].transpose(1, 2)) + m[:, None, :2, 2]
    assert torch.allclose(coords.roi_frame_to_pixel(pts, boxes), via_matrix, atol=1e-6)


def test_feature_coordinates_follow_roialign_aligned():
    # continuous image pixel 8.0 at stride 4 is feature coordinate 2.0, index 1.5
    p = torch.tensor([[8.0, 4.0]])
    assert coords.pixel_to_feature_index(p, 4).tolist() == [[1.5, 0.5]]
    # index coordinate of a pixel centre is exactly that pixel in grid_sample terms
    n = coords.feature_index_to_normalized(torch.tensor([[0.0, 0.0], [9.0, 4.0]]), (5, 10))
    assert torch.allclose(n, coords.output_grid((5, 10))[[0, -1], [0, -1]])


def test_pixel_matrix_round_trip():
    m = torch.tensor([[1.1, 0.2, 3.0], [-0.1, 0.9, -2.0], [1e-3, 2e-3, 1.0]], dtype=torch.float64)
    n = coords.pixel_matrix_to_normalized(m, (20, 30), (10, 15))
    assert torch.allclose(coords.normalized_matrix_to_pixel(n, (20, 30), (10, 15)), m, atol=1e-12)


def test_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match="out_size"):
        coords.output_grid((0, 3))
    with pytest.raises(ValueError, match="align_corners"):
        coords.pixel_to_normalized_matrix((1, 5), align_corners=True)
