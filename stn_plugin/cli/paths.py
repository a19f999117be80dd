"""Where the shipped configs are, for tools and application code that name them.

An OpenMMLab-style package ships its configs inside the package (``.mim/configs``)
so that a non-editable install finds them; a source checkout has them in
``configs/`` at the repository root. :func:`config_path` looks in both.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIG_ROOTS = (PACKAGE_DIR / ".mim" / "configs", PACKAGE_DIR.parent / "configs")


def config_path(relative: str) -> Path:
    """The shipped config ``relative`` to the configs folder, e.g. ``'digits/...py'``.

    Raises ``FileNotFoundError`` naming the places it looked."""
    for root in CONFIG_ROOTS:
        path = root / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"config {relative!r} not found under {[str(r) for r in CONFIG_ROOTS]}")
