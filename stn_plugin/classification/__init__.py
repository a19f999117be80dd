"""Distorted-MNIST classification (the STN paper's section 4.1) for mmengine / mmdet.

Importing this package registers, into mmdet's registries (and the core modules,
see :func:`stn_plugin.registration.register_core_modules`):

* ``DATASETS``: :class:`DistortedMNISTDataset` (generates on the fly or reads what
  ``tools/dataset/make_distorted_mnist.py`` wrote);
* ``MODELS``: :class:`DigitClassifier` (an mmengine ``BaseModel``: optional
  spatial transformer in front of a classifier), :class:`DigitCNN`, :class:`DigitFCN`;
* ``METRICS``: :class:`ClassificationErrorMetric` (test error in %);
* ``HOOKS``: :class:`DigitVisualizationHook` (``tools/test.py --show-dir``).
"""
from ..registration import register_core_modules

register_core_modules()

from .dataset import DistortedMNISTDataset  # noqa: E402
from .hooks import DigitVisualizationHook, ProgressPrinterHook  # noqa: E402
from .metric import ClassificationErrorMetric  # noqa: E402
from .models import DigitClassifier, DigitCNN, DigitFCN  # noqa: E402

__all__ = ["DistortedMNISTDataset", "DigitClassifier", "DigitCNN", "DigitFCN", "ClassificationErrorMetric",
           "DigitVisualizationHook", "ProgressPrinterHook"]
