"""The text spotting detector: a two-stage detector whose RoI head also reads the words.

:class:`TextSpotter` is mmdet's ``TwoStageDetector`` (backbone, neck, RPN, RoI head)
that also hands its :class:`~stn_plugin.spotting.roi_head.SpottingRoIHead` the batch's
images, as an argument of the head's ``loss`` / ``predict``, for its recognition crops
(mmdet's detectors pass an RoI head only the features). The images
are brought from the detector's normalisation to the recognizer's (its
``data_preprocessor`` ``mean`` / ``std``), so a recognizer trained on word crops sees
crops as it was trained on; the channel order is the detector's (RGB with mmdet's
``bgr_to_rgb=True``, as the crop-level pipelines load them).
"""
from __future__ import annotations

import copy
from typing import List, Optional, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmengine.optim import OptimWrapperDict
from torch import Tensor

from .roi_head import SpottingRoIHead
from .submodule_optimizers import multi_optimizer_train_step


def _normalisation(preprocessor):
    """``(mean, std)`` ``(C, 1, 1)`` of an ``ImgDataPreprocessor`` (None, None when it does not normalise)."""
    if getattr(preprocessor, "_enable_normalize", False):
        return preprocessor.mean, preprocessor.std
    return None, None


@MODELS.register_module()
class TextSpotter(TwoStageDetector):
    """``TwoStageDetector`` with a :class:`SpottingRoIHead` (same constructor arguments)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.roi_head, SpottingRoIHead):
            raise TypeError(f"TextSpotter needs roi_head type='SpottingRoIHead', got {type(self.roi_head).__name__}")

    def recognition_images(self, batch_inputs: Tensor) -> Tensor:
        """``batch_inputs`` (normalised by the detector) normalised as the recognizer expects."""
        mean, std = _normalisation(self.data_preprocessor)
        images = batch_inputs if mean is None else batch_inputs * std + mean
        mean, std = _normalisation(self.roi_head.recognizer.data_preprocessor)
        return images if mean is None else (images - mean) / std

    def _head_images(self, batch_inputs: Tensor) -> Optional[Tensor]:
        """What the head's ``images`` argument gets: the recognizer's images, or None when
        the head reads the features."""
        return self.recognition_images(batch_inputs) if self.roi_head.recog_inputs == "image" else None

    def _proposals_and_rpn_losses(self, x: Tuple[Tensor], batch_data_samples) -> Tuple[List, dict]:
        """``TwoStageDetector.loss``'s first stage: the RPN's proposals (class-agnostic
        targets) and losses (``rpn_`` prefixed), or the samples' own ``proposals``."""
        if not self.with_rpn:
            if batch_data_samples[0].get("proposals", None) is None:
                raise ValueError("TextSpotter without an rpn_head needs 'proposals' in its data samples")
            return [s.proposals for s in batch_data_samples], {}
        proposal_cfg = self.train_cfg.get("rpn_proposal", self.test_cfg.rpn)
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_data_samples:
            sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
        rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(x, rpn_data_samples,
                                                                      proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if "loss" in key and "rpn" not in key:
                rpn_losses[f"rpn_{key}"] = rpn_losses.pop(key)
        return rpn_results_list, rpn_losses

    def train_step(self, data, optim_wrapper):
        """mmengine's training step; with an ``OptimWrapperDict`` (e.g. SGD for the detector,
        Adam for the recognition branch: ``SubmoduleOptimWrapperConstructor``) one backward
        pass steps every optimizer."""
        if isinstance(optim_wrapper, OptimWrapperDict):
            return multi_optimizer_train_step(self, data, optim_wrapper)
        return super().train_step(data, optim_wrapper)

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        """``TwoStageDetector.loss``, the RoI head also given the images."""
        x = self.extract_feat(batch_inputs)
        rpn_results_list, losses = self._proposals_and_rpn_losses(x, batch_data_samples)
        losses.update(self.roi_head.loss(x, rpn_results_list, batch_data_samples,
                                         images=self._head_images(batch_inputs)))
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples, rescale: bool = True):
        """``TwoStageDetector.predict``, the RoI head also given the images."""
        x = self.extract_feat(batch_inputs)
        if batch_data_samples[0].get("proposals", None) is None:
            rpn_results_list = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        else:
            rpn_results_list = [s.proposals for s in batch_data_samples]
        results_list = self.roi_head.predict(x, rpn_results_list, batch_data_samples, rescale=rescale,
                                             images=self._head_images(batch_inputs))
        return self.add_pred_to_datasample(batch_data_samples, results_list)
