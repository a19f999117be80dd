"""Logic of ``tools/deploy/test_onnx.py``: evaluate an exported text recognizer.

    python tools/deploy/test_onnx.py CONFIG MODEL.onnx [--backend onnxruntime] [--work-dir DIR]
        [--cfg-options k=v ...]

Runs the config's test dataloader and evaluator (as ``tools/test.py CONFIG CHECKPOINT``
does) with the network taken from the ONNX file in ONNX Runtime, so the word accuracy
printed is the exported file's, computed by the same pipeline, metric and decoding.
A bad argument, config or ONNX file ends the tool with one ``error:`` line naming it.
"""
from __future__ import annotations

import argparse
import os
from typing import Dict, Optional, Sequence

from ..cli.argument_types import positive_int
from ..cli.errors import config_syntax_named, exit_on_bad_input

__all__ = ["parse_args", "main"]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..cli.arguments import CfgOptionsAction

    parser = argparse.ArgumentParser(description="Evaluate an exported text recognizer in ONNX Runtime")
    parser.add_argument("config", help="the recognizer's config (the one it was trained / exported with)")
    parser.add_argument("onnx_file", help="the file tools/deploy/export_onnx.py wrote")
    parser.add_argument("--backend", choices=["onnxruntime"], default="onnxruntime", help="inference backend")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument("--num-threads", type=positive_int, help="ONNX Runtime threads (default: torch's)")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction, help="override config settings")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    from .runtime_recognizer import evaluate_onnx_recognizer

    with exit_on_bad_input(), config_syntax_named(args.config):
        if not os.path.isfile(args.config):
            raise FileNotFoundError(f"config file not found: {args.config}")
        check_onnx_file(args.onnx_file)
        return evaluate_onnx_recognizer(args.config, args.onnx_file, args.work_dir, args.cfg_options,
                                        args.num_threads)


def check_onnx_file(path: str) -> None:
    """Raise naming ``path`` unless it is a readable ONNX model (checked before the
    evaluation builds its runner and data)."""
    import onnx

    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        onnx.checker.check_model(onnx.load(path, load_external_data=False))
    except Exception as err:  # protobuf's DecodeError, onnx's ValidationError: not a model either way
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(f"{path}: not a valid ONNX model ({type(err).__name__}: {first})") from None
