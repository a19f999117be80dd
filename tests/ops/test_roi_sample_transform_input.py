"""roi_sample takes a Transform as well as tensors: matrices stay matrices, other
transforms become their explicit grid, and the result equals the tensor call."""
import pytest
import torch

from stn_plugin.geometry import MatrixTransform, build_family
from stn_plugin.ops import roi_sample

ROIS = torch.tensor([[0.0, 2.0, 3.0, 20.0, 15.0], [1.0, 5.0, 1.0, 9.0, 30.0], [0.0, 0.0, 0.0, 31.0, 31.0]],
                    dtype=torch.float64)


def _features():
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("family", ["projective", "tps"])
def test_transform_equals_its_tensor_form_with_gradients(family):
    fam = build_family(family)
    raw = (fam.identity_params(torch.float64) + 0.1 * torch.randn(3, fam.num_params, dtype=torch.float64)
           ).requires_grad_(True)
    transform = fam.build(raw)
    tensor = transform.matrix if isinstance(transform, MatrixTransform) else transform.grid((5, 6), 2)
    feats = _features()
    via_transform = roi_sample(feats, ROIS, transform, (5, 6), 0.5, 2)
    via_tensor = roi_sample(feats, ROIS, tensor, (5, 6), 0.5, 2)
    assert torch.equal(via_transform, via_tensor)
    (grad,) = torch.autograd.grad(via_transform.sum(), raw)
    assert grad.abs().sum() > 0


def test_transform_is_cast_to_the_features_dtype():
    transform = build_family("affine").identity(3)  # float32
    out = roi_sample(_features(), ROIS, transform, 4, 1.0, 1)
    assert out.dtype == torch.float64
    assert torch.allclose(out, roi_sample(_features(), ROIS, None, 4, 1.0, 1))


def test_transform_batch_size_and_device_are_checked():
    with pytest.raises(ValueError, match="transform has batch size 2 but rois has 3"):
        roi_sample(_features(), ROIS, build_family("affine").identity(2, torch.float64))
    on_meta = MatrixTransform(torch.eye(3, device="meta").expand(3, 3, 3), check_values=False)
    with pytest.raises(ValueError, match="transform is on meta"):
        roi_sample(_features(), ROIS, on_meta)
