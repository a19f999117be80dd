"""Localization networks: a feature map in, raw transform parameters out.

Every net ends in :func:`identity_regressor`, a linear layer whose weight starts
at zero and whose bias is the family's identity parameters, so a fresh spatial
transformer is exactly the identity (the paper's initialisation). The input is
first resized to ``input_size``, so a net runs on any input resolution and a
checkpoint is independent of it.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ..geometry.tables import build_from_table
from ..geometry.validation import check_size2
from ..ops.resize import resize_to


def identity_regressor(in_features: int, identity_params: Tensor) -> nn.Linear:
    """``nn.Linear(in_features, P)`` with zero weight and bias = ``identity_params``."""
    layer = nn.Linear(in_features, identity_params.numel())
    nn.init.zeros_(layer.weight)
    with torch.no_grad():
        layer.bias.copy_(identity_params.flatten())
    return layer


class _LocalizationNet(nn.Module):
    def __init__(self, input_size: Sequence[int], input_scale: float) -> None:
        super().__init__()
        self.input_size = check_size2(input_size, "input_size")
        self.input_scale = float(input_scale)

    def resize(self, x: Tensor) -> Tensor:
        # area-averaging when shrinking avoids aliasing in what the net sees; resize_to
        # also exports with dynamic input sizes
        x = resize_to(x, self.input_size)
        return x * self.input_scale if self.input_scale != 1.0 else x


class ConvLocalizationNet(_LocalizationNet):
    """Small conv net: ``[conv3x3 -> ReLU -> maxpool2] x len(channels)``, then an MLP.

    Args:
        in_channels: channels of the input.
        identity_params: ``(P,)`` raw parameters of the identity transform.
        channels: output channels of each conv stage.
        hidden_dims: widths of the hidden fully connected layers.
        input_size: ``(h, w)`` the input is resized to first.
        input_scale: multiplies the input (ASTER scales by 0.1 for stability).
    """

    def __init__(self, in_channels: int, identity_params: Tensor, channels: Sequence[int] = (16, 32),
                 hidden_dims: Sequence[int] = (64,), input_size: Sequence[int] = (32, 32),
                 input_scale: float = 1.0, norm: bool = False) -> None:
        super().__init__(input_size, input_scale)
        layers, c_in = [], in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=not norm)]
            layers += [nn.BatchNorm2d(c)] if norm else []
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        h, w = self.input_size
        for _ in channels:
            h, w = -(-h // 2), -(-w // 2)
        self.head = _mlp(c_in * h * w, hidden_dims, identity_params)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> raw parameters ``(N, P)``."""
        return self.head(self.features(self.resize(x)).flatten(1))


class MLPLocalizationNet(_LocalizationNet):
    """Fully connected net on the resized, flattened input (the paper's FCN variant)."""

    def __init__(self, in_channels: int, identity_params: Tensor, hidden_dims: Sequence[int] = (128, 64),
                 input_size: Sequence[int] = (16, 16), input_scale: float = 1.0) -> None:
        super().__init__(input_size, input_scale)
        self.head = _mlp(in_channels * self.input_size[0] * self.input_size[1], hidden_dims, identity_params)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.resize(x).flatten(1))


def _mlp(in_features: int, hidden_dims: Sequence[int], identity_params: Tensor) -> nn.Sequential:
    layers, d = [], in_features
    for h in hidden_dims:
        layers += [nn.Linear(d, h), nn.ReLU(inplace=True)]
        d = h
    return nn.Sequential(*layers, identity_regressor(d, identity_params))


# ``loc_net=dict(type='conv' | 'mlp', ...)``: one name per class
LOCALIZATION_NETS = {"conv": ConvLocalizationNet, "mlp": MLPLocalizationNet}


def build_localization_net(cfg: Optional[dict], in_channels: int, identity_params: Tensor) -> nn.Module:
    """Build from ``dict(type='conv' | 'mlp', **options)``; ``None`` means a default conv net."""
    return build_from_table(cfg or dict(type="conv"), LOCALIZATION_NETS, "localization net", in_channels,
                            identity_params, default_type="conv")


def regression_layer(net: nn.Module) -> nn.Linear:
    """The final (identity-initialised) layer of a localization net."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError("localization net has no linear regression layer")
    return last[-1]
