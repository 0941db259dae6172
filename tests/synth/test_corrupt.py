"""Depth corruptions change the depth the intended way."""

import numpy as np
import pytest
from scipy import ndimage

from lift3d.synth.corrupt import CorruptionConfig, corrupt_depth, discontinuities, to_millimetres
from lift3d.synth.raycast import render
from lift3d.synth.scene import make_scene


@pytest.fixture(scope="module")
def scene_and_render():
    sc = make_scene(np.random.default_rng(5), 240, 180)
    return sc, render(sc)


@pytest.fixture(scope="module")
def clean(scene_and_render):
    return scene_and_render[1].depth


def test_disabled_is_identity(clean):
    z, info = corrupt_depth(clean, np.random.default_rng(0), CorruptionConfig.none())
    assert np.array_equal(z, clean)
    assert not info.flying.any() and not info.holes.any()


def test_only_rejects_unknown_names():
    with pytest.raises(ValueError):
        CorruptionConfig.only("blur")


def test_scale_field_is_bounded_smooth_and_multiplicative(clean):
    cfg = CorruptionConfig.only("scale")
    for seed in range(5):
        z, info = corrupt_depth(clean, np.random.default_rng(seed), cfg)
        ratio = z / clean
        np.testing.assert_allclose(ratio, info.field, rtol=1e-12)
        lo = (1 - cfg.global_scale) * (1 - cfg.field_amplitude)
        hi = (1 + cfg.global_scale) * (1 + cfg.field_amplitude)
        assert ratio.min() >= lo - 1e-12 and ratio.max() <= hi + 1e-12
        f = info.field / info.scale - 1
        assert np.abs(f).max() == pytest.approx(cfg.field_amplitude, rel=1e-9)  # normalised to the amplitude
        # low frequency: neighbouring pixels differ by a tiny fraction of the amplitude
        assert np.abs(np.diff(f, axis=0)).max() < 0.05 * cfg.field_amplitude
        assert np.abs(np.diff(f, axis=1)).max() < 0.05 * cfg.field_amplitude
    scales = [corrupt_depth(clean, np.random.default_rng(s), cfg)[1].scale for s in range(20)]
    assert max(scales) - min(scales) > 0.02  # the global scale really varies


def test_flying_pixels_only_at_geometric_edges_and_between_surfaces(scene_and_render):
    sc, res = scene_and_render
    clean = res.depth
    cfg = CorruptionConfig.only("flying")
    z, info = corrupt_depth(clean, np.random.default_rng(1), cfg)
    changed = z != clean
    assert changed.any()
    assert np.array_equal(changed, info.flying)
    # independent check from the renderer's labels: every flying pixel is within one pixel of a change of
    # surface (room plane, object, object part or box face), i.e. at an occlusion edge or at a crease
    # between faces seen so obliquely that they are a pixel or two thin (these read as depth steps too)
    label = np.where(res.instance > 0, res.instance * 64 + res.part, -1 - res.surface.astype(np.int64))
    nrm = res.normal
    boundary = np.zeros(label.shape, dtype=bool)
    dv = (label[1:] != label[:-1]) | (np.abs(nrm[1:] - nrm[:-1]).max(axis=-1) > 1e-9)
    dh = (label[:, 1:] != label[:, :-1]) | (np.abs(nrm[:, 1:] - nrm[:, :-1]).max(axis=-1) > 1e-9)
    boundary[:-1] |= dv
    boundary[1:] |= dv
    boundary[:, :-1] |= dh
    boundary[:, 1:] |= dh
    near = ndimage.binary_dilation(boundary, structure=np.ones((3, 3)), iterations=cfg.flying_width)
    assert near.mean() < 0.2  # the check is not vacuous
    assert np.all(near[changed])
    _, zmin, zmax = discontinuities(clean, cfg)
    assert np.all(z[changed] > zmin[changed]) and np.all(z[changed] < zmax[changed])
    # a fair share of the edge pixels fly, and the object silhouettes do get flying pixels
    frac = changed.sum() / info.discontinuity.sum()
    assert 0.45 < frac < 0.75
    sil = boundary & ((res.instance > 0) != np.roll(res.instance > 0, 1, axis=1))
    assert (changed & sil).any()


def test_grazing_surfaces_are_not_discontinuities():
    # a plane seen at a grazing angle: big but smoothly growing depth steps
    v = np.arange(100, dtype=float)[:, None] + 20.0
    z = np.repeat(400.0 * 1.5 / v, 50, axis=1)  # floor rows: z = f h / (v - v_horizon)
    cfg = CorruptionConfig()
    edge, _, _ = discontinuities(z, cfg)
    assert not edge.any()
    z2 = z.copy()
    z2[:, 25:] *= 1.3  # a real occlusion step
    edge2, _, _ = discontinuities(z2, cfg)
    assert edge2[:, 24:26].all() and edge2.sum() == edge2[:, 24:26].sum()


def test_noise_is_depth_proportional(clean):
    cfg = CorruptionConfig.only("noise")
    z, _ = corrupt_depth(clean, np.random.default_rng(2), cfg)
    rel = z / clean - 1
    assert abs(rel.mean()) < 3e-4
    assert rel.std() == pytest.approx(cfg.noise_rel, rel=0.05)


def test_holes_are_zero_and_other_pixels_untouched(clean):
    cfg = CorruptionConfig.only("holes")
    z, info = corrupt_depth(clean, np.random.default_rng(3), cfg)
    assert np.all(z[info.holes] == 0)
    assert np.array_equal(z[~info.holes], clean[~info.holes])
    frac = info.holes.mean()
    assert 0.2 * cfg.hole_fraction < frac < 3 * (cfg.hole_fraction + cfg.dropout_prob)


def test_far_depth_becomes_hole(clean):
    cfg = CorruptionConfig(enabled=True, global_scale=0, field_amplitude=0, noise_rel=0, flying_prob=0,
                           hole_fraction=0, dropout_prob=0, max_depth_m=float(np.median(clean)))
    z, info = corrupt_depth(clean, np.random.default_rng(0), cfg)
    assert np.array_equal(info.holes, clean > cfg.max_depth_m)


def test_default_corruption_is_moderate(clean):
    z, info = corrupt_depth(clean, np.random.default_rng(4))
    valid = z > 0
    assert 0.97 < valid.mean() < 1.0
    rel = np.abs(z[valid] / clean[valid] - 1)
    assert np.median(rel) < 0.12


def test_to_millimetres():
    mm = to_millimetres(np.array([0.0, 0.0004, 0.0006, 1.2344, 65.535, 70.0, np.nan, -1.0]))
    assert mm.dtype == np.uint16
    assert mm.tolist() == [0, 0, 1, 1234, 65535, 0, 0, 0]


# ------------------------------------------------------------------------------------- monocular mode

def test_monocular_preset_defaults_in_the_issue_ranges_and_overridable():
    m = CorruptionConfig.monocular()
    assert m.scale_log_sigma == 0.15 and 0 < m.scale_failure_prob <= 0.05 and m.scale_failure_range == (1.4, 2.0)
    assert m.range_exponent == (0.85, 1.05) and m.field_amplitude == 0.05 and m.focal_sigma == 0.08
    assert m.soft_edge_px >= 2 and not m.write_gravity and m.clip_far
    assert m.max_depth_m * 1000 <= 65535  # clipped within the uint16 millimetre range: no holes in the PNG
    assert m.hole_fraction == 0 and m.dropout_prob == 0 and m.flying_prob == 0
    assert CorruptionConfig.monocular(scale_log_sigma=0.3).scale_log_sigma == 0.3
    d = CorruptionConfig()  # the sensor-like default has every monocular step off
    assert d.soft_edge_px == 0 and d.range_exponent == (1.0, 1.0) and d.scale_log_sigma == 0 and d.focal_sigma == 0


def test_soften_makes_ramps_of_in_between_depths_and_keeps_planes():
    from lift3d.synth.corrupt import soften

    z = np.full((40, 64), 5.0)
    z[:, 32:] = 2.0  # a vertical depth step at column 32
    s = soften(z, 4)
    row = s[20]
    mid = (row > 2.0 + 1e-6) & (row < 5.0 - 1e-6)
    assert 3 <= mid.sum() <= 10 and np.all(np.diff(row) <= 1e-12)  # a monotone ramp a few px wide
    assert np.all(np.abs(row[:24] - 5.0) < 1e-12) and np.all(np.abs(row[40:] - 2.0) < 1e-12)
    yy, xx = np.mgrid[0:40, 0:64]
    plane = 2.0 + 0.01 * xx + 0.02 * yy
    np.testing.assert_allclose(soften(plane, 4)[4:-4, 4:-4], plane[4:-4, 4:-4], atol=1e-9)


def test_monocular_errors_on_a_rendered_scene(clean):
    cfg = CorruptionConfig.monocular()
    scales, gammas, focals = [], [], []
    for seed in range(40):
        z, info = corrupt_depth(clean, np.random.default_rng(seed), cfg)
        assert np.all(z > 0)  # no holes
        assert info.soft is not None and info.soft.any()
        scales.append(info.scale)
        gammas.append(info.range_exponent)
        focals.append(info.focal_factor)
        # the depth is the softened, range-distorted clean depth times the field
        from lift3d.synth.corrupt import soften

        zs = soften(clean, cfg.soft_edge_px)
        med = np.median(zs)
        np.testing.assert_allclose(z, med * (zs / med) ** info.range_exponent * info.field, rtol=1e-9)
    assert all(0.85 <= g <= 1.05 for g in gammas)
    log_s = np.log(scales)
    assert 0.08 < np.std(log_s) < 0.35  # sigma 0.15 plus the occasional failure
    assert 0.03 < np.std(np.log(focals)) < 0.15
    z1, _ = corrupt_depth(clean, np.random.default_rng(3), cfg)
    z2, _ = corrupt_depth(clean, np.random.default_rng(3), cfg)
    assert np.array_equal(z1, z2)  # deterministic


def test_scale_failures_are_whole_image_factors(clean):
    cfg = CorruptionConfig.monocular(scale_failure_prob=1.0, scale_log_sigma=0.0, field_amplitude=0.0,
                                     range_exponent=(1.0, 1.0), soft_edge_px=0)
    seen = set()
    for seed in range(12):
        z, info = corrupt_depth(clean, np.random.default_rng(seed), cfg)
        f = info.scale_failure
        assert 1.4 <= max(f, 1 / f) <= 2.0
        seen.add(f > 1)
        np.testing.assert_allclose(z, np.minimum(clean * f, cfg.max_depth_m), rtol=1e-12)
    assert seen == {True, False}  # too far and too near both happen


@pytest.mark.parametrize("off", [dict(range_exponent=(1.0, 1.0)), dict(field_amplitude=0.0),
                                 dict(scale_log_sigma=0.0, scale_failure_prob=0.0), dict(soft_edge_px=0)])
def test_monocular_ablation_keeps_the_other_classes_draws(clean, off):
    """Switching one monocular error class off leaves every other class's draw as it was (paired ablations): the
    range exponent, the field's shape, the per-image scale and the focal error; the class switched off applies
    nothing."""
    seed = 11  # an image without a whole-image failure (those draw their factor only where they happen)
    full = corrupt_depth(clean, np.random.default_rng(seed), CorruptionConfig.monocular())[1]
    assert full.scale_failure == 1.0
    z, one = corrupt_depth(clean, np.random.default_rng(seed), CorruptionConfig.monocular(**off))
    assert one.focal_factor == full.focal_factor != 1.0
    shape_full = full.field / full.scale  # 1 + f: the smooth field's shape
    if "range_exponent" in off:
        assert one.range_exponent == 1.0
    else:
        assert one.range_exponent == full.range_exponent != 1.0
    if "field_amplitude" in off:
        assert np.all(one.field == one.scale)  # no field: a constant factor
    else:
        assert np.allclose(one.field / one.scale, shape_full)
    if "scale_log_sigma" in off:
        assert one.scale == 1.0
    else:
        assert one.scale == pytest.approx(full.scale)
