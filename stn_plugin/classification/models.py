"""Digit classifiers of the STN paper's distorted-MNIST experiment.

* :class:`DigitFCN` -- fully connected classifier (the paper's FCN: hidden ReLU layers).
* :class:`DigitCNN` -- ``[conv k x k -> ReLU -> maxpool 2] x 2 -> linear`` (the paper's
  CNN: a 9x9 then a 7x7 convolution, 2x2 max-pooling after each).
* :class:`DigitClassifier` -- mmengine ``BaseModel``: an optional
  :class:`~stn_plugin.modules.SpatialTransformer` in front of one of them (ST-FCN /
  ST-CNN with affine, projective or TPS transforms).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from ..geometry.transforms import Transform
from ..geometry.validation import check_size2
from ..modules import SpatialTransformer


@MODELS.register_module()
class DigitFCN(nn.Module):
    """Fully connected classifier: flatten -> ``[linear -> ReLU] x len(hidden_dims)`` -> linear.

    Args:
        in_channels: input channels.
        input_size: ``(h, w)`` of the input (fixes the first layer's width).
        hidden_dims: widths of the hidden layers.
        num_classes: output logits.

    ``forward``: ``(N, C, h, w)`` -> logits ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, input_size: Sequence[int] = (28, 28),
                 hidden_dims: Sequence[int] = (128, 128), num_classes: int = 10) -> None:
        super().__init__()
        self.input_size = check_size2(input_size, "input_size")
        layers: List[nn.Module] = [nn.Flatten()]
        d = in_channels * self.input_size[0] * self.input_size[1]
        for h in hidden_dims:
            layers += [nn.Linear(d, h), nn.ReLU(inplace=True)]
            d = h
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@MODELS.register_module()
class DigitCNN(nn.Module):
    """``[conv k_i x k_i ('same' padding) -> ReLU -> maxpool 2] for each stage -> linear``.

    Args:
        in_channels: input channels.
        input_size: ``(h, w)`` of the input (fixes the linear layer's width).
        channels: output channels of each conv stage.
        kernel_sizes: kernel size of each conv stage (odd).
        num_classes: output logits.

    ``forward``: ``(N, C, h, w)`` -> logits ``(N, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, input_size: Sequence[int] = (28, 28),
                 channels: Sequence[int] = (32, 32), kernel_sizes: Sequence[int] = (9, 7),
                 num_classes: int = 10) -> None:
        super().__init__()
        self.input_size = check_size2(input_size, "input_size")
        if len(channels) != len(kernel_sizes):
            raise ValueError(f"DigitCNN: channels {tuple(channels)} and kernel_sizes {tuple(kernel_sizes)} "
                             "must have one entry per conv stage")
        if any(k % 2 == 0 or k < 1 for k in kernel_sizes):
            raise ValueError(f"DigitCNN: kernel_sizes must be odd and positive, got {tuple(kernel_sizes)}")
        layers: List[nn.Module] = []
        c_in = in_channels
        h, w = self.input_size
        for c, k in zip(channels, kernel_sizes):
            layers += [nn.Conv2d(c_in, c, k, padding=k // 2), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in, h, w = c, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"DigitCNN: input_size {self.input_size} is too small for {len(channels)} "
                             "pooling stages")
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * h * w, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).flatten(1))


@MODELS.register_module()
class DigitClassifier(BaseModel):
    """Digit classifier with an optional spatial transformer in front (ST-FCN / ST-CNN).

    Args:
        classifier: config of the classifier module, e.g. ``dict(type='DigitCNN')``.
            Its ``input_size`` and ``in_channels`` are filled in (the spatial
            transformer's ``out_size`` if there is one, else ``input_size``); a
            conflicting value raises.
        input_size: ``(H, W)`` of the images the model receives (the canvas).
        in_channels: image channels.
        stn: keyword arguments of :class:`~stn_plugin.modules.SpatialTransformer`
            (``family``, ``loc_net``, ``out_size``, ``sampling_ratio``, ``regularizers``,
            ...), or ``None`` for a plain FCN / CNN. ``in_channels`` is filled in.
        data_preprocessor: an mmengine data preprocessor config (e.g.
            ``ImgDataPreprocessor`` stacking and scaling the uint8 digits).

    ``forward(inputs (N, C, H, W) float, data_samples, mode)``:

    * ``'loss'``: ``{'loss_cls': cross entropy, 'acc': batch accuracy in %, regulariser losses}``;
    * ``'predict'``: the data samples with ``pred_label`` (0-d int64) and ``pred_score``
      (``(num_classes,)`` softmax) added;
    * ``'tensor'``: logits ``(N, num_classes)``.
    """

    def __init__(self, classifier: dict, input_size: Sequence[int] = (28, 28), in_channels: int = 1,
                 stn: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.input_size = check_size2(input_size, "input_size")
        self.in_channels = int(in_channels)
        self.stn: Optional[SpatialTransformer] = None
        cls_size = self.input_size
        if stn is not None:
            stn = dict(stn)
            if stn.setdefault("in_channels", self.in_channels) != self.in_channels:
                raise ValueError(f"model.stn.in_channels={stn['in_channels']} differs from "
                                 f"model.in_channels={self.in_channels}")
            stn.pop("type", None)
            self.stn = SpatialTransformer(**stn)
            if self.stn.out_size is not None:
                cls_size = self.stn.out_size
        cfg = dict(classifier)
        for key, value in (("input_size", cls_size), ("in_channels", self.in_channels)):
            given = cfg.setdefault(key, value)
            if (tuple(given) if key == "input_size" else given) != value:
                raise ValueError(f"model.classifier.{key}={given} but the classifier receives {value} "
                                 "(model.input_size, or model.stn.out_size with a spatial transformer); "
                                 f"remove model.classifier.{key} to have it filled in")
        self.classifier = MODELS.build(cfg)

    # ------------------------------------------------------------------ pieces
    def _check_inputs(self, inputs: Tensor) -> None:
        if not isinstance(inputs, Tensor) or inputs.dim() != 4:
            raise ValueError(f"DigitClassifier expects inputs of shape (N, C, H, W), got "
                             f"{getattr(inputs, 'shape', type(inputs).__name__)}")
        if inputs.shape[1] != self.in_channels or tuple(inputs.shape[-2:]) != self.input_size:
            raise ValueError(f"DigitClassifier was built for (N, {self.in_channels}, {self.input_size[0]}, "
                             f"{self.input_size[1]}) inputs (model.input_size / model.in_channels) but got "
                             f"{tuple(inputs.shape)}")

    def rectify(self, inputs: Tensor) -> Tuple[Tensor, Optional[Transform]]:
        """The spatial transformer's output ``(N, C, h, w)`` and transform (inputs and
        ``None`` without a transformer). ``inputs`` are preprocessed images."""
        self._check_inputs(inputs)
        if self.stn is None:
            return inputs, None
        return self.stn(inputs, return_transform=True)

    def _logits(self, inputs: Tensor) -> Tuple[Tensor, Optional[Transform]]:
        x, transform = self.rectify(inputs)
        return self.classifier(x), transform

    # ----------------------------------------------------------------- forward
    def forward(self, inputs: Tensor, data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = "tensor") -> Union[Dict[str, Tensor], List[BaseDataElement], Tensor]:
        if mode not in ("loss", "predict", "tensor"):
            raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
        logits, transform = self._logits(inputs)
        if mode == "tensor":
            return logits
        if mode == "loss":
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_label")
            labels = torch.stack([s.gt_label for s in data_samples]).to(logits.device).view(-1)
            losses: Dict[str, Tensor] = dict(loss_cls=F.cross_entropy(logits, labels))
            with torch.no_grad():
                losses["acc"] = (logits.argmax(1) == labels).float().mean() * 100
            if self.stn is not None and transform is not None:
                losses.update(self.stn.regularization_losses(transform))
            return losses
        scores = logits.softmax(dim=1).detach()
        preds = scores.argmax(dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(preds))]
        for sample, score, pred in zip(data_samples, scores, preds):
            sample.pred_score = score
            sample.pred_label = pred
        return data_samples
