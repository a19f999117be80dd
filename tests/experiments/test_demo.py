"""The demo (tools/demo.py): its accuracy table, the recorded comparison it prints beside
the live run, and the text part end to end on a few crops."""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from stn_plugin.experiments import demo

REPO = Path(__file__).resolve().parents[2]


def test_accuracy_table_gives_means_standard_errors_and_paired_differences():
    table, rows = demo.accuracy_table(["flat", "flat", "arc", "arc"], [True, False, False, False],
                                      [True, True, True, False], ["flat", "arc"])
    by_kind = {r["kind"]: r for r in rows}
    assert [r["kind"] for r in rows] == ["flat", "arc", "all"]
    flat, arc, every = by_kind["flat"], by_kind["arc"], by_kind["all"]
    assert (flat["n"], flat["raw"], flat["rectified"], flat["diff"]) == (2, 0.5, 1.0, 0.5)
    assert flat["raw_se"] == pytest.approx(0.5) and flat["rectified_se"] == 0.0 and flat["diff_se"] == pytest.approx(0.5)
    assert (arc["raw"], arc["rectified"], arc["diff"]) == (0.0, 0.5, 0.5)
    assert (every["n"], every["raw"], every["rectified"], every["diff"]) == (4, 0.25, 0.75, 0.5)
    # the paired differences are 0, +1, +1, 0: sample std sqrt(1/3), over sqrt(4)
    assert every["diff_se"] == pytest.approx(math.sqrt(1 / 3) / 2)
    assert "| flat | 2 | 0.500 ± 0.500 | 1.000 ± 0.000 | +0.500 ± 0.500 |" in table.splitlines()


def test_accuracy_table_of_one_crop_has_no_standard_error_and_checks_lengths():
    table, rows = demo.accuracy_table(["arc"], [False], [True], ["flat", "arc"])
    assert [r["kind"] for r in rows] == ["arc", "all"] and math.isnan(rows[0]["raw_se"])
    assert "| arc | 1 | 0.000 | 1.000 | +1.000 |" in table
    with pytest.raises(ValueError, match="differ in length"):
        demo.accuracy_table(["arc"], [False, True], [True], ["arc"])


def test_recorded_comparison_is_the_one_in_docs_benchmarks():
    text = (REPO / "docs" / "benchmarks.md").read_text()
    section = text.split("### 1500 iterations, two training seeds", 1)[1].split("###", 1)[0]
    labels = {"Faster R-CNN": "baseline", "+ affine RoI rectifier": "affine", "+ TPS RoI rectifier": "tps"}
    found = {}
    for line in section.splitlines():
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        if cells[0] in labels:
            found.setdefault(labels[cells[0]], {})[int(cells[1])] = tuple(float(c) for c in cells[2:6])
    assert found == demo.RECORDED_DIGIT_SCENES


def test_detection_part_prints_the_live_run_beside_the_record(monkeypatch, capsys, tmp_path):
    from stn_plugin.experiments import digit_scenes_benchmark as bench

    calls = []

    def fake_benchmark(argv):
        calls.append(argv)
        return [dict(variant="baseline", mAP=0.123), dict(variant="tps", mAP=0.234)]

    monkeypatch.setattr(bench, "main", fake_benchmark)
    demo.main(["--skip-text", "--iters", "7", "--out", str(tmp_path), "--data", str(tmp_path / "d")])
    argv = calls[0]
    assert argv[argv.index("--iters") + 1] == "7" and argv[argv.index("--variants") + 1:][:2] == ["baseline", "tps"]
    out = capsys.readouterr().out
    assert re.search(r"\| Faster R-CNN \| 0\.123 \| 0\.605 / 0\.590 \| 0\.606 / 0\.596 \|", out)
    assert re.search(r"\| \+ TPS RoI rectifier \| 0\.234 \| 0\.653 / 0\.640 \| 0\.661 / 0\.654 \|", out)
    assert "do not rank the variants" in out


def test_parse_args_refuses_nothing_to_run_and_bad_counts(capsys):
    for argv, word in ((["--skip-text", "--skip-detection"], "nothing to run"), (["--num-words", "0"], "--num-words"),
                       (["--iters", "0"], "--iters"), (["--figure-words", "-1"], "--figure-words")):
        with pytest.raises(SystemExit):
            demo.parse_args(argv)
        assert word in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_text_part_reads_every_kind_raw_and_rectified_and_draws_the_figure(tmp_path, capsys):
    pytest.importorskip("cv2")
    from stn_plugin.datasets.text_rendering import find_held_out_fonts

    try:
        find_held_out_fonts()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    result = demo.main(["--skip-detection", "--num-words", "1", "--figure-words", "1", "--out", str(tmp_path)])
    text = result["text"]
    kinds = [name for _, name in demo.TEXT_KINDS]
    assert text["kinds"] == kinds and len(text["tesseract_raw"]) == len(text["tesseract_rectified"]) == len(kinds)
    assert [(r["kind"], r["n"]) for r in text["rows"]] == [(k, 1) for k in kinds] + [("all", len(kinds))]
    figure = Path(text["figure"])
    assert figure.is_file() and figure.parent.parent == tmp_path
    assert (figure.parent / "results.md").is_file() and (figure.parent / "results.json").is_file()
    out = capsys.readouterr().out
    assert str(figure) in out and "| flat | 1 |" in out
