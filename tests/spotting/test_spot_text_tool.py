"""tools/spot_text.py: polygons and readings drawn per image, results.json, and no
overwriting of a folder that holds a user's files."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.spotting.inference import draw_words
from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "spotting" / "faster-rcnn_r18_fpn_tps-crnn_word-scenes.py"


def _tool():
    spec = importlib.util.spec_from_file_location("spot_text", REPO / "tools" / "spot_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    opts = WordSceneOptions(size_range=(96, 128), font_size=(12, 18))
    root = generate_word_scenes(tmp_path_factory.mktemp("spot_tool") / "ws", 1, 1, seed=5, options=opts,
                                progress=False)
    folder = Path(root) / "val"
    if not folder.is_dir():
        folder = next(p for p in Path(root).rglob("*.png")).parent
    return folder


def test_writes_drawings_and_json_of_every_image(images, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "out"
    results = _tool().main([str(CONFIG), "none", str(images), "--score-thr", "0", "--out-dir", str(out)])
    files = sorted(p.name for p in images.iterdir() if p.suffix == ".png")
    assert sorted(results) == files and files
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    for name, words in saved.items():
        image = cv2.imread(str(images / name))
        h, w = image.shape[:2]
        assert (out / "vis" / name).is_file()
        assert words, "with --score-thr 0 an untrained spotter still returns its detections"
        for word in words:
            x1, y1, x2, y2 = word["bbox"]
            assert -1 <= x1 <= x2 <= w + 1 and -1 <= y1 <= y2 <= h + 1
            poly = np.asarray(word["polygon"])
            assert poly.shape == (14, 2)
            # an untrained rectifier is the identity: its polygon outlines the box
            np.testing.assert_allclose(poly.min(0), [x1, y1], atol=0.02)
            np.testing.assert_allclose(poly.max(0), [x2, y2], atol=0.02)
            assert isinstance(word["text"], str) and 0 <= word["score"] <= 1
        scores = [wd["score"] for wd in words]
        assert scores == sorted(scores, reverse=True)


def test_refuses_a_non_empty_output_folder(images, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(SystemExit, match="exists and is not empty"):
        _tool().main([str(CONFIG), "none", str(images), "--out-dir", str(out)])
    assert (out / "keep.txt").read_text() == "user data" and not (out / "vis").exists()


def test_draw_words_marks_the_polygon_and_leaves_the_input_alone():
    image = np.zeros((60, 120, 3), np.uint8)
    word = {"polygon": [[10, 10], [110, 10], [110, 50], [10, 50]], "text": "abc"}
    drawn = draw_words(image, [word])
    assert not image.any() and drawn.shape == image.shape
    assert drawn[30, 9:11].any() and not drawn[30, 60].any()  # the left edge drawn, the inside empty


def test_images_sharing_a_stem_get_distinct_drawings_and_overwrite_deletes_the_earlier_ones(images, tmp_path):
    source = next(p for p in sorted(images.iterdir()) if p.suffix == ".png")
    folder = tmp_path / "in"
    folder.mkdir()
    image = cv2.imread(str(source))
    cv2.imwrite(str(folder / "a.png"), image)
    cv2.imwrite(str(folder / "a.jpg"), image)
    out = tmp_path / "out"
    (out / "vis").mkdir(parents=True)
    (out / "vis" / "stale.png").write_bytes(b"an earlier run's drawing")
    (out / "mine.txt").write_text("user data")
    torch.manual_seed(0)
    results = _tool().main([str(CONFIG), "none", str(folder), "--score-thr", "0", "--out-dir", str(out),
                            "--overwrite"])
    assert sorted(results) == ["a.jpg", "a.png"]
    assert sorted(p.name for p in (out / "vis").iterdir()) == ["a_jpg.png", "a_png.png"]
    assert (out / "mine.txt").read_text() == "user data"


def test_a_failed_drawing_write_is_one_error_line(images, tmp_path, monkeypatch, error_line):
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    message = error_line(_tool().main, [str(CONFIG), "none", str(images), "--out-dir", str(tmp_path / "out")])
    assert message.startswith("error: could not write") and str(tmp_path / "out" / "vis") in message


@pytest.mark.parametrize("argv,expected", [
    (["--score-thr", "nan"], "--score-thr"), (["--score-thr", "2"], "--score-thr"),
])
def test_bad_arguments_are_usage_errors(images, tmp_path, usage_error_line, argv, expected):
    assert expected in usage_error_line(_tool().main, [str(CONFIG), "none", str(images), "--out-dir",
                                                       str(tmp_path / "o"), *argv])


@pytest.mark.parametrize("config,checkpoint,expected", [
    ("missing.py", "none", "config file not found: missing.py"),
    (str(CONFIG), "missing.pth", "checkpoint not found: missing.pth"),
])
def test_missing_files_are_one_error_line(images, tmp_path, error_line, config, checkpoint, expected):
    assert error_line(_tool().main, [config, checkpoint, str(images), "--out-dir", str(tmp_path / "o")]) == \
        f"error: {expected}"
    assert not (tmp_path / "o").exists()


def test_refuses_another_models_checkpoint(images, tmp_path):
    from stn_plugin.apis import init_model

    other = init_model(REPO / "configs" / "mnist" / "cnn_rts.py")
    checkpoint = tmp_path / "cnn.pth"
    torch.save(dict(state_dict=other.state_dict()), checkpoint)
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"error: checkpoint .*cnn\.pth does not fit the TextSpotter .*missing keys"):
        _tool().main([str(CONFIG), str(checkpoint), str(images), "--out-dir", str(out)])
    assert not out.exists()
