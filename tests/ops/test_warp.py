"""Image-level sampling: identity, equivalences with PyTorch and OpenCV, padding, anti-aliasing."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stn_plugin.geometry import MatrixTransform, build_family, index_to_continuous_matrix, pixel_matrix_to_normalized
from stn_plugin.ops.warp import warp


def smooth_image(h, w, c=1, dtype=torch.float64):
    y, x = torch.meshgrid(torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing="ij")
    chans = [torch.sin(x / 5 + k) * torch.cos(y / 7 - k) + 0.3 * k for k in range(c)]
    return torch.stack(chans)[None]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_identity_reproduces_input(align_corners, dtype, tol):
    x = torch.randn(2, 3, 9, 14, dtype=dtype)
    for name in ["affine", "projective", "tps"]:
        t = build_family(name).identity(2, dtype=dtype)
        y = warp(x, t, align_corners=align_corners)
        assert (y - x).abs().max() < tol, name


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_affine_equals_affine_grid_plus_grid_sample(align_corners, padding):
    torch.manual_seed(0)
    x = torch.randn(3, 2, 12, 10, dtype=torch.float64)
    theta = torch.eye(2, 3, dtype=torch.float64) + 0.3 * torch.randn(3, 2, 3, dtype=torch.float64)
    ref = F.grid_sample(x, F.affine_grid(theta, [3, 2, 7, 9], align_corners=align_corners),
                        padding_mode=padding, align_corners=align_corners)
    assert torch.allclose(warp(x, theta, (7, 9), padding=padding, align_corners=align_corners), ref, atol=1e-12)


def _interior(h, w, m_pix, in_h, in_w, margin=1.5):
    """Output pixels whose sample lies >= margin pixels inside the input."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    pts = np.stack([x, y, np.ones_like(x)], -1) @ m_pix.T
    sx, sy = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    return (sx > margin) & (sx < in_w - margin) & (sy > margin) & (sy < in_h - margin)


@pytest.mark.parametrize("kind", ["affine", "projective"])
def test_pixel_warps_equal_opencv(kind):
    in_h, in_w, out_h, out_w = 40, 50, 30, 36
    img = smooth_image(in_h, in_w, 3).float()
    # output continuous pixel -> input continuous pixel
    m_pix = np.array([[0.9, 0.25, 4.0], [-0.2, 1.1, 3.0], [0.0, 0.0, 1.0]])
    if kind == "projective":
        m_pix[2, :2] = [1.5e-3, -1e-3]
    norm = pixel_matrix_to_normalized(torch.tensor(m_pix, dtype=torch.float64), (in_h, in_w), (out_h, out_w))
    ours = warp(img, MatrixTransform(norm[None].float(), affine=kind == "affine"), (out_h, out_w))
    ours = ours[0].permute(1, 2, 0).numpy()
    # OpenCV works in index coordinates (pixel centres on integers)
    c = index_to_continuous_matrix(dtype=torch.float64).numpy()
    m_idx = np.linalg.inv(c) @ m_pix @ c
    src = img[0].permute(1, 2, 0).numpy()
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if kind == "affine":
        ref = cv2.warpAffine(src, m_idx[:2], (out_w, out_h), flags=flags)
    else:
        ref = cv2.warpPerspective(src, m_idx, (out_w, out_h), flags=flags)
    mask = _interior(out_h, out_w, m_pix, in_h, in_w)
    assert mask.sum() > 0.5 * mask.size
    # OpenCV quantises sample positions to 1/32 pixel; the image's slope is < 0.35 per pixel
    assert np.abs(ours[mask] - ref[mask]).max() < 0.35 / 32 + 1e-4


def test_fill_padding_uses_the_fill_value():
    x = torch.zeros(1, 3, 8, 8)
    shift = torch.tensor([[[1.0, 0, 5.0], [0, 1, 0]]])  # everything sampled from outside
    out = warp(x, shift, fill_value=[0.5, -1.0, 2.0])
    assert torch.allclose(out, torch.tensor([0.5, -1.0, 2.0]).reshape(1, 3, 1, 1).expand_as(out))
    partly = warp(torch.ones(1, 1, 8, 8), torch.tensor([[[1.0, 0, 0.5], [0, 1, 0]]]), fill_value=3.0)
    assert torch.allclose(partly[..., :5], torch.ones(1, 1, 8, 5)) and torch.allclose(partly[..., -1], torch.full((1, 1, 8), 3.0))


def test_supersampling_antialiases_downsampling():
    x = torch.randn(2, 3, 16, 20, dtype=torch.float64)
    identity = build_family("affine").identity(2, dtype=torch.float64)
    out = warp(x, identity, (8, 10), sampling_ratio=2)
    assert torch.allclose(out, F.avg_pool2d(x, 2), atol=1e-12)
    # a 4x shrink with r=4 averages 4x4 blocks; without it, it aliases
    out4 = warp(x, identity, (4, 5), sampling_ratio=4)
    assert torch.allclose(out4, F.avg_pool2d(x, 4), atol=1e-12)
    assert not torch.allclose(warp(x, identity, (4, 5)), F.avg_pool2d(x, 4), atol=1e-3)


def test_nearest_mode_picks_pixels():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    up = warp(x, torch.eye(2, 3)[None], (8, 8), mode="nearest")
    assert torch.equal(up, x.repeat_interleave(2, -1).repeat_interleave(2, -2))


def test_gradcheck_sampler():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    theta = (torch.eye(2, 3, dtype=torch.float64) + 0.2 * torch.randn(2, 2, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, t: warp(a, t, (4, 5), sampling_ratio=2), (x, theta))
    proj = (torch.eye(3, dtype=torch.float64) + 0.05 * torch.randn(2, 3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, m: warp(a, m, (4, 5), padding="border"), (x, proj))
    fill = torch.tensor([0.3, -0.2], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, t: warp(a, t, (4, 5), fill_value=fill), (x, theta))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 20, 24)
    theta = torch.eye(2, 3) + 0.1 * torch.randn(2, 2, 3)
    # sampling runs in float32: the only error beyond rounding the inputs is rounding the output
    ref = warp(x.to(dtype).float(), theta.to(dtype).float(), (10, 12))
    low = warp(x.to(dtype), theta.to(dtype), (10, 12))
    assert low.dtype == dtype and torch.isfinite(low).all()
    assert (low.float() - ref).abs().max() <= ref.abs().max() * torch.finfo(dtype).eps
    ref = warp(x, theta, (10, 12))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = warp(x, theta, (10, 12))
    assert torch.isfinite(auto).all() and (auto.float() - ref).abs().max() < 5e-2


def test_bad_input_names_the_argument():
    theta = torch.eye(2, 3)[None]
    with pytest.raises(ValueError, match="images"):
        warp(torch.zeros(3, 4, 4), theta)
    with pytest.raises(ValueError, match="batch size"):
        warp(torch.zeros(2, 1, 4, 4), theta)
    with pytest.raises(ValueError, match="matrix contains NaN"):
        warp(torch.zeros(1, 1, 4, 4), torch.full((1, 2, 3), float("nan")))
    with pytest.raises(ValueError, match="padding"):
        warp(torch.zeros(1, 1, 4, 4), theta, padding="wrap")
    with pytest.raises(ValueError, match="fill_value"):
        warp(torch.zeros(1, 1, 4, 4), theta, padding="fill")
    with pytest.raises(ValueError, match="sampling_ratio"):
        warp(torch.zeros(1, 1, 4, 4), theta, sampling_ratio=0)
    with pytest.raises(ValueError, match="out_size"):
        warp(torch.zeros(1, 1, 4, 4), theta, out_size=(0, 2))
