"""Training a spotter: one optimizer per part (SGD detector, Adam recognition branch),
weights joined from a detector and a crop-level recognizer, word crops for the crop
recognizers, and the benchmark tool end to end on a tiny set."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict

import stn_plugin  # noqa: F401  (registers)
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from stn_plugin.spotting.checkpoints import compose_spotter_checkpoint
from stn_plugin.spotting.submodule_optimizers import SubmoduleOptimWrapperConstructor
from stn_plugin.spotting.word_crops import crop_box, export_word_crops
from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes

register_all_modules(init_default_scope=True)
REPO = Path(__file__).resolve().parents[2]
SPOTTING = REPO / "configs" / "spotting"
TPS = SPOTTING / "faster-rcnn_r18_fpn_tps-crnn_word-scenes.py"
AXIS = SPOTTING / "faster-rcnn_r18_fpn_crnn_word-scenes.py"
CROP_TPS = SPOTTING / "faster-rcnn_r18_fpn_crnn-tps-crop_word-scenes.py"
RECOGNITION = ["roi_head.recognizer", "roi_head.recog_roi_extractor"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    opts = WordSceneOptions(size_range=(96, 128), font_size=(12, 18), dont_care_prob=0.2)
    return generate_word_scenes(tmp_path_factory.mktemp("spot") / "ws", 4, 2, seed=3, options=opts, progress=False)


def _groups(recognition_lr=1e-2, detector_lr=1e-2):
    return dict(default=dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=detector_lr)),
                recognition=dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=recognition_lr),
                                 submodules=RECOGNITION))


def _model(cfg_path=TPS):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(Config.fromfile(str(cfg_path)).model))
    model.init_weights()
    return model


def test_each_parameter_goes_to_exactly_one_optimizer():
    model = _model()
    wrappers = SubmoduleOptimWrapperConstructor(_groups())(model)
    assert isinstance(wrappers, OptimWrapperDict) and set(wrappers.keys()) == {"default", "recognition"}
    owned = {name: {id(p) for g in w.optimizer.param_groups for p in g["params"]} for name, w in wrappers.items()}
    recognition = {id(p) for m in (model.roi_head.recognizer, model.roi_head.recog_roi_extractor)
                   for p in m.parameters() if p.requires_grad}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert owned["recognition"] == recognition
    assert owned["default"] == trainable - recognition
    assert isinstance(wrappers["recognition"].optimizer, torch.optim.Adam)
    assert isinstance(wrappers["default"].optimizer, torch.optim.SGD)


def test_bad_groups_are_named():
    model = _model()
    with pytest.raises(KeyError, match="'default' group"):
        SubmoduleOptimWrapperConstructor(dict(recognition=_groups()["recognition"]))
    bad = _groups()
    bad["recognition"]["submodules"] = ["roi_head.reader"]
    with pytest.raises(KeyError, match="no submodule 'roi_head.reader'"):
        SubmoduleOptimWrapperConstructor(bad)(model)
    bad = _groups()
    bad["other"] = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=1.0), submodules=["roi_head.recognizer"])
    with pytest.raises(ValueError, match="in optimizer groups"):
        SubmoduleOptimWrapperConstructor(bad)(model)
    bad = _groups()
    bad["recognition"]["submodules"] = "roi_head.recognizer"
    with pytest.raises(ValueError, match="list of submodule names"):
        SubmoduleOptimWrapperConstructor(bad)
    with pytest.raises(ValueError, match="paramwise_cfg"):
        SubmoduleOptimWrapperConstructor(_groups(), paramwise_cfg=dict(norm_decay_mult=0))


@pytest.mark.parametrize("frozen", ["default", "recognition"])
def test_train_step_steps_each_optimizer_on_its_own_part(scenes, frozen, spotting_batch):
    """With one group's learning rate 0, a step moves only the other group's weights."""
    model = _model()
    wrappers = SubmoduleOptimWrapperConstructor(
        _groups(recognition_lr=0.0 if frozen == "recognition" else 1e-2,
                detector_lr=0.0 if frozen == "default" else 1e-2))(model)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    log_vars = model.train_step(spotting_batch(TPS, scenes), wrappers)
    assert "loss_recog_ctc" in log_vars and torch.isfinite(torch.as_tensor(log_vars["loss"]).detach())
    moved = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    recognition = {k for k in before if k.startswith(tuple(RECOGNITION))}
    if frozen == "default":
        assert moved and moved <= recognition
    else:
        assert moved and not moved & recognition
    # gradients are cleared after the step
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_amp_or_accumulation_with_several_optimizers_is_refused(scenes, spotting_batch):
    model = _model()
    groups = _groups()
    groups["recognition"]["accumulative_counts"] = 2
    with pytest.raises(ValueError, match="accumulative_counts"):
        model.train_step(spotting_batch(TPS, scenes), SubmoduleOptimWrapperConstructor(groups)(model))


def _checkpoints(tmp_path, recognizer_cfg):
    detector = _model(SPOTTING / "faster-rcnn_r18_fpn_word-scenes_detection.py")
    torch.manual_seed(5)
    recognizer = MODELS.build(recognizer_cfg)
    for p in recognizer.parameters():
        p.data.normal_()
    torch.save(dict(state_dict=detector.state_dict()), tmp_path / "det.pth")
    torch.save(dict(state_dict=recognizer.state_dict()), tmp_path / "rec.pth")
    return detector, recognizer


@pytest.mark.parametrize("config", [AXIS, CROP_TPS])
def test_composed_checkpoint_is_the_detector_plus_the_crop_recognizer(tmp_path, config):
    cfg = Config.fromfile(str(config))
    detector, recognizer = _checkpoints(tmp_path, copy.deepcopy(cfg.model.roi_head.recognizer))
    out = compose_spotter_checkpoint(str(tmp_path / "det.pth"), str(tmp_path / "rec.pth"), str(tmp_path / "s.pth"))
    spotter = MODELS.build(cfg.model)
    state = torch.load(out, map_location="cpu", weights_only=False)["state_dict"]
    # every weight of the detect-then-read model comes from one of the two checkpoints
    missing, unexpected = spotter.load_state_dict(state, strict=True), None
    assert not missing.missing_keys and not missing.unexpected_keys and unexpected is None
    for k, v in recognizer.state_dict().items():
        torch.testing.assert_close(spotter.roi_head.recognizer.state_dict()[k], v)
    for k, v in detector.state_dict().items():
        torch.testing.assert_close(spotter.state_dict()[k], v)
    if config == CROP_TPS:
        assert any(k.startswith("roi_head.recognizer.preprocessor.") for k in state)
    with pytest.raises(FileExistsError):
        compose_spotter_checkpoint(str(tmp_path / "det.pth"), str(tmp_path / "rec.pth"), out)
    with pytest.raises(ValueError, match="detector first"):
        compose_spotter_checkpoint(str(tmp_path / "det.pth"), str(tmp_path / "det.pth"), str(tmp_path / "x.pth"))
    with pytest.raises(ValueError, match="no rpn_head"):
        compose_spotter_checkpoint(str(tmp_path / "rec.pth"), str(tmp_path / "rec.pth"), str(tmp_path / "x.pth"))
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read the recognizer checkpoint"):
        compose_spotter_checkpoint(str(tmp_path / "det.pth"), str(tmp_path / "bad.pth"), str(tmp_path / "x.pth"))


def test_word_crops_are_the_words_boxes(scenes, tmp_path):
    ann = json.loads((scenes / "annotations" / "train.json").read_text())
    cared = [a for a in ann["annotations"] if not a["iscrowd"]]
    out = export_word_crops(str(scenes / "annotations" / "train.json"), str(scenes / "train"), str(tmp_path),
                            jittered_copies=2, jitter=0.1, progress=False)
    items = json.loads(Path(out).read_text())["data_list"]
    assert len(items) == 3 * len(cared) and len(cared) > 0
    images = {im["id"]: im for im in ann["images"]}
    for a in cared:
        exact = cv2.imread(str(tmp_path / "train" / f"{a['image_id']}_{a['id']}_0.png"))
        scene = cv2.imread(str(scenes / "train" / images[a["image_id"]]["file_name"]))
        x, y, w, h = a["bbox"]
        np.testing.assert_array_equal(exact, crop_box(scene, (x, y, x + w, y + h)))
        assert abs(exact.shape[1] - w) <= 1 and abs(exact.shape[0] - h) <= 1
    texts = {it["img_path"]: it["instances"][0]["text"] for it in items}
    assert texts[f"train/{cared[0]['image_id']}_{cared[0]['id']}_2.png"] == cared[0]["text"]
    assert "###" not in texts.values()
    # same seed, same crops; an existing split is not overwritten without asking
    with pytest.raises(FileExistsError, match="overwrite"):
        export_word_crops(str(scenes / "annotations" / "train.json"), str(scenes / "train"), str(tmp_path))
    with pytest.raises(ValueError, match="x2 > x1"):
        crop_box(np.zeros((4, 4)), (2, 0, 2, 3))


def test_benchmark_tool_runs_every_stage(scenes, tmp_path):
    """Two iterations of every kind of stage on the tiny set (a detect-then-read variant,
    two end-to-end ones on refined boxes, the outline reader joined from one of them):
    the table has the chosen variants; only the crop recognizer they need is trained."""
    out = tmp_path / "bench"
    variants = ["crop-crnn", "e2e-tps-outline", "e2e-affine-outline", "outline-crop-crnn"]
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "spotting_benchmark.py"), "--iters", "2",
                           "--data", str(scenes), "--num-train", "4", "--num-val", "2", "--threads", "1",
                           "--timing-repeats", "1", "--recog-boxes", "refined", "--variants", *variants,
                           "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = json.loads(next(out.glob("results_*.json")).read_text())
    assert [r["variant"] for r in rows] == variants
    for r in rows:
        assert 0.0 <= r["e2e_hmean"] <= 1.0 and 0.0 <= r["det_hmean"] <= 1.0 and r["s_per_image"] > 0
        assert all(p["s_per_iter"] > 0 for p in r["phases"]) and r["train_minutes"] > 0
    assert "| e2e-tps-outline" in proc.stdout and not (out / "crop-crnn-tps").exists()
    # the second half of the schedule ran end to end from the composed half-way weights, on the refined boxes
    assert (out / "e2e-tps-outline" / "iter_1.pth").exists() and (out / "e2e_init.pth").exists()
    assert "recog_boxes='refined'" in (out / "e2e-affine-outline" / "e2e_config.py").read_text()
    # the outline reader: the outline spotter's rectifier, the crop CRNN's recognizer
    joined = torch.load(out / "outline-crop-crnn.pth", map_location="cpu", weights_only=False)["state_dict"]
    spotter = torch.load(out / "e2e-tps-outline" / "iter_1.pth", map_location="cpu", weights_only=False)["state_dict"]
    crnn = torch.load(out / "crop-crnn" / "iter_2.pth", map_location="cpu", weights_only=False)["state_dict"]
    key = next(k for k in spotter if k.startswith("roi_head.recog_roi_extractor."))
    torch.testing.assert_close(joined[key], spotter[key])
    key = next(k for k in crnn if k.startswith("decoder."))
    torch.testing.assert_close(joined["roi_head.recognizer." + key], crnn[key])
    # another setting into the same folder is refused, not mixed in
    again = subprocess.run([sys.executable, str(REPO / "tools" / "spotting_benchmark.py"), "--iters", "4",
                            "--data", str(scenes), "--num-train", "4", "--num-val", "2", "--out", str(out)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert again.returncode != 0 and "other settings" in again.stdout + again.stderr


def test_an_outline_spotter_keeps_its_rectifier_and_takes_a_crop_recognizer(tmp_path):
    cfg = Config.fromfile(str(SPOTTING / "faster-rcnn_r18_fpn_tps-outline-crop-crnn_word-scenes.py"))
    torch.manual_seed(6)
    spotter = MODELS.build(cfg.model)
    for p in spotter.parameters():
        p.data.normal_()
    recognizer = MODELS.build(copy.deepcopy(cfg.model.roi_head.recognizer))
    torch.save(dict(state_dict=spotter.state_dict()), tmp_path / "spotter.pth")
    torch.save(dict(state_dict=recognizer.state_dict()), tmp_path / "rec.pth")
    out = compose_spotter_checkpoint(str(tmp_path / "spotter.pth"), str(tmp_path / "rec.pth"), str(tmp_path / "s.pth"),
                                     keep_recog_roi_extractor=True)
    state = torch.load(out, map_location="cpu", weights_only=False)["state_dict"]
    fresh = MODELS.build(cfg.model)
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for k, v in spotter.roi_head.recog_roi_extractor.state_dict().items():
        torch.testing.assert_close(fresh.roi_head.recog_roi_extractor.state_dict()[k], v)
    for k, v in recognizer.state_dict().items():
        torch.testing.assert_close(fresh.roi_head.recognizer.state_dict()[k], v)
    dropped = compose_spotter_checkpoint(str(tmp_path / "spotter.pth"), str(tmp_path / "rec.pth"),
                                         str(tmp_path / "d.pth"))
    assert not any(k.startswith("roi_head.recog_roi_extractor.")
                   for k in torch.load(dropped, map_location="cpu", weights_only=False)["state_dict"])


@pytest.mark.parametrize("recog_boxes", ["proposals", "refined"])
def test_recognition_loss_reaches_the_box_regression_only_when_asked(scenes, recog_boxes, spotting_batch):
    cfg = copy.deepcopy(Config.fromfile(str(TPS)).model)
    cfg.roi_head.recog_boxes = recog_boxes
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    batch = model.data_preprocessor(spotting_batch(TPS, scenes), True)
    losses = model.loss(batch["inputs"], batch["data_samples"])
    losses["loss_recog_ctc"].backward()
    reg = model.roi_head.bbox_head.fc_reg.weight.grad
    if recog_boxes == "refined":
        assert reg is not None and reg.abs().sum() > 0
    else:
        assert reg is None or not reg.any()
    # the recognizer learns either way
    assert all(p.grad is not None for p in model.roi_head.recognizer.parameters() if p.requires_grad)


def test_refined_boxes_need_a_differentiable_sampler():
    cfg = copy.deepcopy(Config.fromfile(str(AXIS)).model)
    cfg.roi_head.recog_boxes = "refined"
    with pytest.raises(ValueError, match="needs an RoI rectifier"):
        MODELS.build(cfg)
    cfg.roi_head.recog_boxes = "boxes"
    with pytest.raises(ValueError, match="recog_boxes must be one of"):
        MODELS.build(cfg)
