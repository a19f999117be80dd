"""tools/rectify_text.py loses and mislabels nothing: distinct output names, every
image write checked, a non-empty --out-dir refused (--overwrite deletes the earlier
run's files only), labels read and checked before any crop is written, and one
``error:`` line for every bad input, malformed annotation files included."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.textrecog import rectify_cli

QUAD = "4,4,44,4,44,20,4,20"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _image(path, seed=0, size=(24, 48)):
    img = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)
    return path


def _run(argv):
    rectify_cli.main([*argv, "--no-progress"])


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_word_crops_sharing_a_stem_get_distinct_names(tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "a.jpg", 0)
    _image(crops / "a.png", 1)
    _image(crops / "b.png", 2)
    (crops / "labels.tsv").write_text("a.jpg\tjay\na.png\tpea\nb.png\tbee\n")
    out = tmp_path / "out"
    _run([str(crops), "--out-dir", str(out), "--labels", str(crops / "labels.tsv"), "--no-figures"])
    assert sorted(p.name for p in (out / "rectified").iterdir()) == ["a_jpg.png", "a_png.png", "b.png"]
    pairs = {e["img_path"]: e["instances"][0]["text"] for e in _json(out / "textrecog.json")["data_list"]}
    assert pairs == {"rectified/a_jpg.png": "jay", "rectified/a_png.png": "pea", "rectified/b.png": "bee"}


def _scene_set(tmp_path, entries):
    root = tmp_path / "images"
    data_list = []
    for i, rel in enumerate(entries):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        _image(root / rel, i, (40, 60))
        data_list.append({"img_path": rel, "instances": [
            {"polygon": [4, 4, 44, 4, 44, 20, 4, 20], "text": f"word{i}", "ignore": False}]})
    ann = tmp_path / "det.json"
    ann.write_text(json.dumps({"metainfo": {}, "data_list": data_list}))
    return root, ann


def test_mmocr_images_of_one_name_in_two_folders_keep_their_paths(tmp_path):
    root, ann = _scene_set(tmp_path, ["a/x.png", "b/x.png"])
    out = tmp_path / "out"
    _run([str(root), "--annotations", str(ann), "--format", "mmocr", "--out-dir", str(out)])
    data = _json(out / "textrecog.json")["data_list"]
    pairs = sorted((e["img_path"], e["instances"][0]["text"]) for e in data)
    assert pairs == [("rectified/a/x_000.png", "word0"), ("rectified/b/x_000.png", "word1")]
    assert all((out / p).is_file() for p, _ in pairs)
    assert (out / "figures" / "a" / "x_000.png").is_file() and (out / "figures" / "b" / "x_000.png").is_file()


def test_a_failed_image_write_is_an_error_naming_the_file(tmp_path, monkeypatch, error_line):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "w.png")
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(tmp_path / "out"), "--no-progress",
                                            "--no-figures"])
    assert "could not write" in message and "w.png" in message


def test_non_empty_out_dir_refused_and_overwrite_deletes_only_the_earlier_outputs(tmp_path, error_line):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "old.png", 0)
    out = tmp_path / "out"
    _run([str(crops), "--out-dir", str(out)])
    (out / "notes.txt").write_text("mine")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(out), "--no-progress"])
    assert "--out-dir" in message and str(out) in message and "--overwrite" in message
    (crops / "old.png").unlink()
    _image(crops / "new.png", 1)
    _run([str(crops), "--out-dir", str(out), "--overwrite"])
    assert [p.name for p in (out / "rectified").iterdir()] == ["new.png"]
    assert [p.name for p in (out / "figures").iterdir()] == ["new.png"]
    assert (out / "notes.txt").read_text() == "mine"


def test_labels_with_a_byte_order_mark_keep_the_first_label(tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "w0.png", 0)
    _image(crops / "w1.png", 1)
    labels = tmp_path / "labels.tsv"
    labels.write_bytes("\ufeffw0.png\tfirst\nw1.png\tsecond\n".encode("utf-8"))
    out = tmp_path / "out"
    _run([str(crops), "--out-dir", str(out), "--labels", str(labels), "--no-figures"])
    texts = {e["img_path"]: e["instances"][0]["text"] for e in _json(out / "textrecog.json")["data_list"]}
    assert texts == {"rectified/w0.png": "first", "rectified/w1.png": "second"}
    # the JSON form with a byte-order mark too
    doc = {"data_list": [{"img_path": "x/w0.png", "instances": [{"text": "first"}]}]}
    labels_json = tmp_path / "labels.json"
    labels_json.write_bytes(("\ufeff" + json.dumps(doc)).encode("utf-8"))
    assert rectify_cli.read_labels(str(labels_json)) == {"w0.png": "first"}


def test_labels_are_checked_before_any_crop_is_written(tmp_path, error_line):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "w0.png")
    out = tmp_path / "out"
    bad = tmp_path / "bad.tsv"
    bad.write_text("w0.png\tok\nno tab here\n")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(out), "--labels", str(bad), "--no-progress"])
    assert f"{bad}:2: expected 'name<TAB>text'" in message
    assert not out.exists()
    other = tmp_path / "other.tsv"
    other.write_text("z0.png\tnone of mine\n")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(out), "--labels", str(other), "--no-progress"])
    assert "names none of the 1 input images" in message and "'w0.png'" in message
    assert not out.exists()
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps({"data_list": [{"img_path": "a/w0.png", "instances": [{"text": "one"}]},
                                               {"img_path": "b/w0.png", "instances": [{"text": "two"}]}]}))
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(out), "--labels", str(clash), "--no-progress"])
    assert "data_list[1]" in message and "'two'" in message and "'one'" in message
    assert not out.exists()


@pytest.mark.parametrize("option,value", [("--batch-size", "0"), ("--out-height", "0"), ("--max-images", "-1"),
                                          ("--threads", "0"), ("--batch-size", "x")])
def test_bad_numbers_are_usage_errors(tmp_path, usage_error_line, option, value):
    line = usage_error_line(rectify_cli.main, [str(tmp_path), option, value])
    assert option in line and value in line


def test_unknown_rectifier_and_unwritable_out_dir(tmp_path, error_line):
    crops = tmp_path / "crops"
    crops.mkdir()
    _image(crops / "w0.png")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(tmp_path / "out"), "--rectifier", "no-such",
                                            "--no-progress"])
    assert "no shipped rectifier named 'no-such'" in message
    corrupt = tmp_path / "r.pth"
    corrupt.write_bytes(b"not a rectifier")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(tmp_path / "out"), "--rectifier",
                                            str(corrupt), "--no-progress"])
    assert f"--rectifier {corrupt}" in message and "cannot be loaded" in message
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(blocker / "sub"), "--no-progress"])
    assert "a_file" in message
    message = error_line(rectify_cli.main, [str(crops), "--out-dir", str(blocker), "--no-progress"])
    assert "a_file" in message and "not a folder" in message


# (format, annotation file, content, what the error line must name)
MALFORMED = [
    ("icdar2015", "gt_img_1.txt", "1,2,3\n", "gt_img_1.txt:1: expected 'x1,y1"),
    ("icdar2015", "gt_img_1.txt", f"{QUAD},ok\n1,2,x,4,5,6,7,8,w\n", "gt_img_1.txt:2: expected numbers"),
    ("icdar2015", "gt_img_1.txt", f"{QUAD},12,13\n", "gt_img_1.txt:1: expected 8 coordinates"),
    ("icdar2015", "gt_img_1.txt", b"4,4,44,4,44,20,4,20,caf\xe9\n", "gt_img_1.txt:1: not UTF-8"),
    ("icdar2015", "gt_img_1.txt", f"{QUAD},nan\n1,2,3,4,5,6,7,inf,w\n", "gt_img_1.txt:2: expected finite"),
    ("totaltext", "poly_gt_img_1.txt", "garbage\n", "poly_gt_img_1.txt:1: expected 'x: [[...]]"),
    ("totaltext", "poly_gt_img_1.txt", "x: [[1 2 3]], y: [[1 2]], ornt: [u'h'], transcriptions: [u'a']\n",
     "poly_gt_img_1.txt:1: expected as many x as y"),
    ("totaltext", "poly_gt_img_1.txt", "x: [[1 a 3]], y: [[1 2 5]], ornt: [u'h'], transcriptions: [u'a']\n",
     "poly_gt_img_1.txt:1: expected numbers"),
    ("totaltext", "poly_gt_img_1.txt", "x: [[4 44 44 4]], y: [[4 4 20 20]], transcriptions: [u'a'] "
     "x: [[4 44 44 4]], y: [[4 4 20 20]], transcriptions: [u'b']\n", "poly_gt_img_1.txt:1: 2 records on one line"),
    ("totaltext", "poly_gt_img_1.txt", b"x: [[4 44 44 4]], y: [[4 4 20 20]], transcriptions: [u'\xff']\n",
     "poly_gt_img_1.txt:1: not UTF-8"),
    ("ctw1500", "img_1.txt", "1,2,3,4,5\n", "img_1.txt:1: expected 'x1,y1,...,xn,yn,####text'"),
    ("ctw1500", "img_1.txt", "1,2,3,4,5,6,7,####odd\n", "img_1.txt:1: expected 'x1,y1,...,xn,yn,####text'"),
    ("ctw1500", "img_1.txt", ",".join(str(v) for v in range(100, 132)) + "\n", "img_1.txt:1: 32 numbers without"),
    ("ctw1500", "img_1.xml", "<Annotations><box><segs>1,2</segs>\n</Annotations>", "img_1.xml:2: not well-formed"),
    ("ctw1500", "img_1.xml", "<Annotations><box><segs>4,4,44,4,44,20,4</segs></box></Annotations>",
     "img_1.xml: box 0 <segs>: expected an even number"),
    ("ctw1500", "img_1.xml", "<Annotations><box><label>a</label></box></Annotations>",
     "img_1.xml: box 0 has no <segs>"),
    ("mmocr", "det.json", '{"data_list": [\n{"img_path": "img_1.png",}]}', "det.json:2: not JSON"),
    ("mmocr", "det.json", json.dumps({"data_list": [{"img_path": "img_1.png", "instances": [
        {"polygon": [4, 4, 44, 4, 44, 20, 4]}]}]}), "det.json: data_list[0].instances[0].polygon: expected an even"),
]


@pytest.mark.parametrize("fmt,name,content,expected", MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_annotation_files_end_with_one_error_line(tmp_path, error_line, fmt, name, content, expected):
    images = tmp_path / "images"
    images.mkdir()
    _image(images / "img_1.png", 0, (40, 60))
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    ann = gt / name if fmt == "mmocr" else gt
    out = tmp_path / "out"
    message = error_line(rectify_cli.main, [str(images), "--annotations", str(ann), "--format", fmt,
                                            "--out-dir", str(out), "--no-progress"])
    assert expected in message, message
    assert str(gt / name) in message
    assert not out.exists()


def test_labels_with_annotations_are_a_usage_error_not_ignored(tmp_path, usage_error_line):
    line = usage_error_line(rectify_cli.main, [str(tmp_path), "--annotations", str(tmp_path), "--format",
                                               "icdar2015", "--labels", str(tmp_path / "l.tsv")])
    assert "--labels applies to word crops" in line
