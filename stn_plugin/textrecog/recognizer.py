"""CTC text recognizer (CRNN) with an optional rectifying preprocessor.

``inputs -> data_preprocessor (normalise, stack) -> preprocessor (e.g. a TPS
SpatialTransformer: rectify) -> backbone (N, D, T) -> decoder logits (N, T, C) ->
CTC loss / greedy or beam decoding``. Mirrors mmocr 1.x's recognizer layout
(``preprocessor=dict(type='STN', ...)``) with the plugin's spatial transformers.
"""
from __future__ import annotations

import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import LabelData
from mmdet.registry import MODELS
from torch import Tensor

from ..geometry.transforms import Transform
from .ctc_decoding import ctc_beam_search_decode, ctc_greedy_decode
from .dictionary import CTCDictionary
from .structures import TextRecogDataSample

DECODINGS = ("greedy", "beam")


def _build_dictionary(cfg: Union[None, str, dict, CTCDictionary]) -> CTCDictionary:
    if isinstance(cfg, CTCDictionary):
        return cfg
    if cfg is None:
        return CTCDictionary()
    if isinstance(cfg, str):
        return CTCDictionary(characters=cfg)
    if isinstance(cfg, dict):
        cfg = {k: v for k, v in cfg.items() if k != "type"}
        try:
            return CTCDictionary(**cfg)
        except TypeError as err:
            raise TypeError(f"bad dictionary config keys {sorted(cfg)}: {err}") from None
    raise TypeError(f"dictionary must be None, a string of characters, a dict or a CTCDictionary, got {cfg!r}")


@MODELS.register_module()
class CTCTextRecognizer(BaseModel):
    """CRNN-style recognizer trained with CTC.

    Args:
        dictionary: the alphabet: a string of characters, ``dict(characters=...)``,
            ``dict(dict_file='path', lower=..., unknown='ignore'|'error')`` or None
            (lower-case alphanumerics).
        backbone: config of the conv backbone, default ``dict(type='CRNNBackbone')``;
            ``in_channels`` defaults to ``in_channels``.
        decoder: config of the sequence head, default ``dict(type='BiLSTMCTCHead')``;
            ``in_channels`` and ``num_classes`` are filled in.
        preprocessor: optional rectifier run before the backbone, e.g.
            ``dict(type='SpatialTransformer', family=dict(type='tps', ...), ...)``;
            ``in_channels`` defaults to ``in_channels``. Its regularisers (if any)
            are added to the losses.
        decoding: ``'greedy'`` or ``'beam'`` (CTC prefix beam search), or
            ``dict(type='beam', beam_width=5)``.
        warp_supervision: ``dict(weight=w)`` adds ``loss_warp``: ``w`` times the mean L1
            distance (normalised input coordinates) between where the preprocessor's
            transform sends the data samples' ``gt_warp.points`` and their
            ``gt_warp.targets`` -- the synthetic generator's known warp, so the rectifier
            learns to flatten text directly instead of only through the CTC loss.
            Samples without ``gt_warp`` (real data) add nothing. Needs a preprocessor.
        in_channels: image channels (1 grey, 3 RGB).
        data_preprocessor: default ``ImgDataPreprocessor`` mapping [0, 255] to [-1, 1].

    ``forward(inputs (N, C, H, W), data_samples, mode)``: ``'loss'`` -> ``{'loss_ctc':
    ..., 'loss_stn_*': ...}``; ``'predict'`` -> data samples with ``pred_text``
    (``item``, ``score``); ``'tensor'`` -> logits ``(N, T, num_classes)``.
    """

    def __init__(self, dictionary=None, backbone: Optional[dict] = None, decoder: Optional[dict] = None,
                 preprocessor: Optional[dict] = None, decoding: Union[str, dict] = "greedy", in_channels: int = 3,
                 warp_supervision: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type="ImgDataPreprocessor", mean=[127.5] * in_channels,
                                     std=[127.5] * in_channels)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.dictionary = _build_dictionary(dictionary)
        self.in_channels = int(in_channels)

        self.preprocessor = None
        if preprocessor is not None:
            cfg = dict(preprocessor)
            if "type" not in cfg:
                raise KeyError("preprocessor config needs a 'type', e.g. dict(type='SpatialTransformer', ...)")
            cls = MODELS.get(cfg["type"])
            if cls is not None and "in_channels" in inspect.signature(cls).parameters:
                cfg.setdefault("in_channels", self.in_channels)
            self.preprocessor = MODELS.build(cfg)

        self.warp_weight = 0.0
        if warp_supervision is not None:
            unknown = set(warp_supervision) - {"weight"}
            if unknown or "weight" not in warp_supervision:
                raise KeyError(f"warp_supervision takes exactly dict(weight=...), got keys {sorted(warp_supervision)}")
            if self.preprocessor is None:
                raise ValueError("warp_supervision needs a preprocessor (a rectifier) to supervise")
            self.warp_weight = float(warp_supervision["weight"])

        cfg = dict(backbone or dict(type="CRNNBackbone"))
        cfg.setdefault("type", "CRNNBackbone")
        cfg.setdefault("in_channels", self.in_channels)
        self.backbone = MODELS.build(cfg)
        feat_channels = getattr(self.backbone, "out_channels", None)
        cfg = dict(decoder or dict(type="BiLSTMCTCHead"))
        cfg.setdefault("type", "BiLSTMCTCHead")
        if feat_channels is not None:
            cfg.setdefault("in_channels", feat_channels)
        elif "in_channels" not in cfg:
            raise KeyError("decoder.in_channels is needed: the backbone has no 'out_channels' attribute")
        cfg.setdefault("num_classes", self.dictionary.num_classes)
        if cfg["num_classes"] != self.dictionary.num_classes:
            raise ValueError(f"decoder.num_classes={cfg['num_classes']} but the dictionary has "
                             f"{self.dictionary.num_classes} classes (characters + blank)")
        self.decoder = MODELS.build(cfg)

        decoding = dict(type=decoding) if isinstance(decoding, str) else dict(decoding)
        if decoding.get("type") not in DECODINGS:
            raise ValueError(f"decoding type must be one of {DECODINGS}, got {decoding.get('type')!r}")
        self.decoding = decoding

    # -- pieces ------------------------------------------------------------------
    def rectify(self, inputs: Tensor) -> Tuple[Tensor, Optional[Transform]]:
        """Run the preprocessor: ``(N, C, H, W)`` -> rectified ``(N, C, h, w)`` and its
        transform (normalised output -> normalised input coordinates), or the input
        and None without a preprocessor."""
        if self.preprocessor is None:
            return inputs, None
        try:
            out = self.preprocessor(inputs, return_transform=True)
        except TypeError:
            return self.preprocessor(inputs), None
        return out

    def extract_logits(self, inputs: Tensor) -> Tuple[Tensor, Optional[Transform]]:
        """``(N, C, H, W)`` normalised images -> logits ``(N, T, num_classes)`` and the transform."""
        if inputs.dim() != 4 or inputs.shape[1] != self.in_channels:
            raise ValueError(f"inputs must be (N, {self.in_channels}, H, W), got {tuple(inputs.shape)}")
        x, transform = self.rectify(inputs)
        return self.decoder(self.backbone(x)), transform

    # -- BaseModel API -------------------------------------------------------------
    def forward(self, inputs: Tensor, data_samples: Optional[List[TextRecogDataSample]] = None,
                mode: str = "tensor"):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.extract_logits(inputs)[0]
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: Tensor, data_samples: Sequence[TextRecogDataSample]) -> Dict[str, Tensor]:
        if data_samples is None or len(data_samples) != inputs.shape[0]:
            raise ValueError("loss needs one data sample (with gt_text) per input")
        logits, transform = self.extract_logits(inputs)
        log_probs = logits.float().log_softmax(-1)  # (N, T, C)
        targets, target_lengths = self.dictionary.encode_batch([s.gt_text.item for s in data_samples])
        n, t = log_probs.shape[:2]
        input_lengths = torch.full((n,), t, dtype=torch.long)
        loss = F.ctc_loss(log_probs.transpose(0, 1), targets.to(logits.device), input_lengths.to(logits.device),
                          target_lengths.to(logits.device), blank=self.dictionary.blank, reduction="mean",
                          zero_infinity=True)
        losses = dict(loss_ctc=loss)
        if transform is not None and hasattr(self.preprocessor, "regularization_losses"):
            losses.update(self.preprocessor.regularization_losses(transform))
        if self.warp_weight and transform is not None:
            losses["loss_warp"] = self.warp_weight * self.warp_loss(transform, data_samples)
        return losses

    def warp_loss(self, transform: Transform, data_samples: Sequence[TextRecogDataSample]) -> Tensor:
        """Mean L1 distance between ``transform.map_points(gt_warp.points)`` and
        ``gt_warp.targets`` over the samples that have ``gt_warp`` (0 if none has)."""
        idx = [i for i, s in enumerate(data_samples) if hasattr(s, "gt_warp")]
        if not idx:
            return torch.zeros((), device=transform.device)
        points = torch.stack([data_samples[i].gt_warp.points for i in idx]).to(transform.device, transform.dtype)
        targets = torch.stack([data_samples[i].gt_warp.targets for i in idx]).to(transform.device, transform.dtype)
        mapped = transform.select(torch.tensor(idx, device=transform.device)).map_points(points)
        return (mapped - targets).abs().mean()

    @torch.no_grad()
    def decode_logits(self, logits: Tensor) -> List[Tuple[str, float]]:
        """Logits ``(N, T, C)`` -> ``[(text, score)]`` with the configured decoding."""
        log_probs = logits.float().log_softmax(-1).cpu()
        if self.decoding["type"] == "beam":
            decoded = ctc_beam_search_decode(log_probs, beam_width=int(self.decoding.get("beam_width", 5)),
                                             blank=self.dictionary.blank)
            decoded = [(labels, float(torch.tensor(score).exp())) for labels, score in decoded]
        else:
            decoded = ctc_greedy_decode(log_probs, blank=self.dictionary.blank)
        return [(self.dictionary.decode(labels), score) for labels, score in decoded]

    def predict(self, inputs: Tensor, data_samples: Optional[Sequence[TextRecogDataSample]] = None
                ) -> List[TextRecogDataSample]:
        logits, _ = self.extract_logits(inputs)
        if data_samples is None:
            data_samples = [TextRecogDataSample() for _ in range(inputs.shape[0])]
        for sample, (text, score) in zip(data_samples, self.decode_logits(logits)):
            sample.pred_text = LabelData(item=text, score=score)
        return list(data_samples)
