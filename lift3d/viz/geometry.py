"""Pure-numpy helpers for drawing boxes: near-plane clipping, projection, bird's-eye-view coordinates."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import EDGES, FRONT_FACE, box_corners, gravity_frame
from lift3d.geometry.camera import project

NEAR = 0.1  # metres: edges are clipped to z >= NEAR before projecting


def clip_segment(p0, p1, near: float = NEAR) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of the 3D segment p0-p1 with z >= near, or None when it lies wholly behind."""
    p0 = np.asarray(p0, dtype=np.float64)
    p1 = np.asarray(p1, dtype=np.float64)
    z0, z1 = p0[2], p1[2]
    if z0 < near and z1 < near:
        return None
    if z0 >= near and z1 >= near:
        return p0, p1
    t = (near - z0) / (z1 - z0)
    q = p0 + t * (p1 - p0)
    q[2] = near
    return (q, p1) if z0 < near else (p0, q)


def clip_polygon(poly, near: float = NEAR) -> np.ndarray:
    """Sutherland-Hodgman clip of a 3D polygon (N, 3) to the half-space z >= near; (M, 3), M may be 0."""
    pts = np.asarray(poly, dtype=np.float64)
    out = []
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        ina, inb = a[2] >= near, b[2] >= near
        if ina:
            out.append(a)
        if ina != inb:
            t = (near - a[2]) / (b[2] - a[2])
            q = a + t * (b - a)
            q[2] = near
            out.append(q)
    return np.array(out).reshape(-1, 3)


def projected_edges(corners: np.ndarray, K, near: float = NEAR) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(i, j, uv_i, uv_j) for each box edge that is at least partly in front of the near plane."""
    out = []
    for i, j in EDGES:
        seg = clip_segment(corners[i], corners[j], near)
        if seg is None:
            continue
        uv = project(np.stack(seg), K)
        out.append((i, j, uv[0], uv[1]))
    return out


def projected_front_face(corners: np.ndarray, K, near: float = NEAR) -> np.ndarray:
    """(M, 2) pixel polygon of the box's front face, clipped to the near plane (M may be 0)."""
    poly = clip_polygon(corners[list(FRONT_FACE)], near)
    return project(poly, K) if len(poly) >= 3 else np.zeros((0, 2))


def object_corners(obj: dict) -> np.ndarray:
    return box_corners(obj["center_cam"], obj["dimensions"], np.asarray(obj["R_cam"], dtype=np.float64).reshape(3, 3))


def to_bev(points, down) -> np.ndarray:
    """(N, 2) bird's-eye coordinates (x right, forward) in the gravity frame (camera frame if down is None)."""
    G = gravity_frame(None if down is None else np.asarray(down, dtype=np.float64))
    g = np.asarray(points, dtype=np.float64).reshape(-1, 3) @ G
    return g[:, [0, 2]]


def fov_rays(K, width: int, down) -> tuple[np.ndarray, np.ndarray]:
    """Unit BEV directions of the left and right image borders (rays through u = -0.5 and width - 0.5 at cy)."""
    Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    Kinv = np.linalg.inv(Km)
    rays = []
    for u in (-0.5, width - 0.5):
        d = Kinv @ np.array([u, Km[1, 2], 1.0])
        b = to_bev(d, down)[0]
        n = np.linalg.norm(b)
        rays.append(b / n if n > 1e-9 else np.array([0.0, 1.0]))
    return rays[0], rays[1]


def convex_hull_2d(pts) -> np.ndarray:
    """Counter-clockwise convex hull (monotone chain) of (N, 2) points."""
    p = sorted({(float(x), float(y)) for x, y in np.asarray(pts, dtype=np.float64)})
    if len(p) <= 2:
        return np.array(p).reshape(-1, 2)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for q in p:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    for q in reversed(p):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])
