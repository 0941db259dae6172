"""Floor contact: where the ray through the 2D box's bottom edge meets the floor, whether the object stands there,
how far down it reaches at least, and its vertical extent after snapping to the floor (:func:`object_height`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lift3d.geometry.camera import project
from lift3d.lift.amodal import top_face_seen
from lift3d.lift.config import LiftConfig
from lift3d.lift.crop import crop_dot, ray_parts, read_crop
from lift3d.lift.priors import resolve_mode
from lift3d.lift.quantiles import median, percentile
from lift3d.lift.result import Observation
from lift3d.lift.yaw import observation_yaw, seen_extents


ROBUST_PCT = (2.0, 98.0)  # percentiles of the points' robust ground range
LOCAL_FLOOR_MAX_PX = 4000.0  # the band below a box is read with a stride giving at most this many pixels
MAX_BELOW_FLOOR = 0.10  # m; a bottom up to this far below the floor level is put on it (depth noise)
TOP_LOST_ROWS = 1.0  # rows; the box's top rows without a point from which the top reach applies (top_reach)
# px; the points sit at pixel centres, so their reprojected rows are whole numbers up to the round-off of the trip
# through the gravity frame, which differs by CPU (the BLAS kernels' last bits): a row tests as above a line only
# when it is above it by more than this (a point on the line, as in exact arithmetic, is not)
ROW_EPS = 1e-6


def _pixel_ray(K: np.ndarray, G: np.ndarray, u: float, v: float) -> np.ndarray:
    """Gravity-frame direction (z = 1 in the camera frame) of the ray through the pixel (u, v)."""
    return np.linalg.solve(K, np.array([u, v, 1.0])) @ G


def bottom_ray(bbox, K: np.ndarray, G: np.ndarray, H: int) -> np.ndarray:
    """Gravity-frame direction (z = 1 in the camera frame) of the ray through the middle of the 2D box's
    bottom edge (the image's bottom pixel row where the box reaches below it)."""
    x1, _, x2, y2 = (float(t) for t in bbox)
    return _pixel_ray(K, G, 0.5 * (x1 + x2), min(y2, H - 0.5) - 0.5)


def top_ray(bbox, K: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Gravity-frame direction (z = 1 in the camera frame) of the ray through the middle of the 2D box's top edge
    (the image's top pixel row where the box reaches above it)."""
    x1, y1, x2, _ = (float(t) for t in bbox)
    return _pixel_ray(K, G, 0.5 * (x1 + x2), max(y1, 0.5) - 0.5)


def _ray_levels(rg: np.ndarray, near: float, far: float):
    """(down coordinate at ground range ``near``, at ``far``) along the gravity-frame ray ``rg``, on which the down
    coordinate is proportional to the ground range; None for a ray along the down axis."""
    hz = float(np.hypot(rg[0], rg[2]))
    if hz <= 1e-6:
        return None
    k = float(rg[1]) / hz
    return near * k, far * k


def bottom_floor_range(bbox, K: np.ndarray, G: np.ndarray, floor_h: float, H: int, cfg: LiftConfig):
    """Ground range (horizontal distance from the camera) at which the ray through the middle of the 2D
    box's bottom edge meets the floor plane; ``inf`` when that ray does not descend (it never meets the
    floor), None when the bottom edge is cut by the image border (it is then not the object's bottom)."""
    if float(bbox[3]) >= H - 0.5 - cfg.crop.border_px:
        return None
    rg = bottom_ray(bbox, K, G, H)
    if rg[1] <= 1e-6:
        return float("inf")
    return float(floor_h / rg[1] * np.hypot(rg[0], rg[2]))


def points_ground_range(q: np.ndarray) -> tuple[float, float]:
    """(near, far): the 2 / 98 % ground ranges (horizontal distance from the camera) of gravity-frame points."""
    near, far = percentile(np.hypot(q[:, 0], q[:, 2]), ROBUST_PCT)
    return float(near), float(far)


def bottom_reach(bbox, K: np.ndarray, G: np.ndarray, ground_range: tuple[float, float], H: int):
    """How far down (gravity-frame ``down`` coordinate) the object reaches at least.


    A tight 2D box's bottom edge (the image's, where the box is cut) touches the object at a ground range
    within that of its points ``ground_range`` = (near, far); along the ray through the middle of that edge the down
    coordinate is proportional to the ground range, so the object's bottom is at least as low as that ray
    at the end of the range where it is higher.  Recovers thin parts that did not survive the cleaning (a
    floor lamp's pole, legs).  None where undefined (a ray along the down axis).  (Its mirror for the top edge,
    applied to every object, lost 0.026 mean IoU on the tuning seeds: :func:`top_reach` applies only where the
    box's top row holds no point, and the fit not where a top face is seen from above.)"""
    levels = _ray_levels(bottom_ray(bbox, K, G, H), *ground_range)
    return None if levels is None else min(levels)


def top_reach(bbox, K: np.ndarray, G: np.ndarray, q: np.ndarray):
    """How far up (gravity-frame ``down`` coordinate) the object reaches at least, where the top row of its 2D box
    (pixel centre ``bbox[1]``) holds none of its points ``q`` (a head's top on soft-edged depth, a handlebar, a
    lamp's finial: parts too thin to survive the cleaning), else None.  The mirror of :func:`bottom_reach`: the top
    edge touches the object somewhere between its points' nearest and farthest ground range, so the top is at least
    as high as the ray through the middle of that edge at the end where the ray is lower (the near end when it
    rises, the far end when it falls: a bound, never a guess).  The fit does not use it where a top face is seen
    from above (its far edge is the box's top row whatever the lost rows)."""
    rows = project(q @ G.T, K)[:, 1]
    if float(rows.min()) < float(bbox[1]) + TOP_LOST_ROWS - ROW_EPS:
        return None
    rng = np.hypot(q[:, 0], q[:, 2])
    levels = _ray_levels(top_ray(bbox, K, G), float(rng.min()), float(rng.max()))
    return None if levels is None else max(levels)


def floor_contact(bbox, K: np.ndarray, G: np.ndarray, floor_h, ground_range: tuple[float, float], H: int,
                   cfg: LiftConfig):
    """Does the object reach the floor?  A tight 2D box's bottom edge is the object's lowest visible
    point; the ray through it meets the floor plane *within the object's footprint* when the object
    stands there (even when its legs, pole or base are too thin to survive the cleaning), and far
    behind it when the object rests on a support (a table lamp on a table) or hangs.


    True: the floor point lies within the ground range of the object's points (``ground_range`` = (near,
    far), + a margin); False: it
    lies beyond them (or the ray never meets the floor) and the object is not occluded, so its bottom
    edge is its own; None: unknown (no floor, bottom cut by the image border, occluded, or the floor
    point is in front of the object).  Scale-free: the points and the floor level share the depth scale.
    """
    if floor_h is None:
        return None
    r_c = bottom_floor_range(bbox, K, G, floor_h, H, cfg)
    if r_c is None:
        return None
    lo, hi = ground_range
    tol = cfg.contact.contact_tol + cfg.contact.contact_tol_rel * hi
    if lo - tol <= r_c <= hi + tol:
        return True
    return False if r_c > hi + tol else None


def local_floor(depth: np.ndarray, K: np.ndarray, G: np.ndarray, bbox, floor_h, cfg: LiftConfig, field=None):
    """The floor level (down coordinate) just below the 2D box: the median over the floor pixels of a band under its
    bottom edge (as wide as the box, ``local_floor_band`` of its height, at least ``local_floor_min_px`` rows) whose
    level is within ``local_floor_tol`` of the image's ``floor_h``, when they are at least ``local_floor_min_share`` of
    the band (under an object on a support the band shows the support).  Under a monocular depth map's range and field
    errors the floor is not one plane: the floor next to the object shares the object's local error, so its height
    measured down to it does not carry the difference between the near floor and the object's depth.  None without a
    floor, when the box's bottom is cut by the image border, or with too few floor pixels."""
    if floor_h is None or cfg.contact.local_floor_band <= 0:
        return None
    H, W = depth.shape
    x1, y1, x2, y2 = (float(t) for t in bbox)
    if y2 >= H - 0.5 - cfg.crop.border_px:
        return None
    r0 = int(np.floor(y2 + 0.5))
    r1 = min(H, r0 + max(cfg.contact.local_floor_min_px, int(np.ceil(cfg.contact.local_floor_band * (y2 - y1)))))
    c0, c1 = max(0, int(np.floor(x1 + 0.5))), min(W, int(np.ceil(x2 - 0.5)))
    if r1 - r0 < 1 or c1 - c0 < 1:
        return None
    st = max(1, int(np.ceil(np.sqrt((r1 - r0) * (c1 - c0) / LOCAL_FLOOR_MAX_PX))))
    d, rows, cols = read_crop(depth, r0, r1, c0, c1, st, field)
    valid = np.isfinite(d) & (d > 0)
    ax, bx, by = ray_parts(K, rows, cols)
    h = crop_dot(np.where(valid, d, 0.0), ax, bx, by, G[:, 1])
    on = valid & (np.abs(h / floor_h - 1.0) < cfg.contact.local_floor_tol)
    n_on = int(on.sum())
    if n_on < cfg.contact.local_floor_min_points or n_on < cfg.contact.local_floor_min_share * int(valid.sum()):
        return None
    return float(median(h[on]))


def object_height(ob: Observation, floor_h, cfg: LiftConfig, scale: float = 1.0):
    """(top, bottom, on_floor) along down after floor contact; the points are divided by ``scale``.  The floor is
    the one measured under the object (``ob.floor``) where there is one, else the image's ``floor_h``."""
    floor_h = floor_h if ob.floor is None else ob.floor
    hl, hh_ = percentile(ob.q[:, 1], [cfg.extent.pct_lo, cfg.extent.pct_hi]) / scale
    if ob.top is not None:
        hl = max(hl, ob.top / scale)
    if ob.reach is not None:
        hh_ = max(hh_, ob.reach / scale)
    on_floor = False
    if floor_h is not None:
        fh = floor_h / scale
        height = hh_ - hl
        gap = fh - hh_
        snap = -MAX_BELOW_FLOOR <= gap <= cfg.contact.floor_snap + cfg.contact.floor_snap_rel * max(height, 0.0)
        p = ob.prior
        if not snap and ob.contact is True and gap > 0:
            snap = True  # the 2D box reaches the floor at the object's footprint: thin legs/pole/base
        if not snap and p is not None and gap > 0 and cfg.contact.prior_floor_snap > 0:
            # legs/bases too thin to survive the cleaning (chairs, tables, lamps): the object reaches
            # the floor when the snapped height fits the category prior much better than the seen one
            # (also when cut by an image border: a cut bottom continues below the frame; the prior check
            # still decides)
            r_snap = np.log(max(fh - hl, 1e-3) / p.h)
            r_seen = np.log(max(height, 1e-3) / p.h)
            snap = abs(r_snap) <= np.log(1.0 + cfg.contact.prior_floor_snap) and abs(r_snap) < abs(r_seen)
        if snap:
            hh_ = max(hh_, fh) if gap > 0 else fh
            on_floor = True
    return float(hl), float(hh_), on_floor


def contact_and_reach(bbox, K: np.ndarray, G: np.ndarray, q: np.ndarray, floor_h, support, occluded: bool, H: int,
                      cfg: LiftConfig):
    """(contact, reach) of one object: :func:`floor_contact` (None instead of False when occluded: the box's
    bottom edge may be an occluder's top edge) and :func:`bottom_reach`, at least down to the ``support``
    surface it was found standing on, never below the floor."""
    contact = reach = None
    ground_range = points_ground_range(q)
    top = top_reach(bbox, K, G, q) if cfg.contact.top_reach else None
    if cfg.contact.floor_contact:
        contact = floor_contact(bbox, K, G, floor_h, ground_range, H, cfg)
        if contact is False and occluded:
            contact = None  # the box's bottom edge may be an occluder's top edge
    if cfg.contact.box_reach:
        reach = bottom_reach(bbox, K, G, ground_range, H)
        if support is not None:  # it stands on the support surface found under it
            reach = support if reach is None else max(reach, support)
        if reach is not None and floor_h is not None:
            reach = min(reach, floor_h)  # never below the floor
    return contact, reach, top


def reached_top(ob: Observation, hl: float, q: np.ndarray, u: np.ndarray, v: np.ndarray, ext: np.ndarray,
                scale: float, cfg: LiftConfig) -> float:
    """The top (down coordinate) ``hl`` raised to the object's top reach (:func:`top_reach`: thin top parts that
    left no point in the 2D box's top rows, a head on soft-edged depth, a handlebar, a lamp's finial), unless a top
    face is seen from above (:func:`lift3d.lift.amodal.top_face_seen`: its far edge is the box's top row whatever
    the lost rows).  ``q`` the points at ``scale``, ``u``/``v``/``ext`` their coordinates and seen extents along the
    box axes."""
    if ob.top_reach is not None and ob.top_reach / scale < hl and not top_face_seen(q[:, 1], u, v, ext, hl, cfg):
        return ob.top_reach / scale
    return hl


def seen_top(ob: Observation, hl: float, cfg: LiftConfig) -> float:
    """:func:`reached_top` at the depth's own scale, for the scale cues (:func:`lift3d.lift.scale.height_cues`): the
    height the fit will give the object, not the height of its surviving points.  The box axes are fitted here only
    where the reach would raise the top."""
    if ob.top_reach is None or not ob.top_reach < hl:
        return hl
    theta, _ = observation_yaw(ob, cfg)
    u, v, e4 = seen_extents(ob.q, np.cos(theta), np.sin(theta), cfg.extent.pct_lo, cfg.extent.pct_hi)
    return reached_top(ob, hl, ob.q, u, v, np.array([e4[1] - e4[0], e4[3] - e4[2]]), 1.0, cfg)


def floor_mode(prior, q: np.ndarray, reach, floor_h, trunc_v: bool, contact, cfg: LiftConfig):
    """A bimodal category (floor / table lamp): the mode that fits the seen height, the distance to the floor
    and the floor contact (:func:`lift3d.lift.priors.resolve_mode`); other priors unchanged."""
    if prior is None or not prior.modes:
        return prior
    lo_, hi_ = percentile(q[:, 1], [cfg.extent.pct_lo, cfg.extent.pct_hi])
    if reach is not None:
        hi_ = max(hi_, reach)
    to_floor = None if (floor_h is None or trunc_v or contact is False) else float(floor_h - lo_)
    return resolve_mode(prior, float(hi_ - lo_), to_floor, on_floor=contact is True)


def mode_at_scale(ob: Observation, floor_h, scale: float, cfg: LiftConfig) -> Observation:
    """The observation with its bimodal category's mode (:func:`floor_mode`, made at the depth's own scale) picked
    again with its heights divided by the image's estimated ``scale``: model depth off by x1.5 reads a 0.6 m table
    lamp as 0.9 m, nearer in log to a floor lamp's 1.6 m than to its own 0.5 m."""
    if ob.category_prior is None or scale == 1.0:
        return ob
    prior = floor_mode(ob.category_prior, ob.q / scale, None if ob.reach is None else ob.reach / scale,
                       None if floor_h is None else floor_h / scale, ob.trunc_v, ob.contact, cfg)
    return ob if prior is ob.prior else replace(ob, prior=prior)
