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


def _tool_main(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "dataset" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_synthetic_words_overwrite_deletes_the_earlier_split(tmp_path):
    main = _tool_main("make_synthetic_words")
    main([str(tmp_path), "--split", "train", "--num", "3"])
    (tmp_path / "notes.txt").write_text("mine")
    main([str(tmp_path), "--split", "train", "--num", "1", "--overwrite"])
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["000000.png"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("split", ["../x", "a/b", ""])
def test_synthetic_words_refuses_a_split_outside_the_folder(tmp_path, error_line, split):
    out = tmp_path / "out"
    message = error_line(_tool_main("make_synthetic_words"), [str(out), "--split", split, "--num", "1"])
    assert "split name must be" in message and repr(split) in message
    assert not (tmp_path / "x").exists() and not out.exists()


def test_word_crops_overwrite_deletes_the_earlier_crops_and_refuses_bad_splits(tmp_path, error_line):
    from stn_plugin.spotting.word_scenes import WordSceneOptions, generate_word_scenes

    scenes = generate_word_scenes(tmp_path / "ws", 1, 0, seed=3, progress=False,
                                  options=WordSceneOptions(size_range=(96, 128), font_size=(12, 18)))
    main = _tool_main("make_word_crops")
    out = tmp_path / "crops"
    (out / "train").mkdir(parents=True)
    (out / "train" / "9_9_9.png").write_bytes(b"an earlier run's crop")
    main([str(scenes), str(out), "--splits", "train", "--jittered-copies", "0", "--overwrite"])
    assert "9_9_9.png" not in [p.name for p in (out / "train").iterdir()]
    message = error_line(main, [str(scenes), str(out), "--splits", "../x"])
    assert "split name must be" in message and not (tmp_path / "x").exists()


def test_scene_generators_overwrite_deletes_stale_images(tmp_path):
    main = _tool_main("make_word_scenes")
    out = tmp_path / "ws"
    main([str(out), "--num-train", "2", "--num-val", "1", "--size", "64", "80"])
    main([str(out), "--num-train", "1", "--num-val", "1", "--size", "64", "80", "--overwrite"])
    assert sorted(p.name for p in (out / "train").iterdir()) == ["000000.png"]


@pytest.mark.parametrize("tool,argv", [
    ("make_synthetic_words", ["--num", "0"]), ("make_synthetic_words", ["--workers", "0"]),
    ("make_digit_scenes", ["--num-train", "-1"]), ("make_word_scenes", ["--num-val", "-2"]),
    ("make_word_scenes", ["--size", "0", "10"]), ("make_word_scenes", ["--dont-care-prob", "nan"]),
    ("make_word_crops", ["--jittered-copies", "-1"]), ("make_distorted_mnist", ["--num-train", "0"]),
])
def test_bad_numbers_are_usage_errors(tmp_path, usage_error_line, tool, argv):
    positional = {"make_word_crops": [str(tmp_path), str(tmp_path / "o")], "make_distorted_mnist": []}
    line = usage_error_line(_tool_main(tool), positional.get(tool, [str(tmp_path / "o")]) + argv)
    assert argv[0] in line


def test_digit_scenes_with_no_scenes_at_all_is_an_error(tmp_path, error_line):
    message = error_line(_tool_main("make_digit_scenes"), [str(tmp_path / "o"), "--num-train", "0", "--num-val", "0"])
    assert "not both 0" in message and not (tmp_path / "o").exists()


def test_distorted_mnist_bad_source_is_one_error_line(tmp_path, error_line):
    message = error_line(_tool_main("make_distorted_mnist"), ["--out-dir", str(tmp_path), "--variants", "R",
                                                             "--splits", "test", "--source", str(tmp_path / "nope")])
    assert "nope" in message
