"""Amodal completion helpers: the prior's horizontal extents assigned to the box axes, a top face seen from above,
sides hidden behind an occluder or the image border, the space in front of the seen surface hidden by an occluder,
and the projected corners of a gravity-aligned box."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.camera import project
from lift3d.lift.config import LiftConfig
from lift3d.lift.crop import valid_depths


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
    g, b = cfg.side_gap_px, cfg.side_band_px
    out = []
    for cut, lo, hi in ((cut_lr[0], int(np.floor(x1)) - g - b, int(np.floor(x1)) - g),
                        (cut_lr[1], int(np.ceil(x2)) + g, int(np.ceil(x2)) + g + b)):
        if cut:
            out.append(1)
            continue
        d = valid_depths(depth[r0:r1, max(0, lo):min(W, hi)], scale)
        near = len(d) >= 10 and float(np.mean(d < z_near - (0.05 + 0.02 * z_near))) >= cfg.side_min_share
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
    if not top > cfg.top_min_below:
        return False
    t = d <= top + cfg.top_tol
    if int(t.sum()) < 20:
        return False
    span = np.array([np.ptp(np.percentile(u[t], [cfg.pct_lo, cfg.pct_hi])),
                     np.ptp(np.percentile(v[t], [cfg.pct_lo, cfg.pct_hi]))])
    return bool(np.all(span >= cfg.top_cover * ext) and span.min() >= cfg.top_min_ext)


def box_corners_cam(G: np.ndarray, c: float, s: float, ul, uh, vl, vh, hl, hh_) -> np.ndarray:
    """Camera-frame (8, 3) corners of a gravity-aligned box given in rotated ground coordinates (u, v at yaw
    (c, s)) and down extents."""
    u = np.array([ul, uh, ul, uh, ul, uh, ul, uh], dtype=np.float64)
    v = np.array([vl, vl, vh, vh, vl, vl, vh, vh], dtype=np.float64)
    d = np.array([hl, hl, hl, hl, hh_, hh_, hh_, hh_], dtype=np.float64)
    return np.stack([u * c - v * s, d, u * s + v * c], axis=1) @ G.T


def box_corners_px(K: np.ndarray, G: np.ndarray, c: float, s: float, ul, uh, vl, vh, hl, hh_) -> np.ndarray:
    """Image x coordinates of the 8 corners of a gravity-aligned box given in rotated ground coordinates
    (u, v at yaw (c, s)) and down extents; nan for corners at or behind the camera."""
    P = box_corners_cam(G, c, s, ul, uh, vl, vh, hl, hh_)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = project(P, K)[:, 0]
    return np.where(P[:, 2] > 1e-6, x, np.nan)


def occluded_slab(depth, K, G, c, s, e4, hl, hh_, scale, cfg) -> bool:
    """Is the box ``e4`` (rotated ground coordinates, down extents hl..hh_) hidden behind something nearer?
    Most of the image pixels inside its projection show depths in front of it and few show depths behind
    it (free space seen through it)."""
    P = box_corners_cam(G, c, s, *e4, hl, hh_)
    z = P[:, 2]
    if not (z > 0.05).all():
        return False
    x, y = project(P, K).T
    H, W = depth.shape
    x0, x1 = max(0, int(np.ceil(x.min()))), min(W - 1, int(np.floor(x.max())))
    y0, y1 = max(0, int(np.ceil(y.min()))), min(H - 1, int(np.floor(y.max())))
    if x1 < x0 or y1 < y0:
        return False
    st = max(1, int(np.ceil(np.sqrt((x1 - x0 + 1) * (y1 - y0 + 1) / 400.0))))
    dd = valid_depths(depth[y0:y1 + 1:st, x0:x1 + 1:st], scale)
    if len(dd) < 10:
        return False
    m = 0.05 + 0.02 * float(z.mean())
    behind = float(np.mean(dd > z.max() + m))
    front = float(np.mean(dd < z.min() - m))
    return behind < cfg.near_max_behind and front > cfg.near_min_front
