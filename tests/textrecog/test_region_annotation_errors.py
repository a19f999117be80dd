"""The scene-text annotation readers are strict about their formats: every malformed
file raises a ValueError naming the file, the line (or entry) and what was expected;
nothing of another format is misread; a UTF-8 byte-order mark is accepted."""
from __future__ import annotations

import json

import numpy as np
import pytest

from stn_plugin.textrecog.region_annotations import (read_ctw1500, read_icdar2015, read_mmocr_textdet,
                                                     read_totaltext)

QUAD = "10,10,60,10,60,30,10,30"


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_icdar2015_extra_numbers_are_not_a_transcription(tmp_path):
    path = _write(tmp_path / "gt_img_1.txt", f"{QUAD},word\n{QUAD},70,30\n")
    with pytest.raises(ValueError, match=r"gt_img_1.txt:2: expected 8 coordinates .* got 10 numbers"):
        read_icdar2015(path)
    # a transcription that is one number stays a transcription
    regions = read_icdar2015(_write(tmp_path / "gt_img_2.txt", f"{QUAD},2015\n{QUAD},1.5\n"))
    assert [r.text for r in regions] == ["2015", "1.5"]


def test_non_utf8_text_names_the_file_and_line(tmp_path):
    body = f"{QUAD},ok\n".encode() + f"{QUAD},caf".encode() + b"\xe9\n"
    for reader, name in ((read_icdar2015, "gt_img_1.txt"), (read_ctw1500, "0001.txt"),
                         (read_totaltext, "poly_gt_img1.txt")):
        path = _write(tmp_path / name, body)
        with pytest.raises(ValueError, match=rf"{name}:2: not UTF-8 text \(byte 0xe9"):
            reader(path)


def test_totaltext_two_records_on_one_line_are_refused(tmp_path):
    record = "x: [[1 50 50 1]], y: [[1 1 20 20]], ornt: [u'h'], transcriptions: [u'{}']"
    path = _write(tmp_path / "poly_gt_img1.txt", record.format("a") + "\n" + record.format("b") + " "
                  + record.format("c") + "\n")
    with pytest.raises(ValueError, match=r"poly_gt_img1.txt:2: 2 records on one line"):
        read_totaltext(path)


def test_ctw1500_absolute_polygon_without_text_marker_is_not_misread(tmp_path):
    top = np.stack([np.linspace(200, 400, 8), np.full(8, 100)], 1)
    bottom = np.stack([np.linspace(400, 200, 8), np.full(8, 140)], 1)
    flat = ",".join(str(int(v)) for v in np.concatenate([top, bottom]).flatten())  # 32 absolute numbers
    path = _write(tmp_path / "0001.txt", flat + "\n")
    with pytest.raises(ValueError, match=r"0001.txt:1: 32 numbers without '####' .* needs '####'"):
        read_ctw1500(path)
    # with the marker the same numbers are the 16-point polygon they are
    r = read_ctw1500(_write(tmp_path / "0002.txt", flat + ",####word\n"))[0]
    np.testing.assert_array_equal(r.points, np.concatenate([top, bottom]).astype(int))


def test_ctw1500_xml_errors_name_the_file(tmp_path):
    path = _write(tmp_path / "0001.xml", "<Annotations><image><box><segs>1,2,3</segs></box>\n</image>")
    with pytest.raises(ValueError, match=r"0001.xml:2: not well-formed XML"):
        read_ctw1500(path)
    path = _write(tmp_path / "0002.xml", "<Annotations><box><label>a</label><segs>1,2,30,2,30,9,1</segs></box>"
                                         "</Annotations>")
    with pytest.raises(ValueError, match=r"0002.xml: box 0 <segs>: expected an even number .* got 7"):
        read_ctw1500(path)


def _det(instances):
    return {"metainfo": {}, "data_list": [{"img_path": "a.jpg", "instances": instances}]}


def test_mmocr_json_with_a_byte_order_mark_is_read(tmp_path):
    doc = json.dumps(_det([{"polygon": [0, 0, 9, 0, 9, 4, 0, 4], "text": "ab"}]))
    (_, regions), = read_mmocr_textdet(_write(tmp_path / "det.json", "\ufeff" + doc))
    assert regions[0].text == "ab"


@pytest.mark.parametrize("content,match", [
    ('{"data_list": [1,]}', r"det.json:1: not JSON \(column \d+"),
    (json.dumps({"data_list": {}}), "no 'data_list' list"),
    (json.dumps({"data_list": [7]}), r"data_list\[0\] needs 'img_path' and 'instances', got int"),
    (json.dumps({"data_list": [{"img_path": "a.jpg", "instances": {}}]}), r"data_list\[0\].instances: expected a list"),
    (json.dumps(_det(["x"])), r"instances\[0\]: expected an object"),
    (json.dumps(_det([{"polygon": [0, 0, 9, 0, 9, 4, 0]}])), r"instances\[0\].polygon: expected an even number"),
    (json.dumps(_det([{"polygon": [0, 0, 9, "a", 9, 4]}])), r"instances\[0\].polygon: expected a list of numbers"),
    (json.dumps(_det([{"bbox": [0, 0, 9]}])), r"instances\[0\].bbox: expected \[x1, y1, x2, y2\]"),
    (json.dumps(_det([{"polygon": [0, 0, 9, 0, 9, 4], "text": 5}])), r"instances\[0\].text: expected a string"),
])
def test_mmocr_json_errors_name_the_file_and_entry(tmp_path, content, match):
    path = _write(tmp_path / "det.json", content)
    with pytest.raises(ValueError, match=match) as info:
        read_mmocr_textdet(path)
    assert str(path) in str(info.value)
