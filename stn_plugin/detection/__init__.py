"""Detection: RoI rectifiers in two-stage detectors, registered into mmdet's registries.

Importing this package registers (and the core modules, see
:func:`stn_plugin.registration.register_core_modules`):

* ``MODELS``: :class:`AffineRoIRectifier`, :class:`TPSRoIRectifier` (drop-in
  replacements of ``SingleRoIExtractor``; their base :class:`RoIRectifierExtractor` is
  the contract heads and hooks use), :class:`RectifyingRoIHead`,
  :class:`RectifyingCascadeRoIHead`, and :class:`EnlargedRoIExtractor` (a fixed wider
  RoI, the context-only ablation of the rectifiers);
* ``HOOKS``: :class:`RectifierStatsHook`, :class:`RectifierVisualizationHook`.

:mod:`.digit_scenes` generates the digit-scenes benchmark (COCO format);
:mod:`stn_plugin.experiments.digit_scenes_benchmark` trains and compares detector variants on it.
"""
from ..registration import register_core_modules

register_core_modules()

from .enlarged_roi_extractor import EnlargedRoIExtractor  # noqa: E402
from .hooks import RectifierStatsHook, RectifierVisualizationHook  # noqa: E402
from .roi_heads import RectifyingCascadeRoIHead, RectifyingRoIHead  # noqa: E402
from .roi_rectifiers import AffineRoIRectifier, RoIRectifierExtractor, TPSRoIRectifier  # noqa: E402

__all__ = ["RoIRectifierExtractor", "AffineRoIRectifier", "TPSRoIRectifier", "RectifyingRoIHead",
           "RectifyingCascadeRoIHead", "RectifierStatsHook", "RectifierVisualizationHook", "EnlargedRoIExtractor"]
