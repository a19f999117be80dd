"""The lab: drivers of the project's benchmarks and experiments.

Nothing here is imported by a config, a model or another package of ``stn_plugin``:
imports run one way, from these drivers down to the task packages
(:mod:`stn_plugin.detection`, :mod:`stn_plugin.spotting`,
:mod:`stn_plugin.classification`, :mod:`stn_plugin.textrecog`) and the layers below
them. Each driver's command line is a thin script in ``tools/``.

* :mod:`.digit_scenes_benchmark`: Faster R-CNN with and without RoI rectifiers on
  digit scenes, trained and tested side by side (``tools/digit_scenes_benchmark.py``);
* :mod:`.rectifier_orientation`: whether a trained RoI rectifier undoes the digits'
  rotation (``tools/digit_scenes_orientation.py``);
* :mod:`.detector_step_benchmark`: a RoI rectifier's cost in a whole detector step
  against mmdet's plain RoI head (``tools/benchmark_detector_step.py``);
* :mod:`.roi_sample_benchmark`: ``roi_sample`` against mmcv's RoIAlign and the
  per-RoI loop, time and memory (``tools/benchmark_roi_sample.py``);
* :mod:`.warp_benchmark`: image-level ``warp`` against PyTorch's and OpenCV's affine
  warps (``tools/benchmark_warp.py``);
* :mod:`.spotting_benchmark`: detect-then-read pipelines against end-to-end spotters
  (``tools/spotting_benchmark.py``);
* :mod:`.textrecog_comparison`: CRNN with and without TPS rectification, trained and
  scored side by side, Tesseract included (``tools/compare_textrecog.py``);
* :mod:`.text_rectifier_evaluation`: text rectifiers read by Tesseract and PP-OCRv4 on
  held-out flat and warped words and lines, against the raw crop and the geometric upper
  bound (``tools/evaluate_text_rectifiers.py``);
* :mod:`.text_rectifier_benchmark`: throughput of the learned text rectifier on crops of
  mixed sizes (``tools/benchmark_text_rectifier.py``);
* :mod:`.mnist_experiment`: distorted-MNIST classifiers with and without spatial
  transformers, trained and tested side by side; its command lines
  :mod:`.mnist_comparison` (the paper's table, ``tools/compare_mnist.py``) and
  :mod:`.mnist_rts` (RTS, CNN vs ST-CNN, ``tools/mnist_rts_job.py``);
* :mod:`.demo`: the demo (``make demo``, ``tools/demo.py``): the shipped text rectifier
  under Tesseract on fonts it never saw, and a short detection run beside the recorded
  full comparison;
* :mod:`.measurement`: the timing and peak-memory helpers the benchmarks share;
* :mod:`.rectifier_options`: the ``--rectifier`` / ``--device`` options of the drivers
  that run a learned text rectifier.

The submodules are imported on demand (``from stn_plugin.experiments import
digit_scenes_benchmark``); importing this package imports none of them.
"""

__all__ = ["digit_scenes_benchmark", "rectifier_orientation", "detector_step_benchmark", "roi_sample_benchmark",
           "warp_benchmark", "spotting_benchmark", "textrecog_comparison", "text_rectifier_evaluation",
           "text_rectifier_benchmark", "mnist_experiment", "mnist_comparison", "mnist_rts", "demo", "measurement",
           "rectifier_options"]
