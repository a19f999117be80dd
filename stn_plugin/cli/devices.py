"""A tool's ``--device`` checked before any work: a device this machine does not have
is one ``error:`` line naming the option, not a traceback from deep inside torch."""
from __future__ import annotations

__all__ = ["check_device"]


def check_device(device: str, option: str = "--device") -> str:
    """``device`` (``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``) when this machine has
    it; otherwise ``ValueError`` naming ``option``, the device and why."""
    import torch
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"{option} {device!r}: not a torch device; expected cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible (torch.cuda.is_available() is False)")
            raise ValueError(f"{option} {device}: CUDA is not available on this machine: {why}; use {option} cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{option} {device}: this machine has {count} CUDA device(s) (cuda:0 .. "
                             f"cuda:{count - 1})")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{option} {device}: Apple's MPS backend is not available on this machine; "
                             f"use {option} cpu")
    elif dev.type != "cpu":
        raise ValueError(f"{option} {device}: expected cpu, cuda[:N] or mps, got a {dev.type!r} device")
    return device
