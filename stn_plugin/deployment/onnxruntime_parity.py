"""Running exported graphs in ONNX Runtime and comparing them with PyTorch.

:class:`OnnxRuntimeModel` wraps an ``onnxruntime.InferenceSession`` on the CPU provider
with torch tensors in and out. :func:`compare_with_pytorch` runs the same inputs through
the PyTorch module (eager, default sampler) and the session and reports the largest
absolute difference per output; :func:`measure_latency` times both side by side, taking
turns.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from .onnx_export import restore_training_modes, training_modes

__all__ = ["OnnxRuntimeModel", "ParityReport", "compare_with_pytorch", "measure_latency"]


class OnnxRuntimeModel:
    """An ONNX file in ONNX Runtime (CPU): ``model(*tensors) -> list of tensors``.

    Args:
        path: the ``.onnx`` file.
        num_threads: ONNX Runtime's intra-op threads; ``None`` = torch's current
            ``torch.get_num_threads()``, so side-by-side timings use the same cores.
    """

    def __init__(self, path: Union[str, os.PathLike], num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(num_threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, *inputs: Tensor) -> List[Tensor]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"{self.path} takes {len(self.input_names)} inputs {self.input_names}, "
                             f"got {len(inputs)}")
        feed = {name: t.detach().cpu().contiguous().numpy() for name, t in zip(self.input_names, inputs)}
        return [torch.from_numpy(o) for o in self.session.run(self.output_names, feed)]


@dataclass
class ParityReport:
    """Largest absolute ONNX Runtime - PyTorch difference per output, and the shapes."""

    max_abs_diff: Dict[str, float]
    shapes: Dict[str, Tuple[int, ...]] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values())

    def __str__(self) -> str:
        return ", ".join(f"{k} {tuple(self.shapes.get(k, ()))}: max |ORT - PyTorch| = {v:.3g}"
                         for k, v in self.max_abs_diff.items())


def _as_list(out) -> List[Tensor]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


@torch.no_grad()
def compare_with_pytorch(module: nn.Module, runtime: OnnxRuntimeModel, inputs: Sequence[Tensor]) -> ParityReport:
    """Run ``module(*inputs)`` (eval mode) and ``runtime(*inputs)`` and compare.

    Raises ``ValueError`` if the outputs differ in number or shape.
    """
    modes = training_modes(module)
    module.eval()
    try:
        expected = _as_list(module(*inputs))
    finally:
        restore_training_modes(modes)
    got = runtime(*inputs)
    if len(got) != len(expected):
        raise ValueError(f"ONNX Runtime returned {len(got)} outputs, PyTorch {len(expected)}")
    diffs, shapes = {}, {}
    for name, e, g in zip(runtime.output_names, expected, got):
        if tuple(e.shape) != tuple(g.shape):
            raise ValueError(f"output {name}: ONNX Runtime shape {tuple(g.shape)} != PyTorch {tuple(e.shape)}")
        e = e.detach().cpu()
        diffs[name] = float((g.to(e.dtype) - e).abs().max()) if e.numel() else 0.0
        shapes[name] = tuple(e.shape)
    return ParityReport(diffs, shapes)


def measure_latency(*fns: Callable[[], object], repeats: int = 20, warmup: int = 3) -> List[float]:
    """Median wall time in milliseconds of each ``fn()``, after ``warmup`` calls each.

    The functions take turns (``a, b, a, b, ...``), so a machine whose load changes
    during the measurement slows them alike and their ratio stays meaningful.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: List[List[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, samples in zip(fns, times):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(samples) for samples in times]
