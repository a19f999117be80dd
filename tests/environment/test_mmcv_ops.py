"""mmcv 2.1.0's compiled CPU ops (built from source by tools/setup_env.sh) work."""
from __future__ import annotations

import pytest
import torch

ops = pytest.importorskip("mmcv.ops")


def test_roi_align_of_constant_map_is_that_constant() -> None:
    feat = torch.full((1, 3, 16, 16), 3.25)
    rois = torch.tensor([[0.0, 2.0, 3.0, 9.0, 12.0], [0.0, 0.5, 0.5, 4.0, 6.5]])
    roi_align = ops.RoIAlign(output_size=(4, 4), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    out = roi_align(feat, rois)
    assert out.shape == (2, 3, 4, 4)
    torch.testing.assert_close(out, torch.full_like(out, 3.25))


def test_roi_align_aligned_samples_pixel_centres() -> None:
    # f(y, x) = x at pixel centres; aligned=True shifts the RoI by -0.5 so box
    # x in [1, 5] covers continuous [0.5, 4.5): 2 bins of width 2, 2 samples each
    # at x = 1, 2 | 3, 4  ->  bin means 1.5 and 3.5 (bilinear is exact on a ramp).
    xs = torch.arange(8, dtype=torch.float32)
    feat = xs.expand(1, 1, 8, 8).contiguous()
    rois = torch.tensor([[0.0, 1.0, 1.0, 5.0, 5.0]])
    out = ops.RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)(feat, rois)
    expected = torch.tensor([[1.5, 3.5], [1.5, 3.5]]).view(1, 1, 2, 2)
    torch.testing.assert_close(out, expected)
    # and it agrees with torchvision's reference implementation
    from torchvision.ops import roi_align as tv_roi_align

    ref = tv_roi_align(feat, rois, (2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(out, ref)


def test_roi_align_backward_on_cpu() -> None:
    feat = torch.rand(1, 2, 8, 8, requires_grad=True)
    rois = torch.tensor([[0.0, 1.0, 1.0, 6.0, 6.0]])
    out = ops.RoIAlign((2, 2), 1.0, sampling_ratio=2, aligned=True)(feat, rois)
    out.sum().backward()
    assert feat.grad is not None
    # each output value is a mean of bilinear samples: the weights sum to one per output
    torch.testing.assert_close(feat.grad.sum(), torch.tensor(float(out.numel())))


def test_nms_removes_the_overlapping_box() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    # IoU(box0, box1) = 81 / 119 = 0.68
    dets, keep = ops.nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    torch.testing.assert_close(dets[:, :4], boxes[[0, 2]])
    torch.testing.assert_close(dets[:, 4], scores[[0, 2]])
    _, keep_all = ops.nms(boxes, scores, iou_threshold=0.7)
    assert keep_all.tolist() == [0, 1, 2]
