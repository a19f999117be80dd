"""Word scenes: the annotations match the pixels, the set is deterministic, the tool
refuses to overwrite."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from stn_plugin.spotting.word_scenes import (DONT_CARE_TEXT, WORD_SCENE_PRESETS, WordSceneOptions, coco_annotation,
                                             generate_word_scenes, render_word_layer, render_word_scene,
                                             word_scene_options)
from stn_plugin.datasets.text_rendering import find_training_fonts
from stn_plugin.textrecog.text_regions import check_region, split_top_bottom

REPO = Path(__file__).resolve().parents[2]
SCENES = [(0, i) for i in range(4)] + [(7, 0), (7, 1)]
# every word a don't-care word half of the time, so both kinds are checked
OPTIONS = WordSceneOptions(dont_care_prob=0.3)


def _coco_mask(ann: dict, h: int, w: int) -> np.ndarray:
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], h, w))).astype(bool)


def _font_path(name: str) -> str:
    return next(f for f in find_training_fonts() if f.endswith("/" + name))


@pytest.fixture(scope="module")
def scenes():
    return [render_word_scene(seed, i, "train", OPTIONS, degrade=False) for seed, i in SCENES]


def test_polygons_hold_their_ink_and_outside_them_the_scene_is_the_background(scenes):
    kinds = set()
    for scene in scenes:
        image, background = scene["image"], scene["background"]
        h, w = image.shape[:2]
        assert scene["words"], "every scene holds words"
        union = np.zeros((h, w), bool)
        for k, word in enumerate(scene["words"]):
            ann = coco_annotation(word)
            region = _coco_mask(ann, h, w)   # as mmdet / pycocotools rasterise the polygon
            x0, y0 = word.origin
            ink = np.zeros((h, w), bool)
            ink[y0:y0 + word.alpha.shape[0], x0:x0 + word.alpha.shape[1]] = word.alpha > 0.02
            assert ink.any()
            assert not (ink & ~region).any(), f"ink of {word.text!r} outside its polygon"
            union |= region
            kinds.add((word.render["distortion"], word.ignore))
        changed = (image != background).any(-1)
        assert changed.any() and not (changed & ~union).any()
    assert {d for d, _ in kinds} == {"none", "rotate", "perspective", "curve", "arc"}
    assert {i for _, i in kinds} == {True, False}


def test_transcriptions_are_what_was_rendered(scenes):
    fonts = {}
    for scene in scenes:
        image, background = scene["image"].astype(np.float32), scene["background"].astype(np.float32)
        for word in scene["words"]:
            r = word.render
            assert word.text == (DONT_CARE_TEXT if word.ignore else r["word"])
            path = fonts.setdefault(r["font"], _font_path(r["font"]))

            def residual(text):
                layer = render_word_layer(text, path, r["font_size"], r["distortion"],
                                          np.random.default_rng(r["seed"]), OPTIONS.margin)
                if layer.alpha.shape != word.alpha.shape:
                    return np.inf
                x0, y0 = r["origin"]
                sl = np.s_[y0:y0 + layer.alpha.shape[0], x0:x0 + layer.alpha.shape[1]]
                a = layer.alpha[..., None]
                expected = np.round(background[sl] * (1 - a) + np.array(r["colour"], np.float32) * a)
                ink = layer.alpha > 0
                return float(np.abs(expected - image[sl])[ink].max())

            assert residual(r["word"]) == 0.0
            # the check can fail: another word drawn with the same font, size and warp is not it
            assert residual(r["word"] + "x") > 20 and residual(r["word"][::-1] + "q") > 20


def test_polygons_follow_the_readers_convention(scenes):
    for scene in scenes:
        h, w = scene["image"].shape[:2]
        for word in scene["words"]:
            pts = word.polygon - 0.5                   # the readers' index coordinates
            check_region(pts, (h, w), word.text)       # simple, clockwise, inside the image
            n = 4 if word.render["distortion"] in ("none", "rotate", "perspective") else 16
            assert len(pts) == n
            top, bottom = split_top_bottom(pts)
            if word.render["distortion"] == "none":    # nearly level: the top edge runs left to right, above
                assert top[-1, 0] > top[0, 0] and top[:, 1].mean() < bottom[:, 1].mean()
            x1, y1, x2, y2 = word.bbox
            assert np.allclose([x1, y1, x2, y2], [*word.polygon.min(0), *word.polygon.max(0)])


def test_scenes_are_deterministic_and_of_the_requested_size():
    a = render_word_scene(3, 5, "val")
    b = render_word_scene(3, 5, "val")
    assert np.array_equal(a["image"], b["image"])
    assert [w.text for w in a["words"]] == [w.text for w in b["words"]]
    assert all(np.array_equal(p.polygon, q.polygon) for p, q in zip(a["words"], b["words"]))
    assert not np.array_equal(render_word_scene(3, 5, "train")["image"].shape, a["image"].shape) or \
        not np.array_equal(render_word_scene(3, 5, "train")["image"], a["image"])
    for i in range(3):
        img = render_word_scene(1, i, options=WordSceneOptions(size_range=(64, 80), font_size=(10, 14)))["image"]
        assert 64 <= img.shape[0] <= 80 and 64 <= img.shape[1] <= 80 and img.dtype == np.uint8


def test_the_curved_preset_draws_mostly_curved_and_arc_words():
    opts = word_scene_options("curved", size_range=(96, 128), font_size=(10, 14), num_words=(3, 4),
                              dont_care_prob=0.0, num_clutter=(0, 0))
    assert opts.size_range == (96, 128) and WORD_SCENE_PRESETS["curved"].size_range == (256, 320)
    kinds = [w.render["distortion"] for i in range(12) for w in render_word_scene(0, i, options=opts)["words"]]
    curved = sum(k in ("curve", "arc") for k in kinds) / len(kinds)
    assert len(kinds) >= 30 and curved >= 0.65       # 0.8 expected
    assert all(len(w.polygon) == 16 for i in range(2) for w in render_word_scene(0, i, options=opts)["words"]
               if w.render["distortion"] in ("curve", "arc"))
    # the default mix keeps its uniform draw: the same scenes as before weights existed
    default = render_word_scene(0, 0, options=word_scene_options("default"))
    assert np.array_equal(default["image"], render_word_scene(0, 0)["image"])
    with pytest.raises(KeyError, match="curved"):
        word_scene_options("twisty")


def test_bad_options_name_the_field():
    with pytest.raises(ValueError, match="distortion_weights"):
        WordSceneOptions(distortions=("curve", "arc"), distortion_weights=(1.0,))
    with pytest.raises(ValueError, match="distortion_weights"):
        WordSceneOptions(distortions=("curve", "arc"), distortion_weights=(1.0, -1.0))
    with pytest.raises(ValueError, match="num_words"):
        WordSceneOptions(num_words=(3, 1))
    with pytest.raises(ValueError, match="distortions"):
        WordSceneOptions(distortions=("wobble",))
    with pytest.raises(ValueError, match="split"):
        render_word_scene(0, 0, "test")


def test_written_set_is_coco_and_reproducible(tmp_path):
    a = generate_word_scenes(tmp_path / "a", 3, 2, seed=4, progress=False)
    b = generate_word_scenes(tmp_path / "b", 3, 2, seed=4, progress=False)
    for split, count in (("train", 3), ("val", 2)):
        text = (a / "annotations" / f"{split}.json").read_text()
        assert text == (b / "annotations" / f"{split}.json").read_text()
        coco = json.loads(text)
        assert len(coco["images"]) == count and coco["categories"] == [{"id": 1, "name": "text"}]
        for im in coco["images"]:
            png = (a / split / im["file_name"]).read_bytes()
            assert png == (b / split / im["file_name"]).read_bytes()
            assert cv2.imread(str(a / split / im["file_name"])).shape[:2] == (im["height"], im["width"])
        for ann in coco["annotations"]:
            assert ann["iscrowd"] == int(ann["text"] == DONT_CARE_TEXT)
            x, y, w, h = ann["bbox"]
            poly = np.reshape(ann["segmentation"][0], (-1, 2))
            assert np.allclose([x, y, x + w, y + h], [*poly.min(0), *poly.max(0)], atol=2e-3)
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_word_scenes(a, 1, 1, progress=False)
    generate_word_scenes(a, 1, 1, seed=4, overwrite=True, progress=False)
    assert len(json.loads((a / "annotations" / "train.json").read_text())["images"]) == 1


def test_mmdet_coco_dataset_reads_the_set_with_dont_care_words_ignored(tmp_path):
    from mmdet.datasets import CocoDataset

    root = generate_word_scenes(tmp_path / "ws", 4, 1, seed=2, options=OPTIONS, progress=False)
    ds = CocoDataset(data_root=str(root), ann_file="annotations/train.json", data_prefix=dict(img="train/"),
                     metainfo=dict(classes=("text",)), filter_cfg=None, pipeline=[], test_mode=True)
    coco = json.loads((root / "annotations" / "train.json").read_text())
    instances = [inst for i in range(len(ds)) for inst in ds.get_data_info(i)["instances"]]
    assert len(instances) == len(coco["annotations"])
    assert [inst["ignore_flag"] for inst in instances] == [a["iscrowd"] for a in coco["annotations"]]


def test_tool_writes_and_refuses_to_overwrite(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("_make_word_scenes", REPO / "tools/dataset/make_word_scenes.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "ws"
    tool.main([str(out), "--num-train", "2", "--num-val", "1"])
    assert "[word scenes] train: 2 images" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "train").iterdir()) == ["000000.png", "000001.png"]
    before = (out / "annotations" / "train.json").read_text()
    # as a user runs it: one line on stderr, no traceback, nothing replaced
    proc = subprocess.run([sys.executable, "tools/dataset/make_word_scenes.py", str(out), "--num-train", "1",
                           "--num-val", "1", "--seed", "9"], cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:") and "--overwrite" in lines[0]
    assert (out / "annotations" / "train.json").read_text() == before
