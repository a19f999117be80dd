"""Rectify text crops with an exported outline rectifier: ONNX Runtime, numpy and
OpenCV, no PyTorch (this module imports none; load it by file path to keep torch out of
the process entirely, since the ``stn_plugin`` package itself imports torch).

    from stn_plugin.deployment.onnx_text_rectifier import OnnxTextRectifier
    rectifier = OnnxTextRectifier.from_pretrained()   # the shipped text-lines.onnx
    flat = rectifier(crops)              # list of (h, w, 3) uint8 RGB crops

The steps mirror :class:`stn_plugin.rectify.TextRectifier` with ``out_size='text'``:
each crop resized to the net's height at its own aspect (the same OpenCV resize as in
training), normalised and zero-padded into one batch; the graph predicts the outline
(:mod:`~stn_plugin.deployment.text_rectifier_onnx`); each edge is resampled (spaced as the file's
``spacing`` says, ``TextOutlineNet``'s option) to the
file's ``edge_points``; the thin-plate spline through the outline's control points
(the rows of :func:`stn_plugin.geometry.outline.outline_tps`) is solved in float64; the
output takes the size of the region it samples (the height between the edges, the
length of the centre line: :func:`stn_plugin.geometry.frames.region_sizes`), and the
crop is sampled once with ``cv2.remap`` (bilinear, border replicated).

Coordinates: normalised ``[-1, 1]`` at the crop's outer pixel edges; OpenCV's maps are
index coordinates (pixel centres on integers), ``index = (n + 1) / 2 * size - 0.5``.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ["OnnxTextRectifier"]

_FORMAT = "stn_plugin.text_rectifier.onnx"
_PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "textrecog", "pretrained")
_COLUMN_STRIDE = 8
_FRAME_POINTS = 33
_MIN_SIDE = 8


def _kernel(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d2 = ((points[:, None, :] - centres[None]) ** 2).sum(-1)
    return d2 * np.log(np.maximum(d2, 1e-300))


def _band(edges: np.ndarray, px: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(heights (L,), centre-line steps (L - 1,))`` of one crop's ``(2, L, 2)`` edges in
    units proportional to crop pixels (``stn_plugin.rectify.outline_net._band``)."""
    heights = np.linalg.norm((edges[1] - edges[0]) * px, axis=1)
    steps = np.linalg.norm(np.diff((edges[0] + edges[1]) / 2 * px, axis=0), axis=1)
    return heights, steps


def _perspective_weights(h: np.ndarray, steps: np.ndarray, ramp: Tuple[float, float]) -> np.ndarray:
    """``TextOutlineNet``'s ``'perspective'`` step weights from :func:`_band`'s measures
    (``stn_plugin.rectify.outline_net._perspective_weights``)."""
    t = np.concatenate([[0.0], np.cumsum(steps)])
    t = t / max(t[-1], 1e-6)
    t_mean, h_mean = t.mean(), h.mean()
    slope = ((t - t_mean) * (h - h_mean)).sum() / max(((t - t_mean) ** 2).sum(), 1e-9)
    floor = 0.1 * h_mean
    fitted = np.maximum(h_mean + slope * (t - t_mean), floor)
    start, end = max(h_mean - slope * t_mean, floor), max(h_mean + slope * (1 - t_mean), floor)
    strength = np.clip((abs(np.log(end / start)) - ramp[0]) / (ramp[1] - ramp[0]), 0.0, 1.0)
    return (2 / (fitted[1:] + fitted[:-1])) ** strength


class _Spline:
    """A TPS with fixed targets ``(K, 2)``: the (K+3) system inverted once."""

    def __init__(self, targets: np.ndarray) -> None:
        k = len(targets)
        system = np.zeros((k + 3, k + 3))
        system[:k, :k] = _kernel(targets, targets)
        system[:k, k] = system[k, :k] = 1.0
        system[:k, k + 1:] = targets
        system[k + 1:, :k] = targets.T
        self.targets, self.inverse = targets, np.linalg.inv(system)

    def map(self, source: np.ndarray, points: np.ndarray) -> np.ndarray:
        coef = self.inverse @ np.concatenate([source, np.zeros((3, 2))])
        k = len(self.targets)
        return _kernel(points, self.targets) @ coef[:k] + coef[k] + points @ coef[k + 1:]


class OnnxTextRectifier:
    """An exported outline rectifier in ONNX Runtime (see the module docstring).

    Args:
        path: the ``.onnx`` file written by
            :func:`~stn_plugin.deployment.text_rectifier_onnx.export_text_rectifier_onnx`.
        num_threads: ONNX Runtime intra-op threads (default: its own choice).
        keep_flat: pass crops the net judges flat (flatness above ``flat_threshold``)
            through untouched.
        max_side: the longest output side; longer regions shrink with their aspect kept.
    """

    def __init__(self, path: str, num_threads: Optional[int] = None, keep_flat: bool = False,
                 flat_threshold: float = 0.5, max_side: int = 4096) -> None:
        import onnxruntime as ort

        if not os.path.isfile(path):
            raise FileNotFoundError(f"ONNX rectifier not found: {path!r}")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path!r} is not an exported text rectifier (metadata format {meta.get('format')!r}, "
                             f"expected {_FORMAT!r})")
        self.name = meta.get("name", "rectifier")
        self.mean = np.asarray(json.loads(meta["mean"]), np.float32)[:, None, None]
        self.std = np.asarray(json.loads(meta["std"]), np.float32)[:, None, None]
        self.height, self.max_width = int(meta["height"]), int(meta["max_width"])
        self.edge_points, self.rows = int(meta["edge_points"]), int(meta["rows"])
        self.outline_margin = tuple(json.loads(meta.get("outline_margin", "[0, 0]")))
        # files exported before the spacing option placed the points where the columns predict
        self.spacing = meta.get("spacing", "predicted")
        if self.spacing not in ("arc_length", "perspective", "predicted"):
            raise ValueError(f"{path!r}: unknown outline spacing {self.spacing!r} in its metadata")
        self.perspective_ramp = tuple(json.loads(meta.get("perspective_ramp", "[0.1, 0.2]")))
        xs = np.linspace(-1.0, 1.0, self.edge_points)
        self.spline = _Spline(np.concatenate([np.stack([xs, np.full_like(xs, 2 * f - 1)], 1)
                                              for f in np.linspace(0.0, 1.0, self.rows)]))
        self.keep_flat, self.flat_threshold, self.max_side = keep_flat, float(flat_threshold), int(max_side)

    @classmethod
    def from_pretrained(cls, name: str = "text-lines", **kwargs) -> "OnnxTextRectifier":
        """The ONNX file shipped beside the rectifier ``name`` (``<name>.onnx`` in the
        package's ``textrecog/pretrained`` folder)."""
        path = os.path.join(_PRETRAINED_DIR, f"{name}.onnx")
        if not os.path.isfile(path):
            shipped = sorted(f[:-5] for f in os.listdir(_PRETRAINED_DIR) if f.endswith(".onnx"))
            raise FileNotFoundError(f"no shipped ONNX rectifier named {name!r} (shipped: {shipped})")
        return cls(path, **kwargs)

    def input_width(self, h: int, w: int) -> int:
        width = round(self.height * w / h / _COLUMN_STRIDE) * _COLUMN_STRIDE
        return int(min(max(width, 4 * _COLUMN_STRIDE), self.max_width))

    def _input(self, crop: np.ndarray) -> np.ndarray:
        h, w = crop.shape[:2]
        width = self.input_width(h, w)
        interp = cv2.INTER_AREA if (width < w and self.height < h) else cv2.INTER_LINEAR
        small = cv2.resize(crop, (width, self.height), interpolation=interp).astype(np.float32)
        return (small.transpose(2, 0, 1) - self.mean) / self.std

    def predict_outlines(self, crops: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(top, bottom, flatness)``: ``(N, edge_points, 2)`` normalised edges and ``(N,)``
        probabilities that the text needs no rectification."""
        inputs = [self._input(self._check(c, i)) for i, c in enumerate(crops)]
        widths = np.array([a.shape[2] for a in inputs], np.int64)
        batch = np.zeros((len(inputs), 3, self.height, int(widths.max())), np.float32)
        for i, a in enumerate(inputs):
            batch[i, :, :, :a.shape[2]] = a
        edges, flat_logit = self.session.run(None, {"crops": batch, "widths": widths})
        top, bottom = [], []
        for i, cols in enumerate(widths // _COLUMN_STRIDE):
            t, b = self._outline(edges[i, :, :cols].astype(np.float64), crops[i].shape[1] / crops[i].shape[0])
            top.append(t)
            bottom.append(b)
        return np.stack(top), np.stack(bottom), 1 / (1 + np.exp(-flat_logit.astype(np.float64)))

    def _outline(self, edges: np.ndarray, aspect: float) -> Tuple[np.ndarray, np.ndarray]:
        """One crop's ``(2, columns, 2)`` edges -> top and bottom at ``edge_points``,
        grown by the outline margin (``TextOutlineNet.outline_points``)."""
        ends, sides = self.outline_margin
        positions = np.linspace(0.0, 1.0, self.edge_points)
        px = np.array([aspect, 1.0])
        heights, steps = _band(edges, px)
        if ends > 0:
            extra = ends * heights.mean() / max(steps.sum(), 1e-6)
            positions = positions * (1 + 2 * extra) - extra
        weights = _perspective_weights(heights, steps, self.perspective_ramp) if self.spacing == "perspective" else None
        top, bottom = [self._along(e, self._positions(e, positions, px, weights)) for e in edges]
        if sides > 0:
            across = bottom - top
            top, bottom = top - sides * across, bottom + sides * across
        return top, bottom

    def _positions(self, edge: np.ndarray, fractions: np.ndarray, px: np.ndarray,
                   weights: Optional[np.ndarray] = None) -> np.ndarray:
        """Fractional column indices of the points at ``fractions`` of the text
        (``geometry.outline.arc_length_positions`` unless the spacing is ``'predicted'``)."""
        last = edge.shape[0] - 1
        inside = np.clip(fractions, 0.0, 1.0)
        steps = np.linalg.norm(np.diff(edge * px, axis=0), axis=1)
        cum = np.concatenate([[0.0], np.cumsum(steps if weights is None else steps * weights)])
        if self.spacing != "predicted" and cum[-1] > 1e-12:
            at = np.interp(inside * cum[-1], cum, np.arange(last + 1, dtype=np.float64))
        else:
            at = inside * last
        return at + (fractions - inside) * last

    @staticmethod
    def _along(edge: np.ndarray, positions: np.ndarray) -> np.ndarray:
        lo = np.clip(np.floor(positions).astype(int), 0, edge.shape[0] - 2)
        frac = (positions - lo)[:, None]
        return edge[lo] * (1 - frac) + edge[lo + 1] * frac

    @staticmethod
    def _check(crop, i: int) -> np.ndarray:
        if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 \
                or min(crop.shape[:2]) < 1:
            raise ValueError(f"crops[{i}] must be an (H, W, 3) uint8 RGB array, got "
                             f"{getattr(crop, 'dtype', type(crop).__name__)} {getattr(crop, 'shape', '')}")
        return crop

    def _source(self, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        fractions = np.linspace(0.0, 1.0, self.rows)[:, None, None]
        return (top[None] + fractions * (bottom - top)[None]).reshape(-1, 2).astype(np.float64)

    def _size(self, source: np.ndarray, crop_hw: Tuple[int, int]) -> Tuple[int, int]:
        s = np.linspace(-1.0, 1.0, _FRAME_POINTS)
        lines = [self.spline.map(source, np.stack([s, np.full_like(s, v)], 1)) for v in (-1.0, 0.0, 1.0)]
        scale = np.array([crop_hw[1], crop_hw[0]]) / 2.0
        top, centre, bottom = [(p + 1) * scale for p in lines]
        h = float(np.linalg.norm(bottom - top, axis=1).mean())
        w = float(np.linalg.norm(np.diff(centre, axis=0), axis=1).sum())
        factor = min(1.0, self.max_side / max(h, w, 1e-12))
        return (int(min(self.max_side, max(_MIN_SIDE, round(h * factor)))),
                int(min(self.max_side, max(_MIN_SIDE, round(w * factor)))))

    def __call__(self, crops: Sequence[np.ndarray], keep_flat: Optional[bool] = None) -> List[np.ndarray]:
        """Rectified copies of ``crops`` (``(H, W, 3)`` uint8 RGB), each at its text's size."""
        if isinstance(crops, np.ndarray):
            raise ValueError("crops must be a list of (H, W, 3) uint8 arrays (wrap one crop in a list)")
        if not crops:
            return []
        keep_flat = self.keep_flat if keep_flat is None else keep_flat
        tops, bottoms, flatness = self.predict_outlines(crops)
        out = []
        for crop, top, bottom, p_flat in zip(crops, tops, bottoms, flatness):
            if keep_flat and p_flat > self.flat_threshold:
                out.append(crop.copy())
                continue
            source = self._source(top, bottom)
            h, w = self._size(source, crop.shape[:2])
            gx, gy = np.meshgrid((np.arange(w) + 0.5) / w * 2 - 1, (np.arange(h) + 0.5) / h * 2 - 1)
            mapped = self.spline.map(source, np.stack([gx.ravel(), gy.ravel()], 1))
            map_x = ((mapped[:, 0] + 1) / 2 * crop.shape[1] - 0.5).reshape(h, w).astype(np.float32)
            map_y = ((mapped[:, 1] + 1) / 2 * crop.shape[0] - 0.5).reshape(h, w).astype(np.float32)
            out.append(cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        return out

