"""Logic of ``tools/deploy/test_onnx.py``: evaluate an exported text recognizer.

    python tools/deploy/test_onnx.py CONFIG MODEL.onnx [--backend onnxruntime] [--work-dir DIR]
        [--cfg-options k=v ...]

Runs the config's test dataloader and evaluator (as ``tools/test.py CONFIG CHECKPOINT``
does) with the network taken from the ONNX file in ONNX Runtime, so the word accuracy
printed is the exported file's, computed by the same pipeline, metric and decoding.
"""
from __future__ import annotations

import argparse
from typing import Dict, Optional, Sequence

__all__ = ["parse_args", "main"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description="Evaluate an exported text recognizer in ONNX Runtime")
    parser.add_argument("config", help="the recognizer's config (the one it was trained / exported with)")
    parser.add_argument("onnx_file", help="the file tools/deploy/export_onnx.py wrote")
    parser.add_argument("--backend", choices=["onnxruntime"], default="onnxruntime", help="inference backend")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument("--num-threads", type=int, help="ONNX Runtime threads (default: torch's)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config settings")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    from .runtime_recognizer import evaluate_onnx_recognizer

    return evaluate_onnx_recognizer(args.config, args.onnx_file, args.work_dir, args.cfg_options, args.num_threads)
