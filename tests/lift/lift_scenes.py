"""Analytic RGB-D scenes (helpers shared by the lift tests; imported by name, not through conftest): exact depth maps ray-cast from oriented boxes standing on a floor plane."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import Box3D, gravity_frame, rot_y
from lift3d.geometry.camera import K_from_fov


def raycast(K, H, W, boxes, down=(0.0, 1.0, 0.0), cam_h=1.3, wall_dist=None):
    """Depth (z, metres) and per-pixel owner id (-1 floor, -2 wall, -3 nothing, i = boxes[i])."""
    Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    vv, uu = np.mgrid[0:H, 0:W].astype(np.float64)
    pix = np.stack([uu, vv, np.ones_like(uu)], axis=-1)
    rays = pix @ np.linalg.inv(Km).T  # z component 1: t = depth
    best = np.full((H, W), np.inf)
    owner = np.full((H, W), -3, dtype=np.int64)
    d = np.asarray(down, dtype=np.float64)
    d = d / np.linalg.norm(d)

    def hit_plane(normal, dist, label):  # the plane {p: p . normal = dist} in front of the camera
        rn = rays @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rn > 1e-9, dist / rn, np.inf)
        upd = t < best
        best[upd] = t[upd]
        owner[upd] = label

    hit_plane(d, cam_h, -1)  # floor
    if wall_dist is not None:  # vertical wall facing the camera at wall_dist along the ground forward axis
        hit_plane(gravity_frame(d)[:, 2], wall_dist, -2)
    for i, b in enumerate(boxes):
        R = np.asarray(b.R)
        o = -(R.T @ b.center)
        r = rays @ R  # local ray directions
        half = b.dims / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-half - o) / r
            t2 = (half - o) / r
        tmin = np.nanmax(np.minimum(t1, t2), axis=-1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tmin <= tmax) & (tmax > 0) & (tmin > 0)
        upd = hit & (tmin < best)
        best[upd] = tmin[upd]
        owner[upd] = i
    depth = np.where(np.isfinite(best), best, 0.0).astype(np.float32)
    return depth, owner


def box_on_floor(x, z, dims, yaw, down=(0.0, 1.0, 0.0), cam_h=1.3, lift=0.0):
    """Gravity-aligned box resting on the floor (bottom at cam_h below the camera), ground position (x, z)."""
    G = gravity_frame(np.asarray(down, dtype=np.float64))
    dims = np.asarray(dims, dtype=np.float64)
    centre_g = np.array([x, cam_h - lift - dims[1] / 2.0, z])
    return Box3D(G @ centre_g, dims, G @ rot_y(yaw))


def bbox_of(mask):
    ys, xs = np.nonzero(mask)
    return [float(xs.min()) - 0.5, float(ys.min()) - 0.5, float(xs.max()) + 0.5, float(ys.max()) + 0.5]


def lamp_on_table(z=3.0, cam_h=1.5):
    """A table lamp (a 6 cm pole under a 0.3 m shade, 0.5 m in all) standing on a 1.4 m table."""
    table = box_on_floor(0.0, z, [1.4, 0.75, 0.9], 0.2, cam_h=cam_h)
    pole = box_on_floor(0.1, z, [0.06, 0.3, 0.06], 0.2, cam_h=cam_h, lift=0.75)
    shade = box_on_floor(0.1, z, [0.3, 0.2, 0.3], 0.2, cam_h=cam_h, lift=1.05)
    lamp = box_on_floor(0.1, z, [0.3, 0.5, 0.3], 0.2, cam_h=cam_h, lift=0.75)
    return [table, pole, shade], lamp
