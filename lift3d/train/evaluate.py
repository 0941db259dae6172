"""Scores of a run's generations on a held-out split.

* Boxes (detection / grounding samples and the QA rows whose answer is boxes): the emitted text is
  parsed with ``lift3d.qa.serialize.parse_boxes``; predictions and targets are matched greedily,
  same category only, by exact 3D IoU (``lift3d.geometry.iou.iou_3d``).  Reported: mean 3D IoU per
  target (an unmatched target counts 0), F1@0.25, AP3D (Omni3D: mean over IoU thresholds
  0.05:0.05:0.50 of the 101-point interpolated AP; a generative model emits no scores, so boxes are
  ranked by their order in the answer, earlier = more confident) and projected 2D IoU (the image
  rectangle bounding each box's projected corners, greedy same-category matching).
* QA accuracy per question type with ``lift3d.qa.scoring.score_row`` (numeric within +/-25 %, exact for
  yes/no and choices; a box answer is correct when F1@0.25 is 1).
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from lift3d.geometry.boxes import box_corners, rotation_from_yaw
from lift3d.geometry.iou import iou_3d, rect_overlap
from lift3d.qa.scoring import score_row, strip_think
from lift3d.qa.serialize import parse_boxes

AP_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 11))


def _box(rec, down):
    return (np.asarray(rec["center_cam"], float), np.asarray(rec["dimensions"], float),
            rotation_from_yaw(float(rec["yaw"]), None if down is None else np.asarray(down, float)))


def _same(a, b) -> bool:
    return a["category"].strip().lower().replace(" ", "_") == b["category"].strip().lower().replace(" ", "_")


def _rect(rec, K, W, H, down):
    c = box_corners(*_box(rec, down))
    c = c[c[:, 2] > 1e-3]
    if len(c) == 0:
        return None
    Km = np.asarray(K, float).reshape(3, 3)
    uv = (c @ Km.T)[:, :2] / (c @ Km.T)[:, 2:3]
    x0, y0 = np.clip(uv.min(0), [0, 0], [W, H])
    x1, y1 = np.clip(uv.max(0), [0, 0], [W, H])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _iou2d(a, b) -> float:
    if a is None or b is None:
        return 0.0
    inter = rect_overlap(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _greedy(M: np.ndarray) -> list[tuple[int, int, float]]:
    pairs = sorted(((M[i, j], i, j) for i in range(M.shape[0]) for j in range(M.shape[1]) if M[i, j] > 0),
                   reverse=True)
    used_p, used_r, out = set(), set(), []
    for v, i, j in pairs:
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            out.append((i, j, float(v)))
    return out


def box_scores(pred: list[dict], ref: list[dict], K, W, H, down=None) -> dict:
    """Per-sample box scores; ``pred_ious`` (IoU of each prediction's match, in emission order) feeds AP3D."""
    pred = [p for p in pred if min(p["dimensions"]) > 0]
    M3 = np.zeros((len(pred), len(ref)))
    M2 = np.zeros((len(pred), len(ref)))
    rr = [_rect(r, K, W, H, down) for r in ref]
    for i, p in enumerate(pred):
        pr = _rect(p, K, W, H, down)
        for j, r in enumerate(ref):
            if _same(p, r):
                M3[i, j] = iou_3d(_box(p, down), _box(r, down))
                M2[i, j] = _iou2d(pr, rr[j])
    m3, m2 = _greedy(M3), _greedy(M2)
    pred_ious = [0.0] * len(pred)
    for i, _, v in m3:
        pred_ious[i] = v
    tp = sum(1 for _, _, v in m3 if v >= 0.25)
    prec = tp / len(pred) if pred else 0.0
    rec = tp / len(ref) if ref else 0.0
    return {"n_pred": len(pred), "n_ref": len(ref), "iou3d_sum": sum(v for *_, v in m3),
            "iou2d_sum": sum(v for *_, v in m2), "pred_ious": pred_ious, "tp25": tp,
            "f1_25": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def average_precision(scored: list[tuple[float, float]], n_ref: int, threshold: float) -> float:
    """101-point interpolated AP; ``scored`` = (confidence, matched IoU) for every prediction."""
    if n_ref == 0:
        return float("nan")
    if not scored:
        return 0.0
    order = sorted(scored, key=lambda t: -t[0])
    tp = np.cumsum([1.0 if iou >= threshold else 0.0 for _, iou in order])
    fp = np.cumsum([0.0 if iou >= threshold else 1.0 for _, iou in order])
    recall = tp / n_ref
    precision = tp / np.maximum(tp + fp, 1e-9)
    ap = 0.0
    for r in np.linspace(0, 1, 101):
        p = precision[recall >= r]
        ap += (p.max() if p.size else 0.0) / 101
    return float(ap)


def score_predictions(rows: list[dict], box_format: str = "n3d") -> dict:
    """Aggregate metrics of prediction rows (samples + ``prediction``)."""
    groups: dict[str, dict] = defaultdict(lambda: {"n": 0, "n_ref": 0, "n_pred": 0, "iou3d_sum": 0.0,
                                                   "iou2d_sum": 0.0, "tp25": 0, "scored": [], "parsed": 0})
    qa = defaultdict(lambda: [0, 0])
    per_sample = []
    for r in rows:
        image = {"K": r["K"], "width": r["width"], "height": r["height"], "gravity": r.get("gravity")}
        correct = bool(score_row(r, r["prediction"], image)["correct"])
        qa[r["question_type"]][0] += int(correct)
        qa[r["question_type"]][1] += 1
        ent = {"id": r["id"], "question_type": r["question_type"], "correct": correct}
        if r["answer_form"] == "boxes":
            try:
                pred = parse_boxes(strip_think(r["prediction"]), None, r["K"], r["width"], r["height"])
            except ValueError:
                pred = []
            ref = json.loads(r["answer_value"])
            s = box_scores(pred, ref, r["K"], r["width"], r["height"], r.get("gravity"))
            for key in ("box", "box:" + r["task"]):
                g = groups[key]
                g["n"] += 1
                g["parsed"] += int(bool(pred))
                for k in ("n_ref", "n_pred", "iou3d_sum", "iou2d_sum", "tp25"):
                    g[k] += s[k]
                g["scored"] += [(1.0 - i / (len(pred) + 1), v) for i, v in enumerate(s["pred_ious"])]
            ent["iou3d"] = s["iou3d_sum"] / max(1, s["n_ref"])
        per_sample.append(ent)
    boxes = {}
    for key, g in sorted(groups.items()):
        prec = g["tp25"] / g["n_pred"] if g["n_pred"] else 0.0
        rec = g["tp25"] / g["n_ref"] if g["n_ref"] else 0.0
        aps = {f"{t:.2f}": average_precision(g["scored"], g["n_ref"], t) for t in AP_THRESHOLDS}
        boxes[key.split(":", 1)[-1] if ":" in key else "all"] = {
            "samples": g["n"], "parsed_share": g["parsed"] / g["n"] if g["n"] else 0.0,
            "targets": g["n_ref"], "predictions": g["n_pred"],
            "mean_iou3d": g["iou3d_sum"] / g["n_ref"] if g["n_ref"] else 0.0,
            "mean_iou2d_projected": g["iou2d_sum"] / g["n_ref"] if g["n_ref"] else 0.0,
            "precision25": prec, "recall25": rec, "f1_25": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "ap3d": float(np.nanmean(list(aps.values()))) if g["n_ref"] else float("nan"), "ap3d_by_iou": aps,
        }
    acc = {k: {"correct": c, "total": n, "accuracy": c / n} for k, (c, n) in sorted(qa.items())}
    qa_only = [(c, n) for k, (c, n) in qa.items() if not k.startswith("loc_")]
    overall = sum(c for c, _ in qa_only) / max(1, sum(n for _, n in qa_only))
    return {"samples": len(rows), "boxes": boxes, "accuracy_by_type": acc, "qa_accuracy": overall,
            "per_sample": per_sample}


def format_table(result: dict) -> str:
    lines = ["boxes (3D IoU, F1@0.25, AP3D@0.05:0.50, projected 2D IoU)",
             f"  {'group':<10} {'samples':>7} {'parsed':>7} {'IoU3D':>7} {'F1@.25':>7} {'AP3D':>7} {'IoU2D':>7}"]
    for k, b in result["boxes"].items():
        lines.append(f"  {k:<10} {b['samples']:>7} {b['parsed_share']:>7.2f} {b['mean_iou3d']:>7.3f} "
                     f"{b['f1_25']:>7.3f} {b['ap3d']:>7.3f} {b['mean_iou2d_projected']:>7.3f}")
    lines.append(f"accuracy by question type (QA overall {result['qa_accuracy']:.3f})")
    for k, a in result["accuracy_by_type"].items():
        lines.append(f"  {k:<28} {a['correct']:>4}/{a['total']:<4} {a['accuracy']:.3f}")
    return "\n".join(lines)


def eval_model(run: str, data: str, split: str = "validation", **kw) -> dict:
    """Generate on ``split`` with ``run`` and score; ``kw`` goes to :func:`lift3d.train.predict.predict`."""
    from lift3d.train.predict import predict

    rows = predict(run, data, split, **kw)
    import json as _json
    from pathlib import Path
    meta = _json.loads((Path(run) / "run.json").read_text())
    res = score_predictions(rows, meta["model_config"].get("box_format", "n3d"))
    res.update({"run": str(run), "data": data, "split": split,
                "gen_s_per_sample": rows[0]["_gen_wall_s"] if rows else 0.0})
    return res
