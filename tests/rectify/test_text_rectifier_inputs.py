"""TextRectifier on plain PyTorch: inputs of every dtype and channel layout, long lines
whose output is capped, huge crops. Imports nothing from mmengine / mmcv / mmdet
(tests/packaging/test_plain_pytorch.py runs it with them blocked)."""
import os.path as osp
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.geometry.frames import region_sizes
from stn_plugin.rectify import TextRectifier, images
from stn_plugin.rectify.preprocessor import build_preprocessor
from stn_plugin.rectify.rectifier_file import load_rectifier_file, pretrained_path, save_rectifier_file

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _word(h=48, w=160, text="Rectify", angle=12.0):
    """A grey-on-white word, rotated: (h, w, 3) uint8 RGB."""
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, text, (8, int(h * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, h / 40, (20, 20, 20), 2, cv2.LINE_AA)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderValue=(255, 255, 255))


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return TextRectifier.from_pretrained("tps-words")


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    """The shipped rectifier's architecture, freshly built: its transform is the identity."""
    spec = load_rectifier_file(pretrained_path("tps-words"))
    path = str(tmp_path_factory.mktemp("rect") / "identity.pt")
    save_rectifier_file(spec, build_preprocessor(spec["preprocessor"], spec["in_channels"]), path)
    return TextRectifier.from_pretrained(path)


def test_capped_output_keeps_the_aspect_ratio(identity, shipped):
    """A 300 x 12000 line: its own size is longer than the 4096 cap, so both sides
    shrink by one factor (it used to come out 300 x 4096, squashed 2.9x)."""
    line = np.full((300, 12000, 3), 255, np.uint8)
    line[100:200, ::50] = 0
    out = identity(line)
    assert out.shape == (102, 4096, 3)
    tall = identity(np.ascontiguousarray(line.transpose(1, 0, 2)), out_size="crop")
    assert tall.shape == (4096, 102, 3)  # 'crop' is capped the same way
    det = shipped(line, return_details=True)
    (rh, rw), = region_sizes(det.transform, [line.shape[:2]])
    h, w = det.size
    assert max(h, w) == 4096 and abs(h / w - rh / rw) < 1 / w + 1 / h, (det.size, rh, rw)
    assert identity(line[:, :3000]).shape == (300, 3000, 3)  # under the cap: the region's own size


def test_uint16_and_unit_float_inputs_are_scaled(shipped):
    """A 16-bit crop and a [0, 1] float crop give the uint8 crop's transform and its
    pixels in their own scale (uint16 used to be clipped to 255: a white crop)."""
    crop = _word()
    ref = shipped(crop, return_details=True)
    # (the localization net's inputs differ by the rounding of their resize only)
    for other, top in ((crop.astype(np.uint16) * 257, 65535), (crop.astype(np.float32) / 255, 1.0),
                       (crop.astype(np.float32), 255)):
        det = shipped(other, return_details=True)
        np.testing.assert_allclose(det.control_points, ref.control_points, atol=0.05)
        assert det.image.dtype == other.dtype and det.image.shape == ref.image.shape
        diff = np.abs(det.image.astype(np.float64) * (255 / top) - ref.image)
        assert diff.mean() < 0.5 and diff.max() < 4, (other.dtype, diff.mean(), diff.max())


def test_alpha_only_text_is_composited_over_white(shipped, tmp_path):
    """Black ink drawn only in the alpha channel (a transparent PNG) reads as black on
    white, from an array and from a file (it used to come out all black)."""
    grey = _word()[..., :1]
    rgba = np.zeros((*grey.shape[:2], 4), np.uint8)
    rgba[..., 3] = 255 - grey[..., 0]
    ref = shipped(np.repeat(grey, 3, 2))
    out = shipped(rgba)
    assert out.shape == ref.shape and out.mean() > 150
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 2
    png = str(tmp_path / "alpha.png")
    assert cv2.imwrite(png, rgba)  # BGRA: black ink, alpha = the text
    from_file = shipped(png)
    assert from_file.dtype == np.uint8 and np.abs(from_file.astype(int) - ref.astype(int)).max() <= 2
    # a 16-bit PNG file is read at 16 bits and comes back as RGB uint8, like the 8-bit one
    png16 = str(tmp_path / "deep.png")
    assert cv2.imwrite(png16, cv2.cvtColor(_word(), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    assert np.abs(shipped(png16).astype(int) - shipped(_word()).astype(int)).max() <= 1


def test_the_localization_net_never_sees_the_full_crop(shipped, monkeypatch):
    """A huge 16-bit crop is shrunk in its own dtype before any float conversion."""
    seen = []
    resize = images.resize_text_crop

    def spy(img, size, *args, **kwargs):
        seen.append((img.dtype, img.shape))
        return resize(img, size, *args, **kwargs)

    monkeypatch.setattr(images, "resize_text_crop", spy)
    big = cv2.resize(_word(), (3000, 3000), interpolation=cv2.INTER_NEAREST).astype(np.uint16) * 257
    small = images.model_input(images.read_crop(big, "big"), shipped.input_size, shipped.in_channels)
    assert seen == [(np.uint16, (3000, 3000, 3))]
    assert small.dtype == np.float32 and small.shape == (shipped.in_channels, *shipped.input_size)
    assert 0 <= small.min() and small.max() <= 255 and small.max() > 200  # scaled to [0, 255], not clipped


MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys, time
    import numpy as np, torch
    torch.set_num_threads(2)
    from stn_plugin.rectify import TextRectifier
    rect = TextRectifier.from_pretrained("tps-words")
    crop = np.full((6000, 6000, 3), 255, np.uint8)
    crop[2000:4000, ::300] = 0
    rect(crop[:64, :64])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    out = rect(crop, out_size="crop")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(after - before, crop.nbytes, max(out.shape), time.perf_counter() - start)
""")


def test_huge_crop_memory_is_bounded():
    """One 6000 x 6000 uint8 crop (108 MB) at its crop size peaks at one float copy of
    it (4 bytes a value) plus the sampler's work at the 4096 cap (the crop size used to
    be uncapped, at 6000 x 6000 with a grid to match); the peak is measured in a child
    process (ru_maxrss)."""
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    grown, nbytes, side, seconds = proc.stdout.split()
    assert int(side) == 4096
    # a float32 copy of the crop, the 4096 x 4096 output and its grid; measured: about 1.0 GB
    assert int(grown) < 4 * int(nbytes) + 1.0e9, (int(grown) / 1e9, seconds)
