"""Up direction and floor level per image.

* :func:`resolve_gravity` - the dataset's gravity when given; otherwise a floor-plane fit on likely-floor
  points (normals near the camera's down axis, lower part of the image, outside the annotated objects),
  with sanity checks (plane below the camera at a plausible height, few points below it, tilt within
  limits - never simply the largest plane, which can be a wall); otherwise the camera frame, flagged.
* :func:`floor_height` - height of the floor below the camera along a known down vector: the lowest
  well-supported horizontal surface (normals parallel to gravity).

Everything works on a strided copy of the depth map (a few thousand points), never per pixel of the
full image.  Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lift3d.geometry.camera import backproject
from lift3d.lift.quantiles import median

CAM_DOWN = np.array([0.0, 1.0, 0.0])


@dataclass
class GravityEstimate:
    down: np.ndarray | None  # unit down vector in the camera frame, None = camera frame
    source: str  # "dataset" | "estimated" | "camera"
    confidence: float
    floor_h: float | None = None  # distance of the floor plane below the camera along down (m)

    def to_record(self, estimate: bool, min_confidence: float) -> dict:
        """The record field ``gravity_estimate`` (see :data:`RECORD_FIELD`): this estimate and the settings it was
        made with (:func:`image_gravity`'s ``estimate`` and ``min_confidence``)."""
        return {"down": None if self.down is None else [float(t) for t in self.down], "source": self.source,
                "confidence": float(self.confidence), "floor_h": None if self.floor_h is None else float(self.floor_h),
                "estimate": bool(estimate), "min_confidence": float(min_confidence)}

    @classmethod
    def from_record(cls, value, estimate: bool, min_confidence: float) -> GravityEstimate | None:
        """The estimate stored by :meth:`to_record` when it was made with these settings; None when there is none
        or it was made with others (the caller then estimates it itself)."""
        if not isinstance(value, dict) or value.get("estimate") != bool(estimate) \
                or value.get("min_confidence") != float(min_confidence):
            return None
        down = value.get("down")
        return cls(None if down is None else np.asarray(down, dtype=np.float64), str(value["source"]),
                   float(value["confidence"]), value.get("floor_h"))


# The per-image estimate on the record, between the segment stage (which makes it when its depth check needs it)
# and the lift stage (which uses it instead of estimating again, then drops the field): GravityEstimate.to_record.
RECORD_FIELD = "gravity_estimate"
NUMERICAL = (ValueError, FloatingPointError, np.linalg.LinAlgError)  # numerical failures of the estimate


def image_gravity(depth: np.ndarray, K: np.ndarray, gravity, annotations=(), estimate: bool = True,
                  min_confidence: float = 0.2):
    """(the image's up direction and floor level, its point/normal grid or None): :func:`resolve_gravity` on the
    image's grid - the one estimate per image that the segmenter's depth check and the lifter share; the camera
    frame (source "camera") on a numerical failure."""
    grid = None
    try:
        grid = point_and_normal_grid(depth, K)
        ge = resolve_gravity(gravity, depth, K, annotations, estimate=estimate, min_confidence=min_confidence,
                             grid=grid)
    except NUMERICAL:  # numerical failure: camera frame
        ge = GravityEstimate(None, "camera", 0.0, None)
    return ge, grid


def _grid(depth: np.ndarray, max_side: int = 120) -> tuple[int, np.ndarray, np.ndarray]:
    H, W = depth.shape
    s = max(1, int(np.ceil(max(H, W) / max_side)))
    vv = np.arange(0, H, s)
    uu = np.arange(0, W, s)
    return s, vv, uu


def box_on_grid(vv: np.ndarray, uu: np.ndarray, x1, y1, x2, y2) -> np.ndarray:
    """(len(vv), len(uu)) bool: the grid points (pixel rows ``vv`` x columns ``uu``) inside the 2D box, edges
    included."""
    return ((vv >= y1) & (vv <= y2))[:, None] & ((uu >= x1) & (uu <= x2))[None, :]


def point_and_normal_grid(depth: np.ndarray, K: np.ndarray, max_side: int = 120, rel_jump: float = 0.05):
    """Strided point map (h, w, 3), normals (h, w, 3, oriented towards +camera-y) and validity (h, w)."""
    s, vv, uu = _grid(depth, max_side)
    d = depth[np.ix_(vv, uu)].astype(np.float64)
    ok = np.isfinite(d) & (d > 0)
    d = np.where(ok, d, 0.0)
    U, V = np.meshgrid(uu.astype(np.float64), vv.astype(np.float64))
    P = backproject(U, V, d, K)
    n = np.zeros_like(P)
    nok = np.zeros(ok.shape, dtype=bool)
    if P.shape[0] >= 3 and P.shape[1] >= 3:
        dx = P[1:-1, 2:] - P[1:-1, :-2]
        dy = P[2:, 1:-1] - P[:-2, 1:-1]
        c = np.cross(dx, dy)
        norm = np.linalg.norm(c, axis=-1)
        dc = d[1:-1, 1:-1]
        neigh = np.stack([d[1:-1, 2:], d[1:-1, :-2], d[2:, 1:-1], d[:-2, 1:-1]], axis=0)
        smooth = np.all(np.abs(neigh - dc[None]) <= rel_jump * s * np.maximum(dc[None], 1e-6), axis=0)
        good = ok[1:-1, 1:-1] & ok[1:-1, 2:] & ok[1:-1, :-2] & ok[2:, 1:-1] & ok[:-2, 1:-1] & smooth & (norm > 0)
        c = c / np.maximum(norm, 1e-12)[..., None]
        c = np.where((c[..., 1:2] < 0), -c, c)
        n[1:-1, 1:-1] = c
        nok[1:-1, 1:-1] = good
    return P, n, ok, nok, vv, uu


def rescale_grid(grid, s: float):
    """:func:`point_and_normal_grid`'s result for the focal length scaled by ``s``: x and y of every point shrink by
    it (x = (u - cx) z / f), the normals tilt the other way (n -> S^-T n), depths and validity stay."""
    P, n, ok, nok, vv, uu = grid
    P = P * np.array([1.0 / s, 1.0 / s, 1.0])
    n = n * np.array([s, s, 1.0])
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    n = np.where(n[..., 1:2] < 0, -n, n)
    return P, n, ok, nok, vv, uu


def plane_hypotheses(pts: np.ndarray, n_hyp: int, rng: np.random.Generator, accept=None):
    """Three-point plane hypotheses (RANSAC sampling): the planes through ``n_hyp`` random triples of the points
    ``pts`` (N, 3), drawn with ``rng``.  Returns (unit normals (m, 3), a point of each plane (m, 3)) of the
    non-degenerate triples (cross product longer than ``MIN_CROSS``) for which ``accept(normals, lengths)`` - a
    test on the raw cross products and their lengths, e.g. a tilt limit - holds.  The normals' sign is the
    cross product's; the offset of plane i is ``normals[i] . points[i]``."""
    idx = rng.integers(0, len(pts), size=(n_hyp, 3))
    a, b, c = pts[idx[:, 0]], pts[idx[:, 1]], pts[idx[:, 2]]
    nrm = np.cross(b - a, c - a)
    ln = np.linalg.norm(nrm, axis=1)
    good = ln > MIN_CROSS
    if accept is not None:
        good &= accept(nrm, ln)
    return nrm[good] / ln[good, None], a[good]


MIN_CROSS = 1e-9  # m^2; a point triple whose cross product is shorter is (nearly) collinear: no plane
FLOOR_HYPOTHESES = 128  # plane hypotheses of the floor fit (estimate_gravity)
MAX_BELOW_FLOOR_SHARE = 0.03  # a floor level or plane with more of the scene's points clearly below it is no floor


def _floor_from_heights(h: np.ndarray, min_support: int) -> float | None:
    """Lowest (largest h) well-supported level among horizontal-surface heights h."""
    h = h[np.isfinite(h) & (h > 0.05)]
    if len(h) < min_support:
        return None
    bin_w = 0.04
    lo, hi = float(np.min(h)), float(np.max(h))
    nb = max(1, int(np.ceil((hi - lo) / bin_w)) + 1)
    counts = np.bincount(((h - lo) / bin_w).astype(np.int64), minlength=nb)
    # smooth over 3 bins (noise spreads a plane over a few bins)
    sm = np.convolve(counts, np.ones(3), mode="same")
    need = max(min_support, 0.08 * len(h))
    idx = np.nonzero(sm >= need)[0]
    if len(idx) == 0:
        return None
    b = idx[-1]
    # the peak of that level (search the neighbourhood of the highest supported bin)
    lo_b = max(0, b - 3)
    peak = lo_b + int(np.argmax(sm[lo_b: b + 1]))
    centre = lo + (peak + 0.5) * bin_w
    near = h[np.abs(h - centre) < 2 * bin_w]
    return float(median(near)) if len(near) else float(centre)


def horizontal_points(grid, down: np.ndarray, max_tilt_deg: float) -> np.ndarray:
    """Which points of a :func:`point_and_normal_grid` have a normal (so also a valid depth) within ``max_tilt_deg``
    of the up direction ``down``: the candidates of a floor level (:func:`floor_height`,
    :func:`lift3d.lift.horizon.horizon_focal`)."""
    _, n, _, nok, _, _ = grid
    return nok & (np.abs(n @ down) > np.cos(np.radians(max_tilt_deg)))


# an up direction under which less than this share of the grid's valid points is level (or no floor lies) is checked
# against the depth's own floor fit (:func:`keeps_surfaces_level`; the check costs that fit, so only then)
LEVEL_CHECK_SHARE = 0.1


def few_level_points(grid, down: np.ndarray, max_tilt_deg: float = 20.0) -> bool:
    """Whether less than ``LEVEL_CHECK_SHARE`` of the grid's valid points are horizontal under ``down``."""
    return int(horizontal_points(grid, np.asarray(down), max_tilt_deg).sum()) < LEVEL_CHECK_SHARE * int(grid[2].sum())


def keeps_surfaces_level(grid, down: np.ndarray, other: np.ndarray, max_tilt_deg: float = 20.0,
                         min_share: float = 0.5) -> bool:
    """Whether the up direction ``down`` leaves at least ``min_share`` as many of the depth map's surfaces horizontal
    (normals within ``max_tilt_deg``, :func:`horizontal_points`) as ``other`` does.  A vertical vanishing point made
    of a few segments can be a wrong intersection (a scratch room: 3 segments, 35 degrees off) while the depth shows
    a floor: under it only 59 of the 3,880 points that the depth's own floor fit keeps level stay level.  A right
    one keeps them (scratch monocular rooms and streets: 99 % of the images at 0.99-1.0 of the floor fit's count;
    the tolerance takes up the few degrees a model depth's distortion tilts the floor by)."""
    n_other = int(horizontal_points(grid, np.asarray(other), max_tilt_deg).sum())
    return int(horizontal_points(grid, np.asarray(down), max_tilt_deg).sum()) >= min_share * n_other


def floor_height(depth: np.ndarray, K: np.ndarray, down: np.ndarray, grid=None,
                 max_tilt_deg: float = 20.0, bend: float = 0.0) -> float | None:
    """Distance from the camera down to the floor along ``down`` (None when no floor is seen): the lowest
    well-supported level of horizontal surfaces, unless more than ``MAX_BELOW_FLOOR_SHARE`` of the scene lies clearly
    below it (then the level is a table or bed top over a floor the image does not show).  ``bend``: "clearly" is
    also at least this share of the level (model depth's bent floor, ``GravityConfig.floor_bend``)."""
    grid = grid if grid is not None else point_and_normal_grid(depth, K)
    P, ok = grid[0], grid[2]
    horiz = horizontal_points(grid, down, max_tilt_deg)
    h = P[horiz] @ down
    fh = _floor_from_heights(h, min_support=25)
    if fh is None or not (0.1 < fh < 50.0):
        return None
    if below_share(P[ok], down, fh, bend * fh) > MAX_BELOW_FLOOR_SHARE:
        return None
    return fh


# a ceiling lies this many times the camera's height above the floor above the camera (seated or standing, 1.0-1.8 m,
# under a 2.3-4 m ceiling: 0.3-3); a horizontal level beyond it is no room's ceiling (the sky of a street canyon)
CEILING_OVER_CAMERA = (0.2, 3.0)


def ceiling_height(grid, down: np.ndarray, floor_h, max_tilt_deg: float = 20.0) -> float | None:
    """Distance from the camera up to the ceiling along ``-down`` (None when no ceiling is seen): the highest
    well-supported level of horizontal surfaces above the camera, when it lies within ``CEILING_OVER_CAMERA`` times
    the floor's distance ``floor_h`` above the camera and at most ``MAX_BELOW_FLOOR_SHARE`` of the scene's points lie
    clearly above it.  Same depth units as ``floor_h``: their sum is the room's height (a scale cue,
    :func:`lift3d.lift.metric_scale.room_height_cue`)."""
    if floor_h is None or not np.isfinite(floor_h) or floor_h <= 0:
        return None
    P, ok = grid[0], grid[2]
    h = -(P[horizontal_points(grid, down, max_tilt_deg)] @ down)  # height above the camera
    ch = _floor_from_heights(h, min_support=25)
    if ch is None or not (CEILING_OVER_CAMERA[0] <= ch / floor_h <= CEILING_OVER_CAMERA[1]):
        return None
    if below_share(P[ok], -down, ch) > MAX_BELOW_FLOOR_SHARE:
        return None
    return ch


def below_share(points: np.ndarray, down: np.ndarray, level, min_margin=0.0):
    """Share of the points (N, 3) clearly below the level ``level`` along ``down``: by more than 8 cm, 4 % of
    their depth (the noise of a floor's points grows with the distance) and ``min_margin``.  ``down`` (3,) and a level: a float;
    ``down`` (k, 3) and ``level`` (k,): the share for each of the k planes."""
    margin = np.maximum(np.maximum(0.08, 0.04 * points[:, 2]), min_margin)
    if np.ndim(down) == 2:
        return ((points @ down.T - level[None, :]) > margin[:, None]).mean(axis=0)
    if len(points) == 0:
        return 0.0
    return float(np.mean(points @ down - level > margin))


def estimate_gravity(depth: np.ndarray, K: np.ndarray, exclude_boxes=(), grid=None, seed: int = 0,
                     max_tilt_deg: float = 45.0) -> tuple[np.ndarray | None, float, float | None]:
    """Floor-plane fit on likely-floor points. Returns (down or None, confidence 0..1, floor_h)."""
    P, n, ok, nok, vv, uu = grid if grid is not None else point_and_normal_grid(depth, K)
    cand = nok & (n @ CAM_DOWN > np.cos(np.radians(max_tilt_deg)))
    # likely floor: lower 60 % of the image and outside annotated objects (not an object's top)
    cand &= (vv >= 0.4 * depth.shape[0])[:, None]
    for (x1, y1, x2, y2) in exclude_boxes:
        cand &= ~box_on_grid(vv, uu, x1, y1, x2, y2)
    pts = P[cand]
    allp = P[ok]
    if len(pts) < 30:
        return None, 0.0, None
    nrm, a = plane_hypotheses(pts, FLOOR_HYPOTHESES, np.random.default_rng(seed))
    nrm = np.where(nrm[:, 1:2] < 0, -nrm, nrm)
    tilt_ok = nrm @ CAM_DOWN > np.cos(np.radians(max_tilt_deg))
    nrm, a = nrm[tilt_ok], a[tilt_ok]
    if len(nrm) == 0:
        return None, 0.0, None
    d = np.einsum("ij,ij->i", nrm, a)  # camera height along each normal
    tol = np.maximum(0.03, 0.02 * pts[:, 2])
    dist = pts @ nrm.T - d[None, :]  # (N, hyp)
    inl = (np.abs(dist) < tol[:, None]).sum(axis=0)
    # points clearly below the plane (beyond the floor) make a hypothesis implausible; the share is computed only
    # for the hypotheses the choice below reads (the best-supported plausible one, then those with at least half
    # its support), which gives the same choice as computing it for all
    below = np.full(len(nrm), np.nan)

    def plausible(idx: np.ndarray) -> np.ndarray:
        todo = idx[np.isnan(below[idx])]
        if len(todo):
            below[todo] = below_share(allp, nrm[todo], d[todo])
        return below[idx] < MAX_BELOW_FLOOR_SHARE

    in_range = np.nonzero((d > 0.2) & (d < 20.0))[0]
    by_support = in_range[np.argsort(-inl[in_range], kind="stable")]
    best_inl = None
    for s in range(0, len(by_support), 8):
        chunk = by_support[s : s + 8]
        ok_chunk = plausible(chunk)
        if ok_chunk.any():
            best_inl = inl[chunk[np.argmax(ok_chunk)]]
            break
    if best_inl is None:
        return None, 0.0, None
    # among well-supported planes prefer the lowest one (floor below tables/seats)
    good = in_range[inl[in_range] >= 0.5 * best_inl]
    good = good[plausible(good)]
    j = good[np.argmax(d[good])]
    inliers = pts[np.abs(dist[:, j]) < tol]
    if len(inliers) < 20:
        return None, 0.0, None
    # least-squares refit
    cen = inliers.mean(axis=0)
    _, _, vt = np.linalg.svd(inliers - cen, full_matrices=False)
    down = vt[2]
    if down[1] < 0:
        down = -down
    fh = float(cen @ down)
    frac = len(inliers) / 400.0  # supporting grid points (of ~10-20 k) for full confidence
    tilt = np.degrees(np.arccos(np.clip(down @ CAM_DOWN, -1, 1)))
    conf = float(np.clip(frac, 0, 1) * np.clip(1.0 - tilt / max_tilt_deg, 0, 1) ** 0.5
                 * (1.0 - below[j] / MAX_BELOW_FLOOR_SHARE) ** 0.5)
    return down, conf, fh


def resolve_gravity(gravity, depth: np.ndarray, K: np.ndarray, annotations=(), estimate: bool = True,
                    min_confidence: float = 0.2, grid=None) -> GravityEstimate:
    """Pick the up direction for one image and the floor level along it.  ``grid``: the image's
    :func:`point_and_normal_grid` when the caller already has it."""
    if grid is None:
        grid = point_and_normal_grid(depth, K)
    return _resolve(gravity, depth, K, annotations, estimate, min_confidence, grid)


def _resolve(gravity, depth, K, annotations, estimate, min_confidence, grid) -> GravityEstimate:
    if gravity is not None:
        g = np.asarray(gravity, dtype=np.float64).reshape(3)
        nrm = np.linalg.norm(g)
        if np.all(np.isfinite(g)) and nrm > 1e-6:
            down = g / nrm
            return GravityEstimate(down, "dataset", 1.0, floor_height(depth, K, down, grid))
    if estimate:
        boxes = [a.get("bbox2d") for a in annotations if a.get("bbox2d") is not None]
        down, conf, fh = estimate_gravity(depth, K, boxes, grid)
        if down is not None and conf >= min_confidence:
            fh2 = floor_height(depth, K, down, grid)
            return GravityEstimate(down, "estimated", conf, fh2 if fh2 is not None else fh)
    return GravityEstimate(None, "camera", 0.0, None)
