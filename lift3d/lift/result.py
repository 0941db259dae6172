"""What the lifter returns: ``LiftResult`` per image, the reject vocabulary ``REJECT_REASONS``, ``LiftReject``
(raised by a step to turn an annotation into a reject) and ``Observation`` (what the pixels of one annotation say,
between :mod:`observe` and :mod:`fit`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lift3d.lift.depth_field import DepthField
from lift3d.lift.metric_scale import ScaleEstimate


REJECT_REASONS = (
    "crowd",  # iscrowd = 1
    "degenerate_box",  # 2D box missing, non-finite, empty or outside the image
    "empty_mask",  # the mask has no pixel inside the image
    "no_valid_depth",  # no valid depth inside the mask/box
    "too_few_points",  # fewer than min_points after cleaning
    "implausible_size",  # lifted box too small/large, or far beyond the category prior
    "see_through",  # the box would show around its 2D box where the image sees the scene behind it
    "bad_intrinsics",  # K missing or invalid (every annotation of the image)
    "bad_depth",  # depth map missing or of the wrong shape (every annotation of the image)
    "lift_error",  # unexpected numerical failure (detail says what)
)


@dataclass
class LiftResult:
    objects: list = field(default_factory=list)
    rejects: list = field(default_factory=list)  # (annotation_id, reason, detail)
    gravity: list | None = None
    gravity_source: str = "camera"
    gravity_confidence: float = 0.0
    floor_height: float | None = None
    depth_scale_factor: float = 1.0  # the depth was divided by this (1.0: no correction applied)
    depth_scale_log_sigma: float = 0.0  # sd of log(true / used depth scale) after the correction (0: sensor depth)
    # the same for lengths across the line of sight (sizes, lateral positions), which the scale cues read directly:
    # no focal-length error beyond what the depth's prior carries (ScaleEstimate.lateral_log_sigma)
    lateral_scale_log_sigma: float = 0.0
    edge_ramp_px: float | None = None  # width of the depth map's edge ramps when measured (crop.soft_edges)
    depth_field: DepthField | None = None  # the distortion divided out of the crops (None: not applied)
    K: list | None = None  # row-major 3x3 intrinsics used when the lifter refined the given ones (focal length)
    focal_log_sigma: float | None = None  # sd of the log of that refined focal length (None: not refined)
    scale_estimate: ScaleEstimate | None = None  # model depth: the image's scale and the cues it came from


class LiftReject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Observation:
    """What the pixels of one annotation say (scale-dependent quantities are in metres at scale 1)."""

    ann: dict
    bbox: list
    box_only: bool
    q: np.ndarray  # (N, 3) gravity-frame points
    z_sel: np.ndarray
    flags: list
    cover: float
    prior: object
    trunc_v: bool = False  # truncated at the top or bottom image border (the height is not fully seen)
    cut_lr: tuple = (False, False)  # the 2D box's left / right edge is the image border
    contact: bool | None = None  # the 2D box's bottom meets the floor within the footprint (see floor_contact)
    reach: float | None = None  # the object reaches at least this far down, not below the floor (bottom_reach)
    top: float | None = None  # box-only: the top (down coordinate) without the pixels of objects standing on it
    floor: float | None = None  # the floor level just below the object (contact.local_floor), None: the image's
    top_reach: float | None = None  # the object reaches at least this far up (contact.top_reach), None: unknown
    yaw: tuple | None = None  # (theta, confidence) of its points, fitted once when first needed (yaw.observation_yaw)
    category_prior: object = None  # the category's own prior where ``prior`` is one of its sub-types (a lamp's modes)
