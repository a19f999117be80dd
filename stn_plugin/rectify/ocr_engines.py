"""Read text crops with an OCR engine: the one place the package calls one.

>>> texts = read_text(crops, engine='tesseract')          # doctest: +SKIP
>>> texts = read_text(crops, engine='rapidocr')           # doctest: +SKIP

Each crop is read as one line of text (a word or a text line), no detection:

* ``'tesseract'``: Tesseract 5 as one text line (``--psm 7``), a system program
  (``apt-get install tesseract-ocr tesseract-ocr-eng``); options of :func:`run_tesseract`.
* ``'rapidocr'``: the PP-OCRv4 recognizer (ONNX, in the ``rapidocr_onnxruntime``
  wheel, so it runs offline; ``pip install 'stn_plugin[ocr]'``), recognition only: no
  detector, no orientation classifier; options of :func:`run_rapidocr`.

Crops are ``(H, W, 3)`` RGB, ``(H, W, 1)`` or ``(H, W)`` grey, uint8, of any size.
numpy, OpenCV and the engines only (no torch, no OpenMMLab).
"""
from __future__ import annotations

import inspect
import os.path as osp
import shutil
import subprocess
import tempfile
from functools import lru_cache
from typing import List, Optional, Sequence

import cv2
import numpy as np

__all__ = ["ENGINES", "RAPIDOCR_HELP", "TESSERACT_HELP", "engine_available", "engine_missing_reason",
           "rapidocr_available", "read_text", "run_rapidocr", "run_tesseract", "tesseract_available"]

#: The engines :func:`read_text` knows.
ENGINES = ("tesseract", "rapidocr")

TESSERACT_HELP = ("Tesseract is not installed: on Debian/Ubuntu run "
                  "`apt-get install -y tesseract-ocr tesseract-ocr-eng` (or point --tesseract-cmd at it)")
RAPIDOCR_HELP = ("the 'rapidocr' engine needs rapidocr_onnxruntime (PP-OCRv4, its models inside the wheel): "
                 "pip install 'stn_plugin[ocr]'")


def _rgb_crops(crops: Sequence[np.ndarray]) -> List[np.ndarray]:
    """``crops`` as ``(H, W, 3)`` uint8 RGB; ``ValueError`` naming the first bad one."""
    if isinstance(crops, np.ndarray):
        raise TypeError("crops: expected a sequence of (H, W, 3) uint8 arrays, got one array "
                        f"of shape {crops.shape} (wrap a single crop in a list)")
    out = []
    for i, crop in enumerate(crops):
        arr = np.asarray(crop)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, 2)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or min(arr.shape[:2]) < 1:
            raise ValueError(f"crops[{i}]: expected an (H, W, 3), (H, W, 1) or (H, W) uint8 array with H, W >= 1, "
                             f"got shape {np.shape(crop)} dtype {getattr(crop, 'dtype', type(crop).__name__)}")
        out.append(np.ascontiguousarray(arr))
    return out


# -- Tesseract ----------------------------------------------------------------------------
def tesseract_available(cmd: str = "tesseract") -> bool:
    """Whether the Tesseract executable ``cmd`` is on the PATH (or a path to one)."""
    return shutil.which(cmd) is not None


def run_tesseract(crops: Sequence[np.ndarray], cmd: str = "tesseract", lang: str = "eng", psm: int = 7,
                  whitelist: Optional[str] = None, pad: int = 8, min_height: int = 48) -> List[str]:
    """Read each crop (``(H, W, C)`` uint8) with Tesseract as one text line (``--psm 7``).

    Crops lower than ``min_height`` are scaled up (aspect kept) and all get a
    ``pad``-pixel replicated border; one Tesseract process reads them all (an image
    list). Raises ``FileNotFoundError`` with install instructions if Tesseract is missing.
    """
    if not tesseract_available(cmd):
        raise FileNotFoundError(TESSERACT_HELP)
    if not crops:
        return []
    with tempfile.TemporaryDirectory(prefix="tess_") as tmp:
        paths = []
        for i, crop in enumerate(crops):
            img = crop if crop.shape[2] == 3 else np.repeat(crop, 3, 2)
            if img.shape[0] < min_height:
                s = min_height / img.shape[0]
                img = cv2.resize(img, (max(1, round(img.shape[1] * s)), min_height), interpolation=cv2.INTER_CUBIC)
            img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            p = osp.join(tmp, f"{i:06d}.png")
            cv2.imwrite(p, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            paths.append(p)
        listing = osp.join(tmp, "list.txt")
        with open(listing, "w") as f:
            f.write("\n".join(paths) + "\n")
        args = [cmd, listing, "stdout", "--psm", str(psm), "-l", lang]
        if whitelist:
            args += ["-c", f"tessedit_char_whitelist={whitelist}"]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        pages = proc.stdout.split("\f")
        if len(pages) >= len(paths):
            return [p.strip() for p in pages[:len(paths)]]
        # unexpected page count: fall back to one process per crop
        out = []
        for p in paths:
            r = subprocess.run(args[:1] + [p] + args[2:], capture_output=True, text=True)
            out.append(r.stdout.strip())
        return out


# -- PP-OCRv4 through rapidocr_onnxruntime -------------------------------------------------
def rapidocr_available() -> bool:
    """Whether ``rapidocr_onnxruntime`` can be imported."""
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4)
def _rapidocr_engine(threads: Optional[int]):
    """One ``RapidOCR`` per thread setting, created on first use (loading its ONNX
    sessions takes a fraction of a second; reading a crop a few milliseconds)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as err:
        raise ImportError(f"{RAPIDOCR_HELP} ({err})") from None
    kwargs = {}
    if threads is not None:
        kwargs = dict(intra_op_num_threads=int(threads), inter_op_num_threads=1)
    return RapidOCR(**kwargs)


def run_rapidocr(crops: Sequence[np.ndarray], threads: Optional[int] = None, batch_size: int = 1) -> List[str]:
    """Read each crop (``(H, W, 3)`` uint8 RGB) with PP-OCRv4's recognizer, as one line.

    Recognition only (the crop is the text's box): the recognizer resizes each crop to
    48 pixels high, its aspect kept. ``batch_size``: crops per ONNX run. With more than
    one, crops of similar aspect are batched and padded to the widest, as PaddleOCR
    does, so a reading can depend on the other crops of the call; the default, 1, reads
    each crop alone. ``threads``: onnxruntime's intra-op threads (None: its default,
    all cores). Raises ``ImportError`` naming the extra to install when
    ``rapidocr_onnxruntime`` is missing.
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads!r}")
    engine = _rapidocr_engine(None if threads is None else int(threads))
    if not crops:
        return []
    bgr = [cv2.cvtColor(np.ascontiguousarray(c), cv2.COLOR_RGB2BGR) for c in _rgb_crops(crops)]
    texts: List[str] = []
    for start in range(0, len(bgr), int(batch_size)):
        results, _ = engine.text_rec(bgr[start:start + int(batch_size)])
        texts += [str(r[0]).strip() for r in results]
    return texts


# -- one entry point -----------------------------------------------------------------------
_RUNNERS = {"tesseract": run_tesseract, "rapidocr": run_rapidocr}


def engine_available(engine: str, **options) -> bool:
    """Whether ``engine`` can run here (Tesseract's ``cmd`` option is honoured)."""
    return engine_missing_reason(engine, **options) is None


def engine_missing_reason(engine: str, **options) -> Optional[str]:
    """None when ``engine`` can run here, else what to install; ``ValueError`` for an
    unknown engine."""
    _check_engine(engine)
    if engine == "tesseract":
        return None if tesseract_available(options.get("cmd", "tesseract")) else TESSERACT_HELP
    return None if rapidocr_available() else RAPIDOCR_HELP


def _check_engine(engine: str) -> None:
    if engine not in _RUNNERS:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")


def read_text(crops: Sequence[np.ndarray], engine: str = "tesseract", **options) -> List[str]:
    """The text of each crop (``(H, W, 3)`` uint8 RGB, or grey), read by ``engine``
    (:data:`ENGINES`) as one line; one string per crop, ``''`` where it reads nothing.

    ``options`` go to the engine's runner (:func:`run_tesseract`: ``cmd``, ``lang``,
    ``psm``, ``whitelist``, ``pad``, ``min_height``; :func:`run_rapidocr`: ``threads``,
    ``batch_size``). Raises ``ValueError`` for an unknown engine or a malformed crop,
    ``TypeError`` for an option the engine does not take, ``FileNotFoundError``
    (Tesseract) or ``ImportError`` (rapidocr) naming what to install.
    """
    _check_engine(engine)
    runner = _RUNNERS[engine]
    known = [p for p in inspect.signature(runner).parameters if p != "crops"]
    bad = sorted(set(options) - set(known))
    if bad:
        raise TypeError(f"read_text: engine {engine!r} takes the options {', '.join(known)}; got {', '.join(bad)}")
    return runner(_rgb_crops(crops), **options)
