"""Pinhole camera helpers. Pixel convention: 0-based, the centre of the top-left pixel is (0, 0).

A pixel (u, v) with depth z (metres along the camera z axis, not along the ray) back-projects to
``((u - cx) z / fx, (v - cy) z / fy, z)``. Pure numpy.
"""

from __future__ import annotations

import numpy as np


class IntrinsicsError(ValueError):
    """K is missing, malformed or singular."""


def as_K(K) -> np.ndarray:
    """Validate and return a 3x3 float64 intrinsics matrix from 9 numbers or a 3x3 nested list."""
    if K is None:
        raise IntrinsicsError("K is missing")
    try:
        Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError) as exc:
        raise IntrinsicsError(f"K is not a 3x3 matrix of numbers: {exc}") from None
    if not np.all(np.isfinite(Km)):
        raise IntrinsicsError("K has non-finite entries")
    if Km[0, 0] <= 0 or Km[1, 1] <= 0:
        raise IntrinsicsError(f"K has non-positive focal lengths fx={Km[0, 0]}, fy={Km[1, 1]}")
    if not np.allclose(Km[2], [0.0, 0.0, 1.0]):
        raise IntrinsicsError(f"K's last row is {Km[2].tolist()}, expected [0, 0, 1]")
    if abs(np.linalg.det(Km)) < 1e-9:
        raise IntrinsicsError("K is singular")
    return Km


def K_from_fov(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Intrinsics for a centred principal point and a horizontal field of view in degrees."""
    f = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def backproject(u, v, z, K) -> np.ndarray:
    """(N, 3) camera-frame points from pixel coordinates and metric depth."""
    Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    x = (u - Km[0, 2]) * z / Km[0, 0] - Km[0, 1] * (v - Km[1, 2]) * z / (Km[0, 0] * Km[1, 1])
    y = (v - Km[1, 2]) * z / Km[1, 1]
    return np.stack([x, y, z], axis=-1)


def backproject_depth(depth: np.ndarray, K, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Points of the valid (finite, > 0) depth pixels, optionally restricted to ``mask``.

    Returns ``(points (N, 3), pixel indices (N, 2) as (v, u))``.
    """
    valid = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        valid &= mask.astype(bool)
    vv, uu = np.nonzero(valid)
    pts = backproject(uu, vv, depth[vv, uu], K)
    return pts, np.stack([vv, uu], axis=1)


def project(points, K) -> np.ndarray:
    """(N, 2) pixel coordinates of (N, 3) camera-frame points (z must be > 0)."""
    P = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    uvw = P @ Km.T
    return uvw[:, :2] / uvw[:, 2:3]
