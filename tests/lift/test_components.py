"""Choosing the object's connected components (lift3d.lift.components)."""

from __future__ import annotations

import numpy as np

from lift3d.lift import LiftConfig


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


def test_inside_share_of_a_surface_bounded_by_the_box_and_of_one_crossing_it():
    from scipy import ndimage

    from lift3d.lift.components import inside_share

    # a 20 x 20 crop inside a 40 x 40 surround (offset 10, 10): component 1 ends at the box's edges, component 2
    # is a bar that goes on beyond the box's left and right edges
    lab = np.zeros((20, 20), dtype=np.int64)
    lab[2:10, 3:17] = 1
    lab[14:18, :] = 2
    win = np.zeros((40, 40), dtype=bool)
    win[24:28, :] = True  # the bar outside the box
    share = inside_share(lab, 2, (win, (10, 10)))
    assert share[0] == 1.0
    assert share[1] == 0.5  # 20 of its 40 columns lie inside the box
    # two of the crop's components joined outside the box (a column just beyond its right edge) are one surface
    lab[2:10, 17:] = 1
    win[12:28, 30] = True
    lab2, n = ndimage.label(lab > 0)
    assert n == 2
    both = inside_share(lab2, n, (win, (10, 10)))
    assert both[0] == both[1] < 1.0


def _dresser_behind_footboard():
    """A dresser (1.2 x 0.8 x 0.5 m) against a wall, and 1.5 m in front of it a 2.6 m long, 0.77 m high footboard
    that hides the lower half of the dresser and goes on beyond its 2D box on the left, right and below; the box
    is the projection of the dresser's 3D box (drawn around the whole dresser)."""
    from lift3d.geometry.camera import K_from_fov, project
    from lift_scenes import box_on_floor, raycast

    W, H, cam_h = 320, 240, 1.3
    K = K_from_fov(W, H, 70.0)
    dresser = box_on_floor(-0.3, 4.0, [1.2, 0.8, 0.5], 0.0, cam_h=cam_h)
    footboard = box_on_floor(0.5, 2.5, [2.6, 0.77, 0.08], 0.0, cam_h=cam_h)
    depth, owner = raycast(K, H, W, [dresser, footboard], cam_h=cam_h, wall_dist=4.3)
    uv = project(dresser.corners(), K)
    bbox = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    return depth, owner, K, bbox, cam_h


def test_box_only_a_nearer_footboard_crossing_the_box_is_not_the_object():
    from lift3d.geometry.boxes import gravity_frame
    from lift3d.lift.clean import flying_pixels, surround_pixels
    from lift3d.lift.components import select_components
    from lift3d.lift.crop import read_box_crop, read_surround

    depth, owner, K, bbox, cam_h = _dresser_behind_footboard()
    cfg = LiftConfig()
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    cr = read_box_crop(depth, K, bbox, cfg.crop.max_crop_px)
    ok = cr.valid & ~flying_pixels(cr.d, cr.valid, cfg.clean.flying_rel)
    r0, _, c0, _ = cr.bounds
    own = owner[r0::cr.st, c0::cr.st][:ok.shape[0], :ok.shape[1]]
    assert (own[ok] == 1).sum() > (own[ok] == 0).sum()  # the footboard fills more of the box than the dresser

    def surround():
        win, offset = read_surround(depth, K, cr, cfg.components.surround_reach)
        return surround_pixels(win, G, cam_h, cfg), offset

    sel = select_components(ok, cr.dz, True, [], cr.bounds, cr.st, bbox, cfg, surround)
    assert (own[sel] == 0).sum() == (own[ok] == 0).sum()  # the whole dresser ...
    assert not (own[sel] == 1).any()  # ... and nothing of the footboard
    # without the surround (the former rule: centre-weighted count x span) the footboard was taken
    old = select_components(ok, cr.dz, True, [], cr.bounds, cr.st, bbox, cfg, None)
    assert (own[old] == 1).all()


def test_solid_components_cut_narrow_bridges_and_keep_thin_parts():
    from scipy import ndimage

    from lift3d.lift.components import solid_components

    m = np.zeros((30, 40), dtype=bool)
    m[2:14, 2:18] = True  # two blocks ...
    m[2:14, 22:38] = True
    m[7:8, 18:22] = True  # ... joined by a bridge 1 px wide
    m[20:28, 2:38] = True  # a third block, ...
    m[14:20, 9:13] = True  # ... joined to the first by a neck 4 px wide
    lab, n = solid_components(m, 0)
    assert n == 1 and np.array_equal(lab, ndimage.label(m)[0])  # bridge_px 0: plain connectivity
    lab, n = solid_components(m, 1)
    assert n == 2  # the 4 px neck holds, the 1 px bridge does not
    assert lab[5, 5] == lab[25, 20] != lab[5, 30]
    assert np.array_equal(lab > 0, m)  # every pixel keeps a label
    assert lab[7, 18] == lab[5, 5] and lab[7, 21] == lab[5, 30]  # the bridge is shared out by nearness
    # a bridge 2 px wide is cut too, 3 px wide holds (bridge_px 1 cuts at most 2 * bridge_px)
    for width, parts in ((2, 2), (3, 1)):
        b = np.zeros((16, 40), dtype=bool)
        b[2:14, 2:18] = b[2:14, 22:38] = True
        b[6:6 + width, 18:22] = True
        assert solid_components(b, 1)[1] == parts, width
    # a part thinner than the bridges (a pole 2 px wide) keeps its own label
    t = np.zeros((20, 20), dtype=bool)
    t[2:18, 5:7] = True
    t[2:10, 12:19] = True
    lab, n = solid_components(t, 1)
    assert n == 2 and lab[10, 5] != lab[5, 15] and np.array_equal(lab > 0, t)


def test_box_only_a_footboard_joined_to_the_object_by_a_narrow_bridge_is_not_the_object():
    """A dense depth map (a model's has no holes) can join the footboard to the dresser through a line of pixels
    where the discontinuity test leaves a gap (at the crop's edge, or where the step is shallow): one pixel wide,
    it does not make the two surfaces one component."""
    from lift3d.geometry.boxes import gravity_frame
    from lift3d.lift.clean import flying_pixels, surround_pixels
    from lift3d.lift.components import select_components
    from lift3d.lift.crop import read_box_crop, read_surround

    depth, owner, K, bbox, cam_h = _dresser_behind_footboard()
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    cr = read_box_crop(depth, K, bbox, LiftConfig().crop.max_crop_px)
    ok = cr.valid & ~flying_pixels(cr.d, cr.valid, LiftConfig().clean.flying_rel)
    r0, _, c0, _ = cr.bounds
    own = owner[r0::cr.st, c0::cr.st][:ok.shape[0], :ok.shape[1]]
    # a one-pixel bridge down the crop's middle column, across the removed edge pixels
    col = ok.shape[1] // 2
    rows = np.nonzero(own[:, col] >= 0)[0]
    ok[rows.min():rows.max() + 1, col] = True

    def run(bridge_px):
        cfg = LiftConfig.from_dict({"components": {"bridge_px": bridge_px}})

        def surround():
            win, offset = read_surround(depth, K, cr, cfg.components.surround_reach)
            return surround_pixels(win, G, cam_h, cfg), offset

        return select_components(ok, cr.dz, True, [], cr.bounds, cr.st, bbox, cfg, surround)

    sel = run(1)
    assert (own[sel] == 0).sum() >= 0.95 * (own[ok] == 0).sum()  # the dresser ...
    assert (own[sel] == 1).sum() <= 2  # ... and nothing of the footboard but bridge pixels
    old = run(0)  # with plain connectivity the bridge made them one surface, the footboard's in the main
    assert (own[old] == 1).sum() > 100
