"""Argument checks shared by the geometry and ops layers.

Errors name the offending argument and say what was expected, so a bad tensor is
caught at the public boundary instead of deep inside a kernel.

Conventions: shape, dtype, device and option checks are cheap Python and always run.
*Value* checks (NaN / inf, integer batch indices, box corner order) read tensor data,
which on CUDA is a host synchronisation, so each value is checked once, by the public
function that receives it, and all value checks of one call share one synchronisation
(:func:`check_flags`). While code is being traced -- ``torch.compile``, ``torch.export``,
``torch.onnx.export`` or ``torch.jit.trace``, see :func:`is_tracing` -- value checks are
skipped: a traced graph cannot raise on data, and reading data would break the graph
or fail the export. Check inputs eagerly once before exporting if they may be bad.

>>> import torch
>>> check_tensor(torch.zeros(2, 3, 3), "matrix", dims=(3,), last_dims=(3, 3)).shape
torch.Size([2, 3, 3])
>>> check_size2(7, "out_size")
(7, 7)
"""
from __future__ import annotations

import math
import os
import sys
from numbers import Integral, Real
from typing import Sequence, Tuple

import torch
from torch import Tensor

# A deferred value check: a 0-dim bool tensor that is True when the value is bad, and
# the error to raise then.
Flag = Tuple[Tensor, Exception]


# "1": run host-synchronising value checks everywhere; "0": nowhere (unless asked for)
CHECK_VALUES_ENV = "STN_PLUGIN_CHECK_VALUES"


def value_checks_enabled(value=None, check_values=None) -> bool:
    """Whether the value checks of a call on ``value`` run: ``check_values`` when given,
    else ``STN_PLUGIN_CHECK_VALUES`` (``1`` / ``0``) when set, else only where they need
    no host synchronisation, i.e. not for CUDA tensors (a GPU training step then never
    waits for the host; set the variable to 1 to debug bad inputs there).

    >>> value_checks_enabled(torch.zeros(1)), value_checks_enabled(torch.zeros(1), check_values=False)
    (True, False)
    """
    if check_values is not None:
        return bool(check_values)
    env = os.environ.get(CHECK_VALUES_ENV, "")
    if env.strip():
        return env.strip() != "0"
    return not (isinstance(value, Tensor) and value.is_cuda)


def is_tracing() -> bool:
    """True while ``torch.compile`` / ``torch.export``, ``torch.onnx.export`` or
    ``torch.jit.trace`` trace the calling code; data-dependent checks are skipped then.

    >>> is_tracing()
    False
    """
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return True
    onnx = sys.modules.get("torch.onnx")  # not imported at all: no ONNX export is running
    return onnx is not None and onnx.is_in_onnx_export()


def check_flags(*flags: Flag) -> None:
    """Raise the error of the first flag that is True, reading all flags with one host
    synchronisation; a no-op while tracing (:func:`is_tracing`).

    Each flag is ``(bad, error)``: a 0-dim bool tensor and the exception to raise.

    >>> x = torch.tensor([1.0, float("nan")])
    >>> check_flags(finite_flag(x[:1], "x"))  # fine: nothing raised
    >>> check_flags(finite_flag(x, "x"))
    Traceback (most recent call last):
    ...
    ValueError: x contains NaN or inf values
    """
    if not flags or is_tracing():
        return
    bad = torch.stack([f.reshape(()) for f, _ in flags]).tolist()
    for is_bad, (_, error) in zip(bad, flags):
        if is_bad:
            raise error


def finite_flag(value: Tensor, name: str) -> Flag:
    """The flag "``value`` holds a NaN or inf" for :func:`check_flags`.

    >>> bad, error = finite_flag(torch.tensor([0.0, float("inf")]), "points")
    >>> bool(bad), str(error)
    (True, 'points contains NaN or inf values')
    """
    return ~torch.isfinite(value.detach()).all(), ValueError(f"{name} contains NaN or inf values")


def check_tensor(value, name: str, *, dims: Sequence[int] | None = None,
                 last_dims: Sequence[int | None] | None = None, floating: bool = True,
                 finite: bool = True) -> Tensor:
    """Check a tensor argument and return it.

    ``dims``: allowed numbers of dimensions; ``last_dims``: required trailing sizes
    (``None`` = any); ``floating``: must be a floating dtype; ``finite``: no NaN/inf
    (a value check: one host synchronisation on CUDA, skipped while tracing).

    >>> check_tensor(torch.zeros(4, 2), "points", last_dims=(2,)).shape
    torch.Size([4, 2])
    >>> check_tensor(torch.zeros(4, 3), "points", last_dims=(2,))
    Traceback (most recent call last):
    ...
    ValueError: points must have shape (..., 2), got (4, 3)
    """
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if dims is not None and value.dim() not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, "
                         f"got shape {tuple(value.shape)}")
    if last_dims is not None:
        tail = tuple(value.shape[value.dim() - len(last_dims):])
        if len(tail) != len(last_dims) or any(e is not None and e != t for e, t in zip(last_dims, tail)):
            want = "(..., " + ", ".join("*" if e is None else str(e) for e in last_dims) + ")"
            raise ValueError(f"{name} must have shape {want}, got {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if finite and value.is_floating_point() and not is_tracing():
        check_flags(finite_flag(value, name))
    return value


def check_same_device(value, name: str, reference, reference_name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``value`` is not on ``reference``'s device
    (either may be a tensor or anything with a ``device``, e.g. a transform).

    >>> check_same_device(torch.zeros(1), "rois", torch.zeros(1), "features")
    >>> check_same_device(torch.zeros(1, device="meta"), "rois", torch.zeros(1), "features")
    Traceback (most recent call last):
    ...
    ValueError: rois is on meta but features is on cpu; put them on one device
    """
    if value.device != reference.device:
        raise ValueError(f"{name} is on {value.device} but {reference_name} is on {reference.device}; "
                         "put them on one device")


def check_same_dtype(value: Tensor, name: str, reference: Tensor, reference_name: str) -> None:
    """Raise ``TypeError`` naming ``name`` if ``value``'s dtype differs from ``reference``'s.

    >>> check_same_dtype(torch.zeros(1, dtype=torch.float64), "rois", torch.zeros(1), "features")
    Traceback (most recent call last):
    ...
    TypeError: rois has dtype torch.float64 but features has torch.float32; they must match
    """
    if value.dtype != reference.dtype:
        raise TypeError(f"{name} has dtype {value.dtype} but {reference_name} has {reference.dtype}; "
                        "they must match")


def check_size2(size, name: str) -> tuple[int, int]:
    """``size`` as ``(height, width)`` of positive ints; an int means a square.

    Integral floats (``7.0``) and symbolic sizes (``tuple(x.shape[-2:])`` under
    ``torch.compile``) are accepted; booleans are not.

    >>> check_size2(7, "out_size"), check_size2((2, 3), "out_size")
    ((7, 7), (2, 3))
    >>> check_size2((0, 7), "out_size")
    Traceback (most recent call last):
    ...
    ValueError: out_size must be a positive int or (height, width) of positive ints, got (0, 7)
    """
    pair = (size, size) if isinstance(size, (Integral, torch.SymInt)) else size
    try:
        h, w = pair
        ok = all(not isinstance(v, bool) and int(v) == v and v >= 1 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a positive int or (height, width) of positive ints, got {size!r}")
    return int(h), int(w)


def check_positive_int(value, name: str) -> int:
    """``value`` as an int ``>= 1``; booleans and floats are refused.

    >>> check_positive_int(2, "sampling_ratio")
    2
    >>> check_positive_int(1.5, "sampling_ratio")
    Traceback (most recent call last):
    ...
    ValueError: sampling_ratio must be a positive int, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_positive_number(value, name: str) -> float:
    """``value`` as a finite float ``> 0``.

    >>> check_positive_number(0.25, "spatial_scale")
    0.25
    >>> check_positive_number(float("nan"), "spatial_scale")
    Traceback (most recent call last):
    ...
    ValueError: spatial_scale must be a positive finite number (a Python number or a 0-d tensor), got nan
    """
    if isinstance(value, Tensor) and value.dim() == 0 and not value.is_complex() and value.dtype != torch.bool:
        if value.requires_grad:
            raise ValueError(f"{name} must be a number; got a tensor that requires a gradient, which "
                             f"{name} would not pass on (detach it)")
        value = value.item()  # a 0-d tensor is a number (one host synchronisation on CUDA)
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        kind = "a tensor of shape " + str(tuple(value.shape)) if isinstance(value, Tensor) else repr(value)
        raise ValueError(f"{name} must be a positive finite number (a Python number or a 0-d tensor), "
                         f"got {kind}")
    return float(value)


def check_choice(value, choices: Sequence, name: str):
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    >>> check_choice("zeros", ("zeros", "border"), "padding")
    'zeros'
    >>> check_choice("wrap", ("zeros", "border"), "padding")
    Traceback (most recent call last):
    ...
    ValueError: padding must be one of ('zeros', 'border'), got 'wrap'
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_rois(rois, batch_size: int, name: str = "rois", values: bool = True) -> list[Flag]:
    """Check the shape of RoIs and return their value flags for :func:`check_flags`.

    Conventions: ``rois`` is ``(N, 5)`` = ``(batch_idx, x1, y1, x2, y2)``, box corners in
    continuous image pixels; ``batch_idx`` must be an integer in ``[0, batch_size)``,
    and ``x2 >= x1``, ``y2 >= y1`` (zero-size boxes are allowed). The flags are
    returned rather than checked so a caller can read them together with its other
    value checks in one host synchronisation; ``values=False`` checks the shape only.

    >>> rois = torch.tensor([[0.0, 1.0, 1.0, 5.0, 6.0], [1.0, 4.0, 1.0, 2.0, 6.0]])
    >>> check_flags(*check_rois(rois, batch_size=2))
    Traceback (most recent call last):
    ...
    ValueError: rois must have x2 >= x1 and y2 >= y1 (a negative-size box has no frame)
    """
    check_tensor(rois, name, finite=False)
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"{name} must have shape (N, 5) = (batch_idx, x1, y1, x2, y2), got {tuple(rois.shape)}")
    if not values or rois.shape[0] == 0 or is_tracing():  # nothing to check / no value checks in a traced graph
        return []
    values = rois.detach()
    bidx, x1, y1, x2, y2 = values.unbind(1)
    return [finite_flag(values, name),
            ((bidx != torch.round(bidx)).any(), ValueError(f"{name}[:, 0] (batch index) must hold integers")),
            (((bidx < 0) | (bidx >= batch_size)).any(),
             ValueError(f"{name}[:, 0] (batch index) must lie in [0, {batch_size}) "
                        f"for features with batch size {batch_size}")),
            (((x2 < x1) | (y2 < y1)).any(),
             ValueError(f"{name} must have x2 >= x1 and y2 >= y1 (a negative-size box has no frame)"))]
