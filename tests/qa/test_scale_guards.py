"""Guards that know the image's metric-scale uncertainty (model depth): numeric and box answers only where their
modelled probability of being true (numeric within +/-25 %, boxes at 3D IoU >= 0.25) is high enough; orderings are
asked as before (a global scale leaves them unchanged). Known-answer tests for the probability models."""

import math
import random
from statistics import NormalDist

import pytest
from qa_helpers import make_image, make_obj

from lift3d.qa import QAConfig, generate_qa
from lift3d.qa.scene import Scene, _ndtri, box_true_p, homothety_iou, numeric_p

METRIC = ("1p_width", "1p_height", "2p_distance", "2p_vertical_distance", "2p_horizontal_distance",
          "1p_distance_camera")
ORDER = ("2p_left_yn", "2p_closer_camera_yn", "2p_front_choice")
BOXES = ("ground_single", "det_all")
R0 = [1, 0, 0, 0, 1, 0, 0, 0, 1]
N = NormalDist()


def _scene(sigma=None, source=None):
    img = make_image(1, [0.0, 1.0, 0.0])
    if sigma is not None:
        img["depth_scale_log_sigma"] = sigma
    if source is not None:
        img["depth_source"] = source
    objs = [make_obj(10, "chair", [-1.0, 0.5, 2.0], [0.45, 0.9, 0.5], down=[0, 1, 0], quality=1.0, flags=["on_floor"]),
            make_obj(11, "lamp", [1.0, -0.3, 2.6], [0.5, 1.6, 0.5], down=[0, 1, 0], quality=1.0, flags=["on_floor"])]
    return img, objs


def _types(sigma, types, source=None, **kw):
    img, objs = _scene(sigma, source)
    cfg = QAConfig(include_types=types, max_per_image=50, max_per_type_per_image=50, **kw)
    rows, stats = generate_qa(img, objs, cfg, 0)
    return {r["question_type"] for r in rows}, stats


def test_homothety_iou():
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 1.0) == pytest.approx(1.0)
    # a unit cube centred on the axis at 3 m scaled by 1.1: x, y overlap 1 x 1, z [2.5, 3.5] vs [2.75, 3.85]
    inter = 1.0 * 1.0 * (3.5 - 2.75)
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 1.1) == pytest.approx(inter / (1 + 1.1 ** 3 - inter))
    assert homothety_iou([0, 0, 3], [1, 1, 1], R0, 2.0) == 0.0  # [5, 7] misses [2.5, 3.5]


def test_numeric_p_known_answers():
    # ln(answer / truth) ~ N(0, sd^2) is within +/-25 % of the truth when it lies in [ln 0.75, ln 1.25]
    for sd in (0.02, 0.1, 0.2, 0.5):
        want = N.cdf(math.log(1.25) / sd) - N.cdf(math.log(0.75) / sd)
        assert numeric_p(sd, 0.25) == pytest.approx(want, abs=1e-12)
    assert numeric_p(0.1, 0.25) == pytest.approx(0.98516, abs=1e-5)
    assert numeric_p(0.0, 0.25) == 1.0
    assert numeric_p(0.12, 0.25) > 0.95 > numeric_p(0.13, 0.25)  # the sd a 95 % answer allows: ~0.125


def test_ndtri_inverts_the_normal_cdf():
    for p in (1e-9, 0.001, 0.02, 0.3, 0.5, 0.8, 0.975, 0.999, 1 - 1e-9):
        assert _ndtri(p) == pytest.approx(N.inv_cdf(p), abs=1e-7)


def _box_true_p_brute(c, d, p_lift, sigma, spread, n=4001):
    """The same expectation by a fine midpoint rule over delta in +/-8 sigma."""
    m = spread * N.inv_cdf(p_lift)
    tot = 0.0
    h = 16.0 / n
    for k in range(n):
        x = -8.0 + (k + 0.5) * h
        io = homothety_iou(c, d, R0, math.exp(sigma * x))
        if io > 0:
            tot += N.pdf(x) * h * N.cdf((m + math.log(io)) / spread)
    return tot


def test_box_true_p_known_answers():
    c, d = [0.3, 0.2, 3.0], [1.0, 0.8, 1.2]
    assert box_true_p(c, d, R0, 0.9, 0.0) == 0.9  # exact scale: the lifter's own probability
    assert box_true_p(c, d, R0, 0.0, 0.1) == 0.0
    for sigma in (0.02, 0.05, 0.1):
        got = box_true_p(c, d, R0, 0.9, sigma, 0.25, 0.6)
        assert got == pytest.approx(_box_true_p_brute(c, d, 0.9, sigma, 0.6), abs=6e-3)  # 13 nodes over a kinked IoU
    ps = [box_true_p(c, d, R0, 0.9, s) for s in (0.0, 0.03, 0.06, 0.12, 0.25)]
    assert all(a > b for a, b in zip(ps, ps[1:]))  # falls with the scale's sd
    # the same box farther away: the scale moves it by more of its own depth
    assert box_true_p([0.3, 0.2, 8.0], d, R0, 0.9, 0.06) < ps[2]


def test_variance_terms():
    img, objs = _scene(0.1)
    cfg = QAConfig(range_log_sigma=0.1, edge_ramp_px=8.0, edge_gain=1.0, size_log_sigma=0.05)
    S = Scene(img, objs, cfg, random.Random(0))
    # the range term: log distance from the geometric mean of the objects' distances
    la, lb = math.log(S.dist[0]), math.log(S.dist[1])
    assert S.range_var[0] == pytest.approx((0.1 * (la - lb) / 2) ** 2)
    assert S.range_var[1] == pytest.approx(S.range_var[0])
    # the image's depth-scale sd (0.1) already holds the focal length's error (the lifter's scale.shared_std): every
    # numeric or box answer takes it once
    assert S.img_var == pytest.approx(0.1 ** 2)
    v = S.dist[0]
    assert S.metric1_var(0, "d", v) == pytest.approx(0.1 ** 2 + S.range_var[0] + (S.pos_sig[0] / v) ** 2)
    h = S.h[0]
    own = (0.05 * S.mult[0]) ** 2
    assert S.metric1_var(0, "h", h) == pytest.approx(0.1 ** 2 + S.range_var[0] + own)
    # a horizontal extent adds the ramp in metres at its depth against it (the chair at 2 m)
    w, l = S.w[0], S.l[0]
    edge_w, edge_l = 8.0 * 2.0 / (S.K[0] * w), 8.0 * 2.0 / (S.K[0] * l)
    assert S.metric1_var(0, "w", w) == pytest.approx(0.1 ** 2 + S.range_var[0] + own + edge_w ** 2)
    assert S.metric1_var(0, "l", l) == pytest.approx(0.1 ** 2 + S.range_var[0] + own + edge_l ** 2)
    # between two objects: the larger range term and both position sigmas over the measured length
    dx, dy, dz = 2.0, 0.0, 0.6
    want2 = 0.1 ** 2 + S.range_var[0] + (S.ps2[0] + S.ps2[1]) / (dx * dx + dz * dz)
    assert S.metric2_var(0, 1, (dx, dy, dz)) == pytest.approx(want2)
    assert S.metric2_var(0, 1, (0.0, 0.8, 0.0)) == pytest.approx(0.1 ** 2 + S.range_var[0] + (S.ps2[0] + S.ps2[1]) / 0.64)
    # an image that states its ramp width uses it
    assert Scene({**img, "edge_ramp_px": 2.0}, objs, cfg, random.Random(0)).edge_ramp == 2.0
    # sensor depth: no image term
    img0, _ = _scene(None)
    assert Scene(img0, objs, cfg, random.Random(0)).img_var == 0.0


def test_lengths_across_the_view_take_the_lateral_scale_sd():
    """The scale cues read lengths across the line of sight, so a focal length's error stretches only what lies along
    it: a height (gravity across the view of a level camera) takes the lateral scale's sd, a distance to the camera
    the depth scale's in proportion to its squared share along the optical axis, a width or length the share of the
    box's side most along the view (which side is the shorter depends on both)."""
    img, objs = _scene(0.12)
    img["lateral_scale_log_sigma"] = 0.04
    cfg = QAConfig(range_log_sigma=0.1, edge_ramp_px=8.0, edge_gain=1.0, size_log_sigma=0.05)
    S = Scene(img, objs, cfg, random.Random(0))
    own, rv = (0.05 * S.mult[0]) ** 2, S.range_var[0]
    assert S.metric1_var(0, "h", S.h[0]) == pytest.approx(0.04 ** 2 + rv + own)
    along = 2.0 ** 2 / (1.0 + 0.25 + 4.0)  # the chair's centre (-1, 0.5, 2)
    v = S.dist[0]
    assert S.metric1_var(0, "d", v) == pytest.approx((0.04 + along * 0.08) ** 2 + rv + (S.pos_sig[0] / v) ** 2)
    # the chair's 0.45 m side runs along the camera's x (across), its 0.5 m side along z (the view): which is the
    # width depends on both, so both take the share of the one along the view
    w, l = S.w[0], S.l[0]
    edge_w, edge_l = 8.0 * 2.0 / (S.K[0] * w), 8.0 * 2.0 / (S.K[0] * l)
    assert S.metric1_var(0, "w", w) == pytest.approx(0.12 ** 2 + rv + own + edge_w ** 2)
    assert S.metric1_var(0, "l", l) == pytest.approx(0.12 ** 2 + rv + own + edge_l ** 2)
    # a box turned 45 degrees: each side half along the view
    c45 = math.sqrt(0.5)
    turned = [dict(o, R_cam=[c45, 0, c45, 0, 1, 0, -c45, 0, c45]) for o in objs]
    S45 = Scene(img, turned, cfg, random.Random(0))
    assert S45.metric1_var(0, "w", w) == pytest.approx((0.04 + 0.5 * 0.08) ** 2 + S45.range_var[0] + own
                                                        + (8.0 * 2.0 / (S45.K[0] * w)) ** 2)
    # between two objects: by the separation's share along the view
    ps = S.ps2[0] + S.ps2[1]
    assert S.metric2_var(0, 1, (0.0, 0.8, 0.0)) == pytest.approx(0.04 ** 2 + rv + ps / 0.64)
    a2 = 0.36 / 4.36
    assert S.metric2_var(0, 1, (2.0, 0.0, 0.6)) == pytest.approx((0.04 + a2 * 0.08) ** 2 + rv + ps / 4.36)
    # a lateral sd above the depth scale's is capped at it; none given: the depth scale's (as before)
    assert Scene({**img, "lateral_scale_log_sigma": 0.5}, objs, cfg, random.Random(0)).lat_sigma == 0.12
    assert Scene({**img, "lateral_scale_log_sigma": None}, objs, cfg, random.Random(0)).lat_sigma == 0.12
    # so at a depth scale too uncertain for a distance, the height is still asked where the sizes are sure
    kw = dict(include_types=("1p_height", "1p_distance_camera"), max_per_image=50, max_per_type_per_image=50)
    img3, objs3 = _scene(0.3)
    assert not generate_qa(img3, objs3, QAConfig(**kw), 0)[0]
    types = {r["question_type"] for r in generate_qa({**img3, "lateral_scale_log_sigma": 0.03}, objs3, QAConfig(**kw),
                                                      0)[0]}
    assert types == {"1p_height"}


def test_range_bend_of_lateral_comparisons():
    img, objs = _scene(0.1)
    cfg = QAConfig(range_log_sigma=0.1)
    S = Scene(img, objs, cfg, random.Random(0))
    want = (0.1 * abs(math.log(S.dist[0] / S.dist[1])) * min(abs(S.x[0]), abs(S.x[1]))) ** 2
    assert S.bend_var("x", 0, 1) == pytest.approx(want)
    assert S.bend_var("z", 0, 1) == 0.0 and S.bend_var("d", 0, 1) == 0.0  # depth order survives the bend
    img0, _ = _scene(None)
    assert Scene(img0, objs, cfg, random.Random(0)).bend_var("x", 0, 1) == 0.0  # sensor depth: no bend


def test_anchor_comparisons_allow_for_the_focal_length_stretching_depth():
    """A focal length off by exp(e) stretches depth differences against lateral ones: from the anchor, A lies 1.50 m
    to the side and B 1.45 m further along the view, so a stretch of 2 sds (the image's scale sd, 0.1) makes B the
    farther.  The margin says so under model depth; it is pos_margin where only lateral offsets differ and under
    sensor depth."""
    img = make_image(1, [0.0, 1.0, 0.0])
    objs = [make_obj(10, "chair", [0.0, 0.5, 4.0], [0.45, 0.9, 0.5], down=[0, 1, 0], quality=1.0),
            make_obj(11, "box", [1.5, 0.5, 4.0], [0.4, 0.4, 0.4], down=[0, 1, 0], quality=1.0),
            make_obj(12, "lamp", [0.0, 0.5, 5.45], [0.4, 1.5, 0.4], down=[0, 1, 0], quality=1.0),
            make_obj(13, "cup", [-1.2, 0.5, 4.0], [0.1, 0.1, 0.1], down=[0, 1, 0], quality=1.0)]
    cfg = QAConfig()
    img["depth_scale_log_sigma"] = 0.1
    S = Scene(img, objs, cfg, random.Random(0))
    stretched = math.exp(2 * 0.1) * 1.45
    assert stretched > 1.5  # the order of the two distances flips under the stretch
    want = math.hypot(S.pos_margin(0, 1, 2), cfg.margin_k * 0.1 * abs(0.0 - 1.45))
    assert S.anchor_margin(0, 1, 2) == pytest.approx(want, rel=1e-9)
    assert S.anchor_margin(0, 1, 2) > abs(1.5 - 1.45)  # so the comparison is not asked
    assert S.anchor_margin(0, 1, 3) == S.pos_margin(0, 1, 3)  # lateral offsets alone: no stretch
    sensor = Scene(make_image(1, [0.0, 1.0, 0.0]), objs, cfg, random.Random(0))
    assert sensor.anchor_margin(0, 1, 2) == sensor.pos_margin(0, 1, 2)


def test_sensor_depth_is_unchanged():
    assert _types(None, METRIC + ORDER + BOXES) == _types(0.0, METRIC + ORDER + BOXES)


def test_sensor_depth_with_a_fused_scale_keeps_its_own_guards():
    # sensor depth files (depth_source "dataset") fused at --sensor-scale-sd carry a scale sd; their guards were
    # calibrated on sensor-like depth, a few per cent of scale error included, and stay as they are
    img, objs = _scene(0.3, "dataset")
    assert Scene(img, objs, QAConfig(), random.Random(0)).scale_sigma == 0.0
    assert _types(0.3, METRIC + ORDER + BOXES, "dataset") == _types(None, METRIC + ORDER + BOXES)
    # model depth ("dataset-model", a model id) is guarded by it
    assert not set(METRIC) & _types(0.3, METRIC + ORDER + BOXES, "dataset-model")[0]


def test_uncertain_scale_drops_metric_and_box_answers_only():
    sure, _ = _types(0.01, METRIC + ORDER + BOXES)
    assert set(METRIC) & sure and set(BOXES) & sure and set(ORDER) <= sure
    unsure, stats = _types(0.3, METRIC + ORDER + BOXES)
    assert not (set(METRIC) & unsure) and not (set(BOXES) & unsure)
    assert set(ORDER) <= unsure
    assert stats["skipped"].get("scale_uncertain", 0) > 0


def test_metric_gate_is_the_modelled_probability():
    # distance to the camera: asked iff numeric_p(sqrt(img_var + range + own)) >= numeric_min_p
    img, objs = _scene(0.05)
    kw = dict(range_log_sigma=0.0)
    S = Scene(img, objs, QAConfig(**kw), random.Random(0))
    own = max((S.pos_sig[i] / S.dist[i]) ** 2 for i in range(2))
    # the image sd at which the worse object's answer is exactly at numeric_min_p = 0.95
    lo, hi = 0.0, 0.3
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if numeric_p(math.sqrt(mid ** 2 + own), 0.25) >= 0.95 else (lo, mid)
    assert "1p_distance_camera" in _types(lo * 0.97, ("1p_distance_camera",), **kw)[0]
    best = min((S.pos_sig[i] / S.dist[i]) ** 2 for i in range(2))
    lo2, hi2 = 0.0, 0.3
    for _ in range(60):
        mid = 0.5 * (lo2 + hi2)
        lo2, hi2 = (mid, hi2) if numeric_p(math.sqrt(mid ** 2 + best), 0.25) >= 0.95 else (lo2, mid)
    assert not _types(lo2 * 1.03, ("1p_distance_camera",), **kw)[0]


def test_a_blended_object_is_asked_about_by_neither_its_distance_nor_its_box():
    """An object whose mask is thinner than the depth map's edge ramps (flag ``blended``, lift3d.lift.soft_edges.blended)
    has a distance somewhere between its own and its surroundings': no distance or depth order answer rests on
    it. The same scene without the flag asks them."""
    img, objs = _scene(0.1)
    depth_types = METRIC + ("2p_closer_camera_yn", "2p_front_choice")
    cfg = QAConfig(include_types=depth_types, max_per_image=200, max_per_type_per_image=50)

    def about_lamp(o):
        rows, _ = generate_qa(img, o, cfg, 0)
        return {r["question_type"] for r in rows if 11 in r["object_ids"]}

    assert {"1p_distance_camera", "2p_closer_camera_yn", "2p_front_choice"} <= about_lamp(objs)
    blended = [objs[0], {**objs[1], "flags": list(objs[1]["flags"]) + ["blended"]}]
    assert about_lamp(blended) == set()
    S = Scene(img, blended, QAConfig(), random.Random(0))
    assert S.box_p[1] < 0.1 < S.box_p[0] and not S.box_ok(1)  # nor a box answer
