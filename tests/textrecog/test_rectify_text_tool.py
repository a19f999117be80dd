"""tools/rectify_text.py: a folder of crops with the shipped rectifier (no config or
checkpoint), corrupt files skipped, scene images + annotations, and the recognizer mode."""
import csv
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.textrecog.rectify import tesseract_available
from stn_plugin.textrecog.synthetic_words import make_sample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    """The logic behind tools/rectify_text.py (the script is a thin wrapper)."""
    from stn_plugin.textrecog import rectify_cli
    return rectify_cli


def _tsv(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture
def crops_dir(tmp_path):
    d = tmp_path / "crops"
    d.mkdir()
    words = {}
    for i in range(4):
        img, word = make_sample(1, i, distortions=("curve", "arc", "perspective"))[:2]
        cv2.imwrite(str(d / f"w{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        words[f"w{i}.png"] = word
    (d / "empty.png").write_bytes(b"")                  # zero bytes
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")  # not a JPEG
    (d / "labels.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in words.items()))
    return d


def test_crops_folder_with_the_shipped_rectifier(crops_dir, tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="unreadable"):
        _tool().main([str(crops_dir), "--out-dir", str(out), "--labels", str(crops_dir / "labels.tsv"),
                      "--no-progress", "--device", "cpu"])
    log = capsys.readouterr().out
    assert "skipped 2 unreadable image file(s)" in log and "text-lines" in log  # the default shipped one
    names = sorted(p.name for p in (out / "rectified").iterdir())
    assert names == [f"w{i}.png" for i in range(4)]
    assert sorted(p.name for p in (out / "figures").iterdir()) == names
    rows = _tsv(out / "predictions.tsv")
    assert [r["name"] for r in rows] == names and all(r["label"] for r in rows)
    doc = json.load(open(out / "textrecog.json"))
    assert doc["metainfo"]["task_name"] == "textrecog" and len(doc["data_list"]) == 4
    assert all(osp.isfile(out / e["img_path"]) for e in doc["data_list"])

    # the same with Tesseract (only this part needs it)
    if not tesseract_available():
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng): "
                    "--ocr tesseract not run; the rest of this test ran")
    out2 = tmp_path / "out_ocr"
    with pytest.warns(UserWarning, match="unreadable"):
        _tool().main([str(crops_dir), "--ocr", "tesseract", "--out-dir", str(out2), "--no-progress",
                      "--labels", str(crops_dir / "labels.tsv")])
    rows = _tsv(out2 / "predictions.tsv")
    assert "tesseract_raw" in rows[0] and "tesseract" in rows[0]
    scores = json.load(open(out2 / "scores.json"))
    assert set(scores) == {"tesseract_raw", "tesseract"}
    fig = cv2.imread(str(out2 / "figures" / "w0.png"))
    assert fig is not None and fig.shape[0] == 96 + 22


def test_scene_images_with_annotations(tmp_path, capsys):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 220, 3), dtype=np.uint8)
    cv2.putText(img, "open", (40, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    cv2.imwrite(str(scenes / "img_1.jpg"), img)
    (scenes / "img_2.jpg").write_bytes(b"")  # unreadable: warned, counted, the run goes on
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "gt_img_1.txt").write_text("36,40,150,40,150,80,36,80,open\n"
                                     "0,0,20,10,20,0,0,10,bowtie\n"
                                     "10,90,60,90,60,110,10,110,###\n", encoding="utf-8")
    (gt / "gt_img_2.txt").write_text("1,1,10,1,10,5,1,5,x\n")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="unreadable"):
        _tool().main([str(scenes), "--annotations", str(gt), "--format", "icdar2015", "--out-dir", str(out),
                      "--no-progress"])
    captured = capsys.readouterr()
    assert "skipped 1 degenerate region(s)" in captured.out and "skipped 1 unreadable" in captured.out
    assert "gt_img_1.txt:2" in captured.err and "intersects itself" in captured.err
    assert sorted(p.name for p in (out / "rectified").iterdir()) == ["img_1_000.png"]   # ### left out
    crop = cv2.imread(str(out / "rectified" / "img_1_000.png"))
    assert crop.shape == (40, 114, 3)
    doc = json.load(open(out / "textrecog.json"))
    assert [e["instances"][0]["text"] for e in doc["data_list"]] == ["open"]
    assert doc["data_list"][0]["region"] == "gt_img_1.txt:1"
    # with the learned refinement too
    out2 = tmp_path / "out_refined"
    with pytest.warns(UserWarning):
        _tool().main([str(scenes), "--annotations", str(gt), "--format", "icdar2015", "--out-dir", str(out2),
                      "--no-progress", "--refine", "--no-figures"])
    assert (out2 / "rectified" / "img_1_000.png").is_file() and not (out2 / "figures").exists()


def test_recognizer_mode_keeps_working(crops_dir, tmp_path, capsys):
    """CONFIG CHECKPOINT CROPS (the original use) with the model's name in the captions."""
    from mmengine.config import Config
    from mmdet.registry import MODELS
    cfg_path = osp.join(REPO, "configs", "textrecog", "crnn-tps_synthetic-words.py")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    ckpt = tmp_path / "fresh.pth"
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="unreadable"):
        _tool().main([cfg_path, str(ckpt), str(crops_dir), "--out-dir", str(out), "--no-progress",
                      "--max-images", "6"])
    rows = _tsv(out / "predictions.tsv")
    assert len(rows) == 4 and "recognizer" in rows[0]
    assert "crnn-tps_synthetic-words" in capsys.readouterr().out


def test_argument_errors():
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.parse_args(["a", "b"])             # 2 positionals: neither form
    with pytest.raises(SystemExit):
        tool.parse_args(["scenes", "--annotations", "gt"])   # no --format


def test_crops_read_by_pp_ocr_and_a_missing_cuda_device(crops_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="error: --device cuda: CUDA is not available on this machine"):
        _tool().main([str(crops_dir), "--device", "cuda", "--out-dir", str(tmp_path / "cuda"), "--no-progress"])
    assert not (tmp_path / "cuda").exists()
    from stn_plugin.rectify.ocr_engines import rapidocr_available
    if not rapidocr_available():
        pytest.skip("rapidocr_onnxruntime is not installed (pip install 'stn_plugin[ocr]'; the set-up installs it): "
                    "--ocr rapidocr not run; the --device check ran")
    torch.set_num_threads(1)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="unreadable"):
        _tool().main([str(crops_dir), "--ocr", "rapidocr", "--out-dir", str(out), "--no-progress", "--threads", "1",
                      "--labels", str(crops_dir / "labels.tsv"), "--no-figures"])
    rows = _tsv(out / "predictions.tsv")
    assert "rapidocr_raw" in rows[0] and "rapidocr" in rows[0] and "tesseract" not in rows[0]
    assert set(json.load(open(out / "scores.json"))) == {"rapidocr_raw", "rapidocr"}
    assert all(e["rapidocr"] is not None for e in json.load(open(out / "textrecog.json"))["data_list"])
