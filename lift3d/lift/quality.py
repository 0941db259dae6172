"""The lifted box's flags and quality score in [0, 1].

The quality multiplies a points term (``sqrt(min(1, n / FULL_POINTS))``), the depth coverage of the region
(half weight), and a penalty per doubt: truncated, occluded, an uncertain yaw, a large amodal completion, a
box-only lift.  Flags: ``few_points``, ``yaw_unreliable`` (low yaw confidence, an about square footprint or no
up direction), ``on_floor``, ``depth_rescaled``."""

from __future__ import annotations

import numpy as np

FULL_POINTS = 400.0  # this many points give the full points term
POINTS_POWER = 0.5  # the points term is (n / FULL_POINTS) ** POINTS_POWER, at most 1
COVER_WEIGHT = 0.5  # weight of the region's depth coverage (share of its pixels with valid depth)
TRUNCATED = 0.75  # factor for a box cut by the image border
OCCLUDED = 0.8  # factor for an occluded object
YAW_BASE, YAW_WEIGHT = 0.7, 0.3  # factor YAW_BASE + YAW_WEIGHT x yaw confidence
AMODAL = 0.85  # factor for a box completed beyond its seen extent
BOX_ONLY = 0.85  # factor for a lift from the 2D box alone (no mask)
MIN_YAW_CONFIDENCE = 0.25  # below it the yaw is flagged unreliable
SQUARE_RATIO = 0.85  # a footprint with short / long side above this has no defined yaw (flagged unreliable)


def box_flags(n_pts: int, ext: np.ndarray, yaw_conf: float, down, on_floor: bool, scale: float,
              few_points: int) -> list[str]:
    """The flags a fitted box adds: ``few_points`` (fewer than ``few_points``), ``yaw_unreliable``, ``on_floor``,
    ``depth_rescaled`` (the image's depth was divided by ``scale`` != 1)."""
    flags = []
    if n_pts < few_points:
        flags.append("few_points")
    square = min(ext) / max(max(ext), 1e-6) > SQUARE_RATIO
    if yaw_conf < MIN_YAW_CONFIDENCE or square or down is None:
        flags.append("yaw_unreliable")
    if on_floor:
        flags.append("on_floor")
    if scale != 1.0:
        flags.append("depth_rescaled")
    return flags


def quality_score(n_pts: int, cover: float, flags, yaw_conf: float, box_only: bool) -> float:
    """Quality in [0, 1]: points, depth coverage of the region, truncation, occlusion, yaw, completion, box-only."""
    qual = min(1.0, n_pts / FULL_POINTS) ** POINTS_POWER * ((1.0 - COVER_WEIGHT) + COVER_WEIGHT * cover)
    qual *= TRUNCATED if "truncated" in flags else 1.0
    qual *= OCCLUDED if "occluded" in flags else 1.0
    qual *= YAW_BASE + YAW_WEIGHT * yaw_conf
    qual *= AMODAL if "amodal_completed" in flags else 1.0
    qual *= BOX_ONLY if box_only else 1.0
    return float(np.clip(qual, 0.0, 1.0))
