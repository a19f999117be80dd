"""The shared text rendering: fonts split into training and held-out faces, the flat
word's ink box and its one margin, the one "straight" outline rule, colours and the
named photo sets."""
from __future__ import annotations

import os.path as osp

import numpy as np
import pytest

from stn_plugin.datasets import text_rendering as tr


def _signed_area(polygon: np.ndarray) -> float:
    """Positive for a polygon clockwise on screen (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def test_training_and_held_out_fonts_are_disjoint_faces():
    training, held_out = tr.find_training_fonts(), tr.find_held_out_fonts()
    assert training and held_out
    names_t = {osp.basename(f) for f in training}
    names_h = {osp.basename(f) for f in held_out}
    assert not names_t & names_h
    assert all(n.startswith("DejaVu") for n in names_t)
    assert not any("DejaVu" in n or "Mono" in n for n in names_h)
    assert not any(x in n for n in names_t for x in ("ExtraLight", "MathTeXGyre", "Display"))


def test_font_finders_name_the_folders_and_refuse_a_training_face_as_held_out(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        tr.find_training_fonts([str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="fonts-liberation"):
        tr.find_held_out_fonts([str(tmp_path)])
    (tmp_path / "DejaVuSans.ttf").write_bytes(b"")
    with pytest.raises(ValueError, match="DejaVuSans.ttf"):
        tr.find_held_out_fonts([str(tmp_path)])
    assert tr.find_training_fonts([str(tmp_path)]) == [str(tmp_path / "DejaVuSans.ttf")]


def test_render_text_is_the_text_box_plus_the_pad():
    font = tr.load_font(tr.find_training_fonts()[0], 30)
    assert tr.load_font(tr.find_training_fonts()[0], 30) is font      # cached
    left, top, right, bottom = font.getbbox("Hello")
    mask = tr.render_text("Hello", font, pad=4)
    assert mask.shape == (bottom - top + 8, right - left + 8) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert not mask[:4].any() and not mask[-4:].any() and not mask[:, :4].any() and not mask[:, -4:].any()


@pytest.mark.parametrize("size", [7, 14, 40])
def test_ink_box_holds_all_ink_with_the_one_margin(size):
    font = tr.load_font(tr.find_held_out_fonts()[0], size)
    mask, box = tr.flat_word("Quay", font)
    ys, xs = np.nonzero(mask > 0)
    ink_h = ys.max() - ys.min() + 1
    m = max(tr.MIN_MARGIN_PX, tr.WORD_MARGIN * ink_h)
    # index coordinates: the ink's outer pixel edges are half a pixel beyond its centres
    assert box == pytest.approx((xs.min() - 0.5 - m, ys.min() - 0.5 - m, xs.max() + 0.5 + m, ys.max() + 0.5 + m))
    assert tr.WORD_MARGIN == 0.2
    # the mask leaves room for the outline: the box lies inside it
    assert box[0] > -0.5 and box[1] > -0.5 and box[2] < mask.shape[1] - 0.5 and box[3] < mask.shape[0] - 0.5


def test_ink_box_counts_faint_ink_and_floors_the_margin():
    mask = np.zeros((12, 12), np.float32)
    mask[4:8, 3:9] = 1.0
    mask[2, 10] = 0.01                      # a faint anti-aliased pixel is ink too
    assert tr.ink_box(mask, margin=0.0) == (1.0, 0.0, 12.0, 9.0)      # the 1.5 px floor
    assert tr.ink_box(mask, margin=0.5) == (-0.5, -1.5, 13.5, 10.5)   # ink rows 2-7: 6 -> 3 px
    with pytest.raises(ValueError, match="no ink"):
        tr.ink_box(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        tr.flat_word("", tr.load_font(tr.find_training_fonts()[0], 20))


@pytest.mark.parametrize("distortion,points", [("none", 4), ("rotate", 4), ("perspective", 4),
                                               ("curve", 2 * tr.POLYGON_EDGE_POINTS),
                                               ("arc", 2 * tr.POLYGON_EDGE_POINTS)])
def test_one_straight_rule_for_the_outline(distortion, points):
    box = (2.0, 3.0, 30.0, 11.0)
    poly = tr.word_outline(box, distortion)
    assert poly.shape == (points, 2) and poly.dtype == np.float64
    assert poly[0].tolist() == [2.0, 3.0]                       # starts at the word's top-left
    assert _signed_area(poly) == pytest.approx(28.0 * 8.0)      # clockwise on screen, the whole box
    top = poly[: points // 2] if points > 4 else poly[:2]
    assert (top[:, 1] == 3.0).all() and (np.diff(top[:, 0]) > 0).all()


def test_contrasting_colour_stands_out_or_falls_back_to_black_or_white():
    rng = np.random.default_rng(0)
    for under in (0.0, 60.0, 200.0, 255.0):
        fg = tr.contrasting_colour(under, rng, min_contrast=100)
        assert abs(tr.luminance(fg) - under) > 100 or fg.tolist() in ([0.0] * 3, [255.0] * 3)
    assert tr.contrasting_colour(200.0, rng, tries=0).tolist() == [0.0, 0.0, 0.0]
    assert tr.contrasting_colour(50.0, rng, tries=0).tolist() == [255.0, 255.0, 255.0]
    assert tr.luminance(np.array([255.0, 255.0, 255.0])) == pytest.approx(255.0)


def test_photo_sets_are_exactly_what_they_name(monkeypatch):
    photos = tr.background_photos("held_out_words")
    assert [n for n, _ in photos] == list(tr.PHOTO_SETS["held_out_words"])
    for _, img in tr.background_photos("word_scenes"):
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    with pytest.raises(ValueError, match="photo_set"):
        tr.background_photos("holiday")
    monkeypatch.setitem(tr.PHOTO_SETS, "broken", ("skimage.no_such_picture",))
    with pytest.raises(ValueError, match="no_such_picture"):
        tr.background_photos("broken")
