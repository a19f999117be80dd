"""Shared argument checks: one error per bad value, value checks skipped while tracing."""
import pytest
import torch

from stn_plugin.geometry.validation import check_flags, check_rois, check_size2, check_tensor, finite_flag


def test_value_checks_raise_the_first_bad_flag():
    rois = torch.tensor([[0.0, 1.0, 1.0, 5.0, 6.0], [3.0, 4.0, 1.0, 2.0, 6.0]])
    with pytest.raises(ValueError, match=r"rois\[:, 0\] \(batch index\) must lie in \[0, 2\)"):
        check_flags(*check_rois(rois, batch_size=2), finite_flag(torch.tensor([float("nan")]), "transform"))
    with pytest.raises(ValueError, match="transform contains NaN"):
        check_flags(*check_rois(rois[:1], batch_size=2), finite_flag(torch.tensor([float("nan")]), "transform"))


def test_value_checks_are_skipped_while_tracing():
    class Scaled(torch.nn.Module):
        def forward(self, x):
            return check_tensor(x, "x") * 2

    nan = torch.tensor([float("nan"), 1.0])
    with pytest.raises(ValueError, match="x contains NaN"):
        Scaled()(nan)
    exported = torch.export.export(Scaled(), (nan,))
    assert "isfinite" not in str(exported.graph)  # no check left in the graph
    assert torch.equal(exported.module()(torch.tensor([1.0, 2.0])), torch.tensor([2.0, 4.0]))


def test_sizes():
    assert check_size2(3, "s") == (3, 3) and check_size2((2.0, 5), "s") == (2, 5)
    for bad in [(0, 3), (3,), (True, 2), "ab", 2.5, None]:
        with pytest.raises(ValueError, match="s must be a positive int"):
            check_size2(bad, "s")
