"""Floor contact, bottom reach and the vertical extent from the 2D box (lift3d.lift.contact)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov, project
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.contact import bottom_floor_range, bottom_reach, floor_contact, points_ground_range, top_reach
from lift3d.lift.priors import lookup, resolve_mode
from lift_scenes import bbox_of, box_on_floor, lamp_on_table


CAM_H = 1.3


SHADE = [0.36, 0.5, 0.36]


TABLE_H = 0.75  # = the "table" prior height
LIFT = 1.0  # the shade's bottom above the floor: a floor lamp's pole (3 cm) is lost to the cleaning



def _shade_scene(scene, z=3.0):
    shade = box_on_floor(0.0, z, SHADE, 0.3, lift=LIFT, cam_h=CAM_H)
    depth, K, anns, _ = scene([shade], cam_h=CAM_H, wall_dist=6.0, categories={0: "lamp"})
    return shade, depth, K, anns[0]



def _floor_lamp_box(ann, K, z):
    """The annotation's 2D box reaching down to where the pole's base meets the floor (the mask is the shade)."""
    base = project(np.array([[0.0, CAM_H, z - 0.1]]), K)[0]
    x1, y1, x2, _ = ann["bbox2d"]
    return dict(ann, bbox2d=[x1, y1, x2, float(base[1]) + 0.5])



def test_a_floor_lamp_whose_pole_is_lost_reaches_the_floor(scene):
    shade, depth, K, ann = _shade_scene(scene)
    floor_lamp = _floor_lamp_box(ann, K, 3.0)
    o = lift_image(depth, K, [floor_lamp], [0.0, 1.0, 0.0]).objects[0]
    assert o["on_floor"]
    assert o["dimensions"][1] == pytest.approx(LIFT + SHADE[1], abs=0.05)  # shade top to the floor
    # the same shade whose 2D box ends at the shade: a table lamp on an (unannotated) support, not pulled down
    o2 = lift_image(depth, K, [ann], [0.0, 1.0, 0.0]).objects[0]
    assert not o2["on_floor"]
    assert o2["dimensions"][1] == pytest.approx(SHADE[1], abs=0.05)



def test_the_floor_contact_switches_the_lamp_mode():
    lamp = lookup("lamp")
    assert set(lamp.modes) == {"floor lamp", "table lamp"}
    # a 0.5 m shade whose top is 1.2 m above the floor: nearer to the table lamp unless it is known to
    # stand on the floor
    assert resolve_mode(lamp, 0.5, 1.2).category == "table lamp"
    assert resolve_mode(lamp, 0.5, 1.2, on_floor=True).category == "floor lamp"
    assert resolve_mode(lamp, 0.5, None, on_floor=True).category == "table lamp"  # no floor level



def test_bottom_floor_range_and_contact_exact():
    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    cfg = LiftConfig()
    # the floor point 4 m ahead, 0.4 m to the right projects to the box's bottom edge
    u, v = project(np.array([[0.4, CAM_H, 4.0]]), K)[0]
    bbox = [u - 20.0, v - 60.0, u + 20.0, v + 0.5]
    assert bottom_floor_range(bbox, K, G, CAM_H, H, cfg) == pytest.approx(np.hypot(0.4, 4.0), rel=1e-9)
    # a bottom edge cut by the image border says nothing; a ray above the horizon never meets the floor
    assert bottom_floor_range([10, 100, 50, H - 0.5], K, G, CAM_H, H, cfg) is None
    assert bottom_floor_range([10, 10, 50, 40], K, G, CAM_H, H, cfg) == float("inf")
    # points (gravity frame x, down, forward) of an object spanning ground ranges 3.9-4.4 m
    rng = np.random.default_rng(0)
    f = rng.uniform(3.9, 4.4, 200)
    q = np.stack([np.full(200, 0.0), rng.uniform(0.2, 0.6, 200), f], axis=1)
    u0, v0 = project(np.array([[0.0, CAM_H, 3.95]]), K)[0]
    assert floor_contact([u0 - 10, v0 - 80, u0 + 10, v0 + 0.5], K, G, CAM_H, points_ground_range(q), H, cfg) is True
    u1, v1 = project(np.array([[0.0, CAM_H, 6.0]]), K)[0]  # the box ends far above the floor under it
    assert floor_contact([u1 - 10, v1 - 80, u1 + 10, v1 + 0.5], K, G, CAM_H, points_ground_range(q), H, cfg) is False
    u2, v2 = project(np.array([[0.0, CAM_H, 3.0]]), K)[0]  # the floor point is in front of the object
    assert floor_contact([u2 - 10, v2 - 80, u2 + 10, v2 + 0.5], K, G, CAM_H, points_ground_range(q), H, cfg) is None
    assert floor_contact([u0 - 10, v0 - 80, u0 + 10, v0 + 0.5], K, G, None, points_ground_range(q), H, cfg) is None



def test_bottom_reach_is_the_box_bottom_at_the_near_range():
    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    q = np.array([[0.0, -0.2, 2.0], [0.0, 0.1, 2.3], [0.0, 0.0, 2.6]] * 40)
    near = np.percentile(np.hypot(q[:, 0], q[:, 2]), 2.0)
    u, v = project(np.array([[0.0, 0.7, near]]), K)[0]  # the box's bottom edge sees 0.7 m below the camera there
    assert bottom_reach([u - 5, 10.0, u + 5, v + 0.5], K, G, points_ground_range(q), H) == pytest.approx(0.7, rel=1e-9)



def test_top_reach_is_the_box_top_where_its_top_rows_hold_no_point():
    """The ray through the box's top edge at the end of the points' ground range where it is lower: the nearest point's
    range when it rises (a top above the camera), the farthest's when it falls; None where the points reach the
    box's top row."""
    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    q = np.array([[0.0, -0.2, 2.0], [0.0, 0.1, 2.3], [0.0, 0.0, 2.6]] * 40)

    def box_seeing(level, rng):  # the 2D box whose top edge (v - 0.5 in pixel centres) sees (0, level, rng)
        u, v = project(np.array([[0.0, level, rng]]), K)[0]
        return [u - 5, v + 0.5, u + 5, 200.0]

    assert top_reach(box_seeing(-0.5, 2.0), K, G, q) == pytest.approx(-0.5, rel=1e-9)
    low = q + [0.0, 0.5, 0.0]  # the points all below the camera: the top edge's ray falls
    assert top_reach(box_seeing(0.2, 2.6), K, G, low) == pytest.approx(0.2, rel=1e-9)
    top_row = float(project(low, K)[:, 1].min())
    assert top_reach([100.0, top_row - 0.4, 120.0, 200.0], K, G, low) is None  # a point on the box's top row
    # the topmost point one row below the box's top row: the top row holds none, whatever the round-off of its
    # reprojected row (it differs by CPU: OpenBLAS's kernels) puts it a hair above or below that row
    for eps in (-1e-9, 0.0, 1e-9):
        assert top_reach([100.0, top_row - 1.0 + eps, 120.0, 200.0], K, G, low) is not None


def test_a_thin_finial_lost_to_the_cleaning_keeps_its_height(scene):
    """A 2 cm finial on a lamp's shade is too thin to survive the mask's erosion: the box's top rows hold none of the
    lamp's points, and its top edge gives the height back (contact.top_reach); off, the lamp ends at the shade."""
    shade = box_on_floor(0.0, 3.0, SHADE, 0.3, lift=LIFT, cam_h=CAM_H)
    finial = box_on_floor(0.0, 3.0, [0.02, 0.25, 0.02], 0.3, lift=LIFT + SHADE[1], cam_h=CAM_H)
    depth, K, anns, owner = scene([shade, finial], cam_h=CAM_H, wall_dist=6.0)
    mask = (owner == 0) | (owner == 1)
    lamp = dict(anns[0], category="lamp", mask=mask, bbox2d=bbox_of(mask))
    on = lift_image(depth, K, [lamp], [0.0, 1.0, 0.0]).objects[0]
    off = lift_image(depth, K, [lamp], [0.0, 1.0, 0.0], LiftConfig(contact={"top_reach": False})).objects[0]
    assert off["dimensions"][1] == pytest.approx(SHADE[1], abs=0.03)
    assert on["dimensions"][1] == pytest.approx(SHADE[1] + 0.25, abs=0.03)


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


def _obs(down_lo, down_hi, prior=None, contact=None, reach=None, top=None, n=200):
    """An Observation whose points span down_lo..down_hi along the down axis (uniformly)."""
    from lift3d.lift.result import Observation

    d = np.linspace(down_lo, down_hi, n)
    q = np.c_[np.zeros(n), d, np.full(n, 3.0)]
    return Observation({}, [0, 0, 10, 10], False, q, q[:, 2].copy(), [], 1.0, prior, contact=contact, reach=reach,
                       top=top)


def test_object_height_snaps_a_bottom_near_the_floor():
    from lift3d.lift.contact import object_height

    cfg = LiftConfig(pct_lo=0.0, pct_hi=100.0)
    # gap 0.3 m <= floor_snap 0.30 + 0.25 x height 0.5: put on the floor (1.3 m below the camera)
    assert object_height(_obs(0.5, 1.0), 1.3, cfg) == (0.5, 1.3, True)
    # a bottom up to 10 cm below the floor level is on it (depth noise): the floor level
    assert object_height(_obs(0.5, 1.35), 1.3, cfg) == (0.5, 1.3, True)
    # far above the floor, no contact, no prior: as seen
    assert object_height(_obs(0.1, 0.3), 1.3, cfg) == (0.1, 0.3, False)
    # the 2D box's bottom meets the floor at the footprint: thin legs, on the floor
    assert object_height(_obs(0.1, 0.3, contact=True), 1.3, cfg) == (0.1, 1.3, True)
    # no floor: never on it
    assert object_height(_obs(0.5, 1.0), None, cfg) == (0.5, 1.0, False)


def test_object_height_with_prior_reach_top_and_scale():
    from lift3d.lift.contact import object_height

    cfg = LiftConfig(pct_lo=0.0, pct_hi=100.0)
    table = lookup("table")  # h 0.75
    # a table top seen 0.55..0.65 m below the camera, floor at 1.3: snapped height 0.75 fits the prior exactly
    assert object_height(_obs(0.55, 0.65, prior=table), 1.3, cfg) == (0.55, 1.3, True)
    # the same slab 0.2..0.3: snapped 1.1 m is 47 % off the prior (> 30 %): as seen
    assert object_height(_obs(0.2, 0.3, prior=table), 1.3, cfg) == (0.2, 0.3, False)
    # reach extends the bottom, top lowers the top
    hl, hh, on = object_height(_obs(0.2, 0.3, reach=0.5, top=0.25), None, cfg)
    assert (hl, hh, on) == (0.25, 0.5, False)
    # depth scale 2: every down coordinate halves (the floor level too)
    assert object_height(_obs(0.5, 1.0), 1.3, cfg, scale=2.0) == (0.25, 0.65, True)


# --- the floor level measured just below each object (model depth: range exponent, field)

def _bent(depth, gamma):
    """A monocular network's range error: z' = m (z / m) ** gamma about the median depth m."""
    m = float(np.median(depth[depth > 0]))
    return np.where(depth > 0, m * (depth / m) ** gamma, 0.0).astype(np.float32), m


def test_local_floor_is_the_floor_next_to_the_object_under_a_range_exponent(scene):
    from lift3d.lift.contact import local_floor
    box = box_on_floor(0.0, 4.0, [0.6, 0.8, 0.6], 0.3, cam_h=CAM_H)
    depth, K, anns, _ = scene([box], cam_h=CAM_H, wall_dist=8.0, W=320, H=240)
    bent, m = _bent(depth, 0.85)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    cfg = LiftConfig(contact={"local_floor_band": 0.15})
    near_floor = CAM_H * (1.5 / m) ** (0.85 - 1.0)  # the level a floor fit on the near floor (1.5 m) would read
    fl = local_floor(bent, K, G, anns[0]["bbox2d"], near_floor, cfg)
    z_front = 4.0 - 0.3  # about the depth of the floor just in front of the box
    assert fl == pytest.approx(CAM_H * (z_front / m) ** (0.85 - 1.0), rel=0.02)
    assert abs(fl / near_floor - 1.0) > 0.05  # the near floor's level is not the object's
    # off, no floor level, or the box's bottom cut by the image border: none
    assert local_floor(bent, K, G, anns[0]["bbox2d"], near_floor, LiftConfig()) is None
    assert local_floor(bent, K, G, anns[0]["bbox2d"], None, cfg) is None
    x1, y1, x2, _ = anns[0]["bbox2d"]
    assert local_floor(bent, K, G, [x1, y1, x2, 239.5], near_floor, cfg) is None


def test_local_floor_under_an_object_on_a_table_is_none(scene):
    from lift3d.lift.contact import local_floor
    boxes, _ = lamp_on_table(z=3.0, cam_h=1.5)
    depth, K, anns, _ = scene(boxes, cam_h=1.5, wall_dist=6.0, W=320, H=240)
    shade = [a for a in anns if a["annotation_id"] == 102][0]
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    # below the shade's 2D box: the pole and the table top, 0.75 m above the floor: no floor pixel
    assert local_floor(depth, K, G, shade["bbox2d"], 1.5, LiftConfig(contact={"local_floor_band": 0.15})) is None


def test_object_height_stands_on_the_local_floor():
    from lift3d.lift.contact import object_height
    from lift3d.lift.result import Observation
    q = np.array([[0.0, 0.5, 3.0], [0.0, 1.18, 3.0], [0.1, 0.9, 3.1]])  # top 0.5, lowest point 1.18 (down)
    ob = Observation({}, [0, 0, 10, 10], False, q, q[:, 2], [], 1.0, lookup("table"), floor=1.2)
    top, bottom, on_floor = object_height(ob, 1.4, LiftConfig())
    assert on_floor and bottom == pytest.approx(1.2)  # the floor under it, not the image's 1.4
    ob.floor = None
    assert object_height(ob, 1.4, LiftConfig())[1] == pytest.approx(1.4)


def test_lifted_height_stands_on_the_local_floor_under_a_range_exponent(scene):
    """Under a range exponent of 0.85 the near floor (what the image's floor fit sees) sits at another level than
    the floor where a table 5 m away stands: with the local floor its lifted height is the table's own (times the
    local depth factor), without it the table reaches down to the near floor's level."""
    box = box_on_floor(0.0, 5.0, [1.0, TABLE_H, 0.7], 0.2, cam_h=CAM_H)
    depth, K, anns, _ = scene([box], cam_h=CAM_H, wall_dist=9.0, W=320, H=240, categories={0: "table"})
    bent, m = _bent(depth, 0.85)
    local = TABLE_H * (4.6 / m) ** (0.85 - 1.0)  # the table's height at its depth's factor
    on = lift_image(bent, K, anns, [0.0, 1.0, 0.0], LiftConfig(contact={"local_floor_band": 0.15})).objects[0]
    off = lift_image(bent, K, anns, [0.0, 1.0, 0.0], LiftConfig()).objects[0]
    assert on["on_floor"] and off["on_floor"]
    err_on, err_off = abs(on["dimensions"][1] - local), abs(off["dimensions"][1] - local)
    assert err_on < 0.04 and err_off > 2.0 * err_on


def test_a_lamp_mode_is_picked_again_at_the_image_scale():
    """A 0.6 m table lamp on a table (contact False: its bottom is not on the floor) in depth x1.5 too far: seen
    0.9 m, nearer in log to a floor lamp (1.6) than to a table lamp (0.5) at the depth's own scale; at the image's
    estimated scale it is a table lamp again."""
    from lift3d.lift.config import LiftConfig
    from lift3d.lift.contact import floor_mode, mode_at_scale
    from lift3d.lift.priors import lookup

    cfg = LiftConfig()
    lamp = lookup("lamp")
    ob = _obs(0.0 * 1.5, 0.6 * 1.5, contact=False)
    ob = type(ob)(**{**ob.__dict__, "prior": floor_mode(lamp, ob.q, None, 1.6 * 1.5, False, False, cfg),
                     "category_prior": lamp})
    assert ob.prior.h == pytest.approx(lookup("floor lamp").h)
    assert mode_at_scale(ob, 1.6 * 1.5, 1.5, cfg).prior.h == pytest.approx(lookup("table lamp").h)
    assert mode_at_scale(ob, 1.6 * 1.5, 1.0, cfg) is ob
    plain = _obs(0.0, 0.9, prior=lookup("chair"))
    assert mode_at_scale(plain, 1.6, 1.5, cfg) is plain
