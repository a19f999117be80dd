"""The digit-scenes benchmark's report: a run too short to have logged a training
time shows no time (not ``nan``), and a smoke run draws no comparison."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("mmdet")

from stn_plugin.experiments.digit_scenes_benchmark import MIN_ITERS_TO_COMPARE, format_table, read_run, summary_lines  # noqa: E402


def _run_dir(tmp_path, name, records):
    run = tmp_path / name / "20260101_000000"
    (run / "vis_data").mkdir(parents=True)
    (run / "vis_data" / "scalars.json").write_text("\n".join(json.dumps(r) for r in records))
    return run


def test_short_run_has_no_time_and_no_nan(tmp_path):
    run = _run_dir(tmp_path, "baseline", [{"coco/bbox_mAP": 0.01, "coco/bbox_mAP_50": 0.02, "step": 2}])
    row = dict(read_run(run, tmp_path / "vis"), variant="baseline", wall=12.0)
    assert row["s_per_iter"] is None
    table = format_table([row])
    assert "nan" not in table and "| - |" in table


def test_timed_run_reports_the_median_time(tmp_path):
    records = [{"loss": 1.0, "time": t, "step": i} for i, t in enumerate((0.5, 0.3, 0.4), 1)]
    run = _run_dir(tmp_path, "affine", records + [{"coco/bbox_mAP": 0.2, "coco/bbox_mAP_50": 0.4, "step": 3}])
    row = dict(read_run(run, tmp_path / "vis"), variant="affine", wall=3.0)
    assert row["s_per_iter"] == pytest.approx(0.4)
    assert "| 0.40 |" in format_table([row])


def _rows():
    common = dict(mAP50=0.5, stn={}, vis="-", wall=1.0, s_per_iter=None)
    return [dict(common, variant="baseline", mAP=0.30), dict(common, variant="affine", mAP=0.35)]


def test_smoke_run_draws_no_conclusion():
    lines = summary_lines(_rows(), 2)
    assert any("smoke run" in line for line in lines)
    assert not any("vs baseline" in line for line in lines)


def test_full_run_compares_with_the_baseline():
    lines = summary_lines(_rows(), MIN_ITERS_TO_COMPARE)
    assert "affine: val bbox mAP 0.350 vs baseline 0.300 (+0.050)" in lines
