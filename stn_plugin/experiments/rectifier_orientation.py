"""Does an RoI rectifier turn the digits upright? Its learned rotation against the true one.

For each annotated digit of a digit-scenes split, the trained detector's RoI rectifier
is run on the ground-truth box (so the answer does not depend on the proposals), and
two angles are compared, both in image pixels (x right, y down, degrees, positive =
clockwise on screen):

* the digit's rotation: the rotation of the similarity closest (least squares over the
  digit's 28x28 grid) to its recorded ``digit_to_canvas`` map;
* the rectifier's rotation: the rotation of the similarity closest (least squares over
  a grid of output points) to its sampling map from the rectified RoI's output frame
  to the image (the identity sampler, and :class:`SingleRoIExtractor`, have 0).

A rectifier that turns the digit upright has its rotation equal to the digit's, so
the *residual* rotation ``wrap(digit - rectifier)`` is what the bbox head still sees:
without a rectifier it is the digit's rotation itself. :func:`orientation_report` gives
the mean absolute values of both, the least-squares slope of rectifier against digit
angle (1: derotates, 0: ignores the rotation) and the circular correlation.

    python tools/digit_scenes_orientation.py CONFIG CHECKPOINT --data data/digit_scenes_any-orientation_test
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from ..geometry.transforms import Transform
from ..detection.roi_rectifiers import RoIRectifierExtractor

__all__ = ["similarity_angle", "digit_rotation", "rectifier_rotation", "orientation_report", "main"]


def _grid(n: int, dtype=torch.float64) -> Tensor:
    """``(n*n, 2)`` points of a regular grid over ``[-1, 1]^2`` (x, y)."""
    t = torch.linspace(-1.0, 1.0, n, dtype=dtype)
    y, x = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], -1)


def similarity_angle(src: Tensor, dst: Tensor) -> Tensor:
    """Rotation (radians) of the least-squares similarity ``dst ~ s R src + t``.

    ``src``, ``dst``: ``(N, P, 2)`` (or ``(P, 2)``) point pairs in the same axes; returns
    ``(N,)`` (or a scalar) in ``(-pi, pi]``. For a linear map ``J`` and points
    symmetric about their centre, this is ``atan2(J10 - J01, J00 + J11)``.
    """
    zs = torch.complex(src[..., 0], src[..., 1])
    zd = torch.complex(dst[..., 0], dst[..., 1])
    zs = zs - zs.mean(-1, keepdim=True)
    zd = zd - zd.mean(-1, keepdim=True)
    return torch.angle((zs.conj() * zd).sum(-1))


def digit_rotation(digit_to_canvas: Sequence[Sequence[float]]) -> float:
    """Rotation (degrees) of a digit from its 3x3 ``digit_to_canvas`` map (digit pixels,
    continuous, 28x28 -> canvas pixels), perspective included through the fit."""
    m = np.asarray(digit_to_canvas, np.float64)
    src = (_grid(8).numpy() + 1.0) * 14.0  # over the digit's 28x28 square
    dst = cv2.perspectiveTransform(src[None], m)[0]
    return math.degrees(similarity_angle(torch.from_numpy(src), torch.from_numpy(dst)).item())


def rectifier_rotation(transform: Transform, boxes: Tensor, points: int = 7) -> Tensor:
    """Rotation (degrees, ``(N,)``) of each RoI's sampling map, output frame -> image.

    ``transform``: a batch of N RoI-frame transforms (normalised output -> normalised box
    coordinates, see :class:`RoIRectifierExtractor`); ``boxes (N, 4)`` ``x1, y1, x2, y2``
    in image pixels.
    """
    out = _grid(points, boxes.dtype).to(boxes.device)
    box_pts = transform.map_points(out[None].expand(boxes.shape[0], -1, -1))
    half = (boxes[:, 2:] - boxes[:, :2])[:, None, :] / 2
    image_pts = (boxes[:, :2] + boxes[:, 2:])[:, None, :] / 2 + half * box_pts
    return torch.rad2deg(similarity_angle(out[None], image_pts))


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def orientation_report(digit_deg: np.ndarray, rect_deg: np.ndarray) -> Dict[str, float]:
    """Summary of paired angles (degrees): mean ``|digit|``, mean ``|rectifier|``, mean
    ``|residual|`` (``wrap(digit - rectifier)``), the least-squares slope of rectifier on
    digit angle, and the circular correlation (Fisher-Lee) of the two."""
    d, r = np.radians(np.asarray(digit_deg, np.float64)), np.radians(np.asarray(rect_deg, np.float64))
    if d.size == 0:
        raise ValueError("orientation_report needs at least one digit")
    dd, rr = d - np.angle(np.exp(1j * d).mean()), r - np.angle(np.exp(1j * r).mean())
    denom = math.sqrt((np.sin(dd) ** 2).sum() * (np.sin(rr) ** 2).sum())
    x = np.degrees(d)
    slope = float(((x - x.mean()) * (np.degrees(r) - np.degrees(r).mean())).sum() / max(((x - x.mean()) ** 2).sum(),
                                                                                        1e-12))
    return dict(count=int(d.size), mean_abs_digit=float(np.abs(np.degrees(d)).mean()),
                mean_abs_rectifier=float(np.abs(np.degrees(r)).mean()),
                mean_abs_residual=float(np.abs(_wrap(np.degrees(d - r))).mean()),
                slope=slope, circular_correlation=float((np.sin(dd) * np.sin(rr)).sum() / denom) if denom else 0.0)


def _rectifier_of(model) -> RoIRectifierExtractor:
    ext = getattr(model.roi_head, "bbox_roi_extractor", None)
    if not isinstance(ext, RoIRectifierExtractor):
        raise TypeError(f"the detector's bbox RoI extractor is {type(ext).__name__}, not an RoI rectifier: "
                        "its rotation is always 0")
    return ext


@torch.no_grad()
def measure(model, data: Path, split: str = "val", max_images: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Digit and rectifier rotations (degrees) of every annotated digit of ``data``'s
    ``split``, with the rectifier run on the ground-truth boxes."""
    from mmdet.structures.bbox import bbox2roi

    coco = json.loads((data / "annotations" / f"{split}.json").read_text())
    per_image: Dict[int, List[dict]] = {}
    for ann in coco["annotations"]:
        per_image.setdefault(ann["image_id"], []).append(ann)
    images = [im for im in coco["images"] if im["id"] in per_image][:max_images]
    ext = _rectifier_of(model)
    digits, rects = [], []
    device = next(model.parameters()).device
    for im in images:
        bgr = cv2.imread(str(data / split / im["file_name"]), cv2.IMREAD_COLOR)
        batch = model.data_preprocessor(dict(inputs=[torch.from_numpy(bgr).permute(2, 0, 1).contiguous()]), False)
        feats = model.extract_feat(batch["inputs"].to(device))
        anns = per_image[im["id"]]
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns], dtype=torch.float32, device=device)
        ext(feats[:ext.num_inputs], bbox2roi([boxes]))
        rects.append(rectifier_rotation(ext.transform_of_last(), ext.last_rois[:, 1:]).cpu().numpy())
        digits.extend(digit_rotation(a["digit_to_canvas"]) for a in anns)
    return dict(digit=np.asarray(digits), rectifier=np.concatenate(rects) if rects else np.zeros(0))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the detector's config")
    parser.add_argument("checkpoint", help="its trained checkpoint")
    parser.add_argument("--data", type=Path, required=True, help="a digit-scenes folder")
    parser.add_argument("--split", default="val", help="the split to measure (the test scenes are a 'val' split)")
    parser.add_argument("--max-images", type=int, default=None, help="measure only the first N images")
    args = parser.parse_args(argv)
    from mmdet.apis import init_detector

    torch.manual_seed(0)
    model = init_detector(args.config, args.checkpoint, device="cpu")
    angles = measure(model, args.data, args.split, args.max_images)
    report = orientation_report(angles["digit"], angles["rectifier"])
    print(json.dumps(dict(config=str(args.config), **{k: round(v, 4) for k, v in report.items()})), flush=True)
    return report


if __name__ == "__main__":
    main()
