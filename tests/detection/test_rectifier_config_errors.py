"""RoI rectifier configs that would be silently ignored or fail deep inside a forward
are refused when the model is built (or, for what only the features reveal, with a
clear error at the first forward)."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmdet")

import stn_plugin  # noqa: E402,F401  (registers)
from mmdet.registry import MODELS  # noqa: E402

ROI_LAYER = dict(type="RoIAlign", output_size=7, sampling_ratio=2, aligned=True)


def _cfg(**kw):
    cfg = dict(type="AffineRoIRectifier", roi_layer=dict(ROI_LAYER), out_channels=4, featmap_strides=[4, 8])
    cfg.update(kw)
    return cfg


@pytest.mark.parametrize("roi_layer, message", [
    (dict(ROI_LAYER, aligned=False), "aligned"),
    (dict(type="RoIPool", output_size=7), "RoIPool"),
])
def test_roi_layers_the_rectifier_would_ignore_are_refused(roi_layer, message):
    with pytest.raises(ValueError, match=f"roi_layer.*{message}"):
        MODELS.build(_cfg(roi_layer=roi_layer))


def test_bad_padding_is_refused_at_build():
    with pytest.raises(ValueError, match="padding"):
        MODELS.build(_cfg(padding="zero"))


def test_out_channels_that_do_not_match_the_features_name_both():
    ext = MODELS.build(_cfg())
    feats = (torch.randn(1, 8, 16, 16), torch.randn(1, 8, 8, 8))
    rois = torch.tensor([[0.0, 4.0, 4.0, 40.0, 40.0]])
    with pytest.raises(ValueError, match=r"out_channels=4.*8 channels"):
        ext(feats, rois)
