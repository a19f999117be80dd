"""Pictures of what a spatial transformer does to digits: inputs beside their
rectified outputs (issue: rectification is opaque unless shown)."""
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


def save_rectification_figure(path: Union[str, Path], inputs: Tensor,
                              rows: Sequence[Tuple[str, Tensor]], labels: Optional[Sequence[int]] = None,
                              title: Optional[str] = None) -> Path:
    """Save a matplotlib figure: a row of input digits, then one row per model output.

    Args:
        path: the PNG to write (parent folders are created).
        inputs: ``(N, 1, H, W)`` input digits.
        rows: ``[(row title, (N, 1, h, w) rectified digits), ...]``.
        labels: optional true classes shown above the inputs.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    all_rows = [("input", inputs)] + list(rows)
    n = inputs.shape[0]
    fig, axes = plt.subplots(len(all_rows), n, figsize=(1.1 * n + 1.6, 1.15 * len(all_rows) + 0.4),
                             squeeze=False)
    for r, (name, imgs) in enumerate(all_rows):
        arr = _to_uint8(imgs)
        for c in range(n):
            ax = axes[r][c]
            ax.imshow(arr[c], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and labels is not None:
                ax.set_title(str(int(labels[c])), fontsize=8)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
