"""lift3d.evaluate: per-object errors, AP3D (Omni3D protocol) against hand computations, file formats."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lift3d.evaluate import (_ap_101, ap3d, evaluate, evaluate_predictions, format_report, image_cluster_se, load_gt,
                             object_errors,
                             oracle_range_iou, oracle_scale_iou)
from lift3d.geometry.boxes import Box3D


def _obj(aid, cat, center, dims, yaw, down=None, **kw):
    b = Box3D.from_yaw(center, dims, yaw, None if down is None else np.asarray(down))
    return {"annotation_id": aid, "category": cat, **b.to_row(), "yaw": yaw, **kw}


def test_object_errors_symmetries():
    g = _obj(1, "chair", [0, 0.5, 4], [0.5, 0.9, 1.2], 0.3)
    g_np = load_gt_like(g)
    same_swapped = _obj(1, "chair", [0, 0.5, 4], [1.2, 0.9, 0.5], 0.3 + np.pi / 2)
    e = object_errors(same_swapped, g_np)
    assert e["iou"] == pytest.approx(1.0, abs=1e-9)
    assert e["yaw_err_deg"] == pytest.approx(0.0, abs=1e-6) and e["size_err"] == pytest.approx(0.0, abs=1e-9)
    half_turn = _obj(1, "chair", [0, 0.5, 4], [0.5, 0.9, 1.2], 0.3 + np.pi)
    assert object_errors(half_turn, g_np)["yaw_err_deg"] == pytest.approx(0.0, abs=1e-6)
    off = _obj(1, "chair", [0.3, 0.5, 4.4], [0.5, 0.9, 1.2], 0.3 + np.radians(10))
    e = object_errors(off, g_np)
    assert e["yaw_err_deg"] == pytest.approx(10.0, abs=1e-6)
    assert e["center_err"] == pytest.approx(0.5, abs=1e-9) and e["depth_err"] == pytest.approx(0.4, abs=1e-9)


def load_gt_like(o):
    return {"annotation_id": o["annotation_id"], "category": o["category"],
            "center_cam": np.asarray(o["center_cam"]), "dimensions": np.asarray(o["dimensions"]),
            "R_cam": np.asarray(o["R_cam"]).reshape(3, 3)}


def test_ap_101_hand_computed():
    # TP, FP, TP with 2 GT: precision 1 up to recall 0.5, then 2/3 up to recall 1
    assert _ap_101(np.array([1.0, 0.0, 1.0]), 2) == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert _ap_101(np.array([1.0, 1.0]), 2) == pytest.approx(1.0)
    assert _ap_101(np.array([0.0, 1.0]), 2) == pytest.approx((51 * 0.5) / 101)
    assert _ap_101(np.array([]), 3) == 0.0


def test_ap3d_ranking_and_buckets():
    g1 = _obj(1, "chair", [0, 0.5, 4], [0.5, 0.9, 0.6], 0.0)
    g2 = _obj(2, "chair", [2, 0.5, 6], [0.5, 0.9, 0.6], 0.0)
    g3 = _obj(3, "car", [1, 0.5, 20], [1.8, 1.5, 4.5], 0.0)  # medium bucket
    gt = {1: [load_gt_like(g) for g in (g1, g2, g3)]}
    fp = _obj(9, "chair", [-3, 0.5, 5], [0.5, 0.9, 0.6], 0.0, quality=0.8)
    preds = {1: [dict(g1, quality=0.9), fp, dict(g2, quality=0.7), dict(g3, quality=0.5)]}
    r = ap3d(preds, gt)
    assert r["all"]["per_category"]["chair"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert r["all"]["per_category"]["car"] == pytest.approx(1.0)
    assert r["near"]["per_category"] == {"chair": pytest.approx((51 + 50 * 2 / 3) / 101)}
    assert r["medium"]["per_category"] == {"car": pytest.approx(1.0)}
    assert np.isnan(r["far"]["mAP"])
    # an IoU between thresholds: a pred shifted so IoU ~ 0.3 counts at 0.05..0.30 only
    shifted = _obj(3, "car", [1, 0.5, 22.25], [1.8, 1.5, 4.5], 0.0, quality=1.0)  # half overlap: IoU 1/3
    iou = object_errors(shifted, gt[1][2])["iou"]
    assert iou == pytest.approx(1 / 3)
    r2 = ap3d({1: [shifted]}, {1: [gt[1][2]]})
    n_hit = 6  # thresholds 0.05 .. 0.30
    assert r2["all"]["mAP"] == pytest.approx(n_hit / 10)


def _write_preds(tmp_path, preds):
    d = tmp_path / "out" / "objects"
    d.mkdir(parents=True)
    rows = [{"image_id": k, "objects": v} for k, v in preds.items()]
    pq.write_table(pa.Table.from_pylist(rows), d / "train-00000-of-00001.parquet")
    return tmp_path / "out"


def test_evaluate_reads_parquet_and_both_gt_formats(tmp_path):
    down = [0.0, 0.98, 0.2]
    g1 = _obj(11, "chair", [0, 0.5, 4], [0.5, 0.9, 0.6], 0.2, down=down)
    g2 = _obj(12, "table", [1, 0.6, 5], [0.8, 0.75, 1.4], -0.4, down=down)
    g3 = _obj(13, "lamp", [1, 0.6, 3], [0.3, 0.5, 0.3], 0.0, down=down)  # never lifted
    synth = {"images": [{"image_id": 5, "K": [500, 0, 320, 0, 500, 240, 0, 0, 1], "gravity": down,
                         "objects": [dict(g, bbox2d=[0, 0, 1, 1], visible_fraction=1.0, truncated=False,
                                          on_floor=True) for g in (g1, g2, g3)]}]}
    (tmp_path / "gt_boxes.json").write_text(json.dumps(synth))
    p2 = _obj(12, "table", [1.1, 0.6, 5], [0.8, 0.75, 1.4], -0.4, down=down)
    preds = {5: [dict(g1, quality=0.9, flags=["on_floor"], bbox2d=[0, 0, 1, 1]),
                 dict(p2, quality=0.8, flags=[], bbox2d=[0, 0, 1, 1])]}
    out = _write_preds(tmp_path, preds)
    r = evaluate(out, tmp_path / "gt_boxes.json")
    ov = r["overall"]
    iou2 = object_errors(preds[5][1], load_gt(tmp_path / "gt_boxes.json")[5][1])["iou"]
    assert 0.5 < iou2 < 1.0
    assert ov["n_gt"] == 3 and ov["n_lifted"] == 2
    assert ov["mean_iou_lifted"] == pytest.approx((1.0 + iou2) / 2)
    assert ov["mean_iou_all"] == pytest.approx((1.0 + iou2) / 3)
    assert r["per_category"]["lamp"]["n_lifted"] == 0 and r["per_category"]["lamp"]["AP3D"] == 0.0
    assert r["per_category"]["chair"]["AP3D"] == pytest.approx(1.0)
    rep = format_report(r)
    assert "AP3D" in rep and "chair" in rep and "lamp" in rep

    omni = {"images": [{"id": 5, "width": 640, "height": 480, "K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]]}],
            "categories": [{"id": 1, "name": "chair"}, {"id": 2, "name": "table"}, {"id": 3, "name": "lamp"}],
            "annotations": [
                {"id": 11, "image_id": 5, "category_id": 1, "category_name": "chair", "valid3D": True,
                 "center_cam": g1["center_cam"], "dimensions": g1["dimensions"],
                 "R_cam": np.asarray(g1["R_cam"]).reshape(3, 3).tolist()},
                {"id": 12, "image_id": 5, "category_id": 2, "valid3D": True,
                 "center_cam": g2["center_cam"], "dimensions": g2["dimensions"],
                 "R_cam": np.asarray(g2["R_cam"]).reshape(3, 3).tolist()},
                {"id": 13, "image_id": 5, "category_id": 3, "category_name": "lamp", "valid3D": False,
                 "center_cam": [-1, -1, -1], "dimensions": [-1, -1, -1], "R_cam": np.eye(3).tolist()},
            ]}
    (tmp_path / "omni.json").write_text(json.dumps(omni))
    r2 = evaluate(out, tmp_path / "omni.json")
    assert r2["overall"]["n_gt"] == 2 and r2["overall"]["mean_iou_all"] == pytest.approx((1.0 + iou2) / 2)
    assert r2["per_category"]["table"]["n_lifted"] == 1


def test_unmatched_predictions_are_counted():
    g = _obj(1, "chair", [0, 0.5, 4], [0.5, 0.9, 0.6], 0.0)
    r = evaluate_predictions({1: [dict(g, annotation_id=99, quality=1.0)]}, {1: [load_gt_like(g)]})
    assert r["n_pred_unmatched"] == 1 and r["overall"]["n_lifted"] == 0
    assert r["AP3D"]["all"] == pytest.approx(1.0)  # AP matches by IoU, not by id


def test_oracle_scale_iou_undoes_one_factor_per_image():
    # image 1: both boxes 20 % too near and small (one per-image factor): the oracle makes them exact; image 2: two
    # boxes exact, one 1 m off sideways: the median ratio is 1, the offset stays; one GT object never lifted
    g1, g2 = _obj(1, "chair", [0.5, 0.5, 4], [0.5, 0.9, 0.6], 0.2), _obj(2, "table", [-1, 0.6, 6], [0.8, 0.75, 1.4], -0.4)
    g3, g4 = _obj(3, "car", [0, 0.8, 12], [1.8, 1.5, 4.4], 0.1), _obj(4, "car", [3, 0.8, 12], [1.8, 1.5, 4.4], 0.1)
    g5 = _obj(5, "lamp", [1, 0.6, 3], [0.3, 0.5, 0.3], 0.0)
    g6 = _obj(6, "person", [-2, 0.9, 9], [0.5, 1.7, 0.3], 0.0)
    gt = {1: [load_gt_like(g) for g in (g1, g2, g5)], 2: [load_gt_like(g) for g in (g3, g4, g6)]}

    def scaled(o, k):
        return dict(o, center_cam=(np.asarray(o["center_cam"]) * k).tolist(),
                    dimensions=(np.asarray(o["dimensions"]) * k).tolist())

    off = dict(g4, center_cam=[4, 0.8, 12])
    preds = {1: [scaled(g1, 0.8), scaled(g2, 0.8)], 2: [g3, off, g6]}
    plain = evaluate_predictions(preds, gt)["overall"]["mean_iou_all"]
    iou_off = object_errors(off, load_gt_like(g4))["iou"]
    assert 0.0 < iou_off < 0.7
    assert plain < 0.6
    assert oracle_scale_iou(preds, gt) == pytest.approx((1.0 + 1.0 + 1.0 + iou_off + 1.0) / 6)
    r = evaluate_predictions(preds, gt)
    assert r["overall"]["iou_oracle_scale"] == pytest.approx(oracle_scale_iou(preds, gt))
    assert "scale from the GT" in format_report(r)
    assert np.isnan(oracle_scale_iou({}, {}))


def test_oracle_range_iou_puts_each_box_at_its_true_distance():
    # a box 15 % too far along its ray becomes exact; one 10 % too far AND 30 % too wide keeps only the width's error;
    # one 1 m off sideways at the right distance is not helped; an unlifted GT object counts 0
    g1, g2 = _obj(1, "chair", [0.5, 0.5, 4], [0.5, 0.9, 0.6], 0.2), _obj(2, "table", [-1, 0.6, 6], [0.8, 0.75, 1.4], -0.4)
    g3, g4 = _obj(3, "car", [0, 0.8, 12], [1.8, 1.5, 4.4], 0.1), _obj(4, "lamp", [1, 0.6, 3], [0.3, 0.5, 0.3], 0.0)
    gt = {1: [load_gt_like(g) for g in (g1, g2)], 2: [load_gt_like(g) for g in (g3, g4)]}
    far = dict(g1, center_cam=(np.asarray(g1["center_cam"]) * 1.15).tolist())
    wide_dims = (np.asarray(g2["dimensions"]) * [1.3, 1.0, 1.0]).tolist()
    wide = dict(g2, center_cam=(np.asarray(g2["center_cam"]) * 1.1).tolist(), dimensions=wide_dims)
    side = dict(g3, center_cam=[1.0, 0.8, float(np.sqrt(12.0 ** 2 - 1.0))])  # 1 m to the side, same distance
    preds = {1: [far, wide], 2: [side]}
    iou_wide = object_errors(dict(g2, dimensions=wide_dims), load_gt_like(g2))["iou"]
    iou_side = object_errors(side, load_gt_like(g3))["iou"]
    assert 0.5 < iou_wide < 0.9 and 0.0 < iou_side < 0.9
    assert oracle_range_iou(preds, gt) == pytest.approx((1.0 + iou_wide + iou_side + 0.0) / 4)
    r = evaluate_predictions(preds, gt)
    assert r["overall"]["mean_iou_all"] < oracle_range_iou(preds, gt)
    assert r["overall"]["iou_oracle_range"] == pytest.approx(oracle_range_iou(preds, gt))
    assert "true distance" in format_report(r)
    assert np.isnan(oracle_range_iou({}, {}))


def test_mean_iou_standard_error_counts_images_not_objects():
    # hand-computed: sums 1.5 / 0 / 2 over 2 / 1 / 2 objects: R = 0.7, residuals 0.1, -0.7, 0.6
    assert image_cluster_se([1.5, 0.0, 2.0], [2, 1, 2]) == pytest.approx(np.sqrt(1.5 * 0.86) / 5)
    assert np.isnan(image_cluster_se([1.0], [2]))  # one image: no spread to measure
    assert image_cluster_se([2.0, 0.0, 3.0], [2, 0, 3]) == 0.0  # an image without objects is no draw; all exact
    # through the evaluation: image 1 both exact, image 2 its one object missing, image 3 one exact and one missing
    objs = [_obj(i, "chair", [0.5 * i, 0.5, 4 + i], [0.5, 0.9, 0.6], 0.1 * i) for i in range(1, 6)]
    gt = {1: [load_gt_like(o) for o in objs[:2]], 2: [load_gt_like(objs[2])], 3: [load_gt_like(o) for o in objs[3:]]}
    r = evaluate_predictions({1: objs[:2], 2: [], 3: [objs[3]]}, gt)
    assert r["overall"]["mean_iou_all"] == pytest.approx(0.6)
    assert r["overall"]["mean_iou_all_se"] == pytest.approx(np.sqrt(1.5 * (0.8 ** 2 + 0.6 ** 2 + 0.2 ** 2)) / 5)
    assert r["image_iou"] == [pytest.approx([2.0, 2]), [0.0, 1], pytest.approx([1.0, 2])]  # the se's inputs
    assert "se over images" in format_report(r)
