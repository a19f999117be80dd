"""A built wheel carries what a non-editable install needs: every config (under
``stn_plugin/.mim/configs``, as OpenMMLab packages ship theirs), the licence, and the
console entry points; the installed-package lookup of :mod:`stn_plugin.cli.paths`
finds configs there."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source_tree) -> zipfile.ZipFile:
    tree = source_tree
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "-q", "-w", str(out), str(tree)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("stn_plugin-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_every_config(wheel):
    shipped = {n.split("stn_plugin/.mim/configs/", 1)[1] for n in wheel.namelist() if "/.mim/configs/" in n}
    in_repo = {p.relative_to(REPO / "configs").as_posix() for p in (REPO / "configs").rglob("*.py")}
    assert in_repo and shipped == in_repo


def test_wheel_has_licence_and_entry_points(wheel):
    names = wheel.namelist()
    licence = [n for n in names if n.endswith("LICENSE") and ".dist-info/" in n]
    assert licence and b"Apache License" in wheel.read(licence[0])
    meta = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta
    entry_points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "stn-train = stn_plugin.cli.console:train" in entry_points
    assert "stn-test = stn_plugin.cli.console:test" in entry_points


def test_config_lookup_prefers_the_packaged_configs():
    from stn_plugin.cli.paths import CONFIG_ROOTS, config_path

    assert CONFIG_ROOTS[0].parts[-2:] == (".mim", "configs")
    found = config_path("digits/faster-rcnn_r18_fpn_digit-scenes_baseline.py")
    assert found.is_file() and found.parent.parent == CONFIG_ROOTS[0]


def test_console_entry_points_run():
    for name, words in (("train", ("config", "--work-dir")), ("test", ("checkpoint", "--show-dir"))):
        code = (f"import sys; from stn_plugin.cli.console import {name}; sys.argv = ['stn-{name}', '--help']; "
                f"{name}()")
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.startswith(f"usage: stn-{name}") and all(w in proc.stdout for w in words)


def test_config_lookup_works_in_an_installed_package(wheel, tmp_path):
    # the wheel unpacked is the layout of a non-editable install: no configs/ beside the package
    site = tmp_path / "site-packages"
    wheel.extractall(site)
    code = ("from stn_plugin.cli.paths import config_path; "
            "print(config_path('digits/faster-rcnn_r18_fpn_digit-scenes_baseline.py')); "
            "print(config_path('textrecog/crnn-tps_synthetic-words.py'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": ""},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mim = site / "stn_plugin" / ".mim" / "configs"
    found = [Path(line) for line in proc.stdout.split()]
    assert len(found) == 2 and all(p.is_file() and mim in p.parents for p in found)
