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

The focal length (:func:`focal_length`, with the given one's log error as a prior): a family of parallel horizontal
lines (floor boards, table and box edges, kerbs, window rows) meets at a vanishing point whose direction is
orthogonal to the vertical one; with the focal length scaled by s the two directions move apart or together, so
orthogonality fixes s.  Segments of any direction come from edge pixels joined by gradient direction; the family is
found by RANSAC over segment pairs, its point refined by least squares; the spread of s comes from resampling both
points' segments with each segment turned by its direction's error (edge noise over its length, a floor for lens
distortion), so that points far off the image (a level camera, lines parallel to the image) say they fix little.
The spread is the resamples' median absolute deviation as a normal sd, over the resamples that fix both points
(:func:`lift3d.lift.quantiles.mad_sd`): a resample left with one line fixes no point, and one left with two nearly
parallel lines puts it anywhere; the variance of them all stated about 1.7x as much (rms over images; up to 8x on
one image), so the estimate lost weight it had earned (scratch seeds 5000-7000, indoor: stated rms 0.10-0.17 ->
0.06-0.10, the focal length after it 0.019-0.037 -> 0.016-0.027 rms).
The estimate and the given focal length are combined by their precisions.  Two that disagree by more than
``focal_gate`` combined sds cannot both be right: either the given one failed (a depth model's field of view on an
image unlike its training data) or the lines did (a sloped family taken for a horizontal one), and nothing here says
which.  Each is then taken as equally likely (:func:`split_focal`): the focal length is their geometric mean and its
sd covers both, so the scale and the guards carry the doubt (``focal_split``).  The lines' estimate used to be
dropped there: under an unseen 15 % focal error that threw away 5 of 5 right ones on scratch indoor scenes.
Synthetic indoor scenes with the monocular preset's 8 % focal error: used on 23 of 30 and 27 of 29 images, mean
|log error| 0.070 -> 0.039 and 0.041 -> 0.013, the up direction's median error 0.69 -> 0.36 and 0.56 -> 0.21
degrees; outdoor street scenes have too few horizontal lines (never used).  On the seven real frames in
``../shared/data`` it is used on two (SUN RGB-D frames 3 and 4, 530 px true; given 530 / 582 / 477 -> 534 / 588 / 486
and 542 / 582 / 491, stated sd 0.07-0.08): real horizontal points are weak, and the honest spread keeps the change
within a few per cent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from lift3d.lift.quantiles import mad_sd


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
    # the focal length (focal_length): a horizontal family of parallel lines (floor boards, table and box edges,
    # kerbs, window rows) meets at a vanishing point whose direction is orthogonal to the vertical one
    direction_bins: int = 16  # edge pixels join into straight segments when their gradient directions are within a bin
    focal_angle_tol_deg: float = 1.0  # a segment is on a vanishing point when its direction is within this of it
    focal_min_segments: int = 8  # fewer segments on the horizontal vanishing point: no focal length ...
    focal_min_support: float = 400.0  # ... or less total length (px): a few short lines meet by chance ...
    focal_min_lines: int = 4  # ... or fewer distinct directions among them (1 degree apart): pieces of one line
    focal_bootstrap: int = 32  # resamples of the horizontal point's segments: the spread of the focal length
    focal_min_log_sd: float = 0.02  # floor of that spread (lines are not perfectly straight, segments not exact)
    edge_noise_px: float = 0.25  # sd of an edge's position across it (strided px): a segment's direction error
    direction_floor_deg: float = 0.1  # direction error no segment goes below (lens distortion, aliasing)
    focal_gate: float = 3.0  # an estimate further than this many combined sds from the given focal disagrees with it
    focal_split: bool = True  # ... and then both are equally likely (split_focal); False: the estimate is dropped
    # a camera within this of level puts the vertical point so far off the image that it cannot fix the focal length
    # (c1 below; a 0.3 degree error of the up direction moves s by ~5 % at 3 degrees): not searched, to save the time
    focal_min_pitch_deg: float = 3.0


def image_gradients(rgb: np.ndarray, cfg: VanishingConfig = VanishingConfig()):
    """(stride, gx, gy, vv, uu) of the image strided to at most ``max_side`` pixels per side: the Sobel sums of the
    channels' sum on its interior (gx, gy are (h - 2, w - 2); int16 for 8-bit images, else float32: only their
    directions and ratios are used, in units of 8 x the channels), and the rows and columns (row-major order) of the
    edge pixels, whose gradient of the channels' mean exceeds ``min_grad``; computed once for both vanishing points."""
    img = np.asarray(rgb)
    st = max(1, int(np.ceil(max(img.shape[:2]) / cfg.max_side)))
    img = img[::st, ::st]
    # the channels' sum (plane by plane: a reduction over the last axis is slow); 8-bit images in int16 (the Sobel
    # sums stay below 4 x 3 x 255), others in float32
    work = np.int16 if img.dtype == np.uint8 else np.float32
    planes = [img[..., k] for k in range(img.shape[2])] if img.ndim == 3 else [img]
    g = planes[0].astype(work)
    for p in planes[1:]:
        g += p
    sm_v = g[:-2] + 2 * g[1:-1] + g[2:]  # smoothed down the rows
    sm_h = g[:, :-2] + 2 * g[:, 1:-1] + g[:, 2:]  # smoothed along the columns
    gx = sm_v[:, 2:] - sm_v[:, :-2]
    gy = sm_h[2:] - sm_h[:-2]
    # |Sobel / 8 of the channels' mean| > min_grad, on the sums (exact in int32 for 8-bit images)
    thr = (cfg.min_grad * 8.0 * len(planes)) ** 2
    if work is np.int16:
        # |gx| + |gy| >= sqrt(gx^2 + gy^2): only pixels whose sum of magnitudes (int16, below 2 x 4 x 3 x 255)
        # exceeds sqrt(thr) can pass, so the exact test in int32 runs on those alone (same pixels, same order)
        am = np.abs(gx)
        am += np.abs(gy)
        cand = np.flatnonzero(am > min(int(math.floor(math.sqrt(thr))), 2**15 - 1))
        gxc, gyc = gx.ravel()[cand].astype(np.int32), gy.ravel()[cand].astype(np.int32)
        vv, uu = np.divmod(cand[gxc * gxc + gyc * gyc > thr], gx.shape[1])
        return st, gx, gy, vv, uu
    gx2, gy2 = gx.astype(np.float32), gy.astype(np.float32)
    gx2 *= gx2
    gy2 *= gy2
    gx2 += gy2
    vv, uu = np.divmod(np.flatnonzero(gx2 > thr), gx.shape[1])  # (np.nonzero's, faster)
    return st, gx, gy, vv, uu


def _lines(vv: np.ndarray, uu: np.ndarray, L: np.ndarray, m: int, st: int, cfg: VanishingConfig):
    """Straight segments of the pixel groups (rows ``vv``, columns ``uu`` of the interior grid, group labels ``L`` in
    1..m): each a line by its second moments (direction: the principal axis; an aliased, staircased line keeps its
    true slope), kept when long (``min_length``) and thin (``max_width``).  Returns centres (M, 2) and unit
    directions (M, 2) in full-image pixels (u, v), lengths (M,) in strided pixels."""
    cnt = np.bincount(L, minlength=m + 1).astype(np.float64)
    u, v = uu.astype(np.float64) + 1.0, vv.astype(np.float64) + 1.0
    su, sv = np.bincount(L, u, m + 1), np.bincount(L, v, m + 1)
    suu, svv, suv = np.bincount(L, u * u, m + 1), np.bincount(L, v * v, m + 1), np.bincount(L, u * v, m + 1)
    c = np.maximum(cnt, 1.0)
    mu, mv = su / c, sv / c
    cuu, cvv, cuv = suu / c - mu * mu, svv / c - mv * mv, suv / c - mu * mv
    tr, disc = cuu + cvv, np.sqrt(np.maximum((cuu - cvv) ** 2 + 4.0 * cuv * cuv, 0.0))
    l1, l2 = 0.5 * (tr + disc), np.maximum(0.5 * (tr - disc), 0.0)
    ang = 0.5 * np.arctan2(2.0 * cuv, cuu - cvv)  # principal axis angle from the u axis
    length = np.sqrt(12.0 * np.maximum(l1, 0.0))
    ok = (cnt >= 3) & (length >= cfg.min_length) & (np.sqrt(l2) <= cfg.max_width)
    ok[0] = False
    dirs = np.stack([np.cos(ang[ok]), np.sin(ang[ok])], axis=1)
    return np.stack([mu[ok] * st, mv[ok] * st], axis=1), dirs, length[ok]


def _segments(grads, cfg: VanishingConfig):
    """Near-vertical straight edge segments of the image: (centres (M, 2) and unit directions (M, 2) in full-image
    pixels (u, v), lengths (M,) in strided pixels).  Edge pixels: gradient above ``min_grad`` and within
    ``max_tilt_deg`` of horizontal (the edge near vertical); segments: their 8-connected components."""
    st, gx, gy, vv, uu = grads
    near = np.abs(gy[vv, uu]) < np.abs(gx[vv, uu]) * np.float32(np.tan(np.radians(cfg.max_tilt_deg)))
    vv, uu = vv[near], uu[near]
    edge = np.zeros(gx.shape, dtype=bool)
    edge[vv, uu] = True
    lab, m = ndimage.label(edge, structure=np.ones((3, 3), dtype=bool))
    if m == 0:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0)
    c, d, ln = _lines(vv, uu, lab[vv, uu], m, st, cfg)
    keep = np.abs(d[:, 1]) > np.cos(np.radians(cfg.max_tilt_deg))
    return c[keep], d[keep], ln[keep]


def _all_segments(grads, cfg: VanishingConfig):
    """Straight edge segments of any direction (as :func:`_segments`, from :func:`image_gradients`' result): edge
    pixels joined to those of their 8 neighbours whose gradient direction is in the same or the next of
    ``direction_bins`` bins per half turn (an edge's direction drifts by a bin along it; parallel lines crossed by
    others at a larger angle, as floor boards, stay apart; so do the two sides of a thin dark or bright line)."""
    st, gx, gy, vv, uu = grads
    n = len(vv)
    if n == 0:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0)
    h, w = gx.shape
    wp = w + 2  # the grid padded by one pixel all round, flattened: a neighbour off the grid reads index -1
    flat = (vv + 1) * wp + (uu + 1)
    index = np.full((h + 2) * wp, -1, dtype=np.int32)
    index[flat] = np.arange(n, dtype=np.int32)
    nb = 2 * cfg.direction_bins  # over the full turn: the two sides of a thin line (opposite gradients) stay apart
    b = (np.mod(np.arctan2(gy[vv, uu], gx[vv, uu]), 2.0 * np.pi) * (nb / (2.0 * np.pi))).astype(np.int32) % nb
    src, dst = [], []
    for off in (1, wp - 1, wp, wp + 1):  # each neighbour pair once: right, down-left, down, down-right
        j = index[flat + off]
        d = np.abs(b[j] - b)  # the same or the next bin, round the turn (j = -1 reads the last bin: masked below)
        near = ((d <= 1) | (d == nb - 1)) & (j >= 0)
        src.append(np.flatnonzero(near))
        dst.append(j[near])
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = sparse.coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    m, comp = connected_components(graph, directed=False)
    return _lines(vv, uu, comp + 1, m, st, cfg)


def _planes(p: np.ndarray, q: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Unit normals of the planes through the camera centre and the image lines through the pixel points ``p``
    (M, 2) and ``q`` (..., M, 2; leading axes, e.g. resamples, broadcast over ``p``): equally, the lines in ``K``'s
    normalised coordinates."""
    Ki = np.linalg.inv(K)
    ph = np.stack([p[:, 0], p[:, 1], np.ones(len(p))], axis=1) @ Ki.T
    qh = np.stack([q[..., 0], q[..., 1], np.ones(q.shape[:-1])], axis=-1) @ Ki.T
    n = np.cross(np.broadcast_to(ph, qh.shape), qh)
    return n / np.maximum(np.linalg.norm(n, axis=-1), 1e-12)[..., None]


def vertical_direction(rgb, K, cfg: VanishingConfig = VanishingConfig()):
    """(unit down vector in the camera frame, confidence 0..1), or (None, 0.0) when the image's vertical lines do not
    fix it.  ``rgb``: (H, W, 3) or (H, W) image; ``K``: its 3x3 intrinsics."""
    if rgb is None or np.ndim(rgb) < 2:
        return None, 0.0
    found = _vertical(image_gradients(rgb, cfg), K, np.shape(rgb)[1], cfg)
    return (None, 0.0) if found is None else found[:2]


def _vertical(grads, K, W: int, cfg: VanishingConfig):
    """:func:`vertical_direction` from :func:`image_gradients`' result and the normals and weights of the segments'
    planes that fixed it, or None.  ``W``: the image's width.  (Its own near-vertical segments: those of
    :func:`_all_segments`, split by direction, fix it less well.)"""
    K = np.asarray(K, dtype=np.float64)
    centres, dirs, length = _segments(grads, cfg)
    if len(length) < cfg.min_segments:
        return None
    n, cols, w = _planes(centres, centres + dirs, K), centres[:, 0], length
    rng = np.random.default_rng(cfg.seed)
    i = rng.choice(len(n), size=(cfg.hypotheses, 2), p=w / w.sum())
    d = np.cross(n[i[:, 0]], n[i[:, 1]])
    ln = np.linalg.norm(d, axis=1)
    d = d[ln > 1e-6] / ln[ln > 1e-6, None]
    d = np.where(d[:, 1:2] < 0, -d, d)
    d = d[d[:, 1] > np.cos(np.radians(cfg.max_tilt_deg))]
    if len(d) == 0:
        return None
    tol = np.sin(np.radians(cfg.angle_tol_deg))
    cost = (w[:, None] * np.minimum((n @ d.T / tol) ** 2, 1.0)).sum(axis=0)
    best = d[int(np.argmin(cost))]
    for _ in range(5):  # re-weighted least squares on the inliers (weights: segment lengths)
        ww = w * (np.abs(n @ best) < 2.0 * tol)
        if np.count_nonzero(ww) < 2:
            return None
        best = _point_of(n, ww)
        best = best if best[1] >= 0 else -best
    inl = np.abs(n @ best) < tol
    support = float(w[inl].sum())
    if (int(inl.sum()) < cfg.min_segments or support < cfg.min_support
            or best[1] <= np.cos(np.radians(cfg.max_tilt_deg))):
        return None
    if np.ptp(cols[inl]) < cfg.min_spread * W:
        return None
    conf = float(min(1.0, support / (4.0 * cfg.min_support)))
    near = np.abs(n @ best) < 2.0 * tol
    return best / np.linalg.norm(best), conf, (centres[near], dirs[near], w[near])


def _on_point(C: np.ndarray, D: np.ndarray, V: np.ndarray) -> np.ndarray:
    """(M, n) sine of the angle between each segment (centre ``C``, unit direction ``D``) and the direction from its
    centre to each homogeneous vanishing point ``V`` (n, 3)."""
    dv_u = V[None, :, 0] - C[:, 0:1] * V[None, :, 2]
    dv_v = V[None, :, 1] - C[:, 1:2] * V[None, :, 2]
    return np.abs(D[:, 0:1] * dv_v - D[:, 1:2] * dv_u) / np.maximum(np.hypot(dv_u, dv_v), 1e-12)


def _point_of(lines: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The homogeneous point nearest to the (normalised) ``lines`` (M, 3) in the weighted least-squares sense."""
    _, vecs = np.linalg.eigh((lines * w[:, None]).T @ lines)
    return vecs[:, 0]


def focal_length(rgb, K, down, prior_log_sd: float, cfg: VanishingConfig = VanishingConfig(), segments=None,
                 vertical=None):
    """The focal length from two orthogonal vanishing points: the vertical one (``down``, found with ``K``) and the
    best-supported point of the other straight segments (a family of parallel horizontal lines).  With ``K``'s focal
    length scaled by s, the two points' directions are (a1 / s, b1 / s, c1) and (a2 / s, b2 / s, c2) in ``K``'s
    normalised coordinates, so orthogonality gives s^2 = -(a1 a2 + b1 b2) / (c1 c2); its log spread comes from
    resampling the horizontal point's segments and, when ``vertical`` (the vertical point's segments: centres,
    directions, lengths; :func:`vanishing_points`) is given, the vertical point's too, each segment turned by its
    direction's error (``edge_noise_px`` over its length, at least ``direction_floor_deg``: lens distortion, aliasing).
    A point far off the image leaves s weakly fixed (a camera that looks level: c1 near 0; lines parallel to the
    image plane: c2 near 0), and the spread says so.  The estimate is combined with ``K``'s focal length as a log-normal
    prior of sd ``prior_log_sd`` (the depth model's or the intrinsics prior's focal error) by their precisions.
    Returns (K with the combined focal length, the down direction under it, the combined log sd), or None when the
    lines do not fix it (no finite second point, too few segments or directions).  An estimate beyond ``focal_gate``
    combined sds of the given focal length is :func:`split_focal` with it (dropped without ``focal_split``)."""
    K = np.asarray(K, dtype=np.float64)
    d = np.asarray(down, dtype=np.float64)
    if prior_log_sd <= 0 or d[2] == 0:
        return None
    C, D, w = segments if segments is not None else _all_segments(image_gradients(rgb, cfg), cfg)
    tol = np.sin(np.radians(cfg.focal_angle_tol_deg))
    v1 = K @ d
    off = _on_point(C, D, v1[None, :])[:, 0] > 3.0 * tol  # not a vertical line
    C, D, w = C[off], D[off], w[off]
    if len(w) < cfg.focal_min_segments:
        return None
    lines = _planes(C, C + D, K)  # the segments' lines in K's normalised coordinates
    rng = np.random.default_rng(cfg.seed)
    i = rng.choice(len(w), size=(cfg.hypotheses, 2), p=w / w.sum())
    V = np.cross(lines[i[:, 0]], lines[i[:, 1]])
    V = V[np.linalg.norm(V, axis=1) > 1e-9]
    if len(V) == 0:
        return None
    Vpix = V @ K.T
    score = (w[:, None] * (1.0 - np.minimum((_on_point(C, D, Vpix) / tol) ** 2, 1.0))).sum(axis=0)
    v2 = V[int(np.argmax(score))]
    for _ in range(3):  # least squares on the segments through it
        inl = _on_point(C, D, (K @ v2)[None, :])[:, 0] < tol
        if inl.sum() < cfg.focal_min_segments or w[inl].sum() < cfg.focal_min_support:
            return None
        # pieces of one line (cut where other lines cross it; a thin line's two sides) fix no point along it: the
        # point needs lines at different angles through it
        if len(np.unique(np.round(np.mod(np.degrees(np.arctan2(D[inl, 1], D[inl, 0])), 180.0)))) < cfg.focal_min_lines:
            return None
        v2 = _point_of(lines[inl], w[inl])

    def scale2(v, u):  # s^2 of points v and down directions u (rows)
        den = u[..., 2] * v[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den != 0, -(u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1]) / den, np.nan)

    s2 = float(scale2(v2, d))
    if not np.isfinite(s2) or s2 <= 0:
        return None
    B = cfg.focal_bootstrap

    u = np.broadcast_to(d, (B, 3)) if vertical is None else _points(*_resampled_lines(*vertical, K, B, rng, cfg))
    hp = _points(*_resampled_lines(C[inl], D[inl], w[inl], K, B, rng, cfg))
    fixed = np.isfinite(u).all(axis=1) & np.isfinite(hp).all(axis=1)  # resamples in which both points are fixed
    boot = scale2(hp[fixed], u[fixed])
    good = np.isfinite(boot) & (boot > 0)
    if not len(good) or good.mean() < 0.8:
        return None
    est, sd = 0.5 * np.log(s2), max(mad_sd(0.5 * np.log(boot[good])), cfg.focal_min_log_sd)
    out = combine_focal(K, d, est, sd, prior_log_sd, cfg.focal_gate)
    if out is None and cfg.focal_split:
        out = split_focal(K, d, est, sd, prior_log_sd)
    return out


def combine_focal(K: np.ndarray, d: np.ndarray, est: float, sd: float, prior_log_sd: float, gate: float):
    """(K with the focal length scaled by the precision-weighted factor of the estimate ``est`` (log, sd ``sd``) and
    K's own (log 0, sd ``prior_log_sd``), the down direction ``d`` under it, the combined log sd), or None when the
    estimate lies beyond ``gate`` combined sds."""
    if abs(est) > gate * np.hypot(sd, prior_log_sd):
        return None
    wp, we = prior_log_sd ** -2, sd ** -2
    return _focal_scaled(K, d, float(np.exp(est * we / (wp + we)))) + (float((wp + we) ** -0.5),)


def split_focal(K: np.ndarray, d: np.ndarray, est: float, sd: float, prior_log_sd: float):
    """The focal length when the estimate ``est`` (log, sd ``sd``) and K's own (log 0, sd ``prior_log_sd``) disagree
    beyond both errors (:func:`combine_focal`'s gate): one of them failed and each is taken as equally likely.  (K with
    the focal length at their geometric mean, the down direction ``d`` under it, the log sd of that two-way mixture
    about its mean: half their log difference, with their own spreads.)"""
    half = 0.5 * est
    sd_mix = float(np.sqrt(0.5 * prior_log_sd ** 2 + 0.5 * sd ** 2 + half ** 2))
    return _focal_scaled(K, d, float(np.exp(half))) + (sd_mix,)


def _focal_scaled(K: np.ndarray, d: np.ndarray, s: float) -> tuple:
    """(K with its focal length scaled by ``s``, the down direction ``d`` under it)."""
    K2 = np.asarray(K, dtype=np.float64).copy()
    K2[0, 0] *= s
    K2[0, 1] *= s
    K2[1, 1] *= s
    d2 = np.array([d[0] / s, d[1] / s, d[2]])
    return K2, d2 / np.linalg.norm(d2)


def _resampled_lines(c, dd, ln, K, B: int, rng, cfg: VanishingConfig):
    """(B, M, 3) lines of the segments (centres ``c``, unit directions ``dd``, lengths ``ln``), each turned by its
    direction's error (edge noise over its length, at least a floor), and their Poisson(1) resampling weights (B, M)."""
    sd = np.hypot(np.sqrt(12.0) * cfg.edge_noise_px / ln, np.radians(cfg.direction_floor_deg))
    a = rng.normal(0.0, 1.0, (B, len(ln))) * sd
    ca, sa = np.cos(a), np.sin(a)
    q = np.stack([c[None, :, 0] + ca * dd[:, 0] - sa * dd[:, 1], c[None, :, 1] + sa * dd[:, 0] + ca * dd[:, 1]], axis=-1)
    return _planes(c, q, K), ln[None, :] * rng.poisson(1.0, (B, len(ln)))


def _points(lb: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """(B, 3): each resample's least-squares point (the smallest eigenvector); NaN for a resample that kept fewer
    than two lines, which fix no point (any point on the one line fits it)."""
    p = np.linalg.eigh(np.matmul((lb * wb[:, :, None]).transpose(0, 2, 1), lb))[1][:, :, 0]
    return np.where((np.count_nonzero(wb > 0, axis=1) >= 2)[:, None], p, np.nan)


def down_samples(vertical, K, cfg: VanishingConfig = VanishingConfig()) -> np.ndarray:
    """(at most B, 3) resampled down directions, under ``K``, of the vertical point (its segments ``vertical``:
    centres, directions, lengths, as :func:`vanishing_points` returns them), each segment turned by its direction's
    error and resampled: the up direction's spread.  Resamples that keep fewer than two segments fix no point and are
    left out."""
    rng = np.random.default_rng(cfg.seed + 1)
    p = _points(*_resampled_lines(*vertical, np.asarray(K, dtype=np.float64), cfg.focal_bootstrap, rng, cfg))
    p = p[np.isfinite(p).all(axis=1)]  # (the resamples that fix a point)
    p = np.where(p[:, 1:2] < 0, -p, p)
    return p / np.linalg.norm(p, axis=1, keepdims=True)


def vanishing_points(rgb, K, focal_log_sd: float = 0.0, cfg: VanishingConfig = VanishingConfig(),
                     with_segments: bool = False):
    """The image's up direction and, with ``focal_log_sd`` > 0 (the given focal length's log error), its focal
    length, from one gradient pass: (down or None, confidence, K with the focal length or None, that focal length's
    log sd or None).  The down direction is under the returned K when there is one.  ``with_segments``: a fifth
    element, the vertical point's segments (centres, directions, lengths; None without a down), for its spread
    (:func:`down_samples`)."""
    none = (None, 0.0, None, None) + ((None,) if with_segments else ())
    if rgb is None or np.ndim(rgb) < 2:
        return none
    grads = image_gradients(rgb, cfg)
    found = _vertical(grads, K, np.shape(rgb)[1], cfg)
    if found is None:
        return none
    down, conf, vertical = found
    out = (down, conf, None, None)
    if focal_log_sd > 0 and abs(down[2]) >= np.sin(np.radians(cfg.focal_min_pitch_deg)):
        focal = focal_length(rgb, K, down, focal_log_sd, cfg, segments=_all_segments(grads, cfg), vertical=vertical)
        if focal is not None:
            out = (focal[1], conf, focal[0], focal[2])
    return out + (vertical,) if with_segments else out
