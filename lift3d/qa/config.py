"""Configuration of the spatial QA generator (all thresholds that decide what may be asked)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# Flags of the lifting stage that widen an object's uncertainty (multipliers of its sigmas).
DEFAULT_FLAG_SIGMA = {
    "occluded": 1.3,
    "few_points": 1.5,
    "amodal_completed": 1.3,
    "box_only": 2.0,
    "truncated": 1.5,
    "truncated_top": 1.3,
    "truncated_bottom": 1.3,
    "yaw_unreliable": 1.0,
    # model depth: a mask (box-only: a 2D box) about as thin as the depth map's edge ramps (soft_edges.blended): its
    # depth is mostly its surroundings', off by 30-180 % on soft-edged scenes; x10 puts its position sigma at about 0.4
    # of its distance (pos_sigma_rel 0.04), so hardly a comparison or a number rests on it
    "blended": 10.0,
}

# Logistic model of "this object's box is within the box-scoring tolerance" (3D IoU >= 0.25 with the true
# box): logit = bias + quality * q + log_distance * ln(d_cam) + log_min_dim * ln(min dim)
# + log_max_dim * ln(max dim) + sum of the coefficients of the object's flags.  Fitted on the lifted
# synthetic tuning scenes 0-99 (seed 0; benchmarks/bench_qa.py --calibrate); box_only has no tuning data and
# gets a conservative penalty.
DEFAULT_BOX_OK_COEF = {
    "bias": 2.88, "quality": 1.54, "log_distance": -0.86, "log_min_dim": 1.68, "log_max_dim": -0.16,
    "occluded": -0.59, "yaw_unreliable": -0.13, "on_floor": 1.13, "truncated": 0.12, "box_only": -1.0,
    "few_points": -0.5,
    # not in the tuning scenes (masks): IoU >= 0.25 for 41 % of the flagged box-only objects against 72 % of the
    # others (sensor-like depth, scratch seeds 7200-7500, 86 of 1,530), a logit difference of -1.32
    "shared_surface": -1.32,
    # model depth: a mask about as thin as the depth map's edge ramps (QAConfig.flag_sigma's "blended"): its distance
    # is off by 30-180 % on soft-edged scenes, so its box is not within the tolerance; no box answer rests on it
    "blended": -6.0,
}


@dataclass
class QAConfig:
    """What the generator may ask and how sure it must be.

    Uncertainty model (see schemas/question_types.md, "Truthfulness guards"): an object's position
    sigma is ``(pos_sigma_base + pos_sigma_rel * distance_to_camera) * q * f`` and a size sigma is
    ``(size_sigma_base + size_sigma_rel * size + size_sigma_dist * distance) * q * f`` where ``q = 1 + quality_gain * (1 - quality)``
    and ``f`` is the product of ``flag_sigma`` over the object's flags.  A comparison is asked only when
    the difference exceeds ``margin_k * sqrt(sigma_a^2 + sigma_b^2)`` and the absolute floor for its kind.
    """

    max_per_image: int = 20
    max_per_type_per_image: int = 2
    # question_type id -> weight; None = the default mix (families weighted, types even within a family)
    mix: dict | None = None
    # box serialisation in questions/answers/reasoning: "n3d" | "cam" | "qwen"
    box_format: str = "n3d"
    # objects below this quality are never asked about (they still count for ambiguity and counting)
    min_quality: float = 0.3
    margin_k: float = 2.0
    pos_sigma_base: float = 0.05
    pos_sigma_rel: float = 0.04
    size_sigma_base: float = 0.03
    size_sigma_rel: float = 0.15
    size_sigma_dist: float = 0.01  # metres of size sigma per metre of distance (depth noise on thin extents)
    quality_gain: float = 1.0
    flag_sigma: dict = field(default_factory=lambda: dict(DEFAULT_FLAG_SIGMA))
    min_pos_margin: float = 0.10  # metres, floor for position / distance comparisons
    min_size_margin: float = 0.03  # metres, floor for width / height / length comparisons
    min_log_volume_margin: float = 0.15  # floor for bigger/smaller: |ln(vA / vB)|
    descriptor_margin_k: float = 2.0  # referring descriptors ("the leftmost chair") need this many sigmas
    clock_min_margin_deg: float = 5.0  # distance of the bearing from a clock-sector boundary
    clock_min_distance: float = 0.3  # metres between the two objects in the ground plane
    numeric_min_snr: float = 4.0  # a numeric distance must exceed this many sigmas of its own uncertainty
    size_min_snr: float = 3.0  # the same for width / height / length (with the distance term of size sigma)
    cm_below: float = 1.0  # numeric lengths below this (metres) are written in cm
    assume_level_without_gravity: bool = True  # gravity None: use the camera frame; False: skip such types
    # box answers (detection / grounding): only objects whose modelled probability of a box within the
    # scoring tolerance is >= box_min_p; detection and locate-all only when every listed object qualifies
    # width / height / length / volume questions (metric, comparisons, ordering) need box_p >= this
    size_min_box_p: float = 0.9
    box_min_p: float = 0.92  # ground_single / ground_referring
    box_min_p_all: float = 0.95  # every box of det_all / ground_multi (all must be right at once)
    box_ok_coef: dict = field(default_factory=lambda: dict(DEFAULT_BOX_OK_COEF))
    # Model depth: the image's metric scale is known only to depth_scale_log_sigma (sigma_k, a column of the
    # objects rows). Orderings do not depend on it; numeric and box answers do (scored true within
    # +/- numeric_tolerance, and at 3D IoU >= box_min_iou).
    numeric_tolerance: float = 0.25
    # Model depth (depth_scale_log_sigma > 0): a numeric answer's log error is modelled as N(0, sd^2) with
    # sd^2 = sigma^2 (the image's scale for that length, lift3d.qa.scene.Scene.scale_var: sigma_k, the lifter's
    # depth-scale sd, which holds the focal length's error (its scale.shared_std, the refined focal's sd where the
    # vanishing points gave one; counted once), for a length along the line of sight; the lateral scale's sd
    # (lateral_scale_log_sigma: the cues read lengths across it, so no focal error beyond the prior's) across it; in
    # proportion to the squared share along the optical axis between) + (range_log_sigma * ln(z / z_anchor))^2
    # (the depth-range distortion, which bends depths away from z_anchor, the geometric mean depth of the image's
    # objects: the scale cues are the objects, so the scale is right about there) + the object's own terms (position
    # sigma relative to the value, or size_log_sigma; for a horizontal extent the soft edge: edge_gain * edge_ramp_px
    # * z / (f * extent)). Asked only when P(answer within +/- numeric_tolerance of the truth) >= numeric_min_p
    # (lift3d.qa.scene.numeric_p).
    numeric_min_p: float = 0.95
    # Model depth, box answers: P(IoU >= box_min_iou) = lift3d.qa.scene.box_true_p (the lifter's own IoU, log-normal
    # with this spread about the box_p model, times the closed-form IoU of the box with its scaled self under the
    # scale's log sd at the object), asked at >= box_min_p_model. Fitted on scratch seeds 5000 (checked on 6000),
    # monocular indoor and outdoor: spread 0.6 gives predicted 0.85 / observed 0.92 (5000) and 1.00 (6000) in the
    # bin 0.8-0.9; asked at >= 0.8: 29 objects 93 % true (5000), 22 objects 100 % (6000). (Fitted while the guards
    # counted the focal length's error twice; counted once, held-out seed 1000: 66 of 69 box answers true.)
    box_min_iou: float = 0.25
    box_iou_log_spread: float = 0.6
    box_min_p_model: float = 0.8
    range_log_sigma: float = 0.08  # rms of (range exponent - 1): model depth compresses / stretches its range
    # the lifter's own log error of an extent on exact-scale depth, times the object's sigma multiplier (quality,
    # flags): rms 0.03-0.08 for heights and lengths on the sensor-like scratch scenes (seed 5000), 0.14 for outdoor
    # widths; size_sig is a comparison margin and far wider (0.15 of the value and more)
    size_log_sigma: float = 0.08
    edge_ramp_px: float = 8.0  # width of model depth's edge ramps when the image does not say (edge_ramp_px)
    edge_gain: float = 1.0  # log error of a horizontal extent per (ramp width / the extent's width in pixels)
    max_det_boxes: int = 20  # detection / locate-all questions only for up to this many boxes
    min_count_ask: int = 1
    attempts_per_question: int = 6  # random draws per question before the type is given up for the image
    include_types: tuple | None = None  # restrict to these type ids (None = all)

    @classmethod
    def from_dict(cls, d: dict | None) -> "QAConfig":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown QAConfig keys: {sorted(unknown)}")
        return cls(**d)

    def validate(self) -> None:
        if self.box_format not in ("n3d", "cam", "qwen"):
            raise ValueError(f"box_format must be n3d, cam or qwen, got {self.box_format!r}")
        if self.max_per_image < 0 or self.max_per_type_per_image < 1:
            raise ValueError("max_per_image must be >= 0 and max_per_type_per_image >= 1")
