"""Amodal completion (lift3d.lift.amodal)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.camera import K_from_fov
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.priors import lookup
from lift_scenes import box_on_floor, lamp_on_table


def test_an_occluded_sliver_gets_its_categorys_height_from_the_unseen_side():
    from lift_scenes import bbox_of, lamp_on_table, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    z = 3.0
    boxes, lamp = lamp_on_table(z)
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
    from lift_scenes import bbox_of, lamp_on_table, raycast

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
    from lift_scenes import bbox_of, lamp_on_table, raycast

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
    from lift_scenes import bbox_of, lamp_on_table, raycast

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
    from lift_scenes import bbox_of, lamp_on_table, raycast

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



def test_amodal_completion_with_prior_for_head_on_view(scene):
    # camera at the object's mid height looking straight at its front face: only one face visible
    gt = box_on_floor(0.0, 4.0, [0.9, 0.85, 2.0], np.pi / 2, cam_h=0.43)  # sofa seen from the front
    depth, K, anns, _ = scene([gt], cam_h=0.43, wall_dist=6.0, categories={0: "sofa"})
    raw = lift_image(depth, K, anns, [0.0, 1.0, 0.0], LiftConfig(amodal=False)).objects[0]
    done = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert min(raw["dimensions"][0], raw["dimensions"][2]) < 0.2  # the visible surface is a thin slab
    assert "amodal_completed" in done["flags"]
    assert sorted([done["dimensions"][0], done["dimensions"][2]])[0] == pytest.approx(0.9, abs=0.15)
    assert iou_3d(done, gt) > 0.7 > iou_3d(raw, gt)
    # the completion extends away from the camera: the front face stays where it was seen
    assert done["center_cam"][2] > raw["center_cam"][2]


def _wall_depth(z, W=200, H=150):
    K = K_from_fov(W, H, 70.0)
    return np.full((H, W), z, dtype=np.float64), K


def test_occluded_slab_is_hidden_behind_a_nearer_surface_not_in_free_space():
    from lift3d.lift.amodal import occluded_slab

    G = np.eye(3)  # camera frame = gravity frame (down = +y)
    slab = [-0.3, 0.3, 3.0, 3.4]  # u = x from -0.3 to 0.3, v = forward from 3.0 to 3.4 (yaw 0)
    near, K = _wall_depth(2.0)  # everything in the slab's projection shows a surface at 2 m: hidden
    assert occluded_slab(near, K, G, 1.0, 0.0, slab, -0.2, 0.4, 1.0, LiftConfig())
    far, _ = _wall_depth(6.0)  # a wall at 6 m: free space seen through the slab
    assert not occluded_slab(far, K, G, 1.0, 0.0, slab, -0.2, 0.4, 1.0, LiftConfig())
    # the depth scale divides the image's depths: 2 m read as 6 m at scale 3 is in front again
    assert occluded_slab(far, K, G, 1.0, 0.0, slab, -0.2, 0.4, 3.0, LiftConfig())
    # a slab reaching behind the camera plane is not tested
    assert not occluded_slab(near, K, G, 1.0, 0.0, [-0.3, 0.3, -1.0, 3.4], -0.2, 0.4, 1.0, LiftConfig())


def test_complete_height_from_the_unseen_side():
    from lift3d.lift.amodal import complete_height
    from lift3d.lift.result import Observation

    table = lookup("table")  # h 0.75
    q = np.zeros((30, 3))

    def ob(flags, trunc_v=False, y1=50.0):
        return Observation({}, [10.0, y1, 60.0, 90.0], False, q, q[:, 2], flags, 1.0, table, trunc_v=trunc_v)

    cfg = LiftConfig()
    # occluded sliver 0.2 m tall (< 0.5 x 0.75): the prior's height below the seen top ...
    assert complete_height(ob(["occluded"]), 0.4, 0.6, False, None, 1.0, cfg) == (0.4, pytest.approx(1.15), False)
    # ... down to the floor at most, then on it
    assert complete_height(ob(["occluded"]), 0.4, 0.6, False, 1.0, 1.0, cfg) == (0.4, 1.0, True)
    # cut by the image's top border: the prior's height above the seen bottom
    assert complete_height(ob([], trunc_v=True, y1=0.0), 0.4, 0.6, False, None, 1.0, cfg) == (
        pytest.approx(-0.15), 0.6, False)
    # fully seen, on the floor, or off: unchanged
    assert complete_height(ob([]), 0.4, 0.6, False, None, 1.0, cfg) == (0.4, 0.6, False)
    assert complete_height(ob(["occluded"]), 0.4, 0.6, True, None, 1.0, cfg) == (0.4, 0.6, True)
    assert complete_height(ob(["occluded"]), 0.4, 0.6, False, None, 1.0, LiftConfig(height_complete=0)) == (
        0.4, 0.6, False)


def test_view_axes_and_prior_assignment():
    from lift3d.lift.amodal import assign_prior, view_axes

    # yaw 0, the box straight ahead: u (= x) lies across the view, v (= forward) along it; the centre is at
    # u = 0 (>= 0: the far face is the upper one, e4 index 1) and v = 3 (the upper v face, index 3)
    vis, across, far = view_axes(1.0, 0.0, [-0.5, 0.5, 2.8, 3.2])
    assert np.allclose(vis, [1.0, 0.0]) and across == 0 and far == (1, 3)
    vis, across, far = view_axes(1.0, 0.0, [-3.5, -2.5, 1.8, 2.2])  # to the left, nearer
    assert across == 1 and far == (0, 3)
    # the prior's long side goes to the axis whose seen extent needs it (a seen 1.2 m axis takes the 1.4 m side)
    assert np.allclose(assign_prior(np.array([1.2, 0.3]), np.array([1.0, 0.0]), 0.8, 1.4), [1.4, 0.8])
    assert np.allclose(assign_prior(np.array([0.3, 1.2]), np.array([1.0, 0.0]), 0.8, 1.4), [0.8, 1.4])


def test_square_footprint_blends_the_completed_depth_towards_the_seen_width():
    from lift3d.lift.amodal import square_footprint

    lamp = lookup("lamp")  # about square footprint
    e4 = [-0.2, 0.2, 3.0, 3.6]  # width 0.4 across (u), depth 0.6 along the view (v, completed)
    out = square_footprint(list(e4), np.array([0.4, 0.1]), np.array([0.0, 0.5]), 0, (1, 3), lamp, LiftConfig())
    assert out[:3] == e4[:3] and out[3] == pytest.approx(3.5)  # 0.6 -> 0.6 + 0.5 x (0.4 - 0.6) = 0.5
    # nothing was completed along the view, or a long footprint (a sofa): unchanged
    assert square_footprint(list(e4), np.array([0.4, 0.6]), np.zeros(2), 0, (1, 3), lamp, LiftConfig()) == e4
    assert square_footprint(list(e4), np.array([0.4, 0.1]), np.array([0.0, 0.5]), 0, (1, 3), lookup("sofa"),
                            LiftConfig()) == e4


def test_an_axis_whose_faces_the_camera_cannot_see_is_along_the_view():
    """A truck seen from straight behind, off the view's axis (its rear face from u = 0.07 to 2.25 m, 3.8 m ahead):
    the camera lies between the planes of its sides, so no side is seen and the forward axis is wholly along the
    view, however far the centre lies to the side; the seen face takes the prior's short side and the unseen
    length the long one."""
    from lift3d.lift.amodal import assign_prior, view_axes

    e4 = [0.07, 2.25, 3.83, 4.04]
    vis, across, far = view_axes(1.0, 0.0, e4)
    assert vis[1] < 0.02 and vis[0] > 0.9 and across == 0 and far == (1, 3)
    truck = lookup("truck")
    pe = assign_prior(np.array([2.18, 0.21]), vis, *truck.horizontal)
    assert pe[1] == pytest.approx(max(truck.horizontal)) and pe[0] == pytest.approx(min(truck.horizontal))
    # the same box seen from beside its side plane (the camera 0.5 m to the left of it): the side shows, a little
    vis, _, _ = view_axes(1.0, 0.0, [0.5, 2.68, 3.83, 4.04])
    assert 0.1 < vis[1] < 0.2
