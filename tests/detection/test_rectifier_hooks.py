"""RectifierStatsHook and RectifierVisualizationHook on a hand-made runner: what they
log, when they warn, and where they draw."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.visualization import Visualizer

import stn_plugin  # noqa: F401
from mmdet.registry import MODELS

from stn_plugin.detection.hooks import (RectifierStatsHook, RectifierVisualizationHook, _display_zoom,
                                          _outline_points)

EXTRACTOR = dict(type="AffineRoIRectifier",
                 roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2, aligned=True),
                 out_channels=4, featmap_strides=[4])
ROIS = torch.tensor([[0.0, 8.0, 10.0, 40.0, 30.0], [0.0, 20.0, 20.0, 60.0, 60.0]])


def scaled_affine(scale, n=2):
    """Raw affine parameters of ``scale * identity`` for ``n`` RoIs."""
    return torch.tensor([[scale, 0.0, 0.0, 0.0, scale, 0.0]]).repeat(n, 1)


def fake_runner(params, rois=ROIS, name="hooks_test"):
    model = torch.nn.Module()
    model.ext = MODELS.build(EXTRACTOR)
    model.ext.last_params, model.ext.last_rois = params, rois
    warnings = []
    return SimpleNamespace(model=model, iter=0, logger=SimpleNamespace(warning=warnings.append),
                           message_hub=MessageHub.get_instance(name), warnings=warnings)


def test_outline_of_identity_is_the_box_and_zoom_multiplies_it():
    family = MODELS.build(EXTRACTOR).family
    boxes = ROIS[:, 1:]
    (outline,) = _outline_points(family.build(scaled_affine(1.0)), boxes)
    assert outline.shape[0] == 2
    np.testing.assert_allclose(outline.min(1), boxes[:, :2].numpy(), atol=1e-5)
    np.testing.assert_allclose(outline.max(1), boxes[:, 2:].numpy(), atol=1e-5)
    (half,) = _outline_points(family.build(scaled_affine(0.5)), boxes)
    centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    np.testing.assert_allclose(half.min(1), (centre - size / 4).numpy(), atol=1e-5)
    assert _display_zoom(128, 8 * 48) == 3 and _display_zoom(800, 8 * 48) == 1 and _display_zoom(16, 999) == 4


def test_stats_hook_logs_statistics_and_warns_only_on_collapse():
    data_batch = dict(inputs=[torch.zeros(3, 64, 64)])
    healthy = fake_runner(scaled_affine(1.0), name="hooks_healthy")
    RectifierStatsHook(interval=1).after_train_iter(healthy, 0, data_batch)
    scalars = healthy.message_hub.log_scalars
    assert scalars["train/stn/ext/area_scale"].current() == pytest.approx(1.0, abs=1e-5)
    assert scalars["train/stn/ext/identity_distance"].current() == pytest.approx(0.0, abs=1e-6)
    assert healthy.warnings == []

    collapsed = fake_runner(scaled_affine(0.1), name="hooks_collapsed")
    RectifierStatsHook(interval=1, collapse_area=0.05).after_train_iter(collapsed, 0, data_batch)
    assert collapsed.message_hub.log_scalars["train/stn/ext/area_scale"].current() == pytest.approx(0.01, rel=1e-3)
    assert len(collapsed.warnings) == 1 and "'ext' at iter 1 may be collapsing" in collapsed.warnings[0]
    assert "AreaBoundLoss" in collapsed.warnings[0] and "OutsideSamplingLoss" not in collapsed.warnings[0]


def test_stats_hook_advice_for_samples_outside_the_image_is_about_the_box():
    data_batch = dict(inputs=[torch.zeros(3, 64, 64)])
    shifted = scaled_affine(1.0)
    shifted[:, 2] = 40.0  # far right of every box: all samples outside the image
    drifting = fake_runner(shifted, name="hooks_drifting")
    RectifierStatsHook(interval=1).after_train_iter(drifting, 0, data_batch)
    assert drifting.message_hub.log_scalars["train/stn/ext/outside_fraction"].current() == pytest.approx(1.0)
    (warning,) = drifting.warnings
    assert "samples outside the image" in warning and "may be collapsing" not in warning
    assert "OutsideSamplingLoss, which on an RoI rectifier keeps the samples inside the RoI box" in warning
    assert "AreaBoundLoss" not in warning


def test_stats_hook_mirror_is_no_collapse_and_is_reported():
    data_batch = dict(inputs=[torch.zeros(3, 64, 64)])
    mirrored = fake_runner(torch.tensor([[-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]).repeat(2, 1), name="hooks_mirror")
    RectifierStatsHook(interval=1).after_train_iter(mirrored, 0, data_batch)
    scalars = mirrored.message_hub.log_scalars
    assert scalars["train/stn/ext/area_scale"].current() == pytest.approx(1.0, abs=1e-5)
    assert scalars["train/stn/ext/mirrored_fraction"].current() == pytest.approx(1.0)
    assert mirrored.warnings == []


def test_stats_hook_runs_before_the_logger_prints_the_iteration():
    """mmengine calls hooks in priority order; LoggerHook prints in after_train_iter, so
    the statistics must be in the message hub before it runs."""
    from mmengine.hooks import LoggerHook
    from mmengine.runner import get_priority
    assert get_priority(RectifierStatsHook.priority) < get_priority(LoggerHook.priority)


def test_visualization_hook_draws_the_sampled_region_on_an_enlarged_image(tmp_path):
    runner = fake_runner(scaled_affine(0.5), name="hooks_vis")
    drawn = {}
    runner.visualizer = Visualizer(name="hooks_vis_test", save_dir=str(tmp_path))
    runner.visualizer.add_image = lambda name, image, step=0: drawn.update({name: image})
    image = torch.zeros(3, 64, 64, dtype=torch.uint8)
    image[:, 20:40, 24:56] = 200  # a bright block the crops of the second RoI must see
    RectifierVisualizationHook(interval=1, crop_size=48).after_val_iter(runner, 0, dict(inputs=[image]))
    (name, canvas), = drawn.items()
    assert name == "val_rectifier_ext_img0_batch0"
    zoom = _display_zoom(64, 2 * 48)
    assert canvas.shape == (64 * zoom + 48, 64 * zoom, 3)
    lime = (canvas[: 64 * zoom, :, 1] > 200) & (canvas[: 64 * zoom, :, 0] < 100)
    ys, xs = np.nonzero(lime)
    # the outlines of the two half-size regions: x in [16, 32] and [30, 50] (pixels) times zoom
    assert abs(xs.min() - 16 * zoom) <= 2 and abs(xs.max() - 50 * zoom) <= 2
    assert abs(ys.min() - 15 * zoom) <= 2 and abs(ys.max() - 50 * zoom) <= 2
    crop_strip = canvas[64 * zoom:, : 2 * 48]
    assert crop_strip[:, 48:].mean() > crop_strip[:, :48].mean() > 0
