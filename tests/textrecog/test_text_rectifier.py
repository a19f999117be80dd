"""The TextRectifier API: the shipped rectifier loads and scores what its record says,
crops of any size / kind in and out, rectifier files round-trip, and the README's
example runs as written."""
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch

from mmengine.config import Config
from mmdet.registry import MODELS
from stn_plugin.textrecog import TextRectifier
from stn_plugin.textrecog.rectify import tesseract_available
from stn_plugin.textrecog.synthetic_words import make_sample
from stn_plugin.geometry.coords import normalized_to_pixel
from stn_plugin.geometry.transforms import MatrixTransform
from stn_plugin.geometry.frames import frame_sizes
from stn_plugin.geometry.interpolated_grid import InterpolatedGridTransform, interpolated_grid_transforms
from stn_plugin.rectify.rectifier_file import PRETRAINED, PRETRAINED_DIR
from stn_plugin.textrecog.rectifier_scores import fixed_set_scores

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECORD = osp.join(PRETRAINED_DIR, "tps-words.json")


def _crops(n=6, seed=1):
    return [make_sample(seed, i, distortions=("curve", "arc", "perspective")).image for i in range(n)]


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return TextRectifier.from_pretrained("tps-words")


def test_shipped_file_is_small_and_recorded():
    path = osp.join(PRETRAINED_DIR, PRETRAINED["tps-words"])
    assert osp.getsize(path) < 4e6
    record = json.load(open(RECORD))
    assert record["bytes"] == osp.getsize(path)
    for key in ("command", "data_seed", "train_minutes"):
        assert record["meta"].get(key), key


def test_shipped_rectifier_gives_its_recorded_scores(shipped):
    record = json.load(open(RECORD))["fixed_set"]
    scores = fixed_set_scores(shipped, seed=record["seed"], num=record["num"])
    assert scores["identity_warp_error"] == pytest.approx(record["identity_warp_error"], abs=1e-6)
    assert scores["warp_error"] == pytest.approx(record["warp_error"], abs=2e-3)
    assert scores["warp_error"] < 0.8 * scores["identity_warp_error"]  # it really flattens
    if not tesseract_available():
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng): "
                    "the recorded Tesseract accuracies were not checked; the warp errors above were")
    n = record["tesseract_num"]
    scores = fixed_set_scores(shipped, seed=record["seed"], num=n, tesseract_num=n)
    # Tesseract is deterministic for the same input; allow one word of drift across its builds
    assert abs(scores["tesseract_raw_word_acc"] - record["tesseract_raw_word_acc"]) <= 1 / n + 1e-9
    assert abs(scores["tesseract_rectified_word_acc"] - record["tesseract_rectified_word_acc"]) <= 1 / n + 1e-9
    assert scores["tesseract_rectified_word_acc"] > scores["tesseract_raw_word_acc"]


def test_inputs_of_any_size_and_kind(shipped, tmp_path):
    crops = _crops(4)
    out = shipped(crops)
    assert len(out) == 4 and all(o.dtype == np.uint8 and o.ndim == 3 and o.shape[2] == 3 for o in out)
    # one image in, one out; the same as in a batch
    np.testing.assert_array_equal(shipped(crops[1]), out[1])
    # BGR in -> BGR out, the same pixels
    bgr = TextRectifier.from_pretrained("tps-words", channel_order="bgr")(crops[0][..., ::-1].copy())
    np.testing.assert_array_equal(bgr[..., ::-1], out[0])
    # grey (H, W) in -> grey out
    grey = shipped(crops[0][..., 1])
    assert grey.ndim == 2 and grey.shape == out[0].shape[:2]
    # tensors in -> tensors out (uint8 and float)
    t = shipped(torch.from_numpy(crops[2].transpose(2, 0, 1).copy()))
    assert t.dtype == torch.uint8 and tuple(t.shape) == (3, *out[2].shape[:2])
    np.testing.assert_array_equal(t.permute(1, 2, 0).numpy(), out[2])
    f = shipped(torch.from_numpy(crops[2].transpose(2, 0, 1).astype(np.float32)))
    # (uint8 and float inputs are resized for the localization net with different rounding)
    assert f.dtype == torch.float32 and (f - t.float()).abs().mean() < 0.5 and (f - t.float()).abs().max() < 4
    # paths, sizes, details
    cv2.imwrite(str(tmp_path / "w.png"), cv2.cvtColor(crops[3], cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(shipped(str(tmp_path / "w.png")), out[3])
    assert shipped(crops[:2], out_size=(32, 100))[0].shape == (32, 100, 3)
    assert [o.shape for o in shipped(crops[:2], out_size="crop")] == [c.shape for c in crops[:2]]
    det = shipped(crops[:2], return_details=True)
    assert det[0].size == out[0].shape[:2] and det[0].control_points.shape == (20, 2)
    assert det[0].outline.shape == (10, 33, 2) and det[0].transform.batch_size == 1
    with pytest.raises(ValueError, match="out_size"):
        shipped(crops[:1], out_size="big")
    with pytest.raises(ValueError, match=r"images\[1\]"):
        shipped([crops[0], np.zeros((0, 5, 3), np.uint8)])


def test_interpolated_grids_stay_close_to_the_exact_ones(shipped):
    """The default sampling grids (exact at nodes every 4 sub-samples, interpolated in
    between) against the exact TPS grids, in crop pixels; affine maps come out exact."""
    crops = _crops(64)
    t = shipped.predict_transforms(crops)
    sizes = frame_sizes(t, [c.shape[:2] for c in crops])
    dists = []
    for i, g in enumerate(interpolated_grid_transforms(t, sizes, sampling_ratios=1, stride=4)):
        approx, exact = g.grid(sizes[i], 1), t.select(slice(i, i + 1)).grid(sizes[i], 1)
        size = crops[i].shape[:2]
        dists.append((normalized_to_pixel(approx.double(), size) - normalized_to_pixel(exact.double(), size))
                     .norm(dim=-1).flatten())
    d = torch.cat(dists)
    # measured: mean 0.022 px, 99th percentile 0.17 px, max 0.51 px (next to control points)
    assert d.mean() < 0.04 and torch.quantile(d, 0.99) < 0.25 and d.max() < 0.8, (d.mean(), d.max())
    m = torch.tensor([[[0.9, 0.1, 0.05], [-0.2, 1.1, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    affine = MatrixTransform(m, affine=True)
    np.testing.assert_allclose(InterpolatedGridTransform(affine, 8).grid((37, 123), 2).numpy(),
                               affine.grid((37, 123), 2).numpy(), atol=1e-9)


def test_rectifier_file_round_trip_and_identity(tmp_path):
    """A fresh recognizer's rectifier is the identity; written and read back it stays one."""
    cfg = Config.fromfile(osp.join(REPO, "configs", "textrecog", "crnn-tps-warp_synthetic-words.py"))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / "fresh.pth"
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    cfg_path = osp.join(REPO, "configs", "textrecog", "crnn-tps-warp_synthetic-words.py")
    rect = TextRectifier(cfg_path, str(ckpt), out_size="crop")
    assert rect.name == "crnn-tps-warp_synthetic-words"
    crops = _crops(2)
    for crop, flat in zip(crops, rect(crops)):
        diff = np.abs(flat.astype(int) - crop.astype(int))
        assert diff.mean() < 3 and np.median(diff) == 0
    rect.save(str(tmp_path / "r.pt"), command="test")
    again = TextRectifier.from_pretrained(str(tmp_path / "r.pt"), out_size="crop")
    for a, b in zip(rect(crops), again(crops)):
        np.testing.assert_array_equal(a, b)
    assert again.spec["meta"]["command"] == "test"
    with pytest.raises(ValueError, match="not a rectifier file"):
        TextRectifier(None, str(ckpt))
    with pytest.raises(FileNotFoundError, match="tps-words"):
        TextRectifier.from_pretrained("no-such-rectifier")


def test_readme_example_runs_as_written(monkeypatch):
    """The README's short example (rectify, then read), run from the repository root on the word crops
    it names (shipped in docs/images/text_crops); tests/docs/test_readme.py runs every
    block, this checks what this one returns."""
    text = open(osp.join(REPO, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    code = next((b for b in blocks if "TextRectifier.from_pretrained" in b), None)
    assert code, "README has no TextRectifier example"
    assert len([line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]) <= 4
    files = re.findall(r"'([\w./-]+\.(?:png|jpg))'", code)
    assert files and all(osp.isfile(osp.join(REPO, f)) for f in files)
    monkeypatch.chdir(REPO)
    scope = {}
    exec(compile(code, "README example", "exec"), scope)
    outs = [v for v in scope.values() if isinstance(v, list)]
    assert outs and len(outs[0]) == len(files)
    assert all(o.dtype == np.uint8 and o.ndim == 3 and o.shape[2] == 3 for o in outs[0])
