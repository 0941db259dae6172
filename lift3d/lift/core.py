"""Lift 2D annotations (instance masks or boxes alone) to oriented 3D boxes with metric depth.

Per image (:func:`lift_image`): resolve the up direction and the floor level (``gravity.py``), then per
annotation, working only on the crop of its 2D box (no full-resolution per-object copies):

1. candidate pixels: the mask (eroded by ``mask_erode_px`` against 1-2 px mask bleed) or the whole box;
   valid depth only; *flying pixels* (a 3x3 depth range larger than ``flying_rel`` x depth, i.e. pixels
   straddling a depth discontinuity) removed; points on the floor plane removed.
2. object segmentation: connected components of the remaining pixels (depth discontinuities cut them
   apart); the component with the largest score (pixel count for masks; centre-weighted count for boxes,
   so the object beats the background and occluders at the box border) is kept, plus components at a
   similar depth (an object split by an occluder).
3. points in the gravity frame (x, down, forward), robust outlier rejection (median/MAD per axis).
4. yaw about the up axis: the rectangle orientation that minimises the mean distance of the ground-plane
   points to the boundary of their robust (percentile) rectangle - visible surfaces lie on the box's
   faces; an L-shaped or single-face view both pin the orientation.
5. robust extents (percentiles), amodal completion of the unseen far side with the category size prior
   (weighted by how hidden each horizontal axis is from the camera), floor contact.
6. quality score and flags.

Every annotation ends as an object or as a reject ``(annotation_id, reason, detail)`` with a stable
reason code (see ``REJECT_REASONS``).  Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from lift3d.geometry.boxes import gravity_frame, rot_y
from lift3d.geometry.camera import IntrinsicsError, as_K, backproject
from lift3d.lift.gravity import GravityEstimate, resolve_gravity
from lift3d.lift.priors import lookup

REJECT_REASONS = (
    "crowd",  # iscrowd = 1
    "degenerate_box",  # 2D box missing, non-finite, empty or outside the image
    "empty_mask",  # the mask has no pixel inside the image
    "no_valid_depth",  # no valid depth inside the mask/box
    "too_few_points",  # fewer than min_points after cleaning
    "implausible_size",  # lifted box too small/large, or far beyond the category prior
    "bad_intrinsics",  # K missing or invalid (every annotation of the image)
    "bad_depth",  # depth map missing or of the wrong shape (every annotation of the image)
    "lift_error",  # unexpected numerical failure (detail says what)
)


@dataclass
class LiftConfig:
    min_points: int = 20
    max_points: int = 3000  # points kept per object (deterministic subsample) for the fits
    max_crop_px: int = 40000  # larger 2D boxes are read with a stride
    remove_background_plane: bool = True  # box-only: drop a wall seen around the box border
    mask_erode_px: int = 1
    flying_rel: float = 0.06  # relative second difference of 1/z above which a pixel is "flying"
    floor_tol: float = 0.04  # m; points this close to the floor plane are floor
    floor_tol_rel: float = 0.01  # + this fraction of the distance
    floor_snap: float = 0.30  # m; a bottom this close above the floor is put on it
    floor_snap_rel: float = 0.25  # + this fraction of the object's height
    merge_depth_rel: float = 0.15  # components within this relative depth of the best are merged
    merge_min_frac: float = 0.05
    centre_sigma: float = 0.35  # box-only: centre weight sigma (fraction of the box size)
    outlier_k: float = 8.0  # sparse-outlier margin, in 16ths of the 2-98 % range
    pct_lo: float = 0.3  # extent percentiles (outliers are removed before)
    pct_hi: float = 99.7
    yaw_step_deg: float = 3.0
    amodal: bool = True
    amodal_strength: float = 1.0
    prior_scale_by_height: bool = True
    estimate_gravity: bool = True
    min_gravity_confidence: float = 0.2
    min_dim: float = 0.01
    max_dim: float = 60.0
    max_prior_ratio: float = 8.0
    few_points: int = 150
    border_px: float = 2.0


@dataclass
class LiftResult:
    objects: list = field(default_factory=list)
    rejects: list = field(default_factory=list)  # (annotation_id, reason, detail)
    gravity: list | None = None
    gravity_source: str = "camera"
    gravity_confidence: float = 0.0
    floor_height: float | None = None


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _crop_bounds(bbox, W: int, H: int):
    try:
        x1, y1, x2, y2 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise _Reject("degenerate_box", f"bbox2d {bbox!r} is not 4 numbers") from None
    if not all(np.isfinite([x1, y1, x2, y2])):
        raise _Reject("degenerate_box", "non-finite bbox2d")
    if x2 - x1 < 1.0 or y2 - y1 < 1.0:
        raise _Reject("degenerate_box", f"box {x2 - x1:.1f}x{y2 - y1:.1f} px")
    # pixel centres inside [x1, x2): pixel u covers [u-0.5, u+0.5] in the 0-based-centre convention
    c0 = max(0, int(np.floor(x1 + 0.5)))
    r0 = max(0, int(np.floor(y1 + 0.5)))
    c1 = min(W, int(np.ceil(x2 - 0.5)))
    r1 = min(H, int(np.ceil(y2 - 0.5)))
    if c1 - c0 < 2 or r1 - r0 < 2:
        raise _Reject("degenerate_box", f"box {bbox!r} covers <2 px inside the {W}x{H} image")
    return r0, r1, c0, c1


def _flying(d: np.ndarray, valid: np.ndarray, rel: float) -> np.ndarray:
    """Pixels at depth discontinuities (flying pixels and the edge pixels on both sides).

    A plane has inverse depth affine in (u, v), so the second difference of 1/z vanishes on every
    planar surface, however grazing; across a discontinuity it jumps to ~|1/z1 - 1/z2|.  A pixel is
    flagged when that second difference, relative to its own 1/z, exceeds ``rel`` along u or v.
    """
    inv = np.where(valid, 1.0 / np.where(valid, d, 1.0), np.nan)
    p = np.pad(inv, 1, mode="edge")
    c = p[1:-1, 1:-1]
    with np.errstate(invalid="ignore"):
        du = np.abs(p[1:-1, 2:] + p[1:-1, :-2] - 2.0 * c)
        dv = np.abs(p[2:, 1:-1] + p[:-2, 1:-1] - 2.0 * c)
        # one-sided jumps where a neighbour is invalid do not count (holes are not discontinuities)
        bad = (np.nan_to_num(du, nan=0.0) > rel * c) | (np.nan_to_num(dv, nan=0.0) > rel * c)
    return valid & bad


def _robust_keep(q: np.ndarray, k: float) -> np.ndarray:
    """Drop sparse outliers: points beyond the 2-98 % range by more than ``k``/16 of that range.

    Percentile based rather than median/MAD: a visible surface is strongly skewed (a dense front face
    and a thin top), which a MAD test would cut away.
    """
    lo, hi = np.percentile(q, [2.0, 98.0], axis=0)
    m = np.maximum(0.05, (k / 16.0) * (hi - lo))
    return np.all((q >= lo - m) & (q <= hi + m), axis=1)


def _remove_background_plane(ok: np.ndarray, Q: np.ndarray, d: np.ndarray, down, cfg: LiftConfig) -> np.ndarray:
    """Box-only: a vertical plane (wall) that fills the box's top/side border but not its centre is
    background; its points (and those behind it) are removed.  ``Q`` is in the gravity frame."""
    h, w = ok.shape
    if h < 8 or w < 8:
        return ok
    by, bx = max(1, int(0.12 * h)), max(1, int(0.12 * w))
    ring = np.zeros_like(ok)
    ring[:by, :] = True
    ring[:, :bx] = True
    ring[:, -bx:] = True
    ring &= ok
    centre = np.zeros_like(ok)
    centre[int(0.3 * h):int(0.7 * h), int(0.3 * w):int(0.7 * w)] = True
    centre &= ok
    pts = Q[ring]
    if len(pts) < 30 or centre.sum() < 10:
        return ok
    if len(pts) > 1500:
        pts = pts[np.linspace(0, len(pts) - 1, 1500).astype(np.int64)]
    rng = np.random.default_rng(len(pts))
    idx = rng.integers(0, len(pts), size=(64, 3))
    a, b, c = pts[idx[:, 0]], pts[idx[:, 1]], pts[idx[:, 2]]
    nrm = np.cross(b - a, c - a)
    ln = np.linalg.norm(nrm, axis=1)
    good = ln > 1e-9
    if down is not None:
        good &= np.abs(nrm[:, 1]) < 0.35 * np.maximum(ln, 1e-12)  # vertical plane (gravity frame: axis 1)
    if not good.any():
        return ok
    nrm = nrm[good] / ln[good, None]
    off = np.einsum("ij,ij->i", nrm, a[good])
    tol = np.maximum(0.03, 0.015 * np.median(d[ring]))
    inl = (np.abs(pts @ nrm.T - off) < tol).mean(axis=0)
    j = int(np.argmax(inl))
    if inl[j] < 0.5:
        return ok
    n, o = nrm[j], off[j]
    if o < 0:
        n, o = -n, -o  # camera side: n.x < o
    cen = Q[centre] @ n - o
    if np.mean(np.abs(cen) < tol) > 0.35 or np.median(cen) > -tol:
        return ok  # the plane is the object itself (or in front of it): keep
    dist = Q @ n - o
    keep = ok & (dist < -tol)
    return keep if keep.sum() >= cfg.min_points else ok


def _fit_yaw(g2: np.ndarray, step_deg: float, lo: float, hi: float):
    """Rectangle orientation theta in [0, pi/2) on ground points g2 (N, 2) = (x, fwd).

    Returns (theta, confidence) where confidence compares the best score to the median one.
    """
    def scores(thetas):
        c, s = np.cos(thetas)[:, None], np.sin(thetas)[:, None]
        u = c * g2[None, :, 0] + s * g2[None, :, 1]
        v = -s * g2[None, :, 0] + c * g2[None, :, 1]
        ul, uh = np.percentile(u, [lo, hi], axis=1)
        vl, vh = np.percentile(v, [lo, hi], axis=1)
        dist = np.minimum(np.minimum(np.abs(u - ul[:, None]), np.abs(u - uh[:, None])),
                          np.minimum(np.abs(v - vl[:, None]), np.abs(v - vh[:, None])))
        return dist.mean(axis=1)

    coarse = np.radians(np.arange(0.0, 90.0, step_deg))
    sc = scores(coarse)
    i = int(np.argmin(sc))
    fine = coarse[i] + np.radians(np.linspace(-step_deg, step_deg, 13))
    sf = scores(fine)
    j = int(np.argmin(sf))
    theta = float(np.mod(fine[j], np.pi / 2))
    best = float(sf[j])
    med = float(np.median(sc))
    conf = 0.0 if med <= 1e-9 else float(np.clip(1.0 - best / med, 0.0, 1.0))
    return theta, conf


def _assign_prior(m: np.ndarray, vis: np.ndarray, p_short: float, p_long: float):
    """Assign the prior's (short, long) horizontal extents to the two measured axes (u, v)."""
    def cost(pu, pv):
        c = 0.0
        for mi, pi, vi in ((m[0], pu, vis[0]), (m[1], pv, vis[1])):
            r = np.log(max(mi, 1e-3) / pi)
            c += r * r if r > 0 else vi * r * r
        return c

    a = (p_short, p_long)
    b = (p_long, p_short)
    return np.array(a) if cost(*a) <= cost(*b) else np.array(b)


def _lift_one(ann: dict, depth: np.ndarray, K: np.ndarray, G: np.ndarray, floor_h, down, cfg: LiftConfig):
    H, W = depth.shape
    aid = ann.get("annotation_id")
    bbox = ann.get("bbox2d")
    mask = ann.get("mask")
    if bbox is None and mask is not None:
        m = np.asarray(mask, dtype=bool)
        ys, xs = np.nonzero(m)
        if len(xs) == 0:
            raise _Reject("empty_mask", "mask has no pixel")
        bbox = [xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5]
    if bbox is None:
        raise _Reject("degenerate_box", "no bbox2d and no mask")
    r0, r1, c0, c1 = _crop_bounds(bbox, W, H)
    # large crops are strided: the working set stays bounded whatever the image resolution
    st = max(1, int(np.ceil(np.sqrt((r1 - r0) * (c1 - c0) / cfg.max_crop_px))))
    d = np.asarray(depth[r0:r1:st, c0:c1:st], dtype=np.float64)
    valid = np.isfinite(d) & (d > 0)
    box_only = mask is None
    if not box_only:
        m = np.asarray(mask)
        if m.shape != depth.shape:
            raise _Reject("empty_mask", f"mask shape {m.shape} != depth shape {depth.shape}")
        region = m[r0:r1:st, c0:c1:st].astype(bool)
        if not region.any():
            raise _Reject("empty_mask", "mask has no pixel inside the box")
        if cfg.mask_erode_px > 0:
            it = max(1, int(round(cfg.mask_erode_px / st)))
            er = ndimage.binary_erosion(region, iterations=it, border_value=1)
            if er.sum() >= max(cfg.min_points, 0.3 * region.sum()):
                region = er
    else:
        region = np.ones_like(valid)
    if not (valid & region).any():
        raise _Reject("no_valid_depth", "no valid depth in the " + ("box" if box_only else "mask"))
    region_valid = valid & region
    n_region = int(region.sum())
    ok = region_valid & ~_flying(d, valid, cfg.flying_rel)

    # pixel grid of the crop, gravity-frame coordinates of every valid pixel of the crop
    vv, uu = np.mgrid[r0:r1:st, c0:c1:st]
    P = backproject(uu, vv, np.where(valid, d, 0.0), K)  # (h, w, 3)
    Q = P @ G  # (x, down, fwd)
    if floor_h is not None:
        tol = cfg.floor_tol + cfg.floor_tol_rel * d
        on_floor_px = valid & (Q[..., 1] > floor_h - tol)
        ok2 = ok & ~on_floor_px
        if ok2.sum() >= cfg.min_points:
            ok = ok2

    if box_only and cfg.remove_background_plane:
        ok = _remove_background_plane(ok, Q, d, down, cfg)

    if ok.sum() < cfg.min_points:
        raise _Reject("too_few_points", f"{int(ok.sum())} clean points (< {cfg.min_points})")

    # connected components (depth discontinuities already cut: flying pixels removed)
    lab, nlab = ndimage.label(ok)
    if nlab > 1:
        idx = np.arange(1, nlab + 1)
        if box_only:
            hh, ww = ok.shape
            yy = (np.arange(hh) + 0.5) / hh - 0.5
            xx = (np.arange(ww) + 0.5) / ww - 0.5
            wgt = np.exp(-(yy[:, None] ** 2 + xx[None, :] ** 2) / (2 * cfg.centre_sigma ** 2))
        else:
            wgt = np.ones(ok.shape)
        score = ndimage.sum_labels(wgt, lab, idx)
        counts = ndimage.sum_labels(np.ones(ok.shape), lab, idx)
        med_z = ndimage.median(d, lab, idx)
        best = int(np.argmax(score))
        zb = med_z[best]
        keep_lab = idx[(np.abs(med_z - zb) <= cfg.merge_depth_rel * zb)
                       & (counts >= cfg.merge_min_frac * counts[best])]
        keep_lab = np.union1d(keep_lab, [idx[best]])
        sel = np.isin(lab, keep_lab)
    else:
        sel = ok

    q = Q[sel]
    z_sel = d[sel]
    if len(q) > cfg.max_points:
        pick = np.linspace(0, len(q) - 1, cfg.max_points).astype(np.int64)
        q = q[pick]
        z_sel = z_sel[pick]
    keep = _robust_keep(q, cfg.outlier_k)
    if keep.sum() >= cfg.min_points:
        q = q[keep]
        z_sel = z_sel[keep]
    n_pts = int(len(q))
    if n_pts < cfg.min_points:
        raise _Reject("too_few_points", f"{n_pts} points after outlier rejection")

    flags: list[str] = []
    if box_only:
        flags.append("box_only")

    # yaw on the ground plane
    g2 = q[:, [0, 2]]
    theta, yaw_conf = _fit_yaw(g2, cfg.yaw_step_deg, cfg.pct_lo, cfg.pct_hi)
    c, s = np.cos(theta), np.sin(theta)
    u = c * g2[:, 0] + s * g2[:, 1]
    v = -s * g2[:, 0] + c * g2[:, 1]
    ul, uh = np.percentile(u, [cfg.pct_lo, cfg.pct_hi])
    vl, vh = np.percentile(v, [cfg.pct_lo, cfg.pct_hi])
    hl, hh_ = np.percentile(q[:, 1], [cfg.pct_lo, cfg.pct_hi])
    ext = np.array([uh - ul, vh - vl])

    # truncation / occlusion
    x1, y1, x2, y2 = (float(t) for t in bbox)
    bp = cfg.border_px
    trunc = {"left": x1 <= bp - 0.5, "top": y1 <= bp - 0.5, "right": x2 >= W - 0.5 - bp,
             "bottom": y2 >= H - 0.5 - bp}
    if any(trunc.values()):
        flags.append("truncated")
    z_near = float(np.percentile(z_sel, 5))
    margin = max(0.10, 0.05 * z_near)
    in_box_valid = valid.sum()
    occ_frac = float((valid & (d < z_near - margin)).sum()) / max(1, int(in_box_valid))
    if occ_frac > 0.10:
        flags.append("occluded")

    # vertical extent and floor contact
    height = hh_ - hl
    on_floor = False
    if floor_h is not None:
        gap = floor_h - hh_
        if -0.10 <= gap <= cfg.floor_snap + cfg.floor_snap_rel * max(height, 0.0):
            hh_ = max(hh_, floor_h) if gap > 0 else floor_h
            on_floor = True
    height = hh_ - hl

    # amodal completion of the unseen far side
    prior = lookup(ann.get("category"))
    ru = np.array([c, s])  # u axis in (x, fwd)
    rv = np.array([-s, c])
    centre2 = np.array([0.5 * (ul + uh), 0.5 * (vl + vh)])  # in (u, v)
    ray = centre2[0] * ru + centre2[1] * rv
    ray = ray / max(np.linalg.norm(ray), 1e-9)
    vis = np.array([abs(ru[0] * ray[1] - ru[1] * ray[0]), abs(rv[0] * ray[1] - rv[1] * ray[0])])
    completed = False
    if cfg.amodal:
        if prior is not None:
            sc = 1.0
            if cfg.prior_scale_by_height and height > 0 and "truncated" not in flags and "occluded" not in flags:
                sc = float(np.clip(height / prior.h, 0.75, 1.33))
            p_s, p_l = prior.horizontal
            pe = _assign_prior(ext, vis, p_s * sc, p_l * sc)
        else:
            mx = float(max(ext.max(), 0.05))
            pe = np.where(ext >= ext.max(), ext, np.minimum(mx, max(0.6 * mx, height * 0.6)))
        short = np.maximum(pe - ext, 0.0)
        add = cfg.amodal_strength * (1.0 - vis) * short
        # extend away from the camera (at the origin of the ground plane): the far side of each axis
        if add[0] > 1e-4:
            completed = True
            if centre2[0] >= 0.0:
                uh += add[0]
            else:
                ul -= add[0]
        if add[1] > 1e-4:
            completed = True
            if centre2[1] >= 0.0:
                vh += add[1]
            else:
                vl -= add[1]
    if completed and float(np.max(add / np.maximum(ext + add, 1e-6))) > 0.05:
        flags.append("amodal_completed")
    ext = np.array([uh - ul, vh - vl])

    # box: length axis = the longer horizontal extent
    if ext[0] >= ext[1]:
        L, wl = ru, (ext[1], ext[0])
    else:
        L, wl = rv, (ext[0], ext[1])
    yaw = float(np.arctan2(L[0], L[1]))
    # boxes are symmetric under a half turn: keep yaw in (-pi/2, pi/2]
    if yaw <= -np.pi / 2:
        yaw += np.pi
    elif yaw > np.pi / 2:
        yaw -= np.pi
    cu, cv = 0.5 * (ul + uh), 0.5 * (vl + vh)
    cx, cf = cu * c - cv * s, cu * s + cv * c
    centre_g = np.array([cx, 0.5 * (hl + hh_), cf])
    centre_cam = G @ centre_g
    R = G @ rot_y(yaw)
    dims = np.array([wl[0], height, wl[1]], dtype=np.float64)
    dims = np.maximum(dims, cfg.min_dim * 0.5)  # a perfectly flat face still gets a sliver

    if not np.all(np.isfinite(dims)) or not np.all(np.isfinite(centre_cam)):
        raise _Reject("lift_error", "non-finite box")
    if dims.max() > cfg.max_dim or dims.max() < cfg.min_dim:
        raise _Reject("implausible_size", f"dimensions {np.round(dims, 3).tolist()}")
    if prior is not None and dims.max() > cfg.max_prior_ratio * max(prior.w, prior.h, prior.l):
        raise _Reject("implausible_size",
                      f"dimensions {np.round(dims, 2).tolist()} vs prior {[prior.w, prior.h, prior.l]}")
    if centre_cam[2] <= 0:
        raise _Reject("implausible_size", "box centre behind the camera")

    if n_pts < cfg.few_points:
        flags.append("few_points")
    square = min(ext) / max(max(ext), 1e-6) > 0.85
    if yaw_conf < 0.25 or square or down is None:
        flags.append("yaw_unreliable")
    if on_floor:
        flags.append("on_floor")

    # quality: points, depth coverage of the region, truncation, occlusion, yaw, completion share
    cover = float(region_valid.sum()) / max(1, n_region)
    qual = min(1.0, n_pts / 400.0) ** 0.5 * (0.5 + 0.5 * cover)
    qual *= 0.75 if "truncated" in flags else 1.0
    qual *= 0.8 if "occluded" in flags else 1.0
    qual *= 0.7 + 0.3 * yaw_conf
    qual *= 0.85 if "amodal_completed" in flags else 1.0
    qual *= 0.85 if box_only else 1.0

    return {
        "annotation_id": int(aid) if aid is not None else None,
        "category": str(ann.get("category", "")),
        "bbox2d": [float(t) for t in bbox],
        "center_cam": [float(t) for t in centre_cam],
        "dimensions": [float(t) for t in dims],
        "R_cam": [float(t) for t in R.reshape(9)],
        "yaw": yaw,
        "quality": float(np.clip(qual, 0.0, 1.0)),
        "flags": flags,
        "num_points": n_pts,
        "mask_source": "box" if box_only else "dataset",
        "yaw_confidence": float(yaw_conf),
        "on_floor": bool(on_floor),
    }


def lift_image(depth: np.ndarray, K, annotations: list[dict], gravity, config: LiftConfig | None = None,
               image_id=None) -> LiftResult:
    """Lift all annotations of one image. Never raises for a bad annotation: it becomes a reject."""
    cfg = config or LiftConfig()
    res = LiftResult()
    anns = list(annotations or [])
    try:
        Km = as_K(K)
    except IntrinsicsError as exc:
        res.rejects = [(a.get("annotation_id"), "bad_intrinsics", str(exc)) for a in anns]
        return res
    if depth is None or np.ndim(depth) != 2 or min(np.shape(depth)) < 2:
        res.rejects = [(a.get("annotation_id"), "bad_depth", f"depth shape {np.shape(depth)}") for a in anns]
        return res
    depth = np.asarray(depth)
    try:
        ge = resolve_gravity(gravity, depth, Km, anns, estimate=cfg.estimate_gravity,
                             min_confidence=cfg.min_gravity_confidence)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):  # numerical failure: camera frame
        ge = GravityEstimate(None, "camera", 0.0, None)
    res.gravity = None if ge.down is None else [float(t) for t in ge.down]
    res.gravity_source = ge.source
    res.gravity_confidence = float(ge.confidence)
    res.floor_height = ge.floor_h
    G = gravity_frame(ge.down)
    for ann in anns:
        aid = ann.get("annotation_id")
        if int(ann.get("iscrowd", 0) or 0) == 1:
            res.rejects.append((aid, "crowd", "iscrowd=1"))
            continue
        try:
            res.objects.append(_lift_one(ann, depth, Km, G, ge.floor_h, ge.down, cfg))
        except _Reject as rj:
            res.rejects.append((aid, rj.reason, rj.detail))
        except (ValueError, FloatingPointError, IndexError, np.linalg.LinAlgError) as exc:
            res.rejects.append((aid, "lift_error", f"{type(exc).__name__}: {exc}"))
    return res
