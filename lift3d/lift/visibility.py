"""Does the lifted box agree with what the image shows around its 2D box? (pure numpy)

A tight 2D box bounds what is seen of the object.  Where the lifted 3D box projects *outside* that 2D box, the object
must be hidden there: something nearer than the box must cover those pixels.  A pixel whose depth lies clearly
*behind* the box's far side along its ray shows the scene through the place where the box would be: the box cannot
be there.  A box lifted from the wrong points (a nearer occluder taken for the object, a soft-edged smear along the
view) projects far beyond its 2D box over such see-through pixels; a right box projects onto its 2D box up to a few
pixels at its corners.  The test does not depend on the depth's scale or on the focal length: a box scaled about the
camera projects onto the same pixels, and the box and the depth are read with the same intrinsics and scale.
"""

from __future__ import annotations

import numpy as np

MAX_SAMPLES = 4000  # the projected region is read on a stride giving at most this many pixels


def box_ray_span(centre: np.ndarray, dims: np.ndarray, R: np.ndarray, rays: np.ndarray):
    """(entry, exit) camera-z of rays ``rays`` (N, 3; z = 1) through the box ``centre`` / ``dims`` (w, h, l) / ``R``
    (object -> camera; corners = centre + R (+-w/2, +-h/2, +-l/2)); entry > exit where a ray misses it."""
    o = -(R.T @ np.asarray(centre, dtype=np.float64))  # the camera centre in the box frame
    d = rays @ R  # ray directions in the box frame (R^T r per row)
    half = 0.5 * np.asarray(dims, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half[None, :] - o[None, :]) / d
        t2 = (half[None, :] - o[None, :]) / d
    # a ray parallel to a slab: inside it for every t (-inf, inf) or outside it for every t (inf, -inf)
    par = np.abs(d) < 1e-12
    inside = np.abs(o)[None, :] <= half[None, :]
    lo = np.where(par, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    hi = np.where(par, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return np.maximum(lo.max(axis=1), 0.0), hi.min(axis=1)


def see_through_area(centre, dims, R, bbox, depth: np.ndarray, K: np.ndarray, band_px: float,
                     rel_margin: float, abs_margin: float, limit: float = np.inf, depth_scale: float = 1.0) -> float:
    """The area (in px, over the 2D box's area) where the box projects outside its 2D box ``bbox`` (grown by
    ``band_px`` on every side: soft edges and the box's corners) and the image shows the scene behind it: a valid
    depth beyond the box's exit along that pixel's ray by more than ``max(abs_margin, rel_margin x exit)``.
    ``depth`` / ``depth_scale`` in the box's units (z, metres at the image's scale; only the pixels read are divided).
    0 without reading a pixel when the projection's bounding rectangle outside the grown 2D box is not larger than
    ``limit`` (nothing there could exceed it)."""
    H, W = depth.shape
    x1, y1, x2, y2 = (float(t) for t in bbox)
    area = max((x2 - x1) * (y2 - y1), 1.0)
    corners = np.array([[sx, sy, sz] for sx in (-0.5, 0.5) for sy in (-0.5, 0.5) for sz in (-0.5, 0.5)])
    P = np.asarray(centre, dtype=np.float64)[None, :] + (corners * np.asarray(dims)[None, :]) @ R.T
    if np.any(P[:, 2] <= 1e-6):
        return 0.0  # a corner at or behind the camera: its projection is unbounded (not judged here)
    uv = (P @ K.T)[:, :2] / (P @ K.T)[:, 2:3]
    u0, v0 = max(np.floor(uv[:, 0].min()), 0.0), max(np.floor(uv[:, 1].min()), 0.0)
    u1, v1 = min(np.ceil(uv[:, 0].max()), W - 1.0), min(np.ceil(uv[:, 1].max()), H - 1.0)
    if u1 < u0 or v1 < v0:
        return 0.0
    gx = max(0.0, min(u1, x2 + band_px) - max(u0, x1 - band_px))
    gy = max(0.0, min(v1, y2 + band_px) - max(v0, y1 - band_px))
    if np.isfinite(limit) and ((u1 - u0 + 1) * (v1 - v0 + 1) - gx * gy) / area <= limit:
        return 0.0
    st = max(1, int(np.ceil(np.sqrt((u1 - u0 + 1) * (v1 - v0 + 1) / MAX_SAMPLES))))
    uu = np.arange(u0, u1 + 1, st)
    vv = np.arange(v0, v1 + 1, st)
    U, V = np.meshgrid(uu, vv)
    out = ~((U >= x1 - band_px) & (U <= x2 + band_px) & (V >= y1 - band_px) & (V <= y2 + band_px))
    if not out.any():
        return 0.0
    u, v = U[out], V[out]
    z = depth[v.astype(np.int64), u.astype(np.int64)]
    z = (z / depth_scale if depth_scale != 1.0 else z).astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=1)
    t_in, t_out = box_ray_span(centre, dims, R, rays)
    hit = t_out >= t_in
    behind = np.isfinite(z) & (z > 0) & (z > t_out + np.maximum(abs_margin, rel_margin * t_out))
    return float(np.count_nonzero(hit & behind)) * st * st / area
