"""``--cfg-options`` reach the keys our configs copied them into: an overridden data
root moves every dataloader and evaluator path below it, and an overridden
``train_cfg.max_iters`` / ``max_epochs`` scales the schedule (through the tools'
shared :func:`stn_plugin.cli.runner_setup.load_tool_config`)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mmdet")

from stn_plugin.cli.runner_setup import load_tool_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COCO = str(REPO / "configs/rcnn/faster-rcnn_r50_fpn_affine-rectifier_1x_coco.py")
DIGITS = str(REPO / "configs/digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py")
WORDS = str(REPO / "configs/textrecog/crnn-tps_synthetic-words.py")


def _load(config, **options):
    return load_tool_config(config, "none", options, None)


def _dataset(cfg, split):
    ds = cfg[f"{split}_dataloader"].dataset
    while "dataset" in ds:  # dataset wrappers
        ds = ds.dataset
    return ds


@pytest.mark.parametrize("new_root", ["/datasets/coco/", "/datasets/coco"])
def test_data_root_moves_dataloaders_and_evaluators(new_root):
    before = _load(COCO)
    assert before.data_root == "data/coco/"
    cfg = _load(COCO, data_root=new_root)
    for split in ("train", "val", "test"):
        assert _dataset(cfg, split).data_root == new_root
        # relative paths stay relative to the dataset's root
        assert _dataset(cfg, split).ann_file == _dataset(before, split).ann_file
    assert cfg.val_evaluator.ann_file == "/datasets/coco/annotations/instances_val2017.json"
    assert cfg.test_evaluator.ann_file == "/datasets/coco/annotations/instances_val2017.json"


def test_explicit_keys_are_not_rewritten():
    cfg = _load(COCO, **{"data_root": "/a/", "val_evaluator.ann_file": "/b/val.json",
                         "test_dataloader.dataset.data_root": "/c/"})
    assert cfg.val_evaluator.ann_file == "/b/val.json"
    assert _dataset(cfg, "test").data_root == "/c/"
    assert _dataset(cfg, "train").data_root == "/a/"
    assert cfg.test_evaluator.ann_file == "/a/annotations/instances_val2017.json"


def test_other_roots_follow_too_and_similar_prefixes_do_not():
    cfg = _load(WORDS, synth_root="/tmp/words")
    assert {_dataset(cfg, s).data_root for s in ("train", "val", "test")} == {"/tmp/words"}
    # a path that merely starts with the same characters is another folder
    from stn_plugin.cli.config_overrides import _below

    assert _below("data/synth_words2/a.json", "data/synth_words") is None
    assert _below("data/synth_words/a.json", "data/synth_words") == "a.json"
    assert _below("data/coco/annotations/x.json", "data/coco/") == "annotations/x.json"
    assert _below("data/coco", "data/coco/") == ""


def test_max_iters_scales_the_schedule_and_end_intervals():
    before = _load(DIGITS)
    assert before.train_cfg.max_iters == 1500
    cfg = _load(DIGITS, **{"train_cfg.max_iters": 300})
    warmup, steps = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 20)                        # 100 of 1500 -> 20 of 300
    assert (steps.begin, steps.end, steps.milestones) == (0, 300, [225, 270])
    assert cfg.train_cfg.val_interval == 300 and cfg.default_hooks.checkpoint.interval == 300
    # a 2-iteration smoke run still has valid schedulers (end > begin)
    cfg = _load(DIGITS, **{"train_cfg.max_iters": 2})
    assert all(s.end > s.begin for s in cfg.param_scheduler)


def test_a_schedule_given_on_the_command_line_is_kept():
    cfg = _load(DIGITS, **{"train_cfg.max_iters": 300, "param_scheduler.1.milestones": [100, 200]})
    warmup, steps = cfg.param_scheduler
    assert warmup.end == 100 and steps.milestones == [100, 200] and steps.end == 1500
    assert cfg.train_cfg.val_interval == 300  # evaluating at the end still follows


def test_max_epochs_scales_epoch_schedulers_only():
    cfg = _load(COCO, **{"train_cfg.max_epochs": 24})
    warmup, steps = cfg.param_scheduler
    assert warmup.by_epoch is False and warmup.end == 500               # iteration warm-up untouched
    assert steps.milestones == [16, 22] and steps.end == 24


def test_max_iters_scales_each_optimizers_schedule():
    spotter = str(REPO / "configs/spotting/faster-rcnn_r18_fpn_tps-crnn_word-scenes.py")
    cfg = _load(spotter, **{"train_cfg.max_iters": 500})
    warmup, steps = cfg.param_scheduler["default"]
    assert (warmup.end, steps.end, steps.milestones) == (25, 500, [375, 450])
    warmup, decay = cfg.param_scheduler["recognition"]
    assert (warmup.end, decay.begin, decay.end) == (25, 400, 500)


def _chains(cfg):
    """``[(schedulers, base lr)]``: one per optimizer."""
    schedulers = cfg.param_scheduler
    if isinstance(schedulers, dict) and "type" not in schedulers:
        return [(schedulers[name], cfg.optim_wrapper[name].optimizer.lr) for name in schedulers]
    return [(schedulers, cfg.optim_wrapper.optimizer.lr)]


def _learning_rates(schedulers, base_lr, iterations):
    """The learning rate of each iteration, as mmengine's ParamSchedulerHook steps the
    schedulers after every iteration (built on a one-parameter optimizer)."""
    import torch
    from mmengine.registry import PARAM_SCHEDULERS

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    built = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer)) for s in schedulers]
    rates = []
    for _ in range(iterations):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradient: changes nothing, but schedulers expect it first
        for scheduler in built:
            scheduler.step()
    return rates


def _warmup_end(schedulers):
    """Where the schedule's warm-up ends (0: it has none, or a switched-off one)."""
    for s in schedulers:
        if s.type == "LinearLR" and s.get("begin", 0) == 0 and s.get("start_factor", 1 / 3) < 1:
            return s.end
    return 0


SPOTTER = str(REPO / "configs/spotting/faster-rcnn_r18_fpn_tps-crnn_word-scenes.py")
MNIST = str(REPO / "configs/mnist/st-cnn-affine_rts.py")


@pytest.mark.parametrize("config", [DIGITS, WORDS, MNIST, SPOTTER], ids=["digits", "text", "mnist", "spotter"])
def test_every_max_iters_override_reaches_the_base_lr_after_the_warmup(config):
    import copy

    from stn_plugin.cli.config_overrides import MIN_WARMUP_STEPS, rescale_schedule

    original = _load(config)
    assert all(_warmup_end(schedulers) > 2 for schedulers, _ in _chains(original))  # each config warms up
    for max_iters in range(1, 201):
        cfg = copy.deepcopy(original)
        options = {"train_cfg.max_iters": max_iters}
        train_cfg = dict(cfg.train_cfg)
        cfg.merge_from_dict(options)
        rescale_schedule(cfg, train_cfg, options)
        for schedulers, base_lr in _chains(cfg):
            end = _warmup_end(schedulers)
            rates = _learning_rates(schedulers, base_lr, max(max_iters, end + 1))
            assert rates[end] == pytest.approx(base_lr, rel=1e-9), (max_iters, end, rates[:end + 1])
            assert max(rates) == pytest.approx(base_lr, rel=1e-9), max_iters
            # the warm-up leaves at least half of the run at the base learning rate
            assert end == 0 or MIN_WARMUP_STEPS <= end <= max_iters // 2, (max_iters, schedulers)
            if max_iters >= 2 * MIN_WARMUP_STEPS:  # room for a warm-up: it is kept
                assert end >= MIN_WARMUP_STEPS and rates[0] < base_lr


def test_short_runs_log_what_happened_to_the_warmup(monkeypatch):
    from stn_plugin.cli import config_overrides

    logged = []
    monkeypatch.setattr(config_overrides, "_log", lambda message, level=None: logged.append(message))
    cfg = _load(DIGITS, **{"train_cfg.max_iters": 20})
    warmup, _ = cfg.param_scheduler
    assert (warmup.begin, warmup.end, warmup.start_factor) == (0, 2, 0.01)   # not 1 iteration
    cfg = _load(DIGITS, **{"train_cfg.max_iters": 3})
    warmup, _ = cfg.param_scheduler
    assert warmup.start_factor == 1.0                                       # switched off
    text = "\n".join(logged)
    assert "param_scheduler.0 (LinearLR, 100 iterations): warm-up of 1 iterations lengthened to 2" in text
    assert "warm-up switched off (start_factor 0.01 -> 1.0): a run of 3 iterations" in text


def test_a_warmup_that_ended_where_the_decay_begins_still_does():
    cfg = _load(MNIST, **{"train_cfg.max_iters": 20})
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == cosine.begin == 2 and cosine.end == 20
