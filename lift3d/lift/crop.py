"""Reading the crop of one 2D box: its pixel bounds, the (strided) depth crop divided by the depth field, separable
ray tables and the gravity-frame points of selected crop pixels.  Pure numpy."""

from __future__ import annotations

import numpy as np

from lift3d.lift.depth_field import DepthField
from lift3d.lift.result import LiftReject


def crop_bounds(bbox, W: int, H: int):
    try:
        x1, y1, x2, y2 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise LiftReject("degenerate_box", f"bbox2d {bbox!r} is not 4 numbers") from None
    if not all(np.isfinite([x1, y1, x2, y2])):
        raise LiftReject("degenerate_box", "non-finite bbox2d")
    if x2 - x1 < 1.0 or y2 - y1 < 1.0:
        raise LiftReject("degenerate_box", f"box {x2 - x1:.1f}x{y2 - y1:.1f} px")
    # pixel centres inside [x1, x2): pixel u covers [u-0.5, u+0.5] in the 0-based-centre convention
    c0 = max(0, int(np.floor(x1 + 0.5)))
    r0 = max(0, int(np.floor(y1 + 0.5)))
    c1 = min(W, int(np.ceil(x2 - 0.5)))
    r1 = min(H, int(np.ceil(y2 - 0.5)))
    if c1 - c0 < 2 or r1 - r0 < 2:
        raise LiftReject("degenerate_box", f"box {bbox!r} covers <2 px inside the {W}x{H} image")
    return r0, r1, c0, c1


def read_crop(depth: np.ndarray, r0: int, r1: int, c0: int, c1: int, st: int, field: DepthField | None = None):
    """(depth of the pixel rows r0:r1 and columns c0:c1 at stride st as float64, divided by the depth field's
    factor when one is given; their row and column coordinates)."""
    rows = np.arange(r0, r1, st, dtype=np.float64)
    cols = np.arange(c0, c1, st, dtype=np.float64)
    d = np.asarray(depth[r0:r1:st, c0:c1:st], dtype=np.float64)
    if field is not None:
        d = d / field.factor(rows, cols)
    return d, rows, cols


def ray_parts(K: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """Separable ray directions: x/z = ax[col] + bx[row], y/z = by[row] (pinhole with skew)."""
    fx, fy, cx, cy, sk = K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]
    ax = (cols - cx) / fx
    by = (rows - cy) / fy
    bx = -sk * by / fx
    return ax, bx, by


def crop_dot(dz: np.ndarray, ax, bx, by, v) -> np.ndarray:
    """p . v for every crop pixel's point p = dz * ray (see :func:`ray_parts`); v a camera-frame vector."""
    return dz * ((v[0] * ax)[None, :] + (v[0] * bx + v[1] * by + v[2])[:, None])


def pix_points(dz, iv, iu, ax, bx, by, G):
    """Gravity-frame points of crop pixels (iv, iu)."""
    z = dz[iv, iu]
    return np.stack([z * (ax[iu] + bx[iv]), z * by[iv], z], axis=1) @ G


def valid_depths(block: np.ndarray, scale: float) -> np.ndarray:
    """The valid (finite, positive) depths of an image block as float64, divided by the image's depth scale."""
    d = np.asarray(block, dtype=np.float64) / scale
    return d[np.isfinite(d) & (d > 0)]
