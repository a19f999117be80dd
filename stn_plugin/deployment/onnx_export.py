"""ONNX export of stn_plugin models, and the checks every exported graph must pass.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``. Both exporters
were tried on the spatial transformers (torch 2.14.1): both export them and agree with
PyTorch in ONNX Runtime, but the ``torch.export``-based exporter writes opset 18 and
converts down, and that conversion to opset 16 failed silently for the projective
transformer (the file kept opset 18); it is also an order of magnitude slower per
model (timings in docs/benchmarks.md). The TorchScript exporter writes opsets 16 to 20
directly. PyTorch marks it
deprecated (a ``DeprecationWarning``, silenced here because the choice is deliberate).

What makes the graphs exportable lives in the layers below, not here: value checks are
skipped while tracing (:func:`stn_plugin.geometry.validation.is_tracing`), the TPS system
is inverted once in float64 so a graph holds only its constant basis (no
``linalg.inv`` / ``linalg.solve``), :func:`stn_plugin.ops.resize.resize_to` keeps the
localization nets' input size dynamic, :func:`roi_sample` takes a path without
host-side grouping, and :func:`stn_plugin.ops.sampler_selection.use_sampler` swaps
``GridSample`` for gathers (``sampler='gather'``).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from ..geometry.validation import check_choice
from ..ops.sampler_selection import SAMPLERS, use_sampler

__all__ = ["export_onnx", "graph_op_types", "check_graph", "training_modes", "restore_training_modes",
           "FORBIDDEN_OPS", "GRIDSAMPLE_MIN_OPSET", "MAX_OPSET", "MIN_OPSET"]

# ONNX GridSample exists from opset 16; the gather sampler needs nothing newer than 11.
GRIDSAMPLE_MIN_OPSET = 16
MIN_OPSET = 11
MAX_OPSET = 20  # the TorchScript exporter's newest opset
# Ops no exported stn_plugin graph may hold: matrix inverses / solvers (missing from ONNX
# and most runtimes; the TPS system is inverted once, outside the graph) and the ATen
# fallback of unsupported torch ops.
FORBIDDEN_OPS = frozenset({"Inverse", "LinalgInv", "LinalgSolve", "Solve", "Det", "ATen"})


def export_onnx(module: nn.Module, example_inputs: Sequence[Tensor], path: Union[str, os.PathLike], *,
                input_names: Sequence[str], output_names: Sequence[str],
                dynamic_axes: Optional[Dict[str, Dict[int, str]]] = None, opset: int = 16,
                sampler: str = "gridsample") -> Path:
    """Export ``module(*example_inputs)`` to ``path`` and check the graph.

    Args:
        module: called positionally with tensors, returning a tensor or a tuple of them
            (see :mod:`stn_plugin.deployment.export_adapters` for models that are not).
            Exported in eval mode; the training flags of it and its submodules are
            restored afterwards.
        example_inputs: tensors the graph is traced with.
        input_names, output_names: names of the graph's inputs / outputs.
        dynamic_axes: ``{name: {axis: symbol}}`` of axes left dynamic.
        opset: ONNX opset, ``11..20``; ``>= 16`` for ``sampler='gridsample'``.
        sampler: ``'gridsample'`` (ONNX ``GridSample``) or ``'gather'`` (``Gather`` and
            arithmetic only).

    Returns the path. Raises ``ValueError`` if the graph holds an op of
    :data:`FORBIDDEN_OPS`, an op outside the standard ONNX domain, or (gather sampler) a
    ``GridSample``.
    """
    check_choice(sampler, SAMPLERS, "sampler")
    low = GRIDSAMPLE_MIN_OPSET if sampler == "gridsample" else MIN_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be an int in [{low}, {MAX_OPSET}] for sampler={sampler!r} "
                         f"(ONNX GridSample needs opset >= {GRIDSAMPLE_MIN_OPSET}), got {opset!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    modes = training_modes(module)
    module.eval()
    try:
        with use_sampler(sampler), torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
            warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
            # the tracer warns about every shape check it records as a constant; what a
            # frozen value would break shows in the parity check at another input size
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            torch.onnx.export(module, tuple(example_inputs), str(path), dynamo=False, opset_version=opset,
                              input_names=list(input_names), output_names=list(output_names),
                              dynamic_axes=dynamic_axes or None)
    finally:
        restore_training_modes(modes)
    check_graph(path, allow_gridsample=sampler == "gridsample")
    return path


def training_modes(module: nn.Module) -> Dict[nn.Module, bool]:
    """The ``training`` flag of ``module`` and of every submodule.

    An adapter wraps a model in eval mode, but is itself in training mode when freshly
    made: restoring only the adapter's flag after an export would switch the model to
    training mode (BatchNorm would then update its statistics on the next forward).
    """
    return {m: m.training for m in module.modules()}


def restore_training_modes(modes: Dict[nn.Module, bool]) -> None:
    for m, training in modes.items():
        m.training = training


def graph_op_types(path: Union[str, os.PathLike]) -> List[Tuple[str, str]]:
    """Sorted distinct ``(domain, op_type)`` of every node of an ONNX file, subgraphs
    (``If`` / ``Loop`` bodies) included; the default domain is ``''``."""
    import onnx

    def walk(graph) -> Iterable[Tuple[str, str]]:
        for node in graph.node:
            yield node.domain or "", node.op_type
            for attr in node.attribute:
                subgraphs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
                for sub in subgraphs:
                    yield from walk(sub)

    return sorted(set(walk(onnx.load(str(path), load_external_data=False).graph)))


def check_graph(path: Union[str, os.PathLike], allow_gridsample: bool = True) -> None:
    """Validate an exported file with ``onnx.checker`` and scan its ops (see :func:`export_onnx`)."""
    import onnx

    onnx.checker.check_model(str(path))
    ops = graph_op_types(path)
    custom = [f"{d}::{o}" for d, o in ops if d not in ("", "ai.onnx")]
    forbidden = [o for _, o in ops if o in FORBIDDEN_OPS]
    if custom or forbidden:
        raise ValueError(f"{path}: the graph holds ops that ONNX runtimes lack: {custom + forbidden}")
    if not allow_gridsample and any(o == "GridSample" for _, o in ops):
        raise ValueError(f"{path}: the gather sampler was asked for, but the graph holds GridSample")
