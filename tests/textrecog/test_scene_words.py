"""The held-out word set draws its words with the shared text rendering: held-out
fonts, the one margin around the ink and the one outline rule."""
from __future__ import annotations

import os.path as osp

import numpy as np
import pytest

from stn_plugin.datasets import text_rendering as tr
from stn_plugin.textrecog.scene_words import SCENE_DISTORTIONS, make_scene_word
from stn_plugin.textrecog.synthetic_words import distort_mask, sample_word


@pytest.mark.parametrize("index", range(6))
def test_polygon_is_the_shared_outline_of_the_flat_word_under_the_warp(index):
    sample = make_scene_word(0, index)
    fonts = tr.find_held_out_fonts()
    # the generator's draws, in its order, up to the warp
    rng = np.random.default_rng([0, index, 14])
    assert sample_word(rng) == sample["word"]
    assert SCENE_DISTORTIONS[rng.integers(len(SCENE_DISTORTIONS))] == sample["distortion"]
    path = fonts[rng.integers(len(fonts))]
    assert osp.basename(path) == sample["font"]
    mask, box = tr.flat_word(sample["word"], tr.load_font(path, int(rng.integers(28, 45))))
    _, to_distorted = distort_mask(mask, sample["distortion"], rng)
    expected = to_distorted(tr.word_outline(box, sample["distortion"]))
    polygon = sample["polygon"]
    assert len(polygon) == (4 if sample["distortion"] == "perspective" else 2 * tr.POLYGON_EDGE_POINTS)
    # the scene places the word at an offset drawn later: compare up to that translation
    assert np.allclose(polygon - polygon[0], expected - expected[0])
    assert sample["background"] in tr.PHOTO_SETS["held_out_words"]
