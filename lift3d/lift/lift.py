"""Lift 2D annotations (instance masks or boxes alone) to oriented 3D boxes with metric depth.

Per image (:func:`lift_image`): resolve the up direction and the floor level (:mod:`gravity`), then per
annotation, working only on the crop of its 2D box (strided to at most ``max_crop_px`` pixels; 3D points
are formed only for the <= ``max_points`` selected pixels, from separable ray tables):

1. candidate pixels: the mask (eroded by ``mask_erode_px`` against 1-2 px mask bleed) or the whole box;
   valid depth only; *flying pixels* (a 3x3 depth range larger than ``flying_rel`` x depth, i.e. pixels
   straddling a depth discontinuity) removed; points on the floor plane removed.  Box-only: a wall
   filling the box border is removed, a horizontal support across the bottom of the box (the table top
   under a lamp, seen beside its base) is removed and the object reaches down to it
   (:func:`support_surface`), and for objects on the floor only the ground-range window from
   the floor contact at the bottom of the 2D box to the prior's footprint behind it is kept
   (:func:`contact_window`; walls and objects behind, occluders in front).
2. object segmentation: connected components of the remaining pixels (depth discontinuities cut them
   apart); the component with the largest score (pixel count for masks; centre-weighted count times its
   2D extent relative to the box for boxes, so the object beats the background and occluders at the box
   border) is kept, plus components at a similar depth (an object split by an occluder).
3. points in the gravity frame (x, down, forward), robust outlier rejection; box-only: ground-plane
   footprint trim to the category's size (:func:`footprint_trim`: background seen beside or through
   thin objects - lamps, tables between their legs).
4. optional (``scale_from_priors``, model depth only): one depth scale per image from the heights of
   the fully seen objects against their category priors (:func:`estimate_depth_scale`); the points and
   the floor level are divided by it (``LiftResult.depth_scale_factor``, object flag ``depth_rescaled``).
5. yaw about the up axis: the rectangle orientation that minimises the mean distance of the ground-plane
   points to the boundary of their robust (order-statistic) rectangle - visible surfaces lie on the
   box's faces; an L-shaped or single-face view both pin the orientation (on <= ``yaw_points`` points).
6. robust extents (percentiles), floor contact (a bottom close to the floor; a 2D box whose bottom edge
   meets the floor within the object's footprint, :func:`floor_contact`; or one that reaches the
   category's height when put on the floor: legs, poles, bases too thin to survive the cleaning), the
   bottom at least as low as the 2D box's bottom edge allows (:func:`bottom_reach`), amodal completion
   of the unseen far side with the category size prior (weighted by how hidden each horizontal axis is
   from the camera; a bimodal prior such as floor / table lamp picks its mode from the floor contact; half
   of it in front of the seen surface where an occluder hides that space, :func:`occluded_slab`; a quarter
   of it when a top face seen from above spans the seen footprint, :func:`top_face_seen`; the extent
   across the view continues behind an occluder or the image border beside the 2D box, :func:`hidden_sides`;
   an occluded or cut sliver gets the prior's height from its unseen side), and
   growth until the box's projection reaches the 2D box's side edges (:func:`cover_box_sides`); an about
   square prior footprint (lamps, chairs) then takes half of its completed depth from the width seen across it.
   Box-only, a component lying inside another annotation's 2D box is that object (:func:`other_objects`).
7. quality score and flags; once all are fitted, a box-only object lifted into another object's box, most of
   its 2D box inside that object's, is flagged ``shared_surface`` (:mod:`lift3d.lift.overlap`).

Model depth (``scale_from_priors``) with ``depth_field``: before step 1, the smooth multiplicative depth
distortion is measured on the room's planes around the objects - floor, walls, ceiling - and divided out
of every crop (:func:`lift3d.lift.depth_field.estimate_depth_field`; never for sensor depth).

Every annotation ends as an object or as a reject ``(annotation_id, reason, detail)`` with a stable
reason code (see ``REJECT_REASONS``).  Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import IntrinsicsError, as_K
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import mode_at_scale
from lift3d.lift.depth_field import DepthField, estimate_depth_field, exclusion_grid
from lift3d.lift.fit import fit_box
from lift3d.lift.gravity import (NUMERICAL, GravityEstimate, ceiling_height, floor_height, image_gravity,
                                 few_level_points, keeps_surfaces_level, point_and_normal_grid, rescale_grid)
from lift3d.lift.horizon import horizon_focal
from lift3d.lift.observe import observe
from lift3d.lift.overlap import flag_shared_surfaces
from lift3d.lift.priors import lookup
from lift3d.lift.result import LiftReject, LiftResult, Observation
from lift3d.lift.scale import estimate_depth_scale, scale_from_cues
from lift3d.lift.soft_edges import edge_ramp_px
from lift3d.lift.vanishing import vanishing_points


def lift_image(depth: np.ndarray, K, annotations: list[dict], gravity, config: LiftConfig | None = None,
               image_id=None, estimate: GravityEstimate | None = None, priors=lookup, rgb=None,
               focal_log_sd: float | None = None) -> LiftResult:
    """Lift all annotations of one image. Never raises for a bad annotation: it becomes a reject.  ``estimate``:
    the image's gravity/floor estimate when an earlier step made it with this config's gravity settings (the
    segment stage, :func:`lift3d.lift.gravity.image_gravity`); else it is made here.  ``priors``: category -> size
    prior (default :func:`lift3d.lift.priors.lookup`; a dataset's synonyms: ``priors.synonym_lookup``).  ``rgb``: the
    image, for the up direction from its vertical lines (``gravity.vanishing``, without a dataset gravity) and, with
    ``focal_log_sd`` > 0 (default ``gravity.focal_log_sd``: the given focal length's log error), the focal length
    from a horizontal vanishing point orthogonal to it; the intrinsics used are then ``LiftResult.K``."""
    cfg = config or LiftConfig()
    anns = list(annotations or [])
    res = LiftResult()
    Km = check_image(depth, K, anns, res)
    if Km is None:
        return res
    depth = np.asarray(depth)
    cfg = soft_edge_erosion(depth, cfg, res)
    fsd = cfg.gravity.focal_log_sd if focal_log_sd is None else focal_log_sd
    ge, grid, Kv, ksd = vanishing_gravity(depth, Km, rgb, gravity, cfg, fsd, anns)
    if Kv is not None:
        Km = Kv
        res.K, res.focal_log_sigma = [float(t) for t in Km.ravel()], ksd
    if fsd > 0:  # the error every scale cue shares is the focal length's: the refined one's, else the given one's
        shared = ksd if Kv is not None else fsd  # (a field-of-view prior's 0.25, not a model's 0.08)
        if shared != cfg.scale.shared_std:
            cfg = cfg.replaced(scale=replace(cfg.scale, shared_std=shared))
    if ge is None:
        ge, grid = (estimate, None) if estimate is not None else up_and_floor(depth, Km, anns, gravity, cfg)
    if grid is None and room_cue(cfg, ge):
        grid = point_and_normal_grid(depth, Km)  # (made once for the ceiling and the depth field)
    fld = depth_distortion(depth, Km, anns, ge, grid, cfg)
    ceil_h = ceiling_height(grid, ge.down, ge.floor_h) if room_cue(cfg, ge) else None
    res.gravity = None if ge.down is None else [float(t) for t in ge.down]
    res.gravity_source, res.gravity_confidence = ge.source, float(ge.confidence)
    res.floor_height, res.depth_field = ge.floor_h, fld
    G = gravity_frame(ge.down)
    obs: list[Observation] = []
    for ann in anns:
        if int(ann.get("iscrowd", 0) or 0) == 1:
            res.rejects.append((ann.get("annotation_id"), "crowd", "iscrowd=1"))
            continue
        others = other_boxes(ann, anns, cfg)
        _per_annotation(ann, res, lambda: obs.append(observe(ann, depth, Km, G, ge.floor_h, ge.down, cfg, fld,
                                                                 others, priors)))
    scale = 1.0
    if cfg.scale.from_priors and cfg.scale.cues:
        est = scale_from_cues(obs, ge.floor_h, ge.confidence, cfg, ceil_h, level_unknown=ge.down is None)
        scale, res.depth_scale_log_sigma, res.scale_estimate = est.factor, est.log_sigma, est
        res.lateral_scale_log_sigma = est.log_sigma if est.lateral_log_sigma is None else est.lateral_log_sigma
    elif cfg.scale.from_priors and obs:
        scale, _ = estimate_depth_scale(obs, ge.floor_h, cfg)
    res.depth_scale_factor = float(scale)
    if scale != 1.0 and res.floor_height is not None:
        res.floor_height = float(res.floor_height / scale)
    obs = [mode_at_scale(ob, ge.floor_h, scale, cfg) for ob in obs]
    for ob in obs:
        _per_annotation(ob.ann, res, lambda: res.objects.append(fit_box(ob, ge.floor_h, ge.down, G, cfg, scale, Km,
                                                                        depth)))
    flag_shared_surfaces(res.objects, Km, cfg.plausible.shared_surface_cover)
    return res


RIM_MIN_RAMP_PX = 1.5  # px; a narrower measured ramp is a sharp step (sensor depth measures 1): no rim to re-depth


def soft_edge_erosion(depth: np.ndarray, cfg: LiftConfig, res: LiftResult) -> LiftConfig:
    """Model depth (``crop.soft_edges``): the width of the image's edge ramps (:mod:`lift3d.lift.soft_edges`, recorded
    in ``res.edge_ramp_px``).  With ``crop.rim_redepth`` a mask's pixels within one ramp width of its outline take
    the depth of its core (``crop.rim_px``, :func:`lift3d.lift.soft_edges.redepth_rim`), else masks are eroded by
    half of it; box-only foregrounds are eroded by half of it (the part of a ramp inside the object), never less
    than ``crop.mask_erode_px``.  Returns the config to lift this image with."""
    if not cfg.crop.soft_edges:
        return cfg
    res.edge_ramp_px = ramp = edge_ramp_px(depth)
    erode = max(cfg.crop.mask_erode_px, int(np.ceil(0.5 * ramp - 1e-9)))
    if cfg.crop.rim_redepth:  # masks keep their rim, re-depthed from the core; box-only foregrounds are eroded
        crop = replace(cfg.crop, box_erode_px=erode if erode > 1 else 0, thin_erode_px=erode,
                       rim_px=float(ramp) if ramp > RIM_MIN_RAMP_PX else 0.0)
    else:
        crop = replace(cfg.crop, mask_erode_px=erode, box_erode_px=erode if erode > 1 else 0)
    return cfg if crop == cfg.crop else cfg.replaced(crop=crop)


def check_image(depth, K, anns: list, res: LiftResult) -> np.ndarray | None:
    """K as a 3x3 matrix; None when K or the depth map is unusable: then every annotation is a ``bad_intrinsics``
    / ``bad_depth`` reject in ``res``."""
    try:
        Km = as_K(K)
    except IntrinsicsError as exc:
        res.rejects = [(a.get("annotation_id"), "bad_intrinsics", str(exc)) for a in anns]
        return None
    if depth is None or np.ndim(depth) != 2 or min(np.shape(depth)) < 2:
        res.rejects = [(a.get("annotation_id"), "bad_depth", f"depth shape {np.shape(depth)}") for a in anns]
        return None
    return Km


def up_and_floor(depth: np.ndarray, K: np.ndarray, anns: list, gravity, cfg: LiftConfig,
                 min_confidence: float | None = None):
    """(the image's up direction and floor level, its point/normal grid or None): :mod:`lift3d.lift.gravity`;
    the camera frame on a numerical failure.  ``min_confidence``: the floor-plane fit's least confidence (default
    ``gravity.min_confidence``)."""
    mc = cfg.gravity.min_confidence if min_confidence is None else min_confidence
    return image_gravity(depth, K, gravity, anns, estimate=cfg.gravity.estimate, min_confidence=mc)


def vanishing_gravity(depth: np.ndarray, K: np.ndarray, rgb, gravity, cfg: LiftConfig, focal_log_sd: float = 0.0,
                      anns=()):
    """(the up direction from the image's vertical lines with the floor level along it, the image's point/normal grid,
    the intrinsics with the focal length from the vanishing points or None, its log sd or None) with
    ``gravity.vanishing``, an image and no dataset gravity (:mod:`lift3d.lift.vanishing`: depth errors do not tilt it;
    the focal length only with ``focal_log_sd`` > 0, the given one's log error, from the horizontal lines and, with
    ``gravity.horizon_focal``, the floor's horizon, :mod:`lift3d.lift.horizon`); (None, None, None, None) otherwise or
    when the lines do not fix the up direction (the floor-plane fit is used).  Where no floor lies under the lines'
    up direction, or few of the depth's surfaces are level under it (:func:`lift3d.lift.gravity.few_level_points`),
    the floor-plane fit of the depth (``anns`` excluded; at any confidence, since the lines' direction has failed
    its own check) is made: when it finds a floor that the lines' direction tilts out of level
    (:func:`lift3d.lift.gravity.keeps_surfaces_level`: a vertical point made of a few segments that meet by chance),
    that fit and the given focal length are returned instead."""
    if not cfg.gravity.vanishing or rgb is None or gravity is not None:
        return None, None, None, None
    try:
        down, conf, Kf, ksd, vertical = vanishing_points(rgb, K, focal_log_sd, with_segments=True)
        if down is None:
            return None, None, None, None
        K0, K = K, (K if Kf is None else Kf)
        grid = point_and_normal_grid(depth, K)
        fh = floor_height(depth, K, down, grid, bend=cfg.gravity.floor_bend)
        if fh is None or few_level_points(grid, down):  # does the depth's floor agree with the lines' up direction?
            # (the floor-plane fit at any confidence: a lines' direction that finds no floor or leaves few surfaces
            # level has failed its own check, so a weak fit that keeps twice as many level is the better of the two)
            alt, alt_grid = up_and_floor(depth, K0, anns, None, cfg, min_confidence=0.0)
            if alt.down is not None and alt.floor_h is not None and not keeps_surfaces_level(grid, down, alt.down):
                return alt, alt_grid, None, None  # a wrong vertical point: the floor-plane fit, the given focal
        if cfg.gravity.horizon_focal and focal_log_sd > 0 and fh is not None:
            hz = horizon_focal(grid, K, down, vertical, fh, focal_log_sd if ksd is None else ksd)
            if hz is not None:
                grid = rescale_grid(grid, float(hz[0][0, 0] / K[0, 0]))
                Kf, down, ksd, fh = hz
                K = Kf
        return GravityEstimate(down, "vanishing", conf, fh), grid, Kf, ksd
    except NUMERICAL:  # numerical failure: the floor-plane fit
        return None, None, None, None


def room_cue(cfg: LiftConfig, ge: GravityEstimate) -> bool:
    """Is the room's height a scale cue here (model depth with ``scale.cues`` and ``scale.room_height``, an up direction
    and a floor level)?"""
    return bool(cfg.scale.from_priors and cfg.scale.cues and cfg.scale.room_height and ge.down is not None
                and ge.floor_h is not None)


def depth_distortion(depth: np.ndarray, K: np.ndarray, anns: list, ge: GravityEstimate, grid,
                     cfg: LiftConfig) -> DepthField | None:
    """Model depth only (``scale_from_priors`` with ``depth_field``): the smooth depth distortion measured on the
    room's planes (:mod:`lift3d.lift.depth_field`) on the image's point grid (made here when ``grid`` is None);
    None when off, without an up direction, or on failure."""
    if not (cfg.depth_field.enabled and cfg.scale.from_priors and ge.down is not None):
        return None
    try:
        if grid is None:
            grid = point_and_normal_grid(depth, K)
        return estimate_depth_field(grid, ge.down, ge.floor_h, depth.shape,
                                    exclusion_grid(anns, grid[4], grid[5], depth.shape),
                                    range_term=cfg.depth_field.range_term)
    except NUMERICAL:  # numerical failure: not applied
        return None


def other_boxes(ann: dict, anns: list, cfg: LiftConfig):
    """Box-only: the other annotations' 2D boxes (objects in front of ours or standing on it); () for a mask or
    when neither test that uses them is on."""
    if ann.get("mask") is None and (cfg.components.other_box_weight < 1.0 or cfg.separation.on_top_boxes):
        return [a.get("bbox2d") for a in anns if a is not ann and a.get("bbox2d") is not None]
    return ()


def _per_annotation(ann: dict, res: LiftResult, step) -> None:
    """Run one annotation's step; a :class:`LiftReject` or a numerical failure becomes its reject row."""
    aid = ann.get("annotation_id")
    try:
        step()
    except LiftReject as rj:
        res.rejects.append((aid, rj.reason, rj.detail))
    except (ValueError, FloatingPointError, IndexError, np.linalg.LinAlgError) as exc:
        res.rejects.append((aid, "lift_error", f"{type(exc).__name__}: {exc}"))
