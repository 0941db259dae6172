"""Exact intersection-over-union of oriented 3D boxes (see ``boxes.py`` for the convention).

Two paths, both exact up to floating point:

* **Fast path** - the boxes share their up axis (column 1 of both ``R`` parallel, as for every
  gravity-aligned box): IoU = (area of the intersection of the two bird's-eye rectangles, by convex
  polygon clipping) x (overlap of the vertical intervals).
* **General path** - arbitrary orientations: the intersection of two convex polyhedra is the convex
  hull of (corners of A inside B) + (corners of B inside A) + (edge-face crossings both ways); its
  volume comes from ``scipy.spatial.ConvexHull``.

Pure numpy/scipy.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from lift3d.geometry.boxes import CORNER_SIGNS, EDGES, Box3D

_EDGE_IDX = np.asarray(EDGES, dtype=np.int64)
_PARALLEL_TOL = 1e-9


def _as_box(b) -> Box3D:
    if isinstance(b, Box3D):
        center, dims, R = b.center, b.dims, b.R
    elif isinstance(b, dict):
        return Box3D.from_row(b)
    else:
        center, dims, R = b
    return Box3D(np.asarray(center, float).reshape(3), np.asarray(dims, float).reshape(3),
                 np.asarray(R, float).reshape(3, 3))


def rect_overlap(a, b) -> float:
    """Area of the intersection of two axis-aligned rectangles (x1, y1, x2, y2); 0 when they do not overlap."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _polygon_area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _ccw(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    signed = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return poly if signed >= 0 else poly[::-1]


def convex_polygon_intersection(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Vertices of the intersection of two convex polygons (Sutherland-Hodgman), CCW."""
    out = _ccw(np.asarray(p, dtype=np.float64))
    clip = _ccw(np.asarray(q, dtype=np.float64))
    n = len(clip)
    for i in range(n):
        if len(out) == 0:
            break
        a, b = clip[i], clip[(i + 1) % n]
        edge = b - a
        # signed distance (cross product) of each vertex to the clip edge; >= 0 is inside (left)
        side = edge[0] * (out[:, 1] - a[1]) - edge[1] * (out[:, 0] - a[0])
        new = []
        m = len(out)
        for j in range(m):
            cur, nxt = out[j], out[(j + 1) % m]
            sc, sn = side[j], side[(j + 1) % m]
            if sc >= 0:
                new.append(cur)
            if (sc >= 0) != (sn >= 0):
                t = sc / (sc - sn)
                new.append(cur + t * (nxt - cur))
        out = np.asarray(new, dtype=np.float64).reshape(-1, 2)
    return out


def _iou_shared_up(a: Box3D, b: Box3D) -> float:
    """IoU for boxes whose column-1 axes are parallel (same up direction)."""
    up = a.R[:, 1]
    # common frame: A's own axes; B's corners expressed in it
    ca = (CORNER_SIGNS * (a.dims / 2.0))  # in A's frame
    cb = (b.corners() - a.center) @ a.R
    bev_a = ca[[0, 1, 5, 4]][:, [0, 2]]
    # B's bottom-face footprint: its 4 corners with one sign of its own local y, projected on A's xz
    cb_local = CORNER_SIGNS
    sel = np.nonzero(cb_local[:, 1] < 0)[0]
    bev_b = cb[sel][:, [0, 2]]
    # order B's 4 footprint points by angle around their centroid (convex quad)
    cen = bev_b.mean(axis=0)
    ang = np.arctan2(bev_b[:, 1] - cen[1], bev_b[:, 0] - cen[0])
    bev_b = bev_b[np.argsort(ang)]
    inter = _polygon_area(convex_polygon_intersection(bev_a, bev_b))
    # vertical intervals along A's up axis
    ha = a.dims[1] / 2.0
    hb_c = float((b.center - a.center) @ up)
    hb = b.dims[1] / 2.0
    dz = max(0.0, min(ha, hb_c + hb) - max(-ha, hb_c - hb))
    vi = inter * dz
    union = a.volume + b.volume - vi
    return float(vi / union) if union > 0 else 0.0


def _planes(box: Box3D) -> tuple[np.ndarray, np.ndarray]:
    """Outward normals (6, 3) and offsets (6,) with n . x <= d inside."""
    n = np.concatenate([box.R.T, -box.R.T], axis=0)
    half = np.concatenate([box.dims / 2.0, box.dims / 2.0])
    d = n @ box.center + half
    return n, d


def intersection_volume_general(a: Box3D, b: Box3D) -> float:
    """Volume of the intersection of two arbitrary oriented boxes (convex-hull construction)."""
    ca, cb = a.corners(), b.corners()
    pts = [ca[b.contains(ca, eps=1e-9)], cb[a.contains(cb, eps=1e-9)]]
    for src, dst in ((ca, b), (cb, a)):
        p0 = src[_EDGE_IDX[:, 0]]  # (12, 3)
        p1 = src[_EDGE_IDX[:, 1]]
        n, d = _planes(dst)  # (6, 3), (6,)
        denom = (p1 - p0) @ n.T  # (12, 6)
        num = d[None, :] - p0 @ n.T
        with np.errstate(divide="ignore", invalid="ignore"):
            t = num / denom
        ok = np.isfinite(t) & (t >= 0.0) & (t <= 1.0) & (np.abs(denom) > 1e-15)
        ei, pi = np.nonzero(ok)
        cand = p0[ei] + t[ei, pi][:, None] * (p1[ei] - p0[ei])
        if len(cand):
            pts.append(cand[dst.contains(cand, eps=1e-7)])
    allp = np.concatenate(pts, axis=0)
    if len(allp) < 4:
        return 0.0
    allp = np.unique(np.round(allp, 12), axis=0)
    if len(allp) < 4:
        return 0.0
    try:
        return float(ConvexHull(allp).volume)
    except QhullError:  # flat (zero-volume) intersection
        return 0.0


def shares_up_axis(a, b, tol: float = _PARALLEL_TOL) -> bool:
    a, b = _as_box(a), _as_box(b)
    return abs(abs(float(a.R[:, 1] @ b.R[:, 1])) - 1.0) < tol


def iou_3d(a, b, *, general: bool = False) -> float:  # noqa: C901
    """Exact 3D IoU of two oriented boxes (``Box3D``, object dicts, or (center, dims, R) tuples).

    ``general=True`` forces the general polyhedral path (for testing); otherwise the fast
    shared-up-axis path is used whenever it applies.
    """
    a, b = _as_box(a), _as_box(b)
    va, vb = a.volume, b.volume
    if va <= 0 or vb <= 0:
        return 0.0
    # quick reject: bounding spheres
    if np.linalg.norm(a.center - b.center) > 0.5 * (np.linalg.norm(a.dims) + np.linalg.norm(b.dims)):
        return 0.0
    if not general and shares_up_axis(a, b):
        return _iou_shared_up(a, b)
    vi = intersection_volume_general(a, b)
    union = va + vb - vi
    return float(vi / union) if union > 0 else 0.0


def iou_3d_matrix(boxes_a, boxes_b) -> np.ndarray:
    """(len(a), len(b)) matrix of 3D IoUs."""
    A = [_as_box(x) for x in boxes_a]
    B = [_as_box(x) for x in boxes_b]
    out = np.zeros((len(A), len(B)), dtype=np.float64)
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            out[i, j] = iou_3d(a, b)
    return out
