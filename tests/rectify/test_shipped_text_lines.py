"""The shipped line-and-word rectifier (``text-lines``): it loads and scores what its
record says, its ONNX file agrees with it, flat text stays flat and keeps its ends,
and a 30:1 line keeps its ends. Plain PyTorch: no OpenMMLab import."""
from __future__ import annotations

import json
import os.path as osp

import numpy as np
import pytest
import torch

from stn_plugin.datasets.text_crops import FLAT_KINDS, crop_style, make_text_crop
from stn_plugin.datasets.text_rendering import TEXT_HELD_OUT_FAMILIES, find_font_families, flat_word, load_font
from stn_plugin.rectify import TextRectifier
from stn_plugin.rectify.rectifier_file import DEFAULT_RECTIFIER, PRETRAINED, PRETRAINED_DIR

NAME = "text-lines"
RECORD = osp.join(PRETRAINED_DIR, "text-lines.json")


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return TextRectifier.from_pretrained(NAME)


def _outline(detail, rows):
    """The predicted top and bottom edges in index pixel coordinates, ``(2, n, 2)``."""
    n = detail.control_points.shape[0] // rows
    return np.stack([detail.control_points[:n], detail.control_points[-n:]]) - 0.5


def test_shipped_by_default_small_and_recorded():
    assert DEFAULT_RECTIFIER == NAME
    path = osp.join(PRETRAINED_DIR, PRETRAINED[NAME])
    record = json.load(open(RECORD))
    assert record["bytes"] == osp.getsize(path) < 3_000_000
    for key in ("command", "config", "data", "data_seed", "iterations", "train_minutes", "train_machine"):
        assert record["meta"].get(key), key


def test_shipped_rectifier_gives_its_recorded_scores(shipped):
    from stn_plugin.textrecog.rectifier_scores import outline_scores

    record = json.load(open(RECORD))["held_out_outline"]
    scores = outline_scores(shipped, seed=record["seed"], num=record["num"])
    for key in ("error", "end_error", "flat_acc"):
        assert scores[key] == pytest.approx(record[key], abs=2e-3), key


def test_shipped_onnx_file_agrees(shipped):
    from stn_plugin.deployment.onnx_text_rectifier import OnnxTextRectifier

    style = crop_style("held_out")
    crops = [make_text_crop(3, i, fonts=style.fonts, photos=style.photos).image for i in range(6)]
    runtime = OnnxTextRectifier.from_pretrained(NAME)
    top, bottom, flatness = runtime.predict_outlines(crops)
    details = shipped(crops, return_details=True)
    for i, d in enumerate(details):
        crop_wh = np.array([crops[i].shape[1], crops[i].shape[0]])
        ours = _outline(d, shipped.module.rows)
        theirs = (np.stack([top[i], bottom[i]]) + 1) / 2 * crop_wh - 0.5
        np.testing.assert_allclose(theirs, ours, atol=0.02)  # pixels
        assert flatness[i] == pytest.approx(d.flatness, abs=1e-4)
    with pytest.raises(FileNotFoundError, match="text-lines"):
        OnnxTextRectifier.from_pretrained("no-such-rectifier")


def test_flat_text_comes_back_flat_with_its_ends(shipped):
    """Held-out flat words and lines: the predicted outline is not sheared (its matched
    top and bottom points lie above one another) and its ends are the text's ends."""
    style = crop_style("held_out")
    samples = [make_text_crop(11, i, FLAT_KINDS, style.fonts, style.photos) for i in range(24)]
    details = shipped([s.image for s in samples], return_details=True)
    shear, end_error = [], []
    for s, d in zip(samples, details):
        top, bottom = _outline(d, shipped.module.rows)
        height = float(np.linalg.norm(s.bottom - s.top, axis=1).mean())
        shear.append(abs(float(np.mean(bottom[:, 0] - top[:, 0]))) / height)   # tan of the lean
        ends = np.concatenate([top[[0, -1]], bottom[[0, -1]]])
        truth = np.concatenate([s.top[[0, -1]], s.bottom[[0, -1]]])
        end_error.append(float(np.linalg.norm(ends - truth, axis=1).max()) / height)
    assert np.median(shear) < 0.08 and np.max(shear) < 0.25, shear
    assert np.median(end_error) < 0.35 and np.mean(np.array(end_error) < 0.6) >= 0.85, end_error
    assert np.mean([d.flatness > 0.5 for d in details]) >= 0.75


def test_a_30_to_1_line_keeps_its_ends(shipped):
    font = load_font(find_font_families(TEXT_HELD_OUT_FAMILIES)["Liberation"][0], 28)
    mask, (left, top, right, bottom) = flat_word("seven quiet rivers carry cold water past the old mill near the green valley every spring", font)
    h, w = mask.shape
    ink = 1 - mask[..., None]
    crop = np.clip(ink * 235 + 10, 0, 255).astype(np.uint8).repeat(3, 2)
    y0, y1 = int(top) - 2, int(np.ceil(bottom)) + 3
    crop = np.ascontiguousarray(crop[max(y0, 0):min(y1, h), max(int(left) - 4, 0):min(int(np.ceil(right)) + 5, w)])
    assert crop.shape[1] / crop.shape[0] > 25
    d = shipped(crop, return_details=True)
    pred_top, pred_bottom = _outline(d, shipped.module.rows)
    text_h = bottom - top
    x_left, x_right = left - max(int(left) - 4, 0), right - max(int(left) - 4, 0)
    for edge in (pred_top, pred_bottom):
        assert abs(edge[0, 0] - x_left) < 0.5 * text_h and abs(edge[-1, 0] - x_right) < 0.5 * text_h
    assert abs(d.image.shape[1] - (right - left)) < 0.1 * (right - left)
