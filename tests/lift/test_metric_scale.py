"""Per-image metric scale from cues with an uncertainty (lift3d/lift/metric_scale.py)."""

import numpy as np
import pytest

from lift3d.lift.metric_scale import Cue, ScaleCueConfig, camera_height_cue, combine_cues

CFG = ScaleCueConfig()
NOSHARED = ScaleCueConfig(shared_sigma=0.0)


def test_no_cue_keeps_the_depth_with_the_prior_uncertainty():
    est = combine_cues([], CFG)
    assert est.factor == 1.0 and est.log_sigma == CFG.prior_sigma and est.n_cues == 0


def test_camera_height_cue():
    c = camera_height_cue(2.8, 0.9, CFG)  # the floor 2.8 m below the camera in model depth: depth x2 too large
    assert c.kind == "camera_height" and c.log_ratio == pytest.approx(np.log(2.8 / CFG.camera_height_m))
    assert c.sigma == CFG.camera_height_log_sd
    assert camera_height_cue(None, 0.9, CFG) is None
    assert camera_height_cue(1.5, 0.1, CFG) is None  # an unconfident floor says nothing
    assert camera_height_cue(-1.0, 0.9, CFG) is None


def test_posterior_is_calibrated_when_the_cues_are_what_they_claim():
    """log k drawn from the prior, 1-6 cues with their stated spreads: the +/-1.96 sigma interval covers ~95 %."""
    rng = np.random.default_rng(0)
    z, errs = [], []
    for _ in range(3000):
        logk = rng.normal(0.0, CFG.prior_sigma)
        sig = rng.uniform(0.06, 0.2, rng.integers(1, 7))
        cues = [Cue("height:x", logk + rng.normal(0.0, s), s) for s in sig]
        est = combine_cues(cues, NOSHARED)
        z.append((np.log(est.factor) - logk) / est.log_sigma)
        errs.append(abs(np.log(est.factor) - logk))
    cover = float(np.mean(np.abs(z) <= 1.96))
    assert 0.92 <= cover <= 0.985, cover
    assert np.median(errs) < 0.6745 * CFG.prior_sigma * 0.6  # much better than no cue at all


def test_one_wild_cue_barely_moves_a_consistent_estimate():
    good = [Cue("height:chair", np.log(1.3) + e, 0.1) for e in (-0.05, 0.0, 0.04, 0.02)]
    base = combine_cues(good, CFG)
    tripod = Cue("camera_height", np.log(0.4 / 1.5), CFG.camera_height_log_sd)  # camera on a low table
    est = combine_cues(good + [tripod], CFG)
    assert abs(np.log(est.factor) - np.log(base.factor)) < 0.03
    assert est.weights[-1] < 0.25 and est.n_cues == 4


def test_disagreeing_cues_are_more_uncertain():
    agree = combine_cues([Cue("a", 0.2, 0.1), Cue("b", 0.21, 0.1), Cue("c", 0.19, 0.1)], NOSHARED)
    split = combine_cues([Cue("a", 0.0, 0.1), Cue("b", 0.35, 0.1), Cue("c", 0.18, 0.1)], NOSHARED)
    assert split.log_sigma > 1.3 * agree.log_sigma
    assert np.log(agree.factor) == pytest.approx(0.2 / (1 + 0.01 / 3 / CFG.prior_sigma ** 2), abs=0.01)


def test_the_factor_stays_within_its_bounds():
    est = combine_cues([Cue("a", 5.0, 0.05)] * 3, CFG)
    assert est.factor == pytest.approx(CFG.max_factor)


def test_shared_errors_do_not_average_out():
    many = [Cue("height:x", 0.1, 0.1)] * 40
    assert combine_cues(many, NOSHARED).log_sigma < 0.02
    assert combine_cues(many, CFG).log_sigma >= CFG.shared_sigma
