"""Logic of ``tools/deploy/export_onnx.py``: export a trained model to ONNX, check it.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out model.onnx [--opset 16]
        [--sampler gridsample|gather] [--dynamic] [--cfg-options k=v ...]

After exporting, the file (for a detector: the pair of files) runs in ONNX Runtime on
the CPU beside the PyTorch model, at another batch size (and width) than traced when
``--dynamic``; the tool prints the largest absolute difference and both latencies,
measured side by side in this run, and exits non-zero when the difference exceeds
``--tolerance``. A bad argument, config or checkpoint ends the tool with one
``error:`` line naming it.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Optional, Sequence

from .onnx_export import MAX_OPSET, MIN_OPSET
from ..cli.argument_types import finite_float, positive_int
from ..cli.errors import config_syntax_named, exit_on_bad_input
from ..datasets.output_folders import check_output_file
from ..ops.sampler_selection import SAMPLERS

__all__ = ["parse_args", "main"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..cli.arguments import CfgOptionsAction

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
    parser.add_argument("--shape", type=positive_int, nargs=2, metavar=("H", "W"), help="input size to trace with "
                                                                              "(default: from the test pipeline)")
    parser.add_argument("--tolerance", type=finite_float, default=1e-4,
                        help="largest ORT - PyTorch difference accepted")
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed runs per backend")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction, help="override config settings")
    args = parser.parse_args(argv)
    if not MIN_OPSET <= args.opset <= MAX_OPSET:
        parser.error(f"argument --opset: expected {MIN_OPSET}-{MAX_OPSET}, got {args.opset}")
    if args.tolerance < 0:
        parser.error(f"argument --tolerance: expected a number >= 0, got {args.tolerance}")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    with exit_on_bad_input():
        return export_and_check(args)


def load_for_export(config: str, checkpoint: Optional[str], cfg_options: Optional[dict]):
    """``(model, cfg)`` by :func:`stn_plugin.apis.init_model` (strict; it names a missing
    or damaged file), with a config that is not valid Python or names an option its
    model does not take turned into a ``ValueError`` naming the file."""
    from ..apis import init_model

    try:
        with config_syntax_named(config):
            model = init_model(config, checkpoint, cfg_options=cfg_options)
            return model, model.cfg
    except TypeError as err:  # a model option the config (or --cfg-options) gives that the model does not take
        raise ValueError(f"{config}: cannot build its model: {err}") from None


def export_and_check(args: argparse.Namespace) -> int:
    from .model_export import check_exported, export_model

    check_output_file(args.out, "--out")
    checkpoint = None if args.checkpoint.lower() == "none" else args.checkpoint
    model, cfg = load_for_export(args.config, checkpoint, args.cfg_options)
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
