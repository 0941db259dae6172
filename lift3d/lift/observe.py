"""Per annotation, the crop work (:func:`observe`): the cleaned, segmented point set in the gravity frame and what
the 2D box says (truncation, occlusion, floor contact, bottom reach, the top without what stands on it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lift3d.lift.clean import drop_floor_pixels, floor_pixels, flying_pixels, object_points, surround_pixels
from lift3d.lift.components import select_components
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import contact_and_reach, floor_mode, local_floor
from lift3d.lift.crop import (Crop, annotation_box, crop_dot, erode_mask, erode_region, inner_distance, mask_on_crop,
                             read_box_crop, read_surround)
from lift3d.lift.priors import lookup
from lift3d.lift.quantiles import percentile
from lift3d.lift.result import LiftReject, Observation
from lift3d.lift.separation import footprint_trim, separate_box_only, smear_trim, top_without_on_top
from lift3d.lift.soft_edges import blended, blended_box, redepth_rim

OCCLUDER_MARGIN = 0.10  # m; a pixel nearer than the object's near depth by max(this, 5 % of it) is an occluder
OCCLUDER_MARGIN_REL = 0.05
OCCLUDED_SHARE = 0.10  # the object is "occluded" when more than this share of the box's valid pixels is
NEAR_PCT = 5.0  # the object's near depth: this percentile of its points' depths


def observe(ann: dict, depth: np.ndarray, K: np.ndarray, G: np.ndarray, floor_h, down, cfg: LiftConfig,
            field=None, others=(), priors=lookup) -> Observation:
    """Crop work for one annotation: the cleaned, segmented point set in the gravity frame.  ``others``: the other
    annotations' 2D boxes (box-only); ``field``: the model depth's distortion to divide out; ``priors``: category ->
    size prior (:func:`lift3d.lift.priors.lookup`, or :func:`~lift3d.lift.priors.synonym_lookup`'s)."""
    H, W = depth.shape
    bbox = annotation_box(ann)
    box_only = ann.get("mask") is None
    prior = priors(ann.get("category"))
    cr = read_box_crop(depth, K, bbox, cfg.crop.max_crop_px, field)
    if box_only:
        region_valid, n_region = cr.valid, int(cr.valid.size)
    else:
        on_crop = mask_on_crop(ann["mask"], depth.shape, cr)
        inside = inner_distance(on_crop) if cfg.crop.rim_px > 0 else None  # (eroded twice: the body and thin parts)
        region = erode_mask(on_crop, cr, cfg.crop.mask_erode_px, cfg.clean.min_points, inside)
        region_valid, n_region = cr.valid & region, int(region.sum())
    if not region_valid.any():
        raise LiftReject("no_valid_depth", "no valid depth in the " + ("box" if box_only else "mask"))
    ok = region_valid & ~flying_pixels(cr.d, cr.valid, cfg.clean.flying_rel)
    if not box_only and cfg.crop.rim_px > 0:  # soft edges: the rim of the mask's body takes the depth of its core
        d2, near = redepth_rim(cr.d, region_valid, cfg.crop.rim_px / cr.st,
                               np.tan(np.radians(cfg.crop.rim_max_tilt_deg)) * cr.st / float(K[0, 0]))
        cr = replace(cr, d=d2, dz=np.where(cr.valid, d2, 0.0))
        # parts thinner than two rims away from the body (legs, handles) are eroded by half a ramp instead
        ok &= near | erode_mask(on_crop, cr, max(cfg.crop.mask_erode_px, cfg.crop.thin_erode_px),
                                cfg.clean.min_points, inside)
    # height (down coordinate) of every pixel: z * (G[:,1] . ray); a floor level implies an up direction
    hdown = crop_dot(cr.dz, cr.ax, cr.bx, cr.by, G[:, 1]) if down is not None else None
    if floor_h is not None:
        ok = drop_floor_pixels(ok, cr, hdown, floor_h, cfg)
    support = None
    if box_only:
        ok, support = separate_box_only(ok, cr, depth, K, G, floor_h, down, hdown, prior, cfg, field)
        ok = erode_region(ok, cr, cfg.crop.box_erode_px, cfg.clean.min_points)
    if ok.sum() < cfg.clean.min_points:
        raise LiftReject("too_few_points", f"{int(ok.sum())} clean points (< {cfg.clean.min_points})")

    surround = None
    if box_only and cfg.components.surround_reach > 0:
        def surround():
            win, offset = read_surround(depth, K, cr, cfg.components.surround_reach, field)
            return surround_pixels(win, G, floor_h, cfg), offset

    sel = select_components(ok, cr.dz, box_only, others, cr.bounds, cr.st, bbox, cfg, surround)
    q, z_sel = object_points(sel, cr, K, G, cfg)
    if box_only and prior is not None and cfg.separation.footprint_radius > 0:
        q, z_sel = footprint_trim(q, z_sel, prior, cfg)
    q, z_sel = smear_trim(q, z_sel, prior, K, G, cfg)

    flags, trunc_v, cut_lr = view_flags(bbox, box_only, W, H, cfg.crop.border_px)
    if occluded(cr, z_sel):
        flags.append("occluded")
    # about as thin as the edge ramps: a mask by its own outline; a box-only object by its 2D box, which it lies within
    # (a box too thin for a depth of its own holds no object that has one: a pole 7 px wide against 16 px ramps)
    if blended_box(cr.valid.shape, cr.st, cfg.crop.rim_px) if box_only else blended(on_crop, cr.st, cfg.crop.rim_px):
        flags.append("blended")
    cover = float(region_valid.sum()) / max(1, n_region)
    contact = reach = top_reach = None
    if down is not None and (cfg.contact.floor_contact or cfg.contact.box_reach or cfg.contact.top_reach):
        contact, reach, top_reach = contact_and_reach(bbox, K, G, q, floor_h, support, "occluded" in flags, H, cfg)
        if contact is False and not trunc_v and bottom_occluded(depth, K, G, bbox, z_sel, floor_h, field, cfg):
            contact = None  # the box's bottom edge is an occluder's top edge (the band is read only where it matters)
    category_prior = prior if prior is not None and prior.modes else None
    prior = floor_mode(prior, q, reach, floor_h, trunc_v, contact, cfg)
    top = None
    if box_only and cfg.separation.on_top_boxes and others:
        top = top_without_on_top(q, K, G, others, bbox, cfg)
    floor = local_floor(depth, K, G, bbox, floor_h, cfg, field) if down is not None else None
    return Observation(ann, list(bbox), box_only, q, z_sel, flags, cover, prior, trunc_v, cut_lr, contact, reach, top,
                       floor, top_reach, category_prior=category_prior)


def view_flags(bbox, box_only: bool, W: int, H: int, border_px: float):
    """(flags, trunc_v, cut_lr): ``box_only`` and ``truncated`` (the 2D box within ``border_px`` of an image
    border); trunc_v: cut at the top or bottom (the height is not fully seen); cut_lr: (left, right) cut."""
    flags: list[str] = []
    if box_only:
        flags.append("box_only")
    x1, y1, x2, y2 = (float(t) for t in bbox)
    bp = border_px
    trunc_v = y1 <= bp - 0.5 or y2 >= H - 0.5 - bp
    cut_lr = (x1 <= bp - 0.5, x2 >= W - 0.5 - bp)
    if any(cut_lr) or trunc_v:
        flags.append("truncated")
    return flags, trunc_v, cut_lr


BOTTOM_BAND = 0.1  # the band read just below a 2D box: this share of the box's height, at least BOTTOM_BAND_PX
BOTTOM_BAND_PX = 2.0


def bottom_occluded(depth: np.ndarray, K: np.ndarray, G: np.ndarray, bbox, z_sel: np.ndarray, floor_h, field,
                    cfg: LiftConfig) -> bool:
    """Whether the 2D box's bottom edge is the top edge of something in front of the object: most of the valid pixels
    of a band just below the box are not floor and lie in front of its near depth (by the margin of
    :func:`occluded`).  A 2D box drawn around the visible part of a floor lamp behind a table ends at the table's top,
    where the lamp's pole disappears: the box's bottom is not the object's, however little of the box the table
    covers.  Only with a floor level (else the ground below a far object, nearer row by row, would count)."""
    if floor_h is None:
        return False
    H = depth.shape[0]
    x1, y1, x2, y2 = (float(t) for t in bbox)
    y3 = min(float(H) - 0.5, y2 + max(BOTTOM_BAND_PX, BOTTOM_BAND * (y2 - y1)))
    if y3 - y2 < 1.0:
        return False
    band = read_box_crop(depth, K, [x1, y2, x2, y3], cfg.crop.max_crop_px, field)
    n = int(band.valid.sum())
    if n == 0:
        return False
    front = band.valid & (band.d < occluder_depth(z_sel))
    front &= ~floor_pixels(band, crop_dot(band.dz, band.ax, band.bx, band.by, G[:, 1]), floor_h, cfg)
    return int(front.sum()) > 0.5 * n


def occluded(cr: Crop, z_sel: np.ndarray) -> bool:
    """Whether more than ``OCCLUDED_SHARE`` of the crop's valid pixels lie in front of the object's near depth
    (by ``OCCLUDER_MARGIN`` m or ``OCCLUDER_MARGIN_REL`` of it): something hides part of it."""
    occ_frac = float((cr.valid & (cr.d < occluder_depth(z_sel))).sum()) / max(1, int(cr.valid.sum()))
    return occ_frac > OCCLUDED_SHARE


def occluder_depth(z_sel: np.ndarray) -> float:
    """The depth in front of which a pixel is an occluder of an object with point depths ``z_sel``: its near depth
    (``NEAR_PCT`` percentile) less ``OCCLUDER_MARGIN`` m or ``OCCLUDER_MARGIN_REL`` of it, whichever is larger."""
    z_near = float(percentile(z_sel, NEAR_PCT))
    return z_near - max(OCCLUDER_MARGIN, OCCLUDER_MARGIN_REL * z_near)
