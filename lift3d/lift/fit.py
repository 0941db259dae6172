"""Per annotation, the oriented box from its observation: yaw, vertical extent, amodal completion, cover growth,
plausibility checks, flags and quality."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import rot_y
from lift3d.lift.amodal import assign_prior, hidden_sides, occluded_slab, top_face_seen
from lift3d.lift.config import LiftConfig
from lift3d.lift.contact import object_height
from lift3d.lift.cover import cover_box_sides, outward
from lift3d.lift.result import LiftReject, Observation
from lift3d.lift.yaw import fit_yaw


def fit_box(ob: Observation, floor_h, down, G: np.ndarray, cfg: LiftConfig, scale: float = 1.0, K: np.ndarray | None = None,
         depth: np.ndarray | None = None) -> dict:
    """Oriented box from the points of one annotation (divided by the image's depth scale)."""
    ann, bbox, box_only, flags = ob.ann, ob.bbox, ob.box_only, list(ob.flags)
    q = ob.q / scale if scale != 1.0 else ob.q
    n_pts = int(len(q))


    # yaw on the ground plane
    g2 = q[:, [0, 2]]
    theta, yaw_conf = fit_yaw(g2, cfg.yaw_step_deg, cfg.pct_lo, cfg.pct_hi, cfg.yaw_points)
    c, s = np.cos(theta), np.sin(theta)
    u = c * g2[:, 0] + s * g2[:, 1]
    v = -s * g2[:, 0] + c * g2[:, 1]
    ul, uh = np.percentile(u, [cfg.pct_lo, cfg.pct_hi])
    vl, vh = np.percentile(v, [cfg.pct_lo, cfg.pct_hi])
    ext = np.array([uh - ul, vh - vl])


    # vertical extent and floor contact
    hl, hh_, on_floor = object_height(ob, floor_h, cfg, scale)
    height = hh_ - hl
    prior = ob.prior
    if (cfg.height_complete > 0 and prior is not None and not on_floor and height < cfg.height_complete * prior.h
            and ("occluded" in flags or ob.trunc_v)):
        # the seen part is a sliver of an object hidden by an occluder (usually in front of its lower part)
        # or cut by the image border: the category's height, from the side that is not seen
        if ob.trunc_v and float(bbox[1]) <= cfg.border_px - 0.5:
            hl = hh_ - prior.h
        else:
            hh_ = hl + prior.h
            if floor_h is not None and hh_ >= floor_h / scale:
                hh_, on_floor = floor_h / scale, True
        height = hh_ - hl


    # amodal completion of the unseen far side
    ru = np.array([c, s])  # u axis in (x, fwd)
    rv = np.array([-s, c])
    centre2 = np.array([0.5 * (ul + uh), 0.5 * (vl + vh)])  # in (u, v)
    ray = centre2[0] * ru + centre2[1] * rv
    ray = ray / max(np.linalg.norm(ray), 1e-9)
    vis = np.array([abs(ru[0] * ray[1] - ru[1] * ray[0]), abs(rv[0] * ray[1] - rv[1] * ray[0])])
    across = int(np.argmax(vis))  # the horizontal box axis most across the view
    completed = False
    add = np.zeros(2)
    # the ground-plane box as [ul, uh, vl, vh]; far[axis] indexes the face of each axis away from the camera
    # (at the origin of the ground plane): the side the unseen part of the object is on
    e4 = [ul, uh, vl, vh]
    far = (1 if centre2[0] >= 0.0 else 0, 3 if centre2[1] >= 0.0 else 2)
    if cfg.amodal:
        if prior is not None:
            sc = 1.0
            if cfg.prior_scale_by_height and height > 0 and "truncated" not in flags and "occluded" not in flags:
                sc = float(np.clip(height / prior.h, 0.75, 1.33))
            p_s, p_l = prior.horizontal
            pe = assign_prior(ext, vis, p_s * sc, p_l * sc)
        else:
            mx = float(max(ext.max(), 0.05))
            pe = np.where(ext >= ext.max(), ext, np.minimum(mx, max(0.6 * mx, height * 0.6)))
        short = np.maximum(pe - ext, 0.0)
        add = cfg.amodal_strength * (1.0 - vis) * short
        if cfg.top_keep < 1.0 and top_face_seen(q[:, 1], u, v, ext, hl, cfg):
            add = add * cfg.top_keep
        for axis in (0, 1):  # extend the far side of each axis (and the near side when it is hidden)
            if add[axis] > 1e-4:
                completed = True
                k, kn = far[axis], far[axis] ^ 1  # e4 indices of the far and the near face of this axis
                sign = outward(k)  # the far face moves out by +add (upper bound) or -add
                share = 0.0
                if cfg.near_complete > 0 and depth is not None and K is not None and add[axis] > 0.05:
                    slab = list(e4)  # what the completion would add in front of the near face
                    slab[kn], slab[k] = e4[kn] - sign * add[axis], e4[kn]
                    if occluded_slab(depth, K, G, c, s, slab, hl, hh_, scale, cfg):
                        share = cfg.near_complete
                e4[k] += sign * (1.0 - share) * add[axis]
                e4[kn] -= sign * share * add[axis]
    if cfg.side_complete > 0 and prior is not None and cfg.amodal and depth is not None and K is not None:
        # the extent across the view ends where the object goes behind an occluder or out of the image
        a = across
        short_a = pe[a] - (e4[2 * a + 1] - e4[2 * a])
        if short_a > (1.0 - cfg.side_frac) * pe[a]:
            hidden = hidden_sides(depth, bbox, ob.cut_lr, float(np.percentile(ob.z_sel, 10)) / scale, scale, cfg)
            if any(hidden):
                grow = cfg.side_complete * short_a / sum(hidden)
                axis_cam = G @ (np.array([c, 0.0, s]) if a == 0 else np.array([-s, 0.0, c]))
                low_side = 0 if axis_cam[0] > 0 else 1  # the image side (0 left, 1 right) of the axis' lower face
                e4[2 * a] -= grow * hidden[low_side]
                e4[2 * a + 1] += grow * hidden[1 - low_side]
                completed = True
    if completed and float(np.max(add / np.maximum(ext + add, 1e-6))) > 0.05:
        flags.append("amodal_completed")
    if cfg.cover_box and K is not None and depth is not None:
        if prior is not None:
            lim = max(prior.l, prior.w) * (1.0 + 2.0 * prior.rel_std)
        else:
            lim = 2.0 * float(max(ext.max(), 0.1))
        cap = max(0.0, lim - float(min(e4[1] - e4[0], e4[3] - e4[2])))
        if cap > 0:
            e4, _grown = cover_box_sides(e4, K, G, c, s, hl, hh_, bbox, *ob.cut_lr, cap, cfg.cover_tol_px,
                                          far=far, near_cost=cfg.cover_near_cost)
    if (cfg.square_blend > 0 and cfg.amodal and prior is not None
            and prior.horizontal[0] >= cfg.square_ratio * prior.horizontal[1]):
        # a round or about square footprint (a lamp, a chair): its depth is its width, which the view shows across
        # it (after the 2D box's side edges were reached) better than the prior does
        a, b = across, 1 - across
        if add[b] > 1e-4:
            ea, eb = e4[2 * a + 1] - e4[2 * a], e4[2 * b + 1] - e4[2 * b]
            new_b = max(float(ext[b]), eb + cfg.square_blend * (ea - eb))
            e4[far[b]] += outward(far[b]) * (new_b - eb)
    ul, uh, vl, vh = e4
    ext = np.array([uh - ul, vh - vl])


    # box: length axis = the longer horizontal extent
    if ext[0] >= ext[1]:
        L, wl = ru, (ext[1], ext[0])
    else:
        L, wl = rv, (ext[0], ext[1])
    yaw = float(np.arctan2(L[0], L[1]))
    # boxes are symmetric under a half turn: keep yaw in (-pi/2, pi/2]
    if yaw <= -np.pi / 2:
        yaw += np.pi
    elif yaw > np.pi / 2:
        yaw -= np.pi
    cu, cv = 0.5 * (ul + uh), 0.5 * (vl + vh)
    cx, cf = cu * c - cv * s, cu * s + cv * c
    centre_g = np.array([cx, 0.5 * (hl + hh_), cf])
    centre_cam = G @ centre_g
    R = G @ rot_y(yaw)
    dims = np.array([wl[0], height, wl[1]], dtype=np.float64)
    dims = np.maximum(dims, cfg.min_dim * 0.5)  # a perfectly flat face still gets a sliver


    if not np.all(np.isfinite(dims)) or not np.all(np.isfinite(centre_cam)):
        raise LiftReject("lift_error", "non-finite box")
    if dims.max() > cfg.max_dim or dims.max() < cfg.min_dim:
        raise LiftReject("implausible_size", f"dimensions {np.round(dims, 3).tolist()}")
    if prior is not None and dims.max() > cfg.max_prior_ratio * max(prior.w, prior.h, prior.l):
        raise LiftReject("implausible_size",
                      f"dimensions {np.round(dims, 2).tolist()} vs prior {[prior.w, prior.h, prior.l]}")
    if centre_cam[2] <= 0:
        raise LiftReject("implausible_size", "box centre behind the camera")


    if n_pts < cfg.few_points:
        flags.append("few_points")
    square = min(ext) / max(max(ext), 1e-6) > 0.85
    if yaw_conf < 0.25 or square or down is None:
        flags.append("yaw_unreliable")
    if on_floor:
        flags.append("on_floor")
    if scale != 1.0:
        flags.append("depth_rescaled")


    # quality: points, depth coverage of the region, truncation, occlusion, yaw, completion share
    qual = min(1.0, n_pts / 400.0) ** 0.5 * (0.5 + 0.5 * ob.cover)
    qual *= 0.75 if "truncated" in flags else 1.0
    qual *= 0.8 if "occluded" in flags else 1.0
    qual *= 0.7 + 0.3 * yaw_conf
    qual *= 0.85 if "amodal_completed" in flags else 1.0
    qual *= 0.85 if box_only else 1.0


    aid = ann.get("annotation_id")
    return {
        "annotation_id": int(aid) if aid is not None else None,
        "category": str(ann.get("category", "")),
        "bbox2d": [float(t) for t in bbox],
        "center_cam": [float(t) for t in centre_cam],
        "dimensions": [float(t) for t in dims],
        "R_cam": [float(t) for t in R.reshape(9)],
        "yaw": yaw,
        "quality": float(np.clip(qual, 0.0, 1.0)),
        "flags": flags,
        "num_points": n_pts,
        "mask_source": "box" if box_only else "dataset",
        "yaw_confidence": float(yaw_conf),
        "on_floor": bool(on_floor),
    }
