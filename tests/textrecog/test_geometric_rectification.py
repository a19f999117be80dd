"""Geometric rectification of annotated text regions: a word whose warp is known comes
back flat, a quadrilateral gives OpenCV's perspective crop, degenerate regions and
malformed annotation files give errors that name them, and the format readers."""
import json
import warnings

import cv2
import numpy as np
import pytest
import torch

from stn_plugin.ops.warp import warp
from stn_plugin.textrecog.geometric_rectification import (opencv_perspective_matrix, quad_size, rectify_regions,
                                                         region_geometry)
from stn_plugin.textrecog.region_annotations import (read_annotations, read_ctw1500, read_icdar2015,
                                                    read_mmocr_textdet, read_totaltext)
from stn_plugin.textrecog.synthetic_words import distort_mask
from stn_plugin.textrecog.text_regions import DegenerateRegionError, TextRegion, check_region, split_top_bottom
from stn_plugin.geometry.coords import normalized_to_pixel


def _flat_word(h=40, w=168):
    img = np.zeros((h, w), np.uint8)
    cv2.putText(img, "stn text", (4, h - 11), cv2.FONT_HERSHEY_SIMPLEX, 1.05, 255, 2, cv2.LINE_AA)
    return img.astype(np.float32) / 255


def _edge_polygon(h, w, per_edge=8):
    """The flat image's outline (pixel edges, index coordinates), clockwise, per_edge points per long side."""
    xs = np.linspace(-0.5, w - 0.5, per_edge)
    return np.concatenate([np.stack([xs, np.full(per_edge, -0.5)], 1),
                           np.stack([xs[::-1], np.full(per_edge, h - 0.5)], 1)], 0)


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_arc_word_is_rectified_back_from_its_polygon(seed):
    """An arc word (the generator's arc warp, known in closed form): its 16-point polygon
    gives back the flat word, every pixel within 0.6 px of where the warp put it."""
    flat = _flat_word()
    h0, w0 = flat.shape
    distorted, forward = distort_mask(flat, "arc", np.random.default_rng(seed))
    polygon = forward(_edge_polygon(h0, w0))
    geom = region_geometry(polygon, distorted.shape)
    assert geom.kind == "tps"
    # the word's own size: an arc keeps the flat length along its centre line and its thickness
    assert abs(geom.size[0] - h0) <= 1 and abs(geom.size[1] - w0) <= 2
    # geometry: flat pixel centres land where the true warp put them
    ys, xs = np.mgrid[0:h0:2, 0:w0:2].astype(np.float64)
    flat_pts = np.stack([xs.ravel(), ys.ravel()], 1)
    out_norm = torch.from_numpy(np.stack([(flat_pts[:, 0] + 0.5) / w0 * 2 - 1, (flat_pts[:, 1] + 0.5) / h0 * 2 - 1], 1))
    mapped = geom.transform.map_points(out_norm[None])[0]
    est = normalized_to_pixel(mapped, distorted.shape).numpy() - 0.5
    err = np.linalg.norm(est - forward(flat_pts), axis=1)
    # measured for seeds 0 / 3 / 5: max 0.43 / 0.24 / 0.50 px, mean 0.15 / 0.09 / 0.17 px (the
    # polygon's straight chords cut the arc; with the edges alone as control rows: max 3.7 px)
    assert err.max() < 0.6 and err.mean() < 0.2, (err.max(), err.mean())
    # pixels: the rectified word matches the flat rendering
    crop = rectify_regions((distorted * 255).astype(np.float32), [polygon])[0]
    crop = cv2.resize(crop, (w0, h0), interpolation=cv2.INTER_LINEAR) if crop.shape != (h0, w0) else crop
    diff = np.abs(crop / 255.0 - flat).mean()
    identity = np.abs(cv2.resize(distorted, (w0, h0)) - flat).mean()
    assert diff < 0.03 and diff < 0.2 * identity, (diff, identity)


def test_curved_word_is_flattened():
    """The generator's parabola bend is not length-preserving, so the crop is the word at its
    bent length (its edges' mean length); resized to the flat size it matches the flat word."""
    flat = _flat_word()
    h0, w0 = flat.shape
    distorted, forward = distort_mask(flat, "curve", np.random.default_rng(1))
    polygon = forward(_edge_polygon(h0, w0))
    crop = rectify_regions((distorted * 255).astype(np.float32), [polygon])[0]
    assert abs(crop.shape[0] - h0) <= 1 and w0 < crop.shape[1] < 1.1 * w0
    diff = np.abs(cv2.resize(crop, (w0, h0), interpolation=cv2.INTER_AREA) / 255.0 - flat).mean()
    identity = np.abs(cv2.resize(distorted, (w0, h0)) - flat).mean()
    # measured: 0.057 vs 0.137 for the bent crop (the arc-length parametrisation of the edges
    # shifts letters along the word by up to 2 px against the bend's own x)
    assert diff < 0.07 and diff < 0.5 * identity, (diff, identity)


def _smooth_image(h=120, w=200):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(xs / 17.0 + ys / 23.0), 128 + 90 * np.cos(ys / 13.0),
                    (xs * 255 / w)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_quad_gives_opencvs_perspective_crop():
    img = _smooth_image()
    quad = np.array([[31.3, 22.7], [171.6, 38.2], [160.4, 97.9], [24.8, 80.1]])
    geom = region_geometry(quad, img.shape[:2])
    h, w = geom.size
    assert geom.kind == "perspective" and (h, w) == quad_size(quad) == (59, 139)  # mean side lengths
    rect = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    m_cv = cv2.getPerspectiveTransform(quad.astype(np.float32), rect)
    m = opencv_perspective_matrix(quad, (h, w))
    np.testing.assert_allclose(m / m[2, 2], m_cv / m_cv[2, 2], rtol=1e-5, atol=1e-6)
    # nearest neighbour: the same pixels (up to exact .5 ties of the rounding)
    src = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32))[None]
    t = geom.transform
    ours_nn = warp(src, t.__class__(t.matrix.float(), t.affine), (h, w), mode="nearest", padding="border")
    ours_nn = ours_nn[0].permute(1, 2, 0).numpy().astype(np.uint8)
    ref_nn = cv2.warpPerspective(img, m_cv, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    assert (ours_nn != ref_nn).any(-1).mean() < 0.002
    # bilinear: OpenCV quantises sample positions to 1/32 px; within 1 grey level on a smooth image
    ours = rectify_regions(img, [quad], sampling_ratio=1)[0]
    ref = cv2.warpPerspective(img, m_cv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert ours.shape == ref.shape == (h, w, 3) and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_tensor_and_grey_inputs():
    img = _smooth_image()
    quad = [10, 10, 90, 12, 88, 40, 12, 38]  # a flat list works too
    a = rectify_regions(img, [quad])[0]
    b = rectify_regions(torch.from_numpy(img.transpose(2, 0, 1).copy()), [quad])[0]
    assert b.dtype == torch.uint8 and tuple(b.shape) == (a.shape[2], *a.shape[:2])
    np.testing.assert_array_equal(b.permute(1, 2, 0).numpy(), a)
    g = rectify_regions(img[..., 0], [quad])[0]
    np.testing.assert_array_equal(g, a[..., 0])


def test_a_fixed_output_size_resamples_the_same_geometry():
    img = _smooth_image()
    quad = np.array([[31.3, 22.7], [171.6, 38.2], [160.4, 97.9], [24.8, 80.1]])
    geom = region_geometry(quad, img.shape[:2], height=8, size=(32, 100))
    assert geom.size == (32, 100) and geom.natural_size == (59, 139)   # size wins over height
    crop = rectify_regions(img, [quad], size=(32, 100), sampling_ratio=1)[0]
    natural = rectify_regions(img, [quad], sampling_ratio=1)[0]
    assert crop.shape == (32, 100, 3)
    # the same region: the natural crop shrunk to 32 x 100 is close (a smooth image)
    shrunk = cv2.resize(natural, (100, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - crop.astype(int)).mean() < 3
    with pytest.raises(ValueError, match="size"):
        region_geometry(quad, img.shape[:2], size=(0, 10))


BAD_REGIONS = [
    ("too few", [[0, 0], [10, 0], [10, 5]], "at least 4 points"),
    ("bowtie", [[0, 0], [20, 10], [20, 0], [0, 10]], "intersects itself"),
    ("collinear", [[0, 0], [10, 0], [20, 0], [30, 0]], "collinear"),
    ("tiny", [[5, 5], [6, 5], [6, 5.5], [5, 5.5]], "degenerate"),
    ("counter-clockwise", [[0, 0], [0, 10], [40, 10], [40, 0]], "counter-clockwise"),
    ("outside", [[500, 500], [540, 500], [540, 520], [500, 520]], "outside"),
    ("nan", [[0, 0], [np.nan, 0], [10, 5], [0, 5]], "non-finite"),
]


@pytest.mark.parametrize("name,points,message", BAD_REGIONS, ids=[b[0] for b in BAD_REGIONS])
def test_degenerate_regions_are_named(name, points, message):
    img = _smooth_image()
    region = TextRegion(points, "x", name=f"gt_img_7.txt:{name}")
    with pytest.raises(DegenerateRegionError, match=message) as info:
        rectify_regions(img, [region])
    assert f"gt_img_7.txt:{name}" in str(info.value)
    good = [[10, 10], [60, 10], [60, 30], [10, 30]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = rectify_regions(img, [good, region, good], on_error="warn")
    assert out[1] is None and out[0].shape == out[2].shape == (20, 50, 3)
    assert any(name in str(w.message) and message in str(w.message) for w in caught)


def test_polygon_split_and_partly_outside():
    top, bottom = split_top_bottom(np.array([[0, 0], [5, 0], [10, 0], [10, 4], [5, 4], [0, 4]], float))
    np.testing.assert_array_equal(top[:, 1], 0) and np.testing.assert_array_equal(bottom[:, 0], [0, 5, 10])
    # odd count: the extra point goes where the word's end edge is the shorter one
    pts = np.array([[0, 0], [10, 0], [20, 0], [30, 0], [30, 8], [15, 8], [0, 8]], float)
    top, bottom = split_top_bottom(pts)
    assert len(top) == 4 and len(bottom) == 3 and top[-1, 0] == 30 and bottom[-1, 0] == 30
    check_region(pts, (100, 100))
    # a region leaving the image is kept (border padding), one fully outside is not
    img = _smooth_image()
    crop = rectify_regions(img, [[[-20, 5], [40, 5], [40, 25], [-20, 25]]])[0]
    assert crop.shape == (20, 60, 3)


def test_readers(tmp_path):
    ic15 = tmp_path / "gt_img_1.txt"
    ic15.write_text("\ufeff377,117,463,117,465,130,378,130,Genaxis Theatre\n"
                    "493,115,519,115,519,131,493,131,[06]\n374,155,409,155,409,170,374,170,###\n", encoding="utf-8")
    regions = read_icdar2015(str(ic15))
    assert [r.text for r in regions] == ["Genaxis Theatre", "[06]", "###"]
    assert [r.ignore for r in regions] == [False, False, True] and regions[0].points.shape == (4, 2)
    assert regions[1].name == "gt_img_1.txt:2"
    bad = tmp_path / "gt_img_2.txt"
    bad.write_text("1,2,3,x,5,6,7,8,word\n")
    with pytest.raises(ValueError, match="gt_img_2.txt:1"):
        read_icdar2015(str(bad))

    tt = tmp_path / "poly_gt_img3.txt"
    tt.write_text("x: [[115 503 494 115]], y: [[322 346 426 426]], ornt: [u'm'], transcriptions: [u'nauGHTY']\n"
                  "x: [[734 1058 1061 744]], y: [[264 243 391\n 357]], ornt: [u'#'], transcriptions: [u'#']\n")
    regions = read_totaltext(str(tt))
    assert [r.text for r in regions] == ["nauGHTY", "#"] and [r.ignore for r in regions] == [False, True]
    np.testing.assert_array_equal(regions[1].points[:, 1], [264, 243, 391, 357])  # the wrapped record

    ctw = tmp_path / "0001.txt"
    pts = np.stack([np.linspace(10, 130, 7), np.full(7, 20)], 1).tolist() + \
        np.stack([np.linspace(130, 10, 7), np.full(7, 50)], 1).tolist()
    flat = ",".join(str(int(v)) for p in pts for v in p)
    ctw.write_text(flat + ",####Latin 9\n")
    r = read_ctw1500(str(ctw))[0]
    assert r.text == "Latin 9" and r.points.shape == (14, 2)
    orig = tmp_path / "0002.txt"   # original training format: box, then offsets from its corner
    offsets = (np.array(pts) - [5, 15]).astype(int).flatten()
    orig.write_text(",".join(map(str, [5, 15, 140, 60, *offsets])) + "\n")
    np.testing.assert_array_equal(read_ctw1500(str(orig))[0].points, np.array(pts))
    xml = tmp_path / "0003.xml"
    xml.write_text(f"<Annotations><image file='0003.jpg'><box height='40' left='5' top='15' width='130'>"
                   f"<label>hello</label><segs>{flat}</segs></box></image></Annotations>")
    r = read_ctw1500(str(xml))[0]
    assert r.text == "hello" and r.points.shape == (14, 2)
    with pytest.raises(ValueError, match="0004.txt:1"):
        (tmp_path / "0004.txt").write_text("1,2,3,4,5\n")
        read_ctw1500(str(tmp_path / "0004.txt"))

    doc = dict(metainfo={}, data_list=[dict(img_path="a.jpg", height=10, width=10,
                                            instances=[dict(polygon=[0, 0, 9, 0, 9, 4, 0, 4], ignore=False,
                                                            text="ab"), dict(bbox=[1, 1, 5, 3], ignore=True)])])
    (tmp_path / "det.json").write_text(json.dumps(doc))
    (img_path, regions), = read_mmocr_textdet(str(tmp_path / "det.json"))
    assert img_path == str(tmp_path / "a.jpg") and regions[0].text == "ab" and regions[1].ignore
    doc["data_list"][0]["instances"] = [dict(text="x")]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="polygon"):
        read_mmocr_textdet(str(tmp_path / "bad.json"))

    # a folder of per-image files, matched to their images
    (tmp_path / "img_1.jpg").write_bytes(b"")
    items = read_annotations(str(ic15), "icdar2015", image_dir=str(tmp_path))
    assert items[0][0] == str(tmp_path / "img_1.jpg")
    with pytest.raises(FileNotFoundError, match="no image"):
        read_annotations(str(bad), "icdar2015")
