"""Per-image depth scale from the category height priors (LiftConfig.scale_from_priors)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.priors import lookup
from lift_scenes import box_on_floor

TABLE_H = 0.75  # = the "table" prior height


def _tables(scene, factor):
    boxes = [box_on_floor(-0.9, 3.4, [0.8, TABLE_H, 1.4], 0.3), box_on_floor(0.9, 3.8, [0.9, TABLE_H, 1.6], -0.4)]
    depth, K, anns, _ = scene(boxes, wall_dist=6.0, W=320, H=240, categories={0: "table", 1: "dining table"})
    return boxes, depth * np.float32(factor), K, anns


def plain_floor(depth, K):
    return lift_image(depth, K, [], [0.0, 1.0, 0.0]).floor_height


def test_prior_table_has_a_height_spread():
    assert lookup("table").h == pytest.approx(TABLE_H)
    assert lookup("table").h_rel_std < 0.1 < lookup("lamp").h_rel_std
    assert lookup("coffee table").h < 0.6  # not the dining-table row


@pytest.mark.parametrize("factor", [0.93, 1.06])
def test_scale_from_priors_undoes_a_global_depth_scale(scene, factor):
    boxes, depth, K, anns = _tables(scene, factor)
    cfg = LiftConfig(scale_from_priors=True)
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0], cfg)
    assert len(res.objects) == 2
    # shrunk towards 1 (two objects against the prior on the scale), but a good part of the way
    lk, lf = np.log(res.depth_scale_factor), np.log(factor)
    assert 0.4 * abs(lf) < abs(lk) <= abs(lf) + 0.01 and np.sign(lk) == np.sign(lf)
    assert abs(res.floor_height - 1.3) < abs(plain_floor(depth, K) - 1.3)
    plain = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    assert plain.depth_scale_factor == 1.0
    assert all("depth_rescaled" not in o["flags"] for o in plain.objects)
    for o, p, gt in zip(res.objects, plain.objects, boxes):
        assert "depth_rescaled" in o["flags"]
        assert abs(o["dimensions"][1] - TABLE_H) < abs(p["dimensions"][1] - TABLE_H)
        assert iou_3d(o, gt) > iou_3d(p, gt)


def test_scale_from_priors_off_by_default_and_neutral_without_priors(scene):
    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=6.0, categories={0: "unknown thing"})
    assert LiftConfig().scale_from_priors is False
    res = lift_image(depth * np.float32(1.05), K, anns, [0.0, 1.0, 0.0], LiftConfig(scale_from_priors=True))
    assert res.depth_scale_factor == 1.0 and len(res.objects) == 1
    assert "depth_rescaled" not in res.objects[0]["flags"]


def test_chair_with_thin_legs_reaches_the_floor(scene):
    # a seat block lifted 0.45 m above the floor (legs invisible): the prior pulls the bottom down
    seat = box_on_floor(0.0, 3.0, [0.5, 0.45, 0.5], 0.2, lift=0.45)
    depth, K, anns, _ = scene([seat], wall_dist=6.0, categories={0: "chair"})
    o = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert o["on_floor"] and o["dimensions"][1] == pytest.approx(0.9, abs=0.05)
    # a box on a support is not pulled down to the floor
    o2 = lift_image(depth, K, [dict(anns[0], category="box")], [0.0, 1.0, 0.0]).objects[0]
    assert not o2["on_floor"] and o2["dimensions"][1] == pytest.approx(0.45, abs=0.05)


def test_thin_legs_reach_the_floor_when_cut_by_a_side_border(scene):
    # the same seat cut by the left image border: its height is still fully seen, so the prior still pulls
    # the bottom down
    seat = box_on_floor(-1.95, 3.0, [0.6, 0.45, 0.5], 0.2, lift=0.45)
    depth, K, anns, _ = scene([seat], wall_dist=6.0, categories={0: "chair"})
    assert anns[0]["bbox2d"][0] <= 0.5 and anns[0]["bbox2d"][3] < depth.shape[0] - 2  # cut left, not below
    o = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert "truncated" in o["flags"]
    assert o["on_floor"] and o["dimensions"][1] == pytest.approx(0.9, abs=0.05)


def test_a_table_cut_by_the_bottom_border_is_completed_to_the_floor(scene):
    # close to the camera only the top and a strip of the front face are in the frame; the table goes on below
    table = box_on_floor(0.0, 1.6, [1.2, TABLE_H, 0.6], 0.0)
    depth, K, anns, _ = scene([table], wall_dist=6.0, categories={0: "table"})
    assert anns[0]["bbox2d"][3] >= depth.shape[0] - 1  # cut by the bottom border
    o = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert "truncated" in o["flags"] and o["on_floor"]
    assert o["dimensions"][1] == pytest.approx(TABLE_H, abs=0.05)
    assert iou_3d(o, table) > 0.6


def test_box_only_contact_window_keeps_the_footprint_behind_the_floor_contact():
    # box-only crop of a night stand with a wall 1 m behind it: the window (floor contact at the bottom
    # of the 2D box + the prior's footprint) keeps the night stand and drops the wall behind it
    from lift3d.geometry.boxes import gravity_frame
    from lift3d.geometry.camera import K_from_fov
    from lift3d.lift.crop import ray_parts
    from lift3d.lift.separation import contact_window
    from lift_scenes import bbox_of, raycast

    W, H = 240, 180
    K = K_from_fov(W, H, 70.0)
    gt = box_on_floor(0.0, 3.0, [0.5, 0.6, 0.45], 0.4)
    depth, owner = raycast(K, H, W, [gt], (0.0, 1.0, 0.0), 1.3, 4.2)
    x1, y1, x2, y2 = bbox_of(owner == 0)
    r0, r1, c0, c1 = int(y1 + 0.5) - 8, int(y2 + 0.5), int(x1 + 0.5) - 8, int(x2 + 0.5) + 8
    d = depth[r0:r1, c0:c1].astype(np.float64)
    own = owner[r0:r1, c0:c1]
    ax, bx, by = ray_parts(K, np.arange(r0, r1, dtype=float), np.arange(c0, c1, dtype=float))
    ok = d > 0
    keep = contact_window(ok, [c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5], d, ax, bx, by, K, gravity_frame(None),
                           1.3, lookup("night stand"), H, LiftConfig())
    assert keep[own == 0].mean() > 0.95
    assert not keep[own == -2].any()
    # an object on a support (its bottom edge is not a floor contact): the window would drop most of
    # its points, so nothing is dropped
    lifted = box_on_floor(0.0, 3.0, [0.5, 0.6, 0.45], 0.4, lift=0.7)
    depth2, owner2 = raycast(K, H, W, [lifted], (0.0, 1.0, 0.0), 1.3, 4.2)
    x1, y1, x2, y2 = bbox_of(owner2 == 0)
    r0, r1, c0, c1 = int(y1 + 0.5), int(y2 + 0.5), int(x1 + 0.5), int(x2 + 0.5)
    d2 = depth2[r0:r1, c0:c1].astype(np.float64)
    ax, bx, by = ray_parts(K, np.arange(r0, r1, dtype=float), np.arange(c0, c1, dtype=float))
    ok2 = (d2 > 0) & (owner2[r0:r1, c0:c1] == 0)
    keep2 = contact_window(ok2, [c0 - 0.5, r0 - 0.5, c1 - 0.5, r1 - 0.5], d2, ax, bx, by, K, gravity_frame(None),
                            1.3, lookup("night stand"), H, LiftConfig())
    assert np.array_equal(keep2, ok2)


def test_footprint_trim_drops_background_beyond_the_prior():
    """Box-only: background far outside the category's footprint is trimmed; an object alone is kept."""
    from lift3d.lift.separation import footprint_trim

    rng = np.random.default_rng(0)
    obj = np.column_stack([rng.uniform(-0.15, 0.15, 400), rng.uniform(-1.5, 0.0, 400), 3.0 + rng.uniform(0, 0.3, 400)])
    wall = np.column_stack([rng.uniform(-1.5, 1.5, 150), rng.uniform(-2.0, 0.0, 150), np.full(150, 5.0)])
    q = np.vstack([obj, wall])
    cfg = LiftConfig()
    q2, z2 = footprint_trim(q, q[:, 2].copy(), lookup("lamp"), cfg)
    assert len(q2) == len(z2) and len(q2) <= 400 + 5
    assert np.ptp(q2[:, 2]) < 0.6 and np.ptp(q2[:, 0]) < 0.6
    q3, _ = footprint_trim(obj, obj[:, 2].copy(), lookup("lamp"), cfg)
    assert len(q3) == len(obj)


def test_a_partial_view_cannot_drag_the_scale(scene):
    """A 'table' seen as its top alone (a 3 cm slab off the floor) says nothing about the depth scale: its
    height ratio (~1/25) lies beyond any scale the estimator may return, so it is left out instead of being
    the weighted median of two equally trusted tables (it was: the scale went to the 1/1.5 clip)."""
    factor = 1.06
    real = box_on_floor(-0.9, 3.4, [0.8, TABLE_H, 1.4], 0.3)
    slab = box_on_floor(0.9, 3.8, [0.9, 0.03, 1.6], -0.4, lift=0.3)
    depth, K, anns, _ = scene([real, slab], wall_dist=6.0, W=320, H=240, categories={0: "table", 1: "table"})
    res = lift_image(depth * np.float32(factor), K, anns, [0.0, 1.0, 0.0], LiftConfig(scale_from_priors=True))
    assert len(res.objects) == 2
    lk = np.log(res.depth_scale_factor)
    assert 0.3 * np.log(factor) < lk <= np.log(factor) + 0.01


def test_scale_ratios_far_from_the_consensus_count_less_student_t():
    """Five chairs agree on a 3 % scale, a sixth says 20 % (inside the outlier cut): with Student-t weights
    it moves the estimate less than in a plain weighted mean."""
    from lift3d.lift.result import Observation
    from lift3d.lift.scale import estimate_depth_scale

    chair = lookup("chair")
    floor_h = 1.3

    def obs(ratio):
        h = chair.h * ratio
        q = np.stack([np.zeros(300), np.linspace(floor_h - h, floor_h, 300), np.full(300, 3.0)], axis=1)
        return Observation({"category": "chair"}, [0, 0, 10, 10], False, q, q[:, 2], [], 1.0, chair)

    def est(ratios, nu):
        k, _ = estimate_depth_scale([obs(r) for r in ratios], floor_h, LiftConfig(scale_t_nu=nu))
        return np.log(k)

    agree = est([1.03] * 5, 0.0)
    plain, robust = est([1.03] * 5 + [1.20], 0.0), est([1.03] * 5 + [1.20], 4.0)
    assert agree < robust < plain
    # agreeing ratios keep (up to the t weights' (nu + 1) / nu) their weight against the shrinkage
    assert est([1.03] * 6, 0.0) <= est([1.03] * 6, 4.0) <= np.log(1.03)
