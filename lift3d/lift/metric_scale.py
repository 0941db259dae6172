"""Each image's metric scale from every cue, with its uncertainty (pure numpy).

Model depth is, to first order, the true depth times one unknown factor ``k`` per image (monocular networks are
off by 10-20 % per image as a rule and by x1.5-x3 now and then).  Every cue is an observation of ``log k`` with
its own spread:

* an object of a category with a size prior whose full height is seen: ``log(seen height / prior height)``, spread
  = the category's height spread and the measurement's (built by the lifter's scale step);
* an object whose height is only partly seen (cut by the image border, hidden behind an occluder): the seen
  height is at most its full height, so ``log(seen height / prior height)`` is a LOWER bound on ``log k`` (up to
  the prior's spread): a one-sided, censored term ``P(log k + eta >= r)`` instead of a two-sided one;
* the camera's height above the fitted floor / ground plane: ``log(floor distance / typical camera height)``;
  people take photos standing or seated (hand-held and street photos sit at about 1.2-1.8 m); a tripod, a table or
  a window is the outlier that the robust terms discount;
* an object of a category with sub-types of different sizes (a floor lamp 1.6 m, a table lamp 0.5 m): which one it
  is was read at the depth's own scale, so a x1.5 scale error turns a table lamp into a floor lamp whose cue then
  confirms the error; its cue is the even mixture of the terms under each sub-type (``Cue.modes``), and the other
  cues decide;
* a room whose floor and ceiling are both seen: ``log((floor distance + ceiling distance) / typical room height)``
  (rooms are 2.4-3 m high; a hall is the outlier).

An image whose up direction is unknown (none given, none found: no floor, no vertical lines; a view pitched beyond
the lift's search cones) has its heights read along the camera's vertical.  A box of height h and horizontal extent d
along the view, seen pitched by theta, spans ``h cos(theta) + d sin(theta)`` along it: more than h at every pitch, so
such heights read tall and the scale high (rooms shot 42-44 degrees down: +0.39 to +0.55 in log).  A height cue then
carries its ``tilt_ratio`` d / h, and the pitch, one for the image, is marginalised over its prior (``tilt_sd_deg``:
half-normal, most photos within 30 degrees of level, close-ups of tables further down): each cue's log ratio less
``log(cos(theta) + tilt_ratio sin(theta))`` at each pitch.

The posterior of ``log k`` is evaluated on a grid (the terms are not Gaussian): a prior that is a mixture of the
ordinary per-image error (``prior_sigma``) and gross failures (``failure_prob``, ``failure_sigma``); per cue a
Student-t term (or its CDF for a bound) mixed with a flat outlier term of probability ``outlier_prob`` (a cue that
is simply wrong: a toy car, a child, a partial view nobody flagged); and one common factor ``tau`` on every cue's
spread, marginalised over a half-log-normal prior on [1, ``max_spread_factor``] (log spread a third of that range) (the stated spreads are themselves
uncertain: cues that scatter more than they claim widen the posterior instead of being believed).  The estimate
is the centre of the posterior's most probable window of ``log k`` +/- ``point_window`` (kept within x/÷
``max_factor``) and the uncertainty its posterior standard deviation about the kept value, plus the error every cue
shares (``shared_sigma``, a model's focal length), which no number of cues averages out.  The most probable window,
not the mean: a box (and the distances and sizes read off it) is useful only within a few per cent of its true
distance (a person 0.3 m deep at 10 m, a lamp at 3 m), so the estimate is the scale most likely to be that close;
the posterior mean is drawn into the tails (a censored cue's one side, a failure's mode, an outlier's) where the
scale is not likely to lie.  For a symmetric, single-peaked posterior the two agree.  Cues that disagree give a
wide (or two-peaked) posterior and so a large ``log_sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class ScaleCueConfig:
    prior_sigma: float = 0.25  # log spread of a model's ordinary per-image scale error before any cue
    failure_prob: float = 0.0  # prior probability of a gross whole-image failure (x1.5-x3)
    failure_sigma: float = 0.6  # its log spread (x1.8 at one sigma)
    camera_height_m: float = 1.4  # typical camera height of a photo above the floor / ground (seated 1.0-1.2, standing 1.4-1.7), m
    camera_height_log_sd: float = 0.18  # its log spread: about 1.17-1.68 m at one sigma
    camera_height_min_confidence: float = 0.3  # floor fits less confident than this give no camera-height cue
    # a room's floor-to-ceiling height: homes 2.4-2.75 m, offices and schools 2.7-3.0 m; a hall is the outlier
    room_height_m: float = 2.7
    room_height_log_sd: float = 0.1  # about 2.44-2.98 m at one sigma
    # errors every cue of the image shares, which no number of cues averages out: a model's or a prior's focal
    # length (off by ~8 %: it rescales x and y against z, so heights and the floor's distance alike)
    shared_sigma: float = 0.08
    t_nu: float = 4.0  # Student-t degrees of freedom of a cue's error (heavier tails than Gaussian)
    outlier_prob: float = 0.1  # prior probability that a cue is simply wrong (flat over outlier_range)
    outlier_range: float = np.log(10.0)  # a wrong cue's log-ratio lies anywhere within x/÷ this
    max_spread_factor: float = 3.0  # the cues' spreads may be understated by up to this factor (log-uniform)
    max_factor: float = 3.0  # the factor is kept in [1/max_factor, max_factor] (x3 failures do happen)
    grid_step: float = 0.005  # log k grid resolution
    grid_half_width: float = 1.6  # log k grid: [-this, this] (x/÷ 5)
    # the estimate is the centre of the posterior's most probable window of log k +/- this (a box is of use within a
    # few per cent of its distance); 0: the posterior mean
    point_window: float = 0.05
    # an image of unknown up direction: its pitch's prior, half-normal of this sd (deg), on ``tilt_steps`` pitches
    # up to ``tilt_max_deg``; photos are mostly within 30 degrees of level, close-ups of a table 40-60 down
    tilt_sd_deg: float = 25.0
    tilt_max_deg: float = 70.0
    tilt_steps: int = 8


@dataclass(frozen=True)
class Cue:
    kind: str  # "height:<category>" | "camera_height"
    log_ratio: float  # log(observed / expected): the depth is too large by exp(log_ratio)
    sigma: float  # spread of log_ratio
    lower: bool = False  # a lower bound: the true log k is at least log_ratio (up to sigma), a partly seen height
    # a category of sub-types (a floor or a table lamp, x3 apart): ((log_ratio, sigma, lower), ...) under each; the cue
    # is their even mixture, since which one it is depends on the scale (log_ratio / sigma / lower: the first's)
    modes: tuple = ()
    ref: object = None  # what it was read from (a height cue: its annotation id), for diagnostics
    # a height read along the camera's vertical (the image's up direction unknown): the object's horizontal extent
    # along the view over its height; the read height is h cos(pitch) + d sin(pitch) (module docstring); 0: level
    tilt_ratio: float = 0.0


@dataclass(frozen=True)
class ScaleEstimate:
    factor: float  # divide the depth by this
    log_sigma: float  # posterior standard deviation of log(factor)
    n_cues: int  # cues with a non-negligible weight
    weights: tuple  # each cue's posterior probability of being right (not an outlier)
    cues: tuple = ()  # the cues combined, in the order of ``weights``
    # posterior sd of the log scale of lengths across the line of sight (sizes, lateral positions): the cues read
    # those directly, so it holds the shared error (the focal length's) only through the depth's prior; None: as
    # ``log_sigma``
    lateral_log_sigma: float | None = None

    @classmethod
    def none(cls, prior_sigma: float, shared_sigma: float = 0.0) -> "ScaleEstimate":
        """No cue: the depth is kept and the scale is as uncertain as the depth source; lengths across the line of
        sight carry the shared error (``shared_sigma``, a focal length's) on top of it."""
        return cls(1.0, float(prior_sigma), 0, (), (),  # (the prior already covers the shared errors of distances)
                   float(np.hypot(prior_sigma, shared_sigma)))


def camera_height_cue(floor_h: float | None, confidence: float, cfg: ScaleCueConfig = ScaleCueConfig()) -> Cue | None:
    """The camera-height cue from the floor's distance below the camera (model depth units), or None."""
    if floor_h is None or not np.isfinite(floor_h) or floor_h <= 0 or confidence < cfg.camera_height_min_confidence:
        return None
    return Cue("camera_height", float(np.log(floor_h / cfg.camera_height_m)), cfg.camera_height_log_sd)


def room_height_cue(floor_h: float | None, ceiling_h: float | None, confidence: float,
                    cfg: ScaleCueConfig = ScaleCueConfig()) -> Cue | None:
    """The room-height cue from the floor's distance below and the ceiling's above the camera (model depth units,
    :func:`lift3d.lift.gravity.ceiling_height`), or None without both or with a floor fit less confident than
    ``camera_height_min_confidence``."""
    if floor_h is None or ceiling_h is None or confidence < cfg.camera_height_min_confidence:
        return None
    room = float(floor_h) + float(ceiling_h)
    if not (np.isfinite(room) and room > 0 and floor_h > 0 and ceiling_h > 0):
        return None
    return Cue("room_height", float(np.log(room / cfg.room_height_m)), cfg.room_height_log_sd)


@lru_cache(maxsize=8)
def _t_table(nu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, density and CDF of the standard Student-t (nu > 0) or normal (nu <= 0) on a fine table."""
    x = np.linspace(-60.0, 60.0, 48001)
    if nu > 0:
        p = (1.0 + x * x / nu) ** (-(nu + 1.0) / 2.0)
    else:
        p = np.exp(-0.5 * x * x)
    c = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(x))])
    return x, p / c[-1], c / c[-1]


def t_pdf(x: np.ndarray, nu: float) -> np.ndarray:
    """Standard Student-t density (normal for nu <= 0)."""
    tx, tp, _ = _t_table(float(nu))
    return np.interp(x, tx, tp, left=0.0, right=0.0)


def t_cdf(x: np.ndarray, nu: float) -> np.ndarray:
    """Standard Student-t cumulative distribution (normal for nu <= 0)."""
    tx, _, tc = _t_table(float(nu))
    return np.interp(x, tx, tc, left=0.0, right=1.0)


def prior_density(g: np.ndarray, cfg: ScaleCueConfig) -> np.ndarray:
    """Prior of log k on the grid: ordinary errors N(0, prior_sigma^2), gross failures N(0, failure_sigma^2)."""
    def n(s):
        return np.exp(-0.5 * (g / s) ** 2) / s
    return (1.0 - cfg.failure_prob) * n(cfg.prior_sigma) + cfg.failure_prob * n(cfg.failure_sigma)


def cue_likelihoods(cues: list[Cue], g: np.ndarray, taus: np.ndarray, cfg: ScaleCueConfig) -> tuple[np.ndarray, np.ndarray]:
    """(inlier, outlier) likelihood of every cue at every grid point, spreads times each of ``taus``: shapes
    (taus, cues, grid) and (cues, grid) (a wrong cue's term does not depend on the spread)."""
    taus = np.asarray(taus, dtype=np.float64)
    T, C = len(taus), len(cues)
    lower = np.array([c.lower for c in cues])[:, None]
    # one term per cue, or one per sub-type for a cue of several (its modes)
    rows = [(i,) + tuple(m) for i, c in enumerate(cues) for m in (c.modes or ((c.log_ratio, c.sigma, c.lower),))]
    idx = np.array([m[0] for m in rows])
    r, s, b = np.array([m[1] for m in rows]), np.array([m[2] for m in rows]), np.array([bool(m[3]) for m in rows])
    inl = _inlier(np.tile(r, T), (taus[:, None] * s[None, :]).ravel(), np.tile(b, T), g, cfg)
    if len(rows) > C:  # a cue of several sub-types: the even mixture of its modes' terms
        share = 1.0 / np.bincount(idx, minlength=C)[idx]
        mixed = np.zeros((T * C, len(g)))
        np.add.at(mixed, (np.arange(T)[:, None] * C + idx[None, :]).ravel(), inl * np.tile(share, T)[:, None])
        inl = mixed
    # a wrong cue: its value is flat over the outlier range; a wrong bound holds or not with even odds
    out = np.where(lower, 0.5, 1.0 / (2.0 * cfg.outlier_range)) * np.ones((C, len(g)))
    return inl.reshape(T, C, len(g)), out


def _inlier(r: np.ndarray, s: np.ndarray, b: np.ndarray, g: np.ndarray, cfg: ScaleCueConfig) -> np.ndarray:
    """Inlier likelihood (rows, grid) of terms at log ratios ``r`` with spreads ``s``: a bound's (``b``) probability,
    a value's density (each table read only where it is used)."""
    r, s = r[:, None], s[:, None]
    u = (g[None, :] - r) / s  # how far log k lies above the cue, in spreads
    inl = np.empty_like(u)
    if b.any():
        inl[b] = t_cdf(u[b], cfg.t_nu)
    if not b.all():
        inl[~b] = t_pdf(u[~b], cfg.t_nu) / s[~b]
    return inl


def tilt_terms(cfg: ScaleCueConfig) -> tuple[np.ndarray, np.ndarray]:
    """(pitches in radians, their prior log weights): the half-normal pitch prior of an image of unknown up direction
    (``tilt_sd_deg``) on ``tilt_steps`` even steps from level to ``tilt_max_deg``."""
    th = np.radians(np.linspace(0.0, cfg.tilt_max_deg, max(int(cfg.tilt_steps), 2)))
    lw = -0.5 * (th / np.radians(cfg.tilt_sd_deg)) ** 2
    return th, lw - np.log(np.sum(np.exp(lw)))


def tilted(c: Cue, theta: float) -> Cue:
    """The cue with its height as it would read at true up (the camera pitched by ``theta``: module docstring)."""
    e = float(np.log(np.cos(theta) + c.tilt_ratio * np.sin(theta)))
    if e == 0.0:
        return c
    return replace(c, log_ratio=c.log_ratio - e, modes=tuple((m[0] - e,) + tuple(m[1:]) for m in c.modes))


def most_probable_window(p: np.ndarray, g: np.ndarray, half: float) -> float:
    """The centre of the window of the evenly spaced grid ``g`` spanning +/- ``half`` (at least one step) that holds
    the most of the probabilities ``p``; of equally probable windows (a peak narrower than the window), the middle
    one."""
    w = max(1, int(round(half / float(g[1] - g[0])))) if len(g) > 1 else 0
    c = np.concatenate([[0.0], np.cumsum(p)])
    i = np.arange(len(g))
    mass = c[np.minimum(i + w + 1, len(g))] - c[np.maximum(i - w, 0)]
    best = np.flatnonzero(mass >= mass.max() * (1.0 - 1e-9))
    return float(g[int(best[len(best) // 2])])


def combine_cues(cues: list[Cue], cfg: ScaleCueConfig = ScaleCueConfig()) -> ScaleEstimate:
    """Posterior of log k from the cues on a grid (see the module docstring): its most probable window's centre and
    the standard deviation about it; cues with a ``tilt_ratio`` (an image of unknown up direction) are read over the
    pitch's prior as well."""
    cues = [c for c in cues if np.isfinite(c.log_ratio) and np.isfinite(c.sigma) and c.sigma > 0]
    if not cues:
        return ScaleEstimate.none(float(np.sqrt(cfg.prior_sigma ** 2 * (1 - cfg.failure_prob)
                                                + cfg.failure_sigma ** 2 * cfg.failure_prob)), cfg.shared_sigma)
    g = np.arange(-cfg.grid_half_width, cfg.grid_half_width + 0.5 * cfg.grid_step, cfg.grid_step)
    logprior = np.log(prior_density(g, cfg) + 1e-300)
    eps = cfg.outlier_prob
    # tau >= 1 on a log grid up to max_spread_factor, half-log-normal prior (log spread: a third of the range)
    lt = np.linspace(0.0, np.log(cfg.max_spread_factor), 7) if cfg.max_spread_factor > 1 else np.zeros(1)
    logtau_prior = -0.5 * (lt / max(np.log(cfg.max_spread_factor) / 3.0, 1e-9)) ** 2
    taus = np.exp(lt)
    pitches = tilt_terms(cfg) if any(c.tilt_ratio > 0 for c in cues) else (np.zeros(1), np.zeros(1))
    parts = []  # per pitch: (log posterior (tau, grid), inlier terms, mixtures)
    for th, lw in zip(*pitches):
        inl, out = cue_likelihoods([tilted(c, th) for c in cues], g, taus, cfg)  # (tau, cue, grid), (cue, grid)
        mix = (1.0 - eps) * inl + eps * out
        parts.append((lw + logprior + logtau_prior[:, None] + np.sum(np.log(mix + 1e-300), axis=1), inl, mix))
    logpost = np.stack([q[0] for q in parts])  # (pitch, tau, grid)
    post = np.exp(logpost - logpost.max())
    joint = post / post.sum()
    p = joint.sum(axis=(0, 1))  # marginal over the pitch and tau
    point = most_probable_window(p, g, cfg.point_window) if cfg.point_window > 0 else float(np.sum(p * g))
    var = float(np.sum(p * (g - point) ** 2))
    # each cue's posterior probability of being right, averaged over the posterior
    resp = sum(((1.0 - eps) * inl[i] / mix[i]) @ joint[j, i] for j, (_, inl, mix) in enumerate(parts)
               for i in range(len(taus)))
    # the factor is kept within its bounds; where that moves it off the estimate, its error is the posterior's
    # spread about the kept value (the cues said x4.5 and x3 is written: the answers built on it are off by the
    # difference, and the guards must know)
    lim = np.log(cfg.max_factor)
    kept = float(np.clip(point, -lim, lim))
    # (no shared error: lengths across the view have the same posterior as the depth's scale)
    lat = (lateral_variance(logpost, logprior, g, point, cfg) if cfg.shared_sigma > 0 else var) + (point - kept) ** 2
    var += (point - kept) ** 2 + cfg.shared_sigma ** 2
    return ScaleEstimate(float(np.exp(kept)), float(np.sqrt(var)), int(np.sum(resp > 0.5)),
                         tuple(float(x) for x in resp), tuple(cues), float(np.sqrt(lat)))


def lateral_variance(logpost: np.ndarray, logprior: np.ndarray, g: np.ndarray, point: float,
                     cfg: ScaleCueConfig) -> float:
    """Variance about ``point`` of the log scale of lengths across the line of sight.  Every cue is such a length
    (a height, the camera's height above the floor): it reads the depth's scale over the focal length's, ``b = a -
    e``, where ``a`` is the depth's own log scale and ``e`` the shared error (N(0, ``shared_sigma``^2)).  ``logpost``
    treats the cues as reading ``a``; the same likelihood under b's prior (a's prior convolved with e's spread:
    each component's variance plus ``shared_sigma``^2) is b's posterior.  Distances carry ``e`` on top of ``a``;
    sizes across the view only through the prior, which the cues outweigh.  (Without a shared error it is the depth
    scale's own posterior variance, which :func:`combine_cues` has already.)"""
    wide = replace(cfg, prior_sigma=float(np.hypot(cfg.prior_sigma, cfg.shared_sigma)),
                   failure_sigma=float(np.hypot(cfg.failure_sigma, cfg.shared_sigma)))
    lp = logpost + (np.log(prior_density(g, wide) + 1e-300) - logprior)
    p = np.exp(lp - lp.max()).sum(axis=(0, 1))
    p = p / p.sum()
    return float(np.sum(p * (g - point) ** 2))
