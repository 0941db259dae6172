"""Answers checked against the ground truth: is the corpus true to the scene, not only to its own boxes?

``lift3d validate`` re-derives every answer from the *stored* (lifted) boxes. Here the same independent
derivations (:func:`lift3d.validate.derive`) run on the *ground-truth* boxes of a synthetic dataset
(``gt_boxes.json``): each object's box is replaced by its true box (matched by annotation id) and the image's
gravity by the true one, then each stored answer is compared with what the truth implies:

* yes/no, choice, order, count and clock answers: exactly equal;
* metric answers (metres): within ``NUMERIC_REL_TOL`` (25 %) of the true value, with an absolute floor of
  ``NUMERIC_ABS_FLOOR`` (2.5 cm, the printing tolerance of ``lift3d validate``) for values near zero;
* box answers (detection, grounding): every answered box at 3D IoU >= ``BOX_IOU_MIN`` (0.25) with its object's
  true box (the answered centre and size with the lifted box's rotation).

A referring expression that no longer singles out the row's object under the truth (e.g. "the leftmost chair"
is truly another chair) makes the answer false (reason ``referent``). Pure python/numpy, no pipeline imports.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from lift3d.geometry.iou import iou_3d
from lift3d.validate import DERIVE, ImageView, Mismatch, derive

NUMERIC_REL_TOL = 0.25
NUMERIC_ABS_FLOOR = 0.025
BOX_IOU_MIN = 0.25


def gt_by_image(gt: dict) -> dict[int, dict]:
    """``gt_boxes.json`` content -> {image_id: gt image}."""
    return {int(im["image_id"]): im for im in gt.get("images", [])}


def truth_image(image: dict, gt_image: dict) -> dict:
    """The built image (an ``objects`` row) with every object's box replaced by its true box and the true
    gravity. Raises KeyError when an object's annotation id has no ground truth."""
    gt_objs = {int(o["annotation_id"]): o for o in gt_image.get("objects") or [] if o.get("annotation_id") is not None}
    objs = []
    for o in image.get("objects") or []:
        g = gt_objs[int(o["annotation_id"])]
        objs.append({**o, "center_cam": list(g["center_cam"]), "dimensions": list(g["dimensions"]),
                     "R_cam": list(g["R_cam"]), "yaw": g.get("yaw")})
    return {**image, "objects": objs, "gravity": list(gt_image["gravity"])}


@dataclass
class Verdict:
    true: bool
    reason: str = ""  # why false: referent | value | box | malformed
    error: float | None = None  # numeric: relative error; boxes: the smallest IoU


def _box_iou(rec: dict, lifted: dict | None, gt: dict) -> float:
    R = np.asarray((lifted or gt)["R_cam"], dtype=float).reshape(3, 3)
    pred = (np.asarray(rec["center_cam"], float), np.asarray(rec["dimensions"], float), R)
    true = (np.asarray(gt["center_cam"], float), np.asarray(gt["dimensions"], float),
            np.asarray(gt["R_cam"], float).reshape(3, 3))
    return float(iou_3d(pred, true))


def check_truth(row: dict, built: dict, truth: dict, view: ImageView | None = None) -> Verdict:
    """Is the stored answer of ``row`` true of the ground truth (``truth`` = :func:`truth_image` of ``built``)?"""
    qt = row.get("question_type")
    if qt not in DERIVE:
        return Verdict(False, "malformed")
    form, unit, _ = DERIVE[qt]
    try:
        exp = derive(row, truth, view)
    except Mismatch:
        return Verdict(False, "referent")
    val = row["answer_value"]
    if form == "numeric" and unit == "m":
        v, e = float(val), float(exp)
        ok = abs(v - e) <= max(NUMERIC_REL_TOL * abs(e), NUMERIC_ABS_FLOOR)
        return Verdict(ok, "" if ok else "value", abs(v - e) / max(abs(e), 1e-9))
    if form == "boxes":
        recs = json.loads(val)
        if len(recs) != len(exp):
            return Verdict(False, "malformed")
        lifted = {int(o["annotation_id"]): o for o in built.get("objects") or []}
        ious = [_box_iou(r, lifted.get(int(g["annotation_id"])), g) for r, g in zip(recs, exp)]
        m = min(ious) if ious else 0.0
        ok = bool(ious) and m >= BOX_IOU_MIN
        return Verdict(ok, "" if ok else "box", m)
    ok = val == exp
    return Verdict(ok, "" if ok else "value")


@dataclass
class TruthReport:
    n: int = 0
    n_true: int = 0
    by_form: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # form -> [true, total]
    by_type: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    reasons: Counter = field(default_factory=Counter)
    box_ious: list = field(default_factory=list)
    missing_gt: int = 0  # rows whose image or objects have no ground truth (not counted in n)

    @property
    def share_true(self) -> float:
        return self.n_true / self.n if self.n else float("nan")

    def shares(self, by: str = "form") -> dict[str, tuple[float, int]]:
        d = self.by_form if by == "form" else self.by_type
        return {k: (t / n if n else float("nan"), n) for k, (t, n) in sorted(d.items())}

    def as_dict(self) -> dict:
        return {"questions": self.n, "true": self.n_true, "share_true": self.share_true,
                "by_form": self.shares("form"), "by_type": self.shares("type"), "false_reasons": dict(self.reasons),
                "box_answer_mean_iou": float(np.mean(self.box_ious)) if self.box_ious else float("nan"),
                "missing_gt": self.missing_gt}


def _form(row: dict) -> str:
    qt = row.get("question_type")
    if qt in DERIVE:
        form, unit, _ = DERIVE[qt]
        if form == "numeric" and unit == "m":
            return "numeric_m"
        return "numeric_exact" if form == "numeric" else form
    return "unknown"


def truth_report(rows: list[dict], images: dict[int, dict], gt: dict[int, dict],
                 report: TruthReport | None = None) -> TruthReport:
    """Check every QA row against the ground truth. ``images``: {image_id: objects row}; ``gt``:
    :func:`gt_by_image`. Answer forms: ``numeric_m`` (metres), ``numeric_exact`` (counts, clock hours),
    ``yes_no``, ``choice``, ``open`` (orders), ``boxes``."""
    rep = report or TruthReport()
    cache: dict = {}
    for r in rows:
        iid = int(r["image_id"])
        if iid not in cache:
            try:
                t = truth_image(images[iid], gt[iid])
                cache[iid] = (t, ImageView(t))
            except KeyError:
                cache[iid] = None
        if cache[iid] is None:
            rep.missing_gt += 1
            continue
        truth, view = cache[iid]
        v = check_truth(r, images[iid], truth, view)
        f = _form(r)
        rep.n += 1
        rep.n_true += v.true
        rep.by_form[f][0] += v.true
        rep.by_form[f][1] += 1
        rep.by_type[r["question_type"]][0] += v.true
        rep.by_type[r["question_type"]][1] += 1
        if not v.true:
            rep.reasons[v.reason] += 1
        if f == "boxes" and v.error is not None:
            rep.box_ious.append(v.error)
    return rep
