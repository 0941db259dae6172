"""The depth map's edge softness (lift3d/lift/soft_edges.py) on constructed depth maps with known ramps."""

import numpy as np
import pytest
from scipy import ndimage

from lift3d.lift.soft_edges import (SoftEdgeConfig, blended, blended_box, edge_ramp_px, outline_distance,
                                    redepth_rim)


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


def test_a_few_discontinuities_still_give_the_ramp():
    """One small object against the wall (a room with few strong depth jumps): a few dozen samples, whose median is
    the ramp; with fewer than min_samples the map is taken as sharp-edged (a soft-edged room used to be lifted so)."""
    d = np.full((240, 320), 5.0)
    d[100:112, 152:164] = 3.0
    soft = _soften(d, 4)
    w = edge_ramp_px(soft)
    assert 0.85 * 4 <= w <= 1.8 * 4 + 0.5, w
    assert edge_ramp_px(soft, SoftEdgeConfig(min_samples=50)) == 1.0


def test_a_step_within_the_strided_grid_is_sharp():
    """A large map is strided (here by 2): a sensor's step with one mixed pixel lies within one strided pixel, which
    says only that it is at most 2 px wide; it is taken as sharp (1 px), not as a 2 px ramp to re-depth."""
    d = _boxes_on_wall(960, 1280)
    mixed = ndimage.uniform_filter(d, 3)  # each step gets one in-between pixel on either side
    edge = ndimage.morphological_gradient(d, size=2) > 0
    d = np.where(edge, mixed, d)
    assert edge_ramp_px(d, SoftEdgeConfig(max_side=640)) == 1.0
    assert edge_ramp_px(_soften(_boxes_on_wall(960, 1280), 8), SoftEdgeConfig(max_side=640)) > 4.0


def test_invalid_pixels_are_not_edges():
    d = _boxes_on_wall()
    d[100:110, :] = 0.0  # a band of holes
    d[:, 200:205] = np.nan
    assert edge_ramp_px(d) == pytest.approx(1.0, abs=0.15)


def test_large_images_are_strided_and_rescaled():
    d = _soften(_boxes_on_wall(960, 1280), 4)
    full = edge_ramp_px(d, SoftEdgeConfig(max_side=2000))
    assert edge_ramp_px(d, SoftEdgeConfig(max_side=640)) == pytest.approx(full, rel=0.35)


# --- the rim of a mask on a soft-edged map takes the depth of its core (redepth_rim)

def _person_on_far_wall(k=4, z_obj=10.0, z_bg=30.0):
    """A 16 px wide, 80 px tall upright object in front of a far wall, its depth softened as a network's; the mask
    is the object's exact outline."""
    d = np.full((120, 96), z_bg)
    mask = np.zeros(d.shape, bool)
    mask[20:100, 40:56] = True
    d[mask] = z_obj
    return _soften(d, k), mask


def test_rim_takes_the_core_depth_instead_of_the_blend_with_the_background():
    soft, mask = _person_on_far_wall()
    # without the re-depth, the mask's pixels near its outline read up to twice the object's depth
    assert soft[mask].max() > 15.0
    out, done = redepth_rim(soft, mask, rim_px=5.0, max_rel_step=0.02)
    assert np.all(np.abs(out[mask] - 10.0) < 0.3)  # the object's depth everywhere in the mask
    assert np.array_equal(out[~mask], soft[~mask])  # nothing outside the mask changes


def test_rim_next_to_a_nearer_occluder_is_not_pulled_towards_it():
    d = np.full((100, 100), 6.0)  # the object fills the frame's middle ...
    mask = np.zeros(d.shape, bool)
    mask[20:80, 20:80] = True
    d[:, 60:] = 2.0  # ... and a nearer occluder covers its right part
    mask[:, 60:] = False
    soft = _soften(d, 4)
    out, done = redepth_rim(soft, mask, rim_px=5.0, max_rel_step=0.02)
    assert soft[mask].min() < 5.0 and np.all(np.abs(out[mask] - 6.0) < 0.1)


def test_rim_of_a_slanted_plane_follows_the_plane():
    h, w = 100, 100
    vv, uu = np.mgrid[0:h, 0:w].astype(float)
    plane = 1.0 / (0.25 + 0.0015 * uu + 0.0005 * vv)  # inverse depth affine in the pixel coordinates: a plane
    mask = np.zeros((h, w), bool)
    mask[25:75, 25:75] = True
    d = np.where(mask, plane, 20.0)
    out, done = redepth_rim(_soften(d, 4), mask, rim_px=5.0, max_rel_step=0.05)
    np.testing.assert_allclose(out[mask], plane[mask], rtol=0.01)


def test_rim_bend_is_limited_by_the_most_oblique_surface():
    h, w = 60, 60
    uu = np.mgrid[0:h, 0:w][1].astype(float)
    mask = np.zeros((h, w), bool)
    mask[10:50, 10:50] = True
    d = np.where(mask, 1.0 / (0.5 + 0.02 * uu), 40.0)  # the inverse depth changes by 2-4 % per pixel
    out, done = redepth_rim(d, mask, rim_px=4.0, max_rel_step=0.001)
    # the core starts 4 px in (column 13); the 3 px of rim left of it bend at most 0.1 % per pixel, where the true
    # plane goes on by 6-10 %
    assert abs(out[30, 10] / d[30, 13] - 1.0) <= 0.0031
    assert abs(d[30, 10] / d[30, 13] - 1.0) > 0.05


def test_thin_object_keeps_its_innermost_pixels_as_core():
    d = np.full((120, 96), 30.0)
    thin = np.zeros(d.shape, bool)
    thin[20:100, 46:50] = True  # a pole 4 px wide: thinner than two rims
    d[thin] = 10.0
    soft = _soften(d, 2)
    out, done = redepth_rim(soft, thin, rim_px=5.0, max_rel_step=0.02)
    inner = soft[22:98, 47:49]  # its two middle columns are the core (away from its ends)
    assert soft[thin].max() > 1.1 * inner.max()  # its outer columns are blended more
    mid = out[22:98, 46:50]
    assert inner.min() / 1.03 <= mid.min() and mid.max() <= 1.03 * inner.max()


def test_no_rim_leaves_the_depth_as_it_is():
    soft, mask = _person_on_far_wall()
    assert redepth_rim(soft, mask, rim_px=0.0, max_rel_step=0.02)[0] is soft
    assert redepth_rim(soft, np.zeros_like(mask), rim_px=5.0, max_rel_step=0.02)[0] is soft


def test_thin_parts_away_from_the_body_are_not_redepthed():
    d = np.full((120, 120), 8.0)  # a table: a thick top and a thin leg far below it, on a wall behind
    top = np.zeros(d.shape, bool)
    top[20:50, 20:100] = True
    leg = np.zeros(d.shape, bool)
    leg[50:110, 24:28] = True
    d[top] = 3.0
    d[leg] = 3.4
    mask = top | leg
    soft = _soften(d, 4)
    out, done = redepth_rim(soft, mask, rim_px=5.0, max_rel_step=0.02)
    rim = top & ~ndimage.binary_erosion(top, iterations=4)  # the top's rim (4 px: less than 5 from outside)
    assert np.all(np.abs(out[rim] - 3.0) < 0.1) and done[rim].all()
    assert not done[70:110, 24:28].any()  # the leg away from the top: its own depth
    assert np.array_equal(out[70:110, 24:28], soft[70:110, 24:28])


def test_blended_is_half_a_ramp_against_the_masks_innermost_distance():
    """``blended`` erodes instead of taking the whole distance transform: the same verdict as its definition, the
    innermost pixel's taxicab distance to the outline (crop edges outside) times the stride below half the ramp."""
    rng = np.random.default_rng(3)
    flagged = 0
    for _ in range(3000):
        h, w = rng.integers(1, 25, 2)
        m = rng.random((h, w)) < rng.uniform(0.3, 1.0)
        if rng.random() < 0.5:
            m = ndimage.binary_closing(m)
        st, rim = int(rng.integers(1, 4)), float(rng.choice([0.0, 1.0, 2.5, 3.0, 5.5, 8.0, 12.0, 24.7]))
        want = bool(rim > 0 and m.any() and float(outline_distance(m).max()) * st < 0.5 * rim)
        assert blended(m, st, rim) == want
        flagged += want
    assert 300 < flagged < 2700  # both verdicts were exercised


def test_blended_box_is_blended_of_the_whole_crop():
    """A box-only object's test, by the rectangle's closed form: the same verdict as eroding the all-ones crop."""
    flagged = 0
    for h in range(1, 30):
        for w in range(1, 30, 3):
            for st in (1, 2, 3):
                for rim in (0.0, 1.0, 2.5, 5.5, 8.0, 12.0, 16.0, 24.7):
                    want = blended(np.ones((h, w), dtype=bool), st, rim)
                    assert blended_box((h, w), st, rim) == want
                    flagged += want
    assert 100 < flagged < 5000  # both verdicts were exercised
