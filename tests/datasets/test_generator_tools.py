"""The dataset generators (tools/dataset/*.py) end with a one-line error, not a
traceback, when their output already exists, and leave it untouched."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

REPO = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _assert_one_line_error(proc, *words):
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


def test_digit_scenes_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("a user's file")
    proc = _run("tools/dataset/make_digit_scenes.py", str(tmp_path), "--num-train", "1", "--num-val", "1")
    _assert_one_line_error(proc, str(tmp_path), "--overwrite")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_distorted_mnist_refuses_existing_files(tmp_path):
    (tmp_path / "R_test.npz").write_bytes(b"a user's file")
    proc = _run("tools/dataset/make_distorted_mnist.py", "--out-dir", str(tmp_path), "--variants", "R",
                "--splits", "test", "--num-test", "4")
    _assert_one_line_error(proc, "R_test.npz", "--overwrite")
    assert (tmp_path / "R_test.npz").read_bytes() == b"a user's file"


def test_synthetic_words_refuses_an_existing_split(tmp_path):
    ann = tmp_path / "textrecog_train.json"
    ann.write_text("a user's file")
    proc = _run("tools/dataset/make_synthetic_words.py", str(tmp_path), "--split", "train", "--num", "2")
    _assert_one_line_error(proc, "train", "--overwrite")
    assert ann.read_text() == "a user's file"
