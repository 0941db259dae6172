"""After every box is fitted: box-only objects whose depth may be another annotated object's surface.

A box-only lift reads the depth inside the 2D box.  Where most of that box lies inside another annotation's 2D
box, the nearest surface seen there can be the other object's: a car seen over a nearer car's roof, a dog behind
a person's legs, a lamp behind another lamp.  Two solid objects do not share one place, so when the box-only
object's lifted centre lies inside the other object's lifted box, its distance was not confirmed by a surface of
its own: it is flagged ``shared_surface``.  Its distance may be right (a box standing on a night stand, lifted a
little into it) or far too near (the object is hidden behind the other one); the QA widens its uncertainty
(``lift3d.qa.config.DEFAULT_FLAG_SIGMA``).  Pure numpy."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import Box3D
from lift3d.geometry.iou import rect_overlap

FLAG = "shared_surface"


def shared_surface(objects: list[dict], min_cover: float) -> list[int]:
    """Indices of the box-only objects (flag ``box_only``) with at least ``min_cover`` of their 2D box inside the
    2D box of another object whose lifted 3D box contains their lifted centre.  ``min_cover`` <= 0: none."""
    if min_cover <= 0 or len(objects) < 2:
        return []
    boxes, rects = [], []
    for o in objects:
        try:
            boxes.append(Box3D.from_row(o))
            rects.append(tuple(float(t) for t in o["bbox2d"]))
        except (KeyError, TypeError, ValueError):
            boxes.append(None)
            rects.append(None)
    out = []
    for i, o in enumerate(objects):
        if "box_only" not in (o.get("flags") or ()) or boxes[i] is None:
            continue
        r = rects[i]
        area = (r[2] - r[0]) * (r[3] - r[1])
        if not area > 0:
            continue
        centre = boxes[i].center[None]
        for j, b in enumerate(boxes):
            if j == i or b is None or rect_overlap(r, rects[j]) < min_cover * area:
                continue
            if bool(b.contains(centre)[0]) and np.all(np.isfinite(b.dims)):
                out.append(i)
                break
    return out


def flag_shared_surfaces(objects: list[dict], min_cover: float) -> None:
    """Add the flag ``shared_surface`` to the objects :func:`shared_surface` finds (in place)."""
    for i in shared_surface(objects, min_cover):
        flags = objects[i].setdefault("flags", [])
        if FLAG not in flags:
            flags.append(FLAG)
