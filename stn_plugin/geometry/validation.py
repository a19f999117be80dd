"""Input checks shared by the geometry and ops layers.

Errors name the offending argument and say what was expected, so a bad tensor is
caught at the public boundary instead of deep inside a kernel.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def check_tensor(value, name: str, *, dims: Sequence[int] | None = None,
                 last_dims: Sequence[int | None] | None = None, floating: bool = True,
                 finite: bool = True) -> Tensor:
    """Check a tensor argument and return it.

    ``dims``: allowed numbers of dimensions; ``last_dims``: required trailing sizes
    (``None`` = any); ``floating``: must be a floating dtype; ``finite``: no NaN/inf.
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
    if finite and value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return value


def check_same_device(**tensors: Tensor) -> None:
    """Raise if the named tensors live on different devices."""
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        raise ValueError("tensors must be on one device, got " +
                         ", ".join(f"{n} on {d}" for n, d in devices.items()))


def check_size2(size, name: str) -> tuple[int, int]:
    """``size`` as ``(height, width)`` of positive ints; an int means a square."""
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or (height, width), got {size!r}") from None
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"{name} must be positive integers (height, width), got {size!r}")
    return int(h), int(w)
