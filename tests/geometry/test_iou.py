"""Exact 3D IoU: analytic cases, fast path == general path, and an independent Monte Carlo estimate."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import Box3D, gravity_frame, rot_y
from lift3d.geometry.iou import (convex_polygon_intersection, intersection_volume_general, iou_3d,
                                 iou_3d_matrix, shares_up_axis)


def _rand_rot(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _mc_iou(a: Box3D, b: Box3D, n=200_000, seed=0):
    """Independent estimate: sample the union's bounding box uniformly, count memberships."""
    rng = np.random.default_rng(seed)
    c = np.concatenate([a.corners(), b.corners()])
    lo, hi = c.min(0), c.max(0)
    p = lo + rng.random((n, 3)) * (hi - lo)
    ia, ib = a.contains(p), b.contains(p)
    inter, union = np.sum(ia & ib), np.sum(ia | ib)
    return inter / union if union else 0.0


def test_identical_and_disjoint():
    a = Box3D.from_yaw([0, 0, 5], [1, 2, 3], 0.3)
    assert iou_3d(a, a) == pytest.approx(1.0, abs=1e-12)
    assert iou_3d(a, a, general=True) == pytest.approx(1.0, abs=1e-9)
    b = Box3D.from_yaw([10, 0, 5], [1, 2, 3], 0.3)
    assert iou_3d(a, b) == 0.0 and iou_3d(a, b, general=True) == 0.0


def test_axis_aligned_analytic():
    a = Box3D([0, 0, 0], np.array([2.0, 2.0, 2.0]), np.eye(3))
    b = Box3D([1, 0.5, 0], np.array([2.0, 2.0, 2.0]), np.eye(3))
    inter = 1.0 * 1.5 * 2.0
    exp = inter / (8 + 8 - inter)
    assert iou_3d(a, b) == pytest.approx(exp, abs=1e-12)
    assert iou_3d(a, b, general=True) == pytest.approx(exp, abs=1e-12)


def test_touching_faces_give_zero():
    a = Box3D([0, 0, 0], np.array([1.0, 1.0, 1.0]), np.eye(3))
    b = Box3D([1, 0, 0], np.array([1.0, 1.0, 1.0]), np.eye(3))
    assert iou_3d(a, b) == pytest.approx(0.0, abs=1e-12)
    assert iou_3d(a, b, general=True) == pytest.approx(0.0, abs=1e-12)


def test_rotated_square_octagon():
    # unit cube and itself turned 45 degrees about the vertical: the cross-section is a regular octagon
    a = Box3D([0, 0, 0], np.array([1.0, 1.0, 1.0]), np.eye(3))
    b = Box3D([0, 0, 0], np.array([1.0, 1.0, 1.0]), rot_y(np.pi / 4))
    area = 2.0 * (np.sqrt(2.0) - 1.0)  # octagon inscribed between the two unit squares
    exp = area / (2.0 - area)
    assert iou_3d(a, b) == pytest.approx(exp, abs=1e-12)
    assert iou_3d(a, b, general=True) == pytest.approx(exp, abs=1e-12)


def test_tilted_cube_analytic():
    # a cube turned 90 degrees about any axis is itself: IoU 1 through the general path
    a = Box3D([0.3, -0.2, 4.0], np.array([1.0, 1.0, 1.0]), np.eye(3))
    Rx = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)
    b = Box3D(a.center, a.dims, Rx)
    assert not shares_up_axis(a, Box3D(a.center, a.dims, _rand_rot(np.random.default_rng(3))))
    assert iou_3d(a, b) == pytest.approx(1.0, abs=1e-9)


def test_polygon_clipping_square():
    p = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    q = p + 1.0
    r = convex_polygon_intersection(p, q[::-1])  # orientation must not matter
    xs = sorted(map(tuple, np.round(r, 12)))
    assert xs == [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0), (2.0, 2.0)]


def test_fast_path_equals_general_path_gravity_aligned():
    rng = np.random.default_rng(1)
    down = np.array([0.1, 0.95, 0.25])
    down /= np.linalg.norm(down)
    for _ in range(60):
        a = Box3D.from_yaw(rng.normal(0, 0.3, 3) + [0, 0, 4], rng.uniform(0.3, 2.0, 3), rng.uniform(-3, 3), down)
        b = Box3D.from_yaw(a.center + rng.normal(0, 0.4, 3), rng.uniform(0.3, 2.0, 3), rng.uniform(-3, 3), down)
        assert shares_up_axis(a, b)
        assert iou_3d(a, b) == pytest.approx(iou_3d(a, b, general=True), abs=1e-9)


def test_fast_path_with_flipped_up_axis():
    a = Box3D.from_yaw([0, 0, 4], [1.0, 0.8, 1.5], 0.4)
    R = a.R @ np.diag([1.0, -1.0, -1.0])  # same box, column 1 pointing up
    b = Box3D(np.array([0.2, 0.1, 4.1]), a.dims, R)
    assert shares_up_axis(a, b)
    assert iou_3d(a, b) == pytest.approx(iou_3d(a, b, general=True), abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_general_path_against_monte_carlo(seed):
    rng = np.random.default_rng(100 + seed)
    a = Box3D(np.array([0.0, 0.0, 5.0]), rng.uniform(0.5, 2.0, 3), _rand_rot(rng))
    b = Box3D(a.center + rng.normal(0, 0.3, 3), rng.uniform(0.5, 2.0, 3), _rand_rot(rng))
    exact = iou_3d(a, b)
    mc = _mc_iou(a, b, seed=seed)
    assert exact == pytest.approx(mc, abs=0.006)
    if exact > 0.05:
        assert exact == pytest.approx(mc, rel=0.04)


def test_general_intersection_volume_contained_box():
    a = Box3D(np.zeros(3), np.array([4.0, 4.0, 4.0]), _rand_rot(np.random.default_rng(5)))
    b = Box3D(np.array([0.1, 0.2, -0.1]), np.array([1.0, 0.5, 0.7]), _rand_rot(np.random.default_rng(6)))
    assert intersection_volume_general(a, b) == pytest.approx(0.35, abs=1e-9)
    assert iou_3d(a, b) == pytest.approx(0.35 / 64.0, abs=1e-9)


def test_matrix_and_input_forms():
    a = Box3D.from_yaw([0, 0, 4], [1, 1, 1], 0.0)
    row = a.to_row()
    tup = (a.center, a.dims, a.R)
    m = iou_3d_matrix([a, row], [tup, Box3D.from_yaw([5, 0, 4], [1, 1, 1], 0.0)])
    assert m.shape == (2, 2)
    assert np.allclose(m[:, 0], 1.0) and np.allclose(m[:, 1], 0.0)
    z = Box3D(a.center, np.array([0.0, 1.0, 1.0]), a.R)
    assert iou_3d(a, z) == 0.0
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    assert np.allclose(G, np.eye(3))
