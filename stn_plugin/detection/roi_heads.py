"""RoI heads that work with the RoI rectifiers.

They only add what a rectifier needs on top of mmdet's heads:

* the rectifiers' regulariser losses join the loss dict (so they are optimised and
  logged), prefixed per extractor / cascade stage;
* masks stay right: when the mask branch sees rectified features, its training
  targets are sampled from the ground-truth bitmaps through the same per-RoI
  transform, and its predicted logits are mapped back through the inverse
  transform before mmdet pastes them into the image.

With plain ``SingleRoIExtractor`` s they behave exactly like mmdet's heads.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

from ..geometry.transforms import Transform
from ..ops.profiling import profile_stage
from ..ops.roi_sample import roi_sample
from ..ops.warp import warp
from .roi_rectifiers import RoIRectifierExtractor

# Logit given to mask pixels whose pre-image lies outside the rectified crop: sigmoid ~ 0.
OUTSIDE_MASK_LOGIT = -20.0
MASK_TARGET_SAMPLING_RATIO = 2


def rectified_mask_targets(sampling_results, batch_gt_instances, transform: Transform,
                           mask_size: Tuple[int, int]) -> Tensor:
    """Binary mask targets ``(P, h, w)`` for the positive RoIs, sampled from the
    ground-truth masks through ``transform`` (``P`` RoIs, all images in order)."""
    targets, start = [], 0
    for res, gt in zip(sampling_results, batch_gt_instances):
        n = res.pos_priors.shape[0]
        if n == 0:
            continue
        masks = gt.masks.to_tensor(dtype=res.pos_priors.dtype, device=res.pos_priors.device)[:, None]
        rois = torch.cat([res.pos_assigned_gt_inds[:, None].to(masks.dtype), res.pos_priors], 1)
        t = transform.select(slice(start, start + n))
        with torch.no_grad():  # binary targets: no gradient to the transform or the boxes
            sampled = roi_sample(masks, rois, t, mask_size, 1.0, MASK_TARGET_SAMPLING_RATIO, "zeros")
        targets.append((sampled[:, 0] >= 0.5).to(masks.dtype))
        start += n
    if not targets:
        return torch.zeros(0, *mask_size, device=transform.device)
    return torch.cat(targets)


def unrectify_mask_logits(mask_preds: Tensor, transform: Transform) -> Tensor:
    """Map mask logits ``(N, K, h, w)`` predicted in the rectified frame back to the
    box frame: pixel ``u`` of the result reads the prediction at ``T^-1(u)``."""
    if mask_preds.shape[0] == 0:
        return mask_preds
    inverse = transform.inverse(strict=False)
    return warp(mask_preds, inverse, tuple(mask_preds.shape[-2:]), fill_value=OUTSIDE_MASK_LOGIT)


class _RegularizedMixin:
    def _rectifier_losses(self, extractors) -> dict:
        losses = {}
        for prefix, ext in extractors:
            if isinstance(ext, RoIRectifierExtractor):
                losses.update(ext.regularization_losses_of_last(prefix))
        return losses


@MODELS.register_module()
class RectifyingRoIHead(_RegularizedMixin, StandardRoIHead):
    """``StandardRoIHead`` (Faster / Mask R-CNN) for RoI rectifiers."""

    def loss(self, x: Tuple[Tensor], rpn_results_list, batch_data_samples) -> dict:
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        extractors = [("bbox_", self.bbox_roi_extractor)] if self.with_bbox else []
        if self.with_mask and not self.share_roi_extractor:
            extractors.append(("mask_", self.mask_roi_extractor))
        losses.update(self._rectifier_losses(extractors))
        return losses

    def mask_loss(self, x, sampling_results, bbox_feats, batch_gt_instances) -> dict:
        extractor = self.mask_roi_extractor
        if not isinstance(extractor, RoIRectifierExtractor):
            return super().mask_loss(x, sampling_results, bbox_feats, batch_gt_instances)
        if not self.share_roi_extractor:
            mask_results = self._mask_forward(x, bbox2roi([res.pos_priors for res in sampling_results]))
            transform = extractor.transform_of_last()
        else:
            pos_inds = torch.cat([torch.cat([bbox_feats.new_ones(res.pos_priors.shape[0], dtype=torch.bool),
                                             bbox_feats.new_zeros(res.neg_priors.shape[0], dtype=torch.bool)])
                                  for res in sampling_results])
            mask_results = self._mask_forward(x, pos_inds=pos_inds.to(torch.uint8), bbox_feats=bbox_feats)
            transform = extractor.transform_of_last(pos_inds)
        mask_size = self.train_cfg.mask_size
        mask_size = (mask_size, mask_size) if isinstance(mask_size, int) else tuple(mask_size)
        with profile_stage("rectifier.mask_targets"):
            targets = rectified_mask_targets(sampling_results, batch_gt_instances, transform, mask_size)
        mask_preds = mask_results["mask_preds"]
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if mask_preds.size(0) == 0:
            loss_mask = mask_preds.sum()
        else:
            if self.mask_head.class_agnostic:
                labels = torch.zeros_like(labels)
            loss_mask = self.mask_head.loss_mask(mask_preds, targets, labels)
        mask_results.update(loss_mask=dict(loss_mask=loss_mask), mask_targets=targets)
        return mask_results

    def predict_mask(self, x, batch_img_metas: List[dict], results_list, rescale: bool = False):
        extractor = self.mask_roi_extractor
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if not isinstance(extractor, RoIRectifierExtractor) or mask_rois.shape[0] == 0:
            return super().predict_mask(x, batch_img_metas, results_list, rescale)
        mask_preds = self._mask_forward(x, mask_rois)["mask_preds"]
        with profile_stage("rectifier.mask_unrectify"):
            mask_preds = unrectify_mask_logits(mask_preds, extractor.transform_of_last())
        mask_preds = mask_preds.split([len(res) for res in results_list], 0)
        return self.mask_head.predict_by_feat(mask_preds=mask_preds, results_list=results_list,
                                              batch_img_metas=batch_img_metas, rcnn_test_cfg=self.test_cfg,
                                              rescale=rescale)


@MODELS.register_module()
class RectifyingCascadeRoIHead(_RegularizedMixin, CascadeRoIHead):
    """``CascadeRoIHead`` whose stages may use RoI rectifiers (box branch)."""

    def loss(self, x: Tuple[Tensor], rpn_results_list, batch_data_samples) -> dict:
        losses = super().loss(x, rpn_results_list, batch_data_samples)
        losses.update(self._rectifier_losses(
            (f"s{i}.bbox_", ext) for i, ext in enumerate(self.bbox_roi_extractor)))
        return losses
