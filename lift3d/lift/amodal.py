"""Amodal completion helpers: the prior's horizontal extents assigned to the box axes, a top face seen from above,
sides hidden behind an occluder or the image border, the space in front of the seen surface hidden by an occluder,
and the projected corners of a gravity-aligned box."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.camera import project
from lift3d.lift.boxgeom import box_corners_cam, outward
from lift3d.lift.config import LiftConfig
from lift3d.lift.crop import valid_depths
from lift3d.lift.quantiles import percentile


MIN_PIXELS = 10  # valid pixels a depth test beside (hidden_sides) or inside (occluded_slab) the box needs
NEAR_MARGIN, NEAR_MARGIN_REL = 0.05, 0.02  # m, share of the depth: "nearer" / "behind" means beyond this margin
TOP_MIN_POINTS = 20  # points on the top needed to call it a face (top_face_seen)
SLAB_MIN_Z = 0.05  # m; a slab with a corner nearer than this to the camera plane is not tested
SLAB_PIXELS = 400.0  # the slab's image box is read at a stride giving about this many pixels


def assign_prior(m: np.ndarray, vis: np.ndarray, p_short: float, p_long: float):
    """Assign the prior's (short, long) horizontal extents to the two measured axes (u, v)."""
    def cost(pu, pv):
        c = 0.0
        for mi, pi, vi in ((m[0], pu, vis[0]), (m[1], pv, vis[1])):
            r = np.log(max(mi, 1e-3) / pi)
            c += r * r if r > 0 else vi * r * r
        return c


    a = (p_short, p_long)
    b = (p_long, p_short)
    return np.array(a) if cost(*a) <= cost(*b) else np.array(b)


def hidden_sides(depth: np.ndarray, bbox, cut_lr, z_near: float, scale: float, cfg: LiftConfig) -> tuple[int, int]:
    """(left, right): 1 where the 2D box's side edge is the image border (``cut_lr``) or has an occluder beyond it.


    An occluder: at least ``side_min_share`` of the valid pixels in a ``side_band_px`` band starting
    ``side_gap_px`` beyond the edge (over the box's rows) are nearer than ``z_near`` (the object's near
    depth, metres at the image's depth scale) by 5 cm + 2 %.  Free space or a background beside the object
    means its extent ends there.
    """
    H, W = depth.shape
    x1, y1, x2, y2 = (float(t) for t in bbox)
    r0, r1 = max(0, int(np.floor(y1))), min(H, int(np.ceil(y2)) + 1)
    g, b = cfg.amodal.side_gap_px, cfg.amodal.side_band_px
    out = []
    for cut, lo, hi in ((cut_lr[0], int(np.floor(x1)) - g - b, int(np.floor(x1)) - g),
                        (cut_lr[1], int(np.ceil(x2)) + g, int(np.ceil(x2)) + g + b)):
        if cut:
            out.append(1)
            continue
        d = valid_depths(depth[r0:r1, max(0, lo):min(W, hi)], scale)
        near = (len(d) >= MIN_PIXELS
                and float(np.mean(d < z_near - (NEAR_MARGIN + NEAR_MARGIN_REL * z_near))) >= cfg.amodal.side_min_share)
        out.append(int(near))
    return out[0], out[1]


def top_face_seen(d: np.ndarray, u: np.ndarray, v: np.ndarray, ext: np.ndarray, top: float, cfg: LiftConfig) -> bool:
    """Whether the object's top is a horizontal face seen from above that spans its seen footprint.


    ``d`` is the points' down coordinate (camera at 0), ``u``/``v`` their ground coordinates along the box axes,
    ``ext`` the seen (u, v) extents and ``top`` the top's down coordinate.  The points within ``top_tol`` of the
    top must cover ``top_cover`` of ``ext`` along both axes and at least ``top_min_ext`` metres (the rim of a
    backrest or a panel is thin along one axis), and the top must lie ``top_min_below`` under the camera.  Then
    the far side of the footprint is seen, not hidden behind the visible surface.
    """
    if not top > cfg.amodal.top_min_below:
        return False
    t = d <= top + cfg.amodal.top_tol
    if int(t.sum()) < TOP_MIN_POINTS:
        return False
    span = np.array([np.ptp(percentile(u[t], [cfg.extent.pct_lo, cfg.extent.pct_hi])),
                     np.ptp(percentile(v[t], [cfg.extent.pct_lo, cfg.extent.pct_hi]))])
    return bool(np.all(span >= cfg.amodal.top_cover * ext) and span.min() >= cfg.amodal.top_min_ext)




def occluded_slab(depth, K, G, c, s, e4, hl, hh_, scale, cfg) -> bool:
    """Is the box ``e4`` (rotated ground coordinates, down extents hl..hh_) hidden behind something nearer?
    Most of the image pixels inside its projection show depths in front of it and few show depths behind
    it (free space seen through it)."""
    P = box_corners_cam(G, c, s, *e4, hl, hh_)
    z = P[:, 2]
    if not (z > SLAB_MIN_Z).all():
        return False
    x, y = project(P, K).T
    H, W = depth.shape
    x0, x1 = max(0, int(np.ceil(x.min()))), min(W - 1, int(np.floor(x.max())))
    y0, y1 = max(0, int(np.ceil(y.min()))), min(H - 1, int(np.floor(y.max())))
    if x1 < x0 or y1 < y0:
        return False
    st = max(1, int(np.ceil(np.sqrt((x1 - x0 + 1) * (y1 - y0 + 1) / SLAB_PIXELS))))
    dd = valid_depths(depth[y0:y1 + 1:st, x0:x1 + 1:st], scale)
    if len(dd) < MIN_PIXELS:
        return False
    m = NEAR_MARGIN + NEAR_MARGIN_REL * float(z.mean())
    behind = float(np.mean(dd > z.max() + m))
    front = float(np.mean(dd < z.min() - m))
    return behind < cfg.amodal.near_max_behind and front > cfg.amodal.near_min_front


MIN_ADD = 1e-4  # m; a completion smaller than this along an axis is none
NEAR_MIN_ADD = 0.05  # m; only a completion larger than this may go in front of the seen surface
COMPLETED_SHARE = 0.05  # "amodal_completed" when the completion is more than this share of an axis' extent
PRIOR_HEIGHT_SCALE = (0.75, 1.33)  # the prior's footprint follows the seen height / prior height within this range
NO_PRIOR_MIN_EXT = 0.05  # m; without a prior the short side is completed towards the long side (at least this) ...
NO_PRIOR_SHARE = 0.6  # ... up to this share of it or of the height
SIDE_NEAR_PCT = 10.0  # the object's near depth for the occluder test beside it: this percentile of its depths


def complete_height(ob, hl: float, hh_: float, on_floor: bool, floor_h, scale: float, cfg: LiftConfig):
    """(hl, hh_, on_floor): an occluded or vertically cut object seen over less than ``height_complete`` of its
    category's height (and not on the floor) gets the prior's height, from the side that is not seen (the
    bottom, or the top when the box is cut by the image's top border), down to the floor at most."""
    prior, height = ob.prior, hh_ - hl
    floor_h = floor_h if ob.floor is None else ob.floor
    if (cfg.amodal.height_complete > 0 and prior is not None and not on_floor
            and height < cfg.amodal.height_complete * prior.h
            and ("occluded" in ob.flags or ob.trunc_v)):
        # the seen part is a sliver of an object hidden by an occluder (usually in front of its lower part)
        # or cut by the image border: the category's height, from the side that is not seen
        if ob.trunc_v and float(ob.bbox[1]) <= cfg.crop.border_px - 0.5:
            hl = hh_ - prior.h
        else:
            hh_ = hl + prior.h
            if floor_h is not None and hh_ >= floor_h / scale:
                hh_, on_floor = floor_h / scale, True
    return hl, hh_, on_floor


def view_axes(c: float, s: float, e4: list):
    """(vis, across, far) of the ground-plane box ``e4`` = [ul, uh, vl, vh] on the axes u = (c, s), v = (-s, c):
    vis[axis] how much that axis lies across the line of sight (1: across, 0: along), ``across`` the axis most
    across it, and far[axis] the e4 index of the face of each axis away from the camera (at the origin of the
    ground plane): the side the unseen part of the object is on.

    An axis' extent is seen on the faces that run along it (for u the faces v = vl and v = vh), and only on the one
    facing the camera: vis is the sine of the angle between the axis and the ray to that face's middle, and 0 when
    the camera lies between the two faces (a truck seen from straight behind shows no side, however far its centre
    lies off the view's axis)."""
    ul, uh, vl, vh = e4
    centre2 = np.array([0.5 * (ul + uh), 0.5 * (vl + vh)])  # in (u, v)
    vis = np.array([_face_sine(vl, vh, centre2[0]), _face_sine(ul, uh, centre2[1])])
    across = int(np.argmax(vis))  # the horizontal box axis most across the view
    far = (1 if centre2[0] >= 0.0 else 0, 3 if centre2[1] >= 0.0 else 2)
    return vis, across, far


def _face_sine(lo: float, hi: float, mid: float) -> float:
    """The sine of the angle between an axis and the ray to the middle of the face along it that faces the camera:
    the faces lie at ``lo`` and ``hi`` across the axis (the camera at 0), their middles at ``mid`` along it; 0 when
    the camera lies between them."""
    if lo <= 0.0 <= hi:
        return 0.0
    off = lo if lo > 0.0 else hi
    return float(abs(off) / max(np.hypot(off, mid), 1e-9))


def prior_extents(prior, ext: np.ndarray, vis: np.ndarray, height: float, flags, cfg: LiftConfig) -> np.ndarray:
    """The expected (u, v) extents: the category prior's footprint (scaled by the seen height when the object is
    fully seen, ``prior_scale_by_height``) assigned to the axes (:func:`assign_prior`); without a prior, the
    short side completed towards the long one."""
    if prior is not None:
        sc = 1.0
        if cfg.amodal.prior_scale_by_height and height > 0 and "truncated" not in flags and "occluded" not in flags:
            sc = float(np.clip(height / prior.h, *PRIOR_HEIGHT_SCALE))
        p_s, p_l = prior.horizontal
        return assign_prior(ext, vis, p_s * sc, p_l * sc)
    mx = float(max(ext.max(), NO_PRIOR_MIN_EXT))
    return np.where(ext >= ext.max(), ext, np.minimum(mx, max(NO_PRIOR_SHARE * mx, height * NO_PRIOR_SHARE)))


def complete_far_side(e4: list, ext, vis, far, pe, d, u, v, hl, hh_, depth, K, G, c, s, scale, cfg: LiftConfig):
    """(e4, add, completed): each horizontal axis is extended by ``amodal_strength`` x (1 - vis) x its shortfall
    against the expected extents ``pe`` (a quarter of it when a top face seen from above spans the footprint,
    :func:`top_face_seen`), on its far side - or ``near_complete`` of it in front of the seen surface where an
    occluder hides that space (:func:`occluded_slab`).  ``d``, ``u``, ``v``: the points' down and ground
    coordinates."""
    short = np.maximum(pe - ext, 0.0)
    add = cfg.amodal.strength * (1.0 - vis) * short
    if cfg.amodal.top_keep < 1.0 and top_face_seen(d, u, v, ext, hl, cfg):
        add = add * cfg.amodal.top_keep
    completed = False
    for axis in (0, 1):  # extend the far side of each axis (and the near side when it is hidden)
        if add[axis] > MIN_ADD:
            completed = True
            k, kn = far[axis], far[axis] ^ 1  # e4 indices of the far and the near face of this axis
            sign = outward(k)  # the far face moves out by +add (upper bound) or -add
            share = 0.0
            if cfg.amodal.near_complete > 0 and depth is not None and K is not None and add[axis] > NEAR_MIN_ADD:
                slab = list(e4)  # what the completion would add in front of the near face
                slab[kn], slab[k] = e4[kn] - sign * add[axis], e4[kn]
                if occluded_slab(depth, K, G, c, s, slab, hl, hh_, scale, cfg):
                    share = cfg.amodal.near_complete
            e4[k] += sign * (1.0 - share) * add[axis]
            e4[kn] -= sign * share * add[axis]
    return e4, add, completed


def complete_hidden_sides(e4: list, pe, across: int, ob, depth, G, c, s, scale, cfg: LiftConfig) -> bool:
    """The extent across the view ends where the object goes behind an occluder or out of the image: when it falls
    short of the expected ``pe`` by more than (1 - ``side_frac``), ``side_complete`` of the shortfall is added on
    the hidden side(s) (:func:`hidden_sides`).  Changes ``e4`` in place; whether it did."""
    a = across
    short_a = pe[a] - (e4[2 * a + 1] - e4[2 * a])
    if short_a > (1.0 - cfg.amodal.side_frac) * pe[a]:
        z_near = float(percentile(ob.z_sel, SIDE_NEAR_PCT)) / scale
        hidden = hidden_sides(depth, ob.bbox, ob.cut_lr, z_near, scale, cfg)
        if any(hidden):
            grow = cfg.amodal.side_complete * short_a / sum(hidden)
            axis_cam = G @ (np.array([c, 0.0, s]) if a == 0 else np.array([-s, 0.0, c]))
            low_side = 0 if axis_cam[0] > 0 else 1  # the image side (0 left, 1 right) of the axis' lower face
            e4[2 * a] -= grow * hidden[low_side]
            e4[2 * a + 1] += grow * hidden[1 - low_side]
            return True
    return False


def square_footprint(e4: list, ext, add, across: int, far, prior, cfg: LiftConfig) -> list:
    """A round or about square prior footprint (short side >= ``square_ratio`` x long side: a lamp, a chair): its
    depth is its width, which the view shows across it (after the 2D box's side edges were reached) better than
    the prior does - the completed depth goes ``square_blend`` of the way to the width."""
    if prior is None or not prior.horizontal[0] >= cfg.amodal.square_ratio * prior.horizontal[1]:
        return e4
    a, b = across, 1 - across
    if add[b] > MIN_ADD:
        ea, eb = e4[2 * a + 1] - e4[2 * a], e4[2 * b + 1] - e4[2 * b]
        new_b = max(float(ext[b]), eb + cfg.amodal.square_blend * (ea - eb))
        e4[far[b]] += outward(far[b]) * (new_b - eb)
    return e4
