"""Box-only separation: wall, support surface, contact window, footprint trim, objects on top (lift3d.lift.separation)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.priors import lookup
from lift_scenes import box_on_floor, lamp_on_table




@pytest.mark.parametrize("z", [2.2, 3.0])
def test_box_only_a_table_top_under_a_lamp_is_its_support_not_the_lamp(z):
    from lift3d.geometry.iou import iou_3d
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    boxes, lamp = lamp_on_table(z)
    depth, owner = raycast(K, H, W, boxes, cam_h=1.5, wall_dist=z + 2.0)
    ann = {"annotation_id": 1, "category": "lamp", "bbox2d": bbox_of((owner == 1) | (owner == 2)), "mask": None}
    gt = {"center_cam": lamp.center, "dimensions": lamp.dims, "R_cam": lamp.R}
    o = lift_image(depth, K, [ann], [0.0, 1.0, 0.0]).objects[0]
    # the table top seen on both sides of the pole is removed; the lamp reaches down to it
    assert o["dimensions"][1] == pytest.approx(0.5, abs=0.02)
    assert o["center_cam"][2] == pytest.approx(lamp.center[2], abs=0.03)
    assert iou_3d(o, gt) > 0.8
    # without it the table top behind the lamp stretches the box away from the camera
    o2 = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(support_surface=False)).objects[0]
    assert o2["dimensions"][2] > 0.4 and iou_3d(o2, gt) < 0.6
    assert o2["center_cam"][2] > lamp.center[2] + 0.05



def test_support_surface_is_not_an_occluders_top_or_a_vertical_face():
    from lift3d.lift.crop import crop_dot, ray_parts
    from lift3d.lift.separation import support_surface
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    cfg = LiftConfig()

    def crop(boxes, who, bbox_boxes):
        depth, _ = raycast(K, H, W, boxes, cam_h=1.5, wall_dist=6.0)
        _, own = raycast(K, H, W, bbox_boxes, cam_h=1.5)
        x1, y1, x2, y2 = bbox_of(own == who)
        r0, r1, c0, c1 = int(y1 + 0.5), int(y2 + 0.5), int(x1 + 0.5), int(x2 + 0.5)
        d = depth[r0:r1, c0:c1].astype(np.float64)
        ax, bx, by = ray_parts(K, np.arange(r0, r1, dtype=np.float64), np.arange(c0, c1, dtype=np.float64))
        return d > 0, d, ax, bx, by

    # a cabinet 4 m away behind a low wide table at 3 m: the table's top fills the bottom of the cabinet's
    # (unoccluded) 2D box, but the cabinet is far behind it
    cab = box_on_floor(0.0, 4.0, [0.5, 1.0, 0.5], 0.0, cam_h=1.5)
    low = box_on_floor(0.0, 3.0, [1.4, 0.45, 0.6], 0.0, cam_h=1.5)
    ok, d, ax, bx, by = crop([cab, low], 0, [cab])
    keep, level = support_surface(ok, crop_dot(d, ax, bx, by, G[:, 1]), d, cfg)
    assert level is None and keep is ok
    # a box facing the camera: its front face fills the bottom rows (one depth), not a support
    ok, d, ax, bx, by = crop([cab], 0, [cab])
    keep, level = support_surface(ok, crop_dot(d, ax, bx, by, G[:, 1]), d, cfg)
    assert level is None and keep is ok
    # the lamp on its table: found, at the table top's height (0.75 m above the floor, 1.5 m below the camera)
    boxes, _ = lamp_on_table(3.0)
    depth, owner = raycast(K, H, W, boxes, cam_h=1.5, wall_dist=5.0)
    x1, y1, x2, y2 = bbox_of((owner == 1) | (owner == 2))
    r0, r1, c0, c1 = int(y1 + 0.5), int(y2 + 0.5), int(x1 + 0.5), int(x2 + 0.5)
    d = depth[r0:r1, c0:c1].astype(np.float64)
    ax, bx, by = ray_parts(K, np.arange(r0, r1, dtype=np.float64), np.arange(c0, c1, dtype=np.float64))
    keep, level = support_surface(d > 0, crop_dot(d, ax, bx, by, G[:, 1]), d, cfg)
    assert level == pytest.approx(0.75, abs=0.01)
    assert keep.sum() < (d > 0).sum()



def test_on_top_points_are_those_of_annotations_standing_on_ours():
    from lift3d.lift.separation import on_top_points

    cfg = LiftConfig()
    bbox = [100.0, 100.0, 300.0, 200.0]  # ours: 200 x 100 px
    u = np.array([150.0, 150.0, 250.0, 150.0])
    v = np.array([120.0, 185.0, 120.0, 150.0])
    # a lamp standing on our top: its box starts above ours and ends inside it, over part of our width
    lamp = [130.0, 40.0, 170.0, 160.0]
    assert on_top_points(u, v, [lamp], bbox, cfg).tolist() == [True, False, False, True]
    # not standing on ours: an object in front reaching below our bottom edge, one that starts below our top
    # edge, one wider than ours, one overlapping more than on_top_width of our width, one beside ours
    for other in ([130.0, 40.0, 170.0, 230.0], [130.0, 150.0, 170.0, 190.0], [80.0, 40.0, 320.0, 160.0],
                  [100.0, 40.0, 260.0, 160.0], [320.0, 40.0, 360.0, 160.0]):
        assert on_top_points(u, v, [other], bbox, cfg) is None



@pytest.mark.parametrize("z", [2.5, 3.0])
def test_box_only_a_tv_on_a_table_does_not_raise_the_tables_top(z):
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    table = box_on_floor(0.0, z, [1.4, 0.75, 0.9], 0.2, cam_h=1.5)
    tv = box_on_floor(-0.2, z, [0.5, 0.45, 0.1], 0.2, cam_h=1.5, lift=0.75)
    depth, owner = raycast(K, H, W, [table, tv], cam_h=1.5, wall_dist=z + 2.0)
    anns = [{"annotation_id": 1, "category": "table", "bbox2d": bbox_of(owner == 0), "mask": None},
            {"annotation_id": 2, "category": "tv", "bbox2d": bbox_of(owner == 1), "mask": None}]
    obj = {o["annotation_id"]: o for o in lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects}
    assert obj[1]["dimensions"][1] == pytest.approx(0.75, abs=0.03)
    # without it the tv's base, inside the table's 2D box and touching its top, counts as the table's top
    off = lift_image(depth, K, anns, [0.0, 1.0, 0.0], LiftConfig(on_top_boxes=False)).objects
    assert {o["annotation_id"]: o for o in off}[1]["dimensions"][1] > 0.8



def _board_behind_occluder(z_board=3.0, z_occ=2.2, wall=5.0, cam_h=1.5):
    """A thin upright board (a chair's backrest: 0.5 x 0.9 m, 5 cm deep) whose centre and the middle of its lower
    part are hidden by a narrow post in front of it; a wall behind.  Returns depth, K, owner, the board's box (0: board, 1: occluder)."""
    from lift_scenes import raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    board = box_on_floor(0.0, z_board, [0.5, 0.9, 0.05], 0.0, cam_h=cam_h, lift=0.3)
    occ = box_on_floor(0.0, z_occ, [0.17, 1.1, 0.17], 0.0, cam_h=cam_h)
    depth, owner = raycast(K, H, W, [board, occ], cam_h=cam_h, wall_dist=wall)
    return depth, K, owner, board



def test_background_plane_is_a_wall_only_when_it_continues_outside_the_box():
    from lift3d.lift.crop import crop_bounds, ray_parts
    from lift3d.lift.separation import outside_band, remove_background_plane
    from lift_scenes import bbox_of, raycast

    cfg = LiftConfig()
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    down = np.array([0.0, 1.0, 0.0])

    def run(depth, K, bbox, outside):
        x1, y1, x2, y2 = bbox
        r0, r1, c0, c1 = int(y1 + 0.5), int(y2 + 0.5), int(x1 + 0.5), int(x2 + 0.5)
        d = depth[r0:r1, c0:c1].astype(np.float64)
        ax, bx, by = ray_parts(K, np.arange(r0, r1, dtype=np.float64), np.arange(c0, c1, dtype=np.float64))
        ok = d > 0
        crop = crop_bounds(bbox, depth.shape[1], depth.shape[0])
        out = (lambda: outside_band(depth, K, G, crop, cfg)) if outside else None
        return ok, remove_background_plane(ok, d, ax, bx, by, G, d, down, cfg, out)

    # the board fills its 2D box's top and side border, the occluder in front its centre: the board's plane
    # looks like a wall behind the centre, but it stops at the box's edges (the wall 2 m behind shows there)
    depth, K, owner, _ = _board_behind_occluder()
    bbox = bbox_of(owner == 0)
    ok, keep = run(depth, K, bbox, outside=True)
    assert (keep == ok).all()
    ok, keep = run(depth, K, bbox, outside=False)  # without the outside band: the board is taken for a wall
    x1, y1, x2, y2 = bbox
    own = owner[int(y1 + 0.5):int(y2 + 0.5), int(x1 + 0.5):int(x2 + 0.5)]
    assert (own == 0).sum() > 0.5 * ok.sum() and not (keep & (own == 0)).any()
    # a real wall around a thin pole standing 0.5 m in front of it: it continues beyond the box, removed
    W, H = 320, 240
    pole = box_on_floor(0.0, 3.0, [0.12, 1.2, 0.12], 0.0, cam_h=1.5)
    depth, owner = raycast(K, H, W, [pole], cam_h=1.5, wall_dist=3.5)
    # a loose box around the pole (wider than it, as a detector's): the wall fills its border
    x1, y1, x2, y2 = bbox_of(owner == 0)
    x1, y1, x2 = x1 - 12, y1 - 12, x2 + 12
    ok, keep = run(depth, K, [x1, y1, x2, y2], outside=True)
    own = owner[int(y1 + 0.5):int(y2 + 0.5), int(x1 + 0.5):int(x2 + 0.5)]
    assert (own == -2).sum() > 0.5 * ok.sum() and not (keep & (own == -2)).any()  # the wall's pixels are gone
    assert (keep & (own == 0)).sum() > 0.9 * (own == 0).sum()  # the pole's stay



def test_box_only_an_upright_board_behind_an_occluder_is_lifted_at_its_own_depth():
    from lift_scenes import bbox_of

    depth, K, owner, board = _board_behind_occluder()
    anns = [{"annotation_id": 1, "category": "chair", "bbox2d": bbox_of(owner == 0), "mask": None},
            {"annotation_id": 2, "category": "box", "bbox2d": bbox_of(owner == 1), "mask": None}]
    obj = {o["annotation_id"]: o for o in lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects}
    # the board's visible face is at 3 m - 2.5 cm (amodal completion may add depth behind it)
    assert obj[1]["center_cam"][2] == pytest.approx(board.center[2], abs=0.35)
    off = lift_image(depth, K, anns, [0.0, 1.0, 0.0], LiftConfig(outside_min_share=0.0)).objects
    assert {o["annotation_id"]: o for o in off}[1]["center_cam"][2] < 2.6  # the occluder instead



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



def test_box_only_separates_object_from_floor_and_wall(scene):
    gt = box_on_floor(-0.1, 3.2, [0.6, 0.75, 1.2], 0.8)
    depth, K, anns, _ = scene([gt], wall_dist=4.5)
    for a in anns:
        a["mask"] = None
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    o = res.objects[0]
    assert o["mask_source"] == "depth" and "box_only" in o["flags"]
    assert iou_3d(o, gt) > 0.7



def test_box_only_with_occluder_in_front(scene):
    back = box_on_floor(0.0, 3.5, [0.7, 0.8, 1.4], 0.6)
    front = box_on_floor(0.45, 2.3, [0.4, 0.5, 0.4], 0.0)
    depth, K, anns, owner = scene([back, front], wall_dist=5.5)
    for a in anns:
        a["mask"] = None
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    assert len(res.objects) == 2
    o = {x["annotation_id"]: x for x in res.objects}
    assert iou_3d(o[100], back) > 0.5
    assert iou_3d(o[101], front) > 0.6


def _smeared_pole(range_m=10.0, behind_m=30.0, floor_m=1.0, rows=60, per_row=12, seed=0):
    """A pole's points as a soft-edged depth map gives them: in each image row a few pixels near the pole's range and
    the rest blended towards a facade ``behind_m`` away; the bottom rows blend with the floor in front instead."""
    rng = np.random.default_rng(seed)
    K = K_from_fov(320, 240, 50.0)
    G = gravity_frame([0.0, 1.0, 0.0])
    pts = []
    for r in range(rows):
        v = 60.0 + 2.0 * r + 0.5  # image rows 60..178
        t = rng.uniform(0.0, 1.0, per_row) ** 2  # blend share: most pixels blended
        t[0] = 0.0
        z = range_m + t * (behind_m - range_m)
        if r >= rows - 4:
            z = range_m - t * floor_m  # the floor in front of the pole's base
        ray = np.linalg.solve(K, np.array([160.0, v, 1.0]))
        pts.append(z[:, None] * ray[None, :])
    P = np.vstack(pts)
    return P @ G, K, G  # gravity-frame points (x, down, forward)


def test_smear_trim_keeps_the_poles_reach_from_its_near_face():
    """separation.smear_window: the per-row nearest points place the near face (not the floor blended under the base,
    not the facade); only the category's reach from it is kept, over the pole's whole height."""
    from lift3d.lift.separation import smear_trim

    q, K, G = _smeared_pole()
    cfg = LiftConfig(separation={"smear_window": 1.0})
    prior = lookup("pole")
    q2, z2 = smear_trim(q, q[:, 2].copy(), prior, K, G, cfg)
    r2 = np.hypot(q2[:, 0], q2[:, 2])
    reach = np.hypot(prior.l, prior.w) * (1.0 + 3.0 * prior.rel_std) * 1.5
    assert len(q2) == len(z2) < len(q) and r2.min() > 10.0 - reach and r2.max() < 10.0 + reach
    on_pole = np.abs(np.hypot(q[:, 0], q[:, 2]) - 10.0) < 0.01
    assert np.ptp(q2[:, 1]) > 0.9 * np.ptp(q[on_pole, 1])  # the whole height stays
    off = smear_trim(q, q[:, 2].copy(), prior, K, G, LiftConfig())[0]
    assert len(off) == len(q)  # off by default (sensor depth)


def test_smear_trim_leaves_an_object_within_its_reach():
    from lift3d.lift.separation import smear_trim

    q, K, G = _smeared_pole(behind_m=10.3, floor_m=0.1)  # blended over 0.4 m only: within a pole's reach
    cfg = LiftConfig(separation={"smear_window": 1.0})
    q2, _ = smear_trim(q, q[:, 2].copy(), lookup("pole"), K, G, cfg)
    assert len(q2) == len(q)


def test_smear_trim_keeps_a_far_thin_objects_few_points_within_its_reach():
    """A person a few pixels wide far away: one least-blended pixel per row at its range, three smeared 1-15 m behind
    towards a facade.  Fewer than ``clean.min_points`` lie within its reach, yet only they are kept: the whole smear
    would make the box about ten metres deep (it was kept whole before)."""
    from lift3d.lift.separation import smear_trim

    rng = np.random.default_rng(1)
    K, G = K_from_fov(320, 240, 50.0), gravity_frame([0.0, 1.0, 0.0])
    pts = []
    for r in range(12):
        z = np.concatenate([[35.0], 36.0 + 14.0 * rng.uniform(0.0, 1.0, 3)])
        ray = np.linalg.solve(K, np.array([160.0, 100.0 + r + 0.5, 1.0]))
        pts.append(z[:, None] * ray[None, :])
    q = np.vstack(pts) @ G
    cfg = LiftConfig(separation={"smear_window": 1.0})
    prior = lookup("person")
    q2, z2 = smear_trim(q, q[:, 2].copy(), prior, K, G, cfg)
    r2 = np.hypot(q2[:, 0], q2[:, 2])
    reach = np.hypot(prior.l, prior.w) * (1.0 + 3.0 * prior.rel_std) * 1.5
    assert len(q) >= cfg.clean.min_points and 12 <= len(q2) < cfg.clean.min_points and len(z2) == len(q2)
    assert r2.min() > 35.0 - reach and r2.max() < 35.0 + reach
