"""A RoI rectifier's cost in a whole detector step, side by side with mmdet's plain
SingleRoIExtractor / StandardRoIHead (see stn_plugin.experiments.detector_step_benchmark).

    python tools/benchmark_detector_step.py                    # COCO R50-FPN affine + TPS, digit scenes
    python tools/benchmark_detector_step.py --cases digits     # only the digit-scenes detectors
    python tools/benchmark_detector_step.py --configs configs/rcnn/mask-rcnn_r50_fpn_tps-rectifier_1x_coco.py
    python tools/benchmark_detector_step.py --cases coco --profile   # where the extra time goes
"""
from __future__ import annotations

from stn_plugin.experiments.detector_step_benchmark import main

if __name__ == "__main__":
    main()
