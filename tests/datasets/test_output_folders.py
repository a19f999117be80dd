"""Output folders of the tools and generators: distinct names, only an earlier run's
files deleted on overwrite, split names that stay inside the folder."""
from __future__ import annotations

import pytest

from stn_plugin.datasets.output_folders import (check_output_file, check_split_name, remove_earlier_outputs,
                                                unique_output_names)


def test_unique_output_names_keep_the_extension_only_where_stems_clash():
    assert unique_output_names(["d/a.jpg", "d/a.png", "d/b.jpg"]) == ["a_jpg.png", "a_png.png", "b.png"]
    assert unique_output_names(["r/a/x.png", "r/b/x.png"], root="r", suffix="") == ["a/x", "b/x"]
    # a path outside the root falls back to its base name, never '../'
    assert unique_output_names(["elsewhere/x.png"], root="r") == ["x.png"]
    with pytest.raises(ValueError, match="would both be written as 'x_png.png'"):
        unique_output_names(["r/x.png", "elsewhere/x.png"], root="r")


def test_remove_earlier_outputs_deletes_only_matching_files(tmp_path):
    for rel in ("train/000000.png", "train/000001.png", "train/notes.txt", "val/000000.png", "keep.json",
                "annotations/train.json", "sub/deep/x.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    removed = remove_earlier_outputs(tmp_path, ["train/*.png", "annotations/train.json", "sub/**/*.png"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in removed) == [
        "annotations/train.json", "sub/deep/x.png", "train/000000.png", "train/000001.png"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == ["keep.json", "train", "train/notes.txt", "val", "val/000000.png"]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "..", ".hidden", "a\\b", "x y"])
def test_split_names_that_leave_the_folder_are_refused(name):
    with pytest.raises(ValueError, match="split name must be"):
        check_split_name(name)


def test_check_output_file_names_the_argument(tmp_path):
    check_output_file(tmp_path / "model.onnx", "--out")
    with pytest.raises(IsADirectoryError, match="--out .* is a folder"):
        check_output_file(tmp_path, "--out")
    with pytest.raises(FileNotFoundError, match="--out .*does not exist"):
        check_output_file(tmp_path / "missing" / "model.onnx", "--out")
