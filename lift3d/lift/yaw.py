"""Yaw about the up axis: the rectangle orientation whose boundary the ground-plane points lie on."""

from __future__ import annotations

import numpy as np

from lift3d.lift.quantiles import median, percentile


FINE_STEPS = 9  # the search is refined on this many angles within +- one coarse step of the best


def fit_yaw(g2: np.ndarray, step_deg: float, lo: float, hi: float, max_points: int = 600):
    """Rectangle orientation theta in [0, pi/2) on ground points g2 (N, 2) = (x, fwd).


    Returns (theta, confidence) where confidence compares the best score to the median one.  The
    search runs on at most ``max_points`` points (evenly subsampled) with order statistics in place of
    interpolated percentiles.
    """
    if len(g2) > max_points:
        g2 = g2[np.linspace(0, len(g2) - 1, max_points).astype(np.int64)]
    g2 = g2 - g2.mean(axis=0)
    n = len(g2)
    kl = int(np.clip(round(lo / 100.0 * (n - 1)), 0, n - 1))
    kh = int(np.clip(round(hi / 100.0 * (n - 1)), 0, n - 1))


    def scores(thetas):
        c, s = np.cos(thetas)[:, None], np.sin(thetas)[:, None]
        u = c * g2[None, :, 0] + s * g2[None, :, 1]
        v = -s * g2[None, :, 0] + c * g2[None, :, 1]
        pu = np.sort(u, axis=1)  # (the order statistics kl, kh; a sort of a few hundred values per row is faster
        pv = np.sort(v, axis=1)  # than np.partition at two of them)
        ul, uh = pu[:, kl:kl + 1], pu[:, kh:kh + 1]
        vl, vh = pv[:, kl:kl + 1], pv[:, kh:kh + 1]
        dist = np.minimum(np.minimum(np.abs(u - ul), np.abs(u - uh)), np.minimum(np.abs(v - vl), np.abs(v - vh)))
        return dist.mean(axis=1)


    coarse = np.radians(np.arange(0.0, 90.0, step_deg))
    sc = scores(coarse)
    i = int(np.argmin(sc))
    fine = coarse[i] + np.radians(np.linspace(-step_deg, step_deg, FINE_STEPS))
    sf = scores(fine)
    j = int(np.argmin(sf))
    theta = float(np.mod(fine[j], np.pi / 2))
    best = float(sf[j])
    med = float(median(sc))
    conf = 0.0 if med <= 1e-9 else float(np.clip(1.0 - best / med, 0.0, 1.0))
    return theta, conf


def seen_extents(q: np.ndarray, c: float, s: float, pct_lo: float, pct_hi: float):
    """(u, v, [ul, uh, vl, vh]): the points' ground coordinates along the box axes u = (c, s), v = (-s, c) of the
    gravity frame's (x, forward) plane, and their robust (``pct_lo``..``pct_hi`` percentile) extents."""
    g2 = q[:, [0, 2]]
    u = c * g2[:, 0] + s * g2[:, 1]
    v = -s * g2[:, 0] + c * g2[:, 1]
    ul, uh = percentile(u, [pct_lo, pct_hi])
    vl, vh = percentile(v, [pct_lo, pct_hi])
    return u, v, [ul, uh, vl, vh]


def observation_yaw(ob, cfg) -> tuple:
    """(theta, confidence) of :func:`fit_yaw` on an observation's ground points, fitted once and kept on it (the
    scale step and the fit both need it; a uniform depth scale does not change it)."""
    if ob.yaw is None:
        ob.yaw = fit_yaw(ob.q[:, [0, 2]], cfg.yaw.step_deg, cfg.extent.pct_lo, cfg.extent.pct_hi, cfg.yaw.points)
    return ob.yaw
