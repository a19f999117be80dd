"""TextOutlineNet: batching never changes a crop's prediction; the rectifier file and
TextRectifier's keep-flat path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stn_plugin.rectify import TextRectifier
from stn_plugin.rectify.outline_net import OutlinePrediction, TextOutlineNet


def _net(seed=0):
    torch.manual_seed(seed)
    net = TextOutlineNet(channels=(4, 8, 8, 8), context=8)
    with torch.no_grad():  # a random head, so that predictions depend on the input
        net.head.weight.normal_(0, 0.1)
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                m.running_mean.normal_(0, 0.1)
    return net.eval()


def test_padding_in_a_batch_does_not_change_a_prediction():
    net = _net()
    wide, narrow = torch.randn(1, 3, 32, 160), torch.randn(1, 3, 32, 64)
    alone = net(narrow, torch.tensor([64]))
    batch = torch.cat([wide, torch.cat([narrow, torch.zeros(1, 3, 32, 96)], 3)])
    together = net(batch, torch.tensor([160, 64]))
    assert together.columns.tolist() == [20, 8]
    assert torch.allclose(together.edges[1, :, :8], alone.edges[0], atol=1e-5)
    assert torch.allclose(together.flat_logit[1], alone.flat_logit[0], atol=1e-5)


def test_input_width_keeps_the_aspect_within_bounds():
    net = TextOutlineNet()
    assert net.input_width(32, 100) == 96 and net.input_width(64, 100) == 48
    assert net.input_width(10, 4000) == 512 and net.input_width(100, 10) == 32
    with pytest.raises(ValueError, match="widths"):
        net(torch.zeros(1, 3, 32, 64), torch.tensor([60]))
    with pytest.raises(ValueError, match="x must be"):
        net(torch.zeros(1, 3, 16, 64), torch.tensor([64]))


def test_text_rectifier_runs_an_outline_net_and_keeps_flat_crops(outline_rectifier_file):
    crops = [np.random.default_rng(i).integers(0, 255, (30 + 7 * i, 90 + 60 * i, 3), dtype=np.uint8)
             for i in range(3)]
    rectifier = TextRectifier.from_pretrained(outline_rectifier_file)
    details = rectifier(crops, return_details=True)
    assert all(d.flatness is not None and 0 <= d.flatness <= 1 and not d.kept for d in details)
    assert all(d.control_points.shape == (80, 2) for d in details)
    # one at a time gives the same as the batch (but for float rounding)
    for crop, d in zip(crops, details):
        alone = rectifier(crop, return_details=True)
        np.testing.assert_allclose(alone.control_points, d.control_points, atol=1e-3)
        assert all(abs(a - b) <= 1 for a, b in zip(alone.image.shape, d.image.shape))
    # keep_flat with threshold 0 keeps every crop, untouched, as a copy
    keep = TextRectifier.from_pretrained(outline_rectifier_file, keep_flat=True, flat_threshold=0.0)
    kept = keep(crops, return_details=True)
    assert all(k.kept and np.array_equal(k.image, c) and k.image is not c for k, c in zip(kept, crops))
    # and threshold 1 keeps none
    never = TextRectifier.from_pretrained(outline_rectifier_file, flat_threshold=1.0)
    assert not any(k.kept for k in never(crops, return_details=True, keep_flat=True))


def test_keep_flat_needs_a_flatness_predicting_rectifier():
    with pytest.raises(ValueError, match="keep_flat"):
        TextRectifier.from_pretrained("tps-words", keep_flat=True)
    with pytest.raises(ValueError, match="flat_threshold"):
        TextRectifier.from_pretrained("tps-words", flat_threshold=2.0)


def _band(xs, heights):
    """(1, 2, L, 2) edges of a horizontal band with column x positions and heights."""
    xs = torch.as_tensor(xs, dtype=torch.float64)
    half = torch.as_tensor(heights, dtype=torch.float64) / 2
    return torch.stack([torch.stack([xs, -half], -1), torch.stack([xs, half], -1)])[None]


def test_spacing_is_checked_and_steady_text_is_spaced_evenly():
    with pytest.raises(ValueError, match="spacing"):
        TextOutlineNet(spacing="uniform")
    net = TextOutlineNet().eval()
    # columns bunched on the left of a straight band of steady height
    xs = [-0.9, -0.85, -0.8, -0.75, 0.9]
    prediction = OutlinePrediction(_band(xs, [1.0] * 5), torch.zeros(1, dtype=torch.float64), torch.tensor([5]))
    aspect = torch.tensor([4.0], dtype=torch.float64)
    for spacing in ("perspective", "arc_length"):
        net.spacing = spacing
        top, _ = net.outline_points(prediction, 5, aspect)
        assert torch.allclose(top[0, :, 0], torch.linspace(-0.9, 0.9, 5, dtype=torch.float64), atol=1e-12), spacing
    net.spacing = "predicted"
    top, _ = net.outline_points(prediction, 5, aspect)
    assert torch.allclose(top[0, :, 0], torch.tensor(xs, dtype=torch.float64), atol=1e-12)


def test_perspective_spacing_divides_length_by_the_text_height():
    net = TextOutlineNet(spacing="perspective").eval()
    xs = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)
    heights = 1.0 - 0.25 * (xs + 1)              # shrinks steadily from 1 to 0.5: log ratio 0.69
    prediction = OutlinePrediction(_band(xs, heights), torch.zeros(1, dtype=torch.float64), torch.tensor([201]))
    top, bottom = net.outline_points(prediction, 5, torch.tensor([1.0], dtype=torch.float64))
    # flat position ~ integral of dx / h(x) = -4 log(h) + const: equal steps of log h
    expected = torch.tensor([(1 - 0.5 ** f) / 0.25 - 1 for f in (0, 0.25, 0.5, 0.75, 1.0)], dtype=torch.float64)
    assert torch.allclose(top[0, :, 0], expected, atol=2e-3) and torch.allclose(bottom[0, :, 0], expected, atol=2e-3)
    # a few percent of height change is noise, not perspective: even spacing
    prediction = OutlinePrediction(_band(xs, 1.0 - 0.02 * (xs + 1)), torch.zeros(1, dtype=torch.float64),
                                   torch.tensor([201]))
    top, _ = net.outline_points(prediction, 5, torch.tensor([1.0], dtype=torch.float64))
    assert torch.allclose(top[0, :, 0], torch.linspace(-1, 1, 5, dtype=torch.float64), atol=1e-9)
