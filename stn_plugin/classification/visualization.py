"""Pictures of what a spatial transformer does to digits: inputs beside their
rectified outputs (what a rectifier learned is hard to judge from numbers alone)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor


def _to_uint8(images: Tensor) -> np.ndarray:
    """``(N, 1, H, W)`` or ``(N, H, W)`` images in [0, 1] or [0, 255] -> ``(N, H, W)`` uint8."""
    x = images.detach().float().cpu()
    if x.dim() == 4:
        x = x[:, 0]
    if x.numel() and float(x.max()) <= 1.0 + 1e-6:
        x = x * 255
    return x.clamp(0, 255).round().to(torch.uint8).numpy()


def _fit(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)


def rectification_tiles(inputs: Tensor, outputs: Tensor, gt_labels: Optional[Sequence[int]] = None,
                        pred_labels: Optional[Sequence[int]] = None, cell: int = 84,
                        columns: int = 8) -> np.ndarray:
    """One uint8 image of ``input | output`` pairs, ``columns`` pairs per row.

    ``inputs (N, 1, H, W)`` and ``outputs (N, 1, h, w)`` (any range: [0, 1] or
    [0, 255]) are scaled to ``cell`` pixels; labels are written as ``gt/pred`` (red
    when wrong). Returns ``(rows * (cell + 14), columns * (2 * cell + 6), 3)`` BGR.
    """
    import cv2

    a, b = _to_uint8(inputs), _to_uint8(outputs)
    n = len(a)
    rows = max(1, -(-n // columns))
    pair_w, pair_h = 2 * cell + 6, cell + 14
    canvas = np.full((rows * pair_h, columns * pair_w, 3), 40, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        y, x = r * pair_h, c * pair_w
        canvas[y:y + cell, x:x + cell] = _fit(a[i], cell)[..., None]
        canvas[y:y + cell, x + cell + 2:x + 2 * cell + 2] = _fit(b[i], cell)[..., None]
        if gt_labels is not None:
            text = str(int(gt_labels[i]))
            wrong = False
            if pred_labels is not None:
                text += f"/{int(pred_labels[i])}"
                wrong = int(pred_labels[i]) != int(gt_labels[i])
            cv2.putText(canvas, text, (x + 2, y + cell + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (60, 60, 255) if wrong else (220, 220, 220), 1, cv2.LINE_AA)
    return canvas


# One block of a rectification figure: (name, input digits (N, 1, H, W), their true
# classes or None, [(row title, rectified digits (N, 1, h, w)), ...]).
FigureBlock = Tuple[str, Tensor, Optional[Sequence[int]], Sequence[Tuple[str, Tensor]]]


def save_rectification_figure(path: Union[str, Path], blocks: Sequence[FigureBlock],
                              title: Optional[str] = None, dpi: int = 80) -> Path:
    """Save a matplotlib figure of digits beside spatial transformers' outputs.

    Each block is a row of input digits (true class above each, row title
    ``'<name>: input'``), then one row per model output; one column per digit. Images
    may be in [0, 1] or [0, 255].

    Args:
        path: the PNG to write (parent folders are created).
        blocks: :data:`FigureBlock` s, e.g. one per distortion variant.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = []  # (row title, uint8 images, labels above or None)
    for name, inputs, labels, outputs in blocks:
        rows.append((f"{name}: input" if name else "input", _to_uint8(inputs), labels))
        rows += [(row_title, _to_uint8(images), None) for row_title, images in outputs]
    n_rows, n_cols = len(rows), max(len(images) for _, images, _ in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.0 * n_cols + 1.8, 1.0 * n_rows + 0.6), squeeze=False)
    for r, (row_title, images, labels) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(images):
                continue
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=255)
            if labels is not None:
                ax.set_title(str(int(labels[c])), fontsize=7, pad=2)
        axes[r][0].set_ylabel(row_title, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (1.0 * n_rows + 0.6)))
    else:
        fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
