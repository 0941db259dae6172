"""Reading the crop of a 2D box (lift3d.lift.crop): pixel bounds, stride, mask region, ray tables."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.camera import K_from_fov, backproject
from lift3d.lift.crop import (annotation_box, crop_bounds, crop_dot, erode_mask, inner_distance, mask_on_crop,
                             ray_parts, read_box_crop)
from lift3d.lift.result import LiftReject


def test_crop_bounds_are_the_pixel_centres_inside_the_box():
    assert crop_bounds([10.2, 20.7, 30.4, 40.1], 100, 80) == (21, 40, 10, 30)
    assert crop_bounds([-5.0, -5.0, 500.0, 500.0], 100, 80) == (0, 80, 0, 100)  # clipped to the image


@pytest.mark.parametrize("bbox", [[1, 2, 3], [0, 0, float("nan"), 5], [10, 10, 10.5, 20], [98.8, 10, 120, 20],
                                  None])
def test_degenerate_boxes_are_rejected(bbox):
    with pytest.raises(LiftReject) as e:
        crop_bounds(bbox, 100, 80) if bbox is not None else annotation_box({"mask": None})
    assert e.value.reason == "degenerate_box"


def test_annotation_box_from_the_mask_when_no_box():
    m = np.zeros((20, 30), dtype=bool)
    m[5:9, 10:20] = True
    assert annotation_box({"mask": m}) == [9.5, 4.5, 19.5, 8.5]
    assert annotation_box({"bbox2d": [1, 2, 3, 4], "mask": m}) == [1, 2, 3, 4]
    with pytest.raises(LiftReject) as e:
        annotation_box({"mask": np.zeros((4, 4), dtype=bool)})
    assert e.value.reason == "empty_mask"


def test_read_box_crop_strides_large_boxes_and_marks_invalid_depth():
    K = K_from_fov(400, 300, 60.0)
    d = np.full((300, 400), 2.0, dtype=np.float32)
    d[0, 0] = np.nan
    d[2, 0] = 0.0
    cr = read_box_crop(d, K, [-0.5, -0.5, 200.0, 200.0], 10000)  # pixel centres 0..199
    assert cr.st == 2 and cr.d.shape == (100, 100) and cr.bounds == (0, 200, 0, 200)
    assert not cr.valid[0, 0] and not cr.valid[1, 0] and cr.valid.sum() == 100 * 100 - 2
    assert cr.dz[0, 0] == 0.0 and cr.d.dtype == np.float64


def test_ray_tables_give_the_backprojected_points():
    K = np.array([[300.0, 2.0, 160.0], [0.0, 310.0, 120.0], [0.0, 0.0, 1.0]])  # with skew
    rows, cols = np.array([3.0, 50.0, 200.0]), np.array([7.0, 100.0, 300.0, 12.0])
    ax, bx, by = ray_parts(K, rows, cols)
    dz = np.arange(1.0, 13.0).reshape(3, 4)
    v = np.array([0.3, -0.8, 0.5])
    U, V = np.meshgrid(cols, rows)
    P = backproject(U, V, dz, K)
    np.testing.assert_allclose(crop_dot(dz, ax, bx, by, v), P @ v, rtol=1e-12, atol=1e-12)


def test_mask_on_crop_eroded_against_bleed_unless_too_little_is_left():
    K = K_from_fov(60, 40, 60.0)
    d = np.full((40, 60), 2.0)
    cr = read_box_crop(d, K, [9.5, 9.5, 30.5, 30.5], 16000)
    m = np.zeros((40, 60), dtype=bool)
    m[12:28, 12:28] = True
    r = erode_mask(mask_on_crop(m, d.shape, cr), cr, 1, 20)
    assert r.shape == (20, 20) and r.sum() == 14 * 14  # one pixel off every side
    thin = np.zeros((40, 60), dtype=bool)
    thin[12:28, 20] = True  # a 1 px line would vanish: kept as it is
    assert erode_mask(mask_on_crop(thin, d.shape, cr), cr, 1, 5).sum() == 16
    with pytest.raises(LiftReject) as e:
        mask_on_crop(m[:-1], d.shape, cr)
    assert e.value.reason == "empty_mask"


def test_a_threshold_of_the_inner_distance_is_the_iterated_erosion():
    """``inner_distance(region) > k`` is ``binary_erosion(region, iterations=k, border_value=1)`` (the crop's edges do
    not erode), also for a region without a pixel outside it; erode_mask gives the same either way."""
    from scipy import ndimage

    rng = np.random.default_rng(4)
    masks = [ndimage.binary_closing(rng.random((30, 40)) < 0.7, iterations=2), rng.random((9, 7)) < 0.8,
             np.ones((6, 5), dtype=bool), np.zeros((4, 4), dtype=bool)]
    K = K_from_fov(40, 30, 60.0)
    cr = read_box_crop(np.full((30, 40), 2.0), K, [-0.5, -0.5, 39.5, 29.5], 16000)
    for m in masks:
        inside = inner_distance(m)
        for k in (1, 2, 3):
            assert np.array_equal(inside > k, ndimage.binary_erosion(m, iterations=k, border_value=1))
    m = masks[0]
    for px in (1, 2, 3):
        assert np.array_equal(erode_mask(m, cr, px, 20, inner_distance(m)), erode_mask(m, cr, px, 20))
