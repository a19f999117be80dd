"""Text spotting: find the words of a scene and read them.

This task package sits **above** :mod:`stn_plugin.detection` and
:mod:`stn_plugin.textrecog`: it may import from both (the word generator, the region
readers, the recognizer's pieces), and neither of them imports it.

Importing this package registers, into mmdet's registries (and the core modules, see
:func:`stn_plugin.registration.register_core_modules`):

* ``MODELS``: :class:`TextSpotter` (a two-stage detector that reads its words),
  :class:`SpottingRoIHead` (boxes + a recognition branch: RoI rectifier -> CTC
  recognizer; text polygons from the rectifier's transforms, optionally supervised by
  the annotated polygons; the recognizer optionally teacher-forced on them)
* ``DATASETS``: :class:`TextSpottingDataset` (word scenes' COCO, ICDAR 2015,
  Total-Text, CTW1500, mmocr JSON: boxes, polygons, transcriptions, don't-care flags)
* ``TRANSFORMS``: ``LoadTextSpottingAnnotations``, ``PackTextSpottingInputs``
* ``METRICS``: :class:`TextSpottingMetric` (detection and end-to-end precision,
  recall, Hmean by polygon IoU and transcription)
* ``OPTIM_WRAPPER_CONSTRUCTORS``: :class:`SubmoduleOptimWrapperConstructor` (one
  optimizer per group of submodules: SGD for the detector, Adam for the recognizer)

:mod:`.word_scenes` generates the word-scenes set (COCO format with transcriptions),
:mod:`.word_crops` cuts its words out for crop-level recognizers,
:mod:`.checkpoints` joins a detector's and a crop recognizer's weights into a
spotter's, :mod:`.spot_cli` is the command line of ``tools/spot_text.py``;
:mod:`stn_plugin.experiments.spotting_benchmark` compares detect-then-read pipelines
with end-to-end spotters (``tools/spotting_benchmark.py``).
"""
from ..registration import register_core_modules

register_core_modules()

from .datasets import TextSpottingDataset  # noqa: E402
from .metric import SpottingCounts, TextSpottingMetric, spotting_counts, spotting_scores  # noqa: E402
from .polygon_iou import polygon_iou_matrix  # noqa: E402
from .roi_head import SpottingRoIHead  # noqa: E402
from .text_outline import outline_loss, roi_outline_targets, roi_text_polygons  # noqa: E402
from .submodule_optimizers import SubmoduleOptimWrapperConstructor, multi_optimizer_train_step  # noqa: E402
from .text_spotter import TextSpotter  # noqa: E402
from .word_crops import crop_box, export_word_crops  # noqa: E402
from .transforms import LoadTextSpottingAnnotations, PackTextSpottingInputs  # noqa: E402
from .word_scenes import (WORD_SCENE_PRESETS, WordSceneOptions, generate_word_scenes, render_word_scene,  # noqa: E402
                          word_scene_options)

__all__ = ["TextSpottingDataset", "SpottingCounts", "TextSpottingMetric", "spotting_counts", "spotting_scores",
           "polygon_iou_matrix", "SpottingRoIHead", "roi_text_polygons", "roi_outline_targets", "outline_loss",
           "SubmoduleOptimWrapperConstructor", "multi_optimizer_train_step", "TextSpotter", "crop_box",
           "export_word_crops", "LoadTextSpottingAnnotations", "PackTextSpottingInputs",
           "WORD_SCENE_PRESETS", "WordSceneOptions", "generate_word_scenes", "render_word_scene",
           "word_scene_options"]
