"""The detector step benchmark: a shipped rectifier config against its mmdet baseline,
one repeat on a tiny batch -- the models differ only in the RoI extraction, see the
same images and RoIs, and the report and profile have the expected shape."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmdet")

from mmdet.models.roi_heads import StandardRoIHead  # noqa: E402
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor  # noqa: E402

from stn_plugin.cli.paths import config_path  # noqa: E402
from stn_plugin.detection import AffineRoIRectifier, RectifyingRoIHead  # noqa: E402
from stn_plugin.experiments.detector_step_benchmark import (baseline_model_config, build_step_models,  # noqa: E402
                                                 format_profile, format_results, load_step_config, make_batch,
                                                 profile_rectifier, run_step_benchmark, same_inputs)


@pytest.fixture(scope="module")
def affine_case():
    cfg = load_step_config(str(config_path("digits/faster-rcnn_r18_fpn_digit-scenes_affine-rectifier.py")))
    (models,) = build_step_models([("affine", cfg)], seed=0)
    return cfg, models, make_batch(cfg, 2, 64, 64, boxes_per_image=3)


def test_baseline_config_swaps_only_the_roi_extraction(affine_case):
    cfg, _, _ = affine_case
    base = baseline_model_config(cfg.model)
    assert base["roi_head"]["type"] == "StandardRoIHead"
    ext = base["roi_head"]["bbox_roi_extractor"]
    assert ext["type"] == "SingleRoIExtractor"
    assert ext["roi_layer"] == cfg.model.roi_head.bbox_roi_extractor.roi_layer
    assert ext["out_channels"] == cfg.model.roi_head.bbox_roi_extractor.out_channels
    assert base["backbone"] == cfg.model.backbone.to_dict()
    assert cfg.model.roi_head.type == "RectifyingRoIHead"  # the config itself is untouched


def test_models_share_weights_and_inputs(affine_case):
    _, (baseline, variant), batch = affine_case
    assert type(baseline.model.roi_head) is StandardRoIHead
    assert type(baseline.model.roi_head.bbox_roi_extractor) is SingleRoIExtractor
    assert isinstance(variant.model.roi_head, RectifyingRoIHead)
    assert isinstance(variant.model.roi_head.bbox_roi_extractor, AffineRoIRectifier)
    shared = baseline.model.state_dict()
    own = variant.model.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in shared.items())
    assert all(".rectifier." in k for k in set(own) - set(shared))

    results = run_step_benchmark([baseline, variant], batch, repeats=1, seed=0, measure_memory=True,
                                 log=lambda _: None)
    assert [r.name for r in results] == ["baseline (SingleRoIExtractor, as configured)", "affine"]
    for r in results:
        assert r.train_s > 0 and r.infer_s > 0
        assert r.train_peak_mb is None or r.train_peak_mb >= 0
        n_rois, _ = r.roi_inputs["rois"]
        assert n_rois > 0 and r.roi_inputs["images"][0] == (2, 3, 64, 64)
    assert same_inputs(results)
    table = format_results("tiny", results, 1)
    assert "same images and RoIs for all: yes" in table
    assert f"{results[1].train_s / results[0].train_s:6.3f}" in table
    # a different batch for one model is noticed
    results[1].roi_inputs["images"] = ((2, 3, 64, 64), -1.0)
    assert not same_inputs(results)


def test_profile_names_the_rectifier_stages(affine_case):
    _, models, batch = affine_case
    prof = profile_rectifier(models, batch, seed=0)
    base, rect = prof["baseline (SingleRoIExtractor, as configured)"], prof["affine"]
    assert base["step"] > 0 and base["roi_extractor"] > 0
    assert not any(k.startswith("rectifier.") for k in base)
    for stage in ("rectifier.pooled_view", "rectifier.loc_net", "rectifier.transform", "rectifier.sample",
                  "rectifier.regularizers"):
        assert rect[stage] > 0, stage
    assert rect["rectifier.loc_net.backward"] > 0 and rect["rectifier.sample.backward"] > 0
    # the inclusive figure holds the nested stages; the baseline has none
    assert rect["roi_extractor (all)"] >= rect["rectifier.loc_net"] + rect["rectifier.sample"]
    assert base["roi_extractor (all)"] == pytest.approx(base["roi_extractor"])
    assert base["roi_extractor (all).backward"] == pytest.approx(base["roi_extractor.backward"])
    assert "rectifier.loc_net" in format_profile("tiny", prof)
