"""Reading the crop of one 2D box: its pixel bounds, the (strided) depth crop divided by the depth field, separable
ray tables and the gravity-frame points of selected crop pixels.  Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lift3d.lift.depth_field import DepthField
from lift3d.lift.result import LiftReject


MIN_CROP_PX = 2  # px; a 2D box covering fewer pixel rows or columns inside the image is degenerate


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
    if c1 - c0 < MIN_CROP_PX or r1 - r0 < MIN_CROP_PX:
        raise LiftReject("degenerate_box", f"box {bbox!r} covers <2 px inside the {W}x{H} image")
    return r0, r1, c0, c1


def read_crop(depth: np.ndarray, r0: int, r1: int, c0: int, c1: int, st: int, field: DepthField | None = None):
    """(depth of the pixel rows r0:r1 and columns c0:c1 at stride st as float64, divided by the depth field's
    factor when one is given; their row and column coordinates)."""
    rows = np.arange(r0, r1, st, dtype=np.float64)
    cols = np.arange(c0, c1, st, dtype=np.float64)
    d = np.asarray(depth[r0:r1:st, c0:c1:st], dtype=np.float64)
    if field is not None:
        d = field.correct(d, rows, cols)
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


@dataclass
class Crop:
    """The depth crop of one 2D box, read at a stride, with its separable ray tables (:func:`ray_parts`)."""

    bbox: list  # the 2D box (x1, y1, x2, y2), pixel edges
    bounds: tuple  # (r0, r1, c0, c1): the pixel rows / columns read (see :func:`crop_bounds`)
    st: int  # the stride
    d: np.ndarray  # depth (metres, float64; divided by the depth field when one is given)
    valid: np.ndarray  # finite, positive depth
    dz: np.ndarray  # d with 0 where not valid
    ax: np.ndarray  # ray tables: x/z = ax[col] + bx[row], y/z = by[row]
    bx: np.ndarray
    by: np.ndarray


def annotation_box(ann: dict):
    """The annotation's 2D box; the extent of its mask (pixel edges) when it has no box."""
    bbox = ann.get("bbox2d")
    mask = ann.get("mask")
    if bbox is None and mask is not None:
        m = np.asarray(mask, dtype=bool)
        ys, xs = np.nonzero(m)
        if len(xs) == 0:
            raise LiftReject("empty_mask", "mask has no pixel")
        bbox = [xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5]
    if bbox is None:
        raise LiftReject("degenerate_box", "no bbox2d and no mask")
    return bbox


def read_box_crop(depth: np.ndarray, K: np.ndarray, bbox, max_crop_px: int, field: DepthField | None = None) -> Crop:
    """The crop of ``bbox``; large crops are strided to at most ``max_crop_px`` pixels, so the working set stays
    bounded whatever the image resolution."""
    H, W = depth.shape
    r0, r1, c0, c1 = crop_bounds(bbox, W, H)
    st = max(1, int(np.ceil(np.sqrt((r1 - r0) * (c1 - c0) / max_crop_px))))
    d, rows, cols = read_crop(depth, r0, r1, c0, c1, st, field)
    valid = np.isfinite(d) & (d > 0)
    ax, bx, by = ray_parts(K, rows, cols)
    return Crop(bbox, (r0, r1, c0, c1), st, d, valid, np.where(valid, d, 0.0), ax, bx, by)


def read_surround(depth: np.ndarray, K: np.ndarray, cr: Crop, reach: float, field: DepthField | None = None):
    """(the crop of the box ``cr`` grown by ``reach`` x its rows / columns beyond each edge, clipped to the image,
    read on ``cr``'s pixel grid (same stride and phase); the (row, column) offset of ``cr`` in it): what the
    surfaces seen in the box do just outside it."""
    H, W = depth.shape
    r0, _, c0, _ = cr.bounds
    st = cr.st
    nr, nc = cr.d.shape
    kr, kc = int(np.ceil(reach * nr)), int(np.ceil(reach * nc))  # strided cells beyond each edge
    oy, ox = min(kr, r0 // st), min(kc, c0 // st)
    R0, C0 = r0 - st * oy, c0 - st * ox
    R1, C1 = min(H, r0 + st * (nr + kr)), min(W, c0 + st * (nc + kc))
    d, rows, cols = read_crop(depth, R0, R1, C0, C1, st, field)
    valid = np.isfinite(d) & (d > 0)
    ax, bx, by = ray_parts(K, rows, cols)
    return Crop(cr.bbox, (R0, R1, C0, C1), st, d, valid, np.where(valid, d, 0.0), ax, bx, by), (oy, ox)


def mask_on_crop(mask, shape, cr: Crop) -> np.ndarray:
    """The instance mask on the crop's (strided) pixels."""
    m = np.asarray(mask)
    if m.shape != shape:
        raise LiftReject("empty_mask", f"mask shape {m.shape} != depth shape {shape}")
    r0, r1, c0, c1 = cr.bounds
    region = m[r0:r1:cr.st, c0:c1:cr.st].astype(bool)
    if not region.any():
        raise LiftReject("empty_mask", "mask has no pixel inside the box")
    return region


def erode_mask(region: np.ndarray, cr: Crop, erode_px: int, min_points: int, inside=None) -> np.ndarray:
    """A mask on the crop (:func:`mask_on_crop`) eroded by ``erode_px`` pixels against 1-2 px of mask bleed onto
    the background, not at the crop's edges (the 2D box's, which the object touches), unless that leaves fewer than
    ``min_points`` or MASK_ERODE_KEEP of its pixels.  ``inside``: the mask's :func:`inner_distance`, when it is
    eroded more than once (each erosion is then a threshold of it)."""
    if erode_px > 0:
        it = max(1, int(round(erode_px / cr.st)))
        if inside is None:
            er = ndimage.binary_erosion(region, iterations=it, border_value=1)
        else:
            er = inside > it
        if er.sum() >= max(min_points, MASK_ERODE_KEEP * region.sum()):
            region = er
    return region


def inner_distance(region: np.ndarray) -> np.ndarray:
    """City-block distance (pixels) of each pixel of ``region`` to the nearest crop pixel outside it (0 outside;
    beyond the crop's edges the region goes on): ``inner_distance(region) > k`` is ``region`` eroded k times by the
    3x3 cross with the crop's edges not eroding, as ``ndimage.binary_erosion(region, iterations=k, border_value=1)``
    gives it."""
    if region.all():  # nothing outside: no erosion removes a pixel
        return np.full(region.shape, np.iinfo(np.int32).max, dtype=np.int32)
    return ndimage.distance_transform_cdt(region, metric="taxicab")


MASK_ERODE_KEEP = 0.3  # the erosion is kept only when at least this share of the mask's pixels survives


def erode_region(region: np.ndarray, cr: Crop, erode_px: int, min_points: int) -> np.ndarray:
    """Box-only: the separated foreground eroded by ``erode_px`` pixels (the crop's edges are the 2D box's, so they
    erode too), kept only when at least ``min_points`` and MASK_ERODE_KEEP of its pixels survive."""
    if erode_px <= 0 or not region.any():
        return region
    it = max(1, int(round(erode_px / cr.st)))
    er = ndimage.binary_erosion(region, iterations=it)
    return er if er.sum() >= max(min_points, MASK_ERODE_KEEP * region.sum()) else region
