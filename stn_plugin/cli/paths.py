"""Where the shipped configs are, for tools and application code that name them; the
image files a tool is pointed at.

An OpenMMLab-style package ships its configs inside the package (``.mim/configs``)
so that a non-editable install finds them; a source checkout has them in
``configs/`` at the repository root. :func:`config_path` looks in both.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIG_ROOTS = (PACKAGE_DIR / ".mim" / "configs", PACKAGE_DIR.parent / "configs")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def config_path(relative: str) -> Path:
    """The shipped config ``relative`` to the configs folder, e.g. ``'digits/...py'``.

    Raises ``FileNotFoundError`` naming the places it looked."""
    for root in CONFIG_ROOTS:
        path = root / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"config {relative!r} not found under {[str(r) for r in CONFIG_ROOTS]}")


def image_files(path: str) -> List[str]:
    """The image files (by extension, any case: :data:`IMAGE_EXTS`) of the folder
    ``path``, sorted, or ``[path]`` when it is a file. Raises ``ValueError`` naming
    ``path`` when it is neither."""
    if os.path.isdir(path):
        return sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTS))
    if os.path.isfile(path):
        return [path]
    raise ValueError(f"{path!r} is neither a folder nor an image file")
