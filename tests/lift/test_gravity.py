"""Up direction and floor level (lift3d.lift.gravity): plane hypotheses, the one estimate per image shared by the
segment stage's depth check and the lifter."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.gravity import (GravityEstimate, ceiling_height, floor_height, image_gravity, plane_hypotheses,
                                 point_and_normal_grid, resolve_gravity)
from lift_scenes import box_on_floor


def test_plane_hypotheses_on_a_plane_and_degenerate_triples():
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(-1, 1, 100), rng.uniform(-1, 1, 100), np.full(100, 2.0)]
    nrm, a = plane_hypotheses(pts, 32, np.random.default_rng(1))
    assert 0 < len(nrm) <= 32 and np.allclose(np.abs(nrm[:, 2]), 1.0)
    assert np.allclose(np.abs(np.einsum("ij,ij->i", nrm, a)), 2.0)  # offset = the plane's distance
    line = np.c_[np.linspace(0, 1, 50), np.zeros(50), np.zeros(50)]
    assert len(plane_hypotheses(line, 32, np.random.default_rng(1))[0]) == 0  # collinear: no plane
    # the accept test sees the raw cross products: keep only normals along y (none here)
    nrm, _ = plane_hypotheses(pts, 32, np.random.default_rng(1), lambda n, ln: np.abs(n[:, 1]) > 0.5 * ln)
    assert len(nrm) == 0


def _scene(scene):
    boxes = [box_on_floor(-0.6, 3.0, [0.6, 0.8, 0.6], 0.3), box_on_floor(0.7, 3.5, [0.8, 0.5, 0.5], -0.2)]
    return scene(boxes, wall_dist=6.0)


def test_image_gravity_and_its_record_field(scene):
    depth, K, anns, _ = _scene(scene)
    ge, grid = image_gravity(depth, K, None, anns)
    assert ge.source == "estimated" and ge.floor_h == pytest.approx(1.3, abs=0.03) and grid is not None
    rec = ge.to_record(True, 0.2)
    assert rec["down"] == [float(t) for t in ge.down] and rec["source"] == "estimated"
    back = GravityEstimate.from_record(rec, True, 0.2)
    assert np.array_equal(back.down, ge.down) and back.floor_h == ge.floor_h and back.confidence == ge.confidence
    # made with other settings, or absent: not used
    assert GravityEstimate.from_record(rec, False, 0.2) is None
    assert GravityEstimate.from_record(rec, True, 0.3) is None
    assert GravityEstimate.from_record(None, True, 0.2) is None
    ge2, _ = image_gravity(depth, K, [0.0, 1.0, 0.0], anns)  # dataset gravity: the floor along it
    assert ge2.source == "dataset" and ge2.floor_h == pytest.approx(1.3, abs=0.03)
    assert resolve_gravity([0.0, 1.0, 0.0], depth, K, anns).floor_h == ge2.floor_h


def test_lift_image_uses_a_given_estimate_and_gives_the_same_boxes(scene):
    depth, K, anns, _ = _scene(scene)
    for cfg in (LiftConfig(), LiftConfig(scale_from_priors=True)):
        for grav in (None, [0.0, 1.0, 0.0]):
            ge, _ = image_gravity(depth, K, grav, anns)
            est = GravityEstimate.from_record(ge.to_record(True, 0.2), True, 0.2)
            a = lift_image(depth, K, anns, grav, cfg)
            b = lift_image(depth, K, anns, grav, cfg, estimate=est)
            assert a.objects == b.objects and a.rejects == b.rejects and a.floor_height == b.floor_height
            assert (a.gravity, a.gravity_source, a.gravity_confidence) == (b.gravity, b.gravity_source,
                                                                            b.gravity_confidence)
    # the given estimate is what the lifter uses: the camera frame given, the camera frame used
    c = lift_image(depth, K, anns, [0.0, 1.0, 0.0], estimate=GravityEstimate(None, "camera", 0.0, None))
    assert c.gravity is None and c.gravity_source == "camera" and c.floor_height is None


def _room_depth(floor_below: float, ceiling_above: float | None, far: float = 6.0, pitch_deg: float = 0.0,
                W: int = 320, H: int = 240, f: float = 220.0):
    """Depth (z) of a camera pitched down by ``pitch_deg`` in a room: a floor, a ceiling (None: none) and a wall
    ``far`` ahead, all axis-aligned with gravity; (depth, K, down)."""
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
    p = np.radians(pitch_deg)
    down = np.array([0.0, np.cos(p), np.sin(p)])  # gravity in the camera frame
    fwd = np.array([0.0, -np.sin(p), np.cos(p)])  # the horizontal forward direction
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    r = np.stack([(u - K[0, 2]) / f, (v - K[1, 2]) / f, np.ones_like(u)], axis=-1)  # rays with z = 1
    rd, rf = r @ down, r @ fwd
    with np.errstate(divide="ignore"):
        t = np.where(rd > 1e-9, floor_below / rd, np.inf)
        if ceiling_above is not None:
            t = np.minimum(t, np.where(rd < -1e-9, ceiling_above / -rd, np.inf))
        t = np.minimum(t, np.where(rf > 1e-9, far / rf, np.inf))
    return np.where(np.isfinite(t), t, 0.0).astype(np.float32), K, down


@pytest.mark.parametrize("k", [1.0, 2.0])
def test_ceiling_height_reads_the_room_at_the_depths_scale(k):
    depth, K, down = _room_depth(1.4, 1.3)
    grid = point_and_normal_grid(depth * k, K)
    fh = floor_height(depth * k, K, down, grid)
    ch = ceiling_height(grid, down, fh)
    assert fh == pytest.approx(1.4 * k, rel=0.02) and ch == pytest.approx(1.3 * k, rel=0.02)


def test_no_ceiling_and_a_sky_are_not_a_ceiling():
    depth, K, down = _room_depth(1.4, None, pitch_deg=20.0)  # floor and wall only
    grid = point_and_normal_grid(depth, K)
    assert ceiling_height(grid, down, floor_height(depth, K, down, grid)) is None
    # a street canyon's sky 30 m above a camera 1.5 m up: 20x the camera's height, no room's ceiling
    depth, K, down = _room_depth(1.5, 30.0, far=200.0)
    grid = point_and_normal_grid(depth, K)
    fh = floor_height(depth, K, down, grid)
    assert fh == pytest.approx(1.5, rel=0.02)
    assert ceiling_height(grid, down, fh) is None
    assert ceiling_height(grid, down, None) is None


def _tilted(down, deg):
    """``down`` turned by ``deg`` degrees about the camera's x axis (towards the camera's forward axis)."""
    a = np.radians(deg)
    R = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    return R @ np.asarray(down, dtype=np.float64)


def test_a_wrong_up_direction_does_not_keep_the_floor_level(scene):
    from lift3d.lift.gravity import keeps_surfaces_level, point_and_normal_grid

    down = np.array([0.0, 1.0, 0.0])
    depth, K, _, _ = scene([box_on_floor(0.0, 3.5, [0.6, 0.8, 0.6], 0.2)], wall_dist=6.0)
    grid = point_and_normal_grid(depth, K)
    assert keeps_surfaces_level(grid, down, down)
    assert keeps_surfaces_level(grid, _tilted(down, 5.0), down)  # a model depth's tilt of a few degrees: level
    assert not keeps_surfaces_level(grid, _tilted(down, 35.0), down)


def test_a_vertical_point_that_tilts_the_floor_out_of_level_gives_way_to_the_floor_fit(scene, monkeypatch):
    """The lines' up direction is used unless the depth shows a floor that it tilts out of level (a vertical point
    made of a few segments meeting by chance): then the floor-plane fit and the given focal length are used."""
    import lift3d.lift.lift as L

    down = np.array([0.0, 1.0, 0.0])
    depth, K, anns, _ = scene([box_on_floor(0.0, 3.5, [0.6, 0.8, 0.6], 0.2)], wall_dist=6.0)
    rgb = np.zeros(depth.shape + (3,), dtype=np.uint8)
    base = LiftConfig()
    cfg = base.replaced(gravity=replace(base.gravity, vanishing=True, horizon_focal=False))
    for given, source in ((_tilted(down, 35.0), "estimated"), (_tilted(down, 1.0), "vanishing")):
        Kf = K.copy()
        Kf[0, 0] *= 1.05
        Kf[1, 1] *= 1.05
        monkeypatch.setattr(L, "vanishing_points", lambda *a, g=given, k=Kf, **kw: (g, 0.5, k, 0.03, None))
        ge, grid, Kv, ksd = L.vanishing_gravity(depth, K, rgb, None, cfg, 0.08, anns)
        assert ge.source == source and grid is not None
        err = np.degrees(np.arccos(np.clip(np.asarray(ge.down) @ down, -1.0, 1.0)))
        assert err < 3.0 if source == "estimated" else abs(err - 1.0) < 0.1
        assert (Kv is None) == (source == "estimated")  # the wrong point's focal length goes with it


def test_a_vertical_point_that_finds_no_floor_gives_way_to_a_weak_floor_fit():
    """Scratch street 0 of seed 6000 seen from 3.7 m, pitched down 20 degrees (a balcony's view; the generator's
    streets are shot from 1.2-1.8 m), monocular preset: three segments (a pole and a sign's edges) meet 28 degrees off
    the true down direction.  Under it the depth shows no floor and leaves 27 of 8,560 points level, so the floor-plane
    fit is asked; with the objects' boxes left out (a car fills the lower middle) that fit's confidence is 0.19, under
    the 0.2 the lift otherwise asks of it, and the lines' wrong direction was kept: every above / below answer of the
    image was then about a tilted street.  The fit is now taken at any confidence when the lines' direction fails its
    own check and the fit keeps more surfaces level."""
    import lift3d.lift.lift as L
    from lift3d.build import MODEL_DEPTH_LIFT
    from lift3d.synth import CorruptionConfig
    from lift3d.synth.corrupt import to_millimetres
    from lift3d.synth.dataset import make_sample
    from lift3d.synth.scene import OutdoorParams

    params = replace(OutdoorParams(), cam_height=(3.0, 6.0), pitch_deg=(10.0, 35.0))
    smp = make_sample(6000, 0, corruption=CorruptionConfig.monocular(), scene_type="outdoor", scene_params=params)
    depth = to_millimetres(smp.depth).astype(np.float32) / 1000.0  # as the dataset's PNG holds it
    K = np.asarray(smp.scene.K, dtype=np.float64).copy()
    K[0, 0] *= smp.corruption.focal_factor  # the written K, as a depth model gives it
    K[1, 1] *= smp.corruption.focal_factor
    anns = [{"bbox2d": o["bbox2d"]} for o in smp.objects]
    cfg = LiftConfig(**MODEL_DEPTH_LIFT)
    ge, grid, Kv, ksd = L.vanishing_gravity(depth, K, smp.result.rgb, None, cfg, cfg.gravity.focal_log_sd, anns)
    down = np.asarray(smp.scene.down)
    err = np.degrees(np.arccos(np.clip(np.asarray(ge.down) @ down, -1.0, 1.0)))
    assert ge.source == "estimated" and err < 5.0 and Kv is None
    assert ge.confidence < cfg.gravity.min_confidence  # (what the case is about: a fit the lift would not take alone)


def test_a_floor_bent_by_a_depth_range_exponent_is_still_the_floor():
    """Scratch room 6 of seed 6000 under the monocular preset (range exponent 0.87): the depth model compressed the
    range, and the near floor lies 8-10 cm under the level the rest of the floor sets, more than 4 % of its depth,
    so along the true up direction the level read as a table top over an unseen floor and the image had no floor.
    Model depth allows a bend of 20 % of the level (``gravity.floor_bend``).  A table top with the floor seen 0.75 m
    under it at the image's edge is still no floor."""
    from lift3d.synth import CorruptionConfig
    from lift3d.synth.corrupt import to_millimetres
    from lift3d.synth.dataset import make_sample

    smp = make_sample(6000, 6, corruption=CorruptionConfig.monocular())
    depth = to_millimetres(smp.depth).astype(np.float32) / 1000.0  # as the dataset's PNG holds it
    K, down = np.asarray(smp.scene.K), np.asarray(smp.scene.down)
    grid = point_and_normal_grid(depth, K)
    assert floor_height(depth, K, down, grid) is None
    fh = floor_height(depth, K, down, grid, bend=0.2)
    assert fh is not None and abs(fh / smp.scene.cam_height - 1.0) < 0.25
    table, Kt, dn = _room_depth(0.55, None, far=7.0, pitch_deg=25.0)
    floor, _, _ = _room_depth(1.3, None, far=7.0, pitch_deg=25.0)
    W = table.shape[1]
    top = np.concatenate([table[:, : int(0.94 * W)], floor[:, int(0.94 * W):]], axis=1)  # the floor at the edge only
    grid = point_and_normal_grid(top, Kt)
    assert floor_height(top, Kt, dn, grid) is None and floor_height(top, Kt, dn, grid, bend=0.2) is None
