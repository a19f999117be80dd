"""An RoI head that also reads each word: boxes, a rectified crop per word, its text.

:class:`SpottingRoIHead` is :class:`~stn_plugin.detection.roi_heads.RectifyingRoIHead`
(boxes, optionally through an RoI rectifier) plus a recognition branch:

* ``recog_roi_extractor`` samples each RoI at a wide size (e.g. ``32 x 100``) -- through
  a learned per-RoI transform when it is an RoI rectifier (``TPSRoIRectifier``,
  ``AffineRoIRectifier``), axis-aligned when it is mmdet's ``SingleRoIExtractor`` --
  either from the image (``recog_inputs='image'``: ``featmap_strides=[1]``,
  ``out_channels=3``; the :class:`~stn_plugin.spotting.text_spotter.TextSpotter`
  detector hands the head its images) or from the FPN levels (``'features'``);
* ``recognizer``, a :class:`~stn_plugin.textrecog.recognizer.CTCTextRecognizer`, reads
  the crops. Its keys are a crop-level recognizer's, so ``init_cfg=dict(type='Pretrained',
  checkpoint=...)`` in its config starts it from one trained on word crops.

Training: the positive RoIs of the box branch's sampler (at most
``max_recog_rois_per_img`` per image), each labelled with the transcription of the word
it was assigned to, give ``loss_recog_ctc`` (times ``recog_loss_weight``) and the
recognition rectifier's regularisers (``recog_*``). The recognition loss trains the
recognizer and the rectifier (and, with ``recog_inputs='features'``, the backbone and
neck). Whether it also reaches the box regression is ``recog_boxes``:

* ``'proposals'`` (default): the crops are sampled on the positive proposals, which
  mmdet detaches; the box head learns from its own losses only;
* ``'refined'``: the crops are sampled on the box head's refined boxes of the same
  positives (its regression decoded, not detached), so the recognition loss also
  trains the box regression, through the RoI rectifier's sampling (differentiable with
  respect to the boxes; mmcv's ``RoIAlign`` is not, so this needs an RoI rectifier).

Prediction: per detection, ``texts`` (str), ``text_scores`` and ``polygons``
``(N, 2 * polygon_points_per_edge, 2)``: the border of the rectified crop mapped to
image pixels (:func:`~stn_plugin.spotting.text_outline.roi_text_polygons`), clockwise
from the word's start -- a quadrilateral for matrix transforms, a curve for TPS, the
box itself for an axis-aligned extractor.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

from ..detection.roi_heads import RectifyingRoIHead
from ..detection.roi_rectifiers import RoIRectifierExtractor
from ..geometry.families import build_family
from ..modules.ddp import zero_touching_parameters
from ..textrecog.structures import data_samples_from_texts
from .text_outline import roi_text_polygons

RECOG_INPUTS = ("image", "features")
RECOG_BOXES = ("proposals", "refined")


@MODELS.register_module()
class SpottingRoIHead(RectifyingRoIHead):
    """``RectifyingRoIHead`` with a recognition branch (see the module docstring).

    Args:
        recog_roi_extractor: config of the recognition crops' sampler.
        recognizer: config of a ``CTCTextRecognizer`` whose ``in_channels`` equals the
            extractor's ``out_channels``.
        recog_inputs: ``'image'`` or ``'features'``.
        max_recog_rois_per_img: positive RoIs per image the recognition loss uses.
        recog_loss_weight: factor of the recognizer's losses.
        recog_boxes: ``'proposals'`` or ``'refined'``: the boxes the training crops are
            sampled on (see the module docstring).
        polygon_points_per_edge: points on each long edge of the predicted polygons.
        **kwargs: ``StandardRoIHead``'s (``bbox_roi_extractor``, ``bbox_head``,
            ``train_cfg``, ``test_cfg``, ...); no mask branch.
    """

    def __init__(self, recog_roi_extractor: dict, recognizer: dict, recog_inputs: str = "image",
                 max_recog_rois_per_img: int = 32, recog_loss_weight: float = 1.0,
                 polygon_points_per_edge: int = 7, recog_boxes: str = "proposals", **kwargs) -> None:
        if kwargs.get("mask_head") is not None:
            raise ValueError("SpottingRoIHead has no mask branch: its text polygons come from the recognition "
                             "crops' transforms; drop mask_roi_extractor / mask_head")
        if recog_inputs not in RECOG_INPUTS:
            raise ValueError(f"SpottingRoIHead recog_inputs must be one of {RECOG_INPUTS}, got {recog_inputs!r}")
        if not isinstance(max_recog_rois_per_img, int) or max_recog_rois_per_img < 1:
            raise ValueError(f"SpottingRoIHead max_recog_rois_per_img must be an int >= 1, "
                             f"got {max_recog_rois_per_img!r}")
        if not isinstance(polygon_points_per_edge, int) or polygon_points_per_edge < 2:
            raise ValueError(f"SpottingRoIHead polygon_points_per_edge must be an int >= 2, "
                             f"got {polygon_points_per_edge!r}")
        if recog_boxes not in RECOG_BOXES:
            raise ValueError(f"SpottingRoIHead recog_boxes must be one of {RECOG_BOXES}, got {recog_boxes!r}")
        super().__init__(**kwargs)
        self.recog_roi_extractor = MODELS.build(recog_roi_extractor)
        if recog_boxes == "refined" and not isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            raise ValueError("SpottingRoIHead recog_boxes='refined' needs an RoI rectifier as recog_roi_extractor "
                             "(its sampling is differentiable with respect to the boxes; "
                             f"{type(self.recog_roi_extractor).__name__} is not)")
        self.recog_boxes = recog_boxes
        self.recognizer = MODELS.build(recognizer)
        channels = getattr(self.recog_roi_extractor, "out_channels", None)
        if channels != self.recognizer.in_channels:
            raise ValueError(f"SpottingRoIHead: recog_roi_extractor.out_channels={channels} but the recognizer takes "
                             f"in_channels={self.recognizer.in_channels}")
        strides = list(getattr(self.recog_roi_extractor, "featmap_strides", []))
        if recog_inputs == "image" and strides != [1]:
            raise ValueError(f"SpottingRoIHead recog_inputs='image' samples the image itself: set "
                             f"recog_roi_extractor.featmap_strides=[1] (and out_channels=3), got {strides}")
        self.recog_inputs = recog_inputs
        self.max_recog_rois_per_img = max_recog_rois_per_img
        self.recog_loss_weight = float(recog_loss_weight)
        self.polygon_points_per_edge = polygon_points_per_edge

    # -- inputs of the recognition branch ------------------------------------------------
    def _recog_sources(self, x: Tuple[Tensor], images: Optional[Tensor]) -> Tuple[Tensor]:
        if self.recog_inputs == "features":
            return x
        if images is None:
            raise RuntimeError("SpottingRoIHead with recog_inputs='image' needs the images of the batch: use it in "
                               "a TextSpotter detector (model type='TextSpotter'), or set recog_inputs='features'")
        return (images,)

    def _recognition_crops(self, x: Tuple[Tensor], rois: Tensor, images: Optional[Tensor]) -> Tuple[Tensor, object]:
        """Crops ``(N, C, h, w)`` of ``rois (N, 5)`` and the transforms (RoI frame) that sampled them."""
        crops = self.recog_roi_extractor(self._recog_sources(x, images), rois)
        if isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            return crops, self.recog_roi_extractor.transform_of_last()
        return crops, build_family("translation").identity(rois.shape[0], dtype=crops.dtype, device=crops.device)

    # -- training ---------------------------------------------------------------------
    def sample_rois(self, x: Tuple[Tensor], rpn_results_list, batch_data_samples) -> list:
        """The box branch's sampling results, one per image (``StandardRoIHead.loss``'s
        assignment and sampling; each ``rpn_results.bboxes`` is renamed ``priors``)."""
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError(f"SpottingRoIHead: {len(rpn_results_list)} proposal lists for "
                             f"{len(batch_data_samples)} images")
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop("bboxes")
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt_instances[i],
                                                      batch_gt_instances_ignore[i])
            sampling_results.append(self.bbox_sampler.sample(assign_result, rpn_results, batch_gt_instances[i],
                                                             feats=[level[i][None] for level in x]))
        return sampling_results

    def loss(self, x: Tuple[Tensor], rpn_results_list, batch_data_samples,
             images: Optional[Tensor] = None) -> dict:
        """The box branch's losses, its RoI rectifier's regularisers (``bbox_*``) and the
        recognition losses (:meth:`recognition_loss`). ``images (B, 3, H, W)``: the batch
        normalised as the recognizer expects, needed with ``recog_inputs='image'``
        (:class:`~stn_plugin.spotting.text_spotter.TextSpotter` passes them)."""
        sampling_results = self.sample_rois(x, rpn_results_list, batch_data_samples)
        losses, bbox_pred = {}, None
        if self.with_bbox:
            bbox_results = self.bbox_loss(x, sampling_results)
            losses.update(bbox_results["loss_bbox"])
            bbox_pred = bbox_results.get("bbox_pred")
            losses.update(self._rectifier_losses([("bbox_", self.bbox_roi_extractor)]))
        losses.update(self.recognition_loss(x, sampling_results, batch_data_samples, bbox_pred, images))
        return losses

    def _refined_boxes(self, res, rows: slice, bbox_pred: Tensor) -> Tensor:
        """The box head's boxes of ``res``'s first positives (rows ``rows`` of the
        batch's ``bbox_pred``), decoded from their proposals, gradient kept."""
        n = rows.stop - rows.start
        deltas = bbox_pred[rows]
        if deltas.shape[1] != 4:  # class-specific regression: the assigned class's deltas
            labels = res.pos_gt_labels[:n]
            deltas = deltas.view(n, -1, 4)[torch.arange(n, device=deltas.device), labels]
        return self.bbox_head.bbox_coder.decode(res.pos_priors[:n].detach(), deltas)

    def recognition_loss(self, x: Tuple[Tensor], sampling_results, batch_data_samples,
                         bbox_pred: Optional[Tensor] = None, images: Optional[Tensor] = None) -> dict:
        """CTC loss of the positive RoIs' crops against their words' transcriptions, and the
        recognition rectifier's regularisers. ``bbox_pred``: the box head's regression of the
        sampled RoIs (needed with ``recog_boxes='refined'``); ``images``: as in :meth:`loss`."""
        if self.recog_boxes == "refined" and bbox_pred is None:
            raise ValueError("SpottingRoIHead recog_boxes='refined' needs the box head's bbox_pred")
        rois, texts = [], []
        start = 0
        for i, (res, sample) in enumerate(zip(sampling_results, batch_data_samples)):
            n = min(res.pos_priors.shape[0], self.max_recog_rois_per_img)
            first = start
            start += res.priors.shape[0]  # the sampled RoIs of an image: its positives first
            if n == 0:
                continue
            gt_texts = sample.gt_instances.get("texts")
            if gt_texts is None:
                raise ValueError("SpottingRoIHead needs the words' transcriptions (gt_instances.texts): load them with "
                                 "LoadTextSpottingAnnotations and pack them with PackTextSpottingInputs")
            texts += [gt_texts[j] for j in res.pos_assigned_gt_inds[:n].tolist()]
            if self.recog_boxes == "refined":
                boxes = self._refined_boxes(res, slice(first, first + n), bbox_pred)
            else:
                boxes = res.pos_priors[:n].detach()
            rois.append(torch.cat([boxes.new_full((n, 1), float(i)), boxes], 1))
        if not rois:  # no positive RoI: zero losses that keep the branch in the graph (DDP)
            zero = zero_touching_parameters(self.recognizer) + zero_touching_parameters(self.recog_roi_extractor)
            return {"loss_recog_ctc": zero}
        crops, _ = self._recognition_crops(x, torch.cat(rois), images)
        recog = self.recognizer.loss(crops, data_samples_from_texts(texts))
        losses = {"loss_recog_" + k[len("loss_"):] if k.startswith("loss_") else "recog_" + k:
                  v * self.recog_loss_weight for k, v in recog.items()}
        if isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            losses.update(self.recog_roi_extractor.regularization_losses_of_last("recog_"))
        return losses

    # -- prediction -------------------------------------------------------------------
    def predict(self, x: Tuple[Tensor], rpn_results_list, batch_data_samples, rescale: bool = False,
                images: Optional[Tensor] = None) -> List:
        """Boxes, then their words (:meth:`predict_text`). ``images``: as in :meth:`loss`."""
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        results_list = self.predict_bbox(x, batch_img_metas, rpn_results_list, rcnn_test_cfg=self.test_cfg,
                                         rescale=False)
        self.predict_text(x, results_list, images)
        if rescale:  # as mmdet's box head rescales: divide by the resize's (w, h) factors
            for res, meta in zip(results_list, batch_img_metas):
                factor = res.bboxes.new_tensor(meta["scale_factor"])
                res.bboxes = res.bboxes / factor.repeat(2)
                res.polygons = res.polygons / factor
        return results_list

    @torch.no_grad()
    def predict_text(self, x: Tuple[Tensor], results_list, images: Optional[Tensor] = None) -> None:
        """Add ``texts``, ``text_scores`` and ``polygons`` (input image pixels) to each
        image's results, from their ``bboxes`` (input image pixels). ``images``: as in
        :meth:`loss`."""
        rois = bbox2roi([res.bboxes for res in results_list])
        k = 2 * self.polygon_points_per_edge
        if rois.shape[0] == 0:
            decoded, polygons = [], rois.new_zeros(0, k, 2)
        else:
            crops, transform = self._recognition_crops(x, rois, images)
            polygons = roi_text_polygons(transform, rois[:, 1:], self.polygon_points_per_edge)
            logits, _ = self.recognizer.extract_logits(crops)
            decoded = self.recognizer.decode_logits(logits)
        start = 0
        for res in results_list:
            n = len(res.bboxes)
            res.texts = [text for text, _ in decoded[start:start + n]]
            res.text_scores = rois.new_tensor([score for _, score in decoded[start:start + n]])
            res.polygons = polygons[start:start + n]
            start += n
