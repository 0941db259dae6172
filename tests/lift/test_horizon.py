"""The focal length from the floor's horizon and the vertical vanishing point (lift3d.lift.horizon), and the point grid
under a rescaled focal length (lift3d.lift.gravity.rescale_grid): rendered floors under known intrinsics, camera pitch
and depth-range distortion."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.camera import K_from_fov
from lift3d.lift.gravity import floor_height, point_and_normal_grid, rescale_grid
from lift3d.lift.horizon import horizon_focal

W, H = 640, 480


def pitched_down(pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    d = np.array([0.0, np.cos(p), np.sin(p)])
    c, s = np.cos(r), np.sin(r)
    return np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])


def floor_scene(K, down, cam_h=1.5, wall=40.0, gamma=1.0, max_floor=None):
    """The true depth of a floor ``cam_h`` below the camera out to a wall ``wall`` m ahead (along the floor), with a
    depth-range exponent ``gamma`` about the median (a network compressing the range); the floor beyond
    ``max_floor`` m is hidden behind a near wall."""
    vv, uu = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(uu - K[0, 2]) / K[0, 0], (vv - K[1, 2]) / K[1, 1], np.ones_like(uu)], axis=-1)
    down_dot = rays @ down
    with np.errstate(divide="ignore"):
        z_floor = np.where(down_dot > 1e-6, cam_h / down_dot, np.inf)
    # the wall: the plane whose normal is the forward direction along the floor
    fwd = np.array([0.0, 0.0, 1.0]) - down[2] * down
    fwd /= np.linalg.norm(fwd)
    stop = wall if max_floor is None else max_floor
    with np.errstate(divide="ignore"):
        z_wall = np.where(rays @ fwd > 1e-6, stop / (rays @ fwd), np.inf)
    z = np.minimum(z_floor, z_wall)
    z = np.where(np.isfinite(z), z, 100.0)
    m = np.median(z)
    return m * (z / m) ** gamma


def given(K, factor):
    K2 = K.copy()
    K2[0, 0] *= factor
    K2[1, 1] *= factor
    return K2


def vertical_under(K_true, K_given, down):
    """The down direction as the vertical vanishing point's pixel reads under the given intrinsics."""
    vp = K_true @ down
    d = np.linalg.inv(K_given) @ vp
    d = d / np.linalg.norm(d)
    return -d if d[1] < 0 else d


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_the_floors_horizon_and_the_vertical_point_fix_the_focal_length(gamma):
    K = K_from_fov(W, H, 65.0)
    down = pitched_down(12.0, 3.0)
    depth = floor_scene(K, down, gamma=gamma)
    Kg = given(K, 1.08)  # the model's focal length, 8 % too long
    dg = vertical_under(K, Kg, down)
    grid = point_and_normal_grid(depth, Kg)
    fh = floor_height(depth, Kg, dg, grid)
    out = horizon_focal(grid, Kg, dg, None, fh, 0.08)
    assert out is not None
    K2, d2, sd, level = out
    err = abs(np.log(K2[0, 0] / K[0, 0]))
    assert err < 0.3 * np.log(1.08)  # most of the 8 % error is gone
    assert sd < 0.05
    assert np.degrees(np.arccos(np.clip(d2 @ down, -1, 1))) < 0.5  # the down direction under the refined K
    if gamma == 1.0:  # undistorted depth: the floor 1.5 m below the camera
        assert level == pytest.approx(1.5, rel=0.03)


def test_a_level_camera_or_no_floor_gives_nothing():
    K = K_from_fov(W, H, 65.0)
    level = pitched_down(1.0)
    depth = floor_scene(K, level)
    grid = point_and_normal_grid(depth, K)
    assert horizon_focal(grid, K, level, None, floor_height(depth, K, level, grid), 0.08) is None
    down = pitched_down(12.0)
    depth = floor_scene(K, down)
    grid = point_and_normal_grid(depth, K)
    assert horizon_focal(grid, K, down, None, None, 0.08) is None  # no floor level
    assert horizon_focal(grid, K, down, None, floor_height(depth, K, down, grid), 0.0) is None  # the focal trusted


def test_a_floor_seen_only_near_the_camera_says_it_fixes_little():
    K = K_from_fov(W, H, 65.0)
    down = pitched_down(10.0)
    Kg = given(K, 0.93)
    dg = vertical_under(K, Kg, down)
    sds = []
    for max_floor in (None, 4.0):
        depth = floor_scene(K, down, max_floor=max_floor)
        grid = point_and_normal_grid(depth, Kg)
        out = horizon_focal(grid, Kg, dg, None, floor_height(depth, Kg, dg, grid), 10.0)  # (an uninformative prior)
        assert out is not None
        sds.append(out[2])
    assert sds[1] > 2.0 * sds[0]  # the horizon extrapolated far beyond the floor seen



def test_a_vertical_point_of_three_segments_states_the_spread_of_the_resamples_that_fix_it():
    """Three world-vertical posts fix the vertical point.  A resample that keeps one of them fixes no point and one
    that keeps two nearly parallel ones puts it far off: such draws once made the stated spread of the focal length
    ten times its real error, so the horizon's estimate lost its weight against the prior."""
    K = K_from_fov(W, H, 65.0)
    down = pitched_down(8.0, 2.0)
    depth = floor_scene(K, down)
    Kg = given(K, 1.08)
    dg = vertical_under(K, Kg, down)
    grid = point_and_normal_grid(depth, Kg)

    def post(x, z):  # a post standing on the floor at (x, z), 0.5-3 m above it, in pixels under the true K
        foot = np.array([x, 0.0, z]) + 1.5 * down
        ends = [K @ (foot - h * down) for h in (0.5, 3.0)]
        a, b = (e[:2] / e[2] for e in ends)
        return 0.5 * (a + b), (b - a) / np.linalg.norm(b - a), np.linalg.norm(b - a)

    posts = [post(-3.0, 12.0), post(0.0, 14.0), post(3.0, 16.0)]
    vertical = tuple(np.array([p[k] for p in posts]) for k in range(3))
    out = horizon_focal(grid, Kg, dg, vertical, floor_height(depth, Kg, dg, grid), 10.0)  # (an uninformative prior)
    assert out is not None
    assert abs(np.log(out[0][0, 0] / K[0, 0])) < 0.01
    assert out[2] < 0.25  # (the variance of all resamples said 1.1)

def test_rescale_grid_is_the_grid_under_the_scaled_focal_length():
    K = K_from_fov(W, H, 65.0)
    down = pitched_down(15.0)
    depth = floor_scene(K, down)
    a = point_and_normal_grid(depth, given(K, 1.1))
    b = rescale_grid(point_and_normal_grid(depth, K), 1.1)
    assert np.allclose(a[0], b[0], atol=1e-9)
    assert np.array_equal(a[3], b[3])
    assert np.allclose(a[1][a[3]], b[1][b[3]], atol=1e-9)
