"""The text-crop generator: its outlines are where the text really went."""
from __future__ import annotations

import numpy as np
import pytest

from stn_plugin.datasets.text_crops import (EDGE_POINTS, FLAT_KINDS, KINDS, TRAINING_WEIGHTS, crop_style,
                                            make_text_crop, normalized_outline)
from stn_plugin.datasets.text_rendering import TEXT_HELD_OUT_FAMILIES, TEXT_TRAINING_FAMILIES, find_font_families
from stn_plugin.datasets.text_warps import WARPS, distort_mask


@pytest.mark.parametrize("warp", sorted(WARPS))
def test_point_maps_follow_the_warped_mask(warp):
    """Points inside a filled box map onto ink of the warped mask, points around it onto
    background: the geometry labels and the pixels agree, for every warp."""
    mask = np.zeros((60, 240), np.float32)
    mask[20:40, 30:210] = 1.0
    for seed in range(3):
        warped, to_warped = distort_mask(mask, warp, np.random.default_rng(seed))
        gx, gy = np.meshgrid(np.linspace(33, 206, 40), np.linspace(22, 37, 5))
        inside = to_warped(np.stack([gx.ravel(), gy.ravel()], 1))
        ring = np.concatenate([np.stack([np.linspace(26, 214, 40), np.full(40, y)], 1) for y in (14.0, 45.0)])
        outside = to_warped(ring)

        def sample(points):
            x = np.clip(np.round(points[:, 0]).astype(int), 0, warped.shape[1] - 1)
            y = np.clip(np.round(points[:, 1]).astype(int), 0, warped.shape[0] - 1)
            return warped[y, x]

        assert sample(inside).mean() > 0.95, (warp, seed)
        assert sample(outside).mean() < 0.05, (warp, seed)


def test_font_sets_share_no_family_or_file():
    train, held = find_font_families(TEXT_TRAINING_FAMILIES), find_font_families(TEXT_HELD_OUT_FAMILIES)
    assert not set(train) & set(held)
    train_files = {p for v in train.values() for p in v}
    held_files = {p for v in held.values() for p in v}
    assert train_files and held_files and not train_files & held_files
    assert len(train) >= 10 and len(held) >= 3


def test_samples_are_reproducible_and_labelled():
    style = crop_style("training")
    a = make_text_crop(3, 5, fonts=style.fonts, photos=style.photos)
    b = make_text_crop(3, 5, fonts=style.fonts, photos=style.photos)
    c = make_text_crop(3, 6, fonts=style.fonts, photos=style.photos)
    assert np.array_equal(a.image, b.image) and a.text == b.text and np.array_equal(a.top, b.top)
    assert a.text != c.text or not np.array_equal(a.image, c.image)
    for kind in KINDS:
        s = make_text_crop(0, 1, kinds=(kind,), fonts=style.fonts, photos=style.photos)
        assert s.kind == kind and s.image.dtype == np.uint8 and s.image.shape[2] == 3
        assert s.top.shape == s.bottom.shape == (EDGE_POINTS, 2)
        words = len(s.text.split(" "))
        lo, hi = KINDS[kind][1]
        assert lo <= words <= hi, (kind, s.text)
        outline = normalized_outline(s)
        assert np.abs(outline).max() < 1.3, kind           # tight crops cut a little at most
        # the text runs from left to right along both edges
        assert outline[0, -1, 0] > outline[0, 0, 0] and outline[1, -1, 0] > outline[1, 0, 0], kind


def test_flat_kinds_have_a_straight_unsheared_outline():
    style = crop_style("training")
    for kind in FLAT_KINDS:
        for i in range(5):
            s = make_text_crop(1, i, kinds=(kind,), fonts=style.fonts, photos=style.photos)
            across = s.bottom - s.top                       # one vector for every point: no bend, no shear
            height = np.linalg.norm(across, axis=1).mean()
            assert np.abs(across - across.mean(0)).max() < 0.02 * height
            assert abs(across[:, 0].mean()) < 0.03 * height  # perpendicular to the text (within 1 degree)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kinds"):
        make_text_crop(0, 0, kinds=("sideways",))
    with pytest.raises(ValueError, match="weights"):
        make_text_crop(0, 0, kinds=("arc",), weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="split"):
        crop_style("test")
    assert abs(sum(TRAINING_WEIGHTS.values()) - 1.0) < 1e-9 and set(TRAINING_WEIGHTS) == set(KINDS)
    assert sum(TRAINING_WEIGHTS[k] for k in FLAT_KINDS) >= 0.25


def test_the_set_up_installs_every_font_package():
    from pathlib import Path

    from stn_plugin.datasets.text_rendering import FONT_PACKAGES

    script = (Path(__file__).resolve().parents[2] / "tools" / "setup_env.sh").read_text()
    listed = script.split("STN_TEXT_APT_PACKAGES=(", 1)[1].split(")", 1)[0].split()
    assert set(FONT_PACKAGES) <= set(listed), set(FONT_PACKAGES) - set(listed)
