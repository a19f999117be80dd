"""roi_sample's Triton kernels against the pure-torch path, forward and backward.

With a GPU the compiled kernels run on CUDA tensors. Without one they run on CPU tensors
through triton's interpreter, which only works when TRITON_INTERPRET=1 is set *before
triton is first imported*: triton's own library functions (``tl.zeros``, ``tl.sum``, ...)
are ``@triton.jit`` functions decorated at import, and a kernel interpreted later still
fails on them ("Cannot call @triton.jit'd outside of the scope of a kernel"; seen with
triton 3.8). In a shared pytest process anything may have imported triton already, and
tests/conftest.py therefore sets it at the start of a CPU-only session, and the tests
run directly. Should triton have been imported earlier anyway (e.g. this file run
outside the repository's conftest), the module runs itself in a child pytest process
with TRITON_INTERPRET=1 from the start (``test_kernels_in_triton_interpreter``).

Tolerances: fp32 -- outputs and features gradients rtol 1e-5 / atol 1e-5, coordinate
gradients (sums over channels and sub-samples) rtol 1e-4 / atol 1e-4. fp16 -- the torch
reference runs in fp32 on exactly the fp16 inputs and upstream gradient, so the
difference is the fp16 rounding of the results: rtol 2e-3 / atol 2e-3 (values are O(1)).
bf16 (GPU only: the interpreter has no bfloat16): rtol 2e-2 / atol 2e-2.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from stn_plugin.ops import roi_sample

if importlib.util.find_spec("triton") is None:
    pytest.skip("triton is not installed", allow_module_level=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
MODULE = "stn_plugin.ops.roi_sample_triton"


def _interpreter_ready() -> bool:
    """True when triton was (or now gets) imported under TRITON_INTERPRET=1."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        return False
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
    return isinstance(tl.zeros, InterpretedFunction)


RUN_HERE = CUDA or _interpreter_ready()
needs_kernels = pytest.mark.skipif(not RUN_HERE, reason="runs in the TRITON_INTERPRET=1 child process")


def _kernels_in_triton_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                          str(pathlib.Path(__file__).resolve())],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = (res.stdout + res.stderr)[-6000:]
    assert res.returncode == 0, tail
    passed = re.search(r"(\d+) passed", res.stdout)
    assert passed and int(passed.group(1)) >= 15, tail  # the kernel tests really ran
    print(res.stdout[-1500:])


if not RUN_HERE:  # only then are the kernel tests collected in a child process
    test_kernels_in_triton_interpreter = _kernels_in_triton_interpreter


@pytest.fixture(scope="module")
def kernels():
    """The kernel module: compiled on a GPU, else interpreted."""
    mod = importlib.import_module(MODULE)
    if not CUDA and not mod.kernels_interpreted():  # imported before TRITON_INTERPRET was set
        mod = importlib.reload(mod)
    assert CUDA or mod.kernels_interpreted()
    return mod


def _case(kind, num_images=2, channels=3, height=7, width=9, stride=2.0, seed=0):
    """Mixed RoIs: inside, crossing, fully outside, zero-width, zero-height, tiny, and
    several on one image, across ``num_images`` images."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(num_images, channels, height, width, generator=gen)
    img_w, img_h = width * stride, height * stride
    rows = [
        [0, 0.21 * img_w, 0.13 * img_h, 0.77 * img_w, 0.86 * img_h],
        [0, -0.3 * img_w, -0.2 * img_h, 0.35 * img_w, 0.45 * img_h],
        [num_images - 1, 0.62 * img_w, 0.58 * img_h, 1.3 * img_w, 1.25 * img_h],
        [num_images - 1, 1.6 * img_w, 1.1 * img_h, 2.1 * img_w, 1.9 * img_h],   # fully outside
        [0, 0.43 * img_w, 0.11 * img_h, 0.43 * img_w, 0.71 * img_h],           # zero width
        [0, 0.12 * img_w, 0.52 * img_h, 0.66 * img_w, 0.52 * img_h],           # zero height
        [num_images - 1, 0.37 * img_w, 0.29 * img_h, 0.37 * img_w + 0.4, 0.29 * img_h + 0.3],
        [0, 0.05 * img_w, 0.33 * img_h, 0.52 * img_w, 0.94 * img_h],
    ]
    rois = torch.tensor(rows, dtype=torch.float32)
    n = rois.shape[0]
    if kind == "none":
        transform = None
    elif kind == "affine":
        transform = torch.eye(3) + 0.2 * torch.randn(n, 3, 3, generator=gen)
        transform[:, 2] = torch.tensor([0.0, 0.0, 1.0])
    elif kind == "projective":
        transform = torch.eye(3) + 0.2 * torch.randn(n, 3, 3, generator=gen)
        transform[:, 2, :2] *= 0.3
    else:  # explicit grid, out_size (2, 3), sampling_ratio 2
        transform = torch.rand(n, 4, 6, 2, generator=gen) * 2.6 - 1.3
    return feats, rois, transform, 1.0 / stride


def _run(feats, rois, transform, scale, padding, backend, grad_out, dtype=None):
    """Forward + backward; returns the output and the gradients (features, boxes, transform)."""
    # fresh leaves every call (.to() alone may return the very same tensor)
    def leaf(x):
        return x.detach().to(DEVICE, dtype or x.dtype).clone().requires_grad_()

    f, r = leaf(feats), leaf(rois)
    t = None if transform is None else leaf(transform)
    out = roi_sample(f, r, t, (2, 3), scale, 2, padding, backend)
    out.backward(grad_out.to(DEVICE, out.dtype))
    return [out, f.grad, r.grad, None if t is None else t.grad]


def _compare(got, want, tol_out, tol_coord):
    names = ["output", "features grad", "rois grad", "transform grad"]
    for name, g, w, tol in zip(names, got, want, [tol_out, tol_out, tol_coord, tol_coord]):
        if w is None:
            assert g is None, name
            continue
        torch.testing.assert_close(g.float().cpu(), w.float().cpu(), rtol=tol, atol=tol, msg=lambda m: f"{name}: {m}")


@needs_kernels
@pytest.mark.parametrize("padding", ["roi_align", "zeros", "border"])
@pytest.mark.parametrize("kind", ["none", "affine", "projective", "grid"])
def test_kernels_match_torch_fp32(kernels, kind, padding):
    feats, rois, transform, scale = _case(kind)
    grad_out = torch.randn(rois.shape[0], feats.shape[1], 2, 3, generator=torch.Generator().manual_seed(9))
    want = _run(feats, rois, transform, scale, padding, "torch", grad_out)
    got = _run(feats, rois, transform, scale, padding, "triton", grad_out)
    _compare(got, want, 1e-5, 1e-4)
    assert got[0].abs().sum() > 0  # not trivially zero


@needs_kernels
@pytest.mark.parametrize("kind", ["affine", "grid"])
def test_kernels_match_torch_fp16(kernels, kind):
    feats, rois, transform, scale = _case(kind, seed=1)
    feats, rois = feats.half(), rois.half()
    transform = transform.half()
    grad_out = torch.randn(rois.shape[0], feats.shape[1], 2, 3, generator=torch.Generator().manual_seed(9)).half()
    # reference: the torch path in fp32 on exactly the fp16 values
    want = _run(feats.float(), rois.float(), transform.float(), scale, "roi_align", "torch", grad_out.float())
    got = _run(feats, rois, transform, scale, "roi_align", "triton", grad_out)
    assert got[0].dtype == torch.float16 and got[1].dtype == torch.float16
    _compare(got, want, 2e-3, 2e-3)


@needs_kernels
@pytest.mark.skipif(not CUDA, reason="triton's interpreter has no bfloat16")
def test_kernels_match_torch_bf16(kernels):
    feats, rois, transform, scale = _case("affine", seed=2)
    feats, rois, transform = feats.bfloat16(), rois.bfloat16(), transform.bfloat16()
    grad_out = torch.randn(rois.shape[0], feats.shape[1], 2, 3).bfloat16()
    want = _run(feats.float(), rois.float(), transform.float(), scale, "roi_align", "torch", grad_out.float())
    got = _run(feats, rois, transform, scale, "roi_align", "triton", grad_out)
    assert got[0].dtype == torch.bfloat16
    _compare(got, want, 2e-2, 2e-2)


@needs_kernels
def test_many_rois_one_image_channels_last(kernels):
    # many RoIs on image 1 of 3, more channels than one channel block, NHWC strides
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(3, 40, 6, 8, generator=gen).to(memory_format=torch.channels_last)
    xy = torch.rand(12, 2, generator=gen) * 10
    rois = torch.cat([torch.ones(12, 1), xy, xy + torch.rand(12, 2, generator=gen) * 8], 1)
    mats = torch.eye(3) + 0.1 * torch.randn(12, 3, 3, generator=gen)
    grad_out = torch.randn(12, 40, 2, 3, generator=gen)
    want = _run(feats, rois, mats, 0.5, "roi_align", "torch", grad_out)
    got = _run(feats, rois, mats, 0.5, "roi_align", "triton", grad_out)
    _compare(got, want, 1e-5, 1e-4)
    assert got[1][0].abs().sum() == 0 and got[1][2].abs().sum() == 0  # untouched images


@needs_kernels
def test_empty_rois(kernels):
    feats = torch.randn(2, 3, 5, 6, device=DEVICE, requires_grad=True)
    rois = torch.zeros(0, 5, device=DEVICE)
    mats = torch.zeros(0, 3, 3, device=DEVICE, requires_grad=True)
    out = roi_sample(feats, rois, mats, (2, 3), backend="triton")
    assert out.shape == (0, 3, 2, 3)
    out.sum().backward()
    assert feats.grad.abs().sum() == 0 and mats.grad.shape == (0, 3, 3)


@needs_kernels
def test_deterministic_mode(kernels):
    feats, rois, mats, scale = _case("affine", seed=4)
    feats, rois, mats = feats.to(DEVICE), rois.to(DEVICE), mats.to(DEVICE)
    prev, prev_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        # forward is fine; a features gradient needs atomics -> a clear error, not silent variation
        f = feats.clone().requires_grad_()
        out = roi_sample(f, rois, mats, (2, 3), scale, backend="triton")
        with pytest.raises(RuntimeError, match="deterministic"):
            out.sum().backward()
        # transform / box gradients do not use atomics: allowed, and bit-identical on repeat
        grads = []
        for _ in range(2):
            m = mats.clone().requires_grad_()
            roi_sample(feats, rois, m, (2, 3), scale, backend="triton").pow(2).sum().backward()
            grads.append(m.grad)
        assert torch.equal(grads[0], grads[1])
        torch.use_deterministic_algorithms(True, warn_only=True)
        f = feats.clone().requires_grad_()
        with pytest.warns(UserWarning, match="deterministic"):
            roi_sample(f, rois, mats, (2, 3), scale, backend="triton").sum().backward()
        assert f.grad is not None
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


@needs_kernels
def test_cpu_tensors_with_compiled_kernels_raise_clearly(kernels, monkeypatch):
    if CUDA:
        pytest.skip("on a GPU machine the kernels are compiled and CPU tensors are a user error elsewhere")
    monkeypatch.setattr(kernels, "kernels_interpreted", lambda: False)
    feats, rois, mats, scale = _case("affine")
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        roi_sample(feats, rois, mats, (2, 3), scale, backend="triton")
