"""Per-image depth scale from the category height priors (model depth only: ``scale_from_priors``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lift3d.geometry.iou import rect_overlap
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import object_height, seen_top
from lift3d.lift.metric_scale import (Cue, ScaleCueConfig, ScaleEstimate, camera_height_cue, combine_cues,
                                     room_height_cue)
from lift3d.lift.priors import mode_rows, row_name
from lift3d.lift.quantiles import median
from lift3d.lift.yaw import observation_yaw


HALF_PX = 0.5  # px; the extreme points are at pixel centres, this far inside the object's outline
MIN_HEIGHT = 0.02  # m; a seen height below this says nothing about the scale
OCCLUDED_MEAS = 1.5  # an occluded object's height is this much less certain
T_ITERATIONS = 10  # re-weighting iterations of the Student-t mean
# A person on a seat or a mount is not standing: seated 1.2-1.4 m tall, a rider higher, against a standing person's
# prior of 1.70 m; COCO's dining rooms, sofas and riders are full of them.  Rows of the priors table (first names;
# a category without a row of its own counts as its vocabulary parent's: LVIS folding_chair as a chair).
PEOPLE = frozenset({"person", "child"})
SEATS = frozenset({"chair", "stool", "couch", "bench", "bed", "toilet", "wheelchair", "ottoman", "motorcycle",
                   "bicycle", "horse"})
SEATED_OVERLAP = 0.5  # a seat's 2D box covers most of the lower half of a person's 2D box: on it (or in front)
SEATED_DEPTH = 0.2  # and the two are at about one distance (log ratio of their median depths: a ratio, so the
# image's unknown scale cancels; a seat 1 m deep at 5 m is within 0.1): a bench far in front of a person is not hers


def on_a_seat(ob, obs: list) -> bool:
    """Whether a person has a seat or a mount (``SEATS``) under her: its 2D box covers most of the lower half of
    hers (``SEATED_OVERLAP``) and it is at about her distance (``SEATED_DEPTH``).  She may sit or ride, so her height
    is not a standing person's and is no scale cue.  One standing beside a bicycle or just behind a chair is taken
    for seated as well: a cue lost, not a wrong one."""
    if ob.prior is None or row_name(ob.prior.category) not in PEOPLE or not len(ob.z_sel):
        return False
    x1, y1, x2, y2 = (float(t) for t in ob.bbox)
    ym = 0.5 * (y1 + y2)
    half = (x2 - x1) * (y2 - ym)
    if not half > 0:
        return False
    z = median(ob.z_sel)
    if not z > 0:
        return False
    for o in obs:
        if o is ob or o.prior is None or row_name(o.prior.category) not in SEATS or not len(o.z_sel):
            continue
        zo = median(o.z_sel)
        if (zo > 0 and rect_overlap((x1, ym, x2, y2), [float(t) for t in o.bbox]) >= SEATED_OVERLAP * half
                and abs(np.log(zo / z)) <= SEATED_DEPTH):
            return True
    return False


def height_ratios(obs: list, floor_h, cfg: LiftConfig) -> list[tuple[float, float]]:
    """(log(seen height / prior height), its spread) of every object whose full height is seen: it has a prior, is
    not cut at the top or bottom, has enough points and, when occluded, stands on the floor (an occluder may hide
    the bottom; the floor contact restores it); not a person on a seat (:func:`on_a_seat`).  The spread is the
    prior's height spread and the measurement's."""
    out = []
    for ob in obs:
        p = ob.prior
        if p is None or ob.trunc_v or len(ob.q) < cfg.plausible.few_points or on_a_seat(ob, obs):
            continue
        hl, hh_, on_floor = object_height(ob, floor_h, cfg)
        occluded = "occluded" in ob.flags
        if occluded and not on_floor:
            continue
        h = hh_ - hl
        if not (h > MIN_HEIGHT):
            continue
        meas = cfg.scale.meas_std * (OCCLUDED_MEAS if occluded else 1.0)
        meas *= cfg.scale.box_only_factor if ob.box_only else 1.0
        out.append((float(np.log(h / p.h)), float(np.hypot(p.h_rel_std, meas))))
    return out


def view_extent_ratio(prior) -> float:
    """A category's mean horizontal extent along the view over its height: a box of sides l and w at a yaw drawn at
    random spans ``l |cos| + w |sin|`` along the view, on average ``2 (l + w) / pi``."""
    return float(2.0 * (prior.l + prior.w) / (np.pi * prior.h)) if prior.h > 0 else 0.0


def height_cues(obs: list, floor_h, cfg: LiftConfig, level_unknown: bool = False) -> list[Cue]:
    """Every object's height against its category prior (not a person on a seat: :func:`on_a_seat`) as a cue on log k:
    two-sided where the full height is seen (not cut at the top or bottom by the image border; when occluded, standing
    on the floor); with ``scale.censored`` a one-sided lower bound where it is only partly seen (cut by the border, or
    occluded and not on the floor): the seen height is at most the full height, so log(seen / prior) <= log k up to the
    prior's spread. The spread is the prior's height spread and the measurement's: ``scale.meas_std`` and the pixel
    resolution, ``scale.edge_px`` plus the erosion at each end over the object's height in pixels (a 20 px tall object's
    height is uncertain by ~10 %, a 200 px one's by 1 %). Box-only: the pixels the erosion took off the top (and the
    bottom, unless the floor contact restored it) are given back in proportion to the 2D box's height. A mask is not
    eroded at the edges of its 2D box, but on soft-edged depth its thin top parts (a head, a handlebar, a finial) lose
    their points: its top is the one the fit gives it (:func:`lift3d.lift.contact.seen_top`, the 2D box's top edge
    unless a top face is seen from above).  Without it the heights read low and the distances far: bicycles' height
    cues 0.33 low in log, outdoor distances 2-3 % too far on average (docs/benchmarks.md, session 25).  A category of
    sub-types (a floor or a table lamp, :func:`mode_priors`) gives one cue, the mixture of its terms under each.
    ``level_unknown`` (the image's up direction is the camera's, none given or found): each cue carries the median of
    its objects' :func:`view_extent_ratio`, since its height was read along the camera's vertical
    (:mod:`lift3d.lift.metric_scale`)."""
    out, ratios = [], []
    for ob in obs:
        if ob.prior is None or len(ob.q) < cfg.plausible.few_points or on_a_seat(ob, obs):
            continue
        modes = mode_priors(ob)
        if len(modes) > 1:  # one yaw fit, kept on ob, for the copies read under each mode (seen_top; the fit uses it)
            observation_yaw(ob, cfg)
        terms = [t for t in (_height_term(replace(ob, prior=m) if m is not ob.prior else ob, floor_h, cfg)
                             for m in modes) if t is not None]
        if len(terms) == len(modes) and terms:
            kind, r, s, partial = terms[0]
            out.append(Cue(kind, r, s, lower=partial,
                           modes=tuple((t[1], t[2], t[3]) for t in terms) if len(terms) > 1 else (),
                           ref=ob.ann.get("annotation_id")))
            if level_unknown:
                ratios.append(view_extent_ratio(ob.prior))
    if level_unknown and out:
        # one ratio for the image's cues: ratios of their own would let the pitch be fitted to whatever else sets the
        # cues apart (a short desk, a tall chair), where only its prior is known
        common = float(median(np.array(ratios)))
        out = [replace(c, tilt_ratio=common) for c in out]
    return out


def mode_priors(ob) -> tuple:
    """The priors an object's height may be read against: its category's sub-types (``Observation.category_prior``:
    a floor or a table lamp) where it has several, else its own prior alone."""
    return mode_rows(ob.category_prior) or (ob.prior,)


def _height_term(ob, floor_h, cfg: LiftConfig):
    """(kind, log(seen height / prior height), its spread, partial) of one object under its ``prior``, or None (see
    :func:`height_cues`)."""
    sc = cfg.scale
    p = ob.prior
    erode = max(cfg.crop.mask_erode_px, cfg.crop.box_erode_px) if ob.box_only else 0  # (crop.erode_mask)
    hl, hh_, on_floor = object_height(ob, floor_h, cfg)
    reached = False
    if not ob.box_only:  # a mask's thin top parts lost to soft edges: the top the fit will give it
        top = seen_top(ob, hl, cfg)
        reached, hl = top < hl, top
    occluded = "occluded" in ob.flags
    partial = ob.trunc_v or (occluded and not on_floor)
    if partial and not sc.censored:
        return None
    h = hh_ - hl
    if not (h > MIN_HEIGHT):
        return None
    meas = sc.meas_std * (OCCLUDED_MEAS if occluded and not partial else 1.0)
    meas *= sc.box_only_factor if ob.box_only else 1.0
    hpx = max(float(ob.bbox[3]) - float(ob.bbox[1]), 1.0)
    # the points sit at pixel centres, half a pixel inside the outline, and a box-only foreground was eroded by
    # `erode` px: at the top (unless the top reach set it at the outline) and the bottom (unless the floor contact
    # restored it) the seen height lacks erode + 1/2 px; give them back in proportion
    ends = (1.0 if on_floor else 2.0) - (1.0 if reached else 0.0)
    h *= hpx / max(hpx - ends * (erode + HALF_PX), 0.5 * hpx)
    px = sc.edge_px + erode
    meas = float(np.hypot(meas, np.sqrt(2.0) * px / hpx)) if sc.edge_px > 0 else meas
    return ("height_bound" if partial else "height", float(np.log(h / p.h)), float(np.hypot(p.h_rel_std, meas)),
            bool(partial))


def cue_config(cfg: LiftConfig) -> ScaleCueConfig:
    """The cue combination's settings (:func:`lift3d.lift.metric_scale.combine_cues`) from the lift config's ``scale``."""
    sc = cfg.scale
    return ScaleCueConfig(prior_sigma=sc.prior_std, failure_prob=sc.failure_prob, failure_sigma=sc.failure_std,
                          shared_sigma=sc.shared_std, t_nu=sc.t_nu, outlier_prob=sc.outlier_prob,
                          max_spread_factor=sc.spread_factor)


def scale_from_cues(obs: list, floor_h, floor_confidence: float, cfg: LiftConfig, ceiling_h=None,
                    level_unknown: bool = False) -> ScaleEstimate:
    """Model depth (``scale.cues``): the image's scale and its uncertainty from every cue
    (:mod:`lift3d.lift.metric_scale`): the objects' heights against their priors (:func:`height_cues`), the camera's
    height above the floor (the median of the floor levels measured under the objects, where there are any: the scale is
    wanted at the objects' depths, which a range exponent sets apart from the near floor) and, with ``scale.room_height``
    and a ceiling seen (``ceiling_h``, :func:`lift3d.lift.gravity.ceiling_height`), the room's height (the image's
    floor level ``floor_h`` plus the ceiling's, both measured on the same point grid), with ``scale.prior_std`` /
    ``failure_prob`` / ``failure_std`` as the depth source's spread, ``outlier_prob`` and ``spread_factor`` for cues
    that are wrong or scatter more than they say, and ``scale.shared_std`` as the error every cue shares.
    ``level_unknown``: the image's up direction is the camera's (none given or found), so the heights were read along a
    vertical the camera may be pitched from (:func:`height_cues`)."""
    sc = cfg.scale
    mcfg = cue_config(cfg)
    cues = height_cues(obs, floor_h, cfg, level_unknown)
    if sc.camera_height:
        local = [ob.floor for ob in obs if ob.floor is not None]  # the floor where the objects stand
        cam = camera_height_cue(float(median(local)) if local else floor_h, floor_confidence, mcfg)
        if cam is not None:
            cues.append(cam)
    if sc.room_height:
        room = room_height_cue(floor_h, ceiling_h, floor_confidence, mcfg)
        if room is not None:
            cues.append(room)
    return combine_cues(cues, mcfg)


def estimate_depth_scale(obs: list, floor_h, cfg: LiftConfig) -> tuple[float, int]:
    """Per-image depth scale from the category height priors of the fully seen objects.


    Each object with a prior whose full height is seen (not cut by the top/bottom image border; when
    occluded, only if it stands on the floor) gives r = log(observed height / prior
    height) with spread sigma = the prior's height spread (+ a measurement term); a ratio beyond
    ``scale_max`` (no allowed scale explains it: a table seen as its top alone) is a partial view and is
    not used.  Ratios far from the weighted median are dropped; the rest are averaged with weights
    1/sigma^2 together with a zero-mean pseudo-observation of spread ``scale_prior_std`` (shrinkage towards
    1: a single doubtful object moves the scale little, many consistent ones move it a lot), then
    re-weighted as Student-t errors (``scale_t_nu`` degrees of freedom, iteratively): a ratio far from the
    consensus counts less, smoothly, instead of fully up to the cut.  Returns (scale, objects used).
    """
    r, s = [], []
    for ratio, sigma in height_ratios(obs, floor_h, cfg):
        if abs(ratio) > np.log(cfg.scale.max_factor):
            continue  # a ratio no allowed scale can explain is a partial view (a table's top alone), not scale
        r.append(ratio)
        s.append(sigma)
    if not r:
        return 1.0, 0
    r, s = np.array(r), np.array(s)
    w = 1.0 / s ** 2
    o = np.argsort(r)
    cw = np.cumsum(w[o])
    med = r[o][np.searchsorted(cw, 0.5 * cw[-1])]
    inl = np.abs(r - med) <= cfg.scale.outlier_k * s
    if not inl.any():
        return 1.0, 0
    w0 = 1.0 / cfg.scale.prior_std ** 2
    logk = float(np.sum(w[inl] * r[inl]) / (np.sum(w[inl]) + w0))
    if cfg.scale.t_nu > 0:
        r, w, nu = r[inl], w[inl], cfg.scale.t_nu
        for _ in range(T_ITERATIONS):
            wt = w * (nu + 1.0) / (nu + (r - logk) ** 2 * w)
            logk = float(np.sum(wt * r) / (np.sum(wt) + w0))
    lim = np.log(cfg.scale.max_factor)
    return float(np.exp(np.clip(logk, -lim, lim))), int(inl.sum())
