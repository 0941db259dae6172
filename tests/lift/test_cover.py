"""Cover growth towards the 2D box's side edges (lift3d.lift.cover)."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov
from lift3d.lift.boxgeom import box_corners_px
from lift3d.lift.cover import cover_box_sides


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
