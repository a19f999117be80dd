"""Image- or feature-level spatial transformers (plain nn.Modules).

A :class:`SpatialTransformer` = localization net -> transform family -> warp. A
fresh one is exactly the identity. Chained transformers compose their transforms
and resample the original source once (pass ``source`` and ``base_transform``, or
use :class:`SpatialTransformerChain`); :class:`RecurrentSpatialTransformer` does this
IC-STN style with one shared localization net; :class:`ParallelSpatialTransformers`
runs k heads side by side. All four share the interface of
:class:`SpatialTransformerBase`, so any of them can be a stage of a chain or the
rectifying preprocessor of a model.
"""
from __future__ import annotations

import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from ..geometry.families import TransformFamily, build_family
from ..geometry.transforms import Transform, compose_transforms
from ..geometry.validation import check_size2, check_tensor
from ..ops.warp import check_sampling_options, warp
from .localization import build_localization_net, regression_layer
from .regularization import RegularizedModule, build_regularizers


class SpatialTransformerBase(RegularizedModule):
    """The interface every spatial transformer module offers.

    ``forward(x, *, source=None, base_transform=None, return_transform=False)`` warps
    ``x (N, C, H, W)`` into ``(N, C', h, w)``; with ``return_transform=True`` it also
    returns what maps normalised output coordinates to normalised input coordinates
    (of ``source`` if given): a batched :class:`~stn_plugin.geometry.Transform`, or a
    list of them for parallel heads. ``source`` and ``base_transform`` chain
    transformers without resampling twice: ``x`` is ``source`` warped by
    ``base_transform``, and the result is ``source`` warped once by ``base_transform``
    composed with the new transform.

    ``regularization_losses(transform, prefix)`` gives the configured regulariser
    losses (none by default).
    """

    def forward(self, x: Tensor, *, source: Optional[Tensor] = None, base_transform: Optional[Transform] = None,
                return_transform: bool = False):
        raise NotImplementedError


class SpatialTransformer(SpatialTransformerBase):
    """Localization net + transform family + sampler.

    Args:
        in_channels: channels of the input the localization net sees.
        family: transform family name or ``dict(type=..., **bounds)`` (see
            :mod:`stn_plugin.geometry.families`), e.g. ``dict(type='affine')``.
        loc_net: ``dict(type='conv' | 'mlp', **options)`` for the localization net.
        out_size: ``(h, w)`` of the output; ``None`` keeps the input size.
        sampling_ratio: sub-samples per output pixel per axis (anti-aliasing).
        mode, padding, fill_value, align_corners: as in :func:`stn_plugin.ops.warp`.
        regularizers: loss configs, e.g. ``[dict(type='IdentityDistanceLoss', weight=0.1)]``.

    ``forward(x)`` returns the warped ``(N, C, h, w)``; with ``return_transform=True``
    also the batched :class:`~stn_plugin.geometry.Transform` (normalised output ->
    normalised input coordinates).
    """

    # predict -> compose -> warp steps per forward; >1 is the recurrent (IC-STN) variant
    num_steps = 1

    def __init__(self, in_channels: int, family: Union[str, dict, TransformFamily] = "affine",
                 loc_net: Optional[dict] = None, out_size: Optional[Sequence[int]] = None,
                 sampling_ratio: int = 1, mode: str = "bilinear", padding: str = "zeros", fill_value=None,
                 align_corners: bool = False, regularizers: Optional[Sequence[dict]] = None) -> None:
        super().__init__()
        self.family = build_family(family)
        self.loc_net = build_localization_net(loc_net, in_channels, self.family.identity_params())
        self.out_size = None if out_size is None else check_size2(out_size, "out_size")
        check_sampling_options(mode, padding, fill_value)  # at build, not at the first forward
        if mode == "nearest":
            warnings.warn("SpatialTransformer(mode='nearest') gives the localization net no gradient through "
                          "the sampler (nearest sampling is piecewise constant); use mode='bilinear' to train it",
                          UserWarning, stacklevel=2)
        self.warp_options = dict(mode=mode, padding=padding, fill_value=fill_value,
                                 align_corners=align_corners, sampling_ratio=sampling_ratio)
        self.regularizers = build_regularizers(regularizers)

    def predict_transform(self, x: Tensor) -> Transform:
        """The transform the localization net predicts for ``x``."""
        return self.family.build(self.loc_net(x))

    def forward(self, x: Tensor, *, source: Optional[Tensor] = None, base_transform: Optional[Transform] = None,
                return_transform: bool = False) -> Union[Tensor, Tuple[Tensor, Transform]]:
        """Warp ``x`` (or ``source``, if given, by ``base_transform`` o the new transform).

        ``x`` is what the localization net sees. For chaining, ``x`` is the previous
        transformer's output, ``source`` the original input and ``base_transform`` the
        transform that produced ``x`` from ``source``: the source is resampled once.
        With ``num_steps > 1`` each step predicts an update from the previous step's
        output (at ``x``'s resolution; only the last step uses ``out_size``), the
        updates compose, and ``source`` is resampled once per step.
        """
        check_tensor(x, "x", dims=(4,), finite=False)
        src = x if source is None else source
        out_size = self.out_size or tuple(x.shape[-2:])
        transform, view = base_transform, x
        for step in range(self.num_steps):
            update = self.predict_transform(view)
            transform = update if transform is None else compose_transforms(transform, update)
            size = out_size if step == self.num_steps - 1 else tuple(x.shape[-2:])
            view = warp(src, transform, size, **self.warp_options)
        return (view, transform) if return_transform else view


class SpatialTransformerChain(SpatialTransformerBase):
    """Transformers in series; transforms compose and the input is resampled once per stage."""

    def __init__(self, transformers: Sequence[Union[SpatialTransformerBase, dict]]) -> None:
        super().__init__()
        self.stages = nn.ModuleList(t if isinstance(t, nn.Module) else SpatialTransformer(**t)
                                    for t in transformers)

    def forward(self, x: Tensor, *, source: Optional[Tensor] = None, base_transform: Optional[Transform] = None,
                return_transform: bool = False):
        src = x if source is None else source
        out, transform = x, base_transform
        for stage in self.stages:
            out, transform = stage(out, source=src, base_transform=transform, return_transform=True)
        return (out, transform) if return_transform else out


class RecurrentSpatialTransformer(SpatialTransformer):
    """IC-STN: one localization net applied ``num_steps`` times; each step predicts
    an update, the warps compose, and the original input is resampled once per step
    (never a resample of a resample). The loop is :meth:`SpatialTransformer.forward`'s."""

    def __init__(self, in_channels: int, num_steps: int = 2, **kwargs) -> None:
        super().__init__(in_channels, **kwargs)
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        self.num_steps = num_steps


class ParallelSpatialTransformers(SpatialTransformerBase):
    """``num_heads`` transformers on the same input; outputs concatenated on channels.

    Identical heads would stay identical, so each head's regression weight starts
    at small distinct random values (``symmetry_std``, seeded by ``seed + head``) while
    its bias stays the identity: every head starts near the identity and they diverge.
    """

    def __init__(self, in_channels: int, num_heads: int = 2, symmetry_std: float = 1e-3, seed: int = 0,
                 **kwargs) -> None:
        super().__init__()
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        self.heads = nn.ModuleList(SpatialTransformer(in_channels, **kwargs) for _ in range(num_heads))
        for i, head in enumerate(self.heads):
            layer = regression_layer(head.loc_net)
            gen = torch.Generator().manual_seed(seed + i)
            with torch.no_grad():
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * symmetry_std)

    def forward(self, x: Tensor, *, source: Optional[Tensor] = None, base_transform: Optional[Transform] = None,
                return_transform: bool = False):
        outs: List[Tuple[Tensor, Transform]] = [
            head(x, source=source, base_transform=base_transform, return_transform=True) for head in self.heads]
        cat = torch.cat([o for o, _ in outs], dim=1)
        return (cat, [t for _, t in outs]) if return_transform else cat
