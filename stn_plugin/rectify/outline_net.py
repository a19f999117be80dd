"""A localization net for text crops of any length: it predicts the text's outline.

:class:`TextOutlineNet` sees a crop at its own aspect ratio (height :attr:`height`,
width up to :attr:`max_width`, a multiple of :data:`COLUMN_STRIDE`), so a 30:1 text
line is not squashed into a word-sized input. Its convolutional features are pooled to
one column every :data:`COLUMN_STRIDE` input pixels, and column ``j`` of ``L`` predicts
the point ``j / (L - 1)`` of the way along the text on its top edge and on its bottom
edge: the number of outline points grows with the crop's length. A global summary of
the columns predicts whether the text is flat (nothing to rectify).

The outline becomes the sampling transform through
:func:`~stn_plugin.geometry.outline.outline_tps` (the one used for annotated polygons),
with the edges resampled to :attr:`edge_points` points; supervision is the outline
itself (:mod:`stn_plugin.datasets.text_crops` knows it exactly), no recognizer needed.

Batches of different widths are padded on the right with zeros (after normalisation);
``widths`` gives each crop's valid width and every layer masks the padding, so a crop's
prediction does not depend on what it is batched with (in eval mode).

Coordinates: outline points ``(x, y)`` are normalised coordinates of the crop (``-1`` /
``1`` at its outer pixel edges), the package's contract.

>>> import torch
>>> net = TextOutlineNet().eval()
>>> x, widths = torch.zeros(2, 3, 32, 96), torch.tensor([96, 48])
>>> out = net(x, widths)
>>> out.edges.shape, out.flat_logit.shape, out.columns.tolist()
(torch.Size([2, 2, 12, 2]), torch.Size([2]), [12, 6])
>>> net.predict_transform(x, widths).control_points.shape   # 5 rows x 16 points
torch.Size([2, 80, 2])
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from ..geometry.outline import OUTLINE_ROWS, arc_length_positions, outline_tps, points_along
from ..geometry.transforms import TPSTransform
from ..geometry.validation import is_tracing
from .images import TextCrop, aspect_input

__all__ = ["COLUMN_STRIDE", "SPACINGS", "OutlinePrediction", "TextOutlineNet", "outline_input", "outline_input_width"]

#: Input pixels per predicted column.
COLUMN_STRIDE = 8
#: Where the TPS's points go along the predicted edges (:class:`TextOutlineNet` ``spacing``).
SPACINGS = ("arc_length", "perspective", "predicted")


class OutlinePrediction(NamedTuple):
    """What :class:`TextOutlineNet` predicts for a batch."""

    edges: Tensor        # (N, 2, L, 2): top and bottom edge points per column, normalised crop coords
    flat_logit: Tensor   # (N,): > 0 when the text needs no rectification
    columns: Tensor      # (N,) long: valid columns of each crop (the rest is padding)


class _OutlineFamily:
    name = "outline"


def outline_input_width(crop_height: int, crop_width: int, height: int, max_width: int) -> int:
    """The input width of a ``crop_height x crop_width`` crop for a net of input height
    ``height``: its aspect kept, rounded to a multiple of :data:`COLUMN_STRIDE`, within
    ``[4 * COLUMN_STRIDE, max_width]``."""
    if crop_height < 1 or crop_width < 1:
        raise ValueError(f"crop size must be positive, got {crop_height}x{crop_width}")
    w = round(height * crop_width / crop_height / COLUMN_STRIDE) * COLUMN_STRIDE
    return int(min(max(w, 4 * COLUMN_STRIDE), max_width))


def outline_input(crop: TextCrop, height: int, max_width: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(C, height, w)`` float32: ``crop`` resized to the net's input at its own aspect
    (:func:`outline_input_width`) and normalised by ``mean`` / ``std`` (``(C, 1, 1)``,
    ``[0, 255]`` units), what the net sees in training and inference."""
    width = outline_input_width(*crop.size, height, max_width)
    return (aspect_input(crop, height, width, mean.shape[0]) - mean) / std


#: Height change along the text (``|log(end height / start height)|`` of a straight-line fit)
#: over which :func:`_perspective_weights` starts, and fully applies, foreshortening.
PERSPECTIVE_RAMP = (0.1, 0.2)


def _band(edges: Tensor, columns: Tensor, px: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``(valid (N, L), heights (N, L), steps (N, L - 1))`` of predicted ``edges``
    ``(N, 2, L, 2)`` in units proportional to crop pixels (``px`` ``(N, 1, 2)``): which
    columns are real, the distance between the edges per column, and the steps of the
    centre line between columns (0 past the valid ones)."""
    valid = (torch.arange(edges.shape[2], device=edges.device)[None] < columns[:, None]).to(edges.dtype)
    heights = ((edges[:, 1] - edges[:, 0]) * px).norm(dim=-1)
    centre = (edges[:, 0] + edges[:, 1]) / 2 * px
    steps = (centre[:, 1:] - centre[:, :-1]).norm(dim=-1) * valid[:, 1:]
    return valid, heights, steps


def _perspective_weights(valid: Tensor, h: Tensor, steps: Tensor, columns: Tensor) -> Tensor:
    """``(N, L - 1)`` weights of the steps between columns for ``'perspective'`` spacing,
    from :func:`_band`'s measures.

    Seen in perspective, text shrinks along its length in both directions alike, so the
    flat text's position is the arc length divided by the local text height. The heights
    are a least-squares line along the text (the predicted heights are noisy), and the
    weighting is ramped in by how much that line changes over the text
    (:data:`PERSPECTIVE_RAMP`): a text of steady height (flat, rotated, curved) keeps
    even arc-length spacing, as a few percent of height noise would otherwise shift the
    middle of a long line by a third of a text height."""
    t = torch.cat([torch.zeros_like(steps[:, :1]), steps.cumsum(1)], 1)
    t = t / t.gather(1, (columns - 1)[:, None]).clamp_min(1e-6)                       # 0 .. 1 along the text
    count = valid.sum(1, keepdim=True)
    t_mean, h_mean = (t * valid).sum(1, keepdim=True) / count, (h * valid).sum(1, keepdim=True) / count
    slope = ((t - t_mean) * (h - h_mean) * valid).sum(1, keepdim=True) \
        / ((t - t_mean) ** 2 * valid).sum(1, keepdim=True).clamp_min(1e-9)
    floor = 0.1 * h_mean
    fitted = torch.maximum(h_mean + slope * (t - t_mean), floor)
    start, end = torch.maximum(h_mean - slope * t_mean, floor), torch.maximum(h_mean + slope * (1 - t_mean), floor)
    lo, hi = PERSPECTIVE_RAMP
    strength = ((torch.log(end / start).abs() - lo) / (hi - lo)).clamp(0.0, 1.0)      # (N, 1)
    return (2 / (fitted[:, 1:] + fitted[:, :-1])) ** strength


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TextOutlineNet(nn.Module):
    """Predicts the top and bottom edges of the text in a crop (see the module docstring).

    Args:
        in_channels: input channels.
        height: input height in pixels.
        max_width: widest input in pixels (a multiple of :data:`COLUMN_STRIDE`); longer
            crops are squeezed to it.
        channels: widths of the four convolutional stages.
        context: width of the column features.
        edge_points: outline points per edge handed to the TPS.
        rows: rows of TPS control points from edge to edge.
        outline_margin: ``(ends, sides)``: the predicted outline is grown by ``ends``
            text heights beyond each end (continuing the edges) and ``sides`` text
            heights above and below, when it becomes the TPS: room for the prediction's
            error, so that no letter is cut (training compares the raw outline).
        spacing: where along the predicted edges the TPS's points go (the edges' shape
            is the net's most reliable output, the columns' positions along the text its
            least: on text lines in perspective they are off by a third of a text height):
            ``'perspective'`` (default): evenly by each edge's length, divided by the
            local text height where the height changes steadily along the text (a plane
            seen in perspective, :func:`_perspective_weights`); ``'arc_length'``: evenly
            by length, as for an annotated polygon; ``'predicted'``: at the fractions of
            the text the columns predict. Both engines read the first two better than
            the third, and ``'perspective'`` better than ``'arc_length'`` on text in
            perspective (docs/textrecog.md). Training supervises the columns either way.
    """

    family = _OutlineFamily()
    keeps_aspect = True

    def __init__(self, in_channels: int = 3, height: int = 32, max_width: int = 512,
                 channels: Sequence[int] = (16, 32, 64, 96), context: int = 96, edge_points: int = 16,
                 rows: int = OUTLINE_ROWS, outline_margin: Sequence[float] = (0.0, 0.0),
                 spacing: str = "perspective") -> None:
        super().__init__()
        if height % 16 or height < 16:
            raise ValueError(f"height must be a positive multiple of 16, got {height}")
        if max_width % COLUMN_STRIDE or max_width < 4 * COLUMN_STRIDE:
            raise ValueError(f"max_width must be a multiple of {COLUMN_STRIDE} and at least {4 * COLUMN_STRIDE}, "
                             f"got {max_width}")
        if len(channels) != 4:
            raise ValueError(f"channels must give the 4 stages' widths, got {channels}")
        self.in_channels, self.height, self.max_width = in_channels, height, max_width
        self.edge_points, self.rows = edge_points, rows
        if len(outline_margin) != 2 or min(outline_margin) < 0:
            raise ValueError(f"outline_margin must be (ends, sides) >= 0, got {outline_margin}")
        self.outline_margin = tuple(float(m) for m in outline_margin)
        if spacing not in SPACINGS:
            raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
        self.spacing = spacing
        self.out_size = None
        # outlines of loose crops reach past the crop: repeat its border rather than draw black
        self.warp_options = dict(padding="border")
        c0, c1, c2, c3 = channels
        self.stages = nn.ModuleList([_conv(in_channels, c0), _conv(c0, c1), _conv(c1, c2), _conv(c2, c2),
                                     _conv(c2, c3), _conv(c3, c3)])
        # what each stage's output is max-pooled by: (rows, columns); every stage is masked
        self.pools = ((2, 2), (2, 2), (1, 1), (2, 2), (height // 16, 1), (1, 1))
        self.project = nn.Conv1d(2 * c3, context, 1)
        self.dilations = (1, 2, 4, 8)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv1d(context, context, 3, padding=d, dilation=d, bias=False),
                                                   nn.BatchNorm1d(context), nn.ReLU(inplace=True))
                                     for d in self.dilations])
        self.summary = nn.Linear(context, context)
        self.head = nn.Conv1d(2 * context, 4, 1)
        self.flat_head = nn.Linear(context, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():  # start from the crop's own box: top y = -0.6, bottom y = 0.6
            self.head.bias.copy_(torch.tensor([0.0, -0.6, 0.0, 0.6]))

    def input_width(self, height: int, width: int) -> int:
        """The input width of a ``height x width`` crop (:func:`outline_input_width`)."""
        return outline_input_width(height, width, self.height, self.max_width)

    def forward(self, x: Tensor, widths: Tensor) -> OutlinePrediction:
        """``x``: ``(N, C, height, W)`` normalised crops padded with zeros on the right;
        ``widths``: ``(N,)`` each one's valid width (multiples of :data:`COLUMN_STRIDE`)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.height:
            raise ValueError(f"x must be (N, {self.in_channels}, {self.height}, W), got {tuple(x.shape)}")
        if x.shape[3] % COLUMN_STRIDE:
            raise ValueError(f"the input width must be a multiple of {COLUMN_STRIDE}, got {x.shape[3]}")
        widths = torch.as_tensor(widths, device=x.device).long()
        if not is_tracing() and (widths.shape != (x.shape[0],) or (widths % COLUMN_STRIDE).any()
                                 or (widths < COLUMN_STRIDE).any() or (widths > x.shape[3]).any()):
            raise ValueError(f"widths must be ({x.shape[0]},) multiples of {COLUMN_STRIDE} within the input width "
                             f"{x.shape[3]}, got {widths.tolist()}")
        stride = 1
        for stage, pool in zip(self.stages, self.pools):
            x = stage(x)
            x = x * (torch.arange(x.shape[3], device=x.device) < (widths // stride)[:, None]).to(x.dtype)[:, None, None]
            if pool != (1, 1):
                x = nn.functional.max_pool2d(x, pool)
                stride *= pool[1]
        columns = widths // COLUMN_STRIDE
        mask = (torch.arange(x.shape[3], device=x.device) < columns[:, None]).to(x.dtype)[:, None]  # (N, 1, L)
        f = self.project(x.flatten(1, 2)) * mask
        for block in self.blocks:
            f = (f + block(f)) * mask
        pooled = f.sum(2) / columns[:, None].to(f.dtype)
        g = torch.relu(self.summary(pooled))
        raw = self.head(torch.cat([f, g[:, :, None].expand_as(f)], 1))  # (N, 4, L)
        centres = (torch.arange(x.shape[3], device=x.device, dtype=f.dtype)[None] + 0.5) \
            / columns[:, None].to(f.dtype) * 2 - 1  # (N, L)
        xs = centres[:, None] + raw[:, 0::2]          # (N, 2, L): top, bottom
        edges = torch.stack([xs, raw[:, 1::2]], -1)   # (N, 2, L, 2)
        return OutlinePrediction(edges, self.flat_head(g)[:, 0], columns)

    def outline_points(self, prediction: OutlinePrediction, n: int,
                       aspects: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """The top and bottom edges resampled to ``n`` points each, ``(N, n, 2)``, grown
        by :attr:`outline_margin` (in text heights: the mean distance between the edges,
        and the length of the centre line, measured in crop pixels). ``aspects`` ``(N,)``:
        each crop's width / height (default: its input's, right unless the crop was
        squeezed to :attr:`max_width`)."""
        edges, columns = prediction.edges, prediction.columns
        ends, sides = self.outline_margin
        positions = torch.linspace(0.0, 1.0, n, dtype=edges.dtype, device=edges.device)[None]
        if aspects is None:
            aspects = columns.to(edges.dtype) * COLUMN_STRIDE / self.height
        # normalised units -> units proportional to the crop's pixels
        px = torch.stack([torch.as_tensor(aspects, dtype=edges.dtype, device=edges.device),
                          torch.ones_like(columns, dtype=edges.dtype)], -1)[:, None, :]
        valid, heights, steps = _band(edges, columns, px)
        if ends > 0:
            height = (heights * valid).sum(1) / valid.sum(1)
            length = steps.sum(1).clamp_min(1e-6)
            extra = (ends * height / length)[:, None]                             # fraction of the text
            positions = positions * (1 + 2 * extra) - extra
        if self.spacing == "predicted":
            at = [positions * (columns[:, None] - 1).to(edges.dtype)] * 2
        else:
            w = _perspective_weights(valid, heights, steps, columns) if self.spacing == "perspective" else None
            at = [arc_length_positions(edges[:, e], positions, columns, px[:, 0], w) for e in range(2)]
        top = points_along(edges[:, 0], at[0], extrapolate=True, lengths=columns)
        bottom = points_along(edges[:, 1], at[1], extrapolate=True, lengths=columns)
        if sides > 0:
            across = bottom - top
            top, bottom = top - sides * across, bottom + sides * across
        return top, bottom

    def predict_transform(self, x: Tensor, widths: Tensor, aspects: Optional[Tensor] = None) -> TPSTransform:
        """The batched TPS (normalised output -> normalised crop coordinates) that
        flattens the predicted outline (``aspects``: see :meth:`outline_points`)."""
        top, bottom = self.outline_points(self(x, widths), self.edge_points, aspects)
        return outline_tps(top, bottom, self.rows)
