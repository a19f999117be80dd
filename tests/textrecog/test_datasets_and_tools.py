"""Text recognition data: synthetic generator, mmocr JSON and LMDB loaders, the
resize pipeline, an end-to-end Runner step, rectification drawing and Tesseract."""
import json
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest

import stn_plugin.textrecog  # noqa: F401  (registers)
from mmengine.config import Config
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from stn_plugin.textrecog.synthetic_words import DISTORTIONS, generate_synthetic_words, make_sample
from stn_plugin.textrecog.text_formats import write_lmdb_dataset, write_textrecog_json

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, "configs", "textrecog")
init_default_scope("mmdet")  # pipelines resolve transform names in mmdet's scope, as configs do
PIPELINE = [dict(type="LoadTextCrop"), dict(type="ResizeTextCrop", scale=(32, 100)), dict(type="PackTextRecogInputs")]


def _crop(h, w, value):
    img = np.full((h, w, 3), value, np.uint8)
    cv2.putText(img, "ab", (2, h - 4), cv2.FONT_HERSHEY_SIMPLEX, h / 40, (255 - value,) * 3, 1)
    return img


# -- synthetic generator -------------------------------------------------------------
def test_generator_is_deterministic_for_a_seed():
    for i, d in enumerate(DISTORTIONS):
        a, wa, da, _ = make_sample(7, i, distortions=(d,))
        b, wb, db, _ = make_sample(7, i, distortions=(d,))
        assert wa == wb and da == db == d
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and 20 <= a.shape[0] <= 64
    c = make_sample(8, 0).image
    a = make_sample(7, 0).image
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_generate_writes_mmocr_layout_identically(tmp_path):
    seen = []
    ann1 = generate_synthetic_words(str(tmp_path / "a"), 6, seed=3, split="test", progress=lambda d, n: seen.append(d))
    ann2 = generate_synthetic_words(str(tmp_path / "b"), 6, seed=3, split="test", workers=2, progress=False)
    assert seen[-1] == 6
    doc1, doc2 = json.load(open(ann1)), json.load(open(ann2))
    assert doc1 == doc2 and doc1["metainfo"]["task_name"] == "textrecog" and len(doc1["data_list"]) == 6
    for entry in doc1["data_list"]:
        assert entry["instances"][0]["text"]
        f1, f2 = tmp_path / "a" / entry["img_path"], tmp_path / "b" / entry["img_path"]
        assert f1.read_bytes() == f2.read_bytes()
    with pytest.raises(ValueError, match="distortions"):
        generate_synthetic_words(str(tmp_path / "c"), 2, distortions=("swirl",))


# -- loaders ---------------------------------------------------------------------------
def test_mmocr_json_loader_resizes_any_crop(tmp_path):
    sizes = [(32, 100), (17, 41), (80, 300)]   # other sizes than the model's input
    items = []
    for i, (h, w) in enumerate(sizes):
        rel = f"imgs/{i}.jpg"
        (tmp_path / "imgs").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), _crop(h, w, 40 * i))
        items.append(dict(img_path=rel, text=["Hello", "w0rld", "x"][i]))
    write_textrecog_json(str(tmp_path / "textrecog_test.json"), items)
    ds = DATASETS.build(dict(type="TextRecogJSONDataset", data_root=str(tmp_path), ann_file="textrecog_test.json",
                             data_prefix=dict(img_path=""), pipeline=PIPELINE))
    assert len(ds) == 3
    for i, (h, w) in enumerate(sizes):
        item = ds[i]
        assert tuple(item["inputs"].shape) == (3, 32, 100)
        s = item["data_samples"]
        assert s.gt_text.item == items[i]["text"]
        assert tuple(s.ori_shape) == (h, w) and tuple(s.img_shape) == (32, 100)
        assert s.img_path == osp.join(str(tmp_path), items[i]["img_path"])


def test_mmocr_json_loader_errors(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps(dict(metainfo={}, data_list=[dict(img_path="a.png", instances=[])])))
    with pytest.raises(KeyError, match="instances"):
        DATASETS.build(dict(type="TextRecogJSONDataset", ann_file=str(tmp_path / "bad.json"), pipeline=PIPELINE))
    write_textrecog_json(str(tmp_path / "ok.json"), [dict(img_path="missing.png", text="a")])
    ds = DATASETS.build(dict(type="TextRecogJSONDataset", ann_file=str(tmp_path / "ok.json"),
                             data_prefix=dict(img_path=str(tmp_path)), pipeline=PIPELINE))
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ds[0]


def test_lmdb_loader(tmp_path):
    crops = [_crop(24, 70, 0), _crop(50, 120, 200)]
    labels = ["Shop", "42"]
    blobs = [cv2.imencode(".jpg", c)[1].tobytes() for c in crops]
    path = str(tmp_path / "IIIT5K_lmdb")
    assert write_lmdb_dataset(path, zip(blobs, labels)) == 2
    ds = DATASETS.build(dict(type="TextRecogLMDBDataset", ann_file=path, pipeline=PIPELINE))
    assert len(ds) == 2
    for i in range(2):
        item = ds[i]
        assert tuple(item["inputs"].shape) == (3, 32, 100)
        assert item["data_samples"].gt_text.item == labels[i]
        assert tuple(item["data_samples"].ori_shape) == crops[i].shape[:2]
    # picklable for data-loader workers, and reopens its environment
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[1]["data_samples"].gt_text.item == "42"
    # not an LMDB of that format
    import lmdb
    other = str(tmp_path / "other")
    env = lmdb.open(other)
    with env.begin(write=True) as txn:
        txn.put(b"foo", b"bar")
    env.close()
    with pytest.raises(KeyError, match="num-samples"):
        DATASETS.build(dict(type="TextRecogLMDBDataset", ann_file=other, pipeline=PIPELINE))


def test_resize_keep_ratio_pads():
    from stn_plugin.textrecog.transforms import resize_text_crop
    out = resize_text_crop(_crop(16, 20, 0), (32, 100), keep_ratio=True, pad_value=255)
    assert out.shape == (32, 100, 3)
    assert (out[:, 45:] == 255).all()          # 20 * 32/16 = 40 px of content, then padding
    assert resize_text_crop(_crop(10, 500, 0), (32, 100), keep_ratio=True).shape == (32, 100, 3)


# -- configs through mmengine's Runner ------------------------------------------------------
def test_configs_build_and_train_through_runner(tmp_path):
    from mmengine.runner import Runner
    data = tmp_path / "data"
    generate_synthetic_words(str(data), 8, seed=0, split="train", progress=False)
    generate_synthetic_words(str(data), 4, seed=1, split="test_curved", progress=False)
    from mmdet.registry import MODELS
    for name, family in (("crnn-affine", "affine"), ("crnn-projective", "projective"), ("crnn", None)):
        cfg = Config.fromfile(osp.join(CONFIGS, f"{name}_synthetic-words.py"))
        assert cfg.custom_imports["imports"][0] == "stn_plugin" and cfg.default_scope == "mmdet"
        model = MODELS.build(cfg.model)
        assert (model.preprocessor is None) if family is None else (model.preprocessor.family.name == family)
    cfg = Config.fromfile(osp.join(CONFIGS, "crnn-tps_synthetic-words.py"))
    cfg.work_dir = str(tmp_path / "work")
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].dataset.data_root = str(data)
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
        cfg[key].batch_size = 4
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=2, val_interval=100)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=2, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert "recog/word_acc_ignore_case_symbol" in metrics and 0 <= metrics["recog/one_minus_ned"] <= 1
    assert osp.isfile(tmp_path / "work" / "iter_2.pth")


def test_benchmark_dataset_configs_parse():
    for name in ("iiit5k", "svt", "ic13", "ic15", "svtp", "cute80"):
        cfg = Config.fromfile(osp.join(CONFIGS, "benchmarks", f"crnn-tps_{name}.py"))
        ds = cfg.test_dataloader.dataset
        assert ds.type in ("TextRecogJSONDataset", "TextRecogLMDBDataset")
        assert any(step["type"] == "ResizeTextCrop" for step in ds.pipeline)


# -- rectification tools ------------------------------------------------------------------------
def test_rectify_crops_of_any_size_and_draw():
    import torch
    from mmdet.registry import MODELS
    from stn_plugin.textrecog.rectify import draw_rectification, rectify_crops
    cfg = Config.fromfile(osp.join(CONFIGS, "crnn-tps_synthetic-words.py"))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    crops = [_crop(20, 50, 0), _crop(64, 300, 255)]
    rectified, transforms, texts = rectify_crops(model, crops, (32, 100))
    assert [r.shape for r in rectified] == [(20, 62, 3), (64, 200, 3)]   # own height, 100:32 aspect
    assert len(texts) == 2 and all(isinstance(t, str) for t, _ in texts)
    # a fresh rectifier at the model's own size reproduces the resized crop
    resized, _, _ = rectify_crops(model, [cv2.resize(crops[1], (100, 32))], (32, 100), out_size=(32, 100))
    diff = np.abs(resized[0].astype(int) - cv2.resize(crops[1], (100, 32)).astype(int))
    assert diff.mean() < 3 and np.median(diff) == 0
    # 'crop': every crop keeps its own size, and a fresh rectifier gives the crop back
    same, _, _ = rectify_crops(model, crops, (32, 100), out_size="crop")
    assert [r.shape for r in same] == [c.shape for c in crops]
    diff = np.abs(same[1].astype(int) - crops[1].astype(int))
    assert diff.mean() < 3 and np.median(diff) == 0
    # 'text': the sampled region's own size, which for a fresh (identity) rectifier is the crop's
    own, _, _ = rectify_crops(model, crops, (32, 100), out_size="text")
    assert [r.shape for r in own] == [c.shape for c in crops]
    # one rectification path: the recognizer's TextRectifier gives the same crops
    from stn_plugin.textrecog import TextRectifier
    for a, b in zip(own, TextRectifier.from_recognizer(model, input_size=(32, 100))(crops)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="out_size"):
        rectify_crops(model, crops[:1], (32, 100), out_size="model")
    fig = draw_rectification(crops[0], rectified[0], transforms[0], caption="x")
    assert fig.ndim == 3 and fig.shape[0] == 96 + 22
    # the drawn control points are red
    assert ((fig[..., 0] > 200) & (fig[..., 1] < 60) & (fig[..., 2] < 60)).any()


def test_tesseract_missing_message():
    from stn_plugin.textrecog.rectify import run_tesseract
    with pytest.raises(FileNotFoundError, match="apt-get install"):
        run_tesseract([_crop(32, 100, 255)], cmd="no-such-tesseract-binary")


def test_tesseract_reads_a_clean_word():
    from stn_plugin.textrecog.rectify import run_tesseract, tesseract_available
    if not tesseract_available():
        pytest.skip("tesseract not installed")
    img = np.full((60, 220, 3), 255, np.uint8)
    cv2.putText(img, "hello", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 0), 3)
    blank = np.full((40, 100, 3), 255, np.uint8)
    out = run_tesseract([img, blank, img])
    assert len(out) == 3 and out[0].lower() == "hello" and out[2].lower() == "hello"
