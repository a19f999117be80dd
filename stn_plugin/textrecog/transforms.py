"""Data pipeline of text recognition, registered in mmdet's ``TRANSFORMS``.

``LoadTextCrop`` -> ``ResizeTextCrop`` -> ``PackTextRecogInputs``. The resize makes a
crop of any size fit the model's input size, so the batch can be stacked.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmengine.structures import LabelData

from ..rectify.images import resized_width, resize_text_crop
from .structures import TextRecogDataSample

COLOR_TYPES = ("color", "grayscale")


def decode_text_crop(data: bytes, color_type: str = "color", source: str = "<bytes>") -> np.ndarray:
    """Encoded image bytes -> ``(H, W, 3)`` RGB or ``(H, W, 1)`` grey uint8 array."""
    if color_type not in COLOR_TYPES:
        raise ValueError(f"color_type must be one of {COLOR_TYPES}, got {color_type!r}")
    flag = cv2.IMREAD_GRAYSCALE if color_type == "grayscale" else cv2.IMREAD_COLOR
    if not data:  # OpenCV asserts on an empty buffer, naming no file
        raise ValueError(f"the image {source} is empty (0 bytes)")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error as err:
        raise ValueError(f"could not decode the image {source}: {err}") from None
    if img is None:
        raise ValueError(f"could not decode the image {source}")
    return img[..., None] if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@TRANSFORMS.register_module()
class LoadTextCrop(BaseTransform):
    """Load a crop from ``results['img_bytes']`` (LMDB) or ``results['img_path']``.

    Adds ``img`` (``(H, W, 3)`` RGB or ``(H, W, 1)`` uint8) and ``ori_shape`` ``(H, W)``.
    """

    def __init__(self, color_type: str = "color") -> None:
        if color_type not in COLOR_TYPES:
            raise ValueError(f"LoadTextCrop color_type must be one of {COLOR_TYPES}, got {color_type!r}")
        self.color_type = color_type

    def transform(self, results: dict) -> dict:
        data = results.get("img_bytes")
        source = results.get("img_path", "<bytes>")
        if data is None:
            if "img_path" not in results:
                raise KeyError("LoadTextCrop needs 'img_bytes' or 'img_path' in the data info")
            try:
                with open(results["img_path"], "rb") as f:
                    data = f.read()
            except OSError as err:
                raise FileNotFoundError(f"cannot read text crop img_path={results['img_path']!r}: {err}") from None
        img = decode_text_crop(data, self.color_type, source)
        results.pop("img_bytes", None)
        results["img"] = img
        results["ori_shape"] = img.shape[:2]
        results["img_shape"] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(color_type={self.color_type!r})"


@TRANSFORMS.register_module()
class ResizeTextCrop(BaseTransform):
    """Resize ``img`` to the model's input size ``scale = (h, w)`` (any crop size in).

    Args:
        scale: ``(h, w)``, e.g. ``(32, 100)``.
        keep_ratio: keep the aspect ratio and pad on the right (see :func:`resize_text_crop`).
        pad_value: constant padding value; ``None`` replicates the border.
    """

    def __init__(self, scale: Sequence[int] = (32, 100), keep_ratio: bool = False,
                 pad_value: Optional[int] = None) -> None:
        if len(scale) != 2 or min(int(s) for s in scale) < 1:
            raise ValueError(f"ResizeTextCrop scale must be (h, w) of positive ints, got {scale!r}")
        self.scale = (int(scale[0]), int(scale[1]))
        self.keep_ratio, self.pad_value = bool(keep_ratio), pad_value

    def transform(self, results: dict) -> dict:
        if "img" not in results:
            raise KeyError("ResizeTextCrop needs 'img' (put LoadTextCrop before it)")
        src_h, src_w = results["img"].shape[:2]
        results["img"] = resize_text_crop(results["img"], self.scale, self.keep_ratio, self.pad_value)
        results["img_shape"] = results["img"].shape[:2]
        if self.keep_ratio and "warp" in results:
            # the crop now fills only the left new_w / w of the input: x shrinks toward -1
            content = resized_width(src_h, src_w, self.scale, True) / self.scale[1]
            warp = np.asarray(results["warp"], np.float32).copy()
            warp[:, 0] = (warp[:, 0] + 1) * content - 1
            results["warp"] = warp
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(scale={self.scale}, keep_ratio={self.keep_ratio})"


@TRANSFORMS.register_module()
class PackTextRecogInputs(BaseTransform):
    """-> ``dict(inputs=(C, h, w) uint8 tensor, data_samples=TextRecogDataSample)``
    (with ``gt_warp`` where the data carries ``warp`` and ``warp_points``)."""

    def __init__(self, meta_keys: Sequence[str] = ("img_path", "ori_shape", "img_shape")) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results["img"].transpose(2, 0, 1))
        sample = TextRecogDataSample()
        sample.gt_text = LabelData(item=str(results.get("text", "")))
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        if "warp" in results and "warp_points" in results:
            sample.gt_warp = LabelData(points=torch.as_tensor(np.asarray(results["warp_points"], np.float32)),
                                       targets=torch.as_tensor(np.asarray(results["warp"], np.float32)))
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
