"""Per annotation, the crop work: the cleaned, segmented point set in the gravity frame and what the 2D box says
(truncation, occlusion, floor contact, bottom reach)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lift3d.lift.clean import flying_pixels, robust_keep, smoothed_points
from lift3d.lift.components import other_objects
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import bottom_reach, floor_contact, points_ground_range
from lift3d.lift.crop import crop_bounds, crop_dot, ray_parts, read_crop
from lift3d.lift.priors import lookup, resolve_mode
from lift3d.lift.result import LiftReject, Observation
from lift3d.lift.separation import contact_window, footprint_trim, outside_band, remove_background_plane, support_surface, top_without_on_top


def observe(ann: dict, depth: np.ndarray, K: np.ndarray, G: np.ndarray, floor_h, down, cfg: LiftConfig,
             field=None, others=()) -> Observation:
    """Crop work for one annotation: the cleaned, segmented point set in the gravity frame."""
    H, W = depth.shape
    bbox = ann.get("bbox2d")
    mask = ann.get("mask")
    if bbox is None and mask is not None:
        m = np.asarray(mask, dtype=bool)
        ys, xs = np.nonzero(m)
        if len(xs) == 0:
            raise LiftReject("empty_mask", "mask has no pixel")
        bbox = [xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5]
    if bbox is None:
        raise LiftReject("degenerate_box", "no bbox2d and no mask")
    r0, r1, c0, c1 = crop_bounds(bbox, W, H)
    # large crops are strided: the working set stays bounded whatever the image resolution
    st = max(1, int(np.ceil(np.sqrt((r1 - r0) * (c1 - c0) / cfg.max_crop_px))))
    d, rows, cols = read_crop(depth, r0, r1, c0, c1, st, field)
    valid = np.isfinite(d) & (d > 0)
    box_only = mask is None
    support = None
    if not box_only:
        m = np.asarray(mask)
        if m.shape != depth.shape:
            raise LiftReject("empty_mask", f"mask shape {m.shape} != depth shape {depth.shape}")
        region = m[r0:r1:st, c0:c1:st].astype(bool)
        if not region.any():
            raise LiftReject("empty_mask", "mask has no pixel inside the box")
        if cfg.mask_erode_px > 0:
            it = max(1, int(round(cfg.mask_erode_px / st)))
            er = ndimage.binary_erosion(region, iterations=it, border_value=1)
            if er.sum() >= max(cfg.min_points, 0.3 * region.sum()):
                region = er
        region_valid = valid & region
        n_region = int(region.sum())
    else:
        region_valid = valid
        n_region = int(valid.size)
    if not region_valid.any():
        raise LiftReject("no_valid_depth", "no valid depth in the " + ("box" if box_only else "mask"))
    ok = region_valid & ~flying_pixels(d, valid, cfg.flying_rel)


    ax, bx, by = ray_parts(K, rows, cols)
    dz = np.where(valid, d, 0.0)
    # height (down coordinate) of every pixel: z * (G[:,1] . ray); a floor level implies an up direction
    hdown = crop_dot(dz, ax, bx, by, G[:, 1]) if down is not None else None
    if floor_h is not None:
        tol = cfg.floor_tol + cfg.floor_tol_rel * d
        on_floor_px = valid & (hdown > floor_h - tol)
        ok2 = ok & ~on_floor_px
        if ok2.sum() >= cfg.min_points:
            ok = ok2


    if box_only and cfg.remove_background_plane:
        def outside():
            return outside_band(depth, K, G, (r0, r1, c0, c1), cfg, field)


        ok = remove_background_plane(ok, dz, ax, bx, by, G, d, down, cfg,
                                      outside if cfg.outside_min_share > 0 else None)
    if box_only and cfg.support_surface and down is not None and float(bbox[3]) < H - 0.5 - cfg.border_px:
        ok, support = support_surface(ok, hdown, d, cfg)
    if box_only and cfg.contact_window > 0 and floor_h is not None and down is not None:
        ok = contact_window(ok, bbox, dz, ax, bx, by, K, G, floor_h, lookup(ann.get("category")), H, cfg)


    if ok.sum() < cfg.min_points:
        raise LiftReject("too_few_points", f"{int(ok.sum())} clean points (< {cfg.min_points})")


    # connected components (depth discontinuities already cut: flying pixels removed)
    lab, nlab = ndimage.label(ok)
    if nlab > 1:
        lf = lab.ravel()
        counts = np.bincount(lf, minlength=nlab + 1)[1:].astype(np.float64)
        if box_only:
            hh, ww = ok.shape
            yy = (np.arange(hh) + 0.5) / hh - 0.5
            xx = (np.arange(ww) + 0.5) / ww - 0.5
            wgt = np.exp(-(yy[:, None] ** 2 + xx[None, :] ** 2) / (2 * cfg.centre_sigma ** 2))
            score = np.bincount(lf, weights=wgt.ravel(), minlength=nlab + 1)[1:]
            if cfg.span_power > 0:
                # a 2D box is tight around the object's visible pixels: the object's component spans it
                # (background and occluders usually span only part of it)
                sl = ndimage.find_objects(lab)
                span = np.array([((t[0].stop - t[0].start) / hh) * ((t[1].stop - t[1].start) / ww)
                                 if t is not None else 0.0 for t in sl])
                score = score * span ** cfg.span_power
            theirs = None
            if others and cfg.other_box_weight < 1.0:
                theirs = other_objects(lab, nlab, others, r0, c0, st, bbox, cfg)
            if theirs is not None:
                score = np.where(theirs, score * cfg.other_box_weight, score)
        else:
            score = counts
            theirs = None
        mean_z = np.bincount(lf, weights=dz.ravel(), minlength=nlab + 1)[1:] / np.maximum(counts, 1.0)
        best = int(np.argmax(score))
        zb = mean_z[best]
        keep = (np.abs(mean_z - zb) <= cfg.merge_depth_rel * zb) & (counts >= cfg.merge_min_frac * counts[best])
        if theirs is not None:
            keep &= ~theirs
        keep[best] = True
        sel = np.concatenate([[False], keep])[lab]
    else:
        sel = ok


    iv, iu = np.nonzero(sel)
    if len(iv) > cfg.max_points:
        pick = np.linspace(0, len(iv) - 1, cfg.max_points).astype(np.int64)
        iv, iu = iv[pick], iu[pick]
    if cfg.smooth_px > 0:
        P, z_sel = smoothed_points(sel, dz, iv, iu, K, r0, c0, st, cfg.smooth_px)
    else:
        z_sel = dz[iv, iu]
        P = np.stack([z_sel * (ax[iu] + bx[iv]), z_sel * by[iv], z_sel], axis=1)
    q = P @ G
    keep = robust_keep(q, cfg.outlier_k)
    if keep.sum() >= cfg.min_points:
        q = q[keep]
        z_sel = z_sel[keep]
    if len(q) < cfg.min_points:
        raise LiftReject("too_few_points", f"{len(q)} points after outlier rejection")
    prior = lookup(ann.get("category"))
    if box_only and prior is not None and cfg.footprint_radius > 0:
        q, z_sel = footprint_trim(q, z_sel, prior, cfg)


    flags: list[str] = []
    if box_only:
        flags.append("box_only")
    x1, y1, x2, y2 = (float(t) for t in bbox)
    bp = cfg.border_px
    trunc_v = y1 <= bp - 0.5 or y2 >= H - 0.5 - bp
    cut_lr = (x1 <= bp - 0.5, x2 >= W - 0.5 - bp)
    if any(cut_lr) or trunc_v:
        flags.append("truncated")
    z_near = float(np.percentile(z_sel, 5))
    margin = max(0.10, 0.05 * z_near)
    occ_frac = float((valid & (d < z_near - margin)).sum()) / max(1, int(valid.sum()))
    if occ_frac > 0.10:
        flags.append("occluded")
    cover = float(region_valid.sum()) / max(1, n_region)
    contact = reach = None
    if down is not None and (cfg.floor_contact or cfg.box_reach):
        ground_range = points_ground_range(q)
        if cfg.floor_contact:
            contact = floor_contact(bbox, K, G, floor_h, ground_range, H, cfg)
            if contact is False and "occluded" in flags:
                contact = None  # the box's bottom edge may be an occluder's top edge
        if cfg.box_reach:
            reach = bottom_reach(bbox, K, G, ground_range, H)
            if support is not None:  # it stands on the support surface found under it
                reach = support if reach is None else max(reach, support)
            if reach is not None and floor_h is not None:
                reach = min(reach, floor_h)  # never below the floor
    if prior is not None and prior.modes:  # bimodal category (floor / table lamp): the mode that fits
        lo_, hi_ = np.percentile(q[:, 1], [cfg.pct_lo, cfg.pct_hi])
        if reach is not None:
            hi_ = max(hi_, reach)
        to_floor = None if (floor_h is None or trunc_v or contact is False) else float(floor_h - lo_)
        prior = resolve_mode(prior, float(hi_ - lo_), to_floor, on_floor=contact is True)
    top = None
    if box_only and cfg.on_top_boxes and others:
        top = top_without_on_top(q, K, G, others, bbox, cfg)
    return Observation(ann, list(bbox), box_only, q, z_sel, flags, cover, prior, trunc_v, cut_lr, contact, reach, top)
