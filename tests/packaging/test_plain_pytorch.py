"""The core (``stn_plugin.geometry``, ``.ops``, ``.modules``) and the text rectifier
(``stn_plugin.rectify``) are plain PyTorch: they import and work with the OpenMMLab stack
absent, and do not import it when it is installed.

Each case runs in a fresh interpreter, so what this test process already imported
does not matter."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPENMMLAB = ("mmengine", "mmcv", "mmdet")

# A meta-path finder that makes every OpenMMLab import fail, as on a machine without them.
BLOCK_OPENMMLAB = textwrap.dedent(f"""
    import sys

    class _NoOpenMMLab:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {OPENMMLAB!r}:
                raise ImportError(f"{{name}} is blocked: OpenMMLab is absent in this test")
            return None

    sys.meta_path.insert(0, _NoOpenMMLab())
""")

USE_THE_CORE = textwrap.dedent("""
    import torch
    import stn_plugin
    from stn_plugin.geometry import build_family
    from stn_plugin.modules import SpatialTransformer, RecurrentSpatialTransformer, AreaBoundLoss
    from stn_plugin.modules.roi_rectifier import RoIRectifier
    from stn_plugin.ops import roi_sample, warp

    torch.manual_seed(0)
    images = torch.rand(2, 3, 24, 32, dtype=torch.float64)
    # a fresh spatial transformer is the identity, and gradients reach its parameters
    stn = SpatialTransformer(3, family=dict(type='affine'),
                             loc_net=dict(type='conv', channels=(4,), input_size=(8, 8))).double()
    out, transform = stn(images, return_transform=True)
    assert torch.allclose(out, images, atol=1e-10), (out - images).abs().max()
    out.square().sum().backward()
    assert all(p.grad is not None for p in stn.parameters() if p.requires_grad)
    # a bounded family's transform, its inverse, and a warp through it
    family = build_family(dict(type='similarity', max_rotation=30, scale_range=(0.8, 1.25)))
    t = family.build(family.identity_params(dtype=torch.float64).repeat(2, 1) + 0.3)
    points = torch.rand(2, 10, 2, dtype=torch.float64) * 2 - 1
    assert torch.allclose(t.inverse().map_points(t.map_points(points)), points, atol=1e-10)
    assert warp(images, t, (12, 16), sampling_ratio=2).shape == (2, 3, 12, 16)
    # roi_sample at the identity samples the box; the RoI rectifier runs on it
    feats = torch.rand(1, 4, 16, 16, dtype=torch.float64)
    rois = torch.tensor([[0.0, 2.0, 3.0, 50.0, 40.0]], dtype=torch.float64)
    patch = roi_sample(feats, rois, None, out_size=5, spatial_scale=0.25, sampling_ratio=2)
    assert patch.shape == (1, 4, 5, 5)
    rect = RoIRectifier(4, out_size=5, family='affine', loc_net=dict(type='conv', channels=(4,))).double()
    assert torch.allclose(rect(feats, rois, 0.25)[0], patch, atol=1e-10)
    assert RecurrentSpatialTransformer(3, num_steps=2)(images.float()).shape == images.shape
    assert AreaBoundLoss(min_scale=0.5, max_scale=2.0)(transform).item() == 0.0
    print("core works")
""")

# TextRectifier with torch, numpy and OpenCV: both shipped rectifiers on a crop, and the
# default one's keep-flat path
USE_THE_RECTIFIER = textwrap.dedent("""
    import numpy as np
    from stn_plugin.rectify import TextRectifier

    crop = np.full((48, 160, 3), 255, np.uint8)
    crop[16:32, 20:140:7] = 0
    for rectifier in (TextRectifier.from_pretrained(), TextRectifier.from_pretrained("tps-words")):
        flat = rectifier(crop)
        assert flat.dtype == np.uint8 and flat.ndim == 3 and flat.shape[2] == 3, flat.shape
    kept = TextRectifier.from_pretrained(keep_flat=True, flat_threshold=0.0)(crop, return_details=True)
    assert kept.kept and np.array_equal(kept.image, crop)
    print("rectifier works")
""")

LIST_OPENMMLAB_MODULES = textwrap.dedent(f"""
    import sys
    import stn_plugin.geometry, stn_plugin.ops, stn_plugin.modules, stn_plugin.rectify
    from stn_plugin.modules.roi_rectifier import RoIRectifier
    print(sorted(m for m in sys.modules if m.split(".")[0] in {OPENMMLAB!r}))
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_core_works_with_openmmlab_blocked():
    proc = _run(BLOCK_OPENMMLAB + USE_THE_CORE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "core works" in proc.stdout


def test_text_rectifier_works_with_openmmlab_blocked():
    proc = _run(BLOCK_OPENMMLAB + USE_THE_RECTIFIER)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rectifier works" in proc.stdout


def test_the_blocker_blocks():
    """The blocker used above really makes OpenMMLab imports fail."""
    proc = _run(BLOCK_OPENMMLAB + "import mmengine")
    assert proc.returncode != 0 and "blocked" in proc.stderr


def test_importing_the_core_does_not_import_openmmlab_when_installed():
    assert all(importlib.util.find_spec(m) is not None for m in OPENMMLAB), \
        "the set-up installs the OpenMMLab stack; without it this test would prove nothing"
    proc = _run(LIST_OPENMMLAB_MODULES)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]", proc.stdout
