"""Which library versions generated a data set.

The generated benchmark data (digit scenes, word scenes, synthetic words) is drawn
with OpenCV's and Pillow's interpolation and font rasterisation, so its bytes follow
those libraries' versions, not only the seed: OpenCV 5's ``warpPerspective`` gives
other pixels than 4.x. Each generator records :func:`library_versions` in its
annotations, and the repository's set-up pins the same versions
(``requirements/lock.txt``), so published numbers name data a new machine regenerates
bit for bit.

>>> versions = library_versions()
>>> sorted(versions) == sorted(GENERATOR_LIBRARIES)
True
"""
from __future__ import annotations

from importlib import metadata
from typing import Dict, Optional

__all__ = ["GENERATOR_LIBRARIES", "library_versions"]

# the distributions whose numerics decide a generated data set's bytes
GENERATOR_LIBRARIES = ("stn_plugin", "numpy", "opencv-python", "pillow")


def library_versions() -> Dict[str, Optional[str]]:
    """``{distribution: version}`` of :data:`GENERATOR_LIBRARIES` (``None`` where one is
    not installed), to be stored beside generated data."""
    versions: Dict[str, Optional[str]] = {}
    for name in GENERATOR_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
