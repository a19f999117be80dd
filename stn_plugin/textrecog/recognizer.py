"""CTC text recognizer (CRNN) with an optional rectifying preprocessor.

``inputs -> data_preprocessor (normalise, stack) -> preprocessor (e.g. a TPS
SpatialTransformer: rectify) -> backbone (N, D, T) -> decoder logits (N, T, C) ->
CTC loss / greedy or beam decoding``. Mirrors mmocr 1.x's recognizer layout
(``preprocessor=dict(type='STN', ...)``) with the plugin's spatial transformers.
"""
from __future__ import annotations

import inspect
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import LabelData
from mmdet.registry import MODELS
from torch import Tensor

from ..geometry.tables import build_from_table
from ..geometry.transforms import Transform
from ..modules.spatial_transformer import SpatialTransformerBase
from .ctc_decoding import ctc_beam_search_decode, ctc_greedy_decode
from .dictionary import CTCDictionary
from .structures import TextRecogDataSample

DECODINGS = ("greedy", "beam")


def _build_dictionary(cfg: Union[None, str, dict, CTCDictionary]) -> CTCDictionary:
    """``None``: the default alphabet; a string: its characters; a dict: the options of
    :class:`CTCDictionary` (``type``, if given, must be ``'CTCDictionary'``)."""
    if cfg is None:
        return CTCDictionary()
    if isinstance(cfg, str):
        return CTCDictionary(characters=cfg)
    return build_from_table(cfg, {"CTCDictionary": CTCDictionary}, "dictionary", default_type="CTCDictionary",
                            instance_of=CTCDictionary)


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
        preprocessor: optional module run before the backbone, ``(N, C, H, W) -> (N, C,
            h, w)``, e.g. ``dict(type='SpatialTransformer', family=dict(type='tps', ...),
            ...)``; ``in_channels`` defaults to ``in_channels``. A spatial transformer
            (any :class:`~stn_plugin.modules.spatial_transformer.SpatialTransformerBase`)
            also reports its transform: its regularisers are added to the losses and
            warp supervision can use it. Any other module just preprocesses.
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
    ..., 'loss_stn_*': ...}`` (labels CTC cannot learn -- empty once characters outside
    the dictionary are dropped, or longer than the ``T`` outputs -- are left out of the
    loss with a warning that counts them); ``'predict'`` -> data samples with ``pred_text``
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
        self._label_issue_counts: Dict[str, int] = {}  # labels left out of the loss, by kind

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
            if not isinstance(self.preprocessor, SpatialTransformerBase):
                raise ValueError("warp_supervision needs a preprocessor that reports its transform (a spatial "
                                 f"transformer) to supervise, got {type(self.preprocessor).__name__}")
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
        transform (normalised output -> normalised input coordinates); the transform is
        None for a preprocessor that is no spatial transformer, and without a
        preprocessor the inputs come back unchanged."""
        if self.preprocessor is None:
            return inputs, None
        if isinstance(self.preprocessor, SpatialTransformerBase):
            return self.preprocessor(inputs, return_transform=True)
        return self.preprocessor(inputs), None

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
        keep, seqs = self._learnable_labels([s.gt_text.item for s in data_samples], log_probs.shape[1])
        if keep:
            t = log_probs.shape[1]
            lengths = torch.tensor([len(seqs[i]) for i in keep], dtype=torch.long, device=logits.device)
            targets = torch.tensor([c for i in keep for c in seqs[i]], dtype=torch.long, device=logits.device)
            per_sample = F.ctc_loss(log_probs[keep].transpose(0, 1), targets, torch.full_like(lengths, t), lengths,
                                    blank=self.dictionary.blank, reduction="none", zero_infinity=True)
            loss = (per_sample / lengths).mean()  # = reduction='mean' over the learnable labels
        else:
            loss = log_probs.sum() * 0.0  # zero, still attached to the graph
        losses = dict(loss_ctc=loss)
        if transform is not None:
            losses.update(self.preprocessor.regularization_losses(transform))
        if self.warp_weight and transform is not None:
            losses["loss_warp"] = self.warp_weight * self.warp_loss(transform, data_samples)
        return losses

    def _learnable_labels(self, texts: Sequence[str], time_steps: int) -> Tuple[List[int], List[List[int]]]:
        """Indices of the samples whose label CTC can learn, and every label's encoding.

        Characters outside the dictionary are dropped (``unknown='ignore'``); a label that
        is then empty would teach the model to output nothing, and one that needs more
        than ``time_steps`` outputs (its length plus one blank between each pair of equal
        neighbours) has no CTC alignment, so its loss is 0 and it would only dilute the
        batch mean. Both are left out of the loss. Each kind is a warning counting the
        labels so far, repeated at 1, 2, 4, 8, ... occurrences.
        """
        keep, seqs = [], []
        for i, text in enumerate(texts):
            unknown = self.dictionary.unknown_characters(text) if self.dictionary.unknown == "ignore" else []
            seq = self.dictionary.encode(text)
            seqs.append(seq)
            needed = len(seq) + sum(a == b for a, b in zip(seq, seq[1:]))
            if unknown:
                self._count_label_issue(
                    "unknown", lambda n: f"dropped characters {unknown} that are not in the dictionary from {n} "
                    f"training label(s) so far (e.g. {text!r}); extend the dictionary, or set its unknown='error'")
            if not seq:
                self._count_label_issue(
                    "empty", lambda n: f"left {n} training label(s) so far out of the CTC loss: empty after "
                    f"encoding (e.g. {text!r}); an empty label would teach the model to output nothing")
            elif needed > time_steps:
                self._count_label_issue(
                    "long", lambda n: f"left {n} training label(s) so far out of the CTC loss: longer than the "
                    f"{time_steps} CTC time steps the model outputs (e.g. {text!r} needs {needed}); use wider "
                    "inputs or a backbone that downsamples the width less")
            else:
                keep.append(i)
        return keep, seqs

    def _count_label_issue(self, kind: str, message) -> None:
        counts = self._label_issue_counts
        counts[kind] = n = counts.get(kind, 0) + 1
        if n & (n - 1) == 0:  # 1, 2, 4, 8, ...
            warnings.warn(f"{type(self).__name__}: {message(n)}", UserWarning, stacklevel=3)

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
