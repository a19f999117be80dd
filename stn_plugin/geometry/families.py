"""Transform families: parameterisations from a regressor's raw output to a transform.

Each family knows its number of raw parameters, the raw vector that gives the
identity (the bias a localization net starts from, with zero weights), optional
bounds that stop a learned transform from collapsing, and how to turn raw
``(N, P)`` parameters into a batched :class:`~stn_plugin.geometry.transforms.Transform`.

Families and their raw parameters (identity in brackets):

* ``translation`` (2): ``tx, ty`` [0, 0]
* ``attention`` (3): ``s, tx, ty`` (isotropic scale + translation)
* ``similarity`` (4): ``angle (rad), log_scale, tx, ty`` [0, 0, 0, 0]
* ``affine`` (6): ``a, b, tx, c, d, ty`` row-major 2x3 [1, 0, 0, 0, 1, 0]
* ``projective`` (8): affine's six, then ``g, h`` of the last row [..., 0, 0]
* ``tps`` (2K): K source control points ``x1, y1, x2, y2, ...`` [the targets]

Bounds squash raw values smoothly (tanh / sigmoid), so every bounded value stays
strictly inside its range while the identity stays exactly reachable.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Dict, Optional, Sequence, Tuple, Type

import torch
from torch import Tensor

from .tables import build_from_table
from .tps import ThinPlateSpline, grid_control_points, text_control_points
from .transforms import MatrixTransform, TPSTransform, Transform
from .validation import check_flags, check_tensor, is_tracing, value_checks_enabled


def _bounded(raw: Tensor, limit: Optional[float]) -> Tensor:
    """``limit * tanh(raw / limit)``: identity near 0 (slope 1), never beyond ``limit``."""
    return raw if limit is None else limit * torch.tanh(raw / limit)


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_limit(value: Optional[float], name: str) -> Optional[float]:
    """A bound is None (unbounded) or a positive finite number; an infinite bound would
    make the family's tanh / atanh maps produce NaN at the first forward."""
    if value is None:
        return None
    if not _is_number(value):
        raise TypeError(f"{name} must be a positive finite number or None, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number or None (unbounded), got {value!r}")
    return float(value)


def _check_scale_range(scale_range: Optional[Sequence[float]]) -> Optional[Tuple[float, float]]:
    if scale_range is None:
        return None
    if isinstance(scale_range, (str, bytes)) or not isinstance(scale_range, Sequence) or len(scale_range) != 2:
        raise ValueError(f"scale_range must be two numbers (low, high) or None, got {scale_range!r}")
    if not all(_is_number(v) for v in scale_range):
        raise TypeError(f"scale_range must be two numbers (low, high), got {scale_range!r}")
    lo, hi = (float(v) for v in scale_range)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"scale_range must be finite, got {tuple(scale_range)}")
    if not 0 < lo < 1 < hi:
        raise ValueError(f"scale_range must satisfy 0 < low < 1 < high so the identity is inside, "
                         f"got {tuple(scale_range)}")
    return lo, hi


class TransformFamily:
    """Base class; subclasses set ``name``, ``num_params`` and implement ``build``.

    ``is_affine``: every transform of the family is affine; ``is_matrix``: its
    transforms are :class:`~stn_plugin.geometry.transforms.MatrixTransform` s (set by
    :class:`MatrixFamily`), so samplers can use their matrices directly.

    Conventions: raw parameters ``(N, num_params)`` -> a batch of N transforms mapping
    normalised output coordinates to normalised input coordinates.

    >>> import torch
    >>> family = build_family("affine")
    >>> family.num_params, family.identity_params().tolist()
    (6, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    >>> family.identity(2).matrix.shape  # the identity for a batch of 2
    torch.Size([2, 3, 3])
    """

    name: str = ""
    num_params: int = 0
    is_affine: bool = True
    is_matrix: bool = False

    def identity_params(self, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
        """Raw parameters ``(num_params,)`` that give the identity transform."""
        raise NotImplementedError

    def check_params(self, raw: Tensor) -> Tensor:
        name = f"{self.name} parameters"
        raw = check_tensor(raw, name, dims=(2,), last_dims=(self.num_params,), finite=False)
        if not is_tracing() and value_checks_enabled(raw):  # on CUDA a host sync: see value_checks_enabled
            # raw parameters are usually a localization network's output: NaN there means
            # the training run diverged, which the bare "contains NaN" would not say
            check_flags((~torch.isfinite(raw.detach()).all(), ValueError(
                f"{name} contain NaN or inf values. If they come from a localization network during training, "
                "training has diverged: lower the learning rate, clip gradients (optim_wrapper.clip_grad="
                "dict(max_norm=10)) or bound the family (e.g. scale_range, max_translation), and resume from a "
                "checkpoint saved before the divergence")))
        return raw

    def build(self, raw: Tensor) -> Transform:
        """Transform for raw parameters ``(N, num_params)``."""
        raise NotImplementedError

    def identity(self, batch_size: int, dtype: torch.dtype = torch.float32, device=None) -> Transform:
        return self.build(self.identity_params(dtype, device).expand(batch_size, -1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MatrixFamily(TransformFamily):
    """Families whose transforms are 3x3 matrices.

    >>> import torch
    >>> [name for name, cls in FAMILIES.items() if issubclass(cls, MatrixFamily)] == list(matrix_family_names())
    True
    >>> AffineFamily().to_matrix(torch.tensor([[1.0, 0, 0.5, 0, 1, 0]])).tolist()
    [[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]
    """

    is_matrix = True

    def to_matrix(self, raw: Tensor) -> Tensor:
        """``(N, num_params)`` raw parameters -> ``(N, 3, 3)`` matrices."""
        raise NotImplementedError

    def build(self, raw: Tensor) -> MatrixTransform:
        # raw was checked above: one value check per build
        return MatrixTransform(self.to_matrix(self.check_params(raw)), affine=self.is_affine, check_values=False)


def _matrix(a, b, tx, c, d, ty, g=None, h=None) -> Tensor:
    zero = torch.zeros_like(a)
    last = [zero if g is None else g, zero if h is None else h, torch.ones_like(a)]
    return torch.stack([torch.stack([a, b, tx], -1), torch.stack([c, d, ty], -1), torch.stack(last, -1)], -2)


class _ScaleMixin:
    def _init_scale(self, scale_range):
        self.scale_range = _check_scale_range(scale_range)

    def _scale(self, raw: Tensor) -> Tensor:
        if self.scale_range is None:
            return raw
        lo, hi = self.scale_range
        return lo + (hi - lo) * torch.sigmoid(raw)

    def _identity_scale_raw(self) -> float:
        if self.scale_range is None:
            return 1.0
        lo, hi = self.scale_range
        q = (1.0 - lo) / (hi - lo)
        return math.log(q / (1 - q))


class TranslationFamily(MatrixFamily):
    """Shift only: ``x' = x + t``; ``max_translation`` bounds ``|t|`` (normalised units).

    >>> import torch
    >>> TranslationFamily(max_translation=0.5).build(torch.tensor([[100.0, 0.0]])).matrix[0, 0, 2].item()
    0.5
    """

    name, num_params = "translation", 2

    def __init__(self, max_translation: Optional[float] = None) -> None:
        self.max_translation = _check_limit(max_translation, "max_translation")

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        return torch.zeros(2, dtype=dtype, device=device)

    def to_matrix(self, raw: Tensor) -> Tensor:
        tx, ty = _bounded(raw, self.max_translation).unbind(-1)
        one, zero = torch.ones_like(tx), torch.zeros_like(tx)
        return _matrix(one, zero, tx, zero, one, ty)


class AttentionFamily(_ScaleMixin, MatrixFamily):
    """Isotropic scale + translation (the paper's attention): ``x' = s x + t``.

    >>> import torch
    >>> family = AttentionFamily(scale_range=(0.5, 2.0))
    >>> torch.allclose(family.identity(1).matrix, torch.eye(3))  # the raw identity is log(1/2), not 1
    True
    """

    name, num_params = "attention", 3

    def __init__(self, scale_range: Optional[Sequence[float]] = None,
                 max_translation: Optional[float] = None) -> None:
        self._init_scale(scale_range)
        self.max_translation = _check_limit(max_translation, "max_translation")

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        return torch.tensor([self._identity_scale_raw(), 0.0, 0.0], dtype=dtype, device=device)

    def to_matrix(self, raw: Tensor) -> Tensor:
        s = self._scale(raw[:, 0])
        tx, ty = _bounded(raw[:, 1:], self.max_translation).unbind(-1)
        zero = torch.zeros_like(s)
        return _matrix(s, zero, tx, zero, s, ty)


class SimilarityFamily(_ScaleMixin, MatrixFamily):
    """Rotation + isotropic scale + translation.

    ``max_rotation`` is in degrees; without ``scale_range`` the scale is ``exp(raw)``.

    >>> import math, torch
    >>> quarter_turn = SimilarityFamily().build(torch.tensor([[math.pi / 2, 0.0, 0.0, 0.0]]))
    >>> torch.allclose(quarter_turn.map_points(torch.tensor([[[1.0, 0.0]]])), torch.tensor([[[0.0, 1.0]]]), atol=1e-6)
    True
    """

    name, num_params = "similarity", 4

    def __init__(self, scale_range: Optional[Sequence[float]] = None, max_rotation: Optional[float] = None,
                 max_translation: Optional[float] = None) -> None:
        self._init_scale(scale_range)
        self.max_rotation = _check_limit(max_rotation, "max_rotation")
        self.max_translation = _check_limit(max_translation, "max_translation")

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        s0 = 0.0 if self.scale_range is None else self._identity_scale_raw()
        return torch.tensor([0.0, s0, 0.0, 0.0], dtype=dtype, device=device)

    def to_matrix(self, raw: Tensor) -> Tensor:
        limit = None if self.max_rotation is None else math.radians(self.max_rotation)
        angle = _bounded(raw[:, 0], limit)
        s = torch.exp(raw[:, 1]) if self.scale_range is None else self._scale(raw[:, 1])
        tx, ty = _bounded(raw[:, 2:], self.max_translation).unbind(-1)
        cos, sin = s * torch.cos(angle), s * torch.sin(angle)
        return _matrix(cos, -sin, tx, sin, cos, ty)


class AffineFamily(MatrixFamily):
    """General 2x3 affine. ``max_linear_deviation`` bounds each entry of the linear
    part's distance from the identity; ``max_translation`` bounds the shift.

    >>> import torch
    >>> AffineFamily().build(torch.tensor([[2.0, 0, 0, 0, 2, 0]])).map_points(torch.tensor([[[0.5, 0.5]]])).tolist()
    [[[1.0, 1.0]]]
    """

    name, num_params = "affine", 6

    def __init__(self, max_linear_deviation: Optional[float] = None,
                 max_translation: Optional[float] = None) -> None:
        self.max_linear_deviation = _check_limit(max_linear_deviation, "max_linear_deviation")
        self.max_translation = _check_limit(max_translation, "max_translation")

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=dtype, device=device)[: self.num_params]

    def _affine_entries(self, raw: Tensor):
        eye = raw.new_tensor([1.0, 0.0, 0.0, 1.0])
        lin = eye + _bounded(raw[:, [0, 1, 3, 4]] - eye, self.max_linear_deviation)
        t = _bounded(raw[:, [2, 5]], self.max_translation)
        a, b, c, d = lin.unbind(-1)
        return a, b, t[:, 0], c, d, t[:, 1]

    def to_matrix(self, raw: Tensor) -> Tensor:
        return _matrix(*self._affine_entries(raw))


class ProjectiveFamily(AffineFamily):
    """Homography with last row ``(g, h, 1)``; ``max_perspective`` bounds ``g, h``.

    >>> import torch
    >>> family = ProjectiveFamily(max_perspective=0.3)
    >>> family.num_params, family.is_affine, family.identity(2).matrix.shape
    (8, False, torch.Size([2, 3, 3]))
    """

    name, num_params, is_affine = "projective", 8, False

    def __init__(self, max_linear_deviation: Optional[float] = None, max_translation: Optional[float] = None,
                 max_perspective: Optional[float] = None) -> None:
        super().__init__(max_linear_deviation, max_translation)
        self.max_perspective = _check_limit(max_perspective, "max_perspective")

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=dtype, device=device)

    def to_matrix(self, raw: Tensor) -> Tensor:
        g, h = _bounded(raw[:, 6:], self.max_perspective).unbind(-1)
        return _matrix(*self._affine_entries(raw), g, h)


class TPSFamily(TransformFamily):
    """Thin-plate spline with K control points.

    ``layout='grid'``: ``grid_shape=(rows, cols)`` targets on a regular grid (K = rows *
    cols, the paper's 4x4 for digits); ``layout='text'``: K/2 targets along the top
    and bottom edges (ASTER). ``control_point_range`` bounds every source coordinate
    to ``(-range, range)``; ``margin`` insets the targets from the border.

    Conventions: raw ``(N, 2K)`` = the source points ``(x1, y1, x2, y2, ...)`` in normalised
    input coordinates; the targets are fixed normalised output points.

    >>> family = TPSFamily(num_control_points=20, layout="text")
    >>> family.num_params, family.identity(3).control_points.shape
    (40, torch.Size([3, 20, 2]))
    """

    name, is_affine = "tps", False

    def __init__(self, num_control_points: Optional[int] = None, layout: str = "grid",
                 grid_shape: Optional[Sequence[int]] = None, margin: float = 0.0,
                 control_point_range: Optional[float] = None) -> None:
        if num_control_points is not None and (not isinstance(num_control_points, int)
                                               or isinstance(num_control_points, bool) or num_control_points < 4):
            raise ValueError(f"num_control_points must be an int >= 4 or None, got {num_control_points!r}")
        if not _is_number(margin) or not 0 <= margin < 1:
            raise ValueError(f"margin must be a number in [0, 1) (a fraction of the half-size), got {margin!r}")
        if layout == "grid":
            if grid_shape is None:
                side = round(math.sqrt(num_control_points or 16))
                if num_control_points is not None and side * side != num_control_points:
                    raise ValueError(f"num_control_points={num_control_points} is not a square; "
                                     "give grid_shape=(rows, cols) for the grid layout")
                grid_shape = (side, side)
            targets = grid_control_points(int(grid_shape[0]), int(grid_shape[1]), margin)
        elif layout == "text":
            targets = text_control_points(num_control_points or 20, margin, margin)
        else:
            raise ValueError(f"layout must be 'grid' or 'text', got {layout!r}")
        if num_control_points is not None and targets.shape[0] != num_control_points:
            raise ValueError(f"num_control_points={num_control_points} does not match grid_shape={grid_shape}")
        self.control_point_range = _check_limit(control_point_range, "control_point_range")
        if self.control_point_range is not None and targets.abs().max() >= self.control_point_range:
            raise ValueError("control_point_range must exceed the targets' extent "
                             f"({targets.abs().max().item():.3g}) so the identity is reachable")
        self.spline = ThinPlateSpline(targets)
        self.num_control_points = targets.shape[0]
        self.num_params = 2 * self.num_control_points

    def identity_params(self, dtype=torch.float32, device=None) -> Tensor:
        t = self.spline.target_points.flatten()
        if self.control_point_range is not None:
            t = self.control_point_range * torch.atanh(t / self.control_point_range)
        return t.to(dtype=dtype, device=device)

    def to_control_points(self, raw: Tensor) -> Tensor:
        """``(N, 2K)`` raw -> ``(N, K, 2)`` source control points (normalised input coords)."""
        pts = raw.reshape(raw.shape[0], self.num_control_points, 2)
        if self.control_point_range is not None:
            pts = self.control_point_range * torch.tanh(pts / self.control_point_range)
        return pts

    def build(self, raw: Tensor) -> TPSTransform:
        return TPSTransform(self.spline, self.to_control_points(self.check_params(raw)), check_values=False)


FAMILIES: Dict[str, Type[TransformFamily]] = {
    cls.name: cls for cls in (TranslationFamily, AttentionFamily, SimilarityFamily, AffineFamily,
                              ProjectiveFamily, TPSFamily)
}


def matrix_family_names() -> Tuple[str, ...]:
    """Names of the families whose transforms are matrices, in :data:`FAMILIES` order.

    >>> matrix_family_names()
    ('translation', 'attention', 'similarity', 'affine', 'projective')
    """
    return tuple(name for name, cls in FAMILIES.items() if cls.is_matrix)


def build_family(cfg) -> TransformFamily:
    """Build a family from a name, a ``dict(type=name, **options)`` or an instance.

    >>> build_family(dict(type="similarity", max_rotation=45)).num_params
    4
    """
    return build_from_table(cfg, FAMILIES, "transform family", instance_of=TransformFamily)
