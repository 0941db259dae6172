"""Per annotation, the oriented box from its observation (:func:`fit_box`): yaw, vertical extent and floor
contact, amodal completion, cover growth, plausibility checks, flags and quality."""

from __future__ import annotations

import numpy as np

from lift3d.lift.amodal import (COMPLETED_SHARE, complete_far_side, complete_height, complete_hidden_sides,
                                prior_extents, square_footprint, view_axes)
from lift3d.lift.boxgeom import oriented_box
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import object_height, reached_top
from lift3d.lift.cover import grow_to_cover
from lift3d.lift.quality import box_flags, quality_score
from lift3d.lift.result import LiftReject, Observation
from lift3d.lift.visibility import see_through_area
from lift3d.lift.yaw import observation_yaw, seen_extents


def fit_box(ob: Observation, floor_h, down, G: np.ndarray, cfg: LiftConfig, scale: float = 1.0,
            K: np.ndarray | None = None, depth: np.ndarray | None = None) -> dict:
    """Oriented box from the points of one annotation (divided by the image's depth scale ``scale``); the
    completion steps that look at the image need ``K`` and ``depth``."""
    flags, prior = list(ob.flags), ob.prior
    q = ob.q / scale if scale != 1.0 else ob.q
    n_pts = int(len(q))
    theta, yaw_conf = observation_yaw(ob, cfg)
    c, s = np.cos(theta), np.sin(theta)
    u, v, e4 = seen_extents(q, c, s, cfg.extent.pct_lo, cfg.extent.pct_hi)
    ext = np.array([e4[1] - e4[0], e4[3] - e4[2]])
    hl, hh_, on_floor = object_height(ob, floor_h, cfg, scale)
    hl = reached_top(ob, hl, q, u, v, ext, scale, cfg)  # thin top parts left no point in the box's top rows
    hl, hh_, on_floor = complete_height(ob, hl, hh_, on_floor, floor_h, scale, cfg)

    vis, across, far = view_axes(c, s, e4)
    completed, add = False, np.zeros(2)
    image = depth is not None and K is not None
    if cfg.amodal.enabled:
        pe = prior_extents(prior, ext, vis, hh_ - hl, flags, cfg)
        e4, add, completed = complete_far_side(e4, ext, vis, far, pe, q[:, 1], u, v, hl, hh_, depth, K, G, c, s,
                                               scale, cfg)
        if cfg.amodal.side_complete > 0 and prior is not None and image:
            completed = complete_hidden_sides(e4, pe, across, ob, depth, G, c, s, scale, cfg) or completed
    if completed and float(np.max(add / np.maximum(ext + add, 1e-6))) > COMPLETED_SHARE:
        flags.append("amodal_completed")
    if cfg.cover.enabled and image:
        e4 = grow_to_cover(e4, ext, prior, K, G, c, s, hl, hh_, ob.bbox, ob.cut_lr, far, cfg)
    if cfg.amodal.square_blend > 0 and cfg.amodal.enabled:
        e4 = square_footprint(e4, ext, add, across, far, prior, cfg)

    centre_cam, dims, R, yaw, ext = oriented_box(e4, c, s, hl, hh_, G, cfg.plausible.min_dim)
    check_plausible(centre_cam, dims, prior, cfg)
    if image and cfg.plausible.max_see_through > 0:
        check_visible(centre_cam, dims, R, ob.bbox, depth, K, scale, cfg)
    flags += box_flags(n_pts, ext, yaw_conf, down, on_floor, scale, cfg.plausible.few_points)
    return box_record(ob, centre_cam, dims, R, yaw, quality_score(n_pts, ob.cover, flags, yaw_conf, ob.box_only),
                      flags, n_pts, yaw_conf, on_floor)


def check_plausible(centre_cam: np.ndarray, dims: np.ndarray, prior, cfg: LiftConfig) -> None:
    """Raise :class:`LiftReject` for a non-finite box (``lift_error``), one outside ``min_dim``..``max_dim``, beyond
    ``max_prior_ratio`` x the category prior's largest side or centred behind the camera (``implausible_size``)."""
    if not np.all(np.isfinite(dims)) or not np.all(np.isfinite(centre_cam)):
        raise LiftReject("lift_error", "non-finite box")
    if dims.max() > cfg.plausible.max_dim or dims.max() < cfg.plausible.min_dim:
        raise LiftReject("implausible_size", f"dimensions {np.round(dims, 3).tolist()}")
    if prior is not None and dims.max() > cfg.plausible.max_prior_ratio * max(prior.w, prior.h, prior.l):
        raise LiftReject("implausible_size",
                         f"dimensions {np.round(dims, 2).tolist()} vs prior {[prior.w, prior.h, prior.l]}")
    if centre_cam[2] <= 0:
        raise LiftReject("implausible_size", "box centre behind the camera")


def check_visible(centre_cam, dims, R, bbox, depth: np.ndarray, K: np.ndarray, scale: float, cfg: LiftConfig) -> None:
    """Raise :class:`LiftReject` (``see_through``) when the box projects outside its 2D box over pixels whose depth
    lies behind it, on more than ``plausible.max_see_through`` x the 2D box's area (:mod:`lift3d.lift.visibility`)."""
    pc = cfg.plausible
    limit = pc.max_see_through
    a = see_through_area(centre_cam, dims, R, bbox, depth, K, pc.see_through_band_px + cfg.crop.rim_px,
                         pc.see_through_margin, pc.see_through_margin, limit, depth_scale=scale)
    if a > limit:
        raise LiftReject("see_through", f"the box would show over {a:.1f}x its 2D box's area where the image sees "
                                        f"the scene behind it")


def box_record(ob: Observation, centre_cam, dims, R, yaw: float, quality: float, flags, n_pts: int,
               yaw_conf: float, on_floor: bool) -> dict:
    """The lifted object as the record's dict (camera frame, metres)."""
    ann = ob.ann
    aid = ann.get("annotation_id")
    return {
        "annotation_id": int(aid) if aid is not None else None,
        "category": str(ann.get("category", "")),
        "bbox2d": [float(t) for t in ob.bbox],
        "center_cam": [float(t) for t in centre_cam],
        "dimensions": [float(t) for t in dims],
        "R_cam": [float(t) for t in R.reshape(9)],
        "yaw": yaw,
        "quality": quality,
        "flags": flags,
        "num_points": n_pts,
        "mask_source": "depth" if ob.box_only else "dataset",  # schema: box-only separation by depth
        "yaw_confidence": float(yaw_conf),
        "on_floor": bool(on_floor),
    }
