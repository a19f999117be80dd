"""Property-based fuzzing of roi_sample, warp and the transform families.

Every call, on small random shapes, boxes, matrices (degenerate and non-finite ones
included), grids and options, must either raise an error that names one of its
arguments, or return finite values whose gradients (features / images, boxes,
transform, raw family parameters) are finite too. For roi_sample the Triton kernels
(in triton's interpreter without a GPU) must agree with the torch path on every valid
float32 call: values, features gradients and coordinate gradients.

Hypothesis chooses the structure (shapes, options, which degenerate case, which
argument to break); the tensor values come from a seeded torch generator, so sample
points almost surely avoid pixel boundaries, where the coordinate gradient is one-sided
and the two paths may legitimately pick different sides.
"""
from __future__ import annotations

import importlib.util
import os

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from stn_plugin.geometry import build_family  # noqa: E402
from stn_plugin.geometry.coords import sample_positions_1d  # noqa: E402
from stn_plugin.ops import roi_sample, warp  # noqa: E402
from stn_plugin.ops.roi_sample import PADDING_MODES as ROI_PADDINGS  # noqa: E402
from stn_plugin.ops.roi_sample_levels import roi_levels, roi_sample_levels  # noqa: E402
from stn_plugin.ops.warp import PADDING_MODES as WARP_PADDINGS  # noqa: E402

def fuzz(max_examples: int):
    """Settings: a fixed example sequence (derandomized: the same run every time, no
    example database) and no per-example deadline (the interpreter is slow)."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
ROI_ARGUMENTS = ("features", "rois", "transform", "out_size", "sampling_ratio", "spatial_scale", "padding",
                 "backend")
WARP_ARGUMENTS = ("images", "transform", "matrix", "out_size", "mode", "padding", "fill_value", "sampling_ratio")
TRITON = importlib.util.find_spec("triton") is not None and (
    torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# special 3x3 matrices: finite but degenerate (w = 0 somewhere or everywhere), and
# non-finite ones, which must be refused
SPECIAL = {
    "zeros": torch.zeros(3, 3),
    "w_is_u": torch.tensor([[1.0, 0, 0], [0, 1, 0], [1, 0, 0]]),
    "w_is_v_minus_third": torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 1, -1 / 3]]),
    "rank_one": torch.tensor([[1.0, 2, 3], [2, 4, 6], [1, 2, 3]]),
    "nan": torch.tensor([[float("nan"), 0, 0], [0, 1, 0], [0, 0, 1]]),
    "inf": torch.tensor([[1.0, 0, float("inf")], [0, 1, 0], [0, 0, 1]]),
}
NON_FINITE = ("nan", "inf")


def _names_an_argument(err: Exception, names) -> bool:
    return any(name in str(err) for name in names)


def _finite(*tensors) -> bool:
    return all(t is None or bool(torch.isfinite(t).all()) for t in tensors)


# --------------------------------------------------------------------------- roi_sample

@st.composite
def roi_calls(draw):
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    b, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    n = draw(st.integers(0, 4))
    out_size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = draw(st.integers(1, 3))
    scale = draw(st.sampled_from([0.25, 0.5, 1.0]))
    padding = draw(st.sampled_from(ROI_PADDINGS))
    img_w, img_h = w / scale, h / scale
    xy = torch.rand(n, 2, generator=g) * torch.tensor([img_w, img_h]) * 1.6 - torch.tensor([img_w, img_h]) * 0.3
    wh = torch.rand(n, 2, generator=g) * torch.tensor([img_w, img_h]) * 0.8
    if draw(st.booleans()):
        wh[:, 0] = 0.0  # zero-width boxes
    rois = torch.cat([torch.randint(0, b, (n, 1), generator=g).float(), xy, xy + wh], 1)
    # degenerate matrices are what breaks samplers: half of the draws
    kind = draw(st.sampled_from(["none", "affine", "projective", "grid"] * 2 + sorted(SPECIAL) * 2
                                + ["w_zero_column", "w_zero_row"] * 2))
    if kind in ("w_zero_column", "w_zero_row"):
        # w = u - u_k (or v - v_k) for a sub-sample position: exactly 0 on that column (row)
        axis = 0 if kind == "w_zero_column" else 1
        pos = sample_positions_1d(out_size[1 - axis], s)
        transform = torch.eye(3).repeat(n, 1, 1)
        transform[:, 2, axis], transform[:, 2, 2] = 1.0, -pos[int(torch.randint(len(pos), (1,), generator=g))]
    elif kind == "none":
        transform = None
    elif kind == "affine":
        transform = torch.eye(3) + torch.randn(n, 3, 3, generator=g) * 0.6
        transform[:, 2] = torch.tensor([0.0, 0, 1])
    elif kind == "projective":
        transform = torch.eye(3) + torch.randn(n, 3, 3, generator=g) * 0.6
    elif kind == "grid":
        transform = torch.rand(n, out_size[0] * s, out_size[1] * s, 2, generator=g) * 3 - 1.5
    else:
        transform = SPECIAL[kind].expand(n, 3, 3).clone()
    broken = draw(st.sampled_from([None] * 12 + ["roi_nan", "batch_range", "batch_fraction", "box_order",
                                                 "scale", "out_size", "ratio", "padding", "grid_nan"]))
    if broken in ("roi_nan", "batch_range", "batch_fraction", "box_order", "grid_nan") and n == 0:
        broken = None  # nothing to break
    if broken == "grid_nan" and kind != "grid":
        broken = None
    if broken == "roi_nan":
        rois[-1, 3] = float("nan")
    elif broken == "batch_range":
        rois[0, 0] = b
    elif broken == "batch_fraction":
        rois[0, 0] = 0.5
    elif broken == "box_order":
        x1, x2 = float(rois[0, 1]), float(rois[0, 3])
        rois[0, 1], rois[0, 3] = x2 + 1, x1
    elif broken == "scale":
        scale = draw(st.sampled_from([0.0, -1.0, float("nan"), float("inf")]))
    elif broken == "out_size":
        out_size = draw(st.sampled_from([(0, 2), (2, -1), (1.5, 2), "7"]))
    elif broken == "ratio":
        s = draw(st.sampled_from([0, -2, 1.5]))
    elif broken == "padding":
        padding = draw(st.sampled_from(["zero", "reflection", None]))
    elif broken == "grid_nan":
        transform[0, 0, 0, 0] = float("nan")
    invalid = broken is not None or kind in NON_FINITE and n > 0
    feats = torch.randn(b, c, h, w, generator=g)
    grad_out = None if invalid else torch.randn(n, c, *out_size, generator=g)
    return dict(features=feats, rois=rois, transform=transform, out_size=out_size, spatial_scale=scale,
                sampling_ratio=s, padding=padding), invalid, grad_out


def _run_roi(call, backend, device="cpu"):
    leaves = {k: v.detach().clone().to(device).requires_grad_() for k, v in call.items()
              if isinstance(v, torch.Tensor)}
    args = dict(call, **leaves)
    out = roi_sample(args["features"], args["rois"], args["transform"], args["out_size"], args["spatial_scale"],
                     args["sampling_ratio"], args["padding"], backend)
    return out, leaves


@fuzz(60)
@given(roi_calls())
def test_roi_sample_torch_path_errors_or_finite(case):
    call, invalid, grad_out = case
    try:
        out, leaves = _run_roi(call, "torch")
    except (ValueError, TypeError) as err:
        assert invalid, f"a valid call raised: {err}"
        assert _names_an_argument(err, ROI_ARGUMENTS), str(err)
        return
    assert not invalid, "an invalid call was accepted"
    assert out.shape == (call["rois"].shape[0], call["features"].shape[1], *call["out_size"])
    out.backward(grad_out)
    assert _finite(out, *(t.grad for t in leaves.values()))


@pytest.mark.skipif(not TRITON, reason="triton is not installed")
@fuzz(15)
@given(roi_calls())
def test_roi_sample_triton_kernels_agree_with_torch_path(case):
    call, invalid, grad_out = case
    if invalid or call["rois"].shape[0] == 0:
        return
    results = []
    for backend in ("torch", "triton"):
        out, leaves = _run_roi(call, backend, DEVICE)
        out.backward(grad_out.to(DEVICE))
        results.append([out] + [t.grad for t in leaves.values()])
    names = ["output"] + [k for k, v in call.items() if isinstance(v, torch.Tensor)]
    for name, got, want in zip(names, results[1], results[0]):
        assert _finite(got), name
        scale = max(1.0, float(want.abs().max())) if want.numel() else 1.0
        torch.testing.assert_close(got.cpu(), want.cpu(), rtol=1e-3, atol=1e-4 * scale, msg=lambda m: f"{name}: {m}")


@pytest.mark.skipif(not TRITON, reason="triton is not installed")
@fuzz(30)  # about one example in four is a valid call with matrices or no transform
@given(roi_calls())
def test_roi_sample_levels_kernels_agree_with_torch_path(case):
    """The one-launch FPN kernels on the same valid calls, the map and a 2x coarser copy
    as two levels (finest_scale 8 / spatial_scale px: both levels used), matrix
    transforms or none: values and every gradient agree with the level loop."""
    call, invalid, grad_out = case
    transform = call["transform"]
    if invalid or call["rois"].shape[0] == 0 or (transform is not None and transform.dim() != 3):
        return
    stride = 1.0 / call["spatial_scale"]
    feats = [call["features"], call["features"][..., ::2, ::2].contiguous()]
    results = []
    for backend in ("torch", "triton"):
        leaves = [t.detach().clone().to(DEVICE).requires_grad_() for t in feats + [call["rois"]]
                  + ([] if transform is None else [transform])]
        out = roi_sample_levels(leaves[:2], leaves[2], None if transform is None else leaves[3], call["out_size"],
                                (stride, 2 * stride), 8 * stride, call["sampling_ratio"], call["padding"],
                                backend=backend)
        out.backward(grad_out.to(DEVICE))
        # a level without RoIs has no gradient on the torch loop, zeros from the kernels
        results.append([out] + [torch.zeros_like(t) if t.grad is None else t.grad for t in leaves])
    assert roi_levels(call["rois"], 2, 8 * stride).numel() == out.shape[0]
    for i, (got, want) in enumerate(zip(results[1], results[0])):
        assert _finite(got), i
        scale = max(1.0, float(want.detach().abs().max())) if want.numel() else 1.0
        torch.testing.assert_close(got.cpu(), want.cpu(), rtol=1e-3, atol=1e-4 * scale, msg=lambda m: f"#{i}: {m}")


# --------------------------------------------------------------------------- warp

@st.composite
def warp_calls(draw):
    g = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 31 - 1)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    out_size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kind = draw(st.sampled_from(["affine", "projective", "affine_2x3"] + sorted(SPECIAL)))
    if kind == "affine_2x3":
        matrix = torch.eye(2, 3) + torch.randn(n, 2, 3, generator=g) * 0.6
    elif kind in SPECIAL:
        matrix = SPECIAL[kind].expand(n, 3, 3).clone()
    else:
        matrix = torch.eye(3) + torch.randn(n, 3, 3, generator=g) * 0.6
        if kind == "affine":
            matrix[:, 2] = torch.tensor([0.0, 0, 1])
    options = dict(mode=draw(st.sampled_from(["bilinear", "nearest"])),
                   padding=draw(st.sampled_from(WARP_PADDINGS)),
                   align_corners=draw(st.booleans()) and min(h, w, *out_size) > 1,
                   sampling_ratio=draw(st.integers(1, 3)))
    fill = draw(st.sampled_from([None, 0.5, "per_channel"]))
    options["fill_value"] = torch.rand(c, generator=g).tolist() if fill == "per_channel" else fill
    invalid = kind in NON_FINITE
    # what the options mean together: a fill value needs 'fill' (or 'zeros'); 'fill' needs one
    if options["fill_value"] is None and options["padding"] == "fill":
        invalid = True
    if options["fill_value"] is not None and options["padding"] in ("border", "reflection"):
        invalid = True
    broken = draw(st.sampled_from([None] * 6 + ["fill_value", "mode", "padding", "out_size", "ratio"]))
    if broken == "fill_value":
        options.update(padding="fill", fill_value=draw(st.sampled_from(["black", float("nan"), [1.0] * (c + 1)])))
    elif broken == "mode":
        options["mode"] = "bicubic_typo"
    elif broken == "padding":
        options["padding"] = "zero"
    elif broken == "out_size":
        out_size = (0, 3)
    elif broken == "ratio":
        options["sampling_ratio"] = 0
    invalid = invalid or broken is not None
    images = torch.randn(n, c, h, w, generator=g)
    return images, matrix, out_size, options, invalid, torch.Generator().manual_seed(1)


@fuzz(60)
@given(warp_calls())
def test_warp_errors_or_finite(case):
    images, matrix, out_size, options, invalid, g = case
    x, m = images.clone().requires_grad_(), matrix.clone().requires_grad_()
    try:
        with pytest.warns(UserWarning) if options["mode"] == "nearest" and not invalid else _no_warning():
            out = warp(x, m, out_size, **options)
    except (ValueError, TypeError) as err:
        assert invalid, f"a valid call raised: {err}"
        assert _names_an_argument(err, WARP_ARGUMENTS), str(err)
        return
    assert not invalid, "an invalid call was accepted"
    out.backward(torch.randn(out.shape, generator=g))
    assert _finite(out, x.grad, m.grad)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------- families

FAMILY_OPTIONS = {
    "translation": ["max_translation"],
    "attention": ["scale_range", "max_translation"],
    "similarity": ["scale_range", "max_rotation", "max_translation"],
    "affine": ["max_linear_deviation", "max_translation"],
    "projective": ["max_linear_deviation", "max_translation", "max_perspective"],
    "tps": ["num_control_points", "margin", "control_point_range"],
}
GOOD_VALUES = {"scale_range": [(0.5, 2.0), [0.25, 4]], "num_control_points": [4, 9, 16], "margin": [0.0, 0.1],
               "control_point_range": [1.5, 3.0]}
BAD_VALUES = {"scale_range": [(0.5, 1, 2), (2.0, 0.5), (0.5, float("inf")), "wide", 0.5],
              "num_control_points": [5, 0, -4, "16", 2.5], "margin": [float("nan"), "x"],
              "control_point_range": [float("inf"), -1.0, 0.5]}
BAD_BOUNDS = [float("inf"), float("nan"), 0.0, -1.0, "30", True]


@st.composite
def family_calls(draw):
    name = draw(st.sampled_from(sorted(FAMILY_OPTIONS)))
    cfg, broken = dict(type=name), None
    for option in FAMILY_OPTIONS[name]:
        choice = draw(st.sampled_from(["absent", "good", "bad"] if option not in ("num_control_points",)
                                      else ["good", "good", "bad"]))
        if choice == "absent":
            continue
        if choice == "good":
            cfg[option] = draw(st.sampled_from(GOOD_VALUES.get(option, [0.3, 2.0, 45.0])))
        else:
            cfg[option] = draw(st.sampled_from(BAD_VALUES.get(option, BAD_BOUNDS)))
            broken = broken or option
    seed = draw(st.integers(0, 2 ** 31 - 1))
    raw_scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    nan_params = draw(st.booleans()) and draw(st.booleans())
    return cfg, broken, seed, raw_scale, nan_params


@fuzz(60)
@given(family_calls())
def test_family_builders_errors_or_finite(case):
    cfg, broken, seed, raw_scale, nan_params = case
    try:
        family = build_family(cfg)
    except (ValueError, TypeError, KeyError) as err:
        # a bad value of several given may be the one reported: any of them counts
        bad = [k for k, v in cfg.items() if k != "type" and v in BAD_VALUES.get(k, BAD_BOUNDS)]
        assert bad, f"valid options were refused: {cfg}: {err}"
        assert _names_an_argument(err, bad), f"{cfg}: {err}"
        return
    assert broken is None, f"accepted {cfg}"
    g = torch.Generator().manual_seed(seed)
    raw = (family.identity_params()[None] + torch.randn(2, family.num_params, generator=g) * raw_scale)
    if nan_params:
        raw[1, 0] = float("nan")
    raw.requires_grad_()
    try:
        transform = family.build(raw)
    except ValueError as err:
        assert nan_params and "parameters" in str(err)
        return
    assert not nan_params, "NaN parameters were accepted"
    images = torch.randn(2, 2, 5, 6, generator=g, requires_grad=True)
    out = warp(images, transform, (4, 5))
    out.backward(torch.randn(out.shape, generator=g))
    assert _finite(out, images.grad, raw.grad)
