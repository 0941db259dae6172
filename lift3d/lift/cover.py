"""Cover growth: a box whose projection stops short of its 2D box's side edges grows until it reaches them."""

from __future__ import annotations

import numpy as np

from lift3d.lift.boxgeom import corner_span, outward
from lift3d.lift.config import LiftConfig



def cover_box_sides(ext4: list, K: np.ndarray, G: np.ndarray, c: float, s: float, hl: float, hh_: float, bbox,
                     cut_left: bool, cut_right: bool, cap: float, tol_px: float, far=(1, 3),
                     near_cost: float = 1.0) -> tuple[list, bool]:
    """Grow the ground-plane box ``ext4 = [ul, uh, vl, vh]`` until its projection reaches the left and right
    edges of the 2D box: a tight 2D box's side edges are rays that touch the object, so an object whose
    points stop short of them (thin legs or a backrest edge lost to the cleaning, a face seen edge-on)
    extends further.  Each side (not cut by the image border) is reached by moving the one box face that
    gets there with the smallest move (at most ``cap`` m, found by bisection); returns (ext4, grown)."""
    x1, _, x2, _ = (float(t) for t in bbox)
    grown = False
    span = corner_span(K, G, c, s, hl, hh_)
    for side, target, cut in ((-1, x1, cut_left), (1, x2, cut_right)):
        if cut:
            continue

        def short(e):  # how far (px) the projection stays inside the 2D box on this side
            lo, hi = span(e)
            if lo is None:
                return -np.inf
            return (lo - target) if side < 0 else (target - hi)


        if short(ext4) <= tol_px:
            continue
        best = None
        for k in range(4):  # ul down, uh up, vl down, vh up
            def moved(delta, k=k):
                e = list(ext4)
                e[k] += outward(k) * delta
                return e
            if short(moved(cap)) > tol_px:
                continue  # this face cannot get there within the cap
            lo, hi = 0.0, cap
            for _ in range(BISECT_STEPS):
                mid = 0.5 * (lo + hi)
                if short(moved(mid)) > tol_px:
                    lo = mid
                else:
                    hi = mid
            cost = hi if k in far else near_cost * hi
            if best is None or cost < best[0]:
                best = (cost, moved(hi))
        if best is not None:
            ext4 = best[1]
            grown = True
    return ext4, grown


def grow_to_cover(e4: list, ext, prior, K, G, c, s, hl, hh_, bbox, cut_lr, far, cfg: LiftConfig) -> list:
    """:func:`cover_box_sides` with its cap: the box's shorter side may grow up to the prior's longer side
    (+ 2 spreads), or twice the seen longer extent (at least ``NO_PRIOR_MIN_CAP``) without a prior."""
    if prior is not None:
        lim = max(prior.l, prior.w) * (1.0 + 2.0 * prior.rel_std)
    else:
        lim = 2.0 * float(max(ext.max(), NO_PRIOR_MIN_CAP))
    cap = max(0.0, lim - float(min(e4[1] - e4[0], e4[3] - e4[2])))
    if cap > 0:
        e4, _grown = cover_box_sides(e4, K, G, c, s, hl, hh_, bbox, *cut_lr, cap, cfg.cover.tol_px,
                                     far=far, near_cost=cfg.cover.near_cost)
    return e4


NO_PRIOR_MIN_CAP = 0.1  # m; see grow_to_cover
BISECT_STEPS = 12  # bisection steps of the face move in cover_box_sides
