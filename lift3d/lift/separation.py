"""Box-only separation of the object from what else its 2D box shows: a wall behind it, the support surface under it,
the floor-contact window, the footprint trim to the category size and the pixels of objects standing on it."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.camera import project
from lift3d.lift.components import finite_boxes
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import bottom_floor_range
from lift3d.lift.crop import crop_dot, pix_points, ray_parts, read_crop
from lift3d.lift.gravity import plane_hypotheses
from lift3d.lift.quantiles import median, percentile


# the wall test (remove_background_plane)
WALL_MIN_SIDE_PX = 8  # px; crops smaller than this along a side are left alone
WALL_RING = 0.12  # the border ring: this share of the crop's rows (top) and columns (left, right)
WALL_CENTRE = (0.3, 0.7)  # the centre window: these shares of the crop's rows and columns
WALL_MIN_RING_PX, WALL_MIN_CENTRE_PX = 30, 10  # fewer clean ring / centre pixels: no test
WALL_RING_POINTS = 1500  # ring pixels used for the plane fit (evenly subsampled)
WALL_HYPOTHESES = 64  # three-point plane hypotheses (gravity.plane_hypotheses)
WALL_MAX_NORMAL_DOWN = 0.35  # a wall's unit normal has |down component| below this (vertical within ~20 deg)
WALL_TOL, WALL_TOL_REL = 0.03, 0.015  # m, share of the median ring depth: inlier distance, the larger of the two
WALL_MIN_INLIERS = 0.5  # share of the ring's points on the plane for a wall
WALL_MAX_CENTRE_ON = 0.35  # more of the centre's points on the plane: the plane is the object itself
BAND_MIN_POINTS = 10  # the band outside the box needs this many valid points (outside_band)
# the support test (support_surface)
SUPPORT_MIN_ROWS, SUPPORT_MIN_COLS = 8, 4  # px; smaller crops are left alone
SUPPORT_MIN_BAND_PX, SUPPORT_MIN_BAND_SHARE = 6, 0.2  # the bottom band needs this many / this share clean pixels
SUPPORT_MIN_LEVEL_SHARE = 0.4  # share of the band's clean pixels at the surface's height
SUPPORT_EDGE_DIV = 4  # the surface reaches into the left and the right 1/4 of the box's columns
SUPPORT_MIN_LEFT = 0.2  # share of the clean pixels left above the surface (and min_points)
SUPPORT_DEPTH_PCT = (5, 95)  # the surface's depth range: these percentiles of its pixels' depths
DEPTH_MARGIN, DEPTH_MARGIN_REL = 0.10, 0.03  # m, share of the depth: margin of a depth / ground-range window
# the footprint trim and the top
ROBUST_PCT = (2.0, 98.0)  # percentiles of a robust range
SMEAR_MIN_KEEP = 3  # smear_trim keeps the points within the reach when at least this many (a box needs a few)
FOOTPRINT_SPREADS = 3.0  # the trim radius allows the prior's size spread (rel_std) this many times
ON_TOP_MIN_LEFT = 0.3  # the top without the on-top pixels needs this share of the points (and min_points)


def outside_band(depth: np.ndarray, K: np.ndarray, G: np.ndarray, crop, cfg: LiftConfig, field=None):
    """Box-only: gravity-frame points of the valid pixels in a thin band just outside the top, left and right
    edges of the 2D box's pixel ``crop`` (r0, r1, c0, c1 from :func:`crop_bounds`; not below: the floor or the
    support), strided to about ``outside_points``; None when the box touches the image border on all three
    sides or too few pixels are valid."""
    H, W = depth.shape
    r0, r1, c0, c1 = crop
    gap, bw = cfg.separation.outside_gap_px, cfg.separation.outside_band_px
    rects = [(r0 - gap - bw, r0 - gap, c0, c1),  # above
             (r0, r1, c0 - gap - bw, c0 - gap),  # left
             (r0, r1, c1 + gap, c1 + gap + bw)]  # right
    rects = [(max(0, a), min(H, b), max(0, c), min(W, e)) for a, b, c, e in rects]
    rects = [r for r in rects if r[1] - r[0] > 0 and r[3] - r[2] > 0]
    n = sum((b - a) * (e - c) for a, b, c, e in rects)
    if n == 0:
        return None
    st = max(1, int(np.ceil(np.sqrt(n / cfg.separation.outside_points))))
    pts = []
    for a, b, c, e in rects:
        dd, rows, cols = read_crop(depth, a, b, c, e, st, field)
        iv, iu = np.nonzero(np.isfinite(dd) & (dd > 0))
        if len(iv):
            ax, bx, by = ray_parts(K, rows, cols)
            pts.append(pix_points(np.where(np.isfinite(dd), dd, 0.0), iv, iu, ax, bx, by, G))
    if not pts:
        return None
    pts = np.concatenate(pts)
    return pts if len(pts) >= BAND_MIN_POINTS else None


def remove_background_plane(ok: np.ndarray, dz: np.ndarray, ax, bx, by, G: np.ndarray, d: np.ndarray, down,
                             cfg: LiftConfig, outside=None) -> np.ndarray:
    """Box-only: a vertical plane (wall) that fills the box's top/side border but not its centre is
    background; its points (and those behind it) are removed (plane fit in the gravity frame).  A 2D box
    is tight around its object, so a plane that stops at the box's edges (the band outside the box shows
    little of it) is the object's own face seen behind an occluder, not a wall.  ``outside``: a callable
    returning that band's points (:func:`outside_band`, read only once a plane is found), or None."""
    h, w = ok.shape
    if h < WALL_MIN_SIDE_PX or w < WALL_MIN_SIDE_PX:
        return ok
    by_, bx_ = max(1, int(WALL_RING * h)), max(1, int(WALL_RING * w))
    ring = np.zeros_like(ok)
    ring[:by_, :] = True
    ring[:, :bx_] = True
    ring[:, -bx_:] = True
    ring &= ok
    centre = np.zeros_like(ok)
    c_lo, c_hi = WALL_CENTRE
    centre[int(c_lo * h):int(c_hi * h), int(c_lo * w):int(c_hi * w)] = True
    centre &= ok
    rv, ru = np.nonzero(ring)
    if len(rv) < WALL_MIN_RING_PX or centre.sum() < WALL_MIN_CENTRE_PX:
        return ok
    if len(rv) > WALL_RING_POINTS:
        pk = np.linspace(0, len(rv) - 1, WALL_RING_POINTS).astype(np.int64)
        rv, ru = rv[pk], ru[pk]
    pts = pix_points(dz, rv, ru, ax, bx, by, G)

    def vertical(nrm, ln):  # a vertical plane (gravity frame: axis 1 is down)
        return np.abs(nrm[:, 1]) < WALL_MAX_NORMAL_DOWN * np.maximum(ln, 1e-12)

    nrm, a = plane_hypotheses(pts, WALL_HYPOTHESES, np.random.default_rng(len(pts)),
                              vertical if down is not None else None)
    if not len(nrm):
        return ok
    off = np.einsum("ij,ij->i", nrm, a)
    tol = np.maximum(WALL_TOL, WALL_TOL_REL * median(d[ring]))
    inl = (np.abs(pts @ nrm.T - off) < tol).mean(axis=0)
    j = int(np.argmax(inl))
    if inl[j] < WALL_MIN_INLIERS:
        return ok
    n, o = nrm[j], off[j]
    if o < 0:
        n, o = -n, -o  # camera side: n.x < o
    cv_, cu_ = np.nonzero(centre)
    cen = pix_points(dz, cv_, cu_, ax, bx, by, G) @ n - o
    if np.mean(np.abs(cen) < tol) > WALL_MAX_CENTRE_ON or median(cen) > -tol:
        return ok  # the plane is the object itself (or in front of it): keep
    band = outside() if outside is not None else None
    if band is not None and np.mean(np.abs(band @ n - o) < tol) < cfg.separation.outside_min_share:
        return ok  # the plane ends at the box's edges: the object's own face (behind an occluder)
    gn = G @ n  # plane normal in the camera frame
    dist = crop_dot(dz, ax, bx, by, gn) - o
    keep = ok & (dist < -tol)
    return keep if keep.sum() >= cfg.clean.min_points else ok


def support_surface(ok: np.ndarray, hd: np.ndarray, d: np.ndarray, cfg: LiftConfig):
    """Box-only: the surface an object stands on (a table top under a lamp, a cabinet under a tv) shows
    in the bottom rows of the object's 2D box on both sides of its base.  A horizontal surface there (one
    height, several depths) spanning the box's width is that support, not the object: its pixels and
    those below it are removed, when enough of the object is left above it.  ``hd``: the crop's down
    coordinates (:func:`crop_dot` with the down axis).  Returns (ok, the surface's down coordinate or
    None): the object reaches down to it."""
    h, w = ok.shape
    if h < SUPPORT_MIN_ROWS or w < SUPPORT_MIN_COLS:
        return ok, None
    nb = max(2, int(round(cfg.separation.support_band * h)))
    band, h_band, d_band = ok[-nb:], hd[-nb:], d[-nb:]
    if band.sum() < max(SUPPORT_MIN_BAND_PX, SUPPORT_MIN_BAND_SHARE * band.size):
        return ok, None
    hb, zb = h_band[band], d_band[band]
    tol = cfg.clean.floor_tol + cfg.clean.floor_tol_rel * float(median(zb))
    # the most populated height level (bins of tol, two offsets)
    best = None
    for off in (0.0, 0.5):
        k = np.floor(hb / tol + off)
        vals, cnt = np.unique(k, return_counts=True)
        j = int(np.argmax(cnt))
        if best is None or cnt[j] > best[0]:
            best = (int(cnt[j]), (vals[j] + 0.5 - off) * tol)
    level = float(median(hb[np.abs(hb - best[1]) <= tol]))
    on = band & (np.abs(h_band - level) <= tol)
    if on.sum() < SUPPORT_MIN_LEVEL_SHARE * band.sum():
        return ok, None
    cols = np.nonzero(on.any(axis=0))[0]
    third = max(1, w // SUPPORT_EDGE_DIV)
    if (len(cols) < cfg.separation.support_span * w or not (cols < third).any() or not (cols >= w - third).any()):
        return ok, None
    zs = d_band[on]
    if np.ptp(zs) < 2 * tol:
        return ok, None  # one depth: a vertical face or a thin edge, not a surface seen from above
    keep = ok & (hd < level - tol)
    if keep.sum() < max(cfg.clean.min_points, SUPPORT_MIN_LEFT * ok.sum()):
        return ok, None
    # the object stands on it: what is left above is at the surface's depths (an occluder's top is nearer
    # than the object behind it; a chair's own seat seen behind its backrest is farther)
    zr = float(median(d[keep]))
    lo, hi = percentile(zs, SUPPORT_DEPTH_PCT)
    m = DEPTH_MARGIN + DEPTH_MARGIN_REL * zr
    return (keep, level) if lo - m <= zr <= hi + m else (ok, None)


def contact_window(ok: np.ndarray, bbox, dz: np.ndarray, ax, bx, by, K: np.ndarray, G: np.ndarray, floor_h: float,
                    prior, H: int, cfg: LiftConfig) -> np.ndarray:
    """Box-only: an object standing on the floor touches it at the bottom edge of its 2D box; the floor
    point seen there gives the near end of its footprint (ground range from the camera), the category
    prior its far end.  Points far behind (walls, objects behind) or in front (occluders) are dropped
    when most of the points agree with that window (objects on a support do not: then nothing changes)."""
    if prior is None:
        return ok
    r_c = bottom_floor_range(bbox, K, G, floor_h, H, cfg)
    if r_c is None or not np.isfinite(r_c):
        return ok  # cut by the image border (the bottom edge is not the contact) or above the horizon
    near = r_c - (DEPTH_MARGIN + DEPTH_MARGIN_REL * r_c)
    far = (r_c + cfg.separation.contact_window * float(np.hypot(prior.l, prior.w)) + DEPTH_MARGIN
           + DEPTH_MARGIN_REL * r_c)
    r = np.hypot(crop_dot(dz, ax, bx, by, G[:, 0]), crop_dot(dz, ax, bx, by, G[:, 2]))
    inside = ok & (r >= near) & (r <= far)
    n_ok = int(ok.sum())
    if inside.sum() < max(cfg.clean.min_points, cfg.separation.contact_min_share * n_ok):
        return ok
    return inside


def height_growth(down: np.ndarray, prior, cfg: LiftConfig) -> float:
    """How much wider than its category's prior an object likely is: its seen height (robust range of the points'
    ``down`` coordinates) over the prior's, within [1, ``footprint_grow_max``]; 1 with ``footprint_grow_max`` <= 1."""
    if cfg.separation.footprint_grow_max <= 1.0:
        return 1.0
    h = float(np.ptp(percentile(down, ROBUST_PCT)))
    return float(np.clip(h / prior.h, 1.0, cfg.separation.footprint_grow_max))


def footprint_trim(q: np.ndarray, z_sel: np.ndarray, prior, cfg: LiftConfig):
    """Box-only: background seen around or through the object (between a table's legs, beside a lamp)
    spreads the ground-plane footprint beyond the category's size.  Distances from the robust footprint
    centre (the median of the nearer half of the points: the object is in front) are cut at the first
    empty gap (``footprint_gap`` m) beyond the prior's half diagonal, or at the latest at
    ``footprint_radius`` x the prior's diagonal x (1 + 3 rel_std), when most points stay."""
    g = q[:, [0, 2]]
    rng_ = np.hypot(g[:, 0], g[:, 1])
    near = rng_ <= median(rng_)
    c = np.median(g[near], axis=0)
    dist = np.hypot(g[:, 0] - c[0], g[:, 1] - c[1])
    # an object taller than its category's prior (seen in the nearer half of the points: the object, not the
    # background behind it) is likely wider too
    diag = float(np.hypot(prior.l, prior.w)) * height_growth(q[near, 1], prior, cfg)
    cut = cfg.separation.footprint_radius * diag * (1.0 + FOOTPRINT_SPREADS * prior.rel_std)
    ds = np.sort(dist)
    jump = np.nonzero((np.diff(ds) > cfg.separation.footprint_gap) & (ds[:-1] >= 0.5 * diag))[0]
    if len(jump):
        cut = min(cut, float(ds[jump[0]]) + 1e-6)
    keep = dist <= cut
    if keep.sum() >= max(cfg.clean.min_points, cfg.separation.footprint_min_share * len(q)) and not keep.all():
        return q[keep], z_sel[keep]
    return q, z_sel


def smear_trim(q: np.ndarray, z_sel: np.ndarray, prior, K: np.ndarray, G: np.ndarray, cfg: LiftConfig):
    """Soft-edged (model) depth: a ramp joins an object to what lies behind or in front of it with no gap in depth,
    so its points (a pole's or a person's few columns, a box-only foreground) can run along the line of sight far
    beyond any size its category has.  No object reaches further in ground range (horizontal distance from the
    camera) than its footprint's diagonal (the prior's, x (1 + 3 rel_std), widened by the seen height as
    :func:`footprint_trim` does).  When the points' robust ground range (2 / 98 %) is more than ``smear_window`` x
    that reach, the object is placed by the nearest point of each image row (the least blended with what lies
    behind it; a thin object has no clean pixel at all): the median of those per-row nearest ranges is its near
    face, and only the points from half a reach in front of it to a reach behind it are kept (at least
    ``SMEAR_MIN_KEEP``, however few: a far person a few pixels wide has a handful of points there and dozens along
    the smear, whose whole range would make its box ten metres deep).  Off with ``smear_window`` 0 or without a
    prior."""
    w = cfg.separation.smear_window
    if w <= 0 or prior is None or len(q) < cfg.clean.min_points:
        return q, z_sel
    rng_ = np.hypot(q[:, 0], q[:, 2])
    near, far = percentile(rng_, ROBUST_PCT)
    reach = w * float(np.hypot(prior.l, prior.w)) * (1.0 + FOOTPRINT_SPREADS * prior.rel_std)
    if far - near <= reach:
        return q, z_sel
    reach *= height_growth(q[:, 1], prior, cfg)  # a taller object than the prior is likely wider too
    if far - near <= reach:
        return q, z_sel
    rows = np.rint(project(q @ G.T, K)[:, 1]).astype(np.int64)  # pixel centres: whole rows up to round-off
    order = np.lexsort((rng_, rows))  # by row, nearest first within a row
    first = np.concatenate([[True], np.diff(rows[order]) != 0])
    face = float(median(rng_[order][first]))
    keep = (rng_ >= face - 0.5 * reach) & (rng_ <= face + reach)
    if keep.sum() >= SMEAR_MIN_KEEP:
        return q[keep], z_sel[keep]
    return q, z_sel


def top_without_on_top(q: np.ndarray, K: np.ndarray, G: np.ndarray, others, bbox, cfg: LiftConfig):
    """Box-only: the object's top (down coordinate, ``pct_lo`` percentile) from its points that do not
    project into the 2D box of an annotation standing on it (:func:`on_top_points`); None when no point
    does or too few would be left.  Only the height uses it: the footprint keeps every point."""
    uv = project(q @ G.T, K)  # the points come from valid (positive) depths
    inside = on_top_points(uv[:, 0], uv[:, 1], others, bbox, cfg)
    if inside is None or not inside.any():
        return None
    rest = ~inside
    if rest.sum() < max(cfg.clean.min_points, ON_TOP_MIN_LEFT * len(q)):
        return None
    return float(percentile(q[rest, 1], cfg.extent.pct_lo))


def on_top_points(u, v, others, bbox, cfg: LiftConfig):
    """Which image points (u, v) lie inside the 2D box of another annotation standing on ours (a tv or a
    lamp on a table): its box starts above (or within ``on_top_margin`` of) our box's top edge, ends at
    least ``on_top_margin`` of our height above our bottom edge, and overlaps at most ``on_top_width`` of
    our width.  Its base touches our top at the same depth, so the depth does not separate it, and its
    pixels inside our box would raise our top.  None when no annotation stands on ours."""
    x1, y1, x2, y2 = (float(t) for t in bbox)
    h, w = y2 - y1, x2 - x1
    out = None
    for bx1, by1, bx2, by2 in finite_boxes(others):
        if not (by1 <= y1 + cfg.separation.on_top_margin * h and y1 < by2 <= y2 - cfg.separation.on_top_margin * h):
            continue
        ox = min(x2, bx2) - max(x1, bx1)
        if ox <= 0 or ox > cfg.separation.on_top_width * w or bx2 - bx1 > w:
            continue
        m = (v >= by1) & (v <= by2) & (u >= bx1) & (u <= bx2)
        out = m if out is None else (out | m)
    return out


def separate_box_only(ok: np.ndarray, cr, depth: np.ndarray, K: np.ndarray, G: np.ndarray, floor_h, down,
                      hdown, prior, cfg: LiftConfig, field=None):
    """Box-only: the clean pixels ``ok`` of the crop ``cr`` without a wall behind the object
    (:func:`remove_background_plane`), the support surface under it (:func:`support_surface`; not when the box
    is cut at the image's bottom) and, for an object on the floor, what lies outside its floor-contact window
    (:func:`contact_window`).  Returns (ok, the support surface's down coordinate or None)."""
    H = depth.shape[0]
    bbox, support = cr.bbox, None
    if cfg.separation.remove_background_plane:
        def outside():
            return outside_band(depth, K, G, cr.bounds, cfg, field)

        ok = remove_background_plane(ok, cr.dz, cr.ax, cr.bx, cr.by, G, cr.d, down, cfg,
                                     outside if cfg.separation.outside_min_share > 0 else None)
    if cfg.separation.support_surface and down is not None and float(bbox[3]) < H - 0.5 - cfg.crop.border_px:
        ok, support = support_surface(ok, hdown, cr.d, cfg)
    if cfg.separation.contact_window > 0 and floor_h is not None and down is not None:
        ok = contact_window(ok, bbox, cr.dz, cr.ax, cr.bx, cr.by, K, G, floor_h, prior, H, cfg)
    return ok, support
