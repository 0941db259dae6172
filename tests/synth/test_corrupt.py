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
