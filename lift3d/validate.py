"""``lift3d validate OUT``: independent re-derivation of every QA answer, balance and accounting checks.

Re-derivation works from the stored boxes only (``OUT/objects``: center_cam, dimensions, R_cam, yaw and
the image's gravity), with the definitions of schemas/question_types.md written out again here: it does
not call the generator's code path (lift3d.qa.generate / lift3d.qa.scene).  Referring expressions in the
questions ("the chair", "the leftmost chair", "the chair closest to the camera") are resolved back to
objects and must single out exactly the object the row claims.

Tolerances: a qualitative relation must hold on the exact boxes (strictly); a length must be within
2.5 cm of the exact value (the generator computes from centres printed to 1 cm); a clock hour, count or
chosen option must match exactly; box answers must match the stored boxes to the printed precision.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from lift3d.geometry.boxes import gravity_frame

LENGTH_TOL = 0.025
_N3D_LINE = re.compile(r"bbox_(\d+)=(Bbox\([^)]*\))")


@dataclass
class ValidationReport:
    ok: bool = True
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    def error(self, msg: str) -> None:
        self.ok = False
        self.errors.append(msg)

    def summary(self) -> str:
        lines = [f"validate: {'OK' if self.ok else 'FAILED'} ({len(self.errors)} errors, {len(self.warnings)} warnings)"]
        for k, v in self.counts.items():
            lines.append(f"  {k}: {v}")
        for e in self.errors[:30]:
            lines.append(f"  ERROR {e}")
        if len(self.errors) > 30:
            lines.append(f"  ... {len(self.errors) - 30} more errors")
        for w in self.warnings[:10]:
            lines.append(f"  warning {w}")
        return "\n".join(lines)


class Mismatch(Exception):
    pass


# ------------------------------------------------------------------------------------ scene view

class ImageView:
    """Exact (unrounded) geometry of one image's stored objects."""

    def __init__(self, image: dict):
        self.image = image
        objs = []
        for o in image.get("objects") or []:
            try:
                c = np.asarray(o["center_cam"], dtype=float).reshape(3)
                d = np.asarray(o["dimensions"], dtype=float).reshape(3)
            except (KeyError, TypeError, ValueError):
                continue
            if np.all(np.isfinite(c)) and np.all(np.isfinite(d)) and np.all(d > 0) and c[2] > 0:
                objs.append(o)
        self.objs = objs
        self.by_id = {int(o["annotation_id"]): k for k, o in enumerate(objs)}
        g = image.get("gravity")
        G = gravity_frame(None if g is None else np.asarray(g, dtype=float))
        C = np.asarray([o["center_cam"] for o in objs], dtype=float).reshape(-1, 3)
        self.C = C
        self.P = C @ G  # x right, y down, z forward (ground plane = x, z)
        self.D = np.asarray([o["dimensions"] for o in objs], dtype=float).reshape(-1, 3)
        self.cats = [str(o["category"]) for o in objs]
        self.cat_text = [c.replace("_", " ").strip().lower() for c in self.cats]
        self.n_all_by_cat = Counter(str(o.get("category")) for o in image.get("objects") or [])
        self.incomplete = set(image.get("rejected_categories") or [])

    def idx(self, aid) -> int:
        k = self.by_id.get(int(aid))
        if k is None:
            raise Mismatch(f"object id {aid} is not a valid object of image {self.image.get('image_id')}")
        return k

    # quantities ---------------------------------------------------------------------------------
    def q(self, name: str, k: int) -> float:
        if name == "x":
            return float(self.P[k, 0])
        if name == "y":
            return float(self.P[k, 1])
        if name == "z":
            return float(self.P[k, 2])
        if name == "cam":
            return float(np.linalg.norm(self.C[k]))
        if name == "w":  # width = smaller horizontal extent, length = larger (schemas/question_types.md)
            return float(min(self.D[k, 0], self.D[k, 2]))
        if name == "h":
            return float(self.D[k, 1])
        if name == "l":
            return float(max(self.D[k, 0], self.D[k, 2]))
        if name == "vol":
            return float(np.prod(self.D[k]))
        raise KeyError(name)

    def dist(self, a: int, b: int) -> float:
        return float(np.linalg.norm(self.P[a] - self.P[b]))

    # referring expressions --------------------------------------------------------------------
    def group(self, cat_text: str) -> list[int]:
        return [k for k, c in enumerate(self.cat_text) if c == cat_text]

    def resolve(self, name: str) -> int:
        """Object index a referring expression denotes; Mismatch when it is not unambiguous."""
        s = name.strip()
        for pat, key, sign in ((r"^the leftmost (.+)$", "x", 1), (r"^the rightmost (.+)$", "x", -1),
                               (r"^the (.+) closest to the camera$", "cam", 1),
                               (r"^the (.+) farthest from the camera$", "cam", -1)):
            m = re.match(pat, s, flags=re.IGNORECASE)
            if m:
                grp = self.group(m.group(1).lower())
                if len(grp) < 2:
                    continue
                self._complete(grp)
                vals = sorted(((sign * self.q(key, k), k) for k in grp))
                if vals[1][0] - vals[0][0] <= 0:
                    raise Mismatch(f"descriptor {name!r} does not single out one object")
                return vals[0][1]
        m = re.match(r"^the (.+)$", s, flags=re.IGNORECASE)
        if m:
            grp = self.group(m.group(1).lower())
            if len(grp) == 1:
                self._complete(grp)
                return grp[0]
            raise Mismatch(f"{name!r} refers to {len(grp)} objects")
        raise Mismatch(f"cannot parse referring expression {name!r}")

    def _complete(self, grp: list[int]) -> None:
        cat = self.cats[grp[0]]
        if cat in self.incomplete or self.n_all_by_cat[cat] != len(grp):
            raise Mismatch(f"category {cat!r} has instances without a valid box: referent not checkable")

    def names_for(self, k: int) -> list[str]:
        c = self.cat_text[k]
        grp = self.group(c)
        if len(grp) == 1:
            return [f"the {c}"]
        out = []
        for nm in (f"the leftmost {c}", f"the rightmost {c}", f"the {c} closest to the camera",
                   f"the {c} farthest from the camera"):
            try:
                if self.resolve(nm) == k:
                    out.append(nm)
            except Mismatch:
                pass
        return out

    def check_mentioned(self, row: dict, ks: list[int]) -> None:
        text = row["question"].lower()
        for k in ks:
            names = self.names_for(k)
            if not any(nm.lower() in text for nm in names):
                raise Mismatch(f"object {self.objs[k]['annotation_id']} is not unambiguously named in the question")


# ------------------------------------------------------------------------------------ derivations
# question_type -> (form, unit, derivation)

REL = {  # relation "A <pos> B": quantity and whether smaller means the positive pole
    "left": ("x", True), "right": ("x", False), "above": ("y", True), "below": ("y", False),
    "front": ("z", True), "behind": ("z", False), "wider": ("w", False), "thinner": ("w", True),
    "taller": ("h", False), "shorter": ("h", True), "bigger": ("vol", False), "smaller": ("vol", True),
    "closer_camera": ("cam", True), "farther_camera": ("cam", False),
    "left_opposite": ("x", False), "front_opposite": ("z", False),
}


def _holds(V: ImageView, rel: str, a: int, b: int) -> bool:
    q, smaller = REL[rel]
    va, vb = V.q(q, a), V.q(q, b)
    if va == vb:
        raise Mismatch("tie")
    return (va < vb) if smaller else (va > vb)


def _yn(rel):
    def f(V, row, ks):
        if len(ks) != 2:
            raise Mismatch("needs 2 objects")
        V.check_mentioned(row, ks)
        return "yes" if _holds(V, rel, ks[0], ks[1]) else "no"
    return f


def _choice(rel):
    def f(V, row, ks):
        ch = row["choices"]
        if len(ks) != 2 or len(ch) != 2:
            raise Mismatch("needs 2 objects and 2 choices")
        for nm, k in zip(ch, ks):
            if V.resolve(nm) != k:
                raise Mismatch(f"choice {nm!r} does not denote object {V.objs[k]['annotation_id']}")
        return ch[0] if _holds(V, rel, ks[0], ks[1]) else ch[1]
    return f


def _anchor_yn(V, row, ks):
    if len(ks) != 3:
        raise Mismatch("needs anchor + 2 objects")
    V.check_mentioned(row, ks)
    c, a, b = ks
    da, db = V.dist(c, a), V.dist(c, b)
    if da == db:
        raise Mismatch("tie")
    return "yes" if da < db else "no"


def _anchor_choice(closer: bool, n: int):
    def f(V, row, ks):
        ch = row["choices"]
        if len(ks) != n + 1 or len(ch) != n:
            raise Mismatch(f"needs anchor + {n} objects and {n} choices")
        V.check_mentioned(row, ks[:1])
        for nm, k in zip(ch, ks[1:]):
            if V.resolve(nm) != k:
                raise Mismatch(f"choice {nm!r} does not denote object {V.objs[k]['annotation_id']}")
        d = [V.dist(ks[0], k) for k in ks[1:]]
        srt = sorted(range(n), key=lambda t: d[t] if closer else -d[t])
        if d[srt[0]] == d[srt[1]]:
            raise Mismatch("tie")
        return ch[srt[0]]
    return f


def _metric1(q):
    def f(V, row, ks):
        if len(ks) != 1:
            raise Mismatch("needs 1 object")
        V.check_mentioned(row, ks)
        return V.q(q, ks[0])
    return f


def _metric2(kind):
    def f(V, row, ks):
        if len(ks) != 2:
            raise Mismatch("needs 2 objects")
        V.check_mentioned(row, ks)
        d = V.P[ks[1]] - V.P[ks[0]]
        if kind == "3d":
            return float(np.linalg.norm(d))
        if kind == "horizontal":
            return float(math.hypot(d[0], d[2]))
        return float(abs(d[1]))
    return f


def _clock(opposite: bool):
    def f(V, row, ks):
        if len(ks) != 2:
            raise Mismatch("needs 2 objects")
        V.check_mentioned(row, ks)
        d = V.P[ks[1]] - V.P[ks[0]]
        right, ahead = float(d[0]), float(d[2])
        if opposite:
            right, ahead = -right, -ahead
        ang = math.degrees(math.atan2(right, ahead)) % 360.0
        hour = int(math.floor(ang / 30.0 + 0.5)) % 12
        return str(hour or 12)
    return f


def _order(q, descending):
    def f(V, row, ks):
        if len(ks) != 3:
            raise Mismatch("needs 3 objects")
        V.check_mentioned(row, ks)
        vals = [V.q(q, k) for k in ks]
        if len(set(vals)) < 3:
            raise Mismatch("tie")
        order = sorted(range(3), key=lambda t: -vals[t] if descending else vals[t])
        names = json.loads(row["answer_value"])
        if not isinstance(names, list) or len(names) != 3:
            raise Mismatch("answer_value is not a list of 3 names")
        resolved = [V.resolve(nm) for nm in names]
        if sorted(resolved) != sorted(ks):
            raise Mismatch("ordered names are not the question's objects")
        return json.dumps([names[resolved.index(ks[t])] for t in order])
    return f


def _names_category(question: str, cat: str) -> bool:
    from lift3d.qa.text import plural  # wording only; the answer itself is derived here

    q = question.lower()
    return cat in q or plural(cat) in q


def _count(V, row, ks):
    if not ks:
        raise Mismatch("count needs its instances")
    cat = V.cats[ks[0]]
    if cat in V.incomplete or V.n_all_by_cat[cat] != len(V.group(V.cat_text[ks[0]])):
        raise Mismatch(f"category {cat!r} is incomplete: count not checkable")
    members = sorted(V.group(V.cat_text[ks[0]]))
    if sorted(ks) != members:
        raise Mismatch("object_ids are not all instances of the category")
    if not _names_category(row["question"], V.cat_text[ks[0]]):
        raise Mismatch("the question does not name the counted category")
    return str(len(members))


def _boxes(kind):
    def f(V, row, ks):
        if kind == "det_all":
            if V.incomplete or len(V.objs) != len(V.image.get("objects") or []):
                raise Mismatch("detection question on an image with objects lacking valid boxes")
            if sorted(ks) != list(range(len(V.objs))):
                raise Mismatch("detection answer does not list every object")
        elif kind == "ground_multi":
            grp = V.group(V.cat_text[ks[0]])
            V._complete(grp)
            if len(grp) < 2 or sorted(ks) != sorted(grp):
                raise Mismatch("locate-all answer does not list every instance")
            if not _names_category(row["question"], V.cat_text[ks[0]]):
                raise Mismatch("question does not name the category")
        elif kind == "ground_single":
            if len(ks) != 1 or len(V.group(V.cat_text[ks[0]])) != 1:
                raise Mismatch("single grounding needs a category with one instance")
            V._complete([ks[0]])
            V.check_mentioned(row, ks)
        else:
            if len(ks) != 1 or len(V.group(V.cat_text[ks[0]])) < 2:
                raise Mismatch("referring grounding needs a repeated category")
            V.check_mentioned(row, ks)
        return [V.objs[k] for k in ks]
    return f


def _expression(V, row, ks):
    """ground_expression: the one object a person's sentence refers to (RefCOCO family); any category state."""
    if len(ks) != 1:
        raise Mismatch("an expression grounds exactly one object")
    return [V.objs[ks[0]]]


def _t(form, unit, fn):
    return (form, unit, fn)


DERIVE = {
    "det_all": _t("boxes", None, _boxes("det_all")),
    "ground_single": _t("boxes", None, _boxes("ground_single")),
    "ground_multi": _t("boxes", None, _boxes("ground_multi")),
    "ground_referring": _t("boxes", None, _boxes("ground_referring")),
    "ground_expression": _t("boxes", None, _expression),
    "2p_left_yn": _t("yes_no", None, _yn("left")),
    "2p_above_yn": _t("yes_no", None, _yn("above")),
    "2p_front_yn": _t("yes_no", None, _yn("front")),
    "2p_wider_yn": _t("yes_no", None, _yn("wider")),
    "2p_taller_yn": _t("yes_no", None, _yn("taller")),
    "2p_bigger_yn": _t("yes_no", None, _yn("bigger")),
    "2p_closer_camera_yn": _t("yes_no", None, _yn("closer_camera")),
    "2p_anchor_closer_yn": _t("yes_no", None, _anchor_yn),
    "2p_left_opposite_yn": _t("yes_no", None, _yn("left_opposite")),
    "2p_front_opposite_yn": _t("yes_no", None, _yn("front_opposite")),
    "2p_anchor_closer_choice": _t("choice", None, _anchor_choice(True, 2)),
    "2p_anchor_farther_choice": _t("choice", None, _anchor_choice(False, 2)),
    "3p_closest_anchor": _t("choice", None, _anchor_choice(True, 3)),
    "3p_farthest_anchor": _t("choice", None, _anchor_choice(False, 3)),
    "2p_distance": _t("numeric", "m", _metric2("3d")),
    "2p_horizontal_distance": _t("numeric", "m", _metric2("horizontal")),
    "2p_vertical_distance": _t("numeric", "m", _metric2("vertical")),
    "1p_width": _t("numeric", "m", _metric1("w")),
    "1p_height": _t("numeric", "m", _metric1("h")),
    "1p_length": _t("numeric", "m", _metric1("l")),
    "1p_distance_camera": _t("numeric", "m", _metric1("cam")),
    "2p_clock": _t("numeric", "o'clock", _clock(False)),
    "2p_clock_opposite": _t("numeric", "o'clock", _clock(True)),
    "3p_order_distance_camera": _t("open", None, _order("cam", False)),
    "3p_order_height": _t("open", None, _order("h", True)),
    "3p_order_size": _t("open", None, _order("vol", True)),
    "count": _t("numeric", "count", _count),
}
for _rel in ("left", "right", "above", "below", "front", "behind", "wider", "thinner", "taller", "shorter",
             "bigger", "smaller", "closer_camera", "farther_camera"):
    DERIVE[f"2p_{_rel}_choice"] = _t("choice", None, _choice(_rel))


def derive(row: dict, image: dict, view: ImageView | None = None):
    """The answer the stored boxes imply for this row: a str (yes/no, option, hour, count, JSON order),
    a float (metres) or a list of object dicts (boxes).  Raises Mismatch when the row is malformed."""
    if row["question_type"] not in DERIVE:
        raise Mismatch(f"unknown question_type {row['question_type']!r}")
    V = view or ImageView(image)
    form, unit, fn = DERIVE[row["question_type"]]
    ks = [V.idx(a) for a in row["object_ids"]]
    return fn(V, row, ks)


_LEN_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(cm|m)\b")


def _parse_length(text: str) -> float | None:
    m = None
    for m in _LEN_RE.finditer(text):
        pass
    if m is None:
        return None
    v = float(m.group(1))
    return v / 100.0 if m.group(2) == "cm" else v


def check_row(row: dict, image: dict, view: ImageView | None = None) -> None:
    """Raise Mismatch unless the row is well-formed and its answer is what the boxes imply."""
    qt = row.get("question_type")
    if qt not in DERIVE:
        raise Mismatch(f"unknown question_type {qt!r}")
    form, unit, _ = DERIVE[qt]
    if row["answer_form"] != form:
        raise Mismatch(f"answer_form {row['answer_form']!r}, expected {form!r}")
    if row.get("answer_unit") != unit:
        raise Mismatch(f"answer_unit {row.get('answer_unit')!r}, expected {unit!r}")
    if (form == "choice") != bool(row.get("choices")):
        raise Mismatch("choices must be present exactly for choice questions")
    msgs = row.get("messages") or []
    if (len(msgs) != 2 or msgs[0]["role"] != "user" or msgs[1]["role"] != "assistant"
            or [c["type"] for c in msgs[0]["content"]] != ["image", "text"]
            or msgs[0]["content"][1]["text"] != row["question"]
            or msgs[1]["content"][0]["text"] != f"<think>{row['reasoning']}</think>{row['answer']}"):
        raise Mismatch("messages do not match question / reasoning / answer")
    exp = derive(row, image, view)
    val = row["answer_value"]
    if form == "yes_no":
        if val != exp:
            raise Mismatch(f"answer_value {val!r}, boxes say {exp!r}")
        if not row["answer"].lower().startswith(exp):
            raise Mismatch("answer text disagrees with answer_value")
    elif form == "choice":
        if val != exp or val not in row["choices"]:
            raise Mismatch(f"answer_value {val!r}, boxes say {exp!r}")
        if not row["answer"].lower().startswith(val.lower()):
            raise Mismatch("answer text does not state the chosen option")
    elif form == "open":
        if val != exp:
            raise Mismatch(f"order {val!r}, boxes say {exp!r}")
    elif form == "numeric" and unit == "m":
        v = float(val)
        if abs(v - exp) > LENGTH_TOL:
            raise Mismatch(f"answer_value {v} m, boxes say {exp:.4f} m")
        t = _parse_length(row["answer"])
        if t is None or abs(t - v) > 1e-9:
            raise Mismatch(f"answer text {row['answer']!r} disagrees with answer_value {val}")
    elif form == "numeric":
        if val != exp:
            raise Mismatch(f"answer_value {val!r}, boxes say {exp!r}")
        if not re.search(rf"\b{re.escape(val)}\b", row["answer"]):
            raise Mismatch("answer text disagrees with answer_value")
    elif form == "boxes":
        recs = json.loads(val)
        if len(recs) != len(exp):
            raise Mismatch("number of boxes differs")
        down = image.get("gravity")
        for r, o in zip(recs, exp):
            if r["category"] != str(o["category"]):
                raise Mismatch("box category differs")
            if (np.max(np.abs(np.subtract(r["center_cam"], o["center_cam"]))) > 6e-4
                    or np.max(np.abs(np.subtract(r["dimensions"], o["dimensions"]))) > 6e-4):
                raise Mismatch("box answer differs from the stored box")
            yaw = o.get("yaw")
            if yaw is None:
                from lift3d.geometry.boxes import yaw_from_rotation
                yaw = yaw_from_rotation(np.asarray(o["R_cam"], float).reshape(3, 3),
                                        None if down is None else np.asarray(down, float))
            dy = (r["yaw"] - float(yaw) + math.pi) % (2 * math.pi) - math.pi
            if abs(dy) > 6e-4:
                raise Mismatch("box yaw differs from the stored box")
        # a box the reasoning already numbered (bbox_k=Bbox(...)) must carry the same index in the answer
        named = {core: k for k, core in _N3D_LINE.findall(row.get("reasoning") or "")}
        for k, core in _N3D_LINE.findall(row["answer"]):
            if core in named and named[core] != k:
                raise Mismatch(f"answer names bbox_{k} the box its reasoning called bbox_{named[core]}")
        from lift3d.qa.serialize import parse_boxes

        parsed = parse_boxes(row["answer"], None, image.get("K"), image.get("width"), image.get("height"))
        if len(parsed) != len(recs):
            raise Mismatch("answer text does not parse to the answer boxes")
        for p, r in zip(parsed, recs):
            x, y, z = (abs(t) for t in r["center_cam"])
            # n3d prints (u, v) to 1e-3 and z to 1 cm: back-projection error grows with z and with x/z, y/z
            tol = 0.006 + 0.002 * z + 0.006 * max(x, y) / max(z, 1e-3)
            if (p["category"] != r["category"]
                    or np.max(np.abs(np.subtract(p["center_cam"], r["center_cam"]))) > tol
                    or np.max(np.abs(np.subtract(p["dimensions"], r["dimensions"]))) > 0.006):
                raise Mismatch("answer text box differs from answer_value")


# ------------------------------------------------------------------------------------ corpus checks

def check_balance(rows: list[dict], report: ValidationReport, min_n: int = 20) -> None:
    yn = Counter(r["answer_value"] for r in rows if r["answer_form"] == "yes_no")
    n = yn["yes"] + yn["no"]
    report.counts["yes_no"] = dict(yn)
    if n >= min_n:
        tol = max(0.05, 3.0 * 0.5 / math.sqrt(n))
        if abs(yn["yes"] / n - 0.5) > tol:
            report.error(f"yes/no balance {yn['yes']}/{n} outside 0.5 +/- {tol:.3f}")
    elif n:
        report.warnings.append(f"only {n} yes/no questions: balance not checked")
    pos: dict[int, Counter] = defaultdict(Counter)
    for r in rows:
        if r["answer_form"] == "choice" and r["answer_value"] in r["choices"]:
            pos[len(r["choices"])][r["choices"].index(r["answer_value"])] += 1
    report.counts["choice_positions"] = {k: dict(sorted(v.items())) for k, v in sorted(pos.items())}
    for k, c in pos.items():
        m = sum(c.values())
        if m < min_n:
            continue
        p = 1.0 / k
        tol = 4.0 * math.sqrt(m * p * (1 - p)) + 1
        for j in range(k):
            if abs(c[j] - m * p) > tol:
                report.error(f"{k}-option questions: correct option at position {j} {c[j]} times of {m} "
                             f"(expected {m * p:.1f} +/- {tol:.1f})")


def check_rows(rows: list[dict], images: dict, report: ValidationReport | None = None,
               max_errors: int = 200) -> ValidationReport:
    report = report or ValidationReport()
    ids = Counter(r["id"] for r in rows)
    dup = [k for k, v in ids.items() if v > 1]
    if dup:
        report.error(f"{len(dup)} duplicate question ids, e.g. {dup[:3]}")
    views: dict = {}
    bad = Counter()
    per_type = Counter()
    for r in rows:
        per_type[r["question_type"]] += 1
        img = images.get(r["image_id"])
        if img is None:
            report.error(f"{r['id']}: image {r['image_id']} not in objects")
            continue
        if r["image_id"] not in views:
            views[r["image_id"]] = ImageView(img)
        try:
            check_row(r, img, views[r["image_id"]])
        except (Mismatch, KeyError, ValueError, TypeError) as exc:
            bad[r["question_type"]] += 1
            if len(report.errors) < max_errors:
                report.error(f"{r['id']} [{r['question_type']}]: {exc}")
            else:
                report.ok = False
    report.counts["questions"] = len(rows)
    report.counts["question_types"] = len(per_type)
    if bad:
        report.counts["mismatches_by_type"] = dict(bad)
    check_balance(rows, report)
    return report


def _read_dir(path: str) -> list[dict]:
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
    rows: list[dict] = []
    for f in files:
        # embedded images (--embed-images) are not needed to re-derive answers: never load them
        cols = [n for n in pq.read_schema(f).names if n not in PIXEL_COLUMNS]
        rows.extend(pq.read_table(f, columns=cols).to_pylist())
    return rows


PIXEL_COLUMNS = ("image", "images", "depth")


def _input_counts(info: dict) -> dict:
    """Input counts of every split in the folder (the rows read are every split's), else the top-level ones."""
    splits = [s.get("counts") or {} for s in ((info or {}).get("splits") or {}).values()]
    if splits and all(c.get("input_images") is not None and c.get("input_annotations") is not None for c in splits):
        return {k: sum(int(c[k]) for c in splits) for k in ("input_images", "input_annotations")}
    return (info or {}).get("counts") or {}


def check_accounting(images: list[dict], rejects: list[dict], info: dict, report: ValidationReport) -> None:
    counts = _input_counts(info)
    n_img, n_ann = counts.get("input_images"), counts.get("input_annotations")
    image_ids = {int(i["image_id"]) for i in images}
    img_rej = {int(r["image_id"]) for r in rejects if r.get("annotation_id") is None and r.get("image_id") is not None}
    ann_rej = [int(r["annotation_id"]) for r in rejects if r.get("annotation_id") is not None]
    obj_ids = [int(o["annotation_id"]) for i in images for o in (i.get("objects") or [])]
    report.counts["images"] = len(image_ids)
    report.counts["objects"] = len(obj_ids)
    report.counts["rejects"] = len(rejects)
    if len(set(obj_ids)) != len(obj_ids):
        report.error("an annotation id appears in more than one object")
    if len(set(ann_rej)) != len(ann_rej):
        report.error("an annotation id has more than one reject row")
    both = set(obj_ids) & set(ann_rej)
    if both:
        report.error(f"{len(both)} annotation ids are both objects and rejects, e.g. {sorted(both)[:3]}")
    if image_ids & img_rej:
        report.error(f"{len(image_ids & img_rej)} images are both written and rejected")
    if n_img is None or n_ann is None:
        report.error("build_info.json lacks counts.input_images / counts.input_annotations")
        return
    if len(image_ids | img_rej) != n_img:
        report.error(f"images: {len(image_ids)} written + {len(img_rej - image_ids)} rejected != {n_img} input")
    if len(obj_ids) + len(ann_rej) != n_ann:
        report.error(f"annotations: {len(obj_ids)} objects + {len(ann_rej)} rejects != {n_ann} input")


def validate(out_dir: str, max_errors: int = 200) -> ValidationReport:
    """Validate a build output folder (objects, qa, rejects, build_info.json)."""
    report = ValidationReport()
    images = _read_dir(os.path.join(out_dir, "objects"))
    qa = _read_dir(os.path.join(out_dir, "qa"))
    rejects = _read_dir(os.path.join(out_dir, "rejects"))
    info_path = os.path.join(out_dir, "build_info.json")
    info = {}
    if os.path.exists(info_path):
        with open(info_path) as fh:
            info = json.load(fh)
    else:
        report.error("build_info.json missing")
    by_id = {int(i["image_id"]): i for i in images}
    if len(by_id) != len(images):
        report.error("duplicate image ids in objects")
    check_accounting(images, rejects, info, report)
    check_rows(qa, by_id, report, max_errors=max_errors)
    return report
