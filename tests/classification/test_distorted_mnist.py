"""Distorted-MNIST generation: deterministic, parameters in range, and each image is the
warp of its source digit by the recorded parameters -- checked against independent
oracles (OpenCV's warps and rotation matrices, SciPy's thin-plate RBF)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

cv2 = pytest.importorskip("cv2")

from stn_plugin.classification.distorted_mnist import (DistortedDigits, generate_distorted_mnist,  # noqa: E402
                                                      load_distorted_mnist)
from stn_plugin.datasets import load_mnist_source  # noqa: E402

N = 48


@pytest.fixture(scope="module")
def train_source():
    return load_mnist_source("embedded", "train")


@pytest.fixture(scope="module", params=["R", "RTS", "P", "E", "TC"])
def generated(request):
    return generate_distorted_mnist(request.param, "train", num_samples=N, seed=3)


def _src(source, data, i):
    return source.images[data.source_index[i]].astype(np.float32)


def test_embedded_split_is_fixed_and_disjoint(train_source):
    test = load_mnist_source("embedded", "test")
    assert len(train_source) == 4000 and len(test) == 1000
    assert np.bincount(train_source.labels).tolist() == [400] * 10
    assert np.bincount(test.labels).tolist() == [100] * 10
    flat_train = {bytes(x) for x in train_source.images.reshape(len(train_source), -1)}
    overlap = sum(bytes(x) in flat_train for x in test.images.reshape(len(test), -1))
    assert overlap == 0


def test_generation_is_deterministic(generated):
    again = generate_distorted_mnist(generated.variant, "train", num_samples=N, seed=3)
    assert np.array_equal(generated.images, again.images)
    assert np.array_equal(generated.source_index, again.source_index)
    for k, v in generated.params.items():
        assert np.array_equal(v, again.params[k]), k
    other = generate_distorted_mnist(generated.variant, "train", num_samples=N, seed=4)
    assert not np.array_equal(generated.images, other.images)
    # chunking does not change anything
    chunked = generate_distorted_mnist(generated.variant, "train", num_samples=N, seed=3, chunk_size=7)
    assert np.array_equal(generated.images, chunked.images)


def test_labels_follow_sources(generated, train_source):
    assert np.array_equal(generated.labels, train_source.labels[generated.source_index])
    size = dict(R=28, RTS=42, P=28, E=28, TC=60)[generated.variant]
    assert generated.images.shape == (N, size, size) and generated.images.dtype == np.uint8


def test_parameters_in_documented_ranges(generated):
    p = generated.params
    v = generated.variant
    if v == "R":
        assert np.abs(p["angle"]).max() <= 90 and np.abs(p["angle"]).max() > 45
    elif v == "RTS":
        assert np.abs(p["angle"]).max() <= 45
        assert p["scale"].min() >= 0.7 and p["scale"].max() <= 1.2
        # the scaled 28x28 frame lies inside the 42x42 canvas
        slack = (42 - 28 * p["scale"]) / 2
        assert (np.abs(p["offset"]) <= slack[:, None] + 1e-9).all()
    elif v == "P":
        assert p["scale"].min() >= 0.75 and p["scale"].max() <= 1.0
        assert np.abs(p["corner_offsets"]).max() <= 7.5 + 1e-9 and np.abs(p["corner_offsets"]).std() > 1
    elif v == "E":
        assert p["control_offsets"].shape == (N, 16, 2)
        assert np.abs(p["control_offsets"]).max() <= 3.0
    elif v == "TC":
        assert (p["offset"] >= 0).all() and (p["offset"] <= 32).all()
        assert np.array_equal(p["offset"], np.round(p["offset"]))
        assert p["clutter"].shape == (N, 6, 5)


def _cont_to_index(m: np.ndarray) -> np.ndarray:
    """Continuous-pixel map (centres at +0.5) -> OpenCV's index coordinates (centres on integers)."""
    shift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1.0]])
    return shift @ m @ np.linalg.inv(shift)


def _close(a: np.ndarray, b: np.ndarray) -> None:
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    # OpenCV quantises sample positions to 1/32 pixel; our images are rounded to uint8
    assert diff.mean() < 0.6 and diff.max() <= 10, (diff.mean(), diff.max())
    assert a.sum() > 0


def test_R_RTS_images_are_the_recorded_rotation_scale_offset(train_source):
    for variant, canvas in (("R", 28), ("RTS", 42)):
        data = generate_distorted_mnist(variant, "train", num_samples=12, seed=1)
        for i in range(len(data)):
            p = data.sample_params(i)
            scale = p.get("scale", 1.0)
            offset = np.asarray(p.get("offset", [0.0, 0.0]))
            # OpenCV: positive angle = counter-clockwise on screen, about the digit centre
            m = cv2.getRotationMatrix2D((13.5, 13.5), p["angle"], scale)
            m[:, 2] += (canvas - 28) / 2 + offset
            expected = cv2.warpAffine(_src(train_source, data, i), m, (canvas, canvas), flags=cv2.INTER_LINEAR)
            _close(data.images[i], expected)
            # the recorded matrix is that same map
            assert np.allclose(_cont_to_index(np.asarray(p["matrix"]))[:2], m, atol=1e-9)


def test_R_rotation_direction_is_counter_clockwise():
    # a horizontal bar right of the centre ends up above the centre after +90 degrees
    from stn_plugin.classification.distorted_mnist import _rotation_scale, _translation, render_distortion

    bar = np.zeros((1, 28, 28), np.uint8)
    bar[0, 13:15, 18:26] = 255
    c = np.full((1, 2), 14.0)
    matrix = _translation(c) @ _rotation_scale(np.array([90.0]), np.ones(1)) @ _translation(-c)
    out = render_distortion("R", torch.from_numpy(bar), dict(matrix=matrix))
    ys, xs = np.nonzero(out[0].numpy() > 100)
    assert ys.mean() < 12 and abs(xs.mean() - 14) < 2


def test_P_images_are_the_recorded_corner_perspective(train_source):
    data = generate_distorted_mnist("P", "train", num_samples=12, seed=1)
    corners = np.array([[0, 0], [28, 0], [28, 28], [0, 28]], np.float64)
    for i in range(len(data)):
        p = data.sample_params(i)
        dst = 14 + (corners - 14) * p["scale"] + np.asarray(p["corner_offsets"])
        m = cv2.getPerspectiveTransform((corners - 0.5).astype(np.float32), (dst - 0.5).astype(np.float32))
        expected = cv2.warpPerspective(_src(train_source, data, i), m, (28, 28), flags=cv2.INTER_LINEAR)
        _close(data.images[i], expected)


def test_E_images_are_the_recorded_thin_plate_spline(train_source):
    interpolate = pytest.importorskip("scipy.interpolate")
    data = generate_distorted_mnist("E", "train", num_samples=8, seed=1)
    g = np.linspace(0.0, 28.0, 4)  # 4x4 control points over the frame, row-major (y outer)
    targets = np.stack(np.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 2)
    ys, xs = np.mgrid[0:28, 0:28]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], -1)
    for i in range(len(data)):
        offsets = np.asarray(data.sample_params(i)["control_offsets"])
        # each output control point samples the source at its position + offset
        tps = interpolate.RBFInterpolator(targets, targets + offsets, kernel="thin_plate_spline", degree=1)
        src_pts = tps(centres) - 0.5
        expected = cv2.remap(_src(train_source, data, i), src_pts[:, 0].reshape(28, 28).astype(np.float32),
                             src_pts[:, 1].reshape(28, 28).astype(np.float32), cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        _close(data.images[i], expected)


def test_TC_digit_is_translated_copy_plus_clutter(train_source):
    data = generate_distorted_mnist("TC", "train", num_samples=12, seed=1)
    for i in range(len(data)):
        p = data.sample_params(i)
        x, y = (int(v) for v in p["offset"])
        img = data.images[i].astype(np.int32)
        digit = train_source.images[data.source_index[i]].astype(np.int32)
        clutter_mask = np.zeros((60, 60), bool)
        for d, cx, cy, px, py in p["clutter"]:
            clutter_mask[py:py + 6, px:px + 6] = True
            piece = train_source.images[d, cy:cy + 6, cx:cx + 6].astype(np.int32)
            assert (img[py:py + 6, px:px + 6] >= piece).all()
        region = img[y:y + 28, x:x + 28]
        assert (region >= digit).all()
        free = ~clutter_mask[y:y + 28, x:x + 28]
        assert np.array_equal(region[free], digit[free])
        outside = np.ones((60, 60), bool)
        outside[y:y + 28, x:x + 28] = False
        assert (img[outside & ~clutter_mask] == 0).all()


def test_save_load_round_trip(tmp_path, generated):
    path = generated.save(tmp_path / "d.npz")
    back = load_distorted_mnist(path)
    assert isinstance(back, DistortedDigits)
    assert back.variant == generated.variant and back.split == "train"
    assert np.array_equal(back.images, generated.images) and np.array_equal(back.labels, generated.labels)
    assert back.meta["seed"] == 3 and back.meta["source"] == "embedded"
    for k in generated.params:
        assert np.array_equal(back.params[k], generated.params[k])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variant"):
        generate_distorted_mnist("XYZ")
    with pytest.raises(ValueError, match="split"):
        generate_distorted_mnist("R", "val")
    with pytest.raises(ValueError, match="corner_stdd"):
        generate_distorted_mnist("P", num_samples=2, corner_stdd=3)
    with pytest.raises(FileNotFoundError, match="IDX"):
        generate_distorted_mnist("R", source="/nonexistent/mnist")
