"""Per-image precomputation: everything a question needs, computed once per image.

Coordinates used by every question are the object centres in the *gravity-aligned frame*
(``lift3d.geometry.boxes.gravity_frame``: x right, y down along gravity, z forward in the ground plane),
rounded to the printed precision (1 cm).  Every answer and every number in the chain of thought is
computed from these printed numbers, so the reasoning is exact arithmetic on what it shows.

Images hold a handful of objects, so the per-object numbers are computed with plain Python floats (numpy's
per-call overhead dominates at this size); box texts are formatted lazily, on first use.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from lift3d.qa.config import QAConfig
from lift3d.qa.text import DESCRIPTORS, fmt2, referring_name

SIZE_BLOCKERS = frozenset({"truncated", "box_only"})
HEIGHT_BLOCKERS = frozenset({"truncated", "truncated_top", "truncated_bottom", "box_only"})
# amodal completion guesses the unseen horizontal extent: widths of completed boxes miss the +/-25 % tolerance
# about four times as often as the others on the tuning scenes
WIDTH_BLOCKERS = frozenset({"truncated", "yaw_unreliable", "box_only", "amodal_completed"})
# flags that make an object's lifted distance a lower bound (lift3d.lift.overlap: a box-only object lifted onto the
# surface of another object covering its box is there or hidden behind it; of the 57 flagged objects off by more
# than x1.22 relative to their image on scratch seeds 7200-7500, 56 were lifted too near).  Such an object is not
# asked about; it still counts, and a descriptor of another object against it must hold wherever along its ray
# beyond the lifted centre it is.
BEYOND_FLAGS = frozenset({"shared_surface"})
_isfinite = math.isfinite


def _flat(v, n: int) -> list | None:
    """``n`` finite numbers from a flat or nested sequence / array; None when that is not possible."""
    if type(v) is list and len(v) == n:  # fast path: a flat list (the same result as below)
        try:
            if type(v[0]) is float and _isfinite(sum(v)):
                return v
            out = list(map(float, v))
        except (TypeError, ValueError):
            return None
        return out if _isfinite(sum(out)) else None
    try:
        if hasattr(v, "tolist"):
            v = v.tolist()
        if n == 9 and len(v) == 3:
            v = [t for row in v for t in row]
        if len(v) != n:
            return None
        # the sum of the numbers is finite iff all of them are (barring overflow of absurd values)
        if type(v[0]) is float and _isfinite(sum(v)):
            return v
        out = [float(t) for t in v]
    except (TypeError, ValueError):
        return None
    return out if _isfinite(sum(out)) else None


def _valid(o: dict):
    """(centre, dims) of a usable box, else None."""
    try:
        c = _flat(o["center_cam"], 3)
        d = _flat(o["dimensions"], 3)
        R = _flat(o["R_cam"], 9)
    except KeyError:
        return None
    if c is None or d is None or R is None or c[2] <= 0 or min(d) <= 0:
        return None
    return c, d, R


def _norm3(v):
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if not _isfinite(n) or n < 1e-12:
        raise ValueError(f"cannot normalise a zero or non-finite vector {v!r}")
    return (v[0] / n, v[1] / n, v[2] / n)


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def gravity_axes(down):
    """Columns (e_x, e_down, e_fwd) of the gravity frame (same definition as geometry.boxes.gravity_frame)."""
    if down is None:
        return (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
    d = _norm3([float(t) for t in (down.tolist() if hasattr(down, "tolist") else down)])
    fwd = (-d[2] * d[0], -d[2] * d[1], 1.0 - d[2] * d[2])
    if math.sqrt(fwd[0] ** 2 + fwd[1] ** 2 + fwd[2] ** 2) < 1e-6:
        x = _norm3((1.0 - d[0] * d[0], -d[0] * d[1], -d[0] * d[2]))
        fwd = _cross(x, d)
    fwd = _norm3(fwd)
    return _cross(d, fwd), d, fwd


_NAMES: dict = {}


def _name(category: str, descriptor) -> str:
    """referring_name, memoised (categories repeat across images)."""
    key = (category, descriptor)
    s = _NAMES.get(key)
    if s is None:
        s = referring_name(category, descriptor)
        if len(_NAMES) < 100000:
            _NAMES[key] = s
    return s


def _r2(v: float) -> float:
    return round(v, 2) + 0.0


class Scene:
    def __init__(self, image: dict, objects: list[dict], cfg: QAConfig, rng):
        self.cfg = cfg
        self.image_id = int(image["image_id"])
        self.width = int(image["width"])
        self.height = int(image["height"])
        self._K = image["K"]
        self._Kf = None
        down = image.get("gravity")
        self.has_gravity = down is not None
        self.down = down
        ex, ed, ef = gravity_axes(down)
        self.axes_z = (ex[2], ed[2], ef[2])  # the gravity frame's axes' components along the optical axis

        objs, geo = [], []
        incomplete: Counter = Counter(str(c) for c in (image.get("rejected_categories") or ()))
        for o in objects:
            g = _valid(o)
            if g is None:
                incomplete[str(o.get("category"))] += 1
            else:
                objs.append(o)
                geo.append(g)
        self.n_invalid = len(objects) - len(objs)
        self.objs = objs
        n = self.n = len(objs)
        # categories that are present in the image but not (validly) lifted: never "unique", never counted
        self.incomplete = incomplete
        self.cats = cats = [str(o["category"]) for o in objs]
        self.ids = [int(o["annotation_id"]) for o in objs]
        self.cat_count = Counter(cats)
        self.flags = [frozenset(o.get("flags") or ()) for o in objs]
        self.beyond = [bool(f & BEYOND_FLAGS) for f in self.flags]  # the distance is a lower bound
        self.quality = [float(q) if (q := o.get("quality")) is not None else 1.0 for o in objs]
        sk = image.get("depth_scale_log_sigma")
        # sensor depth ("dataset"): its guards were calibrated on sensor-like depth, a few per cent of scale error
        # included, so the (smaller) sd of its fused scale does not switch them to model depth's
        sk = None if image.get("depth_source") == "dataset" else sk
        self.scale_sigma = float(sk) if sk is not None and math.isfinite(float(sk)) and float(sk) > 0 else 0.0
        self._box_p_answer = None
        # model depth: the image's part of a numeric or box answer's log variance: the depth scale's sd, which holds
        # the focal length's error (the lifter's scale.shared_std: the refined focal length's sd where the vanishing
        # points gave one), which a scale fitted to sizes in the image plane leaves in every depth
        self.img_var = self.scale_sigma ** 2
        # lengths across the line of sight: the scale cues read them directly, so their scale's sd holds no focal-length
        # error beyond the prior's (the lifter's lateral_scale_log_sigma, at most the depth's; absent: the depth's)
        lat = image.get("lateral_scale_log_sigma")
        lat = float(lat) if lat is not None and math.isfinite(float(lat)) and float(lat) >= 0 else self.scale_sigma
        self.lat_sigma = min(lat, self.scale_sigma)
        ramp = image.get("edge_ramp_px")
        self.edge_ramp = float(ramp) if ramp is not None and math.isfinite(float(ramp)) else cfg.edge_ramp_px
        if n == 0:
            self.names = []
            self.askable = []
            self.by_cat = {}
            return
        xs, ys, zs, ws, hs, ls, dist, vol, yaws = [], [], [], [], [], [], [], [], []
        ex0, ex1, ex2 = ex
        ed0, ed1, ed2 = ed
        ef0, ef1, ef2 = ef
        rnd, sqrt, isfinite = round, math.sqrt, _isfinite
        for o, (c, d, R) in zip(objs, geo):
            c0, c1, c2 = c
            # rounded to the printed precision (1 cm); "+ 0.0" turns -0.0 into 0.0
            x = rnd(c0 * ex0 + c1 * ex1 + c2 * ex2, 2) + 0.0
            y = rnd(c0 * ed0 + c1 * ed1 + c2 * ed2, 2) + 0.0
            z = rnd(c0 * ef0 + c1 * ef1 + c2 * ef2, 2) + 0.0
            xs.append(x)
            ys.append(y)
            zs.append(z)
            a, h, b = rnd(d[0], 2) + 0.0, rnd(d[1], 2) + 0.0, rnd(d[2], 2) + 0.0
            # width / length = the smaller / larger horizontal extent (invariant to a 90-degree yaw flip)
            if a < b:
                ws.append(a)
                ls.append(b)
            else:
                ws.append(b)
                ls.append(a)
            hs.append(h)
            dist.append(rnd(sqrt(x * x + y * y + z * z), 2) + 0.0)
            vol.append(float(f"{a * h * b:.3g}"))
            yv = o.get("yaw")
            if yv is None or not isfinite(float(yv)):
                # yaw about e_down: local = G^T R, yaw = atan2(local[0, 2], local[2, 2]) (R row-major)
                yv = math.atan2(ex0 * R[2] + ex1 * R[5] + ex2 * R[8], ef0 * R[2] + ef1 * R[5] + ef2 * R[8])
            yaws.append(float(yv))
        self.x, self.y, self.z, self.w, self.h, self.l = xs, ys, zs, ws, hs, ls
        self.dist, self.vol, self.yaw = dist, vol, yaws
        self.qty = {"x": xs, "y": ys, "z": zs, "d": dist, "w": ws, "h": hs, "l": ls, "V": vol}
        if self.scale_sigma > 0:  # the range term: log distance from the objects' geometric mean depth
            lz = [math.log(max(v, 1e-3)) for v in dist]
            anchor = sum(lz) / n
            rs = cfg.range_log_sigma
            self.range_var = [(rs * (v - anchor)) ** 2 for v in lz]
        else:
            self.range_var = [0.0] * n
        self.pair_cache: dict = {}
        self.geo = geo

        # uncertainty (see QAConfig)
        fs = cfg.flag_sigma
        gain = cfg.quality_gain
        mult, pos_sig, ps2 = [], [], []
        pbase, prel = cfg.pos_sigma_base, cfg.pos_sigma_rel
        for q, fl, d in zip(self.quality, self.flags, dist):
            m = 1.0 + gain * (1.0 - min(max(q, 0.0), 1.0))
            for f in fl:
                m *= fs.get(f, 1.0)
            mult.append(m)
            p = (pbase + prel * d) * m
            pos_sig.append(p)
            ps2.append(p ** 2)
        self.mult = mult
        self.pos_sig = pos_sig
        self._box_p = None
        self.ps2 = ps2
        self._margin_k = cfg.margin_k
        self._min_pos_margin = cfg.min_pos_margin
        self._ssig: dict = {}
        self._lsig: dict = {}

        self._core = [None] * n
        self._centre_txt = None
        self._dims_txt = None
        self._ftxt: dict = {}
        self._rec: dict = {}
        self.referable: dict = {}  # unique category? -> askable objects (lift3d.qa.generate.b_ground)
        # text caches of lift3d.qa.generate (pure functions of this scene's numbers and names)
        self.tc_intro: dict = {}
        self.tc_part: dict = {}
        self.tc_dcam: dict = {}
        self.tc_vol: dict = {}
        self.tc_adist: dict = {}

        # referring names
        mq = cfg.min_quality
        names: list[str | None] = []
        by_cat: dict[str, list[int]] = {}
        for i, c in enumerate(cats):
            by_cat.setdefault(c, []).append(i)
        self.by_cat = by_cat
        cc = self.cat_count
        for i, c in enumerate(cats):
            if incomplete.get(c):
                names.append(None)
            elif cc[c] == 1:
                names.append(_name(c, None))
            else:
                valid = self._descriptors(i, by_cat[c])
                names.append(_name(c, valid[int(rng.random() * len(valid))]) if valid else None)
        self.names = names
        bey = self.beyond
        self.askable = [i for i in range(n) if names[i] is not None and self.quality[i] >= mq and not bey[i]]

    # ------------------------------------------------------------------ lazily computed texts
    @property
    def K(self):
        if self._Kf is None:
            k = _flat(self._K, 9)
            self._Kf = k
        return self._Kf

    def ftext(self, q: str) -> list[str]:
        """fmt2 of quantity q for every object (cached)."""
        out = self._ftxt.get(q)
        if out is None:
            out = self._ftxt[q] = ["0.00" if (t := f"{v:.2f}") == "-0.00" else t for v in self.qty[q]]  # fmt2
        return out

    @property
    def centre_txt(self) -> list[str]:
        if self._centre_txt is None:
            self._centre_txt = [f"({a}, {b}, {c})" for a, b, c in zip(self.ftext("x"), self.ftext("y"), self.ftext("z"))]
        return self._centre_txt

    @property
    def dims_txt(self) -> list[str]:
        if self._dims_txt is None:
            self._dims_txt = [f"({a}, {b}, {c})" for a, b, c in zip(self.ftext("w"), self.ftext("h"), self.ftext("l"))]
        return self._dims_txt

    def rec(self, i: int) -> dict:
        """The box record of object i (cached: treat as read-only)."""
        r = self._rec.get(i)
        if r is None:
            c, d, _ = self.geo[i]
            r = self._rec[i] = {"category": self.cats[i],
                                "center_cam": [round(c[0], 3) + 0.0, round(c[1], 3) + 0.0, round(c[2], 3) + 0.0],
                                "dimensions": [round(d[0], 3) + 0.0, round(d[1], 3) + 0.0, round(d[2], 3) + 0.0],
                                "yaw": round(self.yaw[i], 3) + 0.0}
        return r

    def core(self, i: int) -> str:
        """The box text of object i without its index (n3d: ``Bbox(...)``; cam / qwen: the whole box)."""
        s = self._core[i]
        if s is None:
            r = self.rec(i)
            fmt = self.cfg.box_format
            cat = r["category"]
            x, y, z = r["center_cam"]
            w, h, l = r["dimensions"]
            yaw = r["yaw"]
            if fmt == "n3d":
                K = self.K
                pz = K[6] * x + K[7] * y + K[8] * z
                u = ((K[0] * x + K[1] * y + K[2] * z) / pz + 0.5) / self.width
                v = ((K[3] * x + K[4] * y + K[5] * z) / pz + 0.5) / self.height
                s = f"Bbox({cat},{u:.3f},{v:.3f},{z:.2f},{yaw:.2f},{w:.2f},{h:.2f},{l:.2f})"
                if "-0.0" in s:  # a field may be a negative zero: format each field exactly as _f3 / fmt2 do
                    s = f"Bbox({cat},{_f3(u)},{_f3(v)},{fmt2(z)},{fmt2(yaw)},{fmt2(w)},{fmt2(h)},{fmt2(l)})"
            elif fmt == "cam":
                s = f"{cat}: [{fmt2(x)}, {fmt2(y)}, {fmt2(z)}, {fmt2(w)}, {fmt2(h)}, {fmt2(l)}, {fmt2(yaw)}]"
            else:
                from lift3d.qa.serialize import format_box

                s = format_box("qwen", r)
            self._core[i] = s
        return s

    def box_line(self, i: int, k: int) -> str:
        if self.cfg.box_format == "n3d":
            return f"bbox_{k}={self.core(i)}"
        return self.core(i)

    # ------------------------------------------------------------------ guards
    def pos_margin(self, *idx: int) -> float:
        v = sum(self.pos_sig[i] ** 2 for i in idx)
        if self.scale_sigma > 0:  # model depth: each position bent by the range exponent about the group's mean
            rs, lz = self.cfg.range_log_sigma, [math.log(max(self.dist[i], 1e-3)) for i in idx]
            mean = sum(lz) / len(lz)
            v += sum((rs * (a - mean) * self.dist[i]) ** 2 for a, i in zip(lz, idx))
        return max(self.cfg.min_pos_margin, self.cfg.margin_k * math.sqrt(v))

    def anchor_margin(self, c: int, i: int, j: int) -> float:
        """The margin by which the distances from anchor ``c`` to objects ``i`` and ``j`` must differ: pos_margin of
        the three and, under model depth, the focal length's error.  A focal length off by a factor exp(e) leaves the
        sizes across the view to the scale and stretches depth differences by exp(e), which no scale cancels: a
        distance with a depth difference dz moves by e dz^2 / d, so the two distances' difference by e times the
        difference of those terms.  e's sd is taken as the image's scale sd: that holds the focal length's error
        (``scale.shared_std``) and the cues' own spread, so it is no smaller than e's (the conservative side)."""
        m = self.pos_margin(c, i, j)
        if self.scale_sigma <= 0:
            return m
        zc = self.geo[c][0][2]
        t = []
        for k in (i, j):
            dz, d = self.geo[k][0][2] - zc, math.dist(self.geo[c][0], self.geo[k][0])
            t.append(dz * dz / d if d > 0 else 0.0)
        f = self.cfg.margin_k * self.scale_sigma * abs(t[0] - t[1])
        return math.sqrt(m * m + f * f)

    def bend_var(self, q: str, i: int, j: int) -> float:
        """Model depth: variance that the range exponent adds to the comparison of coordinate ``q`` (x or y) of
        objects i and j. Depths bent as ``z (z / m)^(gamma - 1)`` scale each position vector by its own factor:
        distances to the camera keep their order, but x and y of objects at different depths do not; the flip
        needs ``min(|q_i|, |q_j|) * |gamma - 1| * |ln(d_i / d_j)|`` to exceed the difference."""
        if self.scale_sigma <= 0 or q not in "xy":
            return 0.0
        vals, d = self.qty[q], self.dist
        b = self.cfg.range_log_sigma * abs(math.log(max(d[i], 1e-3) / max(d[j], 1e-3))) * min(abs(vals[i]), abs(vals[j]))
        return b * b

    def pos_margin2(self, i: int, j: int) -> float:
        """pos_margin(i, j) (the same floating-point operations), from the cached squared sigmas."""
        ps2 = self.ps2
        s = math.sqrt(ps2[i] + ps2[j])
        m = self._margin_k * s
        return m if m > self._min_pos_margin else self._min_pos_margin

    def size_sigs(self, q: str) -> list[float]:
        """size_sig(i, value of quantity q of object i) for every object (cached)."""
        out = self._ssig.get(q)
        if out is None:
            vals = self.qty[q]
            out = self._ssig[q] = [self.size_sig(i, vals[i]) for i in range(self.n)]
        return out

    def log_vol_sig(self, k: int) -> float:
        """Relative (log) volume sigma of object k; needs positive w, h, l (cached)."""
        v = self._lsig.get(k)
        if v is None:
            v = self._lsig[k] = math.sqrt(sum((self.size_sig(k, d) / d) ** 2 for d in (self.w[k], self.h[k], self.l[k])))
        return v

    def _descriptors(self, i: int, group: list[int]) -> list[str]:
        """The DESCRIPTORS d (in order) that single out object i in its category's ``group``: against every other
        member j, by the margin max(min_pos_margin, descriptor_margin_k x hypot of their position sds), i lies left
        ("leftmost") / right ("rightmost") of j, or nearer ("closest") / farther ("farthest") from the camera; against
        a j whose distance is a lower bound, wherever beyond its lifted centre it is (:func:`_against_beyond`)."""
        cfg = self.cfg
        mpm, dk = cfg.min_pos_margin, cfg.descriptor_margin_k
        xs, ds, ps = self.x, self.dist, self.pos_sig
        xi, di, pi = xs[i], ds[i], ps[i]
        lm = rm = cl = fa = True
        hypot = math.hypot
        bey = self.beyond
        for j in group:
            if j == i:
                continue
            m = max(mpm, dk * hypot(pi, ps[j]))
            xj, dj = xs[j], ds[j]
            if bey[j]:
                lm, rm, cl, fa = _against_beyond(xi, di, xj, dj, m, lm, rm, cl, fa)
                continue
            if lm and not xi + m < xj:
                lm = False
            if rm and not xi > xj + m:
                rm = False
            if cl and not di + m < dj:
                cl = False
            if fa and not di > dj + m:
                fa = False
        return [d for d, ok in zip(DESCRIPTORS, (lm, rm, cl, fa)) if ok]

    def size_sig(self, i: int, value: float) -> float:
        c = self.cfg
        return (c.size_sigma_base + c.size_sigma_rel * value + c.size_sigma_dist * self.dist[i]) * self.mult[i]

    @property
    def box_p(self) -> list[float]:
        """Per object: modelled probability that its box is within the box-scoring tolerance (3D IoU >= 0.25
        with the true box), a logistic model of quality, distance, box size and flags (QAConfig.box_ok_coef)."""
        if self._box_p is None:
            co = self.cfg.box_ok_coef
            out = []
            c_bias, c_q = co.get("bias", 0.0), co.get("quality", 0.0)
            c_ld, c_lmin, c_lmax = co.get("log_distance", 0.0), co.get("log_min_dim", 0.0), co.get("log_max_dim", 0.0)
            log, exp = math.log, math.exp
            quality, dist, flags = self.quality, self.dist, self.flags
            for i, (c, d, _) in enumerate(self.geo):
                s = (c_bias + c_q * quality[i]
                     + c_ld * log(max(dist[i], 1e-3))
                     + c_lmin * log(max(min(d), 1e-3))
                     + c_lmax * log(max(max(d), 1e-3)))
                for f in flags[i]:
                    s += co.get(f, 0.0)
                out.append(1.0 / (1.0 + exp(-s)) if s > -50 else 0.0)
            self._box_p = out
        return self._box_p

    @property
    def box_p_answer(self) -> list[float]:
        """Per object: modelled probability that its box answer is within the scoring tolerance (3D IoU >= box_min_iou
        with the true box): box_p for sensor depth; under model depth box_true_p of box_p and the log sd of the
        scale at the object (image and range terms, as for numeric answers)."""
        if self._box_p_answer is None:
            if self.scale_sigma <= 0:
                self._box_p_answer = self.box_p
            else:
                iv, rv, cfg = self.img_var, self.range_var, self.cfg
                sp, mi, sqrt = cfg.box_iou_log_spread, cfg.box_min_iou, math.sqrt
                self._box_p_answer = [box_true_p(c, d, R, p, sqrt(iv + rv[i]), mi, sp)
                                      for i, (p, (c, d, R)) in enumerate(zip(self.box_p, self.geo))]
        return self._box_p_answer

    def scale_var(self, along: float) -> float:
        """Model depth: the image's part of the log variance of a length whose squared extent lies a share ``along``
        (0-1) along the line of sight.  A focal length off by e stretches depths by e against the image plane, where
        the scale cues read their heights: a length across the view carries the lateral scale's sd, one along it the
        depth scale's (which holds e), and one between them the sds in proportion (correlated errors: no smaller than
        either share's)."""
        s = self.lat_sigma + min(max(along, 0.0), 1.0) * (self.scale_sigma - self.lat_sigma)
        return s * s

    def extent_along(self, i: int, q: str) -> float:
        """The share of quantity ``q``'s squared length along the optical axis (d: the distance to the camera; h: the
        height, along gravity; w, l: the box's shorter / longer horizontal side).  Which side is the shorter depends on
        both, so w and l take the larger share of the two sides (R row-major: side j's axis is column j): a side seen
        across the view is the width only while the one along it, stretched by a focal length's error, is not shorter
        (a table 0.99 x 0.64 m lifted 0.93 x 1.70 m: its 0.93 m across the view was asked as the width, 46 % off)."""
        c, _, R = self.geo[i]
        if q == "d":
            n2 = c[0] * c[0] + c[1] * c[1] + c[2] * c[2]
            return c[2] * c[2] / n2 if n2 > 0 else 1.0
        if q == "h":
            return self.axes_z[1] ** 2
        return max(R[6] ** 2, R[8] ** 2)

    def metric1_var(self, i: int, q: str, v: float) -> float:
        """Model depth: variance of ln(answer / truth) of the numeric answer ``v`` (> 0) of quantity ``q``
        (d: distance to the camera; w, h, l: extents) of object ``i`` (QAConfig.numeric_min_p): the image's scale
        for that length (:meth:`scale_var`: the depth scale's along the line of sight, which holds the focal length's
        error, the lateral scale's across it), the range term and the object's own terms."""
        c, _, _ = self.geo[i]
        cfg = self.cfg
        var = self.scale_var(self.extent_along(i, q)) + self.range_var[i]
        if q == "d":
            return var + (self.pos_sig[i] / v) ** 2
        var += (cfg.size_log_sigma * self.mult[i]) ** 2
        if q != "h":  # a horizontal extent: the soft edge's ramp, in metres at the object's depth, against it
            e = cfg.edge_gain * self.edge_ramp * c[2] / (self.K[0] * v)
            var += e * e
        return var

    def object_log_sigmas(self) -> list[tuple[float, float]]:
        """Per object: (sd of the log error of its distance from the camera, the same of its height) as the guards
        model them (:meth:`metric1_var`); under sensor depth only the object's own terms (the depth is taken as metric).
        Not its horizontal extents: one seen along the line of sight carries the soft edges' smear and the unseen far
        side, which the model does not state (stated sds 1-2x too small there, scratch seeds 7600 and 7800)."""
        sqrt, var, dist, h = math.sqrt, self.metric1_var, self.dist, self.h
        return [(sqrt(var(i, "d", max(dist[i], 1e-3))), sqrt(var(i, "h", max(h[i], 1e-3)))) for i in range(self.n)]

    def metric2_var(self, a: int, b: int, delta) -> float:
        """Model depth: variance of ln(answer / truth) of the length of ``delta`` (the gravity-frame vector the
        answer measures between objects a and b, > 0): the image's scale for it (:meth:`scale_var` at its squared
        share along the optical axis), the range term of the farther-bent object and both objects' position sigmas."""
        rv = self.range_var
        dx, dy, dz = delta
        n2 = dx * dx + dy * dy + dz * dz
        az = self.axes_z
        along = (dx * az[0] + dy * az[1] + dz * az[2]) ** 2 / n2
        return (self.scale_var(along) + max(rv[a], rv[b])
                + (self.ps2[a] + self.ps2[b]) / n2)

    def numeric_true_p(self, var: float) -> float:
        """numeric_p at the log variance ``var`` and the configured tolerance."""
        return numeric_p(math.sqrt(var), self.cfg.numeric_tolerance)

    @property
    def box_min_p(self) -> float:
        """The threshold of box_p_answer for a single box (model depth: box_min_p_model)."""
        return self.cfg.box_min_p_model if self.scale_sigma > 0 else self.cfg.box_min_p

    def box_ok(self, i: int, all_of_several: bool = False) -> bool:
        return self.box_p_answer[i] >= (self.cfg.box_min_p_all if all_of_several else self.box_min_p)


def numeric_p(sd: float, tol: float) -> float:
    """P(|answer - truth| <= tol * truth) when ln(answer / truth) ~ N(0, sd^2): the log error within
    [ln(1 - tol), ln(1 + tol)]."""
    if sd <= 0:
        return 1.0
    k = 1.0 / (sd * math.sqrt(2.0))
    return 0.5 * (math.erf(math.log1p(tol) * k) - math.erf(math.log1p(-tol) * k))


def _against_beyond(xi: float, di: float, xj: float, dj: float, m: float, lm: bool, rm: bool, cl: bool,
                    fa: bool) -> tuple[bool, bool, bool, bool]:
    """(leftmost, rightmost, closest, farthest) of object i against an object j whose lifted distance is a lower
    bound (``BEYOND_FLAGS``): j's true centre is t x its lifted one for some t >= 1, so its distance is at least
    ``dj`` and its camera-centred lateral position ``xj`` moves away from 0.  i is left of every such position only
    when j lies right of the camera (xj >= 0) and i clears ``xj`` by the margin ``m``; right of it only when xj <= 0;
    nearer than it when i clears ``dj``; never farther.  Each result is and-ed with the flag passed in."""
    return (lm and xj >= 0.0 and xi + m < xj, rm and xj <= 0.0 and xi > xj + m, cl and di + m < dj, False)


def _f3(v: float) -> str:
    s = f"{v:.3f}"
    return "0.000" if s == "-0.000" else s


def annotate_uncertainty(image: dict, objects: list[dict], cfg: QAConfig) -> None:
    """Write each object's ``distance_log_sigma`` and ``height_log_sigma`` (:meth:`Scene.object_log_sigmas`, the
    guards' model of its errors) onto it; None on an object the QA cannot use (no valid box)."""
    for o in objects:
        o["distance_log_sigma"] = o["height_log_sigma"] = None
    S = Scene(image, objects, cfg, random.Random(0))  # (the rng only picks names, not used here)
    for o, (ds, hs) in zip(S.objs, S.object_log_sigmas()):
        o["distance_log_sigma"], o["height_log_sigma"] = round(ds, 4), round(hs, 4)


def homothety_iou(center, dims, R, s: float) -> float:
    """3D IoU of a box with itself scaled by ``s`` about the camera (what a global depth-scale error does), on the
    boxes' axis-aligned extents in the camera frame."""
    lo, hi, inter = [], [], 1.0
    for j in range(3):
        e = 0.5 * sum(abs(R[3 * j + k]) * dims[k] for k in range(3))
        a0, a1 = center[j] - e, center[j] + e
        b0, b1 = (s * a0, s * a1) if s > 0 else (s * a1, s * a0)
        inter *= max(0.0, min(a1, b1) - max(a0, b0))
        lo.append(a1 - a0)
    vol = lo[0] * lo[1] * lo[2]
    union = vol * (1.0 + s ** 3) - inter
    return inter / union if union > 0 else 0.0


# E[f(X)], X ~ N(0, 1), for the box model: 13 equally spaced nodes over +/-3.5 sd with normalised normal weights
# (the integrand has kinks where the scaled box stops overlapping, which Gauss-Hermite handles worse)
_NODES_X = tuple(-3.5 + 7.0 * k / 12 for k in range(13))
_NODES_W = tuple(w / sum(math.exp(-0.5 * t * t) for t in _NODES_X) for w in (math.exp(-0.5 * t * t) for t in _NODES_X))


def _ndtr(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _ndtri(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation refined by one Newton step)."""
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
         2.506628277459239)
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572)
    c = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
         2.938163982698783)
    d = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    elif p > 1.0 - 0.02425:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    e = _ndtr(x) - p
    return x - e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)


def box_true_p(center, dims, R, p_lift: float, sigma: float, min_iou: float = 0.25, spread: float = 0.6) -> float:
    """P(3D IoU of the answered box with the true box >= ``min_iou``) under model depth.

    The IoU is the product of two factors: the lifter's own error on exact-scale depth, J, with ``ln J ~ N(mu,
    spread^2)`` and ``mu`` set so that ``P(J >= min_iou) = p_lift`` (the box_p model, fitted on sensor-like depth), and
    the IoU of the box with itself scaled by ``exp(delta)`` about the camera (:func:`homothety_iou`, closed form),
    ``delta ~ N(0, sigma^2)`` the log error of the image's scale at the object. The expectation over delta is a
    13-node sum over +/-3.5 sd of delta: ``E_delta[Phi((mu - ln min_iou + ln H(delta)) / spread)]``."""
    if p_lift <= 0.0:
        return 0.0
    m = spread * _ndtri(p_lift)  # mu - ln(min_iou)
    if sigma <= 0:
        return p_lift
    out = 0.0
    log, exp = math.log, math.exp
    for x, w in zip(_NODES_X, _NODES_W):
        h = homothety_iou(center, dims, R, exp(sigma * x))
        if h > 0.0:
            out += w * _ndtr((m + log(h)) / spread)
    return out
