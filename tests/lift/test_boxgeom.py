"""The ground-plane box geometry (lift3d.lift.boxgeom): faces, corners, the final oriented box."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov, project
from lift3d.lift.boxgeom import box_corners_cam, box_corners_px, oriented_box, outward


def test_outward_faces():
    assert [outward(k) for k in range(4)] == [-1.0, 1.0, -1.0, 1.0]  # [ul, uh, vl, vh]


def test_corners_in_the_camera_and_the_image():
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    P = box_corners_cam(G, 1.0, 0.0, -0.5, 0.5, 2.0, 3.0, 0.2, 1.2)
    assert P.shape == (8, 3)
    assert np.allclose(sorted(set(np.round(P[:, 0], 9))), [-0.5, 0.5])
    assert np.allclose(sorted(set(np.round(P[:, 1], 9))), [0.2, 1.2])
    assert np.allclose(sorted(set(np.round(P[:, 2], 9))), [2.0, 3.0])
    K = K_from_fov(200, 150, 70.0)
    np.testing.assert_allclose(box_corners_px(K, G, 1.0, 0.0, -0.5, 0.5, 2.0, 3.0, 0.2, 1.2), project(P, K)[:, 0])
    behind = box_corners_px(K, G, 1.0, 0.0, -0.5, 0.5, -1.0, 3.0, 0.2, 1.2)
    assert np.isnan(behind).sum() == 4  # corners behind the camera have no image position


@pytest.mark.parametrize("deg", [0.0, 30.0, -60.0])
def test_oriented_box_length_axis_yaw_and_centre(deg):
    th = np.radians(deg)
    c, s = np.cos(th), np.sin(th)
    G = np.eye(3)
    centre, dims, R, yaw, ext = oriented_box([-0.5, 0.5, 2.8, 3.2], c, s, 0.1, 0.9, G, 0.01)
    assert np.allclose(ext, [1.0, 0.4]) and np.allclose(dims, [0.4, 0.8, 1.0])
    # the length axis is u = (c, s) in (x, forward): yaw = atan2(c, s), folded into (-pi/2, pi/2]
    want = np.arctan2(c, s)
    want = want - np.pi if want > np.pi / 2 else want + np.pi if want <= -np.pi / 2 else want
    assert yaw == pytest.approx(want)
    assert np.allclose(centre, [-3.0 * s, 0.5, 3.0 * c])  # (u, v) = (0, 3)
    assert np.allclose(R @ R.T, np.eye(3)) and np.allclose(R[:, 1], [0.0, 1.0, 0.0])


def test_oriented_box_keeps_a_flat_face_as_a_sliver():
    _, dims, _, _, _ = oriented_box([0.0, 0.0, 2.0, 2.5], 1.0, 0.0, 0.3, 0.3, np.eye(3), 0.01)
    assert np.allclose(dims, [0.005, 0.005, 0.5])


def test_corner_span_is_the_corners_x_range():
    from lift3d.lift.boxgeom import corner_span
    K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
    G = gravity_frame(np.array([0.05, 0.97, 0.2]))
    for yaw in (0.0, 0.4, -1.1):
        c, s = np.cos(yaw), np.sin(yaw)
        span = corner_span(K, G, c, s, 0.2, 1.2)
        e = [-0.5, 0.4, 2.0, 3.1]
        xs = box_corners_px(K, G, c, s, *e, 0.2, 1.2)
        assert span(e) == pytest.approx((xs.min(), xs.max()), rel=1e-12)
    assert corner_span(K, G, 1.0, 0.0, 0.2, 1.2)([-0.5, 0.5, -1.0, 3.0]) == (None, None)  # a corner behind
