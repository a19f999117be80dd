"""Test-session set-up.

Without a GPU, roi_sample's Triton kernels are tested through triton's interpreter,
which works only when ``TRITON_INTERPRET=1`` is set before triton is first imported
(importing torch does not import triton). Setting it here, before any test module is
collected, lets the kernel tests run in this process instead of a child process.
Nothing else in the suite uses triton.
"""
import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def small_roi_rectifier():
    """A factory of small RoI rectifier extractors over a 4-level FPN (strides 4-32, 6
    channels, 5x5 output) with seeded, non-identity weights, in eval mode:
    ``small_roi_rectifier(AffineRoIRectifier, family='projective')``."""
    def build(cls, **kwargs):
        # finest_scale=8 spreads boxes of 4-90 px over all four levels
        ext = cls(roi_layer=dict(type="RoIAlign", output_size=5, sampling_ratio=2), out_channels=6,
                  featmap_strides=[4, 8, 16, 32], finest_scale=8,
                  loc_net=dict(type="conv", channels=(8,), hidden_dims=(16,)), loc_input_size=5,
                  context_factor=1.2, **kwargs)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in ext.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
        return ext.eval()
    return build


@pytest.fixture
def error_line():
    """``error_line(main, argv)``: run a tool's ``main(argv)``, which must end with one
    ``error: ...`` line (``SystemExit`` with that message); returns the line."""
    def run(main, argv) -> str:
        with pytest.raises(SystemExit) as info:
            main(argv)
        message = str(info.value.code)
        assert message.startswith("error: ") and "\n" not in message and "Traceback" not in message, message
        return message
    return run


@pytest.fixture
def usage_error_line(capsys):
    """``usage_error_line(main, argv)``: run a tool's ``main(argv)``, which must stop with
    argparse's usage error (exit status 2, no traceback); returns its last line,
    ``prog: error: argument --x: ...``."""
    def run(main, argv) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert "error: " in last, err
        return last
    return run


@pytest.fixture
def outline_rectifier_file(tmp_path):
    """A rectifier file holding a small random ``TextOutlineNet`` (random head and
    BatchNorm statistics, so that its predictions depend on the input)."""
    import torch

    from stn_plugin.rectify.outline_net import TextOutlineNet
    from stn_plugin.rectify.rectifier_file import rectifier_spec, save_rectifier_file

    torch.manual_seed(1)
    cfg = dict(channels=(4, 8, 8, 8), context=8, outline_margin=(0.2, 0.1))
    net = TextOutlineNet(**cfg)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.1)
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                m.running_mean.normal_(0, 0.1)
    path = str(tmp_path / "outline.pt")
    spec = rectifier_spec(dict(type="TextOutlineNet", **cfg), 3, (127.5,) * 3, (64.0,) * 3, (32, 512),
                          meta=dict(name="small-outline"))
    save_rectifier_file(spec, net.eval(), path)
    return path



@pytest.fixture
def triton_kernels():
    """Skips a test unless roi_sample's Triton kernels can run here: on a GPU, or in
    triton's interpreter (TRITON_INTERPRET=1 was set above before triton's import)."""
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        pytest.skip("triton is not installed")
    if torch.cuda.is_available():
        return
    import triton.language as tl
    from triton.runtime.interpreter import InterpretedFunction
    if os.environ.get("TRITON_INTERPRET") != "1" or not isinstance(tl.zeros, InterpretedFunction):
        pytest.skip("triton was imported before TRITON_INTERPRET=1 was set: no interpreter here")
