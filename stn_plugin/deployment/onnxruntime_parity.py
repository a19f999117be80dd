"""Running exported graphs in ONNX Runtime and comparing them with PyTorch.

:class:`OnnxRuntimeModel` wraps an ``onnxruntime.InferenceSession`` on the CPU provider
with torch tensors in and out; inputs with an empty axis (batch 0, no RoIs) are answered
with empty outputs without running the graph on them. :func:`compare_with_pytorch` runs
the same inputs through the PyTorch module (eager, default sampler) and the session and
reports the largest absolute difference per output; :func:`measure_latency` times both
side by side, taking turns.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from .onnx_export import restore_training_modes, training_modes

__all__ = ["OnnxRuntimeModel", "ParityReport", "compare_with_pytorch", "measure_latency"]

#: numpy dtypes of ONNX Runtime's output type names.
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
               "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
               "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class OnnxRuntimeModel:
    """An ONNX file in ONNX Runtime (CPU): ``model(*tensors) -> list of tensors``.

    An input with an empty axis (a batch of 0 images, 0 RoIs) is never given to ONNX
    Runtime: some of its kernels abort the whole process there (the LSTM does), others
    raise. The outputs are then empty tensors of the graph's output dtypes, each axis
    sized from the input axis of the same symbolic name (``'batch'``, ``'num_rois'``) or
    the graph's fixed size; an axis the graph names nowhere among its inputs (the
    recognizer's ``'frames'``, which follows the image width) is sized by running the
    graph on a batch of one zero sample.

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
        if any(a.size == 0 for a in feed.values()):
            return self._empty_outputs(feed)
        return [torch.from_numpy(o) for o in self.session.run(self.output_names, feed)]

    def _empty_outputs(self, feed: Dict[str, np.ndarray]) -> List[Tensor]:
        """The outputs for inputs with an empty axis, without running ONNX Runtime on them."""
        sizes: Dict[str, int] = {}
        for meta in self.session.get_inputs():
            shape = feed[meta.name].shape
            if len(meta.shape) != len(shape):
                raise ValueError(f"{self.path}: input {meta.name!r} must have {len(meta.shape)} axes "
                                 f"{tuple(meta.shape)}, got shape {shape}")
            for axis, (dim, size) in enumerate(zip(meta.shape, shape)):
                if isinstance(dim, str):
                    sizes[dim] = size
                elif isinstance(dim, int) and dim != size:
                    raise ValueError(f"{self.path}: input {meta.name!r} axis {axis} has the fixed size {dim}, "
                                     f"got shape {shape}")
        empty_axes = {dim for dim, size in sizes.items() if size == 0}
        metas = self.session.get_outputs()
        for meta in metas:
            if not empty_axes & set(d for d in meta.shape if isinstance(d, str)):
                raise ValueError(f"{self.path}: output {meta.name!r} {tuple(meta.shape)} has no axis named like "
                                 f"an input's empty axis {sorted(empty_axes)}, so it has no empty answer; "
                                 f"give every input at least one element on axes {sorted(empty_axes)}")
        probe = None
        if any(not isinstance(d, int) and d not in sizes for meta in metas for d in meta.shape) \
                or any(meta.type not in _ORT_DTYPES for meta in metas):
            one = {name: np.zeros([max(s, 1) for s in a.shape], a.dtype) for name, a in feed.items()}
            probe = self.session.run(self.output_names, one)
        outputs = []
        for k, meta in enumerate(metas):
            shape = [d if isinstance(d, int) else sizes[d] if d in sizes else probe[k].shape[axis]
                     for axis, d in enumerate(meta.shape)]
            dtype = _ORT_DTYPES[meta.type] if meta.type in _ORT_DTYPES else probe[k].dtype
            outputs.append(torch.from_numpy(np.zeros(shape, dtype)))
        return outputs


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
