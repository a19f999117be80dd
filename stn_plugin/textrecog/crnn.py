"""CRNN pieces for CTC text recognition registered in mmdet's ``MODELS``.

:class:`CRNNBackbone` turns an image ``(N, C, H, W)`` into a left-to-right feature
sequence ``(N, D, T)`` with ``T = ceil(W / 4)``; :class:`BiLSTMCTCHead` turns the
sequence into per-frame class logits ``(N, T, num_classes)`` for CTC (Shi et al.,
"An End-to-End Trainable Neural Network for Image-based Sequence Recognition").
"""
from __future__ import annotations

from typing import Sequence

import torch.nn as nn
from mmdet.registry import MODELS
from torch import Tensor


def _conv_bn_relu(c_in: int, c_out: int) -> list:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


@MODELS.register_module()
class CRNNBackbone(nn.Module):
    """VGG-style conv stack of CRNN, collapsed over the height.

    Five conv stages (``channels``): two 2x2 poolings (height and width / 4), then
    two (2, 1) poolings (height only) and a mean over the remaining height, so any
    input height >= 16 works and the sequence length is ``ceil(W / 4)``.

    Args:
        in_channels: image channels (1 for grey, 3 for RGB).
        channels: output channels of the 5 conv stages.

    ``forward(x (N, C, H, W)) -> (N, channels[-1], ceil(W / 4))``.
    """

    def __init__(self, in_channels: int = 3, channels: Sequence[int] = (64, 128, 256, 256, 256)) -> None:
        super().__init__()
        if len(channels) != 5:
            raise ValueError(f"CRNNBackbone channels needs 5 entries, got {tuple(channels)}")
        c = list(channels)
        self.body = nn.Sequential(
            *_conv_bn_relu(in_channels, c[0]), nn.MaxPool2d(2, ceil_mode=True),
            *_conv_bn_relu(c[0], c[1]), nn.MaxPool2d(2, ceil_mode=True),
            *_conv_bn_relu(c[1], c[2]), *_conv_bn_relu(c[2], c[3]), nn.MaxPool2d((2, 1), ceil_mode=True),
            *_conv_bn_relu(c[3], c[4]), nn.MaxPool2d((2, 1), ceil_mode=True),
        )
        self.in_channels = in_channels
        self.out_channels = c[4]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"CRNNBackbone expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.body(x).mean(2)


@MODELS.register_module()
class BiLSTMCTCHead(nn.Module):
    """Bidirectional LSTM over the frame sequence + linear classifier.

    Args:
        in_channels: feature channels D of the backbone's ``(N, D, T)``.
        num_classes: CTC classes (characters + blank).
        hidden_size: LSTM hidden units per direction.
        num_layers: stacked BiLSTM layers (0: linear classifier only).
        dropout: dropout before the classifier.

    ``forward(feats (N, D, T)) -> logits (N, T, num_classes)``.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_size: int = 128, num_layers: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (blank + 1 character), got {num_classes}")
        self.rnn = (nn.LSTM(in_channels, hidden_size, num_layers=num_layers, bidirectional=True,
                            batch_first=True) if num_layers > 0 else None)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size if num_layers > 0 else in_channels, num_classes)
        self.num_classes = num_classes

    def forward(self, feats: Tensor) -> Tensor:
        seq = feats.transpose(1, 2)  # (N, T, D)
        if self.rnn is not None:
            seq, _ = self.rnn(seq)
        return self.classifier(self.dropout(seq))
