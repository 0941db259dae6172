"""Cleaning the crop (lift3d.lift.clean): flying pixels, sparse outliers, depth smoothing, floor pixels."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.camera import K_from_fov
from lift3d.lift import LiftConfig
from lift3d.lift.clean import drop_floor_pixels, flying_pixels, object_points, ramp_pixels, robust_keep, smoothed_points
from lift3d.lift.crop import read_box_crop
from lift3d.lift.result import LiftReject


def test_flying_pixels_are_the_two_sides_of_a_depth_step_only():
    # a slanted plane (1/z affine in the column) on the left, a step to a far plane from column 10 on
    u = np.arange(20, dtype=np.float64)
    d = np.tile(np.where(u < 10, 1.0 / (0.5 + 0.01 * u), 4.0), (6, 1))
    fly = flying_pixels(d, d > 0, 0.06)
    assert fly[:, 9].all() and fly[:, 10].all()  # the edge pixels on both sides of the step
    assert not fly[:, :9].any() and not fly[:, 11:].any()  # a grazing plane is no discontinuity
    # a hole is not a discontinuity: the pixels beside it stay
    d2 = np.full((6, 20), 2.0)
    d2[:, 5] = 0.0
    assert not flying_pixels(d2, d2 > 0, 0.06).any()


def test_a_soft_edge_ramp_is_a_discontinuity_where_the_second_differences_miss_it():
    """A soft-edged map turns a step from 15.6 m to 40 m into a ramp of in-between depths (here linear over 5 px, as
    an upsampled prediction's): the second differences of 1/z flag its near end but not its flat far end, so the two
    surfaces stay joined; the log-depth change across half a ramp each side flags every pixel of it.  A grazing plane
    (1/z affine) and a gentle slope are no discontinuity."""
    u = np.arange(40, dtype=np.float64)
    ramp = np.clip((u - 18.0) / 5.0, 0.0, 1.0)  # 0 before column 18, 1 from column 23
    d = np.tile(15.6 + (40.0 - 15.6) * ramp, (6, 1))
    fly = flying_pixels(d, d > 0, 0.06)
    assert not fly[:, 19:24].all()  # a path across the ramp survives the second-difference test
    on = ramp_pixels(d, d > 0, 3)
    assert on[:, 18:24].all()  # the whole ramp
    assert not on[:, :14].any() and not on[:, 28:].any()  # the surfaces on either side
    plane = np.tile(1.0 / (0.5 + 0.01 * u), (6, 1))
    slope = np.tile(10.0 + 0.05 * u, (6, 1))
    assert not ramp_pixels(plane, plane > 0, 3).any() and not ramp_pixels(slope, slope > 0, 3).any()
    holes = np.full((6, 40), 5.0)
    holes[:, 10] = 0.0
    assert not ramp_pixels(holes, holes > 0, 3).any()  # a hole is no discontinuity


def test_robust_keep_drops_only_a_far_outlier():
    rng = np.random.default_rng(0)
    q = rng.uniform(0.0, 1.0, (200, 3))
    q[17] = [0.5, 0.5, 9.0]  # 8 m beyond the range
    keep = robust_keep(q, 8.0)
    assert not keep[17] and keep.sum() == 199


def test_smoothed_points_are_exact_on_a_plane_and_average_out_noise():
    K = K_from_fov(40, 30, 60.0)
    rows, cols = np.mgrid[0:30, 0:40].astype(np.float64)
    inv = 0.3 + 0.004 * cols - 0.002 * rows  # a plane: 1/z affine in the pixel coordinates
    dz = 1.0 / inv
    sel = np.zeros(dz.shape, dtype=bool)
    sel[5:25, 8:30] = True
    iv, iu = np.nonzero(sel)
    P, z = smoothed_points(sel, dz, iv, iu, K, 0, 0, 1, 2)
    np.testing.assert_allclose(z, dz[iv, iu], rtol=1e-9)  # silhouette pixels included
    assert P.shape == (len(iv), 3) and np.allclose(P[:, 2], z)
    noisy = dz * (1.0 + 0.01 * np.random.default_rng(1).standard_normal(dz.shape))
    _, zs = smoothed_points(sel, noisy, iv, iu, K, 0, 0, 1, 2)
    inner = (iv >= 8) & (iv < 22) & (iu >= 11) & (iu < 27)
    err_raw = np.std(noisy[iv, iu][inner] / dz[iv, iu][inner] - 1.0)
    err_s = np.std(zs[inner] / dz[iv, iu][inner] - 1.0)
    assert err_s < 0.5 * err_raw


def test_drop_floor_pixels_and_object_points():
    K = K_from_fov(40, 30, 60.0)
    d = np.full((30, 40), 2.0, dtype=np.float32)
    cr = read_box_crop(d, K, [0.0, 0.0, 40.0, 30.0], 16000)
    hdown = np.tile(np.linspace(0.0, 1.0, 30)[:, None], (1, 40))  # down coordinate per pixel
    ok = cr.valid.copy()
    kept = drop_floor_pixels(ok, cr, hdown, 0.9, LiftConfig())  # floor tol = 0.04 + 0.01 x 2 m = 6 cm
    assert not kept[hdown > 0.84 + 1e-9].any() and kept[hdown < 0.84 - 1e-9].all()
    assert drop_floor_pixels(ok, cr, hdown, -1.0, LiftConfig()) is ok  # nothing would be left: unchanged
    q, z = object_points(ok, cr, K, np.eye(3), LiftConfig(max_points=100))
    assert len(q) == len(z) == 100 and np.allclose(z, 2.0) and np.allclose(q[:, 2], 2.0)
    few = np.zeros_like(ok)
    few[10, 10:15] = True  # 5 points < min_points
    with pytest.raises(LiftReject) as e:
        object_points(few, cr, K, np.eye(3), LiftConfig())
    assert e.value.reason == "too_few_points"
