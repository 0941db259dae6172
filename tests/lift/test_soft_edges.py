"""The depth map's edge softness (lift3d/lift/soft_edges.py) on constructed depth maps with known ramps."""

import numpy as np
import pytest
from scipy import ndimage

from lift3d.lift.soft_edges import SoftEdgeConfig, edge_ramp_px


def _boxes_on_wall(h=240, w=320):
    d = np.full((h, w), 5.0)
    for r0, c0, s, z in [(40, 30, 60, 2.0), (120, 150, 80, 2.5), (60, 240, 50, 1.5), (170, 40, 50, 3.0)]:
        d[r0:r0 + s, c0:c0 + s] = z
    return d


def _soften(d, k):
    """What a network predicting at 1/k resolution gives after bilinear upsampling: block means, then zoom."""
    h, w = d.shape
    small = d.reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    return ndimage.zoom(small, k, order=1)


def test_sharp_edges_are_one_pixel():
    assert edge_ramp_px(_boxes_on_wall()) == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("k", [2, 4])
def test_ramps_widen_with_the_upsampling_factor(k):
    w = edge_ramp_px(_soften(_boxes_on_wall(), k))
    assert 0.9 * k <= w <= 1.8 * k + 0.5, w


def test_ramps_wider_than_the_window_need_a_wider_window():
    d = _soften(_boxes_on_wall(), 8)  # a ramp ~16 px wide: the whole jump needs a window wider than 2 x 8 px
    assert edge_ramp_px(d) > edge_ramp_px(_soften(_boxes_on_wall(), 4))
    assert edge_ramp_px(d, SoftEdgeConfig(span_px=16)) >= 0.9 * 8


def test_no_discontinuity_gives_no_estimate():
    h, w = 240, 320
    plane = 2.0 + np.linspace(0, 1, w)[None, :] + np.linspace(0, 0.5, h)[:, None]
    assert edge_ramp_px(plane) == 1.0


def test_invalid_pixels_are_not_edges():
    d = _boxes_on_wall()
    d[100:110, :] = 0.0  # a band of holes
    d[:, 200:205] = np.nan
    assert edge_ramp_px(d) == pytest.approx(1.0, abs=0.15)


def test_large_images_are_strided_and_rescaled():
    d = _soften(_boxes_on_wall(960, 1280), 4)
    full = edge_ramp_px(d, SoftEdgeConfig(max_side=2000))
    assert edge_ramp_px(d, SoftEdgeConfig(max_side=640)) == pytest.approx(full, rel=0.35)
