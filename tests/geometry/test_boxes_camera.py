"""The written-down conventions, checked against exact hand-computed ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import (
    CORNER_SIGNS, EDGES, FRONT_FACE, Box3D, box_corners, gravity_frame, is_rotation, rotation_from_yaw,
    yaw_from_rotation,
)
from lift3d.geometry.camera import IntrinsicsError, K_from_fov, as_K, backproject, backproject_depth, project


def test_level_camera_gravity_frame_is_identity():
    assert np.array_equal(gravity_frame([0, 1, 0]), np.eye(3))
    assert np.array_equal(gravity_frame(None), np.eye(3))


def test_yaw_sense_matches_omni3d():
    # yaw = 0: length axis points forward (+z); yaw = +90 deg: length axis points right (+x)
    assert np.allclose(rotation_from_yaw(0.0)[:, 2], [0, 0, 1])
    assert np.allclose(rotation_from_yaw(np.pi / 2)[:, 2], [1, 0, 0])
    assert np.allclose(rotation_from_yaw(np.pi / 2)[:, 1], [0, 1, 0])


def test_corners_of_an_axis_aligned_box():
    c = box_corners([1.0, 2.0, 5.0], [2.0, 4.0, 6.0], np.eye(3))
    assert c.shape == (8, 3)
    assert np.array_equal(c[0], [0.0, 0.0, 2.0])  # (-w/2, -h/2, -l/2): left, top, back
    assert np.array_equal(c[6], [2.0, 4.0, 8.0])  # (+w/2, +h/2, +l/2): right, bottom, front
    assert all(CORNER_SIGNS[i, 2] == 1 for i in FRONT_FACE)
    assert len(EDGES) == 12 and all(np.sum(CORNER_SIGNS[a] != CORNER_SIGNS[b]) == 1 for a, b in EDGES)


def test_corners_of_a_rotated_box_exact():
    # yaw 90 deg: local length (z) axis -> camera +x, local width (x) axis -> camera -z
    c = box_corners([0.0, 0.0, 10.0], [2.0, 1.0, 4.0], rotation_from_yaw(np.pi / 2))
    front = c[list(FRONT_FACE)]
    assert np.allclose(front[:, 0], 2.0)  # the front face sits at x = +l/2
    assert np.allclose(sorted(set(np.round(c[:, 2], 9))), [9.0, 11.0])  # z spans the width 2


@pytest.mark.parametrize("down", [[0, 1, 0], [0.1, 0.98, 0.2], [-0.2, 0.97, -0.1]])
@pytest.mark.parametrize("yaw", [-3.0, -1.2, 0.0, 0.7, 2.9])
def test_yaw_round_trip_and_gravity_axis(down, yaw):
    R = rotation_from_yaw(yaw, down)
    d = np.asarray(down, float) / np.linalg.norm(down)
    assert is_rotation(R)
    assert np.allclose(R[:, 1], d)  # column 1 is the down vector
    assert np.isclose(yaw_from_rotation(R, down), yaw)
    G = gravity_frame(down)
    assert np.isclose(G[2, 0], 0.0)  # e_x has no component along the optical axis
    assert G[2, 2] > 0  # e_fwd points away from the camera


def test_box_row_round_trip_and_contains():
    b = Box3D.from_yaw([0.5, 0.2, 4.0], [1.0, 0.8, 2.0], 0.4, [0, 1, 0])
    b2 = Box3D.from_row(b.to_row())
    assert np.allclose(b2.corners(), b.corners())
    assert np.isclose(b.volume, 1.6)
    inside = b.contains(np.vstack([b.center, b.corners() * 1.0]))
    assert inside.all()
    assert not b.contains(np.array([[0.5, 0.2, 4.0 + 2.0]]))[0]


def test_backproject_project_exact():
    K = np.array([[500.0, 0, 319.5], [0, 400.0, 239.5], [0, 0, 1]])
    # the principal point at depth 2 is straight ahead
    assert np.allclose(backproject(319.5, 239.5, 2.0, K), [0, 0, 2])
    # 100 px right of it at depth 5 is x = 100 * 5 / 500 = 1 m
    assert np.allclose(backproject(419.5, 239.5, 5.0, K), [1.0, 0, 5.0])
    pts = np.array([[1.0, -0.5, 4.0], [-2.0, 1.0, 8.0]])
    uv = project(pts, K)
    assert np.allclose(uv, [[444.5, 189.5], [194.5, 289.5]])
    assert np.allclose(backproject(uv[:, 0], uv[:, 1], pts[:, 2], K), pts)


def test_backproject_depth_skips_invalid():
    K = K_from_fov(4, 3, 90.0)
    d = np.array([[1.0, 0.0, 2.0, np.nan], [1.0, 1.0, -1.0, 3.0], [0.5, 0.5, 0.5, 0.5]], dtype=np.float32)
    pts, pix = backproject_depth(d, K)
    assert len(pts) == 9 and np.all(pts[:, 2] > 0)
    assert np.allclose(K_from_fov(640, 480, 90.0)[0, 0], 320.0)


@pytest.mark.parametrize("bad", [None, [1, 2, 3], [[0, 0, 1], [0, 0, 1], [0, 0, 1]],
                                 [[500, 0, 1], [0, 500, 1], [0, 1, 1]], [[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]]])
def test_bad_intrinsics_are_rejected(bad):
    with pytest.raises(IntrinsicsError):
        as_K(bad)
