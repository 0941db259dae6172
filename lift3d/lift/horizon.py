"""The focal length from the floor's horizon and the vertical vanishing point (pure numpy).

A camera pitched by p sees the floor's horizon (where the floor's depth goes to infinity) at ``f tan p`` from the
principal point and the vertical vanishing point at ``f / tan p`` on the other side: their product is ``f^2``, with
no metric quantity in it.  In pixels: the floor plane ``n . X = h`` has inverse depth ``1/z = (n . K^-1 (u, v, 1)) /
h``, affine in the pixel, zero on the horizon, so a fit ``1/z = A (u - cx) + B (v - cy) + C`` over the floor's pixels
gives ``g = (A, B) / C = (n_x, n_y) / (f n_z)``, while the vanishing point sits at ``a = f (n_x, n_y) / n_z`` pixels
from the principal point: ``a = f^2 g``.  The depth map's metric scale and its smooth multiplicative field move
neither; a depth-range exponent (``z' ~ z ** gamma``, a network compressing or stretching the range) bends the
inverse depth into ``(1/z) ** gamma``, so ``(1/z') ** (1 / gamma)`` is fitted, gamma chosen from a grid by the
fit's residual.  It needs a pitched camera (a level one puts both points at infinity) and a floor seen far enough
towards its horizon; outdoor street scenes, whose ground runs to the facades and which have few horizontal line
families for :func:`lift3d.lift.vanishing.focal_length`, are where it helps.

Its spread, in quadrature: the vertical point's (the robust spread of its bootstrap directions that fix a point,
:func:`lift3d.lift.vanishing.down_samples`, :func:`lift3d.lift.quantiles.mad_sd`);
the fit's (a jackknife over bands of the floor's pixels ordered by depth); the extrapolation's (``gradient_error``
times the horizon's distance from the floor seen, over its distance from the principal point: an indoor floor seen
only near the camera fixes little); a floor.  The estimate is combined with the given focal length by their
precisions; one beyond ``gate`` combined sds is not used (a sloped ground, a floor that is not one plane, bent by
the depth's range distortion: unlike the lines' estimate, :func:`lift3d.lift.vanishing.split_focal`, such estimates
were wrong: 6 of 6 by 0.18-0.55 in log under harsher unseen errors on scratch indoor scenes).
Synthetic scenes (scratch seeds 5000-8000, monocular preset, 8 % focal error): outdoors it is made on about half the
images (the others look level), its z-scores' sd is 0.5-0.8 (conservative), and the focal length after it is off
by 0.040-0.064 rms where the given one was 0.056-0.084 (with the variance of all the vertical point's resamples as
its spread: 0.039-0.074); indoors, where the lines' horizontal point usually fixes the focal length better, 0.1-0.3
with the stated sd growing alike (z-scores' sd 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lift3d.lift.gravity import horizontal_points
from lift3d.lift.quantiles import mad_sd, median
from lift3d.lift.vanishing import combine_focal, down_samples


@dataclass(frozen=True)
class HorizonConfig:
    gamma_range: tuple = (0.8, 1.25)  # depth-range exponents tried (the grid is even in log gamma)
    gamma_steps: int = 11  # (odd: gamma 1 on the grid)
    floor_tol_rel: float = 0.05  # a grid point within this share of its distance of the floor level is floor ...
    floor_max_tilt_deg: float = 20.0  # ... when its normal is within this of the up direction
    min_points: int = 60  # fewer floor points: no estimate
    max_points: int = 1500  # more are evenly thinned to this many
    bands: int = 5  # jackknife bands of floor points (by inverse depth)
    min_log_sd: float = 0.02  # floor of the estimate's log spread
    # relative error of the floor's inverse-depth gradient (a +-5 % smooth depth field over the floor seen, a range
    # exponent not quite right): the horizon moves by this share of its distance from the nearest floor point
    gradient_error: float = 0.2
    min_pitch_deg: float = 3.0  # a camera closer to level than this puts the horizon and the vertical point too far
    gate: float = 3.0  # an estimate further than this many combined sds from the given focal is not used


def _solve(xtx: np.ndarray, xtt: np.ndarray):
    """The least-squares coefficients from the normal equations' moments, or None when they are singular."""
    try:
        return np.linalg.solve(xtx, xtt)
    except np.linalg.LinAlgError:
        return None


def _horizon(X: np.ndarray, lw: np.ndarray, gammas: np.ndarray):
    """(g, gamma): the horizon vector g = (A, B) / C (per unit of X's first two columns) of the best affine fit
    ``X (A, B, C) ~ w ** (1 / gamma)`` over the grid of gammas (least residual share of the variance), or
    (None, None).  ``X``: (N, 3) columns x, y, 1; ``lw``: log inverse depth."""
    xtx = X.T @ X
    n = len(lw)
    best = (np.inf, None, None)
    for gam in gammas:
        t = np.exp(lw / gam)
        xtt = X.T @ t
        sol = _solve(xtx, xtt)
        if sol is None or abs(sol[2]) < 1e-12:
            continue
        tt = float(t @ t)
        var = tt / n - (xtt[2] / n) ** 2
        res = (tt - float(sol @ xtt)) / n / var if var > 0 else np.inf
        if res < best[0]:
            best = (res, sol[:2] / sol[2], float(gam))
    return best[1], best[2]


def _jackknife(X: np.ndarray, lw: np.ndarray, gam: float, bands: int) -> list:
    """The horizon vectors with each of ``bands`` bands of the points (ordered by inverse depth) left out, at
    ``gam``; None where a fit fails."""
    t = np.exp(lw / gam)
    xtx, xtt = X.T @ X, X.T @ t
    out = []
    for idx in np.array_split(np.argsort(lw), bands):
        Xk = X[idx]
        sol = _solve(xtx - Xk.T @ Xk, xtt - Xk.T @ t[idx])
        out.append(sol[:2] / sol[2] if sol is not None and abs(sol[2]) > 1e-12 else None)
    return out


def _log_f(a: np.ndarray, g: np.ndarray) -> float:
    """log of the focal length's factor from the vertical point's offset ``a`` and the horizon vector ``g``, both in
    units of the focal length used (pixel offsets over it): f^2 = a . g / |g|^2, 1 when the two agree."""
    f2 = float(a @ g) / max(float(g @ g), 1e-30)
    return 0.5 * np.log(f2) if f2 > 0 else np.nan


def horizon_focal(depth_grid, K: np.ndarray, down: np.ndarray, vertical, floor_h, prior_log_sd: float,
                  cfg: HorizonConfig = HorizonConfig()):
    """(K with the combined focal length, the down direction under it, the combined log sd, the floor's level along
    it) from the floor's horizon and the vertical point (see the module docstring), or None when they do not fix it.  ``depth_grid``:
    :func:`lift3d.lift.gravity.point_and_normal_grid` of the depth map under ``K``; ``down``: the up direction's
    opposite from the vertical point under ``K``, ``vertical`` that point's segments (for its spread,
    :func:`lift3d.lift.vanishing.down_samples`; None: no spread);
    ``floor_h``: the floor's distance below the camera along ``down``; ``prior_log_sd``: the given focal length's
    log error."""
    K = np.asarray(K, dtype=np.float64)
    d = np.asarray(down, dtype=np.float64)
    if prior_log_sd <= 0 or floor_h is None or abs(d[2]) < np.sin(np.radians(cfg.min_pitch_deg)):
        return None
    P, vv, uu = depth_grid[0], depth_grid[4], depth_grid[5]
    h = P @ d
    dist = np.linalg.norm(P, axis=-1)
    fl = horizontal_points(depth_grid, d, cfg.floor_max_tilt_deg) & (np.abs(h - floor_h) < cfg.floor_tol_rel * dist)
    if int(fl.sum()) < cfg.min_points:
        return None
    iv, iu = np.nonzero(fl)
    if len(iv) > cfg.max_points:  # evenly thinned
        pick = np.linspace(0, len(iv) - 1, cfg.max_points).astype(np.int64)
        iv, iu = iv[pick], iu[pick]
    f0 = float(K[0, 0])
    # pixel offsets from the principal point in units of the focal length (conditioning)
    X = np.stack([(uu[iu] - K[0, 2]) / f0, (vv[iv] - K[1, 2]) / f0, np.ones(len(iv))], axis=1)
    lw = -np.log(P[iv, iu, 2])
    gammas = np.exp(np.linspace(np.log(cfg.gamma_range[0]), np.log(cfg.gamma_range[1]), cfg.gamma_steps))
    g, gam = _horizon(X, lw, gammas)
    a = d[:2] / d[2]  # the vertical point's offset, in units of the focal length
    if g is None or not np.isfinite(est := _log_f(a, g)):
        return None
    # the fit's spread: a jackknife over bands of floor points ordered by inverse depth (near to far), at its gamma
    jack = np.array([_log_f(a, gk) if gk is not None else np.nan for gk in _jackknife(X, lw, gam, cfg.bands)])
    if not np.all(np.isfinite(jack)):
        return None
    var_fit = (cfg.bands - 1) / cfg.bands * float(np.sum((jack - jack.mean()) ** 2))
    # the vertical point's spread: its resampled directions
    var_vp = 0.0
    if vertical is not None:
        ds = down_samples(vertical, K)
        ds = ds[np.abs(ds[:, 2]) > 1e-9]
        av = ds[:, :2] / ds[:, 2:3]
        f2 = (av @ g) / max(float(g @ g), 1e-30)
        if len(ds) < 2 or np.sum(f2 > 0) < 0.8 * len(ds):
            return None
        var_vp = mad_sd(0.5 * np.log(f2[f2 > 0])) ** 2
    # the horizon extrapolated beyond the floor seen: a relative error of the inverse depth's gradient (a smooth field,
    # a gamma not quite right) moves it by that share of the distance from the nearest floor point; d log f =
    # d t_h / (2 t_h), t_h the horizon's offset from the principal point along the vertical point's direction
    ah = a / np.linalg.norm(a)
    gh = float(g @ ah)
    if abs(gh) < 1e-30:
        return None
    th = -1.0 / gh
    reach = float(np.min(np.abs(X[:, 0] * ah[0] + X[:, 1] * ah[1] - th)) / abs(th))
    var_model = (0.5 * cfg.gradient_error * reach) ** 2
    sd = float(np.sqrt(var_fit + var_vp + var_model + cfg.min_log_sd ** 2))
    out = combine_focal(K, d, est, sd, prior_log_sd, cfg.gate)
    if out is None:
        return None
    K2, d2, sd2 = out
    s = float(K2[0, 0] / K[0, 0])
    # the floor's level along the new down direction: its points with x and y shrunk by s
    level = float(median((P[fl] * np.array([1.0 / s, 1.0 / s, 1.0])) @ d2))
    return K2, d2, sd2, level
