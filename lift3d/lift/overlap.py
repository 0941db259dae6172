"""After every box is fitted: box-only objects whose depth may be another annotated object's surface.

A box-only lift reads the depth inside the 2D box.  Where most of that box lies inside another annotation's 2D
box, the nearest surface seen there can be the other object's: a car seen over a nearer car's roof, a dog behind
a person's legs, a lamp behind another lamp.  Two solid objects do not share one place, so when the box-only
object's lifted centre lies inside the other object's lifted box, or the near face of its lifted box (along the ray
through its 2D box's centre) lies within the other object's box along that ray, its distance was not confirmed by
a surface of its own: it is flagged ``shared_surface``.  It is then either where it was lifted (a box standing on
a night stand, lifted a little into it) or hidden behind the other object, farther along its ray: the QA takes its
distance as a lower bound (``lift3d.qa.scene.BEYOND_FLAGS``).  Pure numpy."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import Box3D
from lift3d.geometry.iou import rect_overlap
from lift3d.lift.visibility import box_ray_span

FLAG = "shared_surface"
# the near face "lies within" the other box along the ray up to this far in front of or behind it: the larger of an
# absolute and a relative depth (a face is placed from the points to about a thin object's depth; a few per cent of
# sensor-like depth's scale and noise)
SURFACE_TOL_M = 0.2
SURFACE_TOL_REL = 0.05


def shared_surface(objects: list[dict], K, min_cover: float) -> list[int]:
    """Indices of the box-only objects (flag ``box_only``) with at least ``min_cover`` of their 2D box inside the
    2D box of another object whose lifted 3D box contains their lifted centre, or holds (within ``SURFACE_TOL_M`` /
    ``SURFACE_TOL_REL``) the near face of theirs along the ray through their 2D box's centre (``K``: the intrinsics
    the boxes were lifted with).  ``min_cover`` <= 0: none."""
    if min_cover <= 0 or len(objects) < 2:
        return []
    Kinv = np.linalg.inv(np.asarray(K, dtype=np.float64).reshape(3, 3))
    boxes, rects = [], []
    for o in objects:
        try:
            boxes.append(Box3D.from_row(o))
            rects.append(tuple(float(t) for t in o["bbox2d"]))
        except (KeyError, TypeError, ValueError):
            boxes.append(None)
            rects.append(None)
    finite = [b is not None and bool(np.all(np.isfinite(b.dims))) for b in boxes]
    out = []
    for i, o in enumerate(objects):
        if "box_only" not in (o.get("flags") or ()) or boxes[i] is None:
            continue
        r = rects[i]
        area = (r[2] - r[0]) * (r[3] - r[1])
        if not area > 0:
            continue
        a = boxes[i]
        ray = (Kinv @ np.array([0.5 * (r[0] + r[2]), 0.5 * (r[1] + r[3]), 1.0]))[None]
        ray = ray / ray[0, 2]
        a_in, a_out = box_ray_span(a.center, a.dims, a.R, ray)
        for j, b in enumerate(boxes):
            if j == i or not finite[j] or rect_overlap(r, rects[j]) < min_cover * area:
                continue
            if bool(b.contains(a.center[None])[0]):
                out.append(i)
                break
            b_in, b_out = box_ray_span(b.center, b.dims, b.R, ray)
            tol = max(SURFACE_TOL_M, SURFACE_TOL_REL * float(b_in[0]))
            if a_in[0] <= a_out[0] and b_in[0] <= b_out[0] and b_in[0] - tol <= a_in[0] <= b_out[0] + tol:
                out.append(i)
                break
    return out


def flag_shared_surfaces(objects: list[dict], K, min_cover: float) -> None:
    """Add the flag ``shared_surface`` to the objects :func:`shared_surface` finds (in place)."""
    for i in shared_surface(objects, K, min_cover):
        flags = objects[i].setdefault("flags", [])
        if FLAG not in flags:
            flags.append(FLAG)
