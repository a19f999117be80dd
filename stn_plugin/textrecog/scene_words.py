"""Curved, arc and perspective words in fonts the synthetic training set never uses,
on real photographs, with their ground-truth polygons (numpy / PIL / OpenCV).

The training crops (:mod:`.synthetic_words`) are rendered in DejaVu faces on
synthetic backgrounds. This set renders words in the Liberation and GNU FreeFont
faces (Debian ``fonts-liberation``, ``fonts-freefont-ttf``) and lays them into the
photographs shipped with scikit-image (``skimage.data``) or scikit-learn
(``load_sample_images``), distorted by the generator's ``perspective`` / ``curve`` /
``arc`` warps. Each sample gives

* ``scene``: the photograph patch with the word in it, ``(H, W, 3)`` uint8 RGB;
* ``polygon``: the word's region in the scene, index coordinates, clockwise from the
  word's start: 4 corners for a perspective word (ICDAR 2015 style), 8 points along
  the top then 8 back along the bottom for a curved or arc word (Total-Text style);
  it is where the flat word's box really went (the warp is known), not an estimate;
* ``crop``: the axis-aligned box around the polygon with a small random margin, what a
  box detector would hand an OCR engine, and ``box`` = ``(x0, y0, x1, y1)``;
* ``word``, ``distortion``, ``font`` (file name), ``background`` (photo name).

A sample depends only on ``(seed, index)`` and the arguments.
"""
from __future__ import annotations

import glob
import math
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .synthetic_words import distort_mask, sample_word

SCENE_DISTORTIONS = ("perspective", "curve", "arc")
#: Font folders of the Debian packages this set draws from (never used in training).
UNSEEN_FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
                    "/usr/share/fonts/truetype/freefont")
_FONT_EXCLUDE = ("Mono",)   # monospaced faces read differently; kept out for a like-for-like set
POLYGON_EDGE_POINTS = 8


def find_unseen_fonts(font_dirs: Sequence[str] = UNSEEN_FONT_DIRS) -> List[str]:
    """Liberation / FreeFont ``.ttf`` files (monospaced faces left out).

    Raises ``FileNotFoundError`` with the install command when none is found.
    """
    fonts = sorted({f for d in font_dirs for f in glob.glob(osp.join(d, "*.ttf"))
                    if not any(x in osp.basename(f) for x in _FONT_EXCLUDE)})
    if not fonts:
        raise FileNotFoundError(f"no Liberation / FreeFont fonts in {list(font_dirs)}: install them with "
                                "`apt-get install -y fonts-liberation fonts-freefont-ttf` (or `make setup`)")
    if any("DejaVu" in osp.basename(f) for f in fonts):
        raise ValueError("the unseen-font set must not use DejaVu, the training fonts")
    return fonts


@lru_cache(maxsize=1)
def background_photos() -> Tuple[Tuple[str, np.ndarray], ...]:
    """``(name, (H, W, 3) uint8 RGB)`` photographs shipped inside scikit-image
    (astronaut, coffee, chelsea, rocket; no download), or, without scikit-image, the two
    of scikit-learn's ``load_sample_images`` (a different set then)."""
    photos = []
    try:
        from skimage import data as skdata
        for name in ("astronaut", "coffee", "chelsea", "rocket"):
            try:
                img = getattr(skdata, name)()
            except Exception:  # noqa: BLE001 - an image a given version does not ship
                continue
            if img.ndim == 3 and img.shape[2] >= 3:
                photos.append((f"skimage.{name}", np.ascontiguousarray(img[..., :3]).astype(np.uint8)))
    except ImportError:
        pass
    if photos:  # the set must not depend on what else is installed
        return tuple(photos)
    try:
        from sklearn.datasets import load_sample_images
        ds = load_sample_images()
        for fname, img in zip(ds.filenames, ds.images):
            photos.append((f"sklearn.{osp.basename(fname)}", np.ascontiguousarray(img).astype(np.uint8)))
    except ImportError:
        pass
    if not photos:
        raise ImportError("the unseen-font set needs photographs from scikit-image or scikit-learn: "
                          "pip install scikit-image (installed by `make setup`)")
    return tuple(photos)


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _flat_word(word: str, font: ImageFont.FreeTypeFont) -> Tuple[np.ndarray, Tuple[float, float, float, float]]:
    """The word's float mask ``(h, w)`` in [0, 1] and the box around its ink with a
    margin of 12% of the ink height, ``(left, top, right, bottom)`` as pixel edges in
    index coordinates."""
    size = font.size
    pad = int(math.ceil(0.3 * size)) + 2
    l, t, r, b = font.getbbox(word)
    img = Image.new("L", (r - l + 2 * pad, b - t + 2 * pad), 0)
    ImageDraw.Draw(img).text((pad - l, pad - t), word, font=font, fill=255)
    mask = np.asarray(img, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(mask > 0.05)
    if len(ys) == 0:
        raise ValueError(f"rendering {word!r} produced no ink")
    m = 0.12 * (ys.max() - ys.min() + 1)
    return mask, (xs.min() - 0.5 - m, ys.min() - 0.5 - m, xs.max() + 0.5 + m, ys.max() + 0.5 + m)


def _box_polygon(box, distortion: str) -> np.ndarray:
    """The flat box's outline, clockwise from top-left: 4 corners for perspective
    (straight lines stay straight), else 8 points per long edge."""
    left, top, right, bottom = box
    if distortion == "perspective":
        return np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
    xs = np.linspace(left, right, POLYGON_EDGE_POINTS)
    return np.concatenate([np.stack([xs, np.full_like(xs, top)], 1),
                           np.stack([xs[::-1], np.full_like(xs, bottom)], 1)], 0)


def _luminance(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def make_scene_word(seed: int, index: int, distortions: Sequence[str] = SCENE_DISTORTIONS,
                    fonts: Optional[Sequence[str]] = None, word_source: str = "mixed",
                    font_size_range: Tuple[int, int] = (28, 44)) -> Dict:
    """Sample ``index`` of the set for ``seed`` (see the module docstring)."""
    bad = [d for d in distortions if d not in SCENE_DISTORTIONS]
    if bad or not distortions:
        raise ValueError(f"distortions must be a non-empty subset of {SCENE_DISTORTIONS}, got {list(distortions)}")
    fonts = list(fonts) if fonts is not None else find_unseen_fonts()
    rng = np.random.default_rng([int(seed), int(index), 14])
    word = sample_word(rng, word_source)
    distortion = distortions[rng.integers(len(distortions))]
    font_path = fonts[rng.integers(len(fonts))]
    mask, box = _flat_word(word, _font(font_path, int(rng.integers(font_size_range[0], font_size_range[1] + 1))))
    distorted, to_distorted = distort_mask(mask, distortion, rng)
    distorted = np.clip(distorted, 0, 1)
    polygon = to_distorted(_box_polygon(box, distortion))

    # the scene: a patch of a photograph around the word, with some context on each side
    name, photo = background_photos()[rng.integers(len(background_photos()))]
    dh, dw = distorted.shape
    text_h = box[3] - box[1]
    mx, my = (rng.uniform(0.3, 1.0, 2) * text_h).astype(int) + 2
    sh, sw = dh + 2 * my, dw + 2 * mx
    scale = max(sh / photo.shape[0], sw / photo.shape[1], rng.uniform(0.4, 1.0))
    if scale != 1.0:
        photo = cv2.resize(photo, (max(sw, round(photo.shape[1] * scale)), max(sh, round(photo.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y0 = int(rng.integers(0, photo.shape[0] - sh + 1))
    x0 = int(rng.integers(0, photo.shape[1] - sw + 1))
    scene = photo[y0:y0 + sh, x0:x0 + sw].astype(np.float32)
    alpha = np.zeros((sh, sw), np.float32)
    alpha[my:my + dh, mx:mx + dw] = distorted
    polygon = polygon + np.array([mx, my])

    under = scene[alpha > 0.5].mean(0) if (alpha > 0.5).any() else scene.reshape(-1, 3).mean(0)
    for _ in range(30):  # a text colour that stands out from the photo under it
        fg = rng.uniform(0, 255, 3)
        if abs(_luminance(fg) - _luminance(under)) > 110:
            break
    else:
        fg = np.zeros(3) if _luminance(under) > 127 else np.full(3, 255.0)
    scene = scene * (1 - alpha[..., None]) + fg.astype(np.float32) * alpha[..., None]
    if rng.random() < 0.5:
        scene = cv2.GaussianBlur(scene, (0, 0), sigmaX=rng.uniform(0.3, 0.8))
    scene = np.clip(scene + rng.normal(0, rng.uniform(0, 6), scene.shape) + 0.5, 0, 255).astype(np.uint8)

    # the box a detector would give: the polygon's bounds plus a small margin
    margin = rng.uniform(0.03, 0.15, 4) * text_h
    bx0 = int(max(0, math.floor(polygon[:, 0].min() - margin[0])))
    by0 = int(max(0, math.floor(polygon[:, 1].min() - margin[1])))
    bx1 = int(min(sw, math.ceil(polygon[:, 0].max() + margin[2]) + 1))
    by1 = int(min(sh, math.ceil(polygon[:, 1].max() + margin[3]) + 1))
    return dict(scene=scene, polygon=polygon, crop=scene[by0:by1, bx0:bx1].copy(), box=(bx0, by0, bx1, by1),
                word=word, distortion=distortion, font=osp.basename(font_path), background=name)


def write_scene_words(out_dir: str, num: int, seed: int = 0, distortions: Sequence[str] = SCENE_DISTORTIONS,
                      word_source: str = "mixed", progress=None) -> Dict[str, str]:
    """Write ``num`` samples: ``scenes/<i>.png`` + ``textdet_scenes.json`` (mmocr
    textspotting layout: polygons with their text), ``crops/<i>.png`` +
    ``textrecog_crops.json`` (mmocr textrecog, with ``distortion``, ``font``, ``box``);
    returns the two annotation paths. ``progress``: optional callable ``(done, total)``."""
    from .text_formats import write_textrecog_json
    import json
    fonts = find_unseen_fonts()
    for sub in ("scenes", "crops"):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    det, rec = [], []
    for i in range(num):
        s = make_scene_word(seed, i, distortions, fonts, word_source)
        name = f"{i:06d}.png"
        cv2.imwrite(osp.join(out_dir, "scenes", name), cv2.cvtColor(s["scene"], cv2.COLOR_RGB2BGR))
        cv2.imwrite(osp.join(out_dir, "crops", name), cv2.cvtColor(s["crop"], cv2.COLOR_RGB2BGR))
        det.append(dict(img_path=f"scenes/{name}", height=int(s["scene"].shape[0]), width=int(s["scene"].shape[1]),
                        instances=[dict(polygon=np.round(s["polygon"], 3).flatten().tolist(),
                                        bbox=list(map(int, s["box"])), bbox_label=0, ignore=False,
                                        text=s["word"])],
                        distortion=s["distortion"], font=s["font"], background=s["background"]))
        rec.append(dict(img_path=f"crops/{name}", text=s["word"], distortion=s["distortion"], font=s["font"],
                        box=list(map(int, s["box"])), scene=f"scenes/{name}"))
        if progress is not None:
            progress(i + 1, num)
    det_path = osp.join(out_dir, "textdet_scenes.json")
    with open(det_path, "w", encoding="utf-8") as f:
        json.dump(dict(metainfo=dict(dataset_type="TextDetDataset", task_name="textspotting",
                                     category=[dict(id=0, name="text")], seed=seed, fonts="unseen"),
                       data_list=det), f)
    rec_path = osp.join(out_dir, "textrecog_crops.json")
    write_textrecog_json(rec_path, rec, seed=seed, fonts="unseen")
    return dict(textdet=det_path, textrecog=rec_path)
