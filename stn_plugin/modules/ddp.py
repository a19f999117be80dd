"""Keeping every parameter in the autograd graph, for ``DistributedDataParallel``.

DDP (without ``find_unused_parameters``) waits for a gradient of every parameter in
every iteration. A branch that gets no input in some iteration -- an FPN level without
RoIs, a batch without transforms to regularise -- would leave its parameters out of
the graph, and DDP would hang or raise. Adding :func:`zero_touching_parameters` to the
output keeps them in, with zero gradient.
"""
from __future__ import annotations

from typing import Union

import torch.nn as nn
from torch import Tensor

__all__ = ["zero_touching_parameters"]


def zero_touching_parameters(module: nn.Module, *tensors: Tensor) -> Union[Tensor, float]:
    """A zero scalar that depends on every parameter of ``module`` and on ``tensors``.

    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> zero_touching_parameters(net).backward()
    >>> all(p.grad is not None and not p.grad.any() for p in net.parameters())
    True
    """
    terms = [p.view(-1)[0] for p in module.parameters() if p.numel()] + [t.sum() for t in tensors]
    return sum(terms) * 0.0
