"""How soft the depth map's edges are: the width of the ramp a depth discontinuity becomes (pure numpy).

A depth sensor keeps a discontinuity sharp (a step, perhaps a flying pixel); a monocular network predicts at a
coarse resolution and its upsampled output turns every discontinuity into a ramp of in-between depths several
pixels wide.  Mask pixels on that ramp carry depths between the object and what lies behind it, and spread the
object's points along the view ray (horizontal extents +17 % in the median on soft-edged synthetic depth).

The width is measured on the image itself: across every strong discontinuity (log depth changing by more than
``jump_min`` over ``span`` pixels), a sharp step changes by the whole jump in one pixel, while a ramp of width w
changes by about jump / w per pixel at its steepest.  ``jump / steepest step`` is that width; the median over all
such places is the image's ramp width (1 for sensor depth).  The lifter erodes masks by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lift3d.lift.quantiles import median


@dataclass(frozen=True)
class SoftEdgeConfig:
    span_px: int = 8  # half window over which a discontinuity's whole jump is measured (a ramp narrower than 2x this)
    jump_min: float = 0.25  # |log depth| change over the window that counts as a discontinuity (x1.28)
    # fewer discontinuity samples than this: no estimate (1 px assumed).  The widths of one image scatter by 0.1-0.4
    # in log (robust sd), so the median of ten is within about 0.1 in log; a room with few strong depth jumps gives
    # 12-50 (it used to need 50, and such a soft-edged image was lifted as if its edges were sharp)
    min_samples: int = 10
    max_px: float = 12.0  # cap of the estimate
    # on a strided map a median width below this many (strided) pixels is a step within its resolution: taken as
    # sharp (1 px), not as st px (the real Kinect frames in ../shared read 1.04-1.10 at stride 2)
    resolved: float = 1.5
    max_side: int = 640  # the map is strided to at most this many pixels per side (the estimate is rescaled)
    line_step: int = 8  # every line_step-th row (column) is scanned along its length: full resolution along the scan


def edge_ramp_px(depth: np.ndarray, cfg: SoftEdgeConfig = SoftEdgeConfig()) -> float:
    """Median width (pixels of ``depth``) of the ramps the depth map's discontinuities are blurred into."""
    d = np.asarray(depth)
    st = max(1, int(np.ceil(max(d.shape) / cfg.max_side)))
    d = d[::st, ::st]
    R = max(1, int(round(cfg.span_px / st)))
    widths = []
    for axis in (0, 1):
        # scan along ``axis`` at full resolution, every line_step-th line across it (log depth of those lines only)
        lines = np.asarray(d[:, :: cfg.line_step] if axis == 0 else d[:: cfg.line_step, :], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.log(lines)
        a[~(np.isfinite(lines) & (lines > 0))] = np.nan
        a = np.moveaxis(a, axis, -1)
        if a.shape[-1] <= 2 * R + 1:
            continue
        jump = np.abs(a[..., 2 * R:] - a[..., : -2 * R])  # over the window [i - R, i + R]
        step = np.abs(np.diff(a, axis=-1))  # step between i and i + 1
        widths.append(_ramp_widths(jump, step, R, cfg.jump_min))
    w = np.concatenate(widths) if widths else np.empty(0)
    if len(w) < cfg.min_samples:
        return 1.0
    m = float(median(w))
    if st > 1 and m < cfg.resolved:  # the jumps lie within about one pixel of the strided map: no wider than st px,
        return 1.0  # a step (perhaps with a sensor's mixed pixel), not a ramp this map can tell
    return float(np.clip(m * st, 1.0, cfg.max_px))


def _ramp_widths(jump: np.ndarray, step: np.ndarray, R: int, jump_min: float) -> np.ndarray:
    """jump / steepest step at each discontinuity of the lines: where the jump over the window exceeds ``jump_min``
    and is the largest within +-R of it (one sample per discontinuity), the steepest single step inside the window
    (steps i - R .. i + R - 1) finite and positive.  Only the few places with a large jump are visited."""
    L, M = jump.shape
    cl, cj = np.nonzero(jump > jump_min)  # (a NaN jump is never larger)
    if len(cl) == 0:
        return np.empty(0)
    n = step.shape[1]
    steep = np.take(step, (cl * n + cj)[:, None] + np.arange(2 * R)).max(axis=1)  # an invalid step (NaN) stays NaN
    ok = np.isfinite(steep) & (steep > 0)
    cl, cj, steep = cl[ok], cj[ok], steep[ok]
    jv = jump[cl, cj]
    kept = np.zeros((L, M))
    kept[cl, cj] = jv
    near = np.take(kept, cl[:, None] * M + np.clip(cj[:, None] + np.arange(-R, R + 1), 0, M - 1)).max(axis=1)
    peak = jv >= near
    return jv[peak] / steep[peak]


def outline_distance(region: np.ndarray, metric: str = "taxicab") -> np.ndarray:
    """Distance (pixels, ``metric`` of :func:`scipy.ndimage.distance_transform_cdt`) of each pixel of ``region`` to
    the nearest pixel outside it, the crop's edges counting as outside (0 outside the region)."""
    return ndimage.distance_transform_cdt(np.pad(region, 1), metric=metric)[1:-1, 1:-1]


def blended(mask: np.ndarray, stride: int, rim_px: float) -> bool:
    """A mask whose innermost pixel lies less than half the image's measured edge ramp (``rim_px``) from its outline.
    A soft edge blends the depths on both sides of a discontinuity over about one ramp width either way, so the
    innermost pixel of an object ``2 D`` wide reads its own depth with a weight of about ``D / rim_px``: below one
    half, every depth read on it is mostly its surroundings' (a pole 9 m away read at 26 m against the facades
    behind it; :func:`redepth_rim` has no core to re-depth its rim from), so its distance is not measured.
    ``mask``: on the crop of its 2D box (pixels of ``stride`` image pixels), whose edges are the outline's where the
    mask reaches them."""
    if not rim_px > 0 or not mask.any():
        return False
    # the innermost pixel's (taxicab) distance reaches c, the least whole distance not below half the ramp, iff the
    # mask eroded c - 1 times by the 4-neighbour cross (the crop's edges outside) keeps a pixel: the same test as
    # ``float(outline_distance(mask).max()) * stride < 0.5 * rim_px``, without the whole distance transform; by hand,
    # stopping once the mask is empty (``ndimage.binary_erosion(..., iterations=c - 1)`` costs as much as the transform)
    core = mask
    for _ in range(half_ramp_steps(stride, rim_px) - 1):
        inner = np.zeros_like(core)
        inner[1:-1, 1:-1] = core[1:-1, 1:-1] & core[:-2, 1:-1] & core[2:, 1:-1] & core[1:-1, :-2] & core[1:-1, 2:]
        if not inner.any():
            return True
        core = inner
    return False


def blended_box(shape: tuple[int, int], stride: int, rim_px: float) -> bool:
    """:func:`blended` of a whole crop (a box-only object's 2D box, which the object lies within), without eroding it:
    a rectangle's innermost pixel lies ``ceil(min(shape) / 2)`` from its outline, so it is emptied by c - 1 erosions
    exactly when its shorter side is at most 2 (c - 1) pixels."""
    return rim_px > 0 and min(shape) <= 2 * (half_ramp_steps(stride, rim_px) - 1)


def half_ramp_steps(stride: int, rim_px: float) -> int:
    """c, the least whole number of crop pixels (of ``stride`` image pixels) not below half the ramp ``rim_px``, at
    least 1."""
    c = 1
    while float(c) * stride < 0.5 * rim_px:
        c += 1
    return c


def redepth_rim(d: np.ndarray, region: np.ndarray, rim_px: float, max_rel_step: float):
    """(``d`` with the rim of the region's body re-depthed, the re-depthed pixels).

    On a soft-edged map a ramp reaches up to its width into an object, so the pixels less than ``rim_px`` (pixels
    of ``d``, rounded up) from the nearest pixel outside the region carry depths blended with whatever lies beyond
    it (the background behind, an occluder in front), while the body's core keeps the object's own surface.  The
    core: the region eroded by a square of half side ``rim_px`` (the blur of an upsampled prediction is separable);
    an object thinner than two rims keeps its innermost pixels.  Each rim pixel within ``rim_px`` of the core (in
    both image directions) takes the surface of the nearest core pixel extrapolated to it: the core's inverse depth,
    affine in the pixel coordinates on a plane, with its local gradient (differences between core pixels), bent by at
    most ``max_rel_step`` of itself per pixel (the slope of the most oblique surface believed: a steeper one is an
    edge).  Rim pixels further from the core belong to thin parts away from the body (legs, handles), whose depth the
    core does not tell: they are not changed (and not in the returned set)."""
    r = int(np.ceil(rim_px - 1e-9))
    if r <= 0 or not region.any():
        return d, np.zeros(region.shape, dtype=bool)
    # outside the crop reads as outside the region: no pixel within r - 1 of the crop's border is core
    core = ndimage.minimum_filter(region, size=2 * r - 1, mode="constant", cval=False)
    if not core.any():  # thinner than two rims: its innermost pixels
        inside = outline_distance(region, "chessboard")
        core = inside >= inside.max()
    rim = region & ~core
    if not rim.any():
        return d, np.zeros(region.shape, dtype=bool)
    iv, iu = ndimage.distance_transform_edt(~core, return_distances=False, return_indices=True)
    rv, ru = np.nonzero(rim)
    cv, cu = iv[rv, ru], iu[rv, ru]
    dv, du = rv - cv, ru - cu
    near = (np.abs(dv) <= r) & (np.abs(du) <= r)
    rv, ru, cv, cu, dv, du = rv[near], ru[near], cv[near], cu[near], dv[near], du[near]
    # the core's inverse depth, padded by one pixel of "not core" (0) all round: neighbours need no bounds checks
    inv = np.zeros((d.shape[0] + 2, d.shape[1] + 2))
    inv[1:-1, 1:-1][core] = 1.0 / d[core]
    pv, pu = cv + 1, cu + 1
    i0 = inv[pv, pu]
    step = (_slope(i0, inv[pv + 1, pu], inv[pv - 1, pu]) * dv
            + _slope(i0, inv[pv, pu + 1], inv[pv, pu - 1]) * du)
    lim = max_rel_step * np.hypot(dv, du) * i0
    out = d.copy()
    out[rv, ru] = 1.0 / (i0 + np.minimum(np.maximum(step, -lim), lim))
    done = np.zeros(region.shape, dtype=bool)
    done[rv, ru] = True
    return out, done


def _slope(here: np.ndarray, nxt: np.ndarray, prv: np.ndarray) -> np.ndarray:
    """The inverse depth's slope per pixel at core pixels (inverse depth ``here``) from their next and previous
    neighbours' (0 where not core): the central difference, one-sided at the core's edge, 0 with neither."""
    n, p = nxt > 0, prv > 0
    return np.where(n & p, 0.5 * (nxt - prv), np.where(n, nxt - here, np.where(p, here - prv, 0.0)))
