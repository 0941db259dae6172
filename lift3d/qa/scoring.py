"""Scoring of model outputs against QA rows.

* numeric lengths: correct within +/-25 % of the reference (the SpatialRGPT-Bench / N3D-Bench rule);
  counts and clock hours: exact integer match;
* yes/no and multiple choice: exact match (after normalisation);
* open ordering answers: the named objects appear in the reference order;
* boxes: greedy same-category matching by exact oriented 3D IoU (``lift3d.geometry.iou``), reported as
  precision / recall / F1 at an IoU threshold and the mean IoU of matched pairs.
"""

from __future__ import annotations

import json
import re

import numpy as np

from lift3d.geometry.boxes import rotation_from_yaw
from lift3d.qa.serialize import parse_boxes

_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)
_UNITS = {"mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001, "millimetres": 0.001,
          "cm": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01, "centimetres": 0.01,
          "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
          "km": 1000.0, "in": 0.0254, "inch": 0.0254, "inches": 0.0254, "ft": 0.3048, "foot": 0.3048,
          "feet": 0.3048}
_NUM_UNIT_RE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")?\b",
                          re.IGNORECASE)


def strip_think(text: str) -> str:
    """The answer part of a model output (everything outside <think>...</think>)."""
    out = _THINK_RE.sub("", text or "")
    if "</think>" in out:  # an unmatched closing tag: keep what follows it
        out = out.split("</think>")[-1]
    return out.strip()


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", s.lower())).strip()


def parse_length(text: str) -> float | None:
    """First number in the text, converted to metres by its unit (metres when no unit is given)."""
    for m in _NUM_UNIT_RE.finditer(strip_think(text)):
        unit = (m.group(2) or "m").lower()
        return float(m.group(1)) * _UNITS[unit]
    return None


def parse_int(text: str) -> int | None:
    m = re.search(r"-?\d+", strip_think(text))
    return int(m.group(0)) if m else None


def score_numeric(prediction: str, answer_value: str, unit: str | None, rel_tol: float = 0.25) -> bool:
    ref = float(answer_value)
    if unit in ("count", "o'clock"):
        v = parse_int(prediction)
        return v is not None and v == int(round(ref))
    v = parse_length(prediction)
    if v is None:
        return False
    return abs(v - ref) <= rel_tol * abs(ref)


def score_yes_no(prediction: str, answer_value: str) -> bool:
    words = _norm(strip_think(prediction)).split()
    return bool(words) and words[0] in ("yes", "no") and words[0] == answer_value


def pick_choice(prediction: str, choices: list[str]) -> str | None:
    """The option a prediction names: an exact match, else the one option it mentions (longest wins)."""
    p = _norm(strip_think(prediction))
    normed = {_norm(c): c for c in choices}
    if p in normed:
        return normed[p]
    hits = [c for c in normed if re.search(rf"\b{re.escape(c)}\b", p)]
    # drop options that are contained in a longer option that is also present
    hits = [c for c in hits if not any(c != d and c in d for d in hits)]
    return normed[hits[0]] if len(hits) == 1 else None


def score_choice(prediction: str, answer_value: str, choices: list[str]) -> bool:
    return pick_choice(prediction, choices) == answer_value


def score_order(prediction: str, answer_value: str) -> bool:
    names = json.loads(answer_value)
    p = _norm(strip_think(prediction))
    pos = []
    for n in names:
        m = re.search(rf"\b{re.escape(_norm(n))}\b", p)
        if m is None:
            return False
        pos.append(m.start())
    return pos == sorted(pos) and len(set(pos)) == len(pos)


def _to_box(rec: dict, down):
    return (np.asarray(rec["center_cam"], float), np.asarray(rec["dimensions"], float),
            rotation_from_yaw(float(rec["yaw"]), None if down is None else np.asarray(down, float)))


def match_boxes(pred: list[dict], ref: list[dict], down=None, iou_threshold: float = 0.25) -> dict:
    """Greedy one-to-one matching of same-category boxes by 3D IoU."""
    try:
        from lift3d.geometry.iou import iou_3d
    except ImportError as exc:  # pragma: no cover - the geometry module is part of the project
        raise RuntimeError("box scoring needs lift3d.geometry.iou") from exc
    pairs = []
    for i, p in enumerate(pred):
        if min(p["dimensions"]) <= 0:
            continue
        for j, r in enumerate(ref):
            if _norm(p["category"]) == _norm(r["category"]):
                v = iou_3d(_to_box(p, down), _to_box(r, down))
                if v > 0:
                    pairs.append((v, i, j))
    pairs.sort(reverse=True)
    used_p, used_r, ious = set(), set(), []
    for v, i, j in pairs:
        if i in used_p or j in used_r:
            continue
        used_p.add(i)
        used_r.add(j)
        ious.append(v)
    tp = sum(1 for v in ious if v >= iou_threshold)
    prec = tp / len(pred) if pred else 0.0
    rec = tp / len(ref) if ref else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {"tp": tp, "n_pred": len(pred), "n_ref": len(ref), "precision": prec, "recall": rec, "f1": f1,
            "mean_iou": float(np.mean(ious)) if ious else 0.0}


def score_boxes(prediction: str, answer_value: str, image: dict | None = None, fmt: str | None = None,
                iou_threshold: float = 0.25) -> dict:
    """Box answer score; ``image`` (K, width, height, gravity) is needed for the n3d form and for gravity."""
    image = image or {}
    text = strip_think(prediction)
    try:
        pred = parse_boxes(text, fmt, image.get("K"), image.get("width"), image.get("height"))
    except ValueError:
        pred = []
    return match_boxes(pred, json.loads(answer_value), image.get("gravity"), iou_threshold)


def score_row(row: dict, prediction: str, image: dict | None = None, iou_threshold: float = 0.25) -> dict:
    """{"correct": bool, ...} for one QA row; box rows are correct when F1 at the threshold is 1."""
    form = row["answer_form"]
    if form == "numeric":
        ok = score_numeric(prediction, row["answer_value"], row.get("answer_unit"))
        return {"correct": ok}
    if form == "yes_no":
        return {"correct": score_yes_no(prediction, row["answer_value"])}
    if form == "choice":
        return {"correct": score_choice(prediction, row["answer_value"], list(row["choices"]))}
    if form == "open":
        return {"correct": score_order(prediction, row["answer_value"])}
    if form == "boxes":
        s = score_boxes(prediction, row["answer_value"], image, None, iou_threshold)
        s["correct"] = s["f1"] == 1.0
        return s
    raise ValueError(f"unknown answer_form {form!r}")
