"""Deployment: ONNX export of stn_plugin models and parity checks in ONNX Runtime.

* :func:`export_onnx` -- ``torch.onnx.export`` (TorchScript-based exporter, opsets 16-20;
  11-20 with the gather sampler) plus a scan of the graph for ops runtimes lack;
* :mod:`.export_adapters` -- tensors-in, tensors-out forwards for models whose own
  ``forward`` takes options, FPN level tuples or data samples;
* :class:`OnnxRuntimeModel`, :func:`compare_with_pytorch`, :func:`measure_latency` --
  run an exported file in ONNX Runtime (CPU) beside PyTorch.

Importing this package imports neither onnx, onnxruntime nor the OpenMMLab stack; they
are imported when used (``pip install 'stn_plugin[deploy]'`` brings onnx, onnxruntime).
"""
from .export_adapters import ModelTensorGraph, PositionalForward, RoIExtractorGraph
from .onnx_export import FORBIDDEN_OPS, check_graph, export_onnx, graph_op_types
from .onnxruntime_parity import OnnxRuntimeModel, ParityReport, compare_with_pytorch, measure_latency

__all__ = ["export_onnx", "check_graph", "graph_op_types", "FORBIDDEN_OPS", "PositionalForward",
           "RoIExtractorGraph", "ModelTensorGraph", "OnnxRuntimeModel", "ParityReport",
           "compare_with_pytorch", "measure_latency"]
