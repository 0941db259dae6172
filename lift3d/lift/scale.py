"""Per-image depth scale from the category height priors (model depth only: ``scale_from_priors``)."""

from __future__ import annotations

import numpy as np

from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import object_height


MIN_HEIGHT = 0.02  # m; a seen height below this says nothing about the scale
OCCLUDED_MEAS = 1.5  # an occluded object's height is this much less certain
T_ITERATIONS = 10  # re-weighting iterations of the Student-t mean


def estimate_depth_scale(obs: list, floor_h, cfg: LiftConfig) -> tuple[float, int]:
    """Per-image depth scale from the category height priors of the fully seen objects.


    Each object with a prior whose full height is seen (not cut by the top/bottom image border; when
    occluded, only if it stands on the floor) gives r = log(observed height / prior
    height) with spread sigma = the prior's height spread (+ a measurement term); a ratio beyond
    ``scale_max`` (no allowed scale explains it: a table seen as its top alone) is a partial view and is
    not used.  Ratios far from the weighted median are dropped; the rest are averaged with weights
    1/sigma^2 together with a zero-mean pseudo-observation of spread ``scale_prior_std`` (shrinkage towards
    1: a single doubtful object moves the scale little, many consistent ones move it a lot), then
    re-weighted as Student-t errors (``scale_t_nu`` degrees of freedom, iteratively): a ratio far from the
    consensus counts less, smoothly, instead of fully up to the cut.  Returns (scale, objects used).
    """
    r, s = [], []
    for ob in obs:
        p = ob.prior
        if p is None or ob.trunc_v or len(ob.q) < cfg.plausible.few_points:
            continue
        hl, hh_, on_floor = object_height(ob, floor_h, cfg)
        occluded = "occluded" in ob.flags
        if occluded and not on_floor:
            continue  # an occluder may hide the bottom; the floor contact restores it
        h = hh_ - hl
        if not (h > MIN_HEIGHT):
            continue
        ratio = np.log(h / p.h)
        if abs(ratio) > np.log(cfg.scale.max_factor):
            continue  # a ratio no allowed scale can explain is a partial view (a table's top alone), not scale
        r.append(ratio)
        meas = cfg.scale.meas_std * (OCCLUDED_MEAS if occluded else 1.0)
        meas *= cfg.scale.box_only_factor if ob.box_only else 1.0
        s.append(np.hypot(p.h_rel_std, meas))
    if not r:
        return 1.0, 0
    r, s = np.array(r), np.array(s)
    w = 1.0 / s ** 2
    o = np.argsort(r)
    cw = np.cumsum(w[o])
    med = r[o][np.searchsorted(cw, 0.5 * cw[-1])]
    inl = np.abs(r - med) <= cfg.scale.outlier_k * s
    if not inl.any():
        return 1.0, 0
    w0 = 1.0 / cfg.scale.prior_std ** 2
    logk = float(np.sum(w[inl] * r[inl]) / (np.sum(w[inl]) + w0))
    if cfg.scale.t_nu > 0:
        r, w, nu = r[inl], w[inl], cfg.scale.t_nu
        for _ in range(T_ITERATIONS):
            wt = w * (nu + 1.0) / (nu + (r - logk) ** 2 * w)
            logk = float(np.sum(wt * r) / (np.sum(wt) + w0))
    lim = np.log(cfg.scale.max_factor)
    return float(np.exp(np.clip(logk, -lim, lim))), int(inl.sum())
