"""Per-image metric scale from cues with an uncertainty (lift3d/lift/metric_scale.py)."""

from dataclasses import replace

import numpy as np
import pytest

from lift3d.lift.metric_scale import Cue, ScaleCueConfig, camera_height_cue, combine_cues, room_height_cue

CFG = ScaleCueConfig()
NOSHARED = ScaleCueConfig(shared_sigma=0.0)
EXACT = ScaleCueConfig(shared_sigma=0.0, max_spread_factor=1.0)  # the cues' spreads are taken as stated


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


def test_room_height_cue():
    """Floor 2.8 below and ceiling 2.6 above the camera in model depth: a 5.4 m room, the depth x2 too large."""
    c = room_height_cue(2.8, 2.6, 0.9, CFG)
    assert c.kind == "room_height" and c.log_ratio == pytest.approx(np.log(5.4 / CFG.room_height_m))
    assert c.sigma == CFG.room_height_log_sd and not c.lower
    assert room_height_cue(2.8, None, 0.9, CFG) is None  # no ceiling seen
    assert room_height_cue(None, 2.6, 0.9, CFG) is None
    assert room_height_cue(2.8, 2.6, 0.1, CFG) is None  # an unconfident floor says nothing
    assert room_height_cue(2.8, -1.0, 0.9, CFG) is None


@pytest.mark.parametrize("cfg,lo,hi", [(EXACT, 0.92, 0.985), (NOSHARED, 0.93, 0.995)])
def test_posterior_is_calibrated_when_the_cues_are_what_they_claim(cfg, lo, hi):
    """log k drawn from the prior, 1-6 cues with their stated spreads: the +/-1.96 sigma interval covers ~95 %
    when the spreads are believed; a little more when they may be understated (``max_spread_factor``)."""
    rng = np.random.default_rng(0)
    z, errs = [], []
    for _ in range(1500):
        logk = rng.normal(0.0, cfg.prior_sigma)
        sig = rng.uniform(0.06, 0.2, rng.integers(1, 7))
        cues = [Cue("height:x", logk + rng.normal(0.0, s), s) for s in sig]
        est = combine_cues(cues, cfg)
        z.append((np.log(est.factor) - logk) / est.log_sigma)
        errs.append(abs(np.log(est.factor) - logk))
    cover = float(np.mean(np.abs(z) <= 1.96))
    assert lo <= cover <= hi, cover
    assert np.median(errs) < 0.6745 * cfg.prior_sigma * 0.6  # much better than no cue at all


def test_scattered_cues_widen_the_posterior():
    """Cues that scatter three times more than they claim: the spread factor keeps the interval honest."""
    rng = np.random.default_rng(1)
    z = {True: [], False: []}
    for _ in range(600):
        logk = rng.normal(0.0, 0.15)
        cues = [Cue("height:x", logk + rng.normal(0.0, 0.3), 0.1) for _ in range(rng.integers(3, 8))]
        for robust, cfg in ((True, ScaleCueConfig(prior_sigma=0.15, shared_sigma=0.0)),
                            (False, ScaleCueConfig(prior_sigma=0.15, shared_sigma=0.0, max_spread_factor=1.0))):
            est = combine_cues(cues, cfg)
            z[robust].append((np.log(est.factor) - logk) / est.log_sigma)
    believed, robust = np.mean(np.abs(z[False]) <= 1.96), np.mean(np.abs(z[True]) <= 1.96)
    assert believed < 0.75, believed  # believing the stated spreads: overconfident
    assert robust > 0.83 and robust > believed + 0.1, (robust, believed)


def test_a_lower_bound_only_pushes_up():
    """A partly seen height (censored cue) says log k >= r: above the prior's centre it pulls the estimate up to
    about r; below the other cues it changes nothing (where a two-sided cue would drag the scale down)."""
    trusted = ScaleCueConfig(shared_sigma=0.0, outlier_prob=0.0)
    bound = combine_cues([Cue("height_bound", 0.4, 0.05, lower=True)], trusted)
    assert 0.38 < np.log(bound.factor) < 0.55
    # a single bound may itself be wrong (outlier_prob): it moves the scale up, less far, and less surely
    robust = combine_cues([Cue("height_bound", 0.4, 0.05, lower=True)], NOSHARED)
    assert 0.1 < np.log(robust.factor) < np.log(bound.factor) and robust.log_sigma > bound.log_sigma
    full = [Cue("height", 0.1 + e, 0.1) for e in (-0.03, 0.0, 0.03)]
    base = combine_cues(full, NOSHARED)
    cut = combine_cues(full + [Cue("height_bound", -0.5, 0.1, lower=True)], NOSHARED)
    naive = combine_cues(full + [Cue("height", -0.5, 0.1)], NOSHARED)
    assert abs(np.log(cut.factor) - np.log(base.factor)) < 0.005
    assert cut.factor > naive.factor  # the cut object's short seen height is no evidence of a small scale
    assert cut.log_sigma <= base.log_sigma + 1e-3


def test_a_gross_failure_is_found_when_the_cues_agree():
    """Four cues at x2 (a whole-image failure): the failure component of the prior lets the estimate go there
    instead of shrinking to the ordinary 10-20 % errors."""
    cues = [Cue("height:x", np.log(2.0) + e, 0.1) for e in (-0.05, 0.0, 0.05, 0.02)]
    with_f = combine_cues(cues, ScaleCueConfig(prior_sigma=0.15, failure_prob=0.05, shared_sigma=0.0))
    without = combine_cues(cues, ScaleCueConfig(prior_sigma=0.15, failure_prob=0.0, shared_sigma=0.0))
    assert abs(np.log(with_f.factor) - np.log(2.0)) < 0.06
    assert with_f.factor > without.factor


def test_two_camps_give_a_wide_posterior():
    """Half the cues say x1, half say x1.8 (a wrong floor, a wrong category): the posterior spans both."""
    a = [Cue("height:x", e, 0.08) for e in (-0.02, 0.0, 0.02)]
    b = [Cue("height:y", np.log(1.8) + e, 0.08) for e in (-0.02, 0.0, 0.02)]
    one = combine_cues(a, NOSHARED)
    both = combine_cues(a + b, NOSHARED)
    assert both.log_sigma > 2.5 * one.log_sigma


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
    assert np.log(agree.factor) == pytest.approx(0.2 / (1 + 0.01 / 3 / CFG.prior_sigma ** 2), abs=0.02)


def test_the_factor_stays_within_its_bounds():
    cfg = ScaleCueConfig(failure_prob=0.05)
    est = combine_cues([Cue("a", np.log(4.5), 0.05)] * 3, cfg)
    assert est.factor == pytest.approx(cfg.max_factor)
    # the kept factor is log(1.5) short of what the cues say, and its stated spread covers that
    assert est.log_sigma > np.log(4.5 / cfg.max_factor) * 0.9
    inside = combine_cues([Cue("a", np.log(2.5), 0.05)] * 3, cfg)
    assert inside.log_sigma < 0.15  # within the bounds nothing is added


def test_shared_errors_do_not_average_out():
    many = [Cue("height:x", 0.1, 0.1)] * 40
    assert combine_cues(many, NOSHARED).log_sigma < 0.02
    assert combine_cues(many, CFG).log_sigma >= CFG.shared_sigma


def test_a_cue_of_two_sub_types_follows_the_other_cues():
    """A lamp read at x1.5 may be a table lamp (1.5 x 0.6 / 0.5: log 0.59) or a floor lamp (log -0.57); picked at the
    depth's own scale it is the floor lamp, which says x0.57 and drags the scale down. As the mixture of both it
    follows the other cues to x1.5, and alone it is no evidence either way."""
    others = [Cue("height:table", np.log(1.5) + e, 0.08) for e in (-0.04, 0.0, 0.04)]
    table, floor = (np.log(0.9 / 0.5), 0.4, False), (np.log(0.9 / 1.6), 0.4, False)
    lamp = Cue("height", *floor, modes=(floor, table))
    wrong = combine_cues(others + [Cue("height", *floor)], CFG)
    mixed = combine_cues(others + [lamp], CFG)
    base = combine_cues(others, CFG)
    assert np.log(mixed.factor) == pytest.approx(np.log(base.factor), abs=0.01)
    assert np.log(wrong.factor) < np.log(mixed.factor) - 0.005  # (a lamp's height spread is wide: 0.4)
    alone = combine_cues([lamp], NOSHARED)
    assert alone.log_sigma > 0.2  # two peaks, 1.16 apart in log, under a prior of sd 0.25
    assert combine_cues([lamp, lamp], NOSHARED).log_sigma > 0.2  # two of them still cannot tell which


def test_a_cue_of_one_mode_is_the_plain_cue():
    c = Cue("height:x", 0.2, 0.1)
    one, plain = combine_cues([Cue("height:x", 0.2, 0.1, modes=((0.2, 0.1, False),))], CFG), combine_cues([c], CFG)
    assert replace(one, cues=()) == replace(plain, cues=())  # (each keeps the cue it was given)


def test_the_t_tables_read_as_the_distributions_they_tabulate():
    """t_pdf / t_cdf read from their table: the Student-t's and the normal's density and distribution function, 0 / 1
    beyond the table, NaN for NaN, any shape."""
    from scipy import stats

    from lift3d.lift.metric_scale import t_cdf, t_pdf

    x = np.concatenate([np.linspace(-12.0, 12.0, 2001), [-61.0, 61.0, -np.inf, np.inf]])
    for nu, dist in ((4.0, stats.t(4.0)), (0.0, stats.norm())):
        assert np.allclose(t_pdf(x, nu), dist.pdf(x), rtol=0, atol=2e-6)
        assert np.allclose(t_cdf(x, nu), dist.cdf(x), rtol=0, atol=2e-4)  # (the table ends at +-60: a heavy tail's mass)
    assert t_cdf(np.array([-np.inf, np.inf]), 4.0).tolist() == [0.0, 1.0]
    assert t_pdf(np.array([-61.0, 61.0]), 4.0).tolist() == [0.0, 0.0]
    assert np.isnan(t_pdf(np.array([np.nan]), 4.0)).all()
    assert t_pdf(np.zeros((2, 3)), 4.0).shape == (2, 3) and float(t_pdf(0.0, 0.0)) == pytest.approx(stats.norm.pdf(0.0))


def test_heights_read_at_an_unknown_pitch_are_read_over_its_prior():
    """No up direction: heights are read along the camera's vertical, and a box of height h and extent d along the
    view, seen pitched by theta, spans h cos + d sin of it, more than h at every pitch.  Six cues read at 35 degrees
    (d = h): taken as level they put the scale 0.33 too high, several of their stated sds; read over the pitch's prior
    (``tilt_ratio``) the estimate comes down, and its sd covers the error that is left."""
    logk, theta = 0.1, np.radians(35.0)
    rng = np.random.default_rng(3)
    seen = [logk + np.log(np.cos(theta) + np.sin(theta)) + rng.normal(0.0, 0.05) for _ in range(6)]
    level = combine_cues([Cue("height", r, 0.1) for r in seen], NOSHARED)
    tilt = combine_cues([Cue("height", r, 0.1, tilt_ratio=1.0) for r in seen], NOSHARED)
    err_level, err_tilt = np.log(level.factor) - logk, np.log(tilt.factor) - logk
    assert err_level > 0.25 and err_level > 3 * level.log_sigma  # confidently wrong
    assert abs(err_tilt) < 0.6 * err_level and abs(err_tilt) < 2 * tilt.log_sigma
    assert tilt.log_sigma > level.log_sigma  # the unknown pitch is a shared error no number of cues averages out
    # a level camera: the prior's pull towards small pitches keeps such an image's estimate close to its heights
    flat = [logk + rng.normal(0.0, 0.05) for _ in range(6)]
    est = combine_cues([Cue("height", r, 0.1, tilt_ratio=1.0) for r in flat], NOSHARED)
    assert -0.2 < np.log(est.factor) - logk < 0 and abs(np.log(est.factor) - logk) < 2 * est.log_sigma


def test_a_zero_tilt_ratio_leaves_the_estimate_as_it_was():
    cues = [Cue("height", 0.1 + e, 0.1) for e in (-0.04, 0.0, 0.05)] + [Cue("camera_height", 0.2, 0.18)]
    a = combine_cues(cues, CFG)
    b = combine_cues([replace(c, tilt_ratio=0.0) for c in cues], CFG)
    assert (a.factor, a.log_sigma, a.weights) == (b.factor, b.log_sigma, b.weights)


def test_most_probable_window_centre():
    """The centre of the +/- half window holding the most probability, not the mean: a narrow peak beats a broad
    spread of more total mass outside any one window; of equal windows, the middle one."""
    from lift3d.lift.metric_scale import most_probable_window

    g = np.arange(-1.0, 1.0 + 1e-9, 0.01)
    p = np.where(np.abs(g + 0.5) <= 0.3, 1.0, 0.0) + np.where(np.abs(g - 0.3) <= 0.02, 6.0, 0.0)
    p /= p.sum()
    assert most_probable_window(p, g, 0.05) == pytest.approx(0.3)
    assert float(np.sum(p * g)) < -0.1  # the mean lies where the scale is not likely to be
    # windows wider than the peak take in the broad part: the one with the most mass
    assert most_probable_window(p, g, 0.3) == pytest.approx(-0.5, abs=0.05)
    flat = np.full(len(g), 1.0 / len(g))
    assert most_probable_window(flat, g, 0.05) == pytest.approx(0.0, abs=0.011)  # every full window alike
    assert most_probable_window(p, g, 0.001) == pytest.approx(0.3, abs=0.021)  # at least one step each side


def test_the_estimate_is_the_most_probable_scale_not_the_posterior_mean():
    """A height seen whole (two-sided, spread 0.10) and one that is only a lower bound at the same value (spread
    0.02): the scale is at least that value, so the posterior is cut there and skewed above it. The estimate is the
    scale most likely to be within +/- 5 %, near the cut; the posterior mean (point_window 0) lies further into the
    tail; the stated spread is the posterior's about the estimate."""
    cues = [Cue("height", 0.0, 0.10), Cue("height_bound", 0.0, 0.02, lower=True)]
    mean_cfg = replace(EXACT, point_window=0.0)
    est, mean = combine_cues(cues, EXACT), combine_cues(cues, mean_cfg)
    k, km = np.log(est.factor), np.log(mean.factor)
    assert 0.0 < k < km - 0.02 and km == pytest.approx(0.08, abs=0.02)
    g = np.arange(-0.6, 0.6, 0.0005)  # the posterior, by hand: N(0, 0.1) cut by the bound (t terms ~ normal here)
    post = np.exp(-0.5 * (g / 0.1) ** 2) * (g >= 0)
    post /= post.sum()
    mass = lambda c: float(post[np.abs(g - c) <= 0.05].sum())  # noqa: E731
    assert mass(k) > mass(km) + 0.03
    assert est.log_sigma > np.sqrt(np.sum(post * (g - np.sum(post * g)) ** 2))  # spread about k, not about the mean


def test_lengths_across_the_view_carry_the_shared_error_only_through_the_prior():
    """Every cue reads a length across the line of sight, the depth's scale over the focal length's (b = a - e, e the
    shared error): sizes read off the estimate carry b's posterior, distances a's plus e.  With Gaussian terms (normal
    cues, no outliers, no failures, spreads as stated) b's posterior about the estimate is known in closed form."""
    sp, sf, sc, c = 0.15, 0.08, 0.1, 0.2
    cfg = ScaleCueConfig(prior_sigma=sp, failure_prob=0.0, shared_sigma=sf, t_nu=0.0, outlier_prob=0.0,
                         max_spread_factor=1.0)
    est = combine_cues([Cue("height:x", c, sc)], cfg)
    point = np.log(est.factor)
    assert point == pytest.approx(c * sp ** 2 / (sp ** 2 + sc ** 2), abs=0.003)  # the cue read as a, as before
    assert est.log_sigma == pytest.approx(np.sqrt(sp ** 2 * sc ** 2 / (sp ** 2 + sc ** 2) + sf ** 2), rel=0.01)
    pb = sp ** 2 + sf ** 2  # b's prior
    mean_b, var_b = c * pb / (pb + sc ** 2), pb * sc ** 2 / (pb + sc ** 2)
    assert est.lateral_log_sigma == pytest.approx(np.sqrt(var_b + (mean_b - point) ** 2), rel=0.02)
    assert est.lateral_log_sigma < est.log_sigma
    # many cues outweigh the prior: the sizes' sd is the cues' own, the distances' holds the shared error
    many = combine_cues([Cue("height:x", 0.1, 0.1)] * 40, CFG)
    assert many.lateral_log_sigma < 0.02 < CFG.shared_sigma <= many.log_sigma
    # no shared error: the two are one; no cue: sizes carry the prior and the shared error
    none = replace(cfg, shared_sigma=0.0)
    one = combine_cues([Cue("height:x", c, sc)], none)
    assert one.lateral_log_sigma == pytest.approx(one.log_sigma, rel=1e-9)
    empty = combine_cues([], cfg)
    assert empty.log_sigma == pytest.approx(sp) and empty.lateral_log_sigma == pytest.approx(np.hypot(sp, sf))
