"""Every roi_sample Triton kernel specialisation compiles for sm_80 and sm_90, without a
GPU and without register spills.

tests/conftest.py sets TRITON_INTERPRET=1 for the interpreter tests, and interpreted
kernels cannot be compiled, so the compilation runs in child processes started without
it -- one per architecture, side by side. A first run compiles 66 specialisations per
architecture (a few minutes on 2 cores); triton's cache makes later runs take seconds.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("triton") is None:  # pragma: no cover - triton comes with torch
    pytest.skip("triton is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("triton_aot_check.py")
ARCHS = (80, 90)
DIRECTIONS, KINDS, PADDINGS, DTYPES = ("forward", "backward"), ("matrix", "grid"), ("roi_align", "zeros", "border"), \
    ("fp32", "fp16", "bf16")


@pytest.fixture(scope="module")
def results():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    procs = {arch: subprocess.Popen([sys.executable, str(CHECK), "--arch",
                                     str(arch)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True) for arch in ARCHS}
    out = {}
    for arch, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        out[arch] = (proc.returncode, rows, stderr)
    return out


@pytest.mark.parametrize("arch", ARCHS)
def test_every_specialisation_compiles_without_spills(results, arch):
    returncode, rows, stderr = results[arch]
    names = {r["name"] for r in rows}
    want = {f"{d} {k} {p} {t}" for d in DIRECTIONS for k in KINDS for p in PADDINGS for t in DTYPES}
    # the one-launch FPN kernels: with a transform for every padding rule, without one for roi_align
    want |= {f"levels {d} matrix {p} {t}" for d in DIRECTIONS for p in PADDINGS for t in DTYPES}
    want |= {f"levels {d} none roi_align {t}" for d in DIRECTIONS for t in DTYPES}
    want |= {f"levels coordinate-gradients {k} {t}" for k in ("matrix", "none") for t in DTYPES}
    assert names == want, (sorted(want - names), stderr[-2000:])
    errors = [(r["name"], r["error"]) for r in rows if r["error"]]
    assert not errors, errors
    spills = [(r["name"], r["local_bytes"], r["stack_bytes"]) for r in rows if r["spills"]]
    assert not spills, f"register spills on sm_{arch}: {spills}"
    assert all(r["arch"] == arch and 0 < r["registers"] <= 255 for r in rows)
    assert returncode == 0, stderr[-2000:]


def test_interpreted_kernels_are_refused():
    """The checker refuses interpreted kernels instead of reporting a bogus success."""
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(CHECK), "--arch", "90"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "TRITON_INTERPRET" in proc.stderr
