"""Object segmentation in the crop: connected components, and which of them are another annotated object
(box-only).  Pure numpy/scipy."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from lift3d.geometry.iou import rect_overlap
from lift3d.lift.config import LiftConfig


def finite_boxes(others):
    """The other annotations' 2D boxes as (x1, y1, x2, y2) floats; malformed or non-finite ones skipped."""
    for b in others:
        try:
            x1, y1, x2, y2 = (float(t) for t in b)
        except (TypeError, ValueError):
            continue
        if np.all(np.isfinite([x1, y1, x2, y2])):
            yield x1, y1, x2, y2


def other_objects(lab: np.ndarray, nlab: int, others, r0: int, c0: int, st: int, bbox, cfg: LiftConfig):
    """Box-only: which connected components of the crop are another annotated object.  A component whose
    image extent lies (``other_box_contain``) inside the 2D box of another annotation that covers only a part
    of ours (``other_box_area``; an object in front of ours, or on it) is that object, not ours: our own
    visible pixels span our whole box.  None when no component is."""
    x1, y1, x2, y2 = (float(t) for t in bbox)
    own = max((x2 - x1) * (y2 - y1), 1e-6)
    small = [b for b in finite_boxes(others)
             if 0 < rect_overlap((x1, y1, x2, y2), b) / own <= cfg.components.other_box_area]
    if not small:
        return None
    sl = ndimage.find_objects(lab, max_label=nlab)
    theirs = np.zeros(nlab, dtype=bool)
    for i, t in enumerate(sl):
        if t is None:
            continue
        # the component's image extent (pixel edges of the strided crop cells)
        cy1, cy2 = r0 + st * t[0].start - 0.5, r0 + st * (t[0].stop - 1) + 0.5
        cx1, cx2 = c0 + st * t[1].start - 0.5, c0 + st * (t[1].stop - 1) + 0.5
        area = max((cy2 - cy1) * (cx2 - cx1), 1e-6)
        for bx1, by1, bx2, by2 in small:
            if rect_overlap((cx1, cy1, cx2, cy2), (bx1, by1, bx2, by2)) >= cfg.components.other_box_contain * area:
                theirs[i] = True
                break
    return theirs if theirs.any() else None


# a component with less than this share of its surface inside the box (:func:`inside_share`) lies mostly outside it:
# the box does not claim it (a crossing occluder, a wall), so it is not merged into a best component the box does claim
BOUNDED_SHARE = 0.5


def solid_components(mask: np.ndarray, bridge_px: int) -> tuple[np.ndarray, int]:
    """(labels, count) of ``mask``'s connected components, cut where they join through a bridge at most
    ``2 * bridge_px`` pixels wide: the components of the mask eroded by ``bridge_px`` (4-connected, the crop's edges
    counting as outside), each pixel of the mask then taking the label of the nearest eroded pixel where that lies
    in the pixel's own connected component.  The others keep a label of their component's own: all of a component
    with no pixel left after the erosion (thinner than the bridges), and the few pixels of a component whose nearest
    eroded pixel is another component's (they form a small part of their own).  ``bridge_px`` 0: plain connected
    components."""
    lab0, n0 = ndimage.label(mask)
    if bridge_px <= 0 or n0 == 0:
        return lab0, n0
    core = ndimage.binary_erosion(mask, iterations=bridge_px)
    labc, nc = ndimage.label(core)
    if nc <= 1:
        return lab0, n0
    # each core component lies in one component of the mask: where none holds two, nothing is cut
    parent = np.zeros(nc + 1, dtype=np.int64)
    parent[labc.ravel()] = lab0.ravel()
    if len(np.unique(parent[1:])) == nc:
        return lab0, n0
    iy, ix = ndimage.distance_transform_edt(~core, return_distances=False, return_indices=True)
    near = labc[iy, ix]
    own = lab0[iy, ix] == lab0  # the nearest core pixel lies in the pixel's own component
    lab = np.where(mask, np.where(own, near, nc + lab0), 0)
    used = np.unique(lab)
    relabel = np.zeros(nc + n0 + 1, dtype=np.int64)
    relabel[used] = np.arange(len(used))
    return relabel[lab], len(used) - 1


def inside_share(lab: np.ndarray, nlab: int, surround) -> np.ndarray:
    """Box-only: per component of the crop's labels ``lab``, the share of its connected surface that lies inside
    the box, seen in a surround of the box: ``surround`` = (the surround's clean pixels, the (row, column) offset
    of the crop in it; :func:`lift3d.lift.crop.read_surround`, :func:`lift3d.lift.clean.surround_pixels`).

    A 2D box is drawn tight around its object, so the object's visible surface ends at the box's edges: its
    share is about 1 (less where it touches a neighbour at the same depth, or where the box is drawn a few pixels
    inside its outline).  A nearer object crossing the box (a footboard in front of a dresser) or the wall behind
    it is depth-continuous beyond the edges: most of it lies outside.  The crop's components replace the
    surround's pixels inside the box (what the box-only separation removed there stays removed), and the surround
    is labelled with the same connectivity, so two of the crop's components joined outside the box share one value.
    Two crop components that touch inside the box (a bridge :func:`solid_components` cut) are kept apart there: the
    pixels where they meet are left out of the surround's labelling, and each crop component takes the surround
    label of most of its pixels."""
    win, (oy, ox) = surround
    h, w = lab.shape
    fg = np.array(win, dtype=bool)
    crop_fg = lab > 0
    meet_u = (lab[:, 1:] != lab[:, :-1]) & crop_fg[:, 1:] & crop_fg[:, :-1]
    meet_v = (lab[1:, :] != lab[:-1, :]) & crop_fg[1:, :] & crop_fg[:-1, :]
    crop_fg[:, 1:] &= ~meet_u
    crop_fg[1:, :] &= ~meet_v
    fg[oy:oy + h, ox:ox + w] = crop_fg
    wl, nw = ndimage.label(fg)
    n_all = np.bincount(wl.ravel(), minlength=nw + 1)
    wl_crop = wl[oy:oy + h, ox:ox + w]
    n_in = np.bincount(wl_crop.ravel(), minlength=nw + 1)
    # each crop component: the surround label of most of its pixels (one left with none, a meeting pixel alone: 1)
    both = (lab > 0) & (wl_crop > 0)
    pairs, cnt = np.unique(lab[both].astype(np.int64) * (nw + 1) + wl_crop[both], return_counts=True)
    comp, surr = pairs // (nw + 1), pairs % (nw + 1)
    order = np.lexsort((-cnt, comp))  # by crop component, its most frequent surround label first
    first = order[np.unique(comp[order], return_index=True)[1]]
    j = np.zeros(nlab + 1, dtype=np.int64)
    j[comp[first]] = surr[first]
    j = j[1:]
    return np.where(j > 0, n_in[j] / np.maximum(n_all[j], 1), 1.0)


def hides_another(mean_z: np.ndarray, counts: np.ndarray, cfg: LiftConfig) -> np.ndarray:
    """Per component: whether another one of the box lies clearly behind it (mean depth beyond the merge distance,
    ``merge_depth_rel``) with at least ``merge_min_frac`` of its pixels - a surface it may be hiding.  Only such a
    component can be an occluder crossing the box; the farthest surface of a box (the object, or the wall it
    stands against, which joins it outside the box) is not judged by how far it goes on outside."""
    far = (1.0 + cfg.components.merge_depth_rel) * mean_z
    out = np.zeros(len(mean_z), dtype=bool)
    order = np.argsort(-mean_z)  # farthest first: the running maximum of the counts seen so far
    run_max = np.maximum.accumulate(counts[order])
    # for component i: the largest count among the components with mean depth > far[i]
    idx = np.searchsorted(-mean_z[order], -far, side="left")  # components strictly farther than far[i]
    has = idx > 0
    out[has] = run_max[idx[has] - 1] >= cfg.components.merge_min_frac * counts[has]
    return out


def select_components(ok: np.ndarray, dz: np.ndarray, box_only: bool, others, bounds, st: int, bbox,
                      cfg: LiftConfig, surround=None) -> np.ndarray:
    """The object's pixels among the clean crop pixels ``ok``: connected components (depth discontinuities are
    already cut: flying pixels removed; box-only: a bridge at most ``2 * components.bridge_px`` pixels wide does not
    join two surfaces, :func:`solid_components`: where a dense map has no hole along an edge, the discontinuity
    test can leave such a line); the one with the largest score is kept - pixel count for masks; for
    boxes a centre-weighted count times its 2D extent relative to the box, with the components of other
    annotations (:func:`other_objects`) down-weighted and those in front of another component
    (:func:`hides_another`) weighted by the share of their surface inside the box (:func:`inside_share`;
    ``surround``: a callable returning what that needs, or None) - plus the components at a similar depth (an
    object split by an occluder; when the best one lies mostly inside the box, only those that do too).  ``bounds`` = (r0, r1, c0, c1) of the crop read at stride ``st``."""
    bridge = cfg.components.bridge_px if box_only else 0
    lab, nlab = solid_components(ok, bridge)
    if nlab <= 1:
        return ok
    r0, _, c0, _ = bounds
    lf = lab.ravel()
    counts = np.bincount(lf, minlength=nlab + 1)[1:].astype(np.float64)
    mean_z = np.bincount(lf, weights=dz.ravel(), minlength=nlab + 1)[1:] / np.maximum(counts, 1.0)
    theirs = share = None
    if box_only:
        hh, ww = ok.shape
        yy = (np.arange(hh) + 0.5) / hh - 0.5
        xx = (np.arange(ww) + 0.5) / ww - 0.5
        wgt = np.exp(-(yy[:, None] ** 2 + xx[None, :] ** 2) / (2 * cfg.components.centre_sigma ** 2))
        score = np.bincount(lf, weights=wgt.ravel(), minlength=nlab + 1)[1:]
        if cfg.components.span_power > 0:
            # a 2D box is tight around the object's visible pixels: the object's component spans it
            # (background and occluders usually span only part of it)
            sl = ndimage.find_objects(lab)
            span = np.array([((t[0].stop - t[0].start) / hh) * ((t[1].stop - t[1].start) / ww)
                             if t is not None else 0.0 for t in sl])
            score = score * span ** cfg.components.span_power
        if surround is not None:
            # a nearer surface that goes on beyond the box's edges is likely another object crossing the box:
            # only the share of it inside the box counts for it
            share = inside_share(lab, nlab, surround())
            score = score * np.where(hides_another(mean_z, counts, cfg), share, 1.0)
        if others and cfg.components.other_box_weight < 1.0:
            theirs = other_objects(lab, nlab, others, r0, c0, st, bbox, cfg)
        if theirs is not None:
            score = np.where(theirs, score * cfg.components.other_box_weight, score)
    else:
        score = counts
    best = int(np.argmax(score))
    zb = mean_z[best]
    keep = ((np.abs(mean_z - zb) <= cfg.components.merge_depth_rel * zb)
            & (counts >= cfg.components.merge_min_frac * counts[best]))
    if theirs is not None:
        keep &= ~theirs
    if share is not None and share[best] >= BOUNDED_SHARE:
        keep &= share >= BOUNDED_SHARE
    keep[best] = True
    return np.concatenate([[False], keep])[lab]
