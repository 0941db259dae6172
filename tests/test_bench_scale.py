"""benchmarks/bench_scale.py: a scale cue's error against the truth, split into its measurement's and its prior's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from lift3d.lift import LiftConfig
from lift3d.lift.metric_scale import Cue, combine_cues
from lift3d.lift.priors import lookup
from lift3d.lift.scale import cue_config


@pytest.fixture(scope="module")
def bs(load_benchmark):
    return load_benchmark("bench_scale")


def _truth(h_true):
    return {"objects": [{"annotation_id": 7, "category": "chair", "dimensions": [0.5, h_true, 0.5],
                         "center_cam": [0.0, 0.0, 4.0]},
                        {"annotation_id": 8, "category": "table", "dimensions": [0.9, lookup("table").h, 1.5],
                         "center_cam": [1.0, 0.0, 5.0]}]}


def test_a_cue_error_splits_into_its_measurement_and_its_prior(bs):
    chair = lookup("chair")
    h_true, ideal = chair.h * np.exp(0.1), 0.2
    by_id = {o["annotation_id"]: o for o in _truth(h_true)["objects"]}
    cue = Cue("height", ideal + 0.1 + 0.05, 0.1, ref=7)  # a chair 10 % above its prior, read 5 % tall
    cat, total, meas, prior = bs.cue_errors(cue, by_id, ideal)
    assert cat == "chair" and total == pytest.approx(0.15) and meas == pytest.approx(0.05)
    assert prior == pytest.approx(0.1)
    # a bound, a cue of several priors (a lamp), an unmatched one: not split
    assert bs.cue_errors(Cue("height_bound", 0.3, 0.1, lower=True, ref=7), by_id, ideal) is None
    assert bs.cue_errors(Cue("height", 0.3, 0.1, modes=((0.3, 0.1, False), (1.0, 0.1, False)), ref=7), by_id, 0) is None
    assert bs.cue_errors(Cue("height", 0.3, 0.1, ref=99), by_id, ideal) is None


def test_recombined_with_exact_measurements_removes_what_the_heights_misread(bs):
    """One image at its true depth scale (so the depth source's prior pulls nowhere); the chair is read 8 % tall (a
    measurement error), the table exactly; the boxes lifted at the true distances times the factor used, so the
    ideal factor is 1.  With the chair's measurement made exact, the recombined factor is right; no further change
    with the priors made exact (both objects are their priors' height)."""
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15})
    ideal = 0.0
    cues = [Cue("height", ideal + 0.08, 0.1, ref=7), Cue("height", ideal, 0.08, ref=8)]
    est = combine_cues(cues, cue_config(cfg))
    truth = _truth(lookup("chair").h)
    f = est.factor
    objects = [{"annotation_id": o["annotation_id"], "center_cam": list(np.array(o["center_cam"]) / f)}
               for o in truth["objects"]]
    res = SimpleNamespace(scale_estimate=est, objects=objects, depth_scale_factor=f, depth_scale_log_sigma=est.log_sigma)
    assert bs.ideal_log_factor(res, truth) == pytest.approx(ideal)
    s = bs.analyse([(res, truth)], cfg)
    rc = s["recombined_rms"]
    assert s["images"] == 1 and s["rms"] == pytest.approx(abs(np.log(f) - ideal))
    assert rc["exact measurements"] < rc["as lifted"] and rc["exact priors"] == pytest.approx(rc["as lifted"])
    assert rc["both exact"] == pytest.approx(rc["exact measurements"]) and rc["both exact"] < 1e-3
    assert s["categories"]["chair"]["meas_rms"] == pytest.approx(0.08)
    assert s["categories"]["table"]["prior_rms"] == pytest.approx(0.0, abs=1e-12)
