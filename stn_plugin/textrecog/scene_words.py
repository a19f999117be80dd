"""Curved, arc and perspective words in fonts the synthetic training set never uses,
on real photographs, with their ground-truth polygons (numpy / PIL / OpenCV).

The training crops (:mod:`.synthetic_words`) are rendered in DejaVu faces on
synthetic backgrounds. This set renders words in the held-out Liberation and GNU
FreeFont faces (Debian ``fonts-liberation``, ``fonts-freefont-ttf``) and lays them
into the colour photographs shipped with scikit-image (:data:`PHOTO_SET`), distorted
by the generator's ``perspective`` / ``curve`` / ``arc`` warps; fonts, flat word,
outline, photographs and colours come from :mod:`stn_plugin.datasets.text_rendering`.
Each sample gives

* ``scene``: the photograph patch with the word in it, ``(H, W, 3)`` uint8 RGB;
* ``polygon``: the word's region in the scene, index coordinates, clockwise from the
  word's start: 4 corners for a perspective word (ICDAR 2015 style), 8 points along
  the top then 8 back along the bottom for a curved or arc word (Total-Text style);
  it is where the flat word's box (its ink plus ``WORD_MARGIN`` ink heights) really
  went (the warp is known), not an estimate;
* ``crop``: the axis-aligned box around the polygon with a small random margin, what a
  box detector would hand an OCR engine, and ``box`` = ``(x0, y0, x1, y1)``;
* ``word``, ``distortion``, ``font`` (file name), ``background`` (photo name).

A sample depends only on ``(seed, index)`` and the arguments.
"""
from __future__ import annotations

import math
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.text_rendering import (background_photos, contrasting_colour, find_held_out_fonts, flat_word,
                                       load_font, luminance, word_outline)
from .synthetic_words import distort_mask, sample_word

SCENE_DISTORTIONS = ("perspective", "curve", "arc")
#: The photographs the words lie in (:data:`stn_plugin.datasets.text_rendering.PHOTO_SETS`).
PHOTO_SET = "held_out_words"


def make_scene_word(seed: int, index: int, distortions: Sequence[str] = SCENE_DISTORTIONS,
                    fonts: Optional[Sequence[str]] = None, word_source: str = "mixed",
                    font_size_range: Tuple[int, int] = (28, 44)) -> Dict:
    """Sample ``index`` of the set for ``seed`` (see the module docstring)."""
    bad = [d for d in distortions if d not in SCENE_DISTORTIONS]
    if bad or not distortions:
        raise ValueError(f"distortions must be a non-empty subset of {SCENE_DISTORTIONS}, got {list(distortions)}")
    fonts = list(fonts) if fonts is not None else find_held_out_fonts()
    rng = np.random.default_rng([int(seed), int(index), 14])
    word = sample_word(rng, word_source)
    distortion = distortions[rng.integers(len(distortions))]
    font_path = fonts[rng.integers(len(fonts))]
    mask, box = flat_word(word, load_font(font_path, int(rng.integers(font_size_range[0], font_size_range[1] + 1))))
    distorted, to_distorted = distort_mask(mask, distortion, rng)
    distorted = np.clip(distorted, 0, 1)
    polygon = to_distorted(word_outline(box, distortion))

    # the scene: a patch of a photograph around the word, with some context on each side
    photos = background_photos(PHOTO_SET)
    name, photo = photos[rng.integers(len(photos))]
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
    fg = contrasting_colour(luminance(under), rng, min_contrast=110, tries=30)
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
    fonts = find_held_out_fonts()
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
