"""``LiftConfig``: every threshold of the lifter, in one small dataclass per step, each with its meaning and unit.

Two equivalent ways to set options (both accepted by ``LiftConfig(**options)`` and :meth:`LiftConfig.from_dict`,
e.g. the build's ``BuildConfig.lift`` dict):

* by section: ``LiftConfig(scale={"from_priors": True}, amodal={"top_keep": 1.0})`` (a dict of the section's
  fields, or the section dataclass itself);
* by flat key, the names of the single flat config this replaced: ``LiftConfig(scale_from_priors=True,
  top_keep=1.0)`` (see ``FLAT_KEYS``; most are the section's field name, a few carry the section as a prefix).

Flat keys are applied in the order given, a section dict on top of the section's current values; an unknown
section, field or key raises ``TypeError``.  Reading a flat key (``cfg.scale_from_priors``) also works; the two
flat switches named like their section (``amodal``, ``depth_field``) read as the section, whose truth value is
its ``enabled`` field.  Set options through the constructor or the sections (``cfg.scale.from_priors = True``):
assigning a flat key on the instance (``cfg.scale_from_priors = True``) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace


@dataclass
class CropConfig:
    """Reading the crop of a 2D box (:mod:`lift3d.lift.crop`)."""

    max_crop_px: int = 16000  # px; larger 2D boxes are read with a stride so the crop has at most this many pixels
    max_points: int = 2000  # points kept per object (evenly subsampled) for the fits
    mask_erode_px: int = 1  # px; the instance mask is eroded by this much against mask bleed (0 = off)
    # model depth: the width of the ramps the depth map's discontinuities are blurred into, measured on the image
    # (lift3d.lift.soft_edges; ~1 px for sensor depth), sets how the pixels near an object's outline are treated:
    soft_edges: bool = False
    # ... masks: the pixels within one ramp width of the outline take the depth of the mask's core, extrapolated
    # along its surface (lift3d.lift.soft_edges.redepth_rim); off: masks are eroded by half a ramp width instead
    rim_redepth: bool = True
    rim_px: float = 0.0  # px; the rim's width (set per image from the ramps; 0 = off)
    rim_max_tilt_deg: float = 80.0  # the extrapolation bends the depth no more than a surface this oblique would
    thin_erode_px: int = 0  # px; ... parts thinner than two rims away from the body: eroded by this (half a ramp)
    box_erode_px: int = 0  # px; box-only: the separated foreground is eroded by this much (set from the ramps; 0 = off)
    border_px: float = 2.0  # px; a 2D box edge this close to the image border is cut by it (truncated)


@dataclass
class CleanConfig:
    """Cleaning the crop's pixels and points (:mod:`lift3d.lift.clean`)."""

    min_points: int = 20  # an object needs at least this many clean points (else ``too_few_points``)
    flying_rel: float = 0.06  # relative second difference of 1/z above which a pixel is "flying"
    floor_tol: float = 0.04  # m; pixels this close to the floor plane are floor ...
    floor_tol_rel: float = 0.01  # ... + this fraction of their depth
    outlier_k: float = 8.0  # sparse-outlier margin beyond the 2-98 % range, in 16ths of that range
    # px; depth noise: points from a local linear fit of 1/z over their (2 r + 1)^2 selected neighbours (0 = off).
    # Opt-in: +0.013 IoU at the true depth scale, +0.002 with scale_from_priors, +1.5 ms/object (tuning seeds)
    smooth_px: int = 0


@dataclass
class ComponentsConfig:
    """Choosing the object's connected components (:mod:`lift3d.lift.components`)."""

    merge_depth_rel: float = 0.15  # components within this relative mean depth of the best one are merged ...
    merge_min_frac: float = 0.05  # ... when they have at least this share of its pixels
    span_power: float = 1.0  # box-only: component score x (2D extent / box size) ** span_power
    centre_sigma: float = 0.35  # box-only: centre weight's sigma, as a share of the box size
    # box-only: a component inside the 2D box of another annotation that covers only part of ours is that object
    # (:func:`~lift3d.lift.components.other_objects`): its score x other_box_weight (1 = off), never merged
    other_box_weight: float = 0.2
    other_box_area: float = 0.5  # ... the other box covers at most this share of our box's area
    other_box_contain: float = 0.8  # ... and this share of the component's 2D extent lies inside it
    # box-only: a 2D box is drawn tight around its object, so its surface ends at the box's edges; a nearer surface
    # that goes on beyond them (a footboard crossing the box) is likely another object
    # (:func:`~lift3d.lift.components.inside_share`): its score x the share of it inside the box
    surround_reach: float = 0.5  # ... seen this share of the box's width / height beyond each edge (0 = off)
    # box-only: two surfaces joined only through a bridge at most 2 * bridge_px crop pixels wide are two components
    # (:func:`~lift3d.lift.components.solid_components`; 0 = plain connectivity)
    bridge_px: int = 1


@dataclass
class SeparationConfig:
    """Box-only: separating the object from what else its 2D box shows (:mod:`lift3d.lift.separation`)."""

    remove_background_plane: bool = True  # drop a wall seen around the box border
    outside_min_share: float = 0.5  # ... only when this share of a band outside the box lies on it (0 = off)
    outside_gap_px: int = 2  # px; ... the band starts this far outside the box's top, left and right edges
    outside_band_px: int = 6  # px; ... and is this wide
    outside_points: int = 600  # ... read at a stride giving about this many points
    support_surface: bool = True  # drop a horizontal support (a table top) across the box's bottom
    support_band: float = 0.15  # ... looked for in this bottom share of the box's rows
    support_span: float = 0.6  # ... spanning at least this share of the box's width
    contact_window: float = 0.8  # footprint window behind the floor contact, x the prior's diagonal (0 = off)
    contact_min_share: float = 0.25  # ... applied only when this share of the points falls inside it
    footprint_radius: float = 0.5  # ground-plane trim radius, x the prior's diagonal (0 = off)
    footprint_grow_max: float = 1.5  # ... widened by seen height / prior height, up to this factor
    footprint_gap: float = 0.10  # m; ... or cut at the first empty gap this wide beyond the prior's half diagonal
    footprint_min_share: float = 0.6  # ... applied only when this share of the points stays
    smear_window: float = 0.0  # model depth: ground-range reach kept about the near face, x the prior's diagonal (0 = off)
    on_top_boxes: bool = True  # the top is measured without the pixels of annotations standing on ours
    on_top_margin: float = 0.1  # ... their box ends this share of our box's height above our bottom edge
    on_top_width: float = 0.5  # ... and overlaps at most this share of our box's width


@dataclass
class ExtentConfig:
    """Robust extents of the point set (every step that measures one)."""

    pct_lo: float = 0.3  # %; lower extent percentile (outliers are removed before)
    pct_hi: float = 99.7  # %; upper extent percentile


@dataclass
class ContactConfig:
    """Floor contact and vertical extent (:mod:`lift3d.lift.contact`)."""

    floor_snap: float = 0.30  # m; a bottom this close above the floor is put on it ...
    floor_snap_rel: float = 0.25  # ... + this fraction of the object's height
    prior_floor_snap: float = 0.3  # snap to the floor when that makes the height fit the prior within 30 % (0 = off)
    floor_contact: bool = True  # the 2D box's bottom edge meets the floor within the footprint: on the floor
    contact_tol: float = 0.10  # m; ... the footprint's ground range +- this ...
    contact_tol_rel: float = 0.05  # ... + this fraction of the far ground range
    box_reach: bool = True  # the object reaches down at least to its 2D box's bottom edge
    top_reach: bool = True  # ... and up to its top edge where thin top parts left no point there
    # model depth: the floor level under each object, measured on the floor seen just below its 2D box (a band this
    # share of the box's height, at least local_floor_min_px rows), which shares the object's local depth errors
    # (lift3d.lift.contact.local_floor); 0 = off: the image's floor level
    local_floor_band: float = 0.0
    local_floor_min_px: int = 6
    # floor pixels: a level within this share of the image's floor level (a range exponent of 0.85-1.05 bends a
    # floor seen over x0.3-x3 the median depth by -16 %..+20 %)
    local_floor_tol: float = 0.3
    local_floor_min_points: int = 12  # fewer floor pixels in the band: the image's floor level
    local_floor_min_share: float = 0.33  # ... or a smaller share of it (the band shows a support, a wall)


@dataclass
class YawConfig:
    """Yaw about the up axis (:mod:`lift3d.lift.yaw`)."""

    step_deg: float = 5.0  # degrees; coarse search step (refined around the best)
    points: int = 400  # points used by the search (evenly subsampled)


@dataclass
class AmodalConfig:
    """Amodal completion of the unseen parts (:mod:`lift3d.lift.amodal`)."""

    enabled: bool = True  # complete the unseen far side with the category size prior
    strength: float = 1.0  # share of the (visibility-weighted) shortfall that is added
    # scale the prior's footprint by seen / prior height (fully seen objects).  Off: within a category the footprint
    # follows the height only loosely (a headboard does not make a bed longer), and a seen height inflated by soft
    # edges stretched a footprint completed wholly from the prior (scratch seeds 5000-8000: IoU +0.002 on average
    # with it off, 29 of 32 rows the same or better)
    prior_scale_by_height: bool = False
    # an occluded or vertically cut object seen over less than this share of its category's height (and not on the
    # floor) gets the prior's height, from the unseen side (0 = off)
    height_complete: float = 0.5
    # the unseen depth lies behind the visible surface, or in front of it where an occluder hides that space
    # (:func:`~lift3d.lift.amodal.occluded_slab`): then this share of the completion goes in front (0 = always behind)
    near_complete: float = 0.5
    near_max_behind: float = 0.2  # ... at most this share of the slab's pixels show free space behind it
    near_min_front: float = 0.5  # ... at least this share show something nearer
    # a top face seen from above spans the footprint (a table, a box, a lamp's shade): the completion x top_keep
    # (1 = off) when the points within top_tol of the top cover top_cover of the seen extent along both axes
    top_keep: float = 0.25
    top_cover: float = 0.8  # share of the seen extent the top's points cover along both axes
    top_min_ext: float = 0.18  # m; ... and at least this (not a backrest's rim)
    top_tol: float = 0.04  # m; points this close to the top are the top face
    top_min_below: float = 0.1  # m; the top lies at least this far under the camera (seen from above)
    # an across-view extent short of its prior by more than (1 - side_frac) x the prior's, whose 2D box ends at an
    # occluder or the image border, continues behind it: side_complete of the shortfall is added there (0 = off)
    side_complete: float = 0.75
    side_frac: float = 0.85  # see side_complete
    side_band_px: int = 6  # px; the occluder is looked for in a band this wide ...
    side_gap_px: int = 2  # px; ... starting this far beyond the box's side edge
    side_min_share: float = 0.5  # ... at least this share of the band's valid pixels is nearer
    # a prior footprint about square (short side >= square_ratio x long side: lamps, chairs): the completed depth
    # goes square_blend of the way from the prior's to the width seen across the view (0 = off)
    square_blend: float = 0.5
    square_ratio: float = 0.9  # see square_blend

    def __bool__(self) -> bool:  # the flat key ``amodal`` was this switch: ``if cfg.amodal`` still reads it
        return bool(self.enabled)


@dataclass
class CoverConfig:
    """Cover growth towards the 2D box's side edges (:mod:`lift3d.lift.cover`)."""

    enabled: bool = True  # grow the box until its projection reaches the 2D box's side edges
    tol_px: float = 1.0  # px; a side within this of the edge is reached
    near_cost: float = 1.5  # a near face must get there with this many times smaller a move than a far face


@dataclass
class PlausibleConfig:
    """Plausibility checks and flags of the fitted box (:mod:`lift3d.lift.fit`, :mod:`lift3d.lift.quality`)."""

    min_dim: float = 0.01  # m; a box whose largest side is smaller is rejected (``implausible_size``)
    max_dim: float = 60.0  # m; ... or larger
    max_prior_ratio: float = 8.0  # ... or larger than this x the category prior's largest side
    few_points: int = 150  # fewer points than this: flag ``few_points``
    # a box whose projection outside its 2D box (grown by see_through_band_px + the soft-edge rim) shows the scene
    # behind it over more than this x the 2D box's area is rejected (``see_through``, lift3d.lift.visibility): it was
    # lifted from the wrong points (a nearer occluder, a smear along the view); a right box exceeds its 2D box only
    # at its corners.  Scale- and focal-free (0 = off)
    max_see_through: float = 2.0
    see_through_band_px: float = 4.0
    see_through_margin: float = 0.10  # a pixel is behind the box beyond max(this m, this x the box's exit depth)
    # a box-only object with at least this share of its 2D box inside another object's 2D box, whose lifted centre
    # or near face lies inside that object's lifted box, is flagged ``shared_surface`` (lift3d.lift.overlap: its
    # depth may be the other object's surface; 0 = off)
    shared_surface_cover: float = 0.5


@dataclass
class GravityConfig:
    """Up direction and floor level (:mod:`lift3d.lift.gravity`)."""

    estimate: bool = True  # no dataset gravity: fit the floor plane
    min_confidence: float = 0.2  # an estimate below this confidence is not used (camera frame)
    # no dataset gravity: the up direction from the image's vertical lines when they fix it (lift3d.lift.vanishing;
    # model depth: a distorted depth map tilts the floor plane, the lines are untouched), else the floor-plane fit
    vanishing: bool = False
    # with vanishing: the given focal length's log error (a depth model's or a prior's intrinsics); > 0: the focal
    # length from a horizontal vanishing point orthogonal to the vertical one, combined with the given one by their
    # precisions (lift3d.lift.vanishing.focal_length); 0: the given intrinsics are trusted
    focal_log_sd: float = 0.0
    fov_prior_focal_log_sd: float = 0.25  # the same for intrinsics from the field-of-view prior (intrinsics_source)
    # with focal_log_sd > 0: also the focal length from the floor's horizon and the vertical point (a pitched camera;
    # lift3d.lift.horizon), combined with the one from the lines by their precisions
    horizon_focal: bool = False
    # the floor level along the lines' up direction: a level with more than 3 % of the scene clearly below it is a
    # table top over an unseen floor, "clearly" by 8 cm, 4 % of the point's depth or this share of the level.  Model
    # depth: 0.2, since a depth-range exponent of 0.85-1.05 bends a floor seen over x0.3-x3 the median depth by
    # -16 % to +20 % (its near part lies under the level the far part sets), while a table or bed top lies 40-60 % of
    # the camera's height above the floor
    floor_bend: float = 0.0


@dataclass
class DepthFieldConfig:
    """Model depth's smooth distortion (:mod:`lift3d.lift.depth_field`)."""

    # divide out the smooth multiplicative distortion measured on the room's planes; only with
    # scale.from_priors (model depth), never applied to sensor depth
    enabled: bool = True
    # with it, the part of the distortion that follows the depth read (a depth-range exponent: near too far, far
    # too near), fitted on the same planes and divided out at each pixel's own depth, not the planes' around it
    range_term: bool = True

    def __bool__(self) -> bool:  # the flat key ``depth_field`` was this switch: ``if cfg.depth_field`` still reads it
        return bool(self.enabled)


@dataclass
class ScaleConfig:
    """Per-image depth scale from the category height priors (:mod:`lift3d.lift.scale`)."""

    from_priors: bool = False  # model / monocular depth only: never silently for sensor depth
    prior_std: float = 0.05  # spread of log(scale) before looking at the objects
    meas_std: float = 0.04  # relative measurement spread of one object's height
    box_only_factor: float = 2.0  # box-only heights are this much less reliable (supported objects, walls)
    outlier_k: float = 2.5  # log-ratios beyond k sigma of the weighted median are ignored
    t_nu: float = 4.0  # Student-t degrees of freedom of the ratios' errors (0: plain weighted mean)
    max_factor: float = 1.5  # the factor is clipped to [1/max_factor, max_factor]
    # model depth: the scale and its uncertainty from every cue (lift3d.lift.metric_scale: the heights above and the
    # camera's height above the floor), with prior_std as the depth source's spread and Student-t weights
    cues: bool = False
    camera_height: bool = True  # with cues: the camera height above a fitted floor / ground is a cue
    room_height: bool = True  # with cues: a seen ceiling's height above the floor is a cue
    # with cues: log spread every cue shares (a model's focal length), never averaged out; with gravity.focal_log_sd
    # > 0 each image's is its focal length's log sd: the refined one's, else the given one's (a prior's: 0.25)
    shared_std: float = 0.08
    failure_prob: float = 0.0  # with cues: prior probability of a gross whole-image scale failure (x1.5-x3)
    failure_std: float = 0.6  # with cues: its log spread
    outlier_prob: float = 0.1  # with cues: prior probability that one cue is simply wrong (a toy car, a child)
    spread_factor: float = 3.0  # with cues: the cues' stated spreads may be too small by up to this factor
    censored: bool = True  # with cues: a partly seen height (cut by the border, occluded) is a lower bound
    edge_px: float = 1.0  # with cues: px; how well a height's top and bottom edge are located (plus the erosion)


SECTIONS = {
    "crop": CropConfig, "clean": CleanConfig, "components": ComponentsConfig, "separation": SeparationConfig,
    "extent": ExtentConfig, "contact": ContactConfig, "yaw": YawConfig, "amodal": AmodalConfig,
    "cover": CoverConfig, "plausible": PlausibleConfig, "gravity": GravityConfig, "depth_field": DepthFieldConfig,
    "scale": ScaleConfig,
}

# the flat keys whose section field has another name; every other field's flat key is its own name
_RENAMED = {
    "yaw_step_deg": ("yaw", "step_deg"), "yaw_points": ("yaw", "points"),
    "amodal": ("amodal", "enabled"), "amodal_strength": ("amodal", "strength"),
    "cover_box": ("cover", "enabled"), "cover_tol_px": ("cover", "tol_px"), "cover_near_cost": ("cover", "near_cost"),
    "estimate_gravity": ("gravity", "estimate"), "min_gravity_confidence": ("gravity", "min_confidence"),
    "depth_field": ("depth_field", "enabled"),
    "scale_from_priors": ("scale", "from_priors"), "scale_prior_std": ("scale", "prior_std"),
    "scale_meas_std": ("scale", "meas_std"), "scale_box_only_factor": ("scale", "box_only_factor"),
    "scale_outlier_k": ("scale", "outlier_k"), "scale_t_nu": ("scale", "t_nu"), "scale_max": ("scale", "max_factor"),
    "scale_cues": ("scale", "cues"), "scale_camera_height": ("scale", "camera_height"),
    "scale_room_height": ("scale", "room_height"),
    "scale_shared_std": ("scale", "shared_std"), "scale_failure_prob": ("scale", "failure_prob"),
    "scale_failure_std": ("scale", "failure_std"), "scale_outlier_prob": ("scale", "outlier_prob"),
    "scale_spread_factor": ("scale", "spread_factor"), "scale_censored": ("scale", "censored"),
    "scale_edge_px": ("scale", "edge_px"),
}


def _flat_keys() -> dict[str, tuple[str, str]]:
    out = {}
    renamed = {v: k for k, v in _RENAMED.items()}
    for sec, cls in SECTIONS.items():
        for f in fields(cls):
            key = renamed.get((sec, f.name), f.name)
            if key in out:
                raise AssertionError(f"flat key {key!r} names two LiftConfig fields")
            out[key] = (sec, f.name)
    return out


FLAT_KEYS = _flat_keys()  # flat option name -> (section, field)


@dataclass(init=False)
class LiftConfig:
    """All options of :func:`lift3d.lift.lift_image`, one section per step (see the module docstring)."""

    crop: CropConfig
    clean: CleanConfig
    components: ComponentsConfig
    separation: SeparationConfig
    extent: ExtentConfig
    contact: ContactConfig
    yaw: YawConfig
    amodal: AmodalConfig
    cover: CoverConfig
    plausible: PlausibleConfig
    gravity: GravityConfig
    depth_field: DepthFieldConfig
    scale: ScaleConfig

    def __init__(self, **options):
        for name, cls in SECTIONS.items():
            setattr(self, name, cls())
        self.update(options)

    @classmethod
    def from_dict(cls, options: Mapping | None) -> LiftConfig:
        """A config from a dict of section dicts and/or flat keys (e.g. ``BuildConfig.lift``)."""
        return cls(**dict(options or {}))

    def replaced(self, **sections) -> LiftConfig:
        """A copy with the given sections (section dataclasses) in place of this one's; this one is unchanged."""
        return LiftConfig(**{**vars(self), **sections})

    def update(self, options: Mapping) -> LiftConfig:
        """Apply section dicts / section dataclasses / flat keys, in order; returns self."""
        for key, value in options.items():
            if key in SECTIONS:
                cls = SECTIONS[key]
                if isinstance(value, cls):
                    setattr(self, key, replace(value))
                elif isinstance(value, Mapping):
                    try:
                        setattr(self, key, replace(getattr(self, key), **value))
                    except TypeError:
                        known = ", ".join(f.name for f in fields(cls))
                        raise TypeError(f"LiftConfig: section {key!r} takes {known}; got {sorted(value)}") from None
                elif key in FLAT_KEYS:  # a flat key named like its section (amodal, depth_field): the switch
                    sec, name = FLAT_KEYS[key]
                    setattr(getattr(self, sec), name, value)
                else:
                    raise TypeError(f"LiftConfig: section {key!r} takes a dict or {cls.__name__}, got {value!r}")
            elif key in FLAT_KEYS:
                sec, name = FLAT_KEYS[key]
                setattr(getattr(self, sec), name, value)
            else:
                raise TypeError(f"LiftConfig: unknown option {key!r} (sections: {', '.join(SECTIONS)}; "
                                "or a flat key of FLAT_KEYS)")
        return self

    def __setattr__(self, name: str, value) -> None:
        if name not in SECTIONS:
            raise AttributeError(f"LiftConfig: set {name!r} through its section ({FLAT_KEYS[name][0]}) or the "
                                 "constructor" if name in FLAT_KEYS else f"LiftConfig has no section {name!r}")
        super().__setattr__(name, value)

    def __getattr__(self, name: str):
        # flat read access (cfg.scale_from_priors); only reached when no section has that name
        if name in FLAT_KEYS and name not in SECTIONS:
            sec, field_name = FLAT_KEYS[name]
            return getattr(self.__dict__[sec], field_name) if sec in self.__dict__ else None
        raise AttributeError(f"LiftConfig has no option {name!r}")
