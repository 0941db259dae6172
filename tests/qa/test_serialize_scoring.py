import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lift3d.geometry.camera import K_from_fov
from lift3d.qa.scoring import (match_boxes, pick_choice, score_boxes, score_numeric, score_order, score_row,
                               score_yes_no, strip_think)
from lift3d.qa.serialize import box_record, format_boxes, n3d_uv, parse_boxes

K = K_from_fov(640, 480, 60)


def test_n3d_uv_normalised_image_coordinates():
    # the principal point ((W-1)/2, (H-1)/2) maps to (0.5, 0.5); pixel (0, 0) to (0.5/W, 0.5/H)
    assert np.allclose(n3d_uv([0, 0, 3.0], K, 640, 480), (0.5, 0.5))
    f = K[0, 0]
    x = (0 - K[0, 2]) * 2.0 / f
    y = (0 - K[1, 2]) * 2.0 / f
    assert np.allclose(n3d_uv([x, y, 2.0], K, 640, 480), (0.5 / 640, 0.5 / 480))


def test_formats_exact_text():
    r = box_record("chair", [0.1, -0.2, 2.5], [0.45, 0.9, 0.5], 0.25)
    assert format_boxes("cam", [r]) == "chair: [0.10, -0.20, 2.50, 0.45, 0.90, 0.50, 0.25]"
    assert json.loads(format_boxes("qwen", [r])) == [
        {"bbox_3d": [0.1, -0.2, 2.5, 0.45, 0.9, 0.5, 0.0, 0.0, 0.25], "label": "chair"}]
    assert format_boxes("n3d", [r], K, 640, 480).startswith("bbox_0=Bbox(chair,")


boxes = st.lists(st.tuples(st.floats(-3, 3), st.floats(-2, 2), st.floats(0.5, 20), st.floats(0.05, 4),
                           st.floats(0.05, 4), st.floats(0.05, 4), st.floats(-3.1, 3.1),
                           st.sampled_from(["chair", "potted plant", "tv"])), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(boxes, st.sampled_from(["n3d", "cam", "qwen"]))
def test_round_trip(bs, fmt):
    recs = [box_record(c, (x, y, z), (w, h, l), yaw) for x, y, z, w, h, l, yaw, c in bs]
    text = "Here you go: " + format_boxes(fmt, recs, K, 640, 480) + " done"
    parsed = parse_boxes(text, None, K, 640, 480)
    assert len(parsed) == len(recs)
    for p, r in zip(parsed, recs):
        assert p["category"] == r["category"]
        z = r["center_cam"][2]
        tol = 0.006 + 0.002 * z + 0.006 * max(abs(r["center_cam"][0]), abs(r["center_cam"][1])) / z
        assert np.allclose(p["center_cam"], r["center_cam"], atol=tol)
        assert np.allclose(p["dimensions"], r["dimensions"], atol=0.006)
        assert abs(p["yaw"] - r["yaw"]) < 0.006


def test_numeric_25_percent_rule_and_units():
    assert score_numeric("It is 1.25 m away.", "1.00", "m")
    assert not score_numeric("It is 1.26 m away.", "1.00", "m")
    assert score_numeric("about 76 cm", "1.00", "m")
    assert not score_numeric("about 74 cm", "1.00", "m")
    assert score_numeric("<think>d = 9 m</think>0.5", "0.50", "m")
    assert score_numeric("3 o'clock", "3", "o'clock") and not score_numeric("4 o'clock", "3", "o'clock")
    assert score_numeric("There are 2 chairs.", "2", "count") and not score_numeric("none", "2", "count")


def test_yes_no_choice_order():
    assert score_yes_no("Yes, it is.", "yes") and not score_yes_no("No.", "yes")
    assert not score_yes_no("Maybe yes", "yes")
    ch = ["the chair", "the chair closest to the camera"]
    assert pick_choice("The chair closest to the camera is bigger.", ch) == "the chair closest to the camera"
    assert pick_choice("the chair", ch) == "the chair"
    assert pick_choice("either the lamp or the sofa", ["the lamp", "the sofa"]) is None
    assert score_order("Nearest first: the lamp, the chair, the tv.", json.dumps(["the lamp", "the chair", "the tv"]))
    assert not score_order("the chair, the lamp, the tv", json.dumps(["the lamp", "the chair", "the tv"]))
    assert strip_think("<think>a</think>b") == "b"


def test_box_scoring_iou():
    ref = [box_record("chair", [0, 0, 3], [1, 1, 1], 0.0), box_record("lamp", [1, 0, 4], [0.5, 1, 0.5], 0.3)]
    same = match_boxes(ref, ref)
    assert same["f1"] == 1.0 and math.isclose(same["mean_iou"], 1.0)
    # a 1 m cube shifted by 0.5 m along x: IoU = 0.5 / 1.5 = 1/3
    shifted = [box_record("chair", [0.5, 0, 3], [1, 1, 1], 0.0)]
    m = match_boxes(shifted, ref[:1])
    assert math.isclose(m["mean_iou"], 1 / 3, rel_tol=1e-6) and m["tp"] == 1
    assert match_boxes(shifted, ref[:1], iou_threshold=0.5)["tp"] == 0
    wrong_cat = [box_record("sofa", [0, 0, 3], [1, 1, 1], 0.0)]
    assert match_boxes(wrong_cat, ref[:1])["tp"] == 0
    img = {"K": K.reshape(9).tolist(), "width": 640, "height": 480, "gravity": None}
    s = score_boxes(format_boxes("n3d", ref, K, 640, 480), json.dumps(ref), img)
    assert s["f1"] == 1.0 and s["mean_iou"] > 0.95
    row = {"answer_form": "boxes", "answer_value": json.dumps(ref)}
    assert score_row(row, format_boxes("cam", ref), img)["correct"]
    assert not score_row(row, format_boxes("cam", ref[:1]), img)["correct"]
