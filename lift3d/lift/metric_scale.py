"""Each image's metric scale from every cue, with its uncertainty (pure numpy).

Model depth is, to first order, the true depth times one unknown factor ``k`` per image (monocular networks are
off by 10-20 % per image as a rule and by x1.5-x3 now and then).  Every cue is an observation of ``log k`` with
its own spread:

* an object of a category with a size prior whose full height is seen: ``log(seen height / prior height)``, spread
  = the category's height spread and the measurement's (built by the lifter's scale step);
* the camera's height above the fitted floor / ground plane: ``log(floor distance / typical camera height)``;
  people take photos standing (hand-held and street photos sit at about 1.2-1.8 m), so the typical height is
  1.5 m with a log spread of 0.15 (about 1.3-1.75 m at one sigma); a tripod, a table or a window shows up as an
  outlier that the robust weights discount.

They are combined in log space with a Gaussian prior on ``log k`` centred on 0 whose spread is what the depth
source is known to get wrong (``prior_sigma``), Student-t weights for the observations (a wrong cue counts less,
smoothly), and a posterior standard deviation that grows when the cues disagree more than their spreads say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScaleCueConfig:
    prior_sigma: float = 0.25  # log spread of a model's per-image scale before any cue (10-20 % typical + failures)
    camera_height_m: float = 1.4  # typical camera height of a photo above the floor / ground (seated 1.0-1.2, standing 1.4-1.7), m
    camera_height_log_sd: float = 0.18  # its log spread: about 1.17-1.68 m at one sigma
    camera_height_min_confidence: float = 0.3  # floor fits less confident than this give no camera-height cue
    # errors every cue of the image shares, which no number of cues averages out: a model's or a prior's focal
    # length (off by ~8 %: it rescales x and y against z, so heights and the floor's distance alike)
    shared_sigma: float = 0.08
    t_nu: float = 4.0  # Student-t degrees of freedom of a cue's error (heavier tails than Gaussian)
    max_factor: float = 3.0  # the factor is kept in [1/max_factor, max_factor] (x3 failures do happen)
    iterations: int = 20  # re-weighting rounds


@dataclass(frozen=True)
class Cue:
    kind: str  # "height:<category>" | "camera_height"
    log_ratio: float  # log(observed / expected): the depth is too large by exp(log_ratio)
    sigma: float  # spread of log_ratio


@dataclass(frozen=True)
class ScaleEstimate:
    factor: float  # divide the depth by this
    log_sigma: float  # posterior standard deviation of log(factor)
    n_cues: int  # cues with a non-negligible weight
    weights: tuple  # each cue's final weight relative to its nominal 1/sigma^2 (1 = fully trusted)

    @classmethod
    def none(cls, prior_sigma: float) -> "ScaleEstimate":
        """No cue: the depth is kept and the scale is as uncertain as the depth source."""
        return cls(1.0, float(prior_sigma), 0, ())  # (the prior already covers the shared errors)


def camera_height_cue(floor_h: float | None, confidence: float, cfg: ScaleCueConfig = ScaleCueConfig()) -> Cue | None:
    """The camera-height cue from the floor's distance below the camera (model depth units), or None."""
    if floor_h is None or not np.isfinite(floor_h) or floor_h <= 0 or confidence < cfg.camera_height_min_confidence:
        return None
    return Cue("camera_height", float(np.log(floor_h / cfg.camera_height_m)), cfg.camera_height_log_sd)


def combine_cues(cues: list[Cue], cfg: ScaleCueConfig = ScaleCueConfig()) -> ScaleEstimate:
    """Posterior of log k from the cues: Gaussian prior N(0, prior_sigma^2), Student-t re-weighted cues."""
    cues = [c for c in cues if np.isfinite(c.log_ratio) and c.sigma > 0]
    if not cues:
        return ScaleEstimate.none(cfg.prior_sigma)
    r = np.array([c.log_ratio for c in cues])
    w = 1.0 / np.array([c.sigma for c in cues]) ** 2
    w0 = 1.0 / cfg.prior_sigma ** 2
    lim = np.log(cfg.max_factor)  # applied to the converged estimate: clipping inside the loop breaks its fixed point
    # start from the weighted median: a robust start keeps one wild cue from pulling the first mean
    o = np.argsort(r)
    cw = np.cumsum(w[o])
    logk = float(r[o][np.searchsorted(cw, 0.5 * cw[-1])])
    wt = w
    for _ in range(cfg.iterations):
        if cfg.t_nu > 0:
            wt = w * (cfg.t_nu + 1.0) / (cfg.t_nu + (r - logk) ** 2 * w)
        new = float(np.sum(wt * r) / (np.sum(wt) + w0))
        if abs(new - logk) < 1e-9:
            logk = new
            break
        logk = new
    var = 1.0 / (np.sum(wt) + w0)
    rel = wt / w
    n = int(np.sum(rel > 0.25))
    if n >= 2:
        # cues that disagree beyond their spreads: the posterior is as uncertain as their scatter says
        chi2 = float(np.sum(wt * (r - logk) ** 2) / (n - 1))
        var *= max(1.0, chi2)
    var += cfg.shared_sigma ** 2
    return ScaleEstimate(float(np.exp(np.clip(logk, -lim, lim))), float(np.sqrt(var)), n, tuple(float(x) for x in rel))
