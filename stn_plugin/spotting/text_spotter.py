"""The text spotting detector: a two-stage detector whose RoI head also reads the words.

:class:`TextSpotter` is mmdet's ``TwoStageDetector`` (backbone, neck, RPN, RoI head)
that, around each ``loss`` / ``predict``, hands a
:class:`~stn_plugin.spotting.roi_head.SpottingRoIHead` the batch's images for its
recognition crops (mmdet's detectors pass an RoI head only the features). The images
are brought from the detector's normalisation to the recognizer's (its
``data_preprocessor`` ``mean`` / ``std``), so a recognizer trained on word crops sees
crops as it was trained on; the channel order is the detector's (RGB with mmdet's
``bgr_to_rgb=True``, as the crop-level pipelines load them).
"""
from __future__ import annotations

from contextlib import contextmanager

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

    @contextmanager
    def _images_for_recognition(self, batch_inputs: Tensor):
        head = self.roi_head
        head.recognition_images = self.recognition_images(batch_inputs) if head.recog_inputs == "image" else None
        try:
            yield
        finally:
            head.recognition_images = None

    def train_step(self, data, optim_wrapper):
        """mmengine's training step; with an ``OptimWrapperDict`` (e.g. SGD for the detector,
        Adam for the recognition branch: ``SubmoduleOptimWrapperConstructor``) one backward
        pass steps every optimizer."""
        if isinstance(optim_wrapper, OptimWrapperDict):
            return multi_optimizer_train_step(self, data, optim_wrapper)
        return super().train_step(data, optim_wrapper)

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        with self._images_for_recognition(batch_inputs):
            return super().loss(batch_inputs, batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples, rescale: bool = True):
        with self._images_for_recognition(batch_inputs):
            return super().predict(batch_inputs, batch_data_samples, rescale=rescale)
