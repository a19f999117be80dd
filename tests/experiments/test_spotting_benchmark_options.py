"""The spotting benchmark's options: presets, variants and what they need, refined boxes."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from stn_plugin.experiments import spotting_benchmark as bench
from stn_plugin.spotting.word_scenes import word_scene_options


def test_the_preset_picks_the_data_folder_and_is_read_back_from_a_set():
    assert bench.parse_args([]).data == Path("data/word_scenes_2k")
    assert bench.parse_args(["--preset", "curved"]).data == Path("data/word_scenes_2k_curved")
    for preset in ("default", "curved"):
        assert bench._preset_of(dict(info=dict(options=asdict(word_scene_options(preset))))) == preset
    # sets written before the weights existed are the default mix; other warps are no preset
    old = asdict(word_scene_options("default"))
    old.pop("distortion_weights")
    assert bench._preset_of(dict(info=dict(options=old))) == "default"
    assert bench._preset_of(dict(info=dict(options=dict(distortions=["arc"])))) is None


def test_variants_bring_the_models_they_need():
    args = bench.parse_args(["--variants", "crop-crnn-tps"])
    assert bench.selected_variants(args) == ["crop-crnn-tps"] and bench.needed_crop_recognizers(args) == ["crnn-tps"]
    args = bench.parse_args(["--variants", "e2e-tps-outline", "outline-crop-crnn"])
    assert bench.needed_crop_recognizers(args) == ["crnn"]
    assert bench.selected_variants(bench.parse_args([])) == list(bench.VARIANTS)
    with pytest.raises(SystemExit):
        bench.parse_args(["--variants", "outline-crop-crnn"])      # its outlines come from e2e-tps-outline


def test_refined_boxes_only_for_end_to_end_models_with_a_rectifier(tmp_path):
    args = bench.parse_args(["--recog-boxes", "refined", "--out", str(tmp_path), "--iters", "4"])
    assert [v for v in bench.VARIANTS if bench._refines(v, args)] == ["e2e-tps", "e2e-tps-outline",
                                                                       "e2e-affine-outline"]
    assert "recog_boxes='refined'" in bench.e2e_config("e2e-tps", args).read_text()
    assert "recog_boxes" not in bench.e2e_config("e2e-crnn", args).read_text()
