"""Spatial transformers exported to ONNX (opsets 16 and 20, GridSample and gather
samplers) run in ONNX Runtime with PyTorch's numbers at a batch size and input size
other than the traced ones; no graph holds a matrix inverse / solve or a custom op."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from stn_plugin.deployment import (FORBIDDEN_OPS, OnnxRuntimeModel, PositionalForward, compare_with_pytorch,
                                   export_onnx, graph_op_types)
from stn_plugin.modules import ParallelSpatialTransformers, RecurrentSpatialTransformer, SpatialTransformer

LOC = dict(type="conv", channels=(4,), hidden_dims=(8,), input_size=(8, 8))
TOLERANCE = 1e-4  # fp32, max |ORT - PyTorch| over all outputs
TRACE_INPUT = (2, 2, 16, 20)
CHECK_INPUT = (3, 2, 23, 29)  # another batch size and input size
DYNAMIC = {"images": {0: "batch", 2: "height", 3: "width"}}


def _perturbed(module, seed=0):
    """Away from the identity init, so the transforms are not trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return module.eval()


def _models():
    families = {"translation": "translation", "attention": "attention", "similarity": "similarity",
                "affine": "affine", "projective": "projective", "tps": dict(type="tps", num_control_points=9)}
    models = {name: SpatialTransformer(2, family=f, loc_net=LOC, out_size=(10, 12), sampling_ratio=2)
              for name, f in families.items()}
    models["parallel-tps"] = ParallelSpatialTransformers(2, num_heads=2, family="tps", loc_net=LOC,
                                                         out_size=(10, 12), padding="border")
    return {k: _perturbed(v) for k, v in models.items()}


MODELS = _models()


def _export_and_compare(tmp_path, model, opset, sampler, dynamic=DYNAMIC, check_input=CHECK_INPUT):
    path = export_onnx(PositionalForward(model), (torch.randn(*TRACE_INPUT),), tmp_path / "model.onnx",
                       input_names=["images"], output_names=["warped"], dynamic_axes=dynamic, opset=opset,
                       sampler=sampler)
    x = torch.randn(*check_input, generator=torch.Generator().manual_seed(1))
    report = compare_with_pytorch(PositionalForward(model), OnnxRuntimeModel(path), [x])
    return path, report


@pytest.mark.parametrize("sampler", ["gridsample", "gather"])
@pytest.mark.parametrize("opset", [16, 20])
@pytest.mark.parametrize("name", list(MODELS))
def test_spatial_transformer_onnx_parity(tmp_path, name, opset, sampler):
    path, report = _export_and_compare(tmp_path, MODELS[name], opset, sampler)
    assert report.shapes["warped"][0] == CHECK_INPUT[0]
    assert report.worst <= TOLERANCE, str(report)
    ops = {op for _, op in graph_op_types(path)}
    assert not ops & FORBIDDEN_OPS
    assert ("GridSample" in ops) == (sampler == "gridsample"), sorted(ops)


def test_recurrent_transformer_exports_with_dynamic_batch(tmp_path):
    """Its intermediate views are warped to the input size, which the trace freezes: the
    batch stays dynamic, height and width are fixed (ONNX Runtime refuses other sizes)."""
    model = _perturbed(RecurrentSpatialTransformer(2, num_steps=2, family="affine", loc_net=LOC, out_size=(10, 12)))
    check = (5,) + TRACE_INPUT[1:]
    _, report = _export_and_compare(tmp_path, model, 16, "gridsample", {"images": {0: "batch"}}, check)
    assert report.shapes["warped"][0] == 5
    assert report.worst <= TOLERANCE, str(report)


def test_gather_graph_equals_gridsample_graph(tmp_path):
    """The two exported samplers give the same numbers in ONNX Runtime itself."""
    model = MODELS["projective"]
    x = torch.randn(*CHECK_INPUT, generator=torch.Generator().manual_seed(2))
    outs = []
    for sampler in ("gridsample", "gather"):
        path = export_onnx(PositionalForward(model), (torch.randn(*TRACE_INPUT),), tmp_path / f"{sampler}.onnx",
                           input_names=["images"], output_names=["warped"], dynamic_axes=DYNAMIC, sampler=sampler)
        outs.append(OnnxRuntimeModel(path)(x)[0])
    assert (outs[0] - outs[1]).abs().max() <= 1e-5


def test_gather_sampler_exports_below_opset_16(tmp_path):
    """Without GridSample an STN exports at opset 13 too (runtimes stuck below 16)."""
    _, report = _export_and_compare(tmp_path, MODELS["tps"], 13, "gather")
    assert report.worst <= TOLERANCE, str(report)


def test_export_refuses_gridsample_below_opset_16(tmp_path):
    with pytest.raises(ValueError, match="opset must be an int in \\[16, 20\\].*GridSample"):
        export_onnx(PositionalForward(MODELS["affine"]), (torch.randn(*TRACE_INPUT),), tmp_path / "m.onnx",
                    input_names=["images"], output_names=["warped"], opset=15)


def test_graph_scan_refuses_inverse_and_custom_ops(tmp_path):
    """The scan every export runs catches what runtimes lack (graphs written by hand)."""
    import onnx
    from onnx import TensorProto, helper

    from stn_plugin.deployment import check_graph

    def write(node, inputs, name):
        value = lambda n, shape: helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)  # noqa: E731
        graph = helper.make_graph([node], "g", [value(n, shape) for n, shape in inputs],
                                  [value("y", [1, 1, 2, 2])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16),
                                                        helper.make_opsetid("com.microsoft", 1)])
        onnx.save(model, tmp_path / name)
        return tmp_path / name

    inverse = write(helper.make_node("Inverse", ["x"], ["y"], domain="com.microsoft"), [("x", [3, 3])], "inv.onnx")
    with pytest.raises(ValueError, match="Inverse"):
        check_graph(inverse)
    grid_sample = write(helper.make_node("GridSample", ["x", "grid"], ["y"]),
                        [("x", [1, 1, 4, 4]), ("grid", [1, 2, 2, 2])], "grid_sample.onnx")
    check_graph(grid_sample)  # fine for the GridSample sampler
    with pytest.raises(ValueError, match="gather sampler was asked for, but the graph holds GridSample"):
        check_graph(grid_sample, allow_gridsample=False)
