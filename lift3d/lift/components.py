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
    small = [b for b in finite_boxes(others) if 0 < rect_overlap((x1, y1, x2, y2), b) / own <= cfg.other_box_area]
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
            if rect_overlap((cx1, cy1, cx2, cy2), (bx1, by1, bx2, by2)) >= cfg.other_box_contain * area:
                theirs[i] = True
                break
    return theirs if theirs.any() else None
