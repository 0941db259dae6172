"""Reader tests: real polygons against labelme's rasterised masks, and every bad-input case."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from lift3d.errors import InputError
from lift3d.io.coco import read_coco3d
from lift3d.io.decode import DecodeStage, decode_segmentation


def test_real_voc_polygons_match_labelme_masks(shared_data):
    root = shared_data / "coco_real" / "labelme_voc"
    inp = read_coco3d(root / "annotations.json", root)
    assert inp.input_images == 3 and inp.input_annotations == 12
    assert all(not r["rejects"] for r in inp.records)
    recs = DecodeStage(need_dataset_depth=False).process(inp.records)
    ious = []
    for rec in recs:
        assert not rec.get("failed"), rec["rejects"]
        stem = rec["file_name"].split("/")[-1].rsplit(".", 1)[0]
        inst = np.asarray(Image.open(root / "voc_masks" / "SegmentationObject" / f"{stem}.png"))
        valid = inst != 255  # VOC marks a boundary band with 255
        ids = [i for i in np.unique(inst) if i not in (0, 255)]
        for ann in rec["annotations"]:
            m = ann["mask"]
            assert m.shape == (rec["height"], rec["width"]) and m.any()
            best = max(
                (np.sum(m & (inst == i) & valid) / np.sum((m | (inst == i)) & valid)) for i in ids
            )
            ious.append(best)
    assert len(ious) == 12
    assert min(ious) >= 0.9, ious


def test_real_coco_image_reads(shared_data):
    root = shared_data / "coco_real" / "coco_val2017_39769"
    inp = read_coco3d(root / "instances.json", root)
    assert inp.input_annotations == 6
    rec = DecodeStage(need_dataset_depth=False).process(inp.records)[0]
    assert not rec.get("failed")
    assert rec["rgb"].shape == (480, 640, 3)
    cats = sorted(a["category"] for a in rec["annotations"])
    assert "cat" in cats and all(a["mask"] is not None for a in rec["annotations"])


def _square_poly(x, y, s):
    return [[x, y, x + s, y, x + s, y + s, x, y + s]]


def test_mask_formats_agree():
    h, w = 20, 30
    poly = _square_poly(5, 4, 10)
    m_poly = decode_segmentation(poly, h, w)
    rle = mask_utils.encode(np.asfortranarray(m_poly.astype(np.uint8)))
    compressed = {"size": [h, w], "counts": rle["counts"].decode()}
    # uncompressed RLE: column-major run lengths starting with zeros
    flat = m_poly.astype(np.uint8).flatten(order="F")
    runs, cur, n = [], 0, 0
    for v in flat:
        if v == cur:
            n += 1
        else:
            runs.append(n); cur, n = v, 1
    runs.append(n)
    uncompressed = {"size": [h, w], "counts": runs}
    assert np.array_equal(decode_segmentation(compressed, h, w), m_poly)
    assert np.array_equal(decode_segmentation(uncompressed, h, w), m_poly)
    assert m_poly.sum() > 80


# ------------------------------------------------------------------------------ bad input (whole file)
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_coco3d(tmp_path / "nope.json", tmp_path)


def test_malformed_json(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"images": [')
    with pytest.raises(InputError, match="malformed JSON at line 1"):
        read_coco3d(p, tmp_path)


def test_missing_keys(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"images": []}')
    with pytest.raises(InputError, match="annotations, categories"):
        read_coco3d(p, tmp_path)


def test_not_an_object(tmp_path):
    p = tmp_path / "a.json"
    p.write_text("[1, 2]")
    with pytest.raises(InputError, match="expected a JSON object"):
        read_coco3d(p, tmp_path)


# ------------------------------------------------------------------------------ bad records
def _write(tmp_path, images, annotations, categories=None):
    p = tmp_path / "ann.json"
    p.write_text(json.dumps({"images": images, "annotations": annotations,
                             "categories": categories or [{"id": 1, "name": "box"}]}))
    return p


def _img(i, **kw):
    d = {"id": i, "file_name": f"im{i}.png", "width": 40, "height": 30, "K": [[50, 0, 20], [0, 50, 15], [0, 0, 1]]}
    d.update(kw)
    return d


def _ann(i, img, **kw):
    d = {"id": i, "image_id": img, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0}
    d.update(kw)
    return d


def _reasons(inp):
    out = {}
    for r in inp.records:
        for x in r["rejects"]:
            out.setdefault(x["reason"], []).append((x["image_id"], x["annotation_id"]))
    for x in inp.orphan_rejects:
        out.setdefault(x["reason"], []).append((x["image_id"], x["annotation_id"]))
    return out


def test_record_level_rejects(tmp_path):
    images = [
        _img(1),
        _img(2, file_name="../escape.png"),
        _img(3, K=[[0, 0, 0], [0, 0, 0], [0, 0, 1]]),
        _img(1),  # duplicate id
        _img(4, width=0),
        _img(5, depth_file="/abs/depth.png"),
    ]
    anns = [
        _ann(10, 1),
        _ann(10, 1),  # duplicate annotation id
        _ann(11, 1, bbox=[0, 0, 0, 5]),
        _ann(12, 1, bbox=[35, 0, 20, 5]),
        _ann(13, 1, category_id=99),
        _ann(14, 99),  # unknown image
        _ann(15, 2),  # image rejected -> annotation rejected with it
        _ann(16, 1, segmentation=5),
        _ann(17, 1, category_id=[1]),  # unhashable: a reject, not a crash
    ]
    inp = read_coco3d(_write(tmp_path, images, anns), tmp_path)
    r = _reasons(inp)
    assert r["path_escapes_root"] == [(2, None), (5, None)]
    assert r["bad_intrinsics"] == [(3, None)]
    assert r["duplicate_image_id"] == [(1, None)]
    assert r["bad_image_entry"] == [(4, None)]
    assert r["duplicate_annotation_id"] == [(1, 10)]
    assert sorted(r["bad_bbox"]) == [(1, 11), (1, 12)]
    assert r["unknown_category"] == [(1, 13), (1, 17)]
    assert r["unknown_image"] == [(99, 14)]
    assert r["image_rejected"] == [(2, 15)]
    assert r["bad_segmentation"] == [(1, 16)]
    ok = [r for r in inp.records if not r.get("failed")]
    assert [x["image_id"] for x in ok] == [1]
    assert [a["annotation_id"] for a in ok[0]["annotations"]] == [10]


def _png(path, w, h, mode="RGB"):
    Image.new(mode, (w, h)).save(path)


def test_decode_rejects(tmp_path):
    _png(tmp_path / "im1.png", 40, 30)
    _png(tmp_path / "im3.png", 41, 30)
    (tmp_path / "im4.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _png(tmp_path / "im5.png", 40, 30)
    _png(tmp_path / "im6.png", 40, 30)
    Image.fromarray(np.zeros((30, 40), np.uint16)).save(tmp_path / "d6.png")
    _png(tmp_path / "im7.png", 40, 30)
    images = [_img(1), _img(2), _img(3), _img(4), _img(5), _img(6, depth_file="d6.png"),
              _img(7, depth_file="missing.png")]
    anns = [_ann(20, 1, segmentation=[[1, 2, 3]]), _ann(21, 1, segmentation={"size": [30, 40], "counts": "!!bad"}),
            _ann(22, 1, segmentation={"size": [10, 10], "counts": [100]}), _ann(23, 1)]
    inp = read_coco3d(_write(tmp_path, images, anns), tmp_path)
    recs = DecodeStage(need_dataset_depth=True).process(inp.records)
    reasons = {}
    for rec in recs:
        for x in rec["rejects"]:
            reasons.setdefault(x["reason"], []).append((x["image_id"], x["annotation_id"]))
    assert (2, None) in reasons["image_missing"]
    assert (3, None) in reasons["image_size_mismatch"]
    assert (4, None) in reasons["image_unreadable"]
    assert (5, None) in reasons["depth_missing"]  # no depth_file
    assert (6, None) in reasons["depth_empty"]
    assert (7, None) in reasons["depth_missing"]
    # image 1 has no depth file either: rejected at image level; its valid annotation goes with it
    assert (1, 23) in reasons["image_rejected"]
    recs2 = DecodeStage(need_dataset_depth=False).process(
        read_coco3d(_write(tmp_path, [_img(1)], anns), tmp_path).records
    )
    bad = sorted(x["annotation_id"] for x in recs2[0]["rejects"] if x["reason"] == "bad_segmentation")
    assert bad == [20, 21, 22]
    assert [a["annotation_id"] for a in recs2[0]["annotations"]] == [23]
