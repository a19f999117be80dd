"""Logic of ``tools/deploy/export_onnx.py``: export a trained model to ONNX, check it.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out model.onnx [--opset 16]
        [--sampler gridsample|gather] [--dynamic] [--cfg-options k=v ...]

After exporting, the file (for a detector: the pair of files) runs in ONNX Runtime on
the CPU beside the PyTorch model, at another batch size (and width) than traced when
``--dynamic``; the tool prints the largest absolute difference and both latencies,
measured side by side in this run, and exits non-zero when the difference exceeds
``--tolerance``.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Optional, Sequence

from .onnx_export import MAX_OPSET, MIN_OPSET
from ..ops.sampler_selection import SAMPLERS

__all__ = ["parse_args", "main"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description="Export a model to ONNX and check it in ONNX Runtime")
    parser.add_argument("config", help="the model's config file")
    parser.add_argument("checkpoint", help="checkpoint file ('none': the fresh initialisation)")
    parser.add_argument("--out", required=True, help="the .onnx file to write (a detector writes "
                                                     "<out>.features.onnx and <out>.roi_stage.onnx)")
    parser.add_argument("--opset", type=int, default=16,
                        help=f"ONNX opset, {MIN_OPSET}-{MAX_OPSET} (GridSample: >= 16)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="gridsample",
                        help="gridsample: ONNX GridSample; gather: Gather and arithmetic only (runtimes "
                             "without a correct GridSample, opsets below 16)")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch size (and image size where the "
                                                               "model allows it, and number of RoIs)")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), help="input size to trace with "
                                                                              "(default: from the test pipeline)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest ORT - PyTorch difference accepted")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per backend")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config settings")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from ..apis import init_model
    from .model_export import check_exported, export_model

    checkpoint = None if args.checkpoint.lower() == "none" else args.checkpoint
    try:
        model = init_model(args.config, checkpoint, cfg_options=args.cfg_options)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cfg = model.cfg
    files = export_model(model, cfg, args.out, args.opset, args.sampler, args.dynamic, args.shape)
    for path in files:
        print(f"wrote {path}")
    result = check_exported(model, cfg, files, args.dynamic, args.shape, args.repeats)
    print(f"ONNX Runtime vs PyTorch on inputs {result.input_shape}: max |difference| = {result.max_abs_diff:.3g}"
          + ("" if result.kind != "two_stage_detector" else
             f" (boxes and scores; labels equal: {result.details['labels_equal']}, "
             f"detections PyTorch/ORT per image: {result.details['detections']}; "
             f"images: {result.details['images']})"))
    print(f"latency (median of {args.repeats}, CPU): ONNX Runtime {result.ort_ms:.2f} ms | "
          f"PyTorch {result.torch_ms:.2f} ms | ratio {result.torch_ms / result.ort_ms:.2f}x")
    print(f"| {type(model).__name__} | {args.opset} | {args.sampler} | {result.max_abs_diff:.2g} | "
          f"{result.ort_ms:.1f} ms | {result.torch_ms:.1f} ms |")
    if not math.isfinite(result.max_abs_diff) or result.max_abs_diff > args.tolerance:
        print(f"FAILED: the difference exceeds --tolerance {args.tolerance}", file=sys.stderr)
        return 1
    return 0
