import json

import cv2
import numpy as np
import pytest

from stn_plugin.datasets.coco_writer import GeneratedScene, check_output_dir, prepare_coco_dir, write_coco_split

CATEGORIES = [dict(id=1, name="thing")]


def _scenes(n, shape=(6, 9, 3), dtype=np.uint8):
    for i in range(n):
        image = np.zeros(shape, dtype)
        image[..., 0] = 10 * i + 1  # red channel: RGB in, so blue in the BGR file
        yield GeneratedScene(image, [dict(category_id=1, bbox=[0, 0, 1, 1])] * (i + 1), image_fields=dict(k=i))


def test_layout_ids_and_rgb_pixels(tmp_path):
    coco = write_coco_split(tmp_path, "val", _scenes(3), CATEGORIES, info=dict(seed=0), count=3, progress=False)
    on_disk = json.loads((tmp_path / "annotations" / "val.json").read_text())
    assert on_disk == coco
    assert [im["id"] for im in coco["images"]] == [0, 1, 2]
    assert coco["images"][2] == dict(id=2, file_name="000002.png", width=9, height=6, k=2)
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3, 4, 5, 6]
    assert [a["image_id"] for a in coco["annotations"]] == [0, 1, 1, 2, 2, 2]
    bgr = cv2.imread(str(tmp_path / "val" / "000002.png"))
    assert bgr.shape == (6, 9, 3) and (bgr[..., 2] == 21).all() and (bgr[..., :2] == 0).all()


def test_refuses_a_non_empty_folder_or_a_file(tmp_path):
    check_output_dir(tmp_path / "new", overwrite=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not empty"):
        check_output_dir(tmp_path / "full", overwrite=False)
    check_output_dir(tmp_path / "full", overwrite=True)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FileExistsError):
        check_output_dir(tmp_path / "a_file", overwrite=False)
    assert (tmp_path / "full" / "mine.txt").read_text() == "user data"


@pytest.mark.parametrize("shape,dtype,match", [((6, 9), np.uint8, r"\(H, W, 3\) uint8"),
                                               ((6, 9, 3), np.float32, "uint8")])
def test_bad_images_are_named(tmp_path, shape, dtype, match):
    with pytest.raises(ValueError, match=match):
        write_coco_split(tmp_path, "train", _scenes(1, shape, dtype), CATEGORIES, {}, count=1, progress=False)


def test_count_must_match_and_be_non_negative(tmp_path):
    with pytest.raises(ValueError, match="yielded 2 scenes, expected count=3"):
        write_coco_split(tmp_path, "train", _scenes(2), CATEGORIES, {}, count=3, progress=False)
    with pytest.raises(ValueError, match="'train' split must be >= 0"):
        write_coco_split(tmp_path, "train", _scenes(0), CATEGORIES, {}, count=-1, progress=False)


def test_overwrite_deletes_the_earlier_runs_images_only(tmp_path):
    out = prepare_coco_dir(tmp_path / "scenes", ["train", "val"], overwrite=False)
    write_coco_split(out, "train", _scenes(3), CATEGORIES, info={}, count=3, progress=False)
    (out / "README.txt").write_text("a user's note")
    with pytest.raises(FileExistsError, match="not empty"):
        prepare_coco_dir(out, ["train", "val"], overwrite=False)
    out = prepare_coco_dir(out, ["train", "val"], overwrite=True)
    write_coco_split(out, "train", _scenes(1), CATEGORIES, info={}, count=1, progress=False)
    assert sorted(p.name for p in (out / "train").iterdir()) == ["000000.png"]  # no stale 000001/000002
    assert (out / "README.txt").read_text() == "a user's note"


@pytest.mark.parametrize("split", ["../x", "a/b", ""])
def test_split_names_outside_the_folder_are_refused(tmp_path, split):
    with pytest.raises(ValueError, match="split name must be"):
        write_coco_split(tmp_path / "scenes", split, _scenes(1), CATEGORIES, info={}, count=1, progress=False)
    with pytest.raises(ValueError, match="split name must be"):
        prepare_coco_dir(tmp_path / "scenes", [split], overwrite=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "scenes").exists()
