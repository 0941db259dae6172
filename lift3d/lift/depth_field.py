"""The low-frequency distortion of a model depth map, measured on the room's planes.

Monocular depth carries, besides its global scale, a smooth multiplicative error: the depth read at pixel
(u, v) is ``z * s * exp(g(u, v))`` with ``g`` varying slowly over the image.  A global ``s`` keeps every plane
planar, but a varying ``g`` bends it: a pixel on a plane ``{p : n . p = d}`` reads ``n . p = d * exp(g)``.
The room's large planes are therefore a measurement of ``g`` wherever they are seen:

* the floor (normal = down, level = the floor height of :mod:`lift3d.lift.gravity`);
* a ceiling (normal = up, level from its own pixels);
* walls: vertical planes whose horizontal normals follow the room's two perpendicular axes (the dominant
  orientation of the vertical surfaces, modulo 90 degrees); each wall's level comes from its own pixels.

``log(n . p / d)`` on those pixels is ``g`` up to one constant per plane (its level absorbed the plane's mean
of ``g``) and, for a wall, a ramp along it (a wall's yaw absorbs ``g``'s gradient along it).  A smooth field
on a coarse node grid spanning the image (bilinear between nodes, second-difference smoothness, a weak
pull towards 0 where nothing is seen) is fitted jointly with those per-plane nuisances by iteratively
re-weighted least squares (Cauchy weights: objects standing in front of a plane and rugs are outliers).
The floor is the reference (no constant of its own), so the field leaves the floor level and the global
scale alone: those are the gravity step's and the per-image depth scale's (``scale_from_priors``).  Between
the planes - where the objects are - the field is interpolated; the annotated objects themselves are
never used as measurements.

A depth-range exponent (``z' ~ z ** gamma``: a network compressing or stretching the range, near too far and far
too near) is a distortion that follows the depth itself, ``log z' - log z = b (log z' - ref) + c`` with
``b = 1 - 1 / gamma``, not the image position: interpolated between the planes like the smooth field, it would
give an object the distortion of the farther wall or floor behind it (image 18 of a scratch build: a lamp at
1.3 m lifted 9 % too far, a night stand at 5.7 m 12 % too near, against the image's median).  So with
``range_term`` one more column, each plane pixel's own log depth, is fitted jointly with the field, and the
correction applies it at each object pixel's own depth (:meth:`DepthField.correct`).  The planes fix b only in
part (the smooth field can mimic it over the floor, whose depth follows the image row; what it cannot mimic cheaply
are the creases of log z where two planes meet); on scratch indoor scenes
(monocular preset, range exponent 0.85-1.05) the fitted b correlates 0.56 with the true one, shrunk towards 0.

Only for model depth: sensor depth has no such field.  Pure numpy/scipy; works on the strided point grid
of :func:`lift3d.lift.gravity.point_and_normal_grid` (a few thousand points), never per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import linalg, ndimage, sparse

from lift3d.geometry.boxes import gravity_frame
from lift3d.lift.gravity import box_on_grid
from lift3d.lift.quantiles import MAD_TO_SD, median, percentile


@dataclass(frozen=True)
class DepthField:
    """``log`` of the multiplicative depth distortion on a (gh, gw) node grid spanning an H x W image.

    Node (i, j) sits at pixel row ``i (H - 1) / (gh - 1)`` and column ``j (W - 1) / (gw - 1)``; between nodes
    the field is bilinear.  Divide a depth read at (row, col) by :meth:`factor` to undo the distortion.
    """

    log_grid: np.ndarray
    shape: tuple[int, int]
    n_points: int = 0
    planes: tuple[str, ...] = ()
    range_slope: float = 0.0  # b: the part that follows the depth read d, b (log d - range_ref) (0: none fitted)
    range_ref: float = 0.0  # the median log depth of the planes' pixels it was fitted on

    def log_factor(self, rows, cols) -> np.ndarray:
        """(len(rows), len(cols)) field values at the pixel rows x columns (any float coordinates)."""
        gh, gw = self.log_grid.shape
        H, W = self.shape
        wy, iy = _lin_weights(np.asarray(rows, dtype=np.float64), H, gh)
        wx, ix = _lin_weights(np.asarray(cols, dtype=np.float64), W, gw)
        g = self.log_grid
        # along the columns on every node row first (gh x len(cols), small), then the rows' two node rows read from it:
        # the same products and sums as interpolating each pixel from its four nodes
        along = (1.0 - wx)[None, :] * g[:, ix] + wx[None, :] * g[:, ix + 1]
        return (1.0 - wy)[:, None] * along[iy] + wy[:, None] * along[iy + 1]

    def correct(self, d: np.ndarray, rows, cols) -> np.ndarray:
        """The depths ``d`` (len(rows), len(cols)) read at those pixel rows x columns with the distortion divided
        out: the smooth field there and the range term at each depth's own value (invalid depths stay as they are)."""
        lf = self.log_factor(rows, cols)
        if self.range_slope != 0.0:
            lf = lf + self.range_slope * (np.log(np.where(d > 0, d, np.exp(self.range_ref))) - self.range_ref)
        return d / np.exp(lf)


def _lin_weights(x: np.ndarray, n_px: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional position of pixel coordinates ``x`` between grid nodes: (weight of the upper node, lower index)."""
    g = np.clip(x / max(n_px - 1, 1) * (n_nodes - 1), 0.0, n_nodes - 1 - 1e-9)
    i = np.floor(g).astype(np.int64)
    return g - i, i


def _bilinear(rows: np.ndarray, cols: np.ndarray, shape, grid):
    """The bilinear weights of n points on the node grid: (the sparse (n, gh * gw) matrix of them, each point's cell
    (the index of its upper left node; (n,)), its four weights (n, 4) in the order of :func:`_corner_offsets`)."""
    gh, gw = grid
    wy, iy = _lin_weights(rows, shape[0], gh)
    wx, ix = _lin_weights(cols, shape[1], gw)
    n = len(rows)
    cell = iy * gw + ix
    v = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx], axis=1)
    # each row's four columns are in increasing order: the CSR arrays directly (no sort through a COO matrix)
    B = sparse.csr_matrix((v.ravel(), (cell[:, None] + _corner_offsets(gw)).ravel(), np.arange(0, 4 * n + 1, 4)),
                          shape=(n, gh * gw))
    return B, cell, v


# the pairs of a cell's four nodes over which the normal matrix's node block sums a row's weights' products (each
# unordered pair once)
_PAIRS = tuple((a, b) for a in range(4) for b in range(a, 4))


def _corner_offsets(gw: int) -> np.ndarray:
    """Node index offsets of a cell's four nodes (upper left, upper right, lower left, lower right) from its upper
    left one, on a grid ``gw`` nodes wide."""
    return np.array([0, 1, gw, gw + 1])


@lru_cache(maxsize=8)
def _roughness(gh: int, gw: int) -> np.ndarray:
    """D^T D of the second differences along rows and columns and the mixed difference (thin-plate-like)."""
    idx = np.arange(gh * gw).reshape(gh, gw)
    blocks = []
    for trip in ((idx[:, :-2], idx[:, 1:-1], idx[:, 2:]), (idx[:-2], idx[1:-1], idx[2:])):
        a, b, c = (t.ravel() for t in trip)
        k = np.arange(len(a))
        blocks.append(sparse.csr_matrix((np.concatenate([np.ones_like(a, float), -2.0 * np.ones_like(b, float),
                                                         np.ones_like(c, float)]),
                                         (np.concatenate([k, k, k]), np.concatenate([a, b, c]))),
                                        shape=(len(a), gh * gw)))
    a, b, c, d = (t.ravel() for t in (idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]))
    k = np.arange(len(a))
    s2 = np.sqrt(2.0)
    blocks.append(sparse.csr_matrix((np.concatenate([np.full(len(a), s2), np.full(len(a), -s2), np.full(len(a), -s2),
                                                     np.full(len(a), s2)]),
                                     (np.concatenate([k, k, k, k]), np.concatenate([a, b, c, d]))),
                                    shape=(len(a), gh * gw)))
    D = sparse.vstack(blocks).tocsr()
    return (D.T @ D).toarray()


def _plane_rows(P, n, usable, down, floor_h, band, angle_deg, min_plane):
    """Measurements ``(log ratio, grid index, plane id, along-wall coordinate or nan)`` on the room's planes."""
    cosa, sina = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    h = P @ down
    # orient every normal away from the camera (a room surface's outward normal): n . p > 0
    # (the dot product written out: the same sums as ``(n * P).sum(axis=-1)``, whose reduction over a last axis of 3 is
    # slow)
    n = np.where((n[..., 0] * P[..., 0] + n[..., 1] * P[..., 1] + n[..., 2] * P[..., 2] < 0)[..., None], -n, n)
    nd = n @ down
    out, names = [], []

    def add(idx, log_ratio, name, along=None):  # along: a wall's along-wall coordinate (None: a horizontal plane)
        out.append((log_ratio, idx, np.full(len(idx), len(names)),
                    np.full(len(idx), np.nan) if along is None else along))
        names.append(name)

    floor = usable & (nd > cosa) & (np.abs(h / floor_h - 1.0) < band)
    if floor.sum() >= min_plane:
        add(np.flatnonzero(floor), np.log(h[floor] / floor_h), "floor")
    ceil = usable & (nd < -cosa) & (h < -0.3)
    if ceil.sum() >= min_plane:
        ch = float(median(-h[ceil]))
        ceil &= np.abs(-h / ch - 1.0) < band
        if ceil.sum() >= min_plane:
            add(np.flatnonzero(ceil), np.log(-h[ceil] / ch), "ceiling")
    walls = usable & (np.abs(nd) < sina)
    if walls.sum() >= min_plane:
        G = gravity_frame(down)
        ng = n[walls] @ G  # (x, down, fwd) in the gravity frame
        th = np.arctan2(ng[:, 2], ng[:, 0])
        psi = float(np.angle(np.exp(4j * th).mean()) / 4.0)  # the room's axes, modulo 90 degrees
        Pw = P[walls]
        widx = np.flatnonzero(walls)
        for k in range(4):
            a = psi + k * np.pi / 2.0
            near = np.cos(th - a) > cosa  # within angle_deg of the axis a (the angle's wrapped difference)
            if near.sum() < min_plane:
                continue
            d = Pw[near] @ (G @ np.array([np.cos(a), 0.0, np.sin(a)]))
            # the wall is the farthest well-supported level along its normal (objects stand in front of it)
            dw = float(percentile(d, 90))
            if dw <= 0:
                continue
            inl = np.abs(d / dw - 1.0) < band
            if inl.sum() < min_plane:
                continue
            dw = float(median(d[inl]))
            inl = np.abs(d / dw - 1.0) < band
            if inl.sum() < min_plane:
                continue
            tang = G @ np.array([-np.sin(a), 0.0, np.cos(a)])
            along = (Pw[near][inl] @ tang) / dw
            add(widx[np.flatnonzero(near)[inl]], np.log(d[inl] / dw), f"wall{k}", along - along.mean())
    return out, names


def estimate_depth_field(grid_pts, down, floor_h, shape, exclude=None, *, nodes=(13, 17), smooth=0.1,
                         prior=0.16, ramp_prior=0.04, band=0.08, angle_deg=15.0, min_plane=30, min_points=300,
                         limit=0.25, iterations=3, range_term=True, range_prior=1.0,
                         range_limit=0.25) -> DepthField | None:
    """Fit the depth field of one image from the room's planes (see the module docstring).

    ``grid_pts`` is :func:`lift3d.lift.gravity.point_and_normal_grid`'s output for the image (shape ``shape``),
    ``exclude`` a bool array on that grid (True: an annotated object, never a measurement).  ``smooth``
    weighs the roughness, ``prior`` and ``ramp_prior`` pull the node values and the walls' ramps towards 0
    (relative to one measurement's weight).  ``range_term``: the range term b (log z - ref) is fitted with them
    (``range_prior``: its pull towards 0, one measurement's weight: the planes decide).  None when the floor is
    unknown, fewer than ``min_points`` plane pixels are seen, or the fitted field leaves +-``limit`` or the range
    term's slope +-``range_limit`` (a depth-range exponent beyond about 0.8-1.33: an unreliable fit is not applied).
    The gate on the field is as loose (x1.28 anywhere): it is there for a fit gone wrong, not for a large smooth
    distortion, which is what the field is for.  (It was +-6 %, just above the generator's +-5 % field: a fit of
    6-10 % was then dropped whole on 20 % of indoor and 27-40 % of outdoor monocular scratch images, and under a
    +-10 % field nearly always; docs/benchmarks.md, session 25.)
    """
    if down is None or floor_h is None or not floor_h > 0:
        return None
    P, n, _ok, nok, vv, uu = grid_pts
    usable = nok if exclude is None else nok & ~exclude
    rows, names = _plane_rows(P, n, usable, np.asarray(down, dtype=np.float64), float(floor_h), band, angle_deg,
                              min_plane)
    if not rows or "floor" not in names:
        return None
    t = np.concatenate([r[0] for r in rows])
    idx = np.concatenate([r[1] for r in rows])
    pid = np.concatenate([r[2] for r in rows])
    along = np.concatenate([r[3] for r in rows])
    if len(t) < min_points:
        return None
    gh, gw = nodes
    nn = gh * gw
    w_grid = len(uu)
    n_rows = len(t)  # the measurements (rows of the design)
    B, cell, V = _bilinear(vv[idx // w_grid].astype(np.float64), uu[idx % w_grid].astype(np.float64), shape, nodes)
    # nuisances: one constant per plane but the floor (the reference), one ramp per wall (pulled by ramp_prior)
    cols, col_prior = [], []
    for q, name in enumerate(names):
        m = pid == q
        if name != "floor":
            cols.append(m.astype(np.float64))
            col_prior.append(0.0)
        if name.startswith("wall"):
            cols.append(np.where(m, along, 0.0))
            col_prior.append(ramp_prior)
    ref = 0.0
    if range_term:  # the distortion that follows the depth read (a depth-range exponent): b (log z - ref)
        lz = np.log(P.reshape(-1, 3)[idx, 2])
        ref = float(median(lz))
        cols.append(lz - ref)
        col_prior.append(range_prior)
    C = np.stack(cols, axis=1) if cols else np.zeros((n_rows, 0))  # the nuisance columns of the design [B | C]
    k = C.shape[1]
    ncol = nn + k
    reg = np.zeros((ncol, ncol))
    reg[:nn, :nn] = smooth * n_rows / nn * _roughness(gh, gw)
    diag = np.concatenate([np.full(nn, prior), col_prior])
    reg += np.diag(diag + 1e-9)
    # The normal matrix [B | C]^T W [B | C] by blocks. Its node block: a row adds w v_a v_b at nodes (cell + off_a,
    # cell + off_b) for each pair of its cell's corners, so the products summed per cell (a sparse cells x rows sum
    # with the rows' weights as entries) give it by one scatter per pair; B^T W C and the rest as sparse or small
    # dense products. (The same sums as (A^T W A) of the sparse [B | C], in another order: equal to about 1e-13.)
    off = _corner_offsets(gw)
    BT = B.T  # CSC: B^T's products without a conversion
    Q = np.stack([V[:, a] * V[:, b] for a, b in _PAIRS], axis=1)
    sum_cells = sparse.csr_matrix((np.ones(n_rows), cell, np.arange(n_rows + 1)), shape=(n_rows, nn)).T
    cells = np.arange(nn).reshape(gh, gw)[:-1, :-1].ravel()  # every cell of the grid (the last row / column: no cell)
    w = np.ones(n_rows)
    x = np.zeros(ncol)
    for _ in range(iterations):
        sum_cells.data[:] = w  # (the transpose shares the data array, in the rows' order)
        S = (sum_cells @ Q)[cells]
        N = reg.copy()
        for p, (a, b) in enumerate(_PAIRS):
            N[cells + off[a], cells + off[b]] += S[:, p]
            if a != b:
                N[cells + off[b], cells + off[a]] += S[:, p]
        wt = w * t
        rhs = np.empty(ncol)
        rhs[:nn] = BT @ wt
        if k:
            Cw = C * w[:, None]
            bc = BT @ Cw
            N[:nn, nn:] += bc
            N[nn:, :nn] += bc.T
            N[nn:, nn:] += Cw.T @ C
            rhs[nn:] = C.T @ wt
        # the normal matrix is positive definite (reg > 0)
        x = linalg.cho_solve(linalg.cho_factor(N, check_finite=False), rhs, check_finite=False)
        res = t - (B @ x[:nn] + C @ x[nn:])
        sc = MAD_TO_SD * float(median(np.abs(res))) + 1e-4
        w = 1.0 / (1.0 + (res / (2.5 * sc)) ** 2)
    g = x[:nn].reshape(gh, gw)
    if not np.all(np.isfinite(g)) or float(np.abs(g).max()) > limit:
        return None
    b = float(x[-1]) if range_term else 0.0
    if not np.isfinite(b) or abs(b) > range_limit:
        return None
    return DepthField(g, (int(shape[0]), int(shape[1])), int(len(t)), tuple(names), b, ref)


def exclusion_grid(annotations, vv: np.ndarray, uu: np.ndarray, shape, margin_cells: int = 1) -> np.ndarray:
    """Grid points (rows ``vv`` x columns ``uu``) covered by an annotated object: its mask where it has one
    (sampled on the grid), else its 2D box; grown by ``margin_cells`` grid cells (edges, mask bleed)."""
    ex = np.zeros((len(vv), len(uu)), dtype=bool)
    for a in annotations:
        m = a.get("mask")
        if m is not None and np.shape(m) == tuple(shape):
            ex |= np.asarray(m, dtype=bool)[np.ix_(vv, uu)]
            continue
        b = a.get("bbox2d")
        if b is None:
            continue
        try:
            x1, y1, x2, y2 = (float(t) for t in b)
        except (TypeError, ValueError):
            continue
        ex |= box_on_grid(vv, uu, x1, y1, x2, y2)
    if margin_cells > 0 and ex.any():
        ex = ndimage.binary_dilation(ex, iterations=margin_cells)
    return ex
