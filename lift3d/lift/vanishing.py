"""The up direction from the image's vertical lines: their vanishing point (pure numpy/scipy).

Model depth bends the floor: a depth-range exponent, a smooth multiplicative field and a wrong focal length tilt the
plane fitted to it by 2-3 degrees (median, synthetic monocular errors), and every object's height, floor contact and
the metric scale inherit the tilt.  The RGB image holds a cue that no depth error touches: lines that are vertical
in the world (door frames, furniture edges, table legs, poles, facades) all pass through one vanishing point, the
image of the down direction.

Edge pixels (Sobel gradient above ``min_grad``, the edge within ``max_tilt_deg`` of the image's vertical) are
grouped into 8-connected segments; each long (``min_length``), thin (``max_width``) segment is a line by its second
moments and defines the plane through the camera centre that contains it (normal n = K^-1 p x K^-1 (p + t)).  A
world-vertical line's plane contains the down vector d, so n . d = 0: d is found by RANSAC over pairs of planes
(d = n_i x n_j, kept within ``max_tilt_deg`` of the camera's down axis; pairs drawn and scored by segment length),
scored by a truncated quadratic of n . d over ``angle_tol_deg``, and refined by re-weighted least squares (the
smallest eigenvector of the inliers' length-weighted sum of n n^T).  It is used only when enough segments
(``min_segments``) of enough total length (``min_support``) spread over enough of the image's width (``min_spread``:
lines bunched together fix no vanishing point) agree.  Focal-length error enters only through K^-1.  Measured on
synthetic indoor and outdoor scenes with the monocular preset's 8 % focal error: median error 0.4-0.7 degrees
(the floor-plane fit on the model depth: 2-3 degrees); on the four real SUN RGB-D frames in ``../shared/data``,
against their annotated gravity: none / 6.2 / 1.5 / 3.5 degrees, where the plane fit on their sensor depth gave
2.0 / none / 3.0 / 4.0 (the camera's axis: 9-14).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class VanishingConfig:
    max_side: int = 640  # the image is strided to at most this many pixels per side
    min_grad: float = 12.0  # grey levels (0-255) per pixel: weaker edges are ignored
    max_tilt_deg: float = 40.0  # edge directions and the down vector within this angle of the camera's vertical
    min_length: float = 24.0  # px (strided image); a shorter edge segment gives no direction
    max_width: float = 1.5  # px; rms distance of a segment's pixels from its line: a straight edge is thin
    angle_tol_deg: float = 0.75  # |n . d| within sin(this) is an inlier
    hypotheses: int = 300  # RANSAC pairs
    min_segments: int = 3  # fewer agreeing segments: no estimate ...
    min_support: float = 200.0  # ... or less agreeing segment length (px)
    min_spread: float = 0.15  # the inliers' column range must span this share of the image's width
    seed: int = 0


def _segments(rgb: np.ndarray, cfg: VanishingConfig):
    """Near-vertical straight edge segments of the image: (centres (M, 2) and unit directions (M, 2) in full-image
    pixels (u, v), lengths (M,) in strided pixels).  Edge pixels: gradient above ``min_grad`` and within
    ``max_tilt_deg`` of horizontal (the edge near vertical); segments: their 8-connected components, each a line by
    its second moments (direction: the principal axis; an aliased, staircased line keeps its true slope)."""
    img = np.asarray(rgb)
    st = max(1, int(np.ceil(max(img.shape[:2]) / cfg.max_side)))
    img = img[::st, ::st]
    if img.ndim == 3:  # the channels' mean (summed plane by plane: a reduction over the last axis is slow)
        g = img[..., 0].astype(np.float32)
        for k in range(1, img.shape[2]):
            g += img[..., k]
        g *= np.float32(1.0 / img.shape[2])
    else:
        g = img.astype(np.float32)
    # Sobel (/8) on the interior, float32: the smoothing across, the central difference along
    sm_v = g[:-2] + 2.0 * g[1:-1] + g[2:]  # smoothed down the rows
    sm_h = g[:, :-2] + 2.0 * g[:, 1:-1] + g[:, 2:]  # smoothed along the columns
    gx = (sm_v[:, 2:] - sm_v[:, :-2]) * np.float32(0.125)
    gy = (sm_h[2:] - sm_h[:-2]) * np.float32(0.125)
    edge = np.zeros(g.shape, dtype=bool)
    edge[1:-1, 1:-1] = ((gx * gx + gy * gy > cfg.min_grad ** 2)
                        & (np.abs(gy) < np.abs(gx) * np.float32(np.tan(np.radians(cfg.max_tilt_deg)))))
    lab, m = ndimage.label(edge, structure=np.ones((3, 3), dtype=bool))
    if m == 0:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0)
    vv, uu = np.nonzero(lab)
    L = lab[vv, uu]
    cnt = np.bincount(L, minlength=m + 1).astype(np.float64)
    u, v = uu.astype(np.float64), vv.astype(np.float64)
    su, sv = np.bincount(L, u, m + 1), np.bincount(L, v, m + 1)
    suu, svv, suv = np.bincount(L, u * u, m + 1), np.bincount(L, v * v, m + 1), np.bincount(L, u * v, m + 1)
    c = np.maximum(cnt, 1.0)
    mu, mv = su / c, sv / c
    cuu, cvv, cuv = suu / c - mu * mu, svv / c - mv * mv, suv / c - mu * mv
    tr, disc = cuu + cvv, np.sqrt((cuu - cvv) ** 2 + 4.0 * cuv * cuv)
    l1, l2 = 0.5 * (tr + disc), np.maximum(0.5 * (tr - disc), 0.0)
    ang = 0.5 * np.arctan2(2.0 * cuv, cuu - cvv)  # principal axis angle from the u axis
    du, dv = np.cos(ang), np.sin(ang)
    length = np.sqrt(12.0 * np.maximum(l1, 0.0))
    ok = ((cnt >= 3) & (length >= cfg.min_length) & (np.sqrt(l2) <= cfg.max_width)
          & (np.abs(dv) > np.cos(np.radians(cfg.max_tilt_deg))))
    ok[0] = False
    return np.stack([mu[ok] * st, mv[ok] * st], axis=1), np.stack([du[ok], dv[ok]], axis=1), length[ok]


def _planes(centres: np.ndarray, dirs: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Unit normals of the planes through the camera centre and each image line (centre, direction)."""
    Ki = np.linalg.inv(K)
    one = np.ones(len(centres))
    p = np.stack([centres[:, 0], centres[:, 1], one], axis=1) @ Ki.T
    q = np.stack([centres[:, 0] + dirs[:, 0], centres[:, 1] + dirs[:, 1], one], axis=1) @ Ki.T
    n = np.cross(p, q)
    return n / np.maximum(np.linalg.norm(n, axis=1), 1e-12)[:, None]


def vertical_direction(rgb, K, cfg: VanishingConfig = VanishingConfig()):
    """(unit down vector in the camera frame, confidence 0..1), or (None, 0.0) when the image's vertical lines do not
    fix it.  ``rgb``: (H, W, 3) or (H, W) image; ``K``: its 3x3 intrinsics."""
    if rgb is None or np.ndim(rgb) < 2:
        return None, 0.0
    K = np.asarray(K, dtype=np.float64)
    W = np.shape(rgb)[1]
    centres, dirs, length = _segments(rgb, cfg)
    if len(length) < cfg.min_segments:
        return None, 0.0
    n, cols, w = _planes(centres, dirs, K), centres[:, 0], length
    rng = np.random.default_rng(cfg.seed)
    i = rng.choice(len(n), size=(cfg.hypotheses, 2), p=w / w.sum())
    d = np.cross(n[i[:, 0]], n[i[:, 1]])
    ln = np.linalg.norm(d, axis=1)
    d = d[ln > 1e-6] / ln[ln > 1e-6, None]
    d = np.where(d[:, 1:2] < 0, -d, d)
    d = d[d[:, 1] > np.cos(np.radians(cfg.max_tilt_deg))]
    if len(d) == 0:
        return None, 0.0
    tol = np.sin(np.radians(cfg.angle_tol_deg))
    cost = (w[:, None] * np.minimum((n @ d.T / tol) ** 2, 1.0)).sum(axis=0)
    best = d[int(np.argmin(cost))]
    for _ in range(5):  # re-weighted least squares on the inliers (weights: segment lengths)
        ww = w * (np.abs(n @ best) < 2.0 * tol)
        if np.count_nonzero(ww) < 2:
            return None, 0.0
        _, vecs = np.linalg.eigh((n * ww[:, None]).T @ n)
        best = vecs[:, 0] if vecs[1, 0] >= 0 else -vecs[:, 0]
    inl = np.abs(n @ best) < tol
    support = float(w[inl].sum())
    if (int(inl.sum()) < cfg.min_segments or support < cfg.min_support
            or best[1] <= np.cos(np.radians(cfg.max_tilt_deg))):
        return None, 0.0
    if np.ptp(cols[inl]) < cfg.min_spread * W:
        return None, 0.0
    conf = float(min(1.0, support / (4.0 * cfg.min_support)))
    return best / np.linalg.norm(best), conf
