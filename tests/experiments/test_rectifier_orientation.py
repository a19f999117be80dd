"""Digit-scenes presets (the default data unchanged, the any-orientation scenes) and the
measure of how far a rectifier turns digits upright."""
import hashlib
import json
import math

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.datasets.provenance import library_versions
from stn_plugin.detection.digit_scenes import SCENE_PRESETS, SceneOptions, generate_digit_scenes, scene_options
from stn_plugin.experiments.rectifier_orientation import (digit_rotation, orientation_report, rectifier_rotation,
                                                        similarity_angle)
from stn_plugin.geometry.families import build_family

# sha256 of the annotations (without the recorded library versions) and decoded pixels of
# generate_digit_scenes(out, 4, 3, seed=0) with the default options, recorded before the
# presets were added: the default benchmark data must not change. Its pixels follow
# OpenCV's interpolation: the lock holds the OpenCV that drew it (requirements/holds.txt).
DEFAULT_SCENES_SHA256 = "8fa892e1242fb53310d419029eae83920363695a2290147ad40dd7e479d91698"


def _digest(out):
    h = hashlib.sha256()
    for split in ("train", "val"):
        coco = json.loads((out / "annotations" / f"{split}.json").read_text())
        # the library versions recorded beside the data are not the data
        assert coco["info"].pop("generated_with") == library_versions()
        h.update(json.dumps(coco).encode())
        for png in sorted((out / split).glob("*.png")):
            h.update(cv2.imread(str(png), cv2.IMREAD_UNCHANGED).tobytes())
    return h.hexdigest()


def test_default_scenes_are_unchanged(tmp_path):
    assert _digest(generate_digit_scenes(tmp_path / "a", 4, 3, seed=0, progress=False)) == DEFAULT_SCENES_SHA256, \
        f"the default digit scenes changed, generated with {library_versions()}; is this the locked set-up?"
    # the 'default' preset is the same data
    out = generate_digit_scenes(tmp_path / "b", 4, 3, seed=0, options=scene_options("default"), progress=False)
    assert _digest(out) == DEFAULT_SCENES_SHA256
    assert "options" not in json.loads((out / "annotations" / "train.json").read_text())["info"]


def test_any_orientation_scenes_turn_digits_all_the_way_and_drop_six_and_nine(tmp_path):
    out = generate_digit_scenes(tmp_path / "ds", 12, 4, seed=0, options=scene_options("any-orientation"),
                                progress=False)
    angles, labels = [], set()
    for split in ("train", "val"):
        coco = json.loads((out / "annotations" / f"{split}.json").read_text())
        assert coco["info"]["options"] == {"max_rotation": 180.0, "digits": [0, 1, 2, 3, 4, 5, 7, 8]}
        labels |= {a["category_id"] - 1 for a in coco["annotations"]}
        angles += [digit_rotation(a["digit_to_canvas"]) for a in coco["annotations"]]
    assert labels and labels <= {0, 1, 2, 3, 4, 5, 7, 8}
    # the default scenes stop at 75 degrees (plus what the perspective adds); here some are upside down
    assert max(abs(a) for a in angles) > 120 and len(angles) >= 20
    assert sum(abs(a) > 90 for a in angles) >= 3


def test_presets_are_copies_and_bad_values_are_refused(tmp_path):
    opts = scene_options("any-orientation")
    opts.max_rotation = 10.0
    assert SCENE_PRESETS["any-orientation"].max_rotation == 180.0
    with pytest.raises(KeyError, match="allowed values"):
        scene_options("upside-down")
    with pytest.raises(ValueError, match="subset of 0..9"):
        generate_digit_scenes(tmp_path / "x", 1, 0, options=SceneOptions(digits=(3, 12)), progress=False)


def test_benchmark_keeps_presets_apart(tmp_path, capsys):
    from stn_plugin.experiments.digit_scenes_benchmark import ensure_data, parse_args

    ensure_data(tmp_path / "ao", 2, 1, 0, "any-orientation")
    ensure_data(tmp_path / "ao", 2, 1, 0, "any-orientation")
    assert "using the existing data" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="holds other data"):
        ensure_data(tmp_path / "ao", 2, 1, 0)  # default scenes wanted, any-orientation there
    args = parse_args(["--scenes", "any-orientation"])
    assert (str(args.data), str(args.test_data)) == ("data/digit_scenes_any-orientation",
                                                    "data/digit_scenes_any-orientation_test")
    args = parse_args([])
    assert (str(args.data), str(args.test_data)) == ("data/digit_scenes", "data/digit_scenes_test")


def test_digit_rotation_reads_the_drawn_angle():
    for deg in (-170.0, -30.0, 0.0, 75.0, 135.0):
        a = math.radians(deg)
        src = np.float32([[0, 0], [28, 0], [28, 28], [0, 28]])
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        dst = ((src - 14) * 1.3) @ rot.T + [60, 50]
        m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        assert digit_rotation(m.tolist()) == pytest.approx(deg, abs=1e-3)


def test_rectifier_rotation_of_identity_and_of_a_known_turn():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 40.0], [0.0, 0.0, 30.0, 30.0]], dtype=torch.float64)
    sim = build_family("similarity")
    identity = sim.identity(2, dtype=torch.float64)
    assert torch.allclose(rectifier_rotation(identity, boxes), torch.zeros(2, dtype=torch.float64), atol=1e-9)
    turned = sim.build(torch.tensor([[math.radians(40.0), 0.0, 0.1, 0.0]] * 2, dtype=torch.float64))
    # the box's aspect ratio stretches both axes, which leaves the fitted turn unchanged
    assert torch.allclose(rectifier_rotation(turned, boxes), torch.full((2,), 40.0, dtype=torch.float64), atol=1e-6)
    # the same angle as a least-squares similarity over explicitly turned points
    pts = torch.randn(1, 9, 2, dtype=torch.float64)
    a = math.radians(-100.0)
    r = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)
    assert math.degrees(similarity_angle(pts, 2.0 * pts @ r.T + 3.0).item()) == pytest.approx(-100.0, abs=1e-6)


def test_orientation_report_of_a_derotator_and_of_a_plain_extractor():
    rng = np.random.default_rng(0)
    digit = rng.uniform(-180, 180, 200)
    perfect = orientation_report(digit, digit + rng.normal(0, 1, 200))
    assert perfect["mean_abs_residual"] < 2 and perfect["circular_correlation"] > 0.99
    plain = orientation_report(digit, np.zeros(200))
    assert plain["mean_abs_residual"] == pytest.approx(np.abs(digit).mean())
    assert plain["slope"] == pytest.approx(0.0) and plain["mean_abs_rectifier"] == 0.0
    assert orientation_report(digit[:50] / 4, digit[:50] / 4)["slope"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one"):
        orientation_report(np.zeros(0), np.zeros(0))


def test_measure_on_scenes_with_a_fresh_rectifier(tmp_path):
    from mmdet.apis import init_detector

    from stn_plugin.cli.paths import config_path
    from stn_plugin.experiments.digit_scenes_benchmark import CONFIGS
    from stn_plugin.experiments.rectifier_orientation import measure

    data = generate_digit_scenes(tmp_path / "ds", 0, 3, seed=1, options=scene_options("any-orientation"),
                                 progress=False)
    torch.manual_seed(0)
    model = init_detector(str(config_path(CONFIGS["similarity"])), None, device="cpu")
    angles = measure(model, data)
    count = len(json.loads((data / "annotations" / "val.json").read_text())["annotations"])
    assert len(angles["digit"]) == len(angles["rectifier"]) == count > 0
    # a fresh rectifier samples the box itself: no turn, the digits stay as rotated as drawn
    assert np.abs(angles["rectifier"]).max() < 1e-3
    baseline = init_detector(str(config_path(CONFIGS["baseline"])), None, device="cpu")
    with pytest.raises(TypeError, match="not an RoI rectifier"):
        measure(baseline, data)
