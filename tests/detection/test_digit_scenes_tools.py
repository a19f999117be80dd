"""Digit-scenes benchmark and the detection tools end to end (tiny data, few iterations)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from stn_plugin.detection.digit_scenes import SceneOptions, generate_digit_scenes, render_scene
from stn_plugin.classification.distorted_mnist import load_mnist_source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable
AFFINE_CFG = os.path.join(ROOT, "configs", "digits", "faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py")


def test_scenes_are_deterministic_and_annotations_match_the_pixels(tmp_path):
    src = load_mnist_source("embedded", "train")
    a = render_scene(np.random.default_rng(3), src, SceneOptions())
    b = render_scene(np.random.default_rng(3), src, SceneOptions())
    assert np.array_equal(a["image"], b["image"]) and len(a["objects"]) == len(b["objects"]) >= 1
    for obj in a["objects"]:
        ys, xs = np.nonzero(obj["mask"])
        assert obj["box"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        # the digit's centre pixel maps (through the recorded matrix) inside its box
        m = np.array(obj["matrix"])
        c = m @ np.array([14.0, 14.0, 1.0])
        x, y = c[:2] / c[2]
        x1, y1, x2, y2 = obj["box"]
        assert x1 - 2 <= x <= x2 + 2 and y1 - 2 <= y <= y2 + 2
    out = generate_digit_scenes(tmp_path / "ds", 3, 2, seed=1, progress=None)
    coco = json.loads((out / "annotations" / "train.json").read_text())
    assert len(coco["images"]) == 3 and {c["name"] for c in coco["categories"]} == set("0123456789")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_digit_scenes(out, 1, 1, progress=None)


def _run(args, cwd):
    proc = subprocess.run([PY] + args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    generate_digit_scenes(root / "ds", 8, 4, seed=0, progress=None)
    return root


def _options(data_root, iters):
    ds = str(data_root / "ds") + "/"
    return ["--cfg-options", f"train_dataloader.dataset.data_root={ds}", f"val_dataloader.dataset.data_root={ds}",
            f"test_dataloader.dataset.data_root={ds}", f"val_evaluator.ann_file={ds}annotations/val.json",
            f"test_evaluator.ann_file={ds}annotations/val.json", f"train_cfg.max_iters={iters}",
            f"train_cfg.val_interval={iters}", "default_hooks.checkpoint.interval=2",
            "train_dataloader.batch_size=2", "val_dataloader.batch_size=2", "test_dataloader.batch_size=2",
            "custom_hooks.0.interval=1", "custom_hooks.1.interval=1", "default_hooks.logger.interval=1"]


def test_train_resume_test_with_rectifier(tiny_data):
    work = tiny_data / "work"
    _run(["tools/train.py", AFFINE_CFG, "--work-dir", str(work)] + _options(tiny_data, 2), ROOT)
    assert (work / "iter_2.pth").exists()
    log = _run(["tools/train.py", AFFINE_CFG, "--work-dir", str(work), "--resume"] + _options(tiny_data, 4), ROOT)
    assert "resumed" in log.lower() or "Load checkpoint" in log
    assert "Iter(train) [4/4]" in log or (work / "iter_4.pth").exists()
    scalars = "".join(p.read_text() for p in work.rglob("scalars.json"))
    assert '"stn/roi_head.bbox_roi_extractor/area_scale"' in scalars
    assert list(work.rglob("*rectifier*.png")), "the visualization hook wrote no image"
    # the benchmark tool reads the resumed run's scores, speed, rectifier statistics and drawings
    from stn_plugin.experiments.digit_scenes_benchmark import read_run
    resumed = sorted(d for d in work.glob("2*") if (d / "vis_data" / "scalars.json").exists())[-1]
    row = read_run(resumed, tiny_data / "vis")
    assert 0.0 <= row["mAP"] <= 1.0 and 0.0 <= row["mAP50"] <= 1.0 and row["s_per_iter"] > 0
    assert row["stn"]["area_scale"] > 0 and set(row["stn"]) >= {"identity_distance", "outside_fraction"}
    assert row["vis"] != "-" and list((tiny_data / "vis").glob("*.png"))
    out_pkl = tiny_data / "preds.pkl"
    # 4 iterations at the configs' learning rate leave no box above the default score
    # threshold; keep every box, so that the metric has results to score
    test_log = _run(["tools/test.py", AFFINE_CFG, str(work / "iter_4.pth"), "--work-dir", str(work / "test"),
                     "--out", str(out_pkl)] + _options(tiny_data, 4) + ["model.test_cfg.rcnn.score_thr=0.0"], ROOT)
    assert "coco/bbox_mAP" in test_log and out_pkl.exists()


def test_mmdets_own_train_script_runs_our_config(tiny_data):
    import mmdet
    mmdet_train = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "tools", "train.py")
    work = tiny_data / "work_mmdet"
    log = _run([mmdet_train, AFFINE_CFG, "--work-dir", str(work)] + _options(tiny_data, 2), ROOT)
    assert "Iter(train) [2/2]" in log and "bbox_loss_stn_area" in log


def test_benchmark_reuses_only_matching_data(tiny_data, capsys):
    from stn_plugin.experiments.digit_scenes_benchmark import ensure_data
    ensure_data(tiny_data / "ds", 8, 4, 0)  # the same data: reused, nothing generated
    assert "using the existing data" in capsys.readouterr().out
    for sizes in ((8, 5, 0), (9, 4, 0), (8, 4, 1)):
        with pytest.raises(SystemExit, match="holds other data"):
            ensure_data(tiny_data / "ds", *sizes)
    (tiny_data / "other").mkdir()
    (tiny_data / "other" / "mine.txt").write_text("a user's file")
    with pytest.raises(SystemExit, match="not empty"):
        ensure_data(tiny_data / "other", 2, 2, 0)
    assert (tiny_data / "other" / "mine.txt").read_text() == "a user's file"
