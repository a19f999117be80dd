"""Distorted-MNIST classification (the STN paper's section 4.1) for mmengine / mmdet.

Importing this package registers, into mmdet's registries:

* ``DATASETS``: :class:`DistortedMNISTDataset` (generates on the fly or reads what
  ``tools/dataset/make_distorted_mnist.py`` wrote);
* ``MODELS``: :class:`DigitClassifier` (an mmengine ``BaseModel``: optional
  spatial transformer in front of a classifier), :class:`DigitCNN`, :class:`DigitFCN`;
* ``METRICS``: :class:`ClassificationErrorMetric` (test error in %);
* ``HOOKS``: :class:`DigitVisualizationHook` (``tools/test.py --show-dir``).
"""
from .dataset import DistortedMNISTDataset
from .hooks import DigitVisualizationHook, ProgressPrinterHook
from .metric import ClassificationErrorMetric
from .models import DigitClassifier, DigitCNN, DigitFCN

__all__ = ["DistortedMNISTDataset", "DigitClassifier", "DigitCNN", "DigitFCN", "ClassificationErrorMetric",
           "DigitVisualizationHook", "ProgressPrinterHook"]
