"""Guards that know the image's metric-scale uncertainty (model depth): metric and box answers only where the
scale keeps them true; orderings are asked as before (a global scale leaves them unchanged)."""

import math

import pytest
from qa_helpers import make_image, make_obj

from lift3d.qa import QAConfig, generate_qa
from lift3d.qa.scene import homothety_iou, scale_box_p

METRIC = ("1p_width", "1p_height", "2p_distance", "2p_vertical_distance", "2p_horizontal_distance",
          "1p_distance_camera")
ORDER = ("2p_left_yn", "2p_closer_camera_yn", "2p_front_choice")
BOXES = ("ground_single", "det_all")
R0 = [1, 0, 0, 0, 1, 0, 0, 0, 1]


def _scene(sigma=None):
    img = make_image(1, [0.0, 1.0, 0.0])
    if sigma is not None:
        img["depth_scale_log_sigma"] = sigma
    objs = [make_obj(10, "chair", [-1.0, 0.5, 2.0], [0.45, 0.9, 0.5], down=[0, 1, 0], quality=1.0, flags=["on_floor"]),
            make_obj(11, "lamp", [1.0, -0.3, 2.6], [0.5, 1.6, 0.5], down=[0, 1, 0], quality=1.0, flags=["on_floor"])]
    return img, objs


def _types(sigma, types):
    img, objs = _scene(sigma)
    cfg = QAConfig(include_types=types, max_per_image=50, max_per_type_per_image=50)
    rows, stats = generate_qa(img, objs, cfg, 0)
    return {r["question_type"] for r in rows}, stats


def test_homothety_iou():
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 1.0) == pytest.approx(1.0)
    # a unit cube centred on the axis at 3 m scaled by 1.1: x, y overlap 1 x 1, z [2.5, 3.5] vs [2.75, 3.85]
    inter = 1.0 * 1.0 * (3.5 - 2.75)
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 1.1) == pytest.approx(inter / (1 + 1.1 ** 3 - inter))
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 2.0) == 0.0  # [5, 7] misses [2.5, 3.5]


def test_scale_box_p_falls_with_sigma_and_distance():
    near = [scale_box_p([0, 0, 2], [0.5, 0.8, 0.5], R0, s, 0.5) for s in (0.0, 0.02, 0.05, 0.1, 0.3)]
    assert near[0] == 1.0 and all(a > b for a, b in zip(near, near[1:]))
    far = scale_box_p([0, 0, 8], [0.5, 0.8, 0.5], R0, 0.05, 0.5)
    assert far < near[2]
    # the allowed interval: IoU falls to 0.5 at |delta| = delta*, so P = P(|N(0, s)| <= delta*) for a symmetric case
    p = scale_box_p([0, 0, 3], [1, 1, 1], R0, 0.1, 0.5)
    assert 0.0 < p < 1.0


def test_sensor_depth_is_unchanged():
    assert _types(None, METRIC + ORDER + BOXES) == _types(0.0, METRIC + ORDER + BOXES)


def test_uncertain_scale_drops_metric_and_box_answers_only():
    sure, _ = _types(0.02, METRIC + ORDER + BOXES)
    assert set(METRIC) & sure and set(BOXES) & sure and set(ORDER) <= sure
    unsure, stats = _types(0.3, METRIC + ORDER + BOXES)
    assert not (set(METRIC) & unsure) and not (set(BOXES) & unsure)
    assert set(ORDER) <= unsure
    assert stats["skipped"].get("scale_uncertain", 0) > 0


def test_metric_gate_is_the_scoring_tolerance():
    cfg = QAConfig()
    limit = math.log1p(cfg.numeric_tolerance) / cfg.truth_z
    assert METRIC[0] in _types(limit * 0.99, ("1p_width",))[0]
    assert not _types(limit * 1.01, ("1p_width",))[0]
