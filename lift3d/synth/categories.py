"""Object categories of the synthetic generator: COCO ids, size ranges, colours and part layouts.

Sizes are (w, h, l) in metres in the box convention of :mod:`lift3d.geometry.boxes`: ``w`` along the
object's local x axis (its width, left-right seen from its front), ``h`` the vertical extent (local y,
down), ``l`` along local z (its depth, back to front; the face at local +l/2 is the object's front).

==============  ===========  ============  ===========  ====================================
category        w (m)        h (m)         l (m)        placement / shape
==============  ===========  ============  ===========  ====================================
table           0.80-1.80    0.68-0.78     0.60-1.00    floor; top + 4 legs; supports items
chair           0.42-0.56    0.78-1.00     0.45-0.58    floor; seat, backrest, 4 legs
bed             0.95-1.90    0.85-1.20     1.95-2.20    floor, often against a wall; base + headboard
sofa            1.50-2.40    0.75-0.95     0.80-1.00    floor, often against a wall; seat, back, arms
cabinet         0.60-1.20    0.80-2.00     0.40-0.60    floor, often against a wall; supports items if h<=1.3
night_stand     0.40-0.60    0.50-0.75     0.35-0.50    floor; supports items
box             0.20-0.60    0.15-0.50     0.20-0.60    floor or on a support (then at most the top's size)
lamp            0.25-0.45    1.30-1.80     = w          floor lamp: base, pole, shade
lamp (on top)   0.15-0.35    0.30-0.60     = w          table lamp on a support
bookshelf       0.60-1.20    1.00-2.00     0.25-0.40    floor, often against a wall; open shelves
desk            1.00-1.60    0.72-0.78     0.55-0.80    floor; top + 2 side panels; supports items
tv              0.80-1.40    0.50-0.85     0.18-0.30    on a support only; panel + neck + base
ottoman         0.40-0.80    0.35-0.45     0.40-0.80    floor; single block
==============  ===========  ============  ===========  ====================================

Outdoor street/park scenes (``--scene-type outdoor``) use their own categories (COCO names, on the
ground at 3-30 m; sizes from typical real objects, consistent with ``lift3d/priors/size_priors.csv``):

==============  ===========  ============  ===========  ====================================
category        w (m)        h (m)         l (m)        shape
==============  ===========  ============  ===========  ====================================
person          0.40-0.55    1.55-1.92     0.22-0.35    legs, torso, head
car             1.70-1.95    1.40-1.65     3.90-4.90    wheels, body, cabin; along the street
truck           2.30-2.55    2.60-3.80     6.00-9.00    wheels, cab, cargo box; along the street
bicycle         0.50-0.65    0.95-1.15     1.60-1.85    two wheels, frame, handlebar
bench           1.20-1.90    0.75-0.92     0.50-0.70    seat, backrest, legs
dog             0.20-0.35    0.45-0.80     0.60-1.05    legs, body, head
fire hydrant    0.28-0.40    0.60-0.90     = w          body, cap, side outlets
pole            0.10-0.25    2.50-5.00     = w          a post
==============  ===========  ============  ===========  ====================================

Every object is rendered as a union of axis-aligned parts in its own local frame; the union's bounding
box is exactly the object's (amodal) box, which is the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    w: tuple[float, float]
    h: tuple[float, float]
    l: tuple[float, float] | None  # None: l = w (round footprint-like objects)
    color: tuple[float, float, float]
    floor_weight: float  # relative frequency among floor objects (0: never on the floor)
    wall_prob: float = 0.0  # probability of being placed with its back against a wall
    support: bool = False  # can carry small objects on its top
    outdoor_weight: float = 0.0  # relative frequency in outdoor scenes (0: indoor category)


CATEGORIES: tuple[Category, ...] = (
    Category(1, "table", (0.80, 1.80), (0.68, 0.78), (0.60, 1.00), (0.55, 0.38, 0.22), 1.2, 0.0, True),
    Category(2, "chair", (0.42, 0.56), (0.78, 1.00), (0.45, 0.58), (0.42, 0.28, 0.18), 1.5),
    Category(3, "bed", (0.95, 1.90), (0.85, 1.20), (1.95, 2.20), (0.86, 0.86, 0.90), 0.5, 0.8),
    Category(4, "sofa", (1.50, 2.40), (0.75, 0.95), (0.80, 1.00), (0.33, 0.40, 0.56), 0.7, 0.7),
    Category(5, "cabinet", (0.60, 1.20), (0.80, 2.00), (0.40, 0.60), (0.72, 0.62, 0.46), 0.9, 0.8, True),
    Category(6, "night_stand", (0.40, 0.60), (0.50, 0.75), (0.35, 0.50), (0.50, 0.33, 0.20), 0.8, 0.5, True),
    Category(7, "box", (0.20, 0.60), (0.15, 0.50), (0.20, 0.60), (0.76, 0.60, 0.40), 0.7),
    Category(8, "lamp", (0.25, 0.45), (1.30, 1.80), None, (0.95, 0.90, 0.72), 0.5),
    Category(9, "bookshelf", (0.60, 1.20), (1.00, 2.00), (0.25, 0.40), (0.62, 0.46, 0.30), 0.7, 0.9),
    Category(10, "desk", (1.00, 1.60), (0.72, 0.78), (0.55, 0.80), (0.82, 0.82, 0.78), 0.8, 0.6, True),
    Category(11, "tv", (0.80, 1.40), (0.50, 0.85), (0.18, 0.30), (0.10, 0.10, 0.12), 0.0),
    Category(12, "ottoman", (0.40, 0.80), (0.35, 0.45), (0.40, 0.80), (0.62, 0.26, 0.26), 0.6),
    # outdoor (street/park) categories: floor_weight 0, never in indoor scenes
    Category(13, "person", (0.40, 0.55), (1.55, 1.92), (0.22, 0.35), (0.30, 0.32, 0.45), 0.0, outdoor_weight=3.0),
    Category(14, "car", (1.70, 1.95), (1.40, 1.65), (3.90, 4.90), (0.65, 0.12, 0.12), 0.0, outdoor_weight=2.5),
    Category(15, "truck", (2.30, 2.55), (2.60, 3.80), (6.00, 9.00), (0.85, 0.85, 0.82), 0.0, outdoor_weight=0.6),
    Category(16, "bicycle", (0.50, 0.65), (0.95, 1.15), (1.60, 1.85), (0.15, 0.35, 0.60), 0.0, outdoor_weight=0.8),
    Category(17, "bench", (1.20, 1.90), (0.75, 0.92), (0.50, 0.70), (0.45, 0.30, 0.18), 0.0, outdoor_weight=0.6),
    Category(18, "dog", (0.20, 0.35), (0.45, 0.80), (0.60, 1.05), (0.55, 0.40, 0.25), 0.0, outdoor_weight=0.6),
    Category(19, "fire hydrant", (0.28, 0.40), (0.60, 0.90), None, (0.80, 0.15, 0.10), 0.0, outdoor_weight=0.5),
    Category(20, "pole", (0.10, 0.25), (2.50, 5.00), None, (0.40, 0.42, 0.45), 0.0, outdoor_weight=0.8),
)
BY_NAME = {c.name: c for c in CATEGORIES}
BY_ID = {c.id: c for c in CATEGORIES}

# Sizes of the small objects when they stand on a support (table lamp instead of floor lamp).
ON_TOP_SIZES = {
    "box": ((0.15, 0.45), (0.10, 0.35), (0.15, 0.45)),
    "lamp": ((0.15, 0.35), (0.30, 0.60), None),
    "tv": ((0.80, 1.40), (0.50, 0.85), (0.18, 0.30)),
}
ON_TOP_WEIGHTS = {"box": 1.0, "lamp": 1.0, "tv": 0.6}
MAX_SUPPORT_HEIGHT = 1.30  # a cabinet taller than this does not carry objects


INDOOR = tuple(c for c in CATEGORIES if c.outdoor_weight == 0)
OUTDOOR = tuple(c for c in CATEGORIES if c.outdoor_weight > 0)


def coco_categories(scene_type: str = "indoor") -> list[dict]:
    """The categories of ``annotations.json`` for one scene type (indoor: the furniture, outdoor: the street)."""
    if scene_type == "outdoor":
        return [{"id": c.id, "name": c.name, "supercategory": "outdoor"} for c in OUTDOOR]
    return [{"id": c.id, "name": c.name, "supercategory": "furniture"} for c in INDOOR]


@dataclass(frozen=True)
class Part:
    """An axis-aligned part in the object's local frame: bounds ``lo``..``hi`` (3,), colour factor."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    shade: float = 1.0  # multiplies the object's colour
    tint: tuple[float, float, float] | None = None  # replaces the object's colour when given


def _p(x0, x1, y0, y1, z0, z1, shade=1.0, tint=None) -> Part:
    return Part((float(x0), float(y0), float(z0)), (float(x1), float(y1), float(z1)), shade, tint)


def make_parts(name: str, dims, rng: np.random.Generator) -> tuple[Part, ...]:
    """Parts of an object of category ``name`` with dims (w, h, l); local y points down, top at -h/2.

    The bounding box of the union of the parts is exactly ``[-d/2, d/2]`` on every axis.
    """
    w, h, l = (float(v) for v in dims)
    X, Y, Z = w / 2, h / 2, l / 2
    top, bot = -Y, Y
    if name in ("table", "desk"):
        tt = float(rng.uniform(0.03, 0.05))
        parts = [_p(-X, X, top, top + tt, -Z, Z)]
        if name == "table":
            s = float(rng.uniform(0.04, 0.07))
            for sx in (-1, 1):
                for sz in (-1, 1):
                    x0 = X - s if sx > 0 else -X
                    z0 = Z - s if sz > 0 else -Z
                    parts.append(_p(x0, x0 + s, top + tt, bot, z0, z0 + s, 0.85))
        else:
            s = 0.03
            parts.append(_p(-X, -X + s, top + tt, bot, -Z, Z, 0.9))
            parts.append(_p(X - s, X, top + tt, bot, -Z, Z, 0.9))
            parts.append(_p(-X + s, X - s, top + tt, top + tt + 0.35 * (h - tt), -Z, -Z + 0.02, 0.8))
        return tuple(parts)
    if name == "chair":
        seat_h = float(rng.uniform(0.42, 0.48))  # seat top above the floor
        st, bt, s = 0.05, 0.05, 0.04
        seat_top = bot - seat_h
        parts = [
            _p(-X, X, seat_top, seat_top + st, -Z, Z),
            _p(-X, X, top, seat_top, -Z, -Z + bt, 0.9),
        ]
        for sx in (-1, 1):
            for sz in (-1, 1):
                x0 = X - s if sx > 0 else -X
                z0 = Z - s if sz > 0 else -Z
                parts.append(_p(x0, x0 + s, seat_top + st, bot, z0, z0 + s, 0.7))
        return tuple(parts)
    if name == "bed":
        base_h = float(rng.uniform(0.42, 0.60))
        hb = float(rng.uniform(0.06, 0.10))
        return (
            _p(-X, X, bot - base_h, bot, -Z + hb, Z),
            _p(-X, X, top, bot, -Z, -Z + hb, 0.6, (0.45, 0.30, 0.20)),
            _p(-X + 0.03, X - 0.03, bot - base_h - 0.08, bot - base_h, -Z + hb + 0.05, -Z + hb + 0.45, 1.1,
               (0.95, 0.95, 0.97)),
        )
    if name == "sofa":
        seat_h = float(rng.uniform(0.40, 0.46))
        back_t = float(rng.uniform(0.15, 0.25))
        arm_w = float(rng.uniform(0.12, 0.22))
        arm_h = float(rng.uniform(0.55, 0.68))
        return (
            _p(-X + arm_w, X - arm_w, bot - seat_h, bot, -Z + back_t, Z),
            _p(-X, X, top, bot, -Z, -Z + back_t, 0.9),
            _p(-X, -X + arm_w, bot - arm_h, bot, -Z + back_t, Z, 0.95),
            _p(X - arm_w, X, bot - arm_h, bot, -Z + back_t, Z, 0.95),
        )
    if name == "bookshelf":
        t = 0.025
        parts = [
            _p(-X, -X + t, top, bot, -Z, Z),
            _p(X - t, X, top, bot, -Z, Z),
            _p(-X + t, X - t, top, bot, -Z, -Z + 0.01, 0.7),
        ]
        n_shelves = max(2, int(round(h / 0.38)))
        for i in range(n_shelves + 1):
            y = top + (h - t) * i / n_shelves
            parts.append(_p(-X + t, X - t, y, y + t, -Z + 0.01, Z))
        # a few rows of "books"
        for i in range(n_shelves):
            y0 = top + (h - t) * i / n_shelves + t
            y1 = top + (h - t) * (i + 1) / n_shelves
            fill = float(rng.uniform(0.3, 0.9))
            bh = (y1 - y0) * float(rng.uniform(0.55, 0.85))
            tint = tuple(float(v) for v in rng.uniform(0.15, 0.8, 3))
            parts.append(_p(-X + t, -X + t + fill * (w - 2 * t), y1 - bh, y1, -Z + 0.01, Z - 0.03, 1.0, tint))
        return tuple(parts)
    if name == "lamp":
        shade_h = 0.35 * h
        bw = 0.6 * w
        pole = min(0.03, 0.2 * w)
        return (
            _p(-bw / 2, bw / 2, bot - 0.03, bot, -bw / 2, bw / 2, 0.5, (0.25, 0.25, 0.27)),
            _p(-pole / 2, pole / 2, top + shade_h, bot - 0.03, -pole / 2, pole / 2, 0.5, (0.3, 0.3, 0.3)),
            _p(-X, X, top, top + shade_h, -Z, Z),
        )
    if name == "tv":
        panel_t = min(0.06, l)
        base_t = 0.03
        neck_h = 0.08
        neck_w = min(0.15, 0.3 * w)
        return (
            _p(-X, X, top, bot - base_t - neck_h, -panel_t / 2, panel_t / 2),
            _p(-neck_w / 2, neck_w / 2, bot - base_t - neck_h, bot - base_t, -0.02, 0.02, 1.0, (0.2, 0.2, 0.22)),
            _p(-0.3 * X, 0.3 * X, bot - base_t, bot, -Z, Z, 1.0, (0.2, 0.2, 0.22)),
        )
    if name in ("cabinet", "night_stand"):
        # a darker door panel inset in the front face (listed first: on equal depth the first part wins)
        return (_p(-X + 0.03, X - 0.03, top + 0.04, bot - 0.06, Z - 0.005, Z, 0.8), _p(-X, X, top, bot, -Z, Z))
    if name == "person":
        leg_h = 0.47 * h
        head = min(0.24, 0.14 * h)
        hw = min(0.2, 0.45 * w)
        return (
            _p(-0.45 * X, 0.45 * X, -Y + head, bot - leg_h, -Z, Z),  # torso
            _p(-hw / 2, hw / 2, top, top + head, -0.6 * Z, 0.6 * Z, 1.0, (0.85, 0.68, 0.55)),  # head
            _p(-X, -0.5 * X, -Y + head + 0.05, -Y + head + 0.6 * (h - head - leg_h), -0.5 * Z, 0.5 * Z),  # arms
            _p(0.5 * X, X, -Y + head + 0.05, -Y + head + 0.6 * (h - head - leg_h), -0.5 * Z, 0.5 * Z),
            _p(-0.42 * X, -0.05 * X, bot - leg_h, bot, -0.7 * Z, 0.7 * Z, 0.6),  # legs
            _p(0.05 * X, 0.42 * X, bot - leg_h, bot, -0.7 * Z, 0.7 * Z, 0.6),
        )
    if name in ("car", "truck"):
        r = float(min(0.45, 0.22 * h))  # wheel "radius"
        wt = 0.22
        parts = []
        for sz in (-1, 1):
            zc = sz * (Z - 0.18 * l)
            for sx in (-1, 1):
                x0 = X - wt if sx > 0 else -X
                parts.append(_p(x0, x0 + wt, bot - 2 * r, bot, zc - r, zc + r, 0.3, (0.1, 0.1, 0.1)))
        clear = 0.6 * r
        if name == "car":
            body_top = bot - 0.55 * h
            parts.append(_p(-X, X, body_top, bot - clear, -Z, Z))
            parts.append(_p(-0.9 * X, 0.9 * X, top, body_top, -0.55 * Z, 0.35 * Z, 0.8, (0.55, 0.65, 0.75)))
        else:
            cab = min(2.2, 0.3 * l)
            parts.append(_p(-X, X, top, bot - clear, -Z, Z - cab - 0.1))  # cargo box (rear)
            parts.append(_p(-0.95 * X, 0.95 * X, bot - 0.75 * h, bot - clear, Z - cab, Z, 0.85))  # cab (front)
        return tuple(parts)
    if name == "bicycle":
        r = float(min(0.36, 0.35 * h))
        t = 0.05
        return (
            _p(-t / 2, t / 2, bot - 2 * r, bot, -Z, -Z + 2 * r, 0.3, (0.1, 0.1, 0.1)),  # rear wheel
            _p(-t / 2, t / 2, bot - 2 * r, bot, Z - 2 * r, Z, 0.3, (0.1, 0.1, 0.1)),  # front wheel
            _p(-0.04, 0.04, bot - 2 * r - 0.05, bot - r, -Z + r, Z - r),  # frame
            _p(-X, X, top, top + 0.04, Z - r - 0.08, Z - r + 0.02, 0.5),  # handlebar
            _p(-0.03, 0.03, top + 0.04, bot - 2 * r - 0.05, Z - r - 0.05, Z - r + 0.02, 0.7),  # stem
        )
    if name == "bench":
        seat_h = float(rng.uniform(0.42, 0.48))
        seat_top = bot - seat_h
        parts = [_p(-X, X, seat_top, seat_top + 0.05, -Z + 0.06, Z), _p(-X, X, top, seat_top + 0.05, -Z, -Z + 0.06, 0.9)]
        for sx in (-1, 1):
            x0 = X - 0.06 if sx > 0 else -X
            parts.append(_p(x0, x0 + 0.06, seat_top + 0.05, bot, -Z, Z, 0.6, (0.2, 0.2, 0.2)))
        return tuple(parts)
    if name == "dog":
        leg = 0.45 * h
        head = 0.35 * h
        return (
            _p(-X, X, bot - leg - 0.4 * h, bot - leg, -Z, Z - 0.15 * l),  # body
            _p(-0.8 * X, 0.8 * X, top, top + head, Z - 0.22 * l, Z),  # head (front)
            _p(-X, -0.3 * X, bot - leg, bot, -Z, -Z + 0.15 * l, 0.8),
            _p(0.3 * X, X, bot - leg, bot, -Z, -Z + 0.15 * l, 0.8),
            _p(-X, -0.3 * X, bot - leg, bot, Z - 0.35 * l, Z - 0.2 * l, 0.8),
            _p(0.3 * X, X, bot - leg, bot, Z - 0.35 * l, Z - 0.2 * l, 0.8),
        )
    if name == "fire hydrant":
        return (
            _p(-0.6 * X, 0.6 * X, top + 0.1 * h, bot, -0.6 * Z, 0.6 * Z),
            _p(-0.45 * X, 0.45 * X, top, top + 0.1 * h, -0.45 * Z, 0.45 * Z, 0.8),
            _p(-X, X, top + 0.3 * h, top + 0.45 * h, -0.3 * Z, 0.3 * Z, 0.9),  # side outlets
            _p(-0.3 * X, 0.3 * X, top + 0.3 * h, top + 0.45 * h, -Z, Z, 0.9),
        )
    # box, ottoman, pole: a plain block
    return (_p(-X, X, top, bot, -Z, Z),)
