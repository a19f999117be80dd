"""Text crops as a rectifier reads them: any array, tensor or file in, an ``(H, W, C)``
array with known value scale out, and the small model input made from it.

Value scales: uint8 is ``[0, 255]``; uint16 is ``[0, 65535]`` (16-bit PNGs); a float
array is ``[0, 1]`` when its largest value is at most 1 (scikit-image's convention),
else ``[0, 255]``; other integer types are ``[0, 255]``. Rectified crops come back in
their input's scale and dtype.

Alpha: a 4-channel crop is composited over a white background
(:data:`ALPHA_BACKGROUND`), so text drawn only in the alpha channel (black or
transparent ink on a transparent page) stays readable; the result has 3 channels.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from torch import Tensor

__all__ = ["ALPHA_BACKGROUND", "ImageLike", "TextCrop", "aspect_input", "model_input", "padded_batch", "read_crop",
           "resize_text_crop", "resized_width"]

ImageLike = Union[np.ndarray, Tensor, str]
#: The background (in [0, 255]) that 4-channel crops are composited over.
ALPHA_BACKGROUND = 255.0


class TextCrop:
    """One crop: ``pixels`` ``(H, W, C)`` (C = 1 or 3, RGB order) in its own dtype, and
    ``scale``, the factor that takes its values to ``[0, 255]``. No float copy of a
    large crop is made here: :func:`model_input` shrinks it first, and the sampler
    converts it once."""

    def __init__(self, pixels: np.ndarray, scale: float) -> None:
        self.pixels, self.scale = pixels, scale

    @property
    def size(self) -> Tuple[int, int]:
        return tuple(self.pixels.shape[:2])


def _value_scale(arr: np.ndarray, where: str) -> float:
    if arr.dtype == np.uint8:
        return 1.0
    if arr.dtype == np.uint16:
        return 255.0 / 65535.0
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"{where}: expected uint8, uint16, another integer or a float image, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        top = float(np.nanmax(arr)) if arr.size else 0.0
        return 255.0 if top <= 1.0 else 1.0
    return 1.0


def _composite_alpha(arr: np.ndarray, scale: float) -> np.ndarray:
    """``(H, W, 4)`` -> ``(H, W, 3)`` over :data:`ALPHA_BACKGROUND`, in ``arr``'s dtype."""
    full = 255.0 / scale  # the value of full opacity / white in this dtype
    alpha = arr[..., 3:].astype(np.float32) / np.float32(full)
    out = arr[..., :3] * alpha + np.float32(ALPHA_BACKGROUND / scale) * (1 - alpha)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(arr.dtype)


def read_crop(image: ImageLike, where: str, channel_order: str = "rgb") -> TextCrop:
    """One input as a :class:`TextCrop` (RGB order). ``image``: an ``(H, W)`` /
    ``(H, W, 1|3|4)`` array, a ``(C, H, W)`` tensor, or an image file (read with OpenCV,
    alpha and 16 bits kept; always 3 channels). ``where`` names the input in errors,
    e.g. ``'images[3]'``."""
    from_file = isinstance(image, str)
    if from_file:
        arr = cv2.imread(image, cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ValueError(f"{where}: cannot read image file {image!r}")
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    elif isinstance(image, Tensor):
        if image.dim() != 3:
            raise ValueError(f"{where}: expected a (C, H, W) tensor, got shape {tuple(image.shape)}")
        arr = image.detach().cpu().permute(1, 2, 0).numpy()
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise TypeError(f"{where}: expected a numpy array, a tensor or a path, got {type(image).__name__}")
    if not from_file and channel_order == "bgr" and arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[..., [2, 1, 0, 3][:arr.shape[2]]]
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise ValueError(f"{where}: expected (H, W), (H, W, 1|3|4) or (C, H, W), got shape {arr.shape}")
    scale = _value_scale(arr, where)
    if arr.shape[2] == 4:
        arr = _composite_alpha(arr, scale)
    if from_file and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, 2)
    return TextCrop(np.ascontiguousarray(arr), scale)


def resized_width(src_h: int, src_w: int, scale: Tuple[int, int], keep_ratio: bool) -> int:
    """Width the crop's content takes in the resized ``(h, w)`` input."""
    h, w = scale
    return w if not keep_ratio else max(1, min(w, round(src_w * h / src_h)))


def resize_text_crop(img: np.ndarray, scale: Tuple[int, int], keep_ratio: bool = False,
                     pad_value: Optional[int] = None) -> np.ndarray:
    """Resize ``(H, W, C)`` to ``scale = (h, w)``.

    ``keep_ratio=True`` scales to height ``h``, clips the width to ``w`` and pads on the
    right (replicating the border, or with ``pad_value``). Area interpolation when
    shrinking, bilinear when enlarging.
    """
    h, w = scale
    src_h, src_w = img.shape[:2]
    new_w = resized_width(src_h, src_w, scale, keep_ratio)
    interp = cv2.INTER_AREA if (new_w < src_w and h < src_h) else cv2.INTER_LINEAR
    out = cv2.resize(img, (new_w, h), interpolation=interp)
    if out.ndim == 2:
        out = out[..., None]
    if new_w < w:
        if pad_value is None:
            out = cv2.copyMakeBorder(out, 0, 0, 0, w - new_w, cv2.BORDER_REPLICATE)
        else:
            out = cv2.copyMakeBorder(out, 0, 0, 0, w - new_w, cv2.BORDER_CONSTANT, value=[pad_value] * 4)
        if out.ndim == 2:
            out = out[..., None]
    return out


def model_input(crop: TextCrop, size: Tuple[int, int], channels: int) -> np.ndarray:
    """``(channels, h, w)`` float32 in ``[0, 255]``: ``crop`` resized to the model's
    ``size = (h, w)`` as in training (:func:`resize_text_crop`), then given the model's
    channel count (grey repeated, colour averaged). The crop is resized in its own dtype
    before any float conversion, so a huge crop costs no full-size copy."""
    pixels = crop.pixels
    if pixels.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        pixels = pixels.astype(np.float32)  # dtypes OpenCV's resize does not take
    small = resize_text_crop(pixels, size).astype(np.float32)
    if crop.scale != 1 or pixels.dtype != np.uint8:
        small = np.clip(small * np.float32(crop.scale), 0, 255)
    if small.shape[2] != channels:
        small = np.repeat(small, channels, 2) if small.shape[2] == 1 else small.mean(2, keepdims=True)
    return small.transpose(2, 0, 1)


def aspect_input(crop: TextCrop, height: int, width: int, channels: int) -> np.ndarray:
    """``(channels, height, width)`` float32 in ``[0, 255]``: ``crop`` resized to
    ``height x width`` (for an input that keeps the crop's aspect, ``width`` comes from
    the net, e.g. :meth:`~stn_plugin.rectify.outline_net.TextOutlineNet.input_width`)."""
    return model_input(crop, (height, width), channels)


def padded_batch(inputs: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """``(N, C, h, W_max)`` float32: ``(C, h, w_i)`` arrays (already normalised) padded
    with zeros on the right, and their widths ``(N,)`` int64."""
    if not inputs:
        raise ValueError("padded_batch needs at least one input")
    c, h = inputs[0].shape[:2]
    widths = np.array([a.shape[2] for a in inputs], np.int64)
    out = np.zeros((len(inputs), c, h, int(widths.max())), np.float32)
    for i, a in enumerate(inputs):
        if a.shape[:2] != (c, h):
            raise ValueError(f"inputs[{i}] is {a.shape}, expected ({c}, {h}, w)")
        out[i, :, :, :a.shape[2]] = a
    return out, widths
