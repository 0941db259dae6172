"""The QA generator: question types, truthfulness guards, balance and caps.

Every question type is defined in schemas/question_types.md (what is measured, in which frame, with
which formula).  Numbers come from :class:`lift3d.qa.scene.Scene` (printed precision) so the chain of
thought is exact arithmetic on the numbers it shows.  ``lift3d.validate`` re-derives every answer from
the stored boxes independently of this module.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_right
from itertools import accumulate
from collections import Counter
from dataclasses import dataclass

from lift3d.qa import templates as T
from lift3d.qa.config import QAConfig
from lift3d.qa.scene import HEIGHT_BLOCKERS, SIZE_BLOCKERS, WIDTH_BLOCKERS, Scene
from lift3d.qa.text import cap_first, cat_text, fmt2, fmt_length, join_names, plural, r2

FRAME_NOTE = "gravity-aligned frame (x right, y down, z forward, metres)"


@dataclass(frozen=True)
class Axis:
    """A pairwise comparison: positive pole holds for A over B iff q_A < q_B (smaller) or q_A > q_B."""

    key: str
    qty: str  # x y z d w h l V
    smaller_is_pos: bool
    pos_rel: str
    neg_rel: str
    pos_cmp: str
    neg_cmp: str
    elig: str  # pos | width | height | size
    frame: bool  # depends on the gravity frame
    opposite: bool = False


AXES = {
    "left": Axis("left", "x", True, "to the left of", "to the right of", "more to the left", "more to the right",
                 "pos", True),
    "above": Axis("above", "y", True, "above", "below", "higher up", "lower down", "pos", True),
    "front": Axis("front", "z", True, "in front of", "behind", "further in front", "further back", "pos", True),
    "wider": Axis("wider", "w", False, "wider than", "thinner than", "wider", "thinner", "width", False),
    "taller": Axis("taller", "h", False, "taller than", "shorter than", "taller", "shorter", "height", False),
    "bigger": Axis("bigger", "V", False, "bigger than", "smaller than", "bigger", "smaller", "size", False),
    "closer": Axis("closer", "d", True, "closer to the camera than", "farther from the camera than",
                   "closer to the camera", "farther from the camera", "pos", False),
    "left_opp": Axis("left_opp", "x", False, "to the left of", "to the right of", "", "", "pos", True, True),
    "front_opp": Axis("front_opp", "z", False, "in front of", "behind", "", "", "pos", True, True),
}

# question_type -> (family, builder kind, parameters)
TYPES: dict[str, tuple[str, str, tuple]] = {
    "det_all": ("grounding", "det_all", ()),
    "ground_single": ("grounding", "ground_single", ()),
    "ground_multi": ("grounding", "ground_multi", ()),
    "ground_referring": ("grounding", "ground_referring", ()),
    "2p_left_yn": ("yes_no", "yn", ("left",)),
    "2p_above_yn": ("yes_no", "yn", ("above",)),
    "2p_front_yn": ("yes_no", "yn", ("front",)),
    "2p_wider_yn": ("yes_no", "yn", ("wider",)),
    "2p_taller_yn": ("yes_no", "yn", ("taller",)),
    "2p_bigger_yn": ("yes_no", "yn", ("bigger",)),
    "2p_closer_camera_yn": ("yes_no", "yn", ("closer",)),
    "2p_anchor_closer_yn": ("yes_no", "anchor_yn", ()),
    "2p_left_choice": ("choice", "choice", ("left", True)),
    "2p_right_choice": ("choice", "choice", ("left", False)),
    "2p_above_choice": ("choice", "choice", ("above", True)),
    "2p_below_choice": ("choice", "choice", ("above", False)),
    "2p_front_choice": ("choice", "choice", ("front", True)),
    "2p_behind_choice": ("choice", "choice", ("front", False)),
    "2p_wider_choice": ("choice", "choice", ("wider", True)),
    "2p_thinner_choice": ("choice", "choice", ("wider", False)),
    "2p_taller_choice": ("choice", "choice", ("taller", True)),
    "2p_shorter_choice": ("choice", "choice", ("taller", False)),
    "2p_bigger_choice": ("choice", "choice", ("bigger", True)),
    "2p_smaller_choice": ("choice", "choice", ("bigger", False)),
    "2p_closer_camera_choice": ("choice", "choice", ("closer", True)),
    "2p_farther_camera_choice": ("choice", "choice", ("closer", False)),
    "2p_anchor_closer_choice": ("choice", "anchor_choice", (True,)),
    "2p_anchor_farther_choice": ("choice", "anchor_choice", (False,)),
    "2p_distance": ("metric", "metric2", ("3d",)),
    "2p_horizontal_distance": ("metric", "metric2", ("horizontal",)),
    "2p_vertical_distance": ("metric", "metric2", ("vertical",)),
    "1p_width": ("metric", "metric1", ("w",)),
    "1p_height": ("metric", "metric1", ("h",)),
    "1p_length": ("metric", "metric1", ("l",)),
    "1p_distance_camera": ("metric", "metric1", ("d",)),
    "2p_clock": ("metric", "clock", (False,)),
    "3p_closest_anchor": ("multi", "anchor3", (True,)),
    "3p_farthest_anchor": ("multi", "anchor3", (False,)),
    "3p_order_distance_camera": ("multi", "order", ("d",)),
    "3p_order_height": ("multi", "order", ("h",)),
    "3p_order_size": ("multi", "order", ("V",)),
    "count": ("multi", "count", ()),
    "2p_left_opposite_yn": ("opposite", "yn", ("left_opp",)),
    "2p_front_opposite_yn": ("opposite", "yn", ("front_opp",)),
    "2p_clock_opposite": ("opposite", "clock", (True,)),
}
QUESTION_TYPES = tuple(TYPES)

FAMILY_WEIGHTS = {"grounding": 0.15, "yes_no": 0.22, "choice": 0.2, "metric": 0.23, "multi": 0.12, "opposite": 0.08}

# types whose truth depends on the gravity frame (skipped without gravity unless assume_level_without_gravity)
FRAME_TYPES = {t for t, (_, kind, p) in TYPES.items()
               if (kind in ("yn", "choice") and AXES[p[0]].frame) or kind == "clock"
               or (kind == "metric2" and p[0] in ("horizontal", "vertical"))}


def default_mix() -> dict[str, float]:
    n = Counter(f for f, _, _ in TYPES.values())
    return {t: FAMILY_WEIGHTS[f] / n[f] for t, (f, _, _) in TYPES.items()}


_BLOCKERS = {"pos": (), "width": WIDTH_BLOCKERS, "height": HEIGHT_BLOCKERS, "size": SIZE_BLOCKERS,
             "vertical": HEIGHT_BLOCKERS}


class _EligCache(dict):
    """kind -> eligible objects of the scene, computed on first access (hits are plain dict lookups)."""

    def __init__(self, S: Scene):
        super().__init__()
        self.S = S  # the scene only (no reference back to the context: no reference cycle)

    def __missing__(self, kind: str) -> list[int]:
        S = self.S
        block = _BLOCKERS[kind]
        if block:
            flags = S.flags
            el = [i for i in S.askable if not (flags[i] & block)]
        else:
            el = list(S.askable)
        if kind != "pos":  # size questions: only boxes whose modelled accuracy supports them
            mp = S.cfg.size_min_box_p
            bp = S.box_p
            el = [i for i in el if bp[i] >= mp]
        self[kind] = el
        return el


class _Ctx:
    def __init__(self, scene: Scene, cfg: QAConfig, rng: random.Random):
        self.S = scene
        self.cfg = cfg
        self.rng = rng
        self.used: set = set()
        self.skipped: Counter = Counter()
        self.yes_next = rng.random() < 0.5
        self.pos_next: dict[int, int] = {}
        self._elig = self.E = _EligCache(scene)  # kind -> eligible objects

    def take_yes(self) -> bool:
        v = self.yes_next
        self.yes_next = not v
        return v

    def take_position(self, n: int) -> int:
        if n not in self.pos_next:
            self.pos_next[n] = self.rng.randrange(n)
        p = self.pos_next[n]
        self.pos_next[n] = (p + 1) % n
        return p

    def elig(self, kind: str) -> list[int]:
        return self.E[kind]

    def pick2(self, cand: list[int], t: str, ordered: bool = False):
        """pick(cand, 2, (t,), ordered) returning (a, b, key) instead of ([a, b], key)."""
        n = len(cand)
        if n < 2:
            self.skipped["too_few_objects"] += 1
            return None
        rnd = self.rng.random
        p = int(rnd() * n)
        q = int(rnd() * (n - 1))
        if q >= p:
            q += 1
        a, b = cand[p], cand[q]
        cats = self.S.cats
        if cats[a] == cats[b]:
            self.skipped["same_category"] += 1
            return None
        key = (t, a, b) if (ordered or a < b) else (t, b, a)
        if key in self.used:
            self.skipped["duplicate"] += 1
            return None
        return a, b, key

    def pick(self, cand: list[int], k: int, key_prefix: tuple, ordered: bool = False):
        """k askable objects of distinct categories not used together before for this key; None after a miss."""
        n = len(cand)
        if n < k:
            self.skipped["too_few_objects"] += 1
            return None
        # k distinct positions drawn uniformly without replacement (partial Fisher-Yates on the indices)
        rnd = self.rng.random
        # two-object draws go through pick2; this path serves k >= 3
        pool = list(cand)
        idx = []
        for m in range(k):
            r = m + int(rnd() * (n - m))
            pool[m], pool[r] = pool[r], pool[m]
            idx.append(pool[m])
        cats = self.S.cats
        if len(set(map(cats.__getitem__, idx))) < k:
            self.skipped["same_category"] += 1
            return None
        key = key_prefix + (tuple(idx) if ordered else tuple(sorted(idx)))
        if key in self.used:
            self.skipped["duplicate"] += 1
            return None
        return idx, key


# ----------------------------------------------------------------------------------------- helpers

def _qty(S: Scene, q: str) -> list[float]:
    return S.qty[q]


def _axis_margin_ok(S: Scene, axis: Axis, i: int, j: int) -> bool:
    q = axis.qty
    if q in "xyzd":
        vals = S.qty[q]
        return abs(vals[i] - vals[j]) > _pos_margin_q(S, q, i, j)
    cfg = S.cfg
    if q in "whl":
        vals = S.qty[q]
        sig = S.size_sigs(q)
        m = max(cfg.min_size_margin, cfg.margin_k * math.hypot(sig[i], sig[j]))
        return abs(vals[i] - vals[j]) > m
    # volume: log ratio against the relative size sigmas
    vol = S.vol
    if vol[i] <= 0 or vol[j] <= 0:
        return False
    m = max(cfg.min_log_volume_margin, cfg.margin_k * math.hypot(S.log_vol_sig(i), S.log_vol_sig(j)))
    return abs(math.log(vol[i] / vol[j])) > m


def _pos_margin_q(S: Scene, q: str, i: int, j: int) -> float:
    """The margin of a comparison of coordinate q of objects i and j: pos_margin2, and under model depth the
    range exponent's bend of x and y (Scene.bend_var)."""
    if S.scale_sigma <= 0 or q not in "xy":
        return S.pos_margin2(i, j)
    m = S.cfg.margin_k * math.sqrt(S.ps2[i] + S.ps2[j] + S.bend_var(q, i, j))
    return m if m > S.cfg.min_pos_margin else S.cfg.min_pos_margin


def _is_pos(S: Scene, axis: Axis, a: int, b: int) -> bool:
    v = _qty(S, axis.qty)
    return v[a] < v[b] if axis.smaller_is_pos else v[a] > v[b]


def _intro(S: Scene, objs: list[int], letters: str, centres: bool = True, dims: bool = False) -> str:
    cache = S.tc_intro
    key = (letters, centres, dims, *objs)
    s = cache.get(key)
    if s is not None:
        return s
    pc = S.tc_part
    parts = []
    cparts = []
    dparts = []
    ct = S.centre_txt if centres else None
    dt = S.dims_txt if dims else None
    k = 0
    for i in objs:
        L = letters[k]
        pk = (i, k, L)
        p = pc.get(pk)
        if p is None:
            p = pc[pk] = f"{L} = {S.names[i]}: {S.box_line(i, k)}"
        parts.append(p)
        if centres:
            cparts.append(f"{L} {ct[i]}")
        if dims:
            dparts.append(f"{L} {dt[i]}")
        k += 1
    s = "Boxes: " + "; ".join(parts) + "."
    if centres:
        s += f" Centres in the {FRAME_NOTE}: " + ", ".join(cparts) + "."
    if dims:
        s += " Sizes (width, height, length) in metres: " + ", ".join(dparts) + "."
    cache[key] = s
    return s


def _sq(v: float) -> str:
    s = f"{v:.2f}"  # fmt2, inlined
    if s == "-0.00":
        s = "0.00"
    return f"{s}^2" if v >= 0 else f"({s})^2"


def _neg(v: float) -> str:
    return fmt2(v) if v >= 0 else f"({fmt2(v)})"


def _dist_cam_text(S: Scene, i: int, L: str) -> str:
    key = (i, L)
    s = S.tc_dcam.get(key)
    if s is None:
        # centre coordinates and distances are rounded to 1 cm (r2: no negative zero), so fmt2(v) == f"{v:.2f}"
        x, y, z = S.x[i], S.y[i], S.z[i]
        s = S.tc_dcam[key] = (f"d_{L} = sqrt({x:.2f}^2 + {y:.2f}^2 + {z:.2f}^2) = {S.dist[i]:.2f} m" if x >= 0 and y >= 0
                              and z >= 0 else f"d_{L} = sqrt({_sq(x)} + {_sq(y)} + {_sq(z)}) = {fmt2(S.dist[i])} m")
    return s


def _vol_text(S: Scene, i: int, L: str) -> str:
    key = (i, L)
    s = S.tc_vol.get(key)
    if s is None:
        s = S.tc_vol[key] = f"V_{L} = {fmt2(S.w[i])} x {fmt2(S.h[i])} x {fmt2(S.l[i])} = {S.vol[i]:.3g} m^3"
    return s


def _compare_text(S: Scene, axis: Axis, a: int, b: int, La: str = "A", Lb: str = "B") -> str:
    """Computation steps comparing a (La) and b (Lb) along the axis, ending with the relation that holds."""
    q = axis.qty
    pos = _is_pos(S, axis, a, b)
    rel = axis.pos_rel if pos else axis.neg_rel
    pre = ""
    if axis.opposite:
        pre = ("Seen from the opposite side (camera turned 180 degrees about the vertical), right and forward are "
               "reversed, so left/right and front/behind swap. ")
    if q in "xyz":
        v = _qty(S, q)
        f = S.ftext(q)
        d = fmt2(r2(v[a] - v[b]))
        sign = "< 0" if v[a] < v[b] else "> 0"
        nb = f[b] if v[b] >= 0 else f"({f[b]})"
        return f"{pre}{q}_{La} - {q}_{Lb} = {f[a]} - {nb} = {d} {sign}, so {La} is {rel} {Lb}."
    if q == "d":
        d = fmt2(r2(S.dist[a] - S.dist[b]))
        sign = "< 0" if S.dist[a] < S.dist[b] else "> 0"
        return (f"{_dist_cam_text(S, a, La)}; {_dist_cam_text(S, b, Lb)}; d_{La} - d_{Lb} = {d} {sign}, "
                f"so {La} is {rel} {Lb}.")
    if q in "whl":
        v = _qty(S, q)
        d = fmt2(r2(v[a] - v[b]))
        sign = "< 0" if v[a] < v[b] else "> 0"
        f = S.ftext(q)
        return (f"{q}_{La} = {f[a]} m, {q}_{Lb} = {f[b]} m; {q}_{La} - {q}_{Lb} = {d} {sign}, "
                f"so {La} is {rel} {Lb}.")
    ratio = S.vol[a] / S.vol[b]
    sign = "< 1" if ratio < 1 else "> 1"
    return (f"{_vol_text(S, a, La)}; {_vol_text(S, b, Lb)}; V_{La} / V_{Lb} = {ratio:.2f} {sign}, "
            f"so {La} is {rel} {Lb}.")


def _other(axis: Axis, rel: str) -> str:
    return axis.neg_rel if rel == axis.pos_rel else axis.pos_rel


def _dist3(S: Scene, a: int, b: int) -> tuple[float, float, float, float]:
    key = (a, b)
    v = S.pair_cache.get(key)
    if v is None:
        # r2 inlined: round to 1 cm, -0.0 -> 0.0
        dx = round(S.x[b] - S.x[a], 2) + 0.0
        dy = round(S.y[b] - S.y[a], 2) + 0.0
        dz = round(S.z[b] - S.z[a], 2) + 0.0
        v = S.pair_cache[key] = (dx, dy, dz, round(math.sqrt(dx * dx + dy * dy + dz * dz), 2) + 0.0)
    return v


# ----------------------------------------------------------------------------------------- builders
# Each returns a partial row dict (question, answer, answer_form, answer_value, answer_unit, choices,
# reasoning, object indices) or None after recording why in ctx.skipped.

def _pair_with_margin(ctx: _Ctx, t: str, axis: Axis):
    """Draw a pair for a two-object comparison whose relation holds with margin; None (counted) otherwise."""
    S = ctx.S
    got = ctx.pick2(ctx.E[axis.elig], t)
    if got is None:
        return None
    i, j, key = got
    qk = axis.qty
    vals = S.qty[qk]
    if qk in "xyzd":
        ok = abs(vals[i] - vals[j]) > _pos_margin_q(S, qk, i, j)
    else:
        ok = _axis_margin_ok(S, axis, i, j)
    if not ok:
        ctx.skipped["near_tie"] += 1
        return None
    ctx.used.add(key)
    return i, j, qk, vals


def b_yn(ctx: _Ctx, t: str, axis: Axis):
    S, rng = ctx.S, ctx.rng
    got = _pair_with_margin(ctx, t, axis)
    if got is None:
        return None
    i, j, qk, vals = got
    want_yes = ctx.yes_next  # = ctx.take_yes()
    ctx.yes_next = not want_yes
    is_pos = vals[i] < vals[j] if axis.smaller_is_pos else vals[i] > vals[j]
    a, b = (i, j) if want_yes == is_pos else (j, i)
    # canonical relation: A <pos_rel> B; converse phrasing "B <neg_rel> A" asks the same thing
    if rng.random() < 0.5:
        s, o, rel = a, b, axis.pos_rel
    else:
        s, o, rel = b, a, axis.neg_rel
    tpls = T.YN_OPPOSITE if axis.opposite else T.YN
    tpl = rng.choice(tpls)
    q = tpl.format(S=S.names[s], O=S.names[o], rel=rel)
    q = cap_first(q)
    view = "from the opposite side, " if axis.opposite else ""
    if want_yes:
        ans = f"Yes, {view}{S.names[s]} is {rel} {S.names[o]}."
    else:
        ans = f"No, {view}{S.names[s]} is {_other(axis, rel)} {S.names[o]}."
    reasoning = (_intro(S, [a, b], "AB", qk in "xyzd", qk in "whlV") + " "
                 + _compare_text(S, axis, a, b) + (" The answer is yes." if want_yes else " The answer is no."))
    return (q, ans, "yes_no", "yes" if want_yes else "no", None, [], reasoning, [a, b])


def _place(ctx: _Ctx, winner: int, others: list[int]) -> list[int]:
    n = len(others) + 1
    p = ctx.take_position(n)
    if n == 2:  # shuffling one element draws no random numbers
        return [winner, others[0]] if p == 0 else [others[0], winner]
    rest = list(others)
    ctx.rng.shuffle(rest)
    return rest[:p] + [winner] + rest[p:]


def b_choice(ctx: _Ctx, t: str, axis: Axis, pole: bool):
    S, rng = ctx.S, ctx.rng
    got = _pair_with_margin(ctx, t, axis)
    if got is None:
        return None
    i, j, qk, vals = got
    is_pos = vals[i] < vals[j] if axis.smaller_is_pos else vals[i] > vals[j]
    winner, loser = (i, j) if is_pos == pole else (j, i)
    order = _place(ctx, winner, [loser])
    names = [S.names[order[0]], S.names[order[1]]]
    cmp = axis.pos_cmp if pole else axis.neg_cmp
    q = rng.choice(T.CHOICE).format(X=names[0], Y=names[1], Xc=cap_first(names[0]), cmp=cmp)
    La = "AB"[order.index(winner)]
    reasoning = (_intro(S, order, "AB", centres=axis.qty in "xyzd", dims=axis.qty in "whlV") + " "
                 + _compare_text(S, axis, order[0], order[1])
                 + f" Therefore {La} ({S.names[winner]}) is {cmp}.")
    return (q, f"{cap_first(S.names[winner])} is {cmp}.", "choice", S.names[winner], None, names, reasoning, order)


def _anchor_pair(ctx: _Ctx, t: str):
    S = ctx.S
    got = ctx.pick(ctx.E["pos"], 3, (t,), ordered=True)
    if got is None:
        return None
    (c, i, j), key = got
    key = (t, c, min(i, j), max(i, j))
    if key in ctx.used:
        ctx.skipped["duplicate"] += 1
        return None
    di, dj = _dist3(S, c, i)[3], _dist3(S, c, j)[3]
    if abs(di - dj) <= S.anchor_margin(c, i, j):
        ctx.skipped["near_tie"] += 1
        return None
    ctx.used.add(key)
    return c, i, j, di, dj


def _anchor_dist_text(S: Scene, c: int, i: int, Lc: str, Li: str) -> str:
    key = (c, i, Lc, Li)
    s = S.tc_adist.get(key)
    if s is None:
        dx, dy, dz, d = _dist3(S, c, i)
        # _dist3 values are rounded to 1 cm (r2: no negative zero), so fmt2(v) == f"{v:.2f}"
        s = S.tc_adist[key] = (f"{Li}-{Lc} = ({dx:.2f}, {dy:.2f}, {dz:.2f}), "
                               f"|{Li}{Lc}| = sqrt({_sq(dx)} + {_sq(dy)} + {_sq(dz)}) = {d:.2f} m")
    return s


def b_anchor_yn(ctx: _Ctx, t: str):
    S, rng = ctx.S, ctx.rng
    got = _anchor_pair(ctx, t)
    if got is None:
        return None
    c, i, j, di, dj = got
    want_yes = ctx.take_yes()
    # canonical: A closer to C than B
    a, b = (i, j) if want_yes == (di < dj) else (j, i)
    if rng.random() < 0.5:
        s, o, rel = a, b, "closer to"
    else:
        s, o, rel = b, a, "farther from"
    q = cap_first(rng.choice(T.ANCHOR_YN).format(S=S.names[s], O=S.names[o], C=S.names[c], rel=rel))
    other = "farther from" if rel == "closer to" else "closer to"
    if want_yes:
        ans = f"Yes, {S.names[s]} is {rel} {S.names[c]} than {S.names[o]} is."
    else:
        ans = f"No, {S.names[s]} is {other} {S.names[c]} than {S.names[o]} is."
    da, db = _dist3(S, c, a)[3], _dist3(S, c, b)[3]
    reasoning = (_intro(S, [c, a, b], "CAB") + " " + _anchor_dist_text(S, c, a, "C", "A") + "; "
                 + _anchor_dist_text(S, c, b, "C", "B") + f"; {fmt2(da)} {'<' if da < db else '>'} {fmt2(db)}, so A is "
                 + ("closer to" if da < db else "farther from") + f" C than B is. The answer is {'yes' if want_yes else 'no'}.")
    return (q, ans, "yes_no", "yes" if want_yes else "no", None, [], reasoning, [c, a, b])


def b_anchor_choice(ctx: _Ctx, t: str, closer: bool):
    S, rng = ctx.S, ctx.rng
    got = _anchor_pair(ctx, t)
    if got is None:
        return None
    c, i, j, di, dj = got
    winner, loser = (i, j) if (di < dj) == closer else (j, i)
    order = _place(ctx, winner, [loser])
    names = [S.names[k] for k in order]
    cmp = "closer to" if closer else "farther from"
    q = cap_first(rng.choice(T.ANCHOR_CHOICE).format(X=names[0], Y=names[1], C=S.names[c], cmp=cmp))
    d0, d1 = _dist3(S, c, order[0])[3], _dist3(S, c, order[1])[3]
    La = "AB"[order.index(winner)]
    reasoning = (_intro(S, [c] + order, "CAB") + " " + _anchor_dist_text(S, c, order[0], "C", "A") + "; "
                 + _anchor_dist_text(S, c, order[1], "C", "B") + f"; {fmt2(d0)} {'<' if d0 < d1 else '>'} {fmt2(d1)}. "
                 f"Therefore {La} ({S.names[winner]}) is {cmp} C.")
    return (q, f"{cap_first(S.names[winner])} is {cmp} {S.names[c]}.", "choice", S.names[winner], None, names, reasoning, [c] + order)


_M1_KIND = {"w": "width", "l": "width", "h": "height", "d": "pos"}
_M1_WORD = {"w": "width", "h": "height", "l": "length"}
_M2_WORD = {"3d": "distance", "horizontal": "horizontal distance", "vertical": "vertical distance"}


def b_metric1(ctx: _Ctx, t: str, q: str):
    S, rng, cfg = ctx.S, ctx.rng, ctx.cfg
    used = ctx.used
    cand = [i for i in ctx.E[_M1_KIND[q]] if (t, i) not in used]
    if not cand:
        ctx.skipped["too_few_objects"] += 1
        return None
    i = rng.choice(cand)
    v = _qty(S, q)[i]
    sig = S.pos_sig[i] if q == "d" else S.size_sig(i, v)
    if v < (cfg.numeric_min_snr if q == "d" else cfg.size_min_snr) * sig:
        ctx.skipped["low_snr"] += 1
        ctx.used.add((t, i))
        return None
    if S.scale_sigma > 0 and S.numeric_true_p(S.metric1_var(i, q, v)) < cfg.numeric_min_p:
        ctx.skipped["scale_uncertain"] += 1
        ctx.used.add((t, i))
        return None
    ctx.used.add((t, i))
    text, val = fmt_length(v, cfg.cm_below)
    name = S.names[i]
    if q == "d":
        step = _dist_cam_text(S, i, "A") + "."
        ans = f"{cap_first(name)} is {text} from the camera."
        dims = False
    else:
        word = _M1_WORD[q]
        step = f"The {word} of A is {q} = {fmt2(v)} m."
        ans = f"The {word} of {name} is {text}."
        dims = True
    reasoning = _intro(S, [i], "A", centres=(q == "d"), dims=dims) + " " + step + f" Answer: {text}."
    tpls = T.METRIC[t]
    return (cap_first(rng.choice(tpls).format(A=name)), ans, "numeric", val, "m", [], reasoning, [i])


def b_metric2(ctx: _Ctx, t: str, kind: str):
    S, rng, cfg = ctx.S, ctx.rng, ctx.cfg
    got = ctx.pick2(ctx.E["vertical" if kind == "vertical" else "pos"], t)
    if got is None:
        return None
    a, b, key = got
    ctx.used.add(key)
    dx, dy, dz, d3 = _dist3(S, a, b)
    if kind == "3d":
        v = d3
        step = f"B - A = ({fmt2(dx)}, {fmt2(dy)}, {fmt2(dz)}); |B - A| = sqrt({_sq(dx)} + {_sq(dy)} + {_sq(dz)}) = {fmt2(v)} m."
        sig = math.sqrt(S.pos_sig[a] ** 2 + S.pos_sig[b] ** 2)
    elif kind == "horizontal":
        v = r2(math.sqrt(dx * dx + dz * dz))
        step = (f"In the ground plane (x, z): B - A = ({fmt2(dx)}, {fmt2(dz)}); "
                f"sqrt({_sq(dx)} + {_sq(dz)}) = {fmt2(v)} m.")
        sig = math.sqrt(S.pos_sig[a] ** 2 + S.pos_sig[b] ** 2)
    else:
        v = abs(dy)
        step = f"Along gravity (y): y_B - y_A = {fmt2(S.y[b])} - {_neg(S.y[a])} = {fmt2(dy)}; |{fmt2(dy)}| = {fmt2(v)} m."
        sig = math.sqrt(S.pos_sig[a] ** 2 + S.pos_sig[b] ** 2)
    if v < cfg.numeric_min_snr * sig:
        ctx.skipped["low_snr"] += 1
        return None
    if S.scale_sigma > 0 and S.numeric_true_p(S.metric2_var(a, b, (dx, dy, dz) if kind == "3d" else
                                                           (dx, 0.0, dz) if kind == "horizontal" else (0.0, dy, 0.0))) < cfg.numeric_min_p:
        ctx.skipped["scale_uncertain"] += 1
        return None
    text, val = fmt_length(v, cfg.cm_below)
    word = _M2_WORD[kind]
    tpls = T.METRIC[t]
    q = cap_first(rng.choice(tpls).format(A=S.names[a], B=S.names[b]))
    ans = f"The {word} between {S.names[a]} and {S.names[b]} is {text}."
    reasoning = _intro(S, [a, b], "AB") + " " + step + f" Answer: {text}."
    return (q, ans, "numeric", val, "m", [], reasoning, [a, b])


def b_clock(ctx: _Ctx, t: str, opposite: bool):
    S, rng, cfg = ctx.S, ctx.rng, ctx.cfg
    got = ctx.pick2(ctx.E["pos"], t, ordered=True)
    if got is None:
        return None
    a, b, key = got
    ctx.used.add(key)
    dx, dz = r2(S.x[b] - S.x[a]), r2(S.z[b] - S.z[a])
    if opposite:
        dx, dz = r2(-dx), r2(-dz)
    r = math.hypot(dx, dz)
    if r < cfg.clock_min_distance:
        ctx.skipped["too_close"] += 1
        return None
    bearing = round(math.degrees(math.atan2(dx, dz)) % 360.0, 1) % 360.0
    sector = bearing / 30.0
    hour_f = math.floor(sector + 0.5)
    off = abs(sector - hour_f) * 30.0  # degrees from the sector centre
    s = math.hypot(S.pos_sig[a], S.pos_sig[b])
    need = max(cfg.clock_min_margin_deg, math.degrees(math.atan2(cfg.margin_k * s, r)))
    if 15.0 - off < need:
        ctx.skipped["near_tie"] += 1
        return None
    hour = int(hour_f) % 12 or 12
    tpls = T.METRIC[t]
    q = cap_first(rng.choice(tpls).format(A=S.names[a], B=S.names[b]))
    if opposite:
        step = ("Facing back toward the camera reverses right and forward: "
                f"(dx, dz) = -({fmt2(r2(-dx))}, {fmt2(r2(-dz))}) = ({fmt2(dx)}, {fmt2(dz)}).")
    else:
        step = f"In the ground plane from A to B: (dx, dz) = ({fmt2(dx)}, {fmt2(dz)})."
    step += (f" Bearing clockwise from straight ahead = atan2(dx, dz) = {bearing:.1f} deg; "
             f"{bearing:.1f} / 30 = {sector:.2f}, rounded to {hour_f} -> {hour} o'clock.")
    reasoning = _intro(S, [a, b], "AB") + " " + step
    return (q, f"{cap_first(S.names[b])} is at {hour} o'clock.", "numeric", str(hour), "o'clock", [], reasoning, [a, b])


def b_anchor3(ctx: _Ctx, t: str, closest: bool):
    S, rng = ctx.S, ctx.rng
    got = ctx.pick(ctx.E["pos"], 4, (t,), ordered=True)
    if got is None:
        return None
    (c, *cands), key = got
    key = (t, c) + tuple(sorted(cands))
    if key in ctx.used:
        ctx.skipped["duplicate"] += 1
        return None
    ctx.used.add(key)
    d = {i: _dist3(S, c, i)[3] for i in cands}
    srt = sorted(cands, key=lambda i: d[i], reverse=not closest)
    best, second = srt[0], srt[1]
    if abs(d[best] - d[second]) <= S.anchor_margin(c, best, second):
        ctx.skipped["near_tie"] += 1
        return None
    order = _place(ctx, best, [i for i in cands if i != best])
    names = [S.names[k] for k in order]
    sup = "closest to" if closest else "farthest from"
    q = cap_first(rng.choice(T.ANCHOR3).format(L=join_names(names, "and"), C=S.names[c], sup=sup))
    letters = "CABD"[: len(order) + 1]
    steps = "; ".join(_anchor_dist_text(S, c, i, "C", letters[k + 1]) for k, i in enumerate(order))
    Lw = letters[order.index(best) + 1]
    reasoning = (_intro(S, [c] + order, letters) + " " + steps
                 + f". The {'smallest' if closest else 'largest'} distance is {fmt2(d[best])} m, "
                   f"so {Lw} ({S.names[best]}) is {sup} C.")
    return (q, f"{cap_first(S.names[best])} is {sup} {S.names[c]}.", "choice", S.names[best], None, names, reasoning, [c] + order)


def b_order(ctx: _Ctx, t: str, q: str):
    S, rng, cfg = ctx.S, ctx.rng, ctx.cfg
    kind = {"d": "pos", "h": "height", "V": "size"}[q]
    got = ctx.pick(ctx.E[kind], 3, (t,))
    if got is None:
        return None
    objs, key = got
    ctx.used.add(key)
    vals = _qty(S, q)
    srt = sorted(objs, key=lambda i: vals[i], reverse=(q != "d"))
    axis = AXES[{"d": "closer", "h": "taller", "V": "bigger"}[q]]
    for u, v in zip(srt, srt[1:]):
        if not _axis_margin_ok(S, axis, u, v):
            ctx.skipped["near_tie"] += 1
            return None
    letters = "ABC"
    if q == "d":
        steps = "; ".join(_dist_cam_text(S, i, letters[k]) for k, i in enumerate(objs))
        phrase = "from nearest to farthest"
    elif q == "h":
        steps = "; ".join(f"h_{letters[k]} = {fmt2(S.h[i])} m" for k, i in enumerate(objs))
        phrase = "from tallest to shortest"
    else:
        steps = "; ".join(_vol_text(S, i, letters[k]) for k, i in enumerate(objs))
        phrase = "from largest to smallest"
    names = [S.names[i] for i in objs]
    q_text = cap_first(rng.choice(T.ORDER[t]).format(L=join_names(names, "and")))
    ordered = [S.names[i] for i in srt]
    reasoning = (_intro(S, objs, letters, centres=(q == "d"), dims=(q != "d")) + " " + steps + ". Sorted "
                 + phrase + ": " + ", ".join(letters[objs.index(i)] for i in srt) + ".")
    return (q_text, cap_first(phrase) + ": " + ", ".join(ordered) + ".", "open", json.dumps(ordered), None, [], reasoning, objs)


def b_count(ctx: _Ctx, t: str):
    S, rng = ctx.S, ctx.rng
    cats = [c for c in S.by_cat if not S.incomplete.get(c) and (t, c) not in ctx.used]
    if not cats:
        ctx.skipped["no_complete_category"] += 1
        return None
    c = rng.choice(cats)
    ctx.used.add((t, c))
    members = S.by_cat[c]
    n = len(members)
    P = plural(cat_text(c))
    noun = cat_text(c) if n == 1 else P
    q = cap_first(rng.choice(T.COUNT).format(P=P))
    boxes = "; ".join(S.box_line(i, k) for k, i in enumerate(members))
    reasoning = f"Boxes of category {cat_text(c)}: {boxes}. That is {n} {noun}."
    ans = f"There {'is' if n == 1 else 'are'} {n} {noun}."
    return (q, ans, "numeric", str(n), "count", [], reasoning, list(members))


def _boxes_answer(S: Scene, objs: list[int], labels: list[int] | None = None) -> tuple[str, str]:
    # the same text as lift3d.qa.serialize.format_boxes, from the scene's cached per-box texts; ``labels``: the
    # bbox_i index of each box when the reasoning already named the boxes (the answer must use the same i)
    recs = [S.rec(i) for i in objs]
    if S.cfg.box_format == "qwen":
        text = "[" + ", ".join(S.core(i) for i in objs) + "]"
    else:
        ks = labels if labels is not None else range(len(objs))
        text = "\n".join(S.box_line(i, k) for k, i in zip(ks, objs))
    return text, json.dumps(recs)


def _confident(ctx: _Ctx, t: str, keys: list, box_ok) -> list:
    """The keys (objects or categories) whose boxes are confident enough to be an answer; when none is, the
    question type is skipped as ``box_uncertain`` and every key is marked used so it is not tried again."""
    ok = [k for k in keys if box_ok(k)]
    if not ok:
        ctx.skipped["box_uncertain"] += 1
        ctx.used.update((t, k) for k in keys)
    return ok


def b_ground(ctx: _Ctx, t: str):
    S, rng, cfg = ctx.S, ctx.rng, ctx.cfg
    hint = T.FORMAT_HINT[cfg.box_format]
    labels = None  # bbox_i indices of the answer's boxes when the reasoning numbered them otherwise
    if t == "det_all":
        if (t,) in ctx.used:
            return None
        ctx.used.add((t,))
        if S.incomplete or S.n == 0:
            ctx.skipped["incomplete_scene"] += 1
            return None
        if S.n > cfg.max_det_boxes:
            ctx.skipped["too_many_boxes"] += 1
            return None
        if not all(S.box_ok(i, True) for i in range(S.n)):
            ctx.skipped["box_uncertain"] += 1
            return None
        objs = list(range(S.n))
        q = rng.choice(T.GROUND[t]) + hint
        counts = ", ".join(f"{len(v)} {cat_text(c) if len(v) == 1 else plural(cat_text(c))}" for c, v in S.by_cat.items())
        reasoning = f"The image contains {S.n} objects ({counts}). Each box: centre projected to the image, depth, yaw and size."
    elif t == "ground_multi":
        cats = [c for c, v in S.by_cat.items() if len(v) >= 2 and not S.incomplete.get(c)
                and len(v) <= cfg.max_det_boxes and (t, c) not in ctx.used]
        if not cats:
            ctx.skipped["no_repeated_category"] += 1
            return None
        bp, mp = S.box_p_answer, cfg.box_min_p_all
        cats = _confident(ctx, t, cats, lambda c: all(bp[i] >= mp for i in S.by_cat[c]))  # S.box_ok(i, True)
        if not cats:
            return None
        c = rng.choice(cats)
        ctx.used.add((t, c))
        objs = list(S.by_cat[c])
        q = rng.choice(T.GROUND[t]).format(P=plural(cat_text(c)), c=cat_text(c)) + hint
        reasoning = f"There are {len(objs)} {plural(cat_text(c))} in the image; their boxes follow."
    else:
        want_unique = t == "ground_single"
        base = S.referable.get(want_unique)
        if base is None:
            base = S.referable[want_unique] = [i for i in S.askable if (S.cat_count[S.cats[i]] == 1) == want_unique]
        used = ctx.used
        cand = [i for i in base if (t, i) not in used]
        if not cand:
            ctx.skipped["no_referable_object"] += 1
            return None
        bp, mp = S.box_p_answer, S.box_min_p
        cand = _confident(ctx, t, cand, lambda i: bp[i] >= mp)  # S.box_ok(i)
        if not cand:
            return None
        i = rng.choice(cand)
        ctx.used.add((t, i))
        objs = [i]
        q = cap_first(rng.choice(T.GROUND[t]).format(A=S.names[i])) + hint
        if want_unique:
            reasoning = f"There is exactly one {cat_text(S.cats[i])} in the image; its box follows."
        else:
            grp = S.by_cat[S.cats[i]]
            desc = S.names[i]
            if "camera" in desc:
                vals = "; ".join(f"{S.box_line(j, k)}: " + _dist_cam_text(S, j, str(k)) for k, j in enumerate(grp))
            else:
                vals = "; ".join(f"{S.box_line(j, k)}: x_{k} = {fmt2(S.x[j])}" for k, j in enumerate(grp))
            reasoning = (f"There are {len(grp)} {plural(cat_text(S.cats[i]))}: {vals}. "
                         f"{cap_first(desc)} is the one with centre {S.centre_txt[i]}.")
            labels = [list(grp).index(i)]  # the reasoning named it bbox_k: the answer must too
    text, value = _boxes_answer(S, objs, labels)
    return (q, text, "boxes", value, None, [], reasoning, objs)


BUILDERS = {
    "det_all": b_ground, "ground_single": b_ground, "ground_multi": b_ground, "ground_referring": b_ground,
    "yn": b_yn, "choice": b_choice, "anchor_yn": b_anchor_yn, "anchor_choice": b_anchor_choice,
    "metric1": b_metric1, "metric2": b_metric2, "clock": b_clock, "anchor3": b_anchor3, "order": b_order,
    "count": b_count,
}


def _messages(question: str, reasoning: str, answer: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": question}]},
        {"role": "assistant", "content": [{"type": "text", "text": f"<think>{reasoning}</think>{answer}"}]},
    ]


def _requirement(t: str) -> tuple[str, int] | None:
    """(eligibility kind, number of objects of distinct categories) a type needs, None = no simple bound."""
    _, kind, p = TYPES[t]
    if kind in ("yn", "choice"):
        return AXES[p[0]].elig, 2
    if kind in ("anchor_yn", "anchor_choice"):
        return "pos", 3
    if kind == "metric1":
        return {"w": "width", "l": "width", "h": "height", "d": "pos"}[p[0]], 1
    if kind == "metric2":
        return ("vertical" if p[0] == "vertical" else "pos"), 2
    if kind == "clock":
        return "pos", 2
    if kind == "anchor3":
        return "pos", 4
    if kind == "order":
        return {"d": "pos", "h": "height", "V": "size"}[p[0]], 3
    if t in ("ground_single", "ground_referring"):
        return "pos", 1
    return None


REQUIREMENTS = {t: _requirement(t) for t in TYPES}
# (builder, parameters) per type; yes/no and choice builders get the Axis object itself
_CALLS = {t: (BUILDERS[kind], (AXES[params[0]],) + params[1:] if kind in ("yn", "choice") else params)
          for t, (_, kind, params) in TYPES.items()}
_DEFAULT_MIX = default_mix()
_PREP_CACHE: dict = {}  # (no-frame-types, include_types) -> default-mix type list before the per-image filter


def generate_qa(image: dict, objects: list[dict], config: QAConfig | None = None, seed: int = 0):
    """Questions about one image. Returns ``(rows, stats)``; deterministic for (image, objects, config, seed)."""
    cfg = config if config is not None else QAConfig()
    cfg.validate()
    image_id = int(image["image_id"])
    rng = random.Random(f"lift3d-qa:{int(seed)}:{image_id}")
    S = Scene(image, objects, cfg, rng)
    ctx = _Ctx(S, cfg, rng)
    skipped = ctx.skipped
    stats = {"generated": {}, "skipped": {}, "objects": S.n, "askable_objects": len(S.askable),
             "invalid_objects": S.n_invalid}
    rows: list[dict] = []
    if S.n == 0 or cfg.max_per_image == 0:
        if S.n == 0:
            skipped["no_objects"] += 1
        stats["skipped"] = dict(skipped)
        return rows, stats

    mix = cfg.mix if cfg.mix is not None else _DEFAULT_MIX
    if cfg.mix is not None:
        unknown = set(mix) - set(TYPES)
        if unknown:
            raise ValueError(f"unknown question types in mix: {sorted(unknown)}")
    inc = cfg.include_types
    drop_frame = not S.has_gravity and not cfg.assume_level_without_gravity
    prep = None
    ck = None
    if cfg.mix is None and (inc is None or type(inc) in (tuple, list, set, frozenset)):
        ck = (drop_frame, None if inc is None else tuple(inc))
        prep = _PREP_CACHE.get(ck)
    if prep is None:
        alive = [t for t in QUESTION_TYPES if mix.get(t, 0) > 0 and (inc is None or t in inc)]
        n_frame = 0
        if drop_frame:
            n_frame = sum(1 for t in alive if t in FRAME_TYPES)
            alive = [t for t in alive if t not in FRAME_TYPES]
        reqs = [REQUIREMENTS[t] for t in alive]
        prep = (alive, n_frame, reqs, sorted({r for r in reqs if r is not None}))
        if ck is not None:
            _PREP_CACHE[ck] = prep
    alive, n_frame, reqs, req_set = prep
    if drop_frame:
        skipped["no_gravity"] += n_frame
    # types this image cannot support at all (too few askable objects of distinct categories) are dropped
    # up front instead of through failed draws; each counts once as too_few_objects
    ok = {None: True}
    ncat: dict[str, int] = {}
    cats_ = S.cats
    for r in req_set:
        kind, k = r
        nc = ncat.get(kind)
        if nc is None:
            nc = ncat[kind] = len({cats_[i] for i in ctx.E[kind]})
        ok[r] = nc >= k
    keep = [t for t, r in zip(alive, reqs) if ok[r]]
    if len(keep) < len(alive):
        skipped["too_few_objects"] += len(alive) - len(keep)
    alive = keep
    made: dict = {}
    misses: dict = {}
    cap_type = cfg.max_per_type_per_image
    cap = cfg.max_per_image
    attempts = cfg.attempts_per_question
    ids = S.ids
    # cumulative weights of the alive types (left-to-right float sums, as a fresh rebuild would give)
    weights = [float(mix[x]) for x in alive]
    cum = list(accumulate(weights))
    total = cum[-1] if cum else 0.0
    calls = [_CALLS[x] for x in alive]
    random_ = rng.random
    append = rows.append
    n_rows = 0
    while alive and n_rows < cap:
        j = bisect_right(cum, random_() * total)
        n_alive = len(alive)
        if j >= n_alive:
            j = n_alive - 1
        t = alive[j]
        fn, params = calls[j]
        res = fn(ctx, t, *params) if params else fn(ctx, t)
        if res is None:
            m = misses[t] = misses.get(t, 0) + 1
            if m >= attempts:
                alive.pop(j)
                weights.pop(j)
                calls.pop(j)
                cum = list(accumulate(weights))
                total = cum[-1] if cum else 0.0
            continue
        misses[t] = 0
        m = made[t] = made.get(t, 0) + 1
        if m >= cap_type:
            alive.pop(j)
            weights.pop(j)
            calls.pop(j)
            cum = list(accumulate(weights))
            total = cum[-1] if cum else 0.0
        q, a, form, value, unit, choices, r, objs = res
        append({
            "id": f"{image_id}-{n_rows:04d}", "image_id": image_id, "question_type": t, "question": q,
            "answer": a, "answer_form": form, "answer_value": value,
            "answer_unit": unit, "choices": choices, "reasoning": r,
            "object_ids": list(map(ids.__getitem__, objs)),
            "messages": [
                {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": q}]},
                {"role": "assistant", "content": [{"type": "text", "text": f"<think>{r}</think>{a}"}]},
            ],
        })
        n_rows += 1
    stats["generated"] = dict(made)
    stats["skipped"] = dict(skipped)
    return rows, stats
