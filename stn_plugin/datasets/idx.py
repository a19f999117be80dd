"""Reader and writer for the IDX file format of the original MNIST distribution.

An IDX file is a big-endian header -- two zero bytes, a type code, the number of
dimensions ``d`` -- followed by ``d`` unsigned 32-bit sizes and the data in C order.
MNIST ships ``train-images-idx3-ubyte`` (``(60000, 28, 28)`` uint8),
``train-labels-idx1-ubyte`` (``(60000,)`` uint8) and the ``t10k-*`` test files, often
gzipped. Imports nothing from the OpenMMLab stack.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

# IDX type code -> numpy dtype (big-endian where it matters).
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# (split) -> (image file stem, label file stem) of the standard MNIST release.
MNIST_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _open(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed, detected from its first bytes).

    Returns:
        np.ndarray: the array with the shape and dtype the header declares (native
        byte order), e.g. ``(N, 28, 28)`` uint8 for MNIST images.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the header is not IDX (bad magic, unknown type code) or the
            payload is shorter/longer than the header's sizes say.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with _open(path) as f:
        header = f.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0:
            raise ValueError(f"{path} is not an IDX file: its magic number {header!r} does not start "
                             "with two zero bytes")
        type_code, ndim = header[2], header[3]
        if type_code not in IDX_DTYPES:
            raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02x}; known: "
                             f"{', '.join(f'0x{c:02x}' for c in IDX_DTYPES)}")
        dims_raw = f.read(4 * ndim)
        if len(dims_raw) != 4 * ndim:
            raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
        shape = struct.unpack(f">{ndim}I", dims_raw)
        dtype = IDX_DTYPES[type_code]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        payload = f.read(expected + 1)
    if len(payload) != expected:
        raise ValueError(f"{path}: IDX payload has {len(payload)}{'+' if len(payload) > expected else ''} "
                         f"bytes but the header's shape {shape} of {dtype} needs {expected}")
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends in ``.gz``).

    Supports the IDX dtypes (uint8, int8, int16, int32, float32, float64).
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("=").str: code for code, dt in IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=").str
    if key not in codes:
        raise ValueError(f"array dtype {array.dtype} cannot be written as IDX; use one of "
                         f"{sorted(str(d) for d in IDX_DTYPES.values())}")
    if array.ndim > 255:
        raise ValueError("IDX supports at most 255 dimensions")
    code = codes[key]
    data = (struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + np.ascontiguousarray(array.astype(IDX_DTYPES[code])).tobytes())
    compress = path.suffix == ".gz" if compress is None else compress
    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open(path, "wb") if compress else open(path, "wb")) as f:
        f.write(data)
    return path


def _find(root: Path, stem: str) -> Path:
    # the official names, also with '.' instead of '-' before idx (a common rename)
    candidates = [stem, stem.replace("-idx", ".idx")]
    for name in candidates:
        for suffix in ("", ".gz"):
            p = root / (name + suffix)
            if p.is_file():
                return p
    raise FileNotFoundError(f"no {stem}[.gz] in {root}: full MNIST needs the four standard IDX files "
                            f"({', '.join(s for pair in MNIST_IDX_FILES.values() for s in pair)})")


def load_mnist_idx(root: PathLike, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Load a split of full MNIST from a directory holding the standard IDX files.

    Args:
        root: directory with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
            ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``.
        split: ``'train'`` (60,000 digits) or ``'test'`` (10,000).

    Returns:
        ``(images (N, 28, 28) uint8, labels (N,) int64)``.
    """
    if split not in MNIST_IDX_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_IDX_FILES)}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST IDX directory not found: {root}")
    img_stem, lbl_stem = MNIST_IDX_FILES[split]
    images = read_idx(_find(root, img_stem))
    labels = read_idx(_find(root, lbl_stem))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{root}: MNIST {split} images {images.shape} and labels {labels.shape} do not "
                         "match (need (N, H, W) and (N,))")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)
