"""``tools/test.py --show-dir`` on a text-recognition config draws, per test batch, each
crop with the region its rectifier sampled, the rectified crop, the prediction and
the ground truth (:class:`TextRecogVisualizationHook`)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mmdet")

import cv2  # noqa: E402

from stn_plugin.textrecog.synthetic_words import generate_synthetic_words  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = "configs/textrecog/crnn-tps_synthetic-words.py"
LOADERS = [f"{split}_dataloader.{key}" for split in ("train", "val", "test")
           for key in ("num_workers=0", "persistent_workers=False", "batch_size=2")]


def test_show_dir_draws_crop_rectified_prediction_and_truth(tmp_path):
    from stn_plugin.cli.train import main as train

    data = tmp_path / "words"
    generate_synthetic_words(str(data), 4, seed=0, split="train", progress=False)
    generate_synthetic_words(str(data), 3, seed=1, split="test_curved", progress=False)
    # synth_root moves every dataloader; max_iters=1 moves the checkpoint to iter_1
    options = [f"synth_root={data}", "train_cfg.max_iters=1", *LOADERS]
    runner = train([CONFIG, "--work-dir", str(tmp_path / "train"), "--cfg-options", *options])
    assert runner.iter == 1
    checkpoint = tmp_path / "train" / "iter_1.pth"
    assert checkpoint.is_file()

    work = tmp_path / "test"
    proc = subprocess.run([sys.executable, "tools/test.py", CONFIG, str(checkpoint), "--work-dir", str(work),
                           "--show-dir", "vis", "--cfg-options", f"synth_root={data}", *LOADERS],
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    panels = sorted(work.glob("*/vis/batch_*.png"))
    assert [p.name for p in panels] == ["batch_00000.png", "batch_00001.png"]   # 3 crops, batches of 2
    first, last = (cv2.imread(str(p)) for p in panels)
    row = 64 + 22 + 4                                                         # crops, caption, gap
    assert first.shape[0] == 2 * row and last.shape[0] == row
    # each row: the crop and its rectified version side by side (not blank), then a caption
    crop_band = first[:64]
    assert crop_band.std() > 10
    caption = first[64:86]
    assert (caption < 128).any(), "no caption text drawn"


def test_panel_rows_and_the_identity():
    from stn_plugin.geometry import build_family
    from stn_plugin.textrecog.visualization import recognition_panel

    crops = [np.full((32, 100, 3), 200, np.uint8), np.zeros((32, 100, 3), np.uint8)]
    family = build_family("affine")
    identity = family.build(family.identity_params().repeat(2, 1))
    panel = recognition_panel(crops, crops, identity, ["hello", "wor1d"], ["hello", "world"], height=64)
    assert panel.shape[0] == 2 * (64 + 22 + 4) and panel.dtype == np.uint8
    # the crop half of the first row is the grey crop (the drawn outline aside)
    assert np.median(panel[5:59, 5:120]) == 200
    from stn_plugin.textrecog.visualization import TextRecogVisualizationHook

    with pytest.raises(ValueError, match="interval"):
        TextRecogVisualizationHook(interval=0)
