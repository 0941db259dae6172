"""Procedural indoor scenes expressed directly in the camera frame (x right, y down, z forward, metres).

A scene is a box-shaped room (floor, four walls, optional ceiling) seen from a camera inside it, and a
set of gravity-aligned furniture objects standing on the floor or on top of other objects.

Construction goes through the *gravity frame* ``G = gravity_frame(down)`` of
:mod:`lift3d.geometry.boxes` (columns e_x, e_down, e_fwd).  A point with gravity-frame coordinates
``(x, d, f)`` is at ``G @ (x, d, f)`` in the camera frame; the camera is at the origin, the floor is the
plane ``d = camera height``.  Every object box is built with
:func:`lift3d.geometry.boxes.rotation_from_yaw`, so column 1 of its rotation is exactly ``down``.

Camera angles: ``down = (-sin(roll) cos(pitch), cos(roll) cos(pitch), sin(pitch))``, i.e.
``pitch = asin(down_z)`` (positive: looking down) and ``roll = atan2(-down_x, down_y)`` (positive: the
camera is rolled clockwise as seen from behind it, so gravity appears to lean to the image left).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from lift3d.geometry.boxes import box_corners, gravity_frame, rotation_from_yaw, yaw_from_rotation
from lift3d.geometry.camera import K_from_fov
from lift3d.synth.categories import (
    BY_NAME,
    CATEGORIES,
    MAX_SUPPORT_HEIGHT,
    ON_TOP_SIZES,
    ON_TOP_WEIGHTS,
    Part,
    make_parts,
)


ROOM_MARGIN = 0.005  # m; a floor object's footprint stays this far inside the room's walls
GROUND_MARGIN = 0.3  # m; outdoors, this far inside the street's bounds (facades, the far edge)


@dataclass(frozen=True)
class SceneParams:
    """Ranges the scene sampler draws from (metres, degrees)."""

    cam_height: tuple[float, float] = (1.0, 1.8)
    pitch_deg: tuple[float, float] = (0.0, 30.0)  # looking down
    roll_deg: tuple[float, float] = (-5.0, 5.0)
    hfov_deg: tuple[float, float] = (55.0, 90.0)
    room_yaw_deg: tuple[float, float] = (-35.0, 35.0)  # room axes relative to the camera heading
    dist_front_wall: tuple[float, float] = (3.5, 7.0)
    dist_back_wall: tuple[float, float] = (0.3, 1.5)
    dist_side_wall: tuple[float, float] = (1.6, 4.0)
    ceiling_prob: float = 0.5
    ceiling_height: tuple[float, float] = (2.4, 3.0)
    n_floor_objects: tuple[int, int] = (3, 8)  # inclusive
    on_top_prob: float = 0.6  # per support: probability of carrying objects
    max_on_top: int = 2  # per support
    aligned_yaw_prob: float = 0.6  # yaw aligned with the room (± jitter) rather than uniform
    chair_at_table_prob: float = 0.6  # a chair is put at a table or desk (facing it) when there is one
    min_object_depth: float = 0.4  # every box corner at least this far in front of the camera (z)
    camera_clearance: float = 0.5  # horizontal distance between the camera and any footprint
    gap: float = 0.05  # minimum horizontal gap between floor objects
    max_tries: int = 60


@dataclass
class Plane:
    """Room surface ``{p : p . normal = offset}`` with ``normal`` pointing out of the room (offset > 0)."""

    kind: str  # floor, ceiling, wall
    normal: np.ndarray
    offset: float
    color: tuple[float, float, float]


@dataclass
class SceneObject:
    category: str
    center: np.ndarray  # (3,) camera frame
    dims: np.ndarray  # (3,) w, h, l
    R: np.ndarray  # (3, 3) object -> camera, column 1 == down
    yaw: float  # radians, gravity frame (see lift3d.geometry.boxes)
    on_floor: bool
    parts: tuple[Part, ...]
    color: tuple[float, float, float]
    support: int | None = None  # index of the supporting object when not on the floor
    ground_xy: tuple[float, float] = (0.0, 0.0)  # footprint centre in the gravity frame (x, f)

    def corners(self) -> np.ndarray:
        return box_corners(self.center, self.dims, self.R)


@dataclass
class Scene:
    width: int
    height: int
    K: np.ndarray  # (3, 3)
    down: np.ndarray  # (3,) unit gravity direction in the camera frame
    G: np.ndarray  # gravity frame
    cam_height: float
    pitch_deg: float
    roll_deg: float
    hfov_deg: float
    planes: list[Plane]
    objects: list[SceneObject]
    room: dict = field(default_factory=dict)
    light: np.ndarray = field(default_factory=lambda: np.zeros(3))  # point light, camera frame
    sun: np.ndarray | None = None  # outdoor: unit direction towards the sun (camera frame) instead of the lamp
    scene_type: str = "indoor"


def down_from_angles(pitch_deg: float, roll_deg: float) -> np.ndarray:
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    return np.array([-np.sin(r) * np.cos(p), np.cos(r) * np.cos(p), np.sin(p)])


def _footprint(cx: float, cf: float, w: float, l: float, yaw: float) -> np.ndarray:
    """(4, 2) footprint corners in the gravity ground plane (x, f)."""
    ax_w = np.array([np.cos(yaw), -np.sin(yaw)])
    ax_l = np.array([np.sin(yaw), np.cos(yaw)])
    c = np.array([cx, cf])
    return np.array([c + sw * w / 2 * ax_w + sl * l / 2 * ax_l for sw, sl in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _rects_separated(a: np.ndarray, b: np.ndarray, gap: float) -> bool:
    """Separating-axis test for two convex quads: True when some edge normal separates them by >= gap."""
    for poly in (a, b):
        for i in range(4):
            e = poly[(i + 1) % 4] - poly[i]
            n = np.array([-e[1], e[0]])
            n /= np.linalg.norm(n)
            pa, pb = a @ n, b @ n
            if pa.max() + gap <= pb.min() or pb.max() + gap <= pa.min():
                return True
    return False


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


class _Builder:
    def __init__(self, rng: np.random.Generator, width: int, height: int, p: SceneParams):
        self.rng, self.W, self.H, self.p = rng, width, height, p

    def u(self, lo_hi) -> float:
        return float(self.rng.uniform(lo_hi[0], lo_hi[1]))

    def camera(self) -> tuple:
        """Draw the camera (height, pitch, roll, field of view; in this order from the scene's generator) and set
        K, down, G, cam_h, hfov. Returns (K, down, G, cam_h, pitch, roll, hfov)."""
        p = self.p
        cam_h = self.u(p.cam_height)
        pitch = self.u(p.pitch_deg)
        roll = self.u(p.roll_deg)
        hfov = self.u(p.hfov_deg)
        K = K_from_fov(self.W, self.H, hfov)
        G = gravity_frame(down_from_angles(pitch, roll))
        down = G[:, 1].copy()  # exactly the vector rotation_from_yaw puts in column 1
        self.K, self.down, self.G, self.cam_h, self.hfov = K, down, G, cam_h, hfov
        return K, down, G, cam_h, pitch, roll, hfov

    def build(self) -> Scene:
        rng, p = self.rng, self.p
        K, down, G, cam_h, pitch, roll, hfov = self.camera()

        # room rectangle in the ground plane (x, f): axes a1 (room right), a2 (room forward)
        psi = np.radians(self.u(p.room_yaw_deg))
        a1 = np.array([np.cos(psi), -np.sin(psi)])
        a2 = np.array([np.sin(psi), np.cos(psi)])
        F, B = self.u(p.dist_front_wall), self.u(p.dist_back_wall)
        Lt, Rt = self.u(p.dist_side_wall), self.u(p.dist_side_wall)
        has_ceiling = bool(rng.random() < p.ceiling_prob)
        ceil_h = self.u(p.ceiling_height) if has_ceiling else np.inf
        self.a1, self.a2, self.psi = a1, a2, psi
        self.bounds = (-Lt, Rt, -B, F)
        self.ceil_h = ceil_h

        def horiz(v2):  # ground-plane vector (x, f) -> camera frame
            return G @ np.array([v2[0], 0.0, v2[1]])

        wall_tint = tuple(float(c) for c in np.clip(np.array([0.86, 0.83, 0.76]) + rng.uniform(-0.08, 0.06, 3), 0, 1))
        floor_tint = tuple(float(c) for c in np.clip(np.array([0.60, 0.45, 0.30]) * rng.uniform(0.7, 1.3), 0, 1))
        planes = [Plane("floor", down.copy(), cam_h, floor_tint)]
        for name, n2, off in (("wall_front", a2, F), ("wall_back", -a2, B), ("wall_right", a1, Rt),
                              ("wall_left", -a1, Lt)):
            shade = float(rng.uniform(0.9, 1.05))
            planes.append(Plane(name, horiz(n2), float(off), tuple(min(1.0, c * shade) for c in wall_tint)))
        if has_ceiling:
            planes.append(Plane("ceiling", -down, float(ceil_h - cam_h), (0.93, 0.93, 0.92)))
        self.walls = [(n2, off) for _, n2, off in (("f", a2, F), ("b", -a2, B), ("r", a1, Rt), ("l", -a1, Lt))]

        objects: list[SceneObject] = []
        self.floor_prints: list[np.ndarray] = []
        self.floor_objects: list[SceneObject] = []
        n_floor = int(rng.integers(p.n_floor_objects[0], p.n_floor_objects[1] + 1))
        floor_cats = [c for c in CATEGORIES if c.floor_weight > 0]
        wts = np.array([c.floor_weight for c in floor_cats])
        wts /= wts.sum()
        picks = [floor_cats[int(i)] for i in rng.choice(len(floor_cats), size=n_floor, p=wts)]
        # big furniture first (it is harder to place), so chairs can find tables
        picks.sort(key=lambda c: -c.w[1] * (c.l or c.w)[1])
        for cat in picks:
            obj = self._place_floor(cat)
            if obj is not None:
                objects.append(obj)
        n_before = len(objects)
        for si in range(n_before):
            sup = objects[si]
            if not BY_NAME[sup.category].support or sup.dims[1] > MAX_SUPPORT_HEIGHT:
                continue
            if rng.random() >= p.on_top_prob:
                continue
            prints: list[np.ndarray] = []
            for _ in range(int(rng.integers(1, p.max_on_top + 1))):
                obj = self._place_on_top(sup, si, prints)
                if obj is not None:
                    objects.append(obj)
        light_g = np.array([rng.uniform(-1.0, 1.0), cam_h - (min(ceil_h, 2.6) - 0.5), rng.uniform(1.0, 3.0)])
        room = {
            "yaw_deg": float(np.degrees(psi)),
            "front_wall_m": F, "back_wall_m": B, "left_wall_m": Lt, "right_wall_m": Rt,
            "ceiling_height_m": None if not has_ceiling else float(ceil_h),
        }
        return Scene(self.W, self.H, K, down, G, cam_h, pitch, roll, hfov, planes, objects, room, G @ light_g)

    # -- placement helpers -------------------------------------------------------------------------
    def _sample_dims(self, rng_ranges) -> np.ndarray:
        wr, hr, lr = rng_ranges
        w = self.u(wr)
        h = self.u(hr)
        l = w if lr is None else self.u(lr)
        return np.array([w, h, l])

    def _make(self, name, dims, yaw, cx, cf, bottom_d, on_floor, support=None) -> SceneObject | None:
        """Object with footprint centre (cx, cf) and bottom at gravity-frame height ``bottom_d``."""
        R = rotation_from_yaw(yaw, self.down)
        center = self.G @ np.array([cx, bottom_d - dims[1] / 2, cf])
        corners = box_corners(center, dims, R)
        if corners[:, 2].min() < self.p.min_object_depth:
            return None
        uvw = center @ self.K.T
        u, v = uvw[0] / uvw[2], uvw[1] / uvw[2]
        if not (-0.02 * self.W <= u <= 1.02 * self.W and -0.02 * self.H <= v <= 1.02 * self.H):
            return None
        cat = BY_NAME[name]
        jitter = self.rng.uniform(0.8, 1.15)
        color = tuple(float(c) for c in np.clip(np.array(cat.color) * jitter + self.rng.uniform(-0.04, 0.04, 3), 0, 1))
        parts = make_parts(name, dims, self.rng)
        return SceneObject(name, center, dims, R, yaw_from_rotation(R, self.down), on_floor, parts, color, support,
                           (float(cx), float(cf)))

    def _in_room(self, fp: np.ndarray, margin: float = ROOM_MARGIN) -> bool:
        r1, r2 = fp @ self.a1, fp @ self.a2
        x0, x1, y0, y1 = self.bounds
        return bool(r1.min() >= x0 + margin and r1.max() <= x1 - margin and r2.min() >= y0 + margin
                    and r2.max() <= y1 - margin)

    def _sample_yaw(self) -> float:
        if self.rng.random() < self.p.aligned_yaw_prob:
            k = int(self.rng.integers(0, 4))
            return _wrap(self.psi + k * np.pi / 2 + np.radians(self.rng.uniform(-8, 8)))
        return float(self.rng.uniform(-np.pi, np.pi))

    def _place_floor(self, cat) -> SceneObject | None:
        rng, p = self.rng, self.p
        dims = self._sample_dims((cat.w, cat.h, cat.l))
        if dims[1] > self.ceil_h - 0.05:
            return None
        w, h, l = dims
        x0, x1, y0, y1 = self.bounds
        tables = [o for o in self.floor_objects if o.category in ("table", "desk")]
        for _ in range(p.max_tries):
            if cat.name == "chair" and tables and rng.random() < p.chair_at_table_prob:
                # at one side of a table or desk, facing it
                tab = tables[int(rng.integers(0, len(tables)))]
                side = int(rng.integers(0, 4))
                ax_w = np.array([np.cos(tab.yaw), -np.sin(tab.yaw)])
                ax_l = np.array([np.sin(tab.yaw), np.cos(tab.yaw)])
                n2 = (ax_w, -ax_w, ax_l, -ax_l)[side]
                half_n = (tab.dims[0] if side < 2 else tab.dims[2]) / 2
                half_t = (tab.dims[2] if side < 2 else tab.dims[0]) / 2
                t2 = ax_l if side < 2 else ax_w
                c2 = (np.array(tab.ground_xy) + n2 * (half_n + l / 2 + rng.uniform(0.06, 0.25))
                      + t2 * rng.uniform(-max(half_t - w / 2, 0.0), max(half_t - w / 2, 0.0)))
                yaw = _wrap(float(np.arctan2(-n2[0], -n2[1])) + np.radians(rng.uniform(-12, 12)))
            elif rng.random() < cat.wall_prob:
                # back against one of the front/left/right walls, front facing into the room
                n2, off = self.walls[[0, 2, 3][int(rng.integers(0, 3))]]
                yaw = _wrap(float(np.arctan2(-n2[0], -n2[1])))
                along_len = (x1 - x0) if abs(n2 @ self.a2) > 0.5 else (y1 - y0)
                along_mid = ((x0 + x1) / 2) if abs(n2 @ self.a2) > 0.5 else ((y0 + y1) / 2)
                along_axis = self.a1 if abs(n2 @ self.a2) > 0.5 else self.a2
                s = rng.uniform(-along_len / 2 + w / 2 + 0.02, along_len / 2 - w / 2 - 0.02) if along_len > w + 0.05 \
                    else 0.0
                c2 = n2 * (off - 0.01 - l / 2) + along_axis * (along_mid + s)
            else:
                yaw = self._sample_yaw()
                # a point in front of the camera, inside the horizontal field of view (± a little)
                f = rng.uniform(0.8, y1)
                half = np.radians(0.5 * self.hfov) * 1.05
                x = f * np.tan(rng.uniform(-half, half))
                c2 = np.array([x, f])
            obj = self._put_on_floor(cat.name, dims, yaw, c2, ROOM_MARGIN)
            if obj is not None:
                return obj
        return None

    def _put_on_floor(self, name: str, dims, yaw: float, c2: np.ndarray, wall_margin: float) -> SceneObject | None:
        """The object on the floor at ground point c2 when its footprint is in the room (``wall_margin`` from the
        walls), clear of the other footprints and of the camera (the camera's ground point is outside the footprint
        grown by the clearance), and it can be made; else None."""
        p = self.p
        w, _, l = dims
        fp = _footprint(c2[0], c2[1], w, l, yaw)
        if not self._in_room(fp, wall_margin):
            return None
        if any(not _rects_separated(fp, q, p.gap) for q in self.floor_prints):
            return None
        ax_w = np.array([np.cos(yaw), -np.sin(yaw)])
        ax_l = np.array([np.sin(yaw), np.cos(yaw)])
        lx, lz = -c2 @ ax_w, -c2 @ ax_l
        if abs(lx) < w / 2 + p.camera_clearance and abs(lz) < l / 2 + p.camera_clearance:
            return None
        obj = self._make(name, dims, yaw, c2[0], c2[1], self.cam_h, True)
        if obj is None:
            return None
        self.floor_prints.append(fp)
        self.floor_objects.append(obj)
        return obj

    def _place_on_top(self, sup: SceneObject, si: int, prints: list[np.ndarray]) -> SceneObject | None:
        rng = self.rng
        names = [n for n in ON_TOP_WEIGHTS if not (n == "tv" and BY_NAME[sup.category].name == "night_stand")]
        wts = np.array([ON_TOP_WEIGHTS[n] for n in names])
        name = names[int(rng.choice(len(names), p=wts / wts.sum()))]
        sw, sh, sl = sup.dims
        top_h = float(sh)
        for _ in range(20):
            dims = self._sample_dims(ON_TOP_SIZES[name])
            w, h, l = dims
            if top_h + h > self.ceil_h - 0.05:
                return None
            if name == "tv" or rng.random() < 0.5:
                yaw = _wrap(sup.yaw + np.radians(rng.uniform(-10, 10)))
            else:
                yaw = float(rng.uniform(-np.pi, np.pi))
            # position in the support's local (x, z) top rectangle
            lx = rng.uniform(-sw / 2, sw / 2)
            lz = rng.uniform(-sl / 2, sl / 2)
            ax_w = np.array([np.cos(sup.yaw), -np.sin(sup.yaw)])
            ax_l = np.array([np.sin(sup.yaw), np.cos(sup.yaw)])
            c2 = np.array(sup.ground_xy) + lx * ax_w + lz * ax_l
            fp = _footprint(c2[0], c2[1], w, l, yaw)
            # inside the top (in the support's local coordinates), with a small margin
            rel = fp - np.array(sup.ground_xy)
            qx, qz = rel @ ax_w, rel @ ax_l
            m = 0.02
            if np.abs(qx).max() > sw / 2 - m or np.abs(qz).max() > sl / 2 - m:
                continue
            if any(not _rects_separated(fp, q, 0.03) for q in prints):
                continue
            obj = self._make(name, dims, yaw, c2[0], c2[1], self.cam_h - top_h, False, si)
            if obj is None:
                continue
            prints.append(fp)
            return obj
        return None


@dataclass(frozen=True)
class OutdoorParams:
    """Ranges of the outdoor (street/park) sampler (metres, degrees).

    The "room" is a street canyon: the ground plane, facades ahead (far) and on both sides, a sky plane high
    above (kind ``sky``); every object stands on the ground, its footprint centre 3-30 m ahead.
    """

    cam_height: tuple[float, float] = (1.2, 1.8)  # hand-held and street photos
    pitch_deg: tuple[float, float] = (-3.0, 12.0)
    roll_deg: tuple[float, float] = (-3.0, 3.0)
    hfov_deg: tuple[float, float] = (50.0, 80.0)
    street_yaw_deg: tuple[float, float] = (-30.0, 30.0)  # street axis relative to the camera heading
    dist_front_facade: tuple[float, float] = (32.0, 50.0)
    dist_back_facade: tuple[float, float] = (3.0, 10.0)
    dist_side_facade: tuple[float, float] = (7.0, 20.0)
    sky_height: tuple[float, float] = (25.0, 40.0)  # above the camera
    object_distance: tuple[float, float] = (3.0, 30.0)  # footprint centre, ahead of the camera
    n_objects: tuple[int, int] = (4, 12)  # inclusive
    street_aligned_prob: float = 0.9  # cars and trucks along the street (either direction)
    min_object_depth: float = 0.4
    camera_clearance: float = 1.0
    gap: float = 0.15
    max_tries: int = 60


class _OutdoorBuilder(_Builder):
    def build(self) -> Scene:
        rng, p = self.rng, self.p
        K, down, G, cam_h, pitch, roll, hfov = self.camera()
        psi = np.radians(self.u(p.street_yaw_deg))
        a1 = np.array([np.cos(psi), -np.sin(psi)])
        a2 = np.array([np.sin(psi), np.cos(psi)])
        F, B = self.u(p.dist_front_facade), self.u(p.dist_back_facade)
        Lt, Rt = self.u(p.dist_side_facade), self.u(p.dist_side_facade)
        sky = self.u(p.sky_height)
        self.a1, self.a2, self.psi = a1, a2, psi
        self.bounds = (-Lt, Rt, -B, F)
        self.ceil_h = np.inf

        def horiz(v2):
            return G @ np.array([v2[0], 0.0, v2[1]])

        ground = tuple(float(c) for c in np.clip(np.array([0.42, 0.42, 0.40]) * rng.uniform(0.8, 1.2), 0, 1))
        planes = [Plane("floor", down.copy(), cam_h, ground)]
        for name, n2, off in (("wall_front", a2, F), ("wall_back", -a2, B), ("wall_right", a1, Rt),
                              ("wall_left", -a1, Lt)):
            tint = tuple(float(c) for c in np.clip(rng.uniform(0.45, 0.85, 3), 0, 1))
            planes.append(Plane(name, horiz(n2), float(off), tint))
        planes.append(Plane("sky", -down, float(sky), (0.62, 0.76, 0.92)))
        objects: list[SceneObject] = []
        self.floor_prints, self.floor_objects = [], []
        cats = [c for c in CATEGORIES if c.outdoor_weight > 0]
        wts = np.array([c.outdoor_weight for c in cats])
        n = int(rng.integers(p.n_objects[0], p.n_objects[1] + 1))
        picks = [cats[int(i)] for i in rng.choice(len(cats), size=n, p=wts / wts.sum())]
        picks.sort(key=lambda c: -c.w[1] * (c.l or c.w)[1])
        for cat in picks:
            obj = self._place_ground(cat)
            if obj is not None:
                objects.append(obj)
        sun_g = np.array([rng.uniform(-0.6, 0.6), -1.0, rng.uniform(-0.5, 0.5)])
        room = {
            "yaw_deg": float(np.degrees(psi)),
            "front_wall_m": F, "back_wall_m": B, "left_wall_m": Lt, "right_wall_m": Rt,
            "ceiling_height_m": None, "sky_height_m": float(sky + cam_h),
        }
        return Scene(self.W, self.H, K, down, G, cam_h, pitch, roll, hfov, planes, objects, room,
                     G @ np.array([0.0, -50.0, 0.0]), G @ (sun_g / np.linalg.norm(sun_g)), "outdoor")

    def _place_ground(self, cat) -> SceneObject | None:
        rng, p = self.rng, self.p
        dims = self._sample_dims((cat.w, cat.h, cat.l))
        w, h, l = dims
        for _ in range(p.max_tries):
            if cat.name in ("car", "truck") and rng.random() < p.street_aligned_prob:
                yaw = _wrap(self.psi + (0.0 if rng.random() < 0.5 else np.pi) + np.radians(rng.uniform(-5, 5)))
            else:
                yaw = float(rng.uniform(-np.pi, np.pi))
            f = self.u(p.object_distance)
            half = np.radians(0.5 * self.hfov) * 1.05
            c2 = np.array([f * np.tan(rng.uniform(-half, half)), f])
            obj = self._put_on_floor(cat.name, dims, yaw, c2, GROUND_MARGIN)
            if obj is not None:
                return obj
        return None


SCENE_TYPES = ("indoor", "outdoor")


def make_scene(rng: np.random.Generator, width: int = 640, height: int = 480,
               params: SceneParams | OutdoorParams | None = None, scene_type: str = "indoor") -> Scene:
    """Sample one scene (deterministic for the generator's state); ``scene_type`` indoor (a room with
    furniture, :class:`SceneParams`) or outdoor (a street or park, :class:`OutdoorParams`)."""
    if scene_type == "outdoor":
        return _OutdoorBuilder(rng, int(width), int(height), params or OutdoorParams()).build()
    if scene_type != "indoor":
        raise ValueError(f"unknown scene type {scene_type!r}; choose from {SCENE_TYPES}")
    return _Builder(rng, int(width), int(height), params or SceneParams()).build()


# each scene type's sampler ranges (make_scene's ``params``)
_PARAMS = {"indoor": SceneParams, "outdoor": OutdoorParams}

# the ranges a --scene override may take (field name -> (lowest, highest)); a field not named here takes any value
# >= 0, except the headings relative to the room or street (*_yaw_deg), which take any angle
_OVERRIDE_BOUNDS = {"pitch_deg": (-80.0, 80.0), "roll_deg": (-80.0, 80.0), "hfov_deg": (5.0, 150.0),
                    "cam_height": (0.2, 100.0)}


def scene_params(scene_type: str, overrides: dict | None = None) -> SceneParams | OutdoorParams:
    """The scene sampler's ranges for ``scene_type`` (:class:`SceneParams` indoors, :class:`OutdoorParams` outdoors)
    with ``overrides`` (field -> value, as :func:`parse_scene_overrides` gives) applied: the fields that type has.  A
    ValueError names an override that neither type has (a field of the other type only is left to that type)."""
    if scene_type not in _PARAMS:
        raise ValueError(f"unknown scene type {scene_type!r}; choose from {SCENE_TYPES}")
    overrides = overrides or {}
    unknown = sorted(k for k in overrides if not scene_types_with(k))
    if unknown:
        raise ValueError(f"unknown scene parameter {unknown[0]!r}")
    cls = _PARAMS[scene_type]
    return replace(cls(), **{k: v for k, v in overrides.items() if scene_type in scene_types_with(k)})


def scene_types_with(name: str) -> tuple[str, ...]:
    """The scene types whose sampler has the range ``name``."""
    return tuple(t for t, cls in _PARAMS.items() if name in {f.name for f in fields(cls)})


def parse_scene_overrides(items) -> dict:
    """``NAME=LO,HI`` (a range the sampler draws from uniformly) or ``NAME=V`` (a single value; a range of one value
    as LO = HI) for the fields of :class:`SceneParams` / :class:`OutdoorParams`, e.g. ``hfov_deg=30,45`` (a long lens)
    or ``n_objects=14,24`` (a crowded street).  Counts take integers; ``pitch_deg`` and ``roll_deg`` stay within
    +/-80 degrees, ``hfov_deg`` within 5-150, ``cam_height`` within 0.2-100 m, ``*_prob`` within 0-1, the headings
    (``*_yaw_deg``) anything, the rest (heights, distances, counts) >= 0.  A ValueError with a one-line reason for
    anything else."""
    defaults = {f.name: f.default for cls in _PARAMS.values() for f in fields(cls)}
    out: dict = {}
    for item in items:
        name, sep, text = str(item).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise ValueError(f"scene parameter {item!r}: write NAME=LO,HI or NAME=VALUE")
        if name not in defaults:
            raise ValueError(f"unknown scene parameter {name!r}; choose from {', '.join(sorted(defaults))}")
        default = defaults[name]
        is_range = isinstance(default, tuple)
        kind = type(default[0] if is_range else default)
        parts = [t.strip() for t in text.split(",")]
        if len(parts) > (2 if is_range else 1):
            raise ValueError(f"scene parameter {name} takes {'LO,HI' if is_range else 'one value'}, got {text!r}")
        try:
            vals = [float(t) if kind is float else int(t) for t in parts]
        except ValueError:
            raise ValueError(f"scene parameter {name} takes {'integers' if kind is int else 'numbers'}, "
                             f"got {text!r}") from None
        if is_range and len(vals) == 1:
            vals = vals * 2
        if not all(np.isfinite(vals)) or (is_range and vals[0] > vals[1]):
            raise ValueError(f"scene parameter {name}: {text!r} is not a range LO <= HI of finite numbers")
        lo, hi = (_OVERRIDE_BOUNDS.get(name) or ((0.0, 1.0) if name.endswith("_prob") else
                                                  (-np.inf, np.inf) if name.endswith("_yaw_deg") else (0.0, np.inf)))
        if min(vals) < lo or max(vals) > hi:
            raise ValueError(f"scene parameter {name} must lie within [{lo:g}, {hi:g}], got {text!r}")
        out[name] = tuple(vals) if is_range else vals[0]
    return out
