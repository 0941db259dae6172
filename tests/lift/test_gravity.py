"""Up direction and floor level (lift3d.lift.gravity): plane hypotheses, the one estimate per image shared by the
segment stage's depth check and the lifter."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.gravity import GravityEstimate, image_gravity, plane_hypotheses, resolve_gravity
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
