"""TextSpottingDataset reads every supported format into the same instances; the
pipeline carries the transcriptions; the word-scenes detection config trains a step
and predicts, scored by the spotting metric."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import stn_plugin  # noqa: F401  (registers)
from mmdet.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmdet.utils import register_all_modules

from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes

register_all_modules(init_default_scope=True)
REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "spotting"
# index coordinates, as the benchmark files write them
QUAD = [10, 10, 50, 10, 50, 30, 10, 30]
CURVE_X, CURVE_Y = [10, 30, 50, 50, 30, 10], [12, 8, 12, 32, 28, 32]


def _image(path: Path, w: int = 100, h: int = 60) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))


def _cont(flat):
    return (np.asarray(flat, float) + 0.5).tolist()


def _dataset(fmt, root, ann_file, img, **kwargs):
    return DATASETS.build(dict(type="TextSpottingDataset", ann_format=fmt, data_root=str(root), ann_file=ann_file,
                               data_prefix=dict(img=img), pipeline=[], test_mode=True, **kwargs))


def _instances(ds):
    return [inst for i in range(len(ds)) for inst in ds.get_data_info(i)["instances"]]


def test_icdar2015_files(tmp_path):
    _image(tmp_path / "imgs" / "img_1.jpg")
    (tmp_path / "gts").mkdir()
    (tmp_path / "gts" / "gt_img_1.txt").write_text(
        "\ufeff" + ",".join(map(str, QUAD)) + ",Hello, world\n60,10,90,10,90,30,60,30,###\n", encoding="utf-8")
    ds = _dataset("icdar2015", tmp_path, "gts/", "imgs/")
    info = ds.get_data_info(0)
    assert info["img_path"].endswith("imgs/img_1.jpg") and (info["width"], info["height"]) == (100, 60)
    a, b = info["instances"]
    assert a == dict(bbox=[10.5, 10.5, 50.5, 30.5], bbox_label=0, mask=[_cont(QUAD)], ignore_flag=0,
                     text="Hello, world")
    assert b["ignore_flag"] == 1 and b["text"] == "###"


def test_totaltext_files(tmp_path):
    _image(tmp_path / "Images" / "Train" / "img1.jpg")
    gt = tmp_path / "Groundtruth" / "poly_gt_img1.txt"
    gt.parent.mkdir(parents=True)
    gt.write_text(f"x: [[{' '.join(map(str, CURVE_X))}]], y: [[{' '.join(map(str, CURVE_Y))}]], "
                  "ornt: [u'c'], transcriptions: [u'World']\n"
                  "x: [[60 90 90 60]], y: [[10 10 30 30]], ornt: [u'#'], transcriptions: [u'#']\n")
    (a, b) = _instances(_dataset("totaltext", tmp_path, "Groundtruth/", "Images/Train/"))
    assert a["text"] == "World" and a["ignore_flag"] == 0
    assert a["mask"] == [_cont(np.stack([CURVE_X, CURVE_Y], 1).ravel())]
    assert a["bbox"] == [10.5, 8.5, 50.5, 32.5] and b["ignore_flag"] == 1


def test_ctw1500_files(tmp_path):
    _image(tmp_path / "test_images" / "1001.jpg")
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "1001.txt").write_text(",".join(map(str, QUAD)) + ",####Sign\n")
    (a,) = _instances(_dataset("ctw1500", tmp_path, "gt/", "test_images/"))
    assert a["text"] == "Sign" and a["mask"] == [_cont(QUAD)]


def test_mmocr_json(tmp_path):
    _image(tmp_path / "textdet_imgs" / "a.png", 80, 40)
    doc = dict(metainfo=dict(dataset_type="TextDetDataset", task_name="textspotting"),
               data_list=[dict(img_path="textdet_imgs/a.png", height=40, width=80,
                               instances=[dict(polygon=QUAD, bbox=[10, 10, 50, 30], bbox_label=0, ignore=False,
                                               text="cafe"),
                                          dict(polygon=[1, 1, 5, 1, 5, 5, 1, 5], bbox_label=0, ignore=True,
                                               text="x")])])
    (tmp_path / "textspotting_test.json").write_text(json.dumps(doc))
    a, b = _instances(_dataset("mmocr", tmp_path, "textspotting_test.json", ""))
    assert a["mask"] == [_cont(QUAD)] and a["text"] == "cafe" and (a["ignore_flag"], b["ignore_flag"]) == (0, 1)


def test_coco_files_and_filtering(tmp_path):
    for i in range(2):
        _image(tmp_path / "imgs" / f"{i}.png")
    coco = dict(images=[dict(id=0, file_name="0.png", width=100, height=60),
                        dict(id=7, file_name="1.png", width=100, height=60)],
                annotations=[dict(id=1, image_id=0, category_id=1, bbox=[10, 10, 40, 20], iscrowd=0, text="box"),
                             dict(id=2, image_id=7, category_id=1, segmentation=[QUAD], bbox=[10, 10, 40, 20],
                                  iscrowd=1, text="###")],
                categories=[dict(id=1, name="text")])
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    a, b = _instances(_dataset("coco", tmp_path, "ann.json", "imgs/"))
    assert a["mask"] == [[10, 10, 50, 10, 50, 30, 10, 30]] and a["bbox"] == [10, 10, 50, 30]   # already continuous
    assert b["ignore_flag"] == 1
    # training: the image whose only word is a don't-care one is left out
    train = DATASETS.build(dict(type="TextSpottingDataset", data_root=str(tmp_path), ann_file="ann.json",
                                data_prefix=dict(img="imgs/"), filter_cfg=dict(filter_empty_gt=True), pipeline=[]))
    assert len(train) == 1 and train.get_data_info(0)["img_id"] == 0


def test_bad_regions_and_arguments_are_named(tmp_path):
    _image(tmp_path / "img_1.jpg")
    (tmp_path / "gt_img_1.txt").write_text("10,10,50,10,50,30,10,30,ok\n")
    coco = dict(images=[dict(id=0, file_name="img_1.jpg", width=100, height=60)],
                annotations=[dict(id=1, image_id=0, segmentation=[[1, 1, 5, 5]], text="two points"),
                             dict(id=2, image_id=0, segmentation=[QUAD], text="fine")])
    (tmp_path / "bad.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r"bad.json:annotations\[0\].*2 points"):
        _dataset("coco", tmp_path, "bad.json", "")
    with pytest.warns(UserWarning, match=r"skipped bad.json:annotations\[0\]"):
        ds = _dataset("coco", tmp_path, "bad.json", "", invalid_regions="skip")
    assert [inst["text"] for inst in _instances(ds)] == ["fine"]
    with pytest.raises(ValueError, match="ann_format"):
        _dataset("svt", tmp_path, "bad.json", "")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        _dataset("coco", tmp_path, "missing.json", "")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("spotting") / "ws"
    opts = WordSceneOptions(size_range=(96, 128), font_size=(12, 18), dont_care_prob=0.3)
    return generate_word_scenes(root, 4, 2, seed=1, options=opts, progress=False)


def _config(data_root: Path, size: int = 128) -> Config:
    cfg = Config.fromfile(str(CONFIGS / "faster-rcnn_r18_fpn_word-scenes_detection.py"))
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(data_root) + "/"
        for t in loader.dataset.pipeline:
            if t.type == "Resize":
                t.scale = (size, size)
    return cfg


def test_pipeline_packs_the_transcriptions_beside_the_boxes(scenes):
    cfg = _config(scenes)
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    coco = json.loads((scenes / "annotations" / "train.json").read_text())
    seen = 0
    for i in range(len(ds)):
        sample = ds[i]["data_samples"]
        img_id = sample.img_id
        anns = [a for a in coco["annotations"] if a["image_id"] == img_id]
        assert sample.gt_instances.texts == [a["text"] for a in anns if not a["iscrowd"]]
        assert len(sample.gt_instances.texts) == len(sample.gt_instances.bboxes) == len(sample.gt_instances.masks)
        assert sample.ignored_instances.texts == ["###"] * sum(a["iscrowd"] for a in anns)
        seen += len(anns)
    assert seen >= 4
    pack = TRANSFORMS.build(dict(type="PackTextSpottingInputs"))
    with pytest.raises(ValueError, match="2 gt_texts for 1 boxes"):
        pack.transform(dict(img=np.zeros((8, 8, 3), np.uint8), gt_bboxes=np.zeros((1, 4), np.float32),
                            gt_bboxes_labels=np.zeros(1, np.int64), gt_ignore_flags=np.zeros(1, bool),
                            gt_texts=["a", "b"]))


def test_detection_config_loss_step_and_predict_step_on_cpu(scenes):
    torch.manual_seed(0)
    cfg = _config(scenes)
    model = MODELS.build(cfg.model)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([train[0], train[1]]), True)
    losses = model.loss(batch["inputs"], batch["data_samples"])
    total = sum(v for k, v in losses.items() if "loss" in k for v in (v if isinstance(v, list) else [v]))
    assert torch.isfinite(total) and total > 0
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())

    model.eval()
    val = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([val[i] for i in range(len(val))]), False)
        outputs = model.predict(data["inputs"], data["data_samples"])
    for out, info in zip(outputs, (val.get_data_info(i) for i in range(len(val)))):
        assert out.pred_instances.bboxes.shape[1] == 4 and out.ori_shape == (info["height"], info["width"])
        # the ground truth stayed in the original image's pixels (loaded after Resize)
        gt = out.gt_instances.bboxes.numpy() if len(out.gt_instances) else np.zeros((0, 4))
        assert np.allclose(gt, [inst["bbox"] for inst in info["instances"] if not inst["ignore_flag"]] or
                           np.zeros((0, 4)), atol=1e-4)
    metric.process({}, [o.to_dict() for o in outputs])
    res = metric.evaluate(len(outputs))
    assert set(res) == {"spotting/det_precision", "spotting/det_recall", "spotting/det_hmean"}
    assert all(0.0 <= v <= 1.0 for v in res.values())


@pytest.mark.parametrize("name", ["icdar2015", "totaltext", "mmocr-textspotting", "word-scenes"])
def test_dataset_configs_build_on_files_in_their_layout(tmp_path, name):
    cfg = Config.fromfile(str(CONFIGS / "_base_" / "datasets" / f"{name}.py"))
    ds_cfg = cfg.val_dataloader.dataset
    root = tmp_path / "data"
    img_dir = root / ds_cfg.data_prefix["img"]
    if name == "icdar2015":
        _image(img_dir / "img_1.jpg")
        (root / ds_cfg.ann_file).mkdir(parents=True)
        (root / ds_cfg.ann_file / "gt_img_1.txt").write_text(",".join(map(str, QUAD)) + ",Hi\n")
    elif name == "totaltext":
        _image(img_dir / "img1.jpg")
        (root / ds_cfg.ann_file).mkdir(parents=True)
        (root / ds_cfg.ann_file / "poly_gt_img1.txt").write_text(
            "x: [[10 50 50 10]], y: [[10 10 30 30]], ornt: [u'h'], transcriptions: [u'Hi']\n")
    elif name == "mmocr-textspotting":
        _image(root / "imgs" / "1.jpg")
        (root / ds_cfg.ann_file).write_text(json.dumps(dict(data_list=[dict(
            img_path="imgs/1.jpg", instances=[dict(polygon=QUAD, bbox_label=0, ignore=False, text="Hi")])])))
    else:
        generate_word_scenes(root, 1, 1, seed=0, options=WordSceneOptions(size_range=(64, 64), font_size=(10, 12),
                                                                          num_words=(1, 1), dont_care_prob=0.0),
                             overwrite=True, progress=False)
    ds_cfg.data_root = str(root) + "/"
    ds = DATASETS.build(ds_cfg)
    sample = ds[0]["data_samples"]
    assert len(sample.gt_instances.texts) == 1 and sample.gt_instances.texts[0] and len(sample.gt_instances.masks) == 1
