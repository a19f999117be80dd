"""tools/evaluate_text_rectifiers.py end to end on a tiny set: one kind, one engine,
two crops; the files it writes, the refusal to overwrite them, and the bad arguments."""
import json

import pytest

from stn_plugin.experiments import text_rectifier_evaluation as evaluation
from stn_plugin.rectify.ocr_engines import rapidocr_available, tesseract_available

ENGINE = "rapidocr" if rapidocr_available() else "tesseract" if tesseract_available() else None


@pytest.mark.skipif(ENGINE is None, reason="no OCR engine: pip install 'stn_plugin[ocr]' (the set-up installs it) "
                                           "or apt-get install tesseract-ocr")
def test_two_flat_lines_end_to_end(tmp_path, capsys):
    work = tmp_path / "eval"
    argv = ["--num-per-kind", "2", "--kinds", "flat_line", "--engines", ENGINE, "--work-dir", str(work),
            "--figures", "1", "--threads", "1", "--rectifiers", "tps-words"]
    evaluation.main(argv)
    log = capsys.readouterr().out
    assert "ETA" in log and "total" in log
    res = json.loads((work / "results.json").read_text())
    assert res["methods"] == ["raw", "tps-words", "geometric"] and res["seed"] == 7
    assert res["texts"] == [s.text for s in evaluation.evaluation_crops(["flat_line"], 2, 7)]
    for method in res["methods"]:
        assert len(res["readings"][ENGINE][method]) == 2
        for group in ("flat_line", "all"):
            s = res["scores"][ENGINE][method][group]
            assert s["n"] == 2 and 0 <= s["word_acc"] <= 1 and 0 <= s["one_minus_ned"] <= 1
            p = s["word_acc"]
            assert s["word_acc_se"] == pytest.approx((p * (1 - p) / 2) ** 0.5)
    md = (work / "results.md").read_text()
    assert "| kind (n) | raw | tps-words | geometric |" in md and "| flat_line (2) |" in md
    assert (work / "figures" / "flat_line_0.png").is_file()

    with pytest.raises(SystemExit, match="--work-dir .* is not empty; pass --overwrite"):
        evaluation.main(argv)
    evaluation.main(argv + ["--overwrite", "--figures", "0", "--rectifiers"])
    res = json.loads((work / "results.json").read_text())
    assert res["methods"] == ["raw", "geometric"]
    assert not (work / "figures").exists()  # the earlier run's figures were removed


def test_bad_arguments_are_one_error_line(tmp_path):
    with pytest.raises(SystemExit, match="no shipped rectifier named 'no-such-rectifier'"):
        evaluation.main(["--num-per-kind", "1", "--kinds", "flat_word", "--engines", "tesseract",
                         "--tesseract-cmd", "true", "--rectifiers", "no-such-rectifier",
                         "--work-dir", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="--engines tesseract: Tesseract is not installed"):
        evaluation.main(["--engines", "tesseract", "--tesseract-cmd", "no-such-tesseract",
                         "--work-dir", str(tmp_path / "b")])
    with pytest.raises(SystemExit, match="--device cuda:7: "):
        evaluation.main(["--device", "cuda:7", "--engines", "tesseract", "--work-dir", str(tmp_path / "c")])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
