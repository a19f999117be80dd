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

Geometry supervision, both off by default:

* ``outline_loss_weight > 0`` adds ``loss_outline``: for each positive RoI, the points
  the RoI rectifier predicts (a TPS's control points, a matrix transform's crop
  corners) against the same points of its word's annotated polygon in the RoI's frame
  (:func:`~stn_plugin.spotting.text_outline.roi_outline_targets`; Smooth L1 with
  ``outline_loss_beta``). The ground-truth instances need their polygons
  (``gt_instances.masks`` as ``PolygonMasks``: ``LoadTextSpottingAnnotations`` loads them);
* ``recog_geometry``: what the recognizer reads in training. ``'predicted'`` (default):
  the rectifier's crops of the positive RoIs; ``'gt'``: each annotated word (at most
  ``max_recog_rois_per_img`` per image) flattened along its own polygon
  (:func:`~stn_plugin.textrecog.geometric_rectification.rectify_regions` at the
  recognizer's input size: teacher forcing of the geometry), loss
  ``loss_recog_gt_ctc``, so the rectifier learns from ``loss_outline`` (and its
  regularisers) only; ``'both'``: the two losses. At test time the recognizer always
  reads the predicted geometry.

``predict_crops`` picks the test-time crops: ``'rectifier'`` (default) the RoI
rectifier's samples; ``'polygons'`` each predicted polygon flattened geometrically
(the same flattening as the ``'gt'`` crops), so a crop-level recognizer reads the
detector's outlines as it was trained (a polygon that cannot be flattened falls back
to the rectifier's crop).

Prediction: per detection, ``texts`` (str), ``text_scores`` and ``polygons``
``(N, 2 * polygon_points_per_edge, 2)``: the border of the rectified crop mapped to
image pixels (:func:`~stn_plugin.spotting.text_outline.roi_text_polygons`), clockwise
from the word's start -- a quadrilateral for matrix transforms, a curve for TPS, the
box itself for an axis-aligned extractor.
"""
from __future__ import annotations

import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.structures.mask import PolygonMasks
from torch import Tensor

from ..detection.roi_heads import RectifyingRoIHead
from ..detection.roi_rectifiers import RoIRectifierExtractor
from ..geometry.coords import index_to_continuous_matrix
from ..geometry.families import build_family
from ..modules.ddp import zero_touching_parameters
from ..textrecog.geometric_rectification import rectify_regions
from ..textrecog.structures import data_samples_from_texts
from .text_outline import outline_loss, outline_points, roi_outline_targets, roi_text_polygons

__all__ = ["SpottingRoIHead", "RECOG_INPUTS", "RECOG_BOXES", "RECOG_GEOMETRIES", "PREDICT_CROPS",
           "polygon_crops"]

RECOG_INPUTS = ("image", "features")
RECOG_BOXES = ("proposals", "refined")
RECOG_GEOMETRIES = ("predicted", "gt", "both")
PREDICT_CROPS = ("rectifier", "polygons")


def _to_index(polygon: np.ndarray) -> np.ndarray:
    """``(P, 2)`` continuous pixel coordinates -> index coordinates (what the text-region
    readers take)."""
    to_index = torch.linalg.inv(index_to_continuous_matrix(dtype=torch.float64)).numpy()
    return polygon @ to_index[:2, :2].T + to_index[:2, 2]


def polygon_crops(image: Tensor, polygons: Sequence[np.ndarray], out_size: Sequence[int],
                  sampling_ratio: int = 2) -> List[Optional[Tensor]]:
    """Each polygon (``(P, 2)`` continuous pixels of ``image (C, H, W)``, top edge then
    bottom edge) flattened geometrically at ``out_size``: ``(C, h, w)`` crops, None for a
    polygon that cannot be flattened (degenerate, crossing itself, outside the image)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a polygon that cannot be flattened is reported as None
        return rectify_regions(image, [_to_index(np.asarray(p, np.float64).reshape(-1, 2)) for p in polygons],
                               on_error="warn", sampling_ratio=sampling_ratio, size=tuple(out_size),
                               device=image.device)


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
        outline_loss_weight: factor of ``loss_outline`` (0: no outline supervision).
        outline_loss_beta: Smooth L1's ``beta`` of ``loss_outline``, in box half-sizes.
        recog_geometry: ``'predicted'``, ``'gt'`` or ``'both'``: what the recognizer
            reads in training (see the module docstring).
        predict_crops: ``'rectifier'`` or ``'polygons'``: what it reads at test time.
        **kwargs: ``StandardRoIHead``'s (``bbox_roi_extractor``, ``bbox_head``,
            ``train_cfg``, ``test_cfg``, ...); no mask branch.
    """

    def __init__(self, recog_roi_extractor: dict, recognizer: dict, recog_inputs: str = "image",
                 max_recog_rois_per_img: int = 32, recog_loss_weight: float = 1.0,
                 polygon_points_per_edge: int = 7, recog_boxes: str = "proposals",
                 outline_loss_weight: float = 0.0, outline_loss_beta: float = 0.1,
                 recog_geometry: str = "predicted", predict_crops: str = "rectifier", **kwargs) -> None:
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
        if recog_geometry not in RECOG_GEOMETRIES:
            raise ValueError(f"SpottingRoIHead recog_geometry must be one of {RECOG_GEOMETRIES}, "
                             f"got {recog_geometry!r}")
        if predict_crops not in PREDICT_CROPS:
            raise ValueError(f"SpottingRoIHead predict_crops must be one of {PREDICT_CROPS}, got {predict_crops!r}")
        if recog_inputs != "image" and (recog_geometry != "predicted" or predict_crops != "rectifier"):
            raise ValueError("SpottingRoIHead recog_geometry='gt' / 'both' and predict_crops='polygons' flatten "
                             "polygons from the image: they need recog_inputs='image'")
        if not outline_loss_weight >= 0 or not outline_loss_beta > 0:
            raise ValueError(f"SpottingRoIHead outline_loss_weight must be >= 0 and outline_loss_beta > 0, got "
                             f"{outline_loss_weight!r} and {outline_loss_beta!r}")
        super().__init__(**kwargs)
        self.recog_roi_extractor = MODELS.build(recog_roi_extractor)
        if recog_boxes == "refined" and not isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            raise ValueError("SpottingRoIHead recog_boxes='refined' needs an RoI rectifier as recog_roi_extractor "
                             "(its sampling is differentiable with respect to the boxes; "
                             f"{type(self.recog_roi_extractor).__name__} is not)")
        if outline_loss_weight > 0 and not isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            raise ValueError("SpottingRoIHead outline_loss_weight > 0 supervises an RoI rectifier's outline: "
                             f"{type(self.recog_roi_extractor).__name__} predicts none")
        if recog_geometry == "gt" and outline_loss_weight == 0 and isinstance(self.recog_roi_extractor,
                                                                               RoIRectifierExtractor):
            raise ValueError("SpottingRoIHead recog_geometry='gt' reads the annotated outlines only, so its RoI "
                             "rectifier would learn nothing: set outline_loss_weight > 0 (or use 'both')")
        self.recog_boxes = recog_boxes
        self.outline_loss_weight = float(outline_loss_weight)
        self.outline_loss_beta = float(outline_loss_beta)
        self.recog_geometry = recog_geometry
        self.predict_crops = predict_crops
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

    def _crop_size(self) -> Tuple[Tuple[int, int], int]:
        """``((h, w), sampling ratio)`` of the recognition crops."""
        size = tuple(int(v) for v in self.recog_roi_extractor.roi_layers[0].output_size)
        if isinstance(self.recog_roi_extractor, RoIRectifierExtractor):
            return size, self.recog_roi_extractor.rectifier.sampling_ratio
        return size, int(getattr(self.recog_roi_extractor.roi_layers[0], "sampling_ratio", 0)) or 2

    @staticmethod
    def _gt_polygons(sample, indices: Sequence[int]) -> List[np.ndarray]:
        """``(P, 2)`` polygons (continuous pixels of the network input) of ground-truth
        instances ``indices`` of ``sample`` (each instance's first part)."""
        masks = sample.gt_instances.get("masks")
        if not isinstance(masks, PolygonMasks):
            raise ValueError("SpottingRoIHead outline supervision and recog_geometry='gt' / 'both' need the words' "
                             "polygons as gt_instances.masks (PolygonMasks): load them with "
                             "LoadTextSpottingAnnotations (with_mask=True, poly2mask=False), got "
                             f"{type(masks).__name__}")
        return [np.asarray(masks.masks[j][0], np.float64).reshape(-1, 2) for j in indices]

    def gt_geometry_crops(self, images: Tensor, batch_data_samples) -> Tuple[Optional[Tensor], List[str]]:
        """Teacher forcing of the geometry: ``(M, C, h, w)`` crops of the annotated words
        (at most ``max_recog_rois_per_img`` per image), each flattened along its own polygon
        (:func:`polygon_crops`), and their transcriptions; ``(None, [])`` without words.
        Polygons that cannot be flattened are left out."""
        size, ratio = self._crop_size()
        crops, texts = [], []
        for i, sample in enumerate(batch_data_samples):
            gt_texts = sample.gt_instances.get("texts")
            count = min(len(sample.gt_instances), self.max_recog_rois_per_img)
            if count == 0:
                continue
            if gt_texts is None:
                raise ValueError("SpottingRoIHead needs the words' transcriptions (gt_instances.texts): load them "
                                 "with LoadTextSpottingAnnotations and pack them with PackTextSpottingInputs")
            for crop, text in zip(polygon_crops(images[i].detach(), self._gt_polygons(sample, range(count)), size,
                                                ratio), gt_texts[:count]):
                if crop is not None:
                    crops.append(crop)
                    texts.append(text)
        return (torch.stack(crops) if crops else None), texts

    def _recognizer_losses(self, crops: Tensor, texts: List[str], prefix: str) -> dict:
        recog = self.recognizer.loss(crops, data_samples_from_texts(texts))
        return {f"loss_{prefix}" + k[len("loss_"):] if k.startswith("loss_") else prefix + k:
                v * self.recog_loss_weight for k, v in recog.items()}

    def recognition_loss(self, x: Tuple[Tensor], sampling_results, batch_data_samples,
                         bbox_pred: Optional[Tensor] = None, images: Optional[Tensor] = None) -> dict:
        """The recognition losses: CTC of the positive RoIs' crops against their words'
        transcriptions (``recog_geometry`` ``'predicted'`` / ``'both'``), CTC of the words
        flattened along their annotated polygons (``'gt'`` / ``'both'``), the outline loss
        (``outline_loss_weight > 0``) and the recognition rectifier's regularisers.
        ``bbox_pred``: the box head's regression of the sampled RoIs (needed with
        ``recog_boxes='refined'``); ``images``: as in :meth:`loss`."""
        if self.recog_boxes == "refined" and bbox_pred is None:
            raise ValueError("SpottingRoIHead recog_boxes='refined' needs the box head's bbox_pred")
        read_predicted = self.recog_geometry != "gt"
        rectifier = isinstance(self.recog_roi_extractor, RoIRectifierExtractor)
        losses = {}
        if self.recog_geometry != "predicted":
            crops, texts = self.gt_geometry_crops(self._recog_sources(x, images)[0], batch_data_samples)
            if crops is None:
                losses["loss_recog_gt_ctc"] = zero_touching_parameters(self.recognizer)
            else:
                losses.update(self._recognizer_losses(crops, texts, "recog_gt_"))
        rois, texts, polygons = [], [], []
        start = 0
        for i, (res, sample) in enumerate(zip(sampling_results, batch_data_samples)):
            n = min(res.pos_priors.shape[0], self.max_recog_rois_per_img)
            first = start
            start += res.priors.shape[0]  # the sampled RoIs of an image: its positives first
            if n == 0:
                continue
            assigned = res.pos_assigned_gt_inds[:n].tolist()
            if read_predicted:
                gt_texts = sample.gt_instances.get("texts")
                if gt_texts is None:
                    raise ValueError("SpottingRoIHead needs the words' transcriptions (gt_instances.texts): load "
                                     "them with LoadTextSpottingAnnotations and pack them with "
                                     "PackTextSpottingInputs")
                texts += [gt_texts[j] for j in assigned]
            if self.outline_loss_weight > 0:
                polygons += self._gt_polygons(sample, assigned)
            if self.recog_boxes == "refined":
                boxes = self._refined_boxes(res, slice(first, first + n), bbox_pred)
            else:
                boxes = res.pos_priors[:n].detach()
            rois.append(torch.cat([boxes.new_full((n, 1), float(i)), boxes], 1))
        if not rois:  # no positive RoI: zero losses that keep the branch in the graph (DDP)
            zero = zero_touching_parameters(self.recognizer) + zero_touching_parameters(self.recog_roi_extractor)
            if read_predicted:
                losses["loss_recog_ctc"] = zero
            if self.outline_loss_weight > 0:
                losses["loss_outline"] = zero_touching_parameters(self.recog_roi_extractor)
            return losses
        rois = torch.cat(rois)
        if not read_predicted and not rectifier:
            return losses  # nothing learns from the predicted crops of an axis-aligned extractor
        crops, transform = self._recognition_crops(x, rois, images)
        if read_predicted:  # else the rectifier runs for its outline and regularisers only
            losses.update(self._recognizer_losses(crops, texts, "recog_"))
        if rectifier:
            losses.update(self.recog_roi_extractor.regularization_losses_of_last("recog_"))
        if self.outline_loss_weight > 0:
            family = self.recog_roi_extractor.family
            targets = roi_outline_targets(polygons, rois[:, 1:], family)
            losses["loss_outline"] = self.outline_loss_weight * outline_loss(
                outline_points(family, transform), targets, self.outline_loss_beta)
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
            if self.predict_crops == "polygons":
                crops = self._polygon_crops_of(self._recog_sources(x, images)[0], rois, polygons, crops)
            logits, _ = self.recognizer.extract_logits(crops)
            decoded = self.recognizer.decode_logits(logits)
        start = 0
        for res in results_list:
            n = len(res.bboxes)
            res.texts = [text for text, _ in decoded[start:start + n]]
            res.text_scores = rois.new_tensor([score for _, score in decoded[start:start + n]])
            res.polygons = polygons[start:start + n]
            start += n

    def _polygon_crops_of(self, images: Tensor, rois: Tensor, polygons: Tensor, fallback: Tensor) -> Tensor:
        """``predict_crops='polygons'``: each predicted polygon ``(N, k, 2)`` (input image
        pixels) flattened from its image; ``fallback``'s crop where it cannot be."""
        size, ratio = self._crop_size()
        out = fallback.clone()
        for b in rois[:, 0].unique().tolist():
            rows = (rois[:, 0] == b).nonzero(as_tuple=False).squeeze(1)
            flat = polygon_crops(images[int(b)], polygons[rows].cpu().numpy(), size, ratio)
            for row, crop in zip(rows.tolist(), flat):
                if crop is not None:
                    out[row] = crop.to(out.dtype)
        return out
