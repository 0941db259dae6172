"""Agreement between a candidate object mask and the metric depth inside its 2D box.  Pure numpy.

A segmenter prompted with a box returns a mask; this module decides whether that mask is believable as *the
object in the box* given the depth map, and scores candidates of a multi-mask output so that the most
consistent one is chosen (not the one the model scores highest).

Checks, in order (the first failing one names the reject flag):

* ``sam_rejected_empty``: too few mask pixels, or too few of them with valid depth.
* ``sam_rejected_leak``: most of the mask lies outside the (slightly enlarged) box.
* ``sam_rejected_box_fit``: the mask's own extent does not fit the box (a part of the object, or a smaller
  neighbour inside the box): IoU of its robust bounding box with the prompt box below ``min_box_fit``.
* ``sam_rejected_floor``: most mask points lie on the floor (within ``floor_band_m`` of the floor plane along
  the gravity ``down`` vector; the floor level is given or estimated from the high percentile of the heights
  of all valid points along ``down``).
* ``sam_rejected_layers``: the depths inside the box split into separated layers (a histogram of log-depth
  with empty gaps of at least ``layer_gap_rel``) and the mask has no dominant one (it covers both the object
  and something well in front of / behind it).
* ``sam_rejected_background``: the mask's layer is the far layer of the box, another nearer layer takes a
  real share of the box, and the mask's layer continues outside the box (a ring around the box has the
  same depth): the mask is the background seen around the object, not the object.

Only the direction of ``down`` matters (a unit vector pointing to the floor, camera frame); without it the
floor test is skipped and the layer/background tests still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lift3d.geometry.camera import backproject


@dataclass
class ConsistencyConfig:
    min_pixels: int = 20  # a mask smaller than this is no object
    min_valid_fraction: float = 0.3  # share of mask pixels with valid depth
    box_margin_rel: float = 0.05  # the box is enlarged by this share of its size (+2 px) for the leak test
    max_outside_fraction: float = 0.25  # share of mask pixels allowed outside the enlarged box
    min_box_fit: float = 0.5  # IoU of the mask's (robust) bounding box with the prompt box
    floor_band_m: float = 0.06  # a point within this distance above the floor is a floor point
    max_floor_fraction: float = 0.5  # share of mask points allowed on the floor
    floor_percentile: float = 99.0  # floor level = this percentile of heights along down (when not given)
    layer_gap_rel: float = 0.10  # an empty depth gap of >= 10 % separates two layers
    layer_bin_rel: float = 0.01  # log-depth histogram bin width (1 %)
    layer_empty_share: float = 0.002  # a bin with at most this share of the box's pixels counts as empty
    min_dominant_share: float = 0.75  # share of the mask's valid pixels in its main layer
    min_layer_share: float = 0.1  # a layer smaller than this share of the box is not an alternative object
    ring_rel: float = 0.08  # width of the ring around the box, as a share of the box size (+2 px)
    max_ring_continuity: float = 0.6  # share of ring pixels at the mask layer's depth that marks background
    max_points: int = 20000  # subsample larger masks / boxes (deterministic stride)
    model_score_weight: float = 0.05  # tie-breaker weight of the model's own score when choosing


@dataclass
class MaskCheck:
    ok: bool
    flag: str | None  # reject flag when not ok
    score: float  # consistency score in [0, 1] (0 when rejected)
    stats: dict = field(default_factory=dict)


def estimate_floor_height(depth: np.ndarray, K, down, percentile: float = 99.0, max_points: int = 20000
                          ) -> float | None:
    """Distance of the floor below the camera along ``down``: a high percentile of all valid points' heights."""
    if down is None:
        return None
    d = np.asarray(depth)
    step = max(1, int(np.sqrt(d.size / max_points)))
    sub = d[::step, ::step]
    valid = np.isfinite(sub) & (sub > 0)
    vv, uu = np.nonzero(valid)
    if len(vv) < 50:
        return None
    P = backproject(uu * step, vv * step, sub[vv, uu], K)
    h = P @ _unit(down)
    return float(np.percentile(h, percentile))


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(3)
    return v / np.linalg.norm(v)


def _box_ints(bbox, W: int, H: int, margin_rel: float = 0.0, margin_px: float = 0.0):
    x1, y1, x2, y2 = [float(c) for c in bbox]
    mx = margin_rel * (x2 - x1) + margin_px
    my = margin_rel * (y2 - y1) + margin_px
    c0 = int(np.clip(np.floor(x1 - mx), 0, W))
    r0 = int(np.clip(np.floor(y1 - my), 0, H))
    c1 = int(np.clip(np.ceil(x2 + mx), 0, W))
    r1 = int(np.clip(np.ceil(y2 + my), 0, H))
    return r0, r1, c0, c1


def _subsample(idx: np.ndarray, max_points: int) -> np.ndarray:
    if len(idx) <= max_points:
        return idx
    step = int(np.ceil(len(idx) / max_points))
    return idx[::step]


def _box_fit(crop: np.ndarray, origin, bbox) -> float:
    """IoU of the robust extent (1st-99th percentile of rows / columns) of a mask crop with ``bbox``."""
    rows = np.flatnonzero(crop.any(axis=1))
    if len(rows) == 0:
        return 0.0
    rc = crop.sum(axis=1).cumsum()
    cc = crop.sum(axis=0).cumsum()
    tot = rc[-1]
    r_lo, r_hi = np.searchsorted(rc, 0.01 * tot), np.searchsorted(rc, 0.99 * tot)
    c_lo, c_hi = np.searchsorted(cc, 0.01 * tot), np.searchsorted(cc, 0.99 * tot)
    mx1, my1 = origin[1] + c_lo, origin[0] + r_lo
    mx2, my2 = origin[1] + c_hi + 1, origin[0] + r_hi + 1
    x1, y1, x2, y2 = [float(c) for c in bbox]
    iw = max(0.0, min(x2, mx2) - max(x1, mx1))
    ih = max(0.0, min(y2, my2) - max(y1, my1))
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (mx2 - mx1) * (my2 - my1) - inter
    return float(inter / union) if union > 0 else 0.0


def depth_layers(values: np.ndarray, cfg: ConsistencyConfig) -> np.ndarray:
    """Edges (log-depth) splitting ``values`` (valid depths) into separated layers; empty when one layer.

    A gap is a run of histogram bins, each holding at most ``layer_empty_share`` of the values, spanning at
    least ``log(1 + layer_gap_rel)``; the split sits in the middle of the run.
    """
    z = np.log(np.asarray(values, dtype=np.float64))
    if len(z) < 10:
        return np.empty(0)
    lo, hi = np.percentile(z, [0.5, 99.5])
    if hi - lo < np.log1p(cfg.layer_gap_rel):
        return np.empty(0)
    bw = np.log1p(cfg.layer_bin_rel)
    nb = max(1, int(np.ceil((hi - lo) / bw)))
    counts, edges = np.histogram(z, bins=nb, range=(lo, hi))
    empty = counts <= cfg.layer_empty_share * len(z)
    need = int(np.ceil(np.log1p(cfg.layer_gap_rel) / bw))
    cuts = []
    i = 0
    while i < nb:
        if empty[i]:
            j = i
            while j < nb and empty[j]:
                j += 1
            if j - i >= need and i > 0 and j < nb:
                cuts.append(0.5 * (edges[i] + edges[j]))
            i = j
        else:
            i += 1
    return np.asarray(cuts)


def check_mask(mask: np.ndarray, bbox, depth: np.ndarray, K, down=None, floor_h: float | None = None,
               cfg: ConsistencyConfig | None = None) -> MaskCheck:
    """Is ``mask`` (bool H x W) believable as the object in ``bbox`` [x1, y1, x2, y2] given ``depth``?"""
    cfg = cfg or ConsistencyConfig()
    H, W = depth.shape
    m = np.asarray(mask, dtype=bool)
    stats: dict = {}
    n = int(m.sum())
    stats["pixels"] = n
    if n < cfg.min_pixels:
        return MaskCheck(False, "sam_rejected_empty", 0.0, stats)

    # leak outside the box
    r0, r1, c0, c1 = _box_ints(bbox, W, H, cfg.box_margin_rel, 2.0)
    inside = int(m[r0:r1, c0:c1].sum())
    outside = (n - inside) / n
    stats["outside_fraction"] = round(outside, 4)
    if outside > cfg.max_outside_fraction:
        return MaskCheck(False, "sam_rejected_leak", 0.0, stats)

    fit = _box_fit(m[r0:r1, c0:c1], (r0, c0), bbox)
    stats["box_fit"] = round(fit, 4)
    if fit < cfg.min_box_fit:
        return MaskCheck(False, "sam_rejected_box_fit", 0.0, stats)

    valid = np.isfinite(depth) & (depth > 0)
    mv = m & valid
    idx = _subsample(np.flatnonzero(mv), cfg.max_points)
    stats["valid_fraction"] = round(int(mv.sum()) / n, 4)
    if stats["valid_fraction"] < cfg.min_valid_fraction or len(idx) < cfg.min_pixels // 2:
        return MaskCheck(False, "sam_rejected_empty", 0.0, stats)
    vv, uu = np.divmod(idx, W)
    zm = depth.reshape(-1)[idx].astype(np.float64)

    # floor
    floor_frac = 0.0
    if down is not None:
        if floor_h is None:
            floor_h = estimate_floor_height(depth, K, down, cfg.floor_percentile, cfg.max_points)
        if floor_h is not None:
            h = backproject(uu, vv, zm, K) @ _unit(down)
            floor_frac = float(np.mean(h >= floor_h - cfg.floor_band_m))
    stats["floor_fraction"] = round(floor_frac, 4)
    if floor_frac > cfg.max_floor_fraction:
        return MaskCheck(False, "sam_rejected_floor", 0.0, stats)

    # depth layers of the box (tight box, valid pixels)
    b0, b1, a0, a1 = _box_ints(bbox, W, H)
    box_valid = valid[b0:b1, a0:a1]
    box_z = depth[b0:b1, a0:a1][box_valid].astype(np.float64)
    if len(box_z) > cfg.max_points:
        box_z = box_z[:: int(np.ceil(len(box_z) / cfg.max_points))]
    cuts = depth_layers(box_z, cfg) if len(box_z) else np.empty(0)
    n_layers = len(cuts) + 1
    stats["box_layers"] = n_layers
    mask_layer = np.searchsorted(cuts, np.log(zm))
    share = np.bincount(mask_layer, minlength=n_layers) / len(zm)
    dom = int(np.argmax(share))
    stats["dominant_share"] = round(float(share[dom]), 4)
    if share[dom] < cfg.min_dominant_share:
        return MaskCheck(False, "sam_rejected_layers", 0.0, stats)

    box_layer = np.searchsorted(cuts, np.log(box_z)) if len(box_z) else np.zeros(0, dtype=int)
    box_share = np.bincount(box_layer, minlength=n_layers) / max(1, len(box_z))
    # coverage: how much of its layer (inside the box) the mask takes; favours the whole object over a part
    in_box_dom = m[b0:b1, a0:a1] & box_valid
    in_box_dom_n = int(np.count_nonzero(in_box_dom))
    layer_px = box_share[dom] * int(box_valid.sum())
    coverage = float(min(1.0, in_box_dom_n * share[dom] / layer_px)) if layer_px > 0 else 0.0
    stats["coverage"] = round(coverage, 4)

    # background: the far layer, a nearer alternative exists, and the layer continues around the box
    if n_layers > 1 and dom == n_layers - 1 and np.any(box_share[:dom] >= cfg.min_layer_share):
        # the depth range of the mask's own layer (not the open-ended far bin), widened by half a gap
        lzm = np.log(zm[mask_layer == dom])
        tol = 0.5 * np.log1p(cfg.layer_gap_rel)
        lo_edge, hi_edge = np.percentile(lzm, 5) - tol, np.percentile(lzm, 95) + tol
        R0, R1, C0, C1 = _box_ints(bbox, W, H, cfg.ring_rel, 2.0)
        ring = np.zeros((H, W), dtype=bool)
        ring[R0:R1, C0:C1] = True
        ring[b0:b1, a0:a1] = False
        ring &= valid
        rz = depth[ring]
        if len(rz) >= 10:
            lz = np.log(rz.astype(np.float64))
            cont = float(np.mean((lz > lo_edge) & (lz <= hi_edge)))
            stats["ring_continuity"] = round(cont, 4)
            if cont > cfg.max_ring_continuity:
                return MaskCheck(False, "sam_rejected_background", 0.0, stats)

    score = float(share[dom]) * (1.0 - outside) * (1.0 - floor_frac) * (0.5 + 0.5 * coverage)
    return MaskCheck(True, None, score, stats)


def choose_mask(candidates, bbox, depth: np.ndarray, K, down=None, floor_h: float | None = None,
                model_scores=None, cfg: ConsistencyConfig | None = None) -> tuple[int | None, list[MaskCheck]]:
    """Index of the most depth-consistent candidate mask (None when all are rejected) and every check.

    The model's own score only breaks near-ties (``model_score_weight``).
    """
    cfg = cfg or ConsistencyConfig()
    if down is not None and floor_h is None:
        floor_h = estimate_floor_height(depth, K, down, cfg.floor_percentile, cfg.max_points)
    checks = [check_mask(c, bbox, depth, K, down, floor_h, cfg) for c in candidates]
    best, best_s = None, -np.inf
    for i, c in enumerate(checks):
        if not c.ok:
            continue
        s = c.score + cfg.model_score_weight * (float(model_scores[i]) if model_scores is not None else 0.0)
        if s > best_s:
            best, best_s = i, s
    return best, checks


def rejection_flag(checks: list[MaskCheck]) -> str:
    """One flag summarising why every candidate was rejected (the most common reason)."""
    flags = [c.flag for c in checks if c.flag]
    if not flags:
        return "sam_rejected"
    return max(set(flags), key=lambda f: (flags.count(f), f))


__all__ = ["ConsistencyConfig", "MaskCheck", "check_mask", "choose_mask", "depth_layers",
           "estimate_floor_height", "rejection_flag"]
