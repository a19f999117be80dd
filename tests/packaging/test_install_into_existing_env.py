"""Installing stn_plugin into an environment that already has the OpenMMLab stack
changes nothing of it.

The test's own environment is such an environment (the set-up built torch, mmcv with
ops, mmengine and mmdet into it). pip is asked, with ``--dry-run --report``, what a
plain, non-editable ``pip install <checkout>[extras]`` would do; the answer must be:
install stn_plugin and nothing else -- no other torch, no mmcv rebuild, no other
mmengine / mmdet. Nothing is downloaded: every requirement is already satisfied, so
pip does not need an index (``--no-index`` makes sure of it)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK = ("torch", "torchvision", "mmcv", "mmengine", "mmdet")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("extras", ["", "[rectify]", "[detection]", "[detection,textrecog]"])
def test_pip_would_install_only_stn_plugin(source_tree, extras):
    for name in STACK:
        version(name)  # the environment really has the stack (PackageNotFoundError otherwise)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "--report", "-", f"{source_tree}{extras}"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    to_install = {_canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    assert to_install == {"stn-plugin": "0.1.0"}, (
        f"pip would also install or change {sorted(set(to_install) - {'stn-plugin'})}")


def test_stack_versions_are_inside_the_declared_ranges():
    """The metadata pip just accepted says ranges, not the set-up's pins: the core asks
    for torch and numpy only; mmcv is capped where mmdet 3.x caps it."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "torch" in core and not any(m in core for m in ("mmcv", "mmengine", "mmdet"))
    assert "==" not in core, "the core's dependencies must be ranges"
    rectify = " ".join(project["optional-dependencies"]["rectify"])
    assert "opencv" in rectify and not any(m in rectify for m in ("mmcv", "mmengine", "mmdet"))
    detection = " ".join(project["optional-dependencies"]["detection"])
    assert "==" not in detection and "mmcv>=2.0.0rc4,<2.2.0" in detection.replace(" ", "")
