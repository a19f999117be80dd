"""stn_plugin.rectify.read_text: the engines by name, clear errors, PP-OCRv4 reading a
clean word. Imports nothing from mmengine / mmcv / mmdet."""
import cv2
import numpy as np
import pytest

from stn_plugin.rectify import read_text
from stn_plugin.rectify import ocr_engines
from stn_plugin.rectify.ocr_engines import ENGINES, engine_missing_reason, rapidocr_available


def _word(text="Rectify", h=48):
    """Black text on white, (h, w, 3) uint8 RGB, a margin around it."""
    scale = h / 48
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    img = np.full((h, tw + 16, 3), 255, np.uint8)
    cv2.putText(img, text, (8, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def test_unknown_engine_is_a_value_error_naming_the_engines():
    with pytest.raises(ValueError, match="engine: expected one of tesseract, rapidocr, got 'easyocr'"):
        read_text([_word()], engine="easyocr")
    with pytest.raises(ValueError, match="got 'easyocr'"):
        engine_missing_reason("easyocr")
    assert ENGINES == ("tesseract", "rapidocr")


def test_bad_options_and_crops_are_named():
    with pytest.raises(TypeError, match="engine 'rapidocr' takes the options threads, batch_size; got psm"):
        read_text([_word()], engine="rapidocr", psm=7)
    with pytest.raises(ValueError, match=r"crops\[1\]: expected an \(H, W, 3\)"):
        read_text([_word(), np.zeros((8, 8, 3), np.float32)], engine="tesseract")
    with pytest.raises(TypeError, match="wrap a single crop in a list"):
        read_text(_word(), engine="tesseract")
    assert "apt-get install" in engine_missing_reason("tesseract", cmd="no-such-tesseract-binary")


def test_missing_rapidocr_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_rapidocr(name, *args, **kwargs):
        if name.startswith("rapidocr_onnxruntime"):
            raise ImportError("No module named 'rapidocr_onnxruntime'")
        return real_import(name, *args, **kwargs)

    ocr_engines._rapidocr_engine.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_rapidocr)
    assert not rapidocr_available()
    assert "stn_plugin[ocr]" in engine_missing_reason("rapidocr")
    with pytest.raises(ImportError, match=r"pip install 'stn_plugin\[ocr\]'"):
        read_text([_word()], engine="rapidocr")
    monkeypatch.undo()
    ocr_engines._rapidocr_engine.cache_clear()


@pytest.mark.skipif(not rapidocr_available(),
                    reason="rapidocr_onnxruntime is not installed (pip install 'stn_plugin[ocr]'; the set-up installs it)")
def test_rapidocr_reads_a_clean_word_and_grey_crops():
    word, grey = _word("Rectify"), cv2.cvtColor(_word("Warp 42"), cv2.COLOR_RGB2GRAY)
    assert read_text([], engine="rapidocr") == []
    texts = read_text([word, grey, grey[..., None]], engine="rapidocr", threads=1)
    assert texts[0] == "Rectify"
    assert texts[1].replace(" ", "") == "Warp42" and texts[2] == texts[1]
    # the engine is created once per thread setting and reused
    assert ocr_engines._rapidocr_engine(1) is ocr_engines._rapidocr_engine(1)
