"""Floor contact and reach from the 2D box (thin poles/legs that do not survive the cleaning)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov, project
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.boxgeom import box_corners_px
from lift3d.lift.contact import bottom_floor_range, bottom_reach, floor_contact, points_ground_range
from lift3d.lift.cover import cover_box_sides
from lift3d.lift.priors import lookup, resolve_mode
from lift_scenes import box_on_floor

CAM_H = 1.3
SHADE = [0.36, 0.5, 0.36]
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


def test_cover_box_sides_grows_the_box_until_its_projection_reaches_the_2d_box():
    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    hl, hh = 0.5, 1.3  # down extents (top, bottom)
    true = [-0.3, 0.3, 2.6, 3.4]  # [ul, uh, vl, vh] in the rotated ground frame
    for yaw in (0.0, 0.4, -0.7):
        c, s = np.cos(yaw), np.sin(yaw)
        xs = box_corners_px(K, G, c, s, *true, hl, hh)
        bbox = [float(xs.min()), 50.0, float(xs.max()), 200.0]
        seen = [-0.1, 0.15, 2.6, 2.9]  # a part of the object: its points stop short of the 2D box
        grown, did = cover_box_sides(list(seen), K, G, c, s, hl, hh, bbox, False, False, cap=2.0, tol_px=0.5)
        gx = box_corners_px(K, G, c, s, *grown, hl, hh)
        assert did and gx.min() <= bbox[0] + 0.5 and gx.max() >= bbox[2] - 0.5
        # only grown, and never beyond what the true box needs on each face
        assert all(g <= e + 1e-9 for g, e in zip(grown[0::2], seen[0::2]))
        assert all(g >= e - 1e-9 for g, e in zip(grown[1::2], seen[1::2]))
        assert grown[0] >= true[0] - 0.02 and grown[1] <= true[1] + 0.02 and grown[3] <= true[3] + 0.6
        # a side cut by the image border is not a constraint; a box that already reaches its 2D box is kept
        kept, did2 = cover_box_sides(list(seen), K, G, c, s, hl, hh, bbox, True, True, cap=2.0, tol_px=0.5)
        assert not did2 and kept == seen
        same, did3 = cover_box_sides(list(true), K, G, c, s, hl, hh, bbox, False, False, cap=2.0, tol_px=0.5)
        assert not did3 and same == true


def test_box_only_components_inside_another_annotations_box_are_that_object():
    from lift3d.lift.components import other_objects

    cfg = LiftConfig()
    # crop of our box [100, 50, 200, 150) at stride 2: component 1 spans the crop (ours), component 2 sits
    # inside the 2D box of another annotation that covers a part of ours (an object in front)
    lab = np.zeros((50, 50), dtype=np.int64)
    lab[5:45, 0:50] = 1
    lab[20:30, 10:20] = 2
    bbox = [99.5, 49.5, 199.5, 149.5]
    other = [115.0, 80.0, 145.0, 115.0]
    theirs = other_objects(lab, 2, [other], 50, 100, 2, bbox, cfg)
    assert theirs.tolist() == [False, True]
    # an annotation whose box covers (most of) ours says nothing: everything of ours lies inside it too
    assert other_objects(lab, 2, [[90.0, 40.0, 210.0, 160.0]], 50, 100, 2, bbox, cfg) is None
    assert other_objects(lab, 2, [[400.0, 300.0, 420.0, 320.0]], 50, 100, 2, bbox, cfg) is None


def _lamp_on_table(z=3.0, cam_h=1.5):
    """A table lamp (a 6 cm pole under a 0.3 m shade, 0.5 m in all) standing on a 1.4 m table."""
    table = box_on_floor(0.0, z, [1.4, 0.75, 0.9], 0.2, cam_h=cam_h)
    pole = box_on_floor(0.1, z, [0.06, 0.3, 0.06], 0.2, cam_h=cam_h, lift=0.75)
    shade = box_on_floor(0.1, z, [0.3, 0.2, 0.3], 0.2, cam_h=cam_h, lift=1.05)
    lamp = box_on_floor(0.1, z, [0.3, 0.5, 0.3], 0.2, cam_h=cam_h, lift=0.75)
    return [table, pole, shade], lamp


@pytest.mark.parametrize("z", [2.2, 3.0])
def test_box_only_a_table_top_under_a_lamp_is_its_support_not_the_lamp(z):
    from lift3d.geometry.iou import iou_3d
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    boxes, lamp = _lamp_on_table(z)
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
    boxes, _ = _lamp_on_table(3.0)
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


def test_an_occluded_sliver_gets_its_categorys_height_from_the_unseen_side():
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    z = 3.0
    boxes, lamp = _lamp_on_table(z)
    # a narrow box on the table in front of the lamp hides its pole and the middle of its shade's lower part:
    # the mask is the shade's rim (0.2 m of the lamp's 0.5 m), its 2D box holds the occluder's top
    front = box_on_floor(0.1, z - 0.5, [0.12, 0.42, 0.12], 0.2, cam_h=1.5, lift=0.75)
    depth, owner = raycast(K, H, W, boxes + [front], cam_h=1.5, wall_dist=z + 2.0)
    mask = (owner == 1) | (owner == 2)
    ann = {"annotation_id": 1, "category": "table lamp", "bbox2d": bbox_of(mask), "mask": mask}
    cut = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(height_complete=0.0)).objects[0]
    assert "occluded" in cut["flags"] and cut["dimensions"][1] < 0.25
    o = lift_image(depth, K, [ann], [0.0, 1.0, 0.0]).objects[0]
    top = lamp.center[1] - lamp.dims[1] / 2  # camera y of the lamp's top (y down)
    assert o["dimensions"][1] == pytest.approx(lookup("table lamp").h, abs=0.02)
    assert o["center_cam"][1] - o["dimensions"][1] / 2 == pytest.approx(top, abs=0.03)  # grown downwards
    assert not o["on_floor"]


def test_amodal_completion_goes_in_front_only_where_an_occluder_hides_that_space():
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    z = 3.0
    # a chair's backrest (a 5 cm board from 0.45 to 0.95 m) seen with masks: the seat is not seen, the
    # chair prior says 0.6 m of depth are missing
    board = box_on_floor(0.0, z, [0.5, 0.5, 0.05], 0.0, cam_h=1.5, lift=0.45)
    table = box_on_floor(0.0, z - 0.6, [1.2, 0.75, 0.6], 0.0, cam_h=1.5)
    zc = {}
    for name, boxes in (("free", [board]), ("table", [board, table])):
        depth, owner = raycast(K, H, W, boxes, cam_h=1.5, wall_dist=z + 2.0)
        ann = {"annotation_id": 1, "category": "chair", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
        for share in (0.0, 0.5):
            cfg = LiftConfig(near_complete=share, square_blend=0.0)  # the chair prior's depth, not the board's width
            o = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], cfg).objects[0]
            assert o["dimensions"][2] == pytest.approx(0.63, abs=0.05)
            zc[name, share] = o["center_cam"][2]
    # free space in front of the board (the floor is seen there, behind where the seat would be): the
    # missing depth can only be behind it
    assert zc["free", 0.5] == pytest.approx(zc["free", 0.0], abs=1e-9)
    assert zc["free", 0.0] > z + 0.25
    # a table in front hides that space: half of the missing depth goes in front of the board
    assert zc["table", 0.5] == pytest.approx(z, abs=0.05)
    assert zc["table", 0.0] == pytest.approx(zc["free", 0.0], abs=0.02)


@pytest.mark.parametrize("yaw", [0.0, 0.4, 0.8])
def test_a_top_face_seen_from_above_keeps_the_seen_footprint(yaw):
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    # a small box (0.25 x 0.30 x 0.25 m, smaller than the box prior's 0.35 x 0.45 footprint) seen from 1.5 m up:
    # its top face shows the whole footprint, so the prior must not stretch the unseen side
    box = box_on_floor(0.2, 2.5, [0.25, 0.3, 0.25], yaw, cam_h=1.5)
    depth, owner = raycast(K, H, W, [box], cam_h=1.5, wall_dist=4.5)
    ann = {"annotation_id": 1, "category": "box", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
    kept = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig()).objects[0]
    stretched = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(top_keep=1.0)).objects[0]
    assert max(kept["dimensions"][0], kept["dimensions"][2]) < 0.30
    assert iou_3d(kept, box) > 0.8
    assert iou_3d(stretched, box) < iou_3d(kept, box) - 0.15
    # a 5 cm board (a backrest) seen the same way: its top is a rim, not a face; the chair prior still completes it
    board = box_on_floor(0.2, 2.5, [0.5, 0.5, 0.05], yaw, cam_h=1.5)
    depth, owner = raycast(K, H, W, [board], cam_h=1.5, wall_dist=4.5)
    ann = {"annotation_id": 1, "category": "chair", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
    a = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig()).objects[0]
    b = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(top_keep=1.0)).objects[0]
    assert a["dimensions"] == pytest.approx(b["dimensions"], abs=1e-9)
    assert max(a["dimensions"][0], a["dimensions"][2]) > 0.45


def test_top_face_seen_needs_a_face_covering_both_axes_below_the_camera():
    from lift3d.lift.amodal import top_face_seen

    cfg = LiftConfig()
    g = np.linspace(0.0, 0.4, 21)
    uu, vv = (a.ravel() for a in np.meshgrid(g, g))
    top = np.column_stack([uu, vv, np.full(uu.size, 0.8)])  # a 0.4 x 0.4 m face 0.8 m below the camera
    side = np.column_stack([uu, np.zeros(uu.size), 0.8 + vv])  # and the face below its near edge
    pts = np.vstack([top, side])
    u, v, d = pts[:, 0], pts[:, 1], pts[:, 2]
    ext = np.array([0.4, 0.4])
    assert top_face_seen(d, u, v, ext, 0.8, cfg)
    assert not top_face_seen(d - 0.75, u, v, ext, 0.05, cfg)  # level with the camera: not seen from above
    rim = v >= 0.37  # a 3 cm rim along u: thin along v
    assert not top_face_seen(np.where(rim, d, d + 0.3), u, v, ext, 0.8, cfg)
    tu, tv, td = top.T  # the face alone, over half the extent along u only, the rest 0.3 m lower
    assert top_face_seen(td, tu, tv, ext, 0.8, cfg)
    assert not top_face_seen(np.where(tu <= 0.2, td, td + 0.3), tu, tv, ext, 0.8, cfg)


@pytest.mark.parametrize("side", [-1, 1])
def test_an_object_going_behind_an_occluder_continues_on_that_side_only(side):
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    sofa = box_on_floor(0.0, 4.0, [2.0, 0.85, 0.9], 0.0, cam_h=1.5)  # spans x -1.0 .. 1.0 m
    cabinet = box_on_floor(0.7 * side, 2.6, [0.6, 1.6, 0.5], 0.0, cam_h=1.5)  # hides one end of it
    depth, owner = raycast(K, H, W, [sofa, cabinet], cam_h=1.5, wall_dist=6.0)
    ann = {"annotation_id": 1, "category": "sofa", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
    on = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig()).objects[0]
    off = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(side_complete=0.0)).objects[0]

    def x_range(o):
        return o["center_cam"][0] - o["dimensions"][2] / 2, o["center_cam"][0] + o["dimensions"][2] / 2

    (lo_on, hi_on), (lo_off, hi_off) = x_range(on), x_range(off)
    seen_end, hidden_end = (lo_off, hi_off) if side > 0 else (hi_off, lo_off)
    assert abs(hidden_end) < 0.6  # without it, the box stops where the cabinet starts
    # with it, the hidden end moves out by 3/4 of the shortfall to the sofa prior (2.0 m), the seen end stays
    moved = hidden_end + side * 0.75 * (2.0 - (hi_off - lo_off))
    assert (hi_on if side > 0 else lo_on) == pytest.approx(moved, abs=0.02)
    assert (lo_on if side > 0 else hi_on) == pytest.approx(seen_end, abs=1e-6)
    assert iou_3d(on, sofa) > 0.9 > 0.8 > iou_3d(off, sofa)
    # a short sofa (1.3 m) seen whole, free space on both sides: its extent is its own
    short = box_on_floor(0.0, 4.0, [1.3, 0.85, 0.9], 0.0, cam_h=1.5)
    depth, owner = raycast(K, H, W, [short], cam_h=1.5, wall_dist=6.0)
    ann = {"annotation_id": 1, "category": "sofa", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
    a = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig()).objects[0]
    b = lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(side_complete=0.0)).objects[0]
    assert a["dimensions"] == pytest.approx(b["dimensions"], abs=1e-9)
    assert a["dimensions"][2] == pytest.approx(1.3, abs=0.05)


def test_hidden_sides_are_the_image_border_or_a_nearer_band_beside_the_box():
    from lift3d.lift.amodal import hidden_sides

    cfg = LiftConfig()
    depth = np.full((60, 100), 4.0, dtype=np.float32)
    bbox = [40.0, 10.0, 60.0, 50.0]
    free = (False, False)  # neither side edge is the image border
    assert hidden_sides(depth, bbox, free, 3.0, 1.0, cfg) == (0, 0)  # background beside it: its extent ends there
    depth[:, 62:68] = 2.0  # something nearer just right of it (the band starts 2 px beyond the edge)
    assert hidden_sides(depth, bbox, free, 3.0, 1.0, cfg) == (0, 1)
    assert hidden_sides(depth, bbox, free, 3.0, 0.6, cfg) == (0, 0)  # at depth scale 0.6 that band is 3.33 m: behind
    cut_left = (True, False)  # the left edge is the image border (as observe finds it)
    assert hidden_sides(depth, [0.0, 10.0, 60.0, 50.0], cut_left, 3.0, 1.0, cfg) == (1, 1)
    depth[:, 62:68] = 0.0  # no valid depth: unknown, not hidden
    assert hidden_sides(depth, bbox, free, 3.0, 1.0, cfg) == (0, 0)


@pytest.mark.parametrize("yaw", [0.0, 0.5])
def test_a_square_footprint_takes_half_its_completed_depth_from_the_seen_width(yaw):
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    lamp = box_on_floor(0.3, 3.0, [0.25, 1.5, 0.25], yaw, cam_h=1.2)  # a slim floor lamp (prior 0.40 x 0.40)
    depth, owner = raycast(K, H, W, [lamp], cam_h=1.2, wall_dist=5.0)
    ann = {"annotation_id": 1, "category": "floor lamp", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
    runs = {b: lift_image(depth, K, [ann], [0.0, 1.0, 0.0], LiftConfig(square_blend=b)).objects[0]
            for b in (0.0, 0.5, 1.0)}
    prior_like, half, seen = (sorted(runs[b]["dimensions"][::2]) for b in (0.0, 0.5, 1.0))
    assert seen[1] == pytest.approx(seen[0], abs=1e-6)  # all the way: the depth is the seen width
    assert half[1] == pytest.approx(0.5 * (prior_like[1] + seen[0]), abs=1e-6)
    assert prior_like[1] > 0.27 and seen[0] == pytest.approx(0.25, abs=0.02)
    assert iou_3d(runs[0.5], lamp) > iou_3d(runs[0.0], lamp) + 0.05
