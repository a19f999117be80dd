"""ONNX export of a text rectifier whose net predicts outlines (``TextOutlineNet``).

The graph holds the net only: ``crops (N, C, height, W)`` normalised and zero-padded on
the right, ``widths (N,)`` int64 -> ``edges (N, 2, L, 2)`` (top and bottom edge points
per column, normalised crop coordinates) and ``flat_logit (N,)``; batch and width are
dynamic. What the rectifier needs around it (input normalisation, input height and
widest input, TPS points and rows, outline margin and spacing) is written into the file's metadata, so
:class:`~stn_plugin.deployment.onnx_text_rectifier.OnnxTextRectifier` rectifies crops
with ONNX Runtime, numpy and OpenCV alone.

    from stn_plugin.rectify import TextRectifier
    from stn_plugin.deployment.text_rectifier_onnx import export_text_rectifier_onnx
    export_text_rectifier_onnx(TextRectifier.from_pretrained(), "text-lines.onnx")
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Union

import torch
from torch import Tensor, nn

from ..rectify.outline_net import PERSPECTIVE_RAMP
from .onnx_export import export_onnx

__all__ = ["ONNX_FORMAT", "export_text_rectifier_onnx"]

#: The ``format`` entry of the file's metadata.
ONNX_FORMAT = "stn_plugin.text_rectifier.onnx"


class _OutlineGraph(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, crops: Tensor, widths: Tensor):
        prediction = self.net(crops, widths)
        return prediction.edges, prediction.flat_logit


def export_text_rectifier_onnx(rectifier, path: Union[str, Path], opset: int = 17) -> Path:
    """Export ``rectifier`` (a :class:`~stn_plugin.rectify.TextRectifier` holding a
    ``TextOutlineNet``) to ``path``; returns the path. Raises ``ValueError`` for a
    rectifier of another kind (the TPS word rectifiers export through their recognizer)."""
    import onnx

    net = rectifier.module
    if not getattr(net, "keeps_aspect", False):
        raise ValueError(f"rectifier {rectifier.name!r} is not an outline rectifier (TextOutlineNet); only those "
                         "export to a stand-alone ONNX rectifier")
    net = net.to("cpu").eval()
    example = (torch.zeros(2, net.in_channels, net.height, 96), torch.tensor([96, 64]))
    path = export_onnx(_OutlineGraph(net), example, path, input_names=("crops", "widths"),
                       output_names=("edges", "flat_logit"),
                       dynamic_axes={"crops": {0: "batch", 3: "width"}, "widths": {0: "batch"},
                                     "edges": {0: "batch", 2: "columns"}, "flat_logit": {0: "batch"}},
                       opset=opset)
    rectifier.to(rectifier.device)
    model = onnx.load(str(path))
    meta = dict(format=ONNX_FORMAT, name=rectifier.name, mean=json.dumps(rectifier.spec["mean"]),
                std=json.dumps(rectifier.spec["std"]), height=str(net.height), max_width=str(net.max_width),
                edge_points=str(net.edge_points), rows=str(net.rows),
                outline_margin=json.dumps(list(net.outline_margin)), spacing=net.spacing,
                perspective_ramp=json.dumps(list(PERSPECTIVE_RAMP)))
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return Path(path)
