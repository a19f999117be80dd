"""roi_sample's Triton path runs as the operators ``stn_plugin::roi_sample_forward`` /
``stn_plugin::roi_sample_backward`` (torch.library.triton_op), which is what
torch.compile and torch.export see instead of a graph break at an autograd Function.

Without a GPU the kernels run in triton's interpreter, which needs TRITON_INTERPRET=1
before triton is first imported: the check runs in a child process that sets it.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("triton") is None:  # pragma: no cover - triton comes with torch
    pytest.skip("triton is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from stn_plugin.ops import roi_sample

class Calls(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))

gen = torch.Generator().manual_seed(0)
feats = torch.randn(2, 3, 6, 7, generator=gen)
rois = torch.tensor([[1, 1.0, 1.5, 9.0, 10.0], [0, 2.0, 0.5, 12.0, 8.0]])
mats = (torch.eye(3) + 0.1 * torch.randn(2, 3, 3, generator=gen))
grid = torch.rand(2, 4, 4, 2, generator=gen) * 2 - 1
for transform in (mats, grid):
    results = []
    for backend in ("triton", "torch"):
        f, t = feats.clone().requires_grad_(), transform.clone().requires_grad_()
        with Calls() as calls:
            out = roi_sample(f, rois, t, (2, 2), 0.5, 2, "roi_align", backend)
            out.backward(torch.ones_like(out))
        results.append((out, f.grad, t.grad))
        mine = [op for op in calls.ops if op.startswith("stn_plugin.")]
        want = ["stn_plugin.roi_sample_forward.default", "stn_plugin.roi_sample_backward.default"]
        assert mine == (want if backend == "triton" else []), (backend, mine)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
schema = str(torch.ops.stn_plugin.roi_sample_forward.default._schema)
assert schema.startswith("stn_plugin::roi_sample_forward(Tensor features, Tensor batch_idx, Tensor? matrices"), schema
print("ok")
"""


def test_triton_path_runs_as_registered_operators_with_autograd():
    env = dict(os.environ, TRITON_INTERPRET="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
