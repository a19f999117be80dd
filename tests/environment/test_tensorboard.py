"""TensorBoard works with the ``tensorboard`` extra (installed by the set-up): a short
training run whose visualizer uses mmengine's ``TensorboardVisBackend`` -- switched on
from the command line as the README says -- writes event files holding the loss."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mmdet")

REPO = Path(__file__).resolve().parents[2]


def test_training_writes_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from stn_plugin.cli.train import build_config, build_runner, parse_args

    args = parse_args(["configs/mnist/cnn_r.py", "--work-dir", str(tmp_path), "--cfg-options",
                       "visualizer.vis_backends.0.type=TensorboardVisBackend",
                       "train_dataloader.dataset.num_samples=128", "val_dataloader.dataset.num_samples=64",
                       "train_cfg.max_iters=2", "default_hooks.logger.interval=1"])
    runner = build_runner(build_config(args))
    runner.train()
    events = list(tmp_path.glob("*/vis_data/events.out.tfevents.*"))
    assert len(events) == 1
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert "loss" in accumulator.Tags()["scalars"]
    assert len(accumulator.Scalars("loss")) == 2
