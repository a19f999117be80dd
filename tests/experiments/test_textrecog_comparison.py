"""The text-recognition comparison (``tools/compare_textrecog.py``) builds a learning-rate
schedule mmengine accepts for any number of iterations, including the 2 of a smoke run
(it used to crash there)."""
from __future__ import annotations

import pytest

pytest.importorskip("mmdet")

import torch  # noqa: E402

from stn_plugin.experiments.textrecog_comparison import lr_schedule  # noqa: E402


@pytest.mark.parametrize("schedule", ["flat", "cosine"])
@pytest.mark.parametrize("iters", [1, 2, 3, 10, 9000])
def test_schedule_builds_and_runs(iters, schedule):
    from mmengine.registry import PARAM_SCHEDULERS

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedulers = [PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer))
                  for cfg in lr_schedule(iters, schedule)]
    lrs = []
    for _ in range(min(iters, 50)):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        for s in schedulers:
            s.step()
    assert all(0 < lr <= 1.0 for lr in lrs)


def test_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="cosine"):
        lr_schedule(10, "step")
