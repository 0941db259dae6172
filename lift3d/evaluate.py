"""3D evaluation of lifted boxes against ground truth (``lift3d eval --pred OUT --gt GT.json``).

* Predictions: the built dataset's ``OUT/objects/*.parquet`` (columns ``image_id``, ``objects``: list of
  object dicts with ``annotation_id``, ``category``, ``center_cam``, ``dimensions``, ``R_cam``, ``quality``).
* Ground truth: the synthetic generator's ``gt_boxes.json`` (``{"images": [{"image_id", "objects": [...]}]}``)
  or Omni3D-style JSON (``images`` + ``annotations`` with ``center_cam``, ``dimensions``, ``R_cam``,
  ``category_name``; ``valid3D: false`` annotations are ignored).

Metrics:

* per object, matched by annotation id: exact 3D IoU, centre error (m), relative size error, yaw error
  (about the GT's up axis, modulo the box symmetries: a half turn, and a quarter turn with w and l
  swapped - the representation whose w/l best match the GT's is used).  Missing objects (rejected by the
  lifter) count as IoU 0 in ``mean_iou_all`` and are excluded from ``mean_iou_lifted``.
* AP3D in the Omni3D protocol: per category, predictions ranked by ``quality`` are greedily matched to
  same-image same-category GT by 3D IoU, precision interpolated at 101 recall points, averaged over IoU
  thresholds 0.05:0.05:0.50; depth buckets near (0-10 m), medium (10-35 m), far (> 35 m) by the GT centre
  depth - GT outside the bucket are ignored, as are unmatched predictions whose centre is outside it
  (COCO area-range logic); mAP = mean over categories with GT in the bucket.
* ``mean_iou_all_se``: the standard error of ``mean_iou_all`` over images (:func:`image_cluster_se`): objects of one
  image share its depth errors, so the images, not the objects, are the independent draws; it is what a held-out
  figure would move by on another seed's scenes.  Its inputs are in the result too (``image_iou``: per image, the
  IoU summed over its GT objects and their count), so several sets pool into one mean and se.
* a diagnostic, ``iou_oracle_scale``: ``mean_iou_all`` after each image's boxes are scaled about the camera by
  its median true / lifted centre distance (:func:`oracle_scale_iou`): how much of the error is one number per
  image (a monocular depth map's metric scale).
* a diagnostic, ``iou_oracle_range``: ``mean_iou_all`` after each lifted box is moved along its own viewing ray
  (through its centre) to the true centre's distance, its size and orientation kept (:func:`oracle_range_iou`): how
  much of the error is each object's distance (the scale, a focal length, a depth-range distortion together) and how
  much its size, shape and placement across the view.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lift3d.geometry.iou import iou_3d

IOU_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 11))
DEPTH_BUCKETS = {"all": (0.0, math.inf), "near": (0.0, 10.0), "medium": (10.0, 35.0), "far": (35.0, math.inf)}


# ---------------------------------------------------------------- loading

def _box_fields(o: dict) -> dict:
    R = np.asarray(o["R_cam"], dtype=np.float64).reshape(3, 3)
    return {
        "center_cam": np.asarray(o["center_cam"], dtype=np.float64).reshape(3),
        "dimensions": np.asarray(o["dimensions"], dtype=np.float64).reshape(3),
        "R_cam": R,
    }


def load_gt(gt_path) -> dict:
    """{image_id: [gt object dicts with annotation_id, category, center_cam, dimensions, R_cam]}."""
    data = json.loads(Path(gt_path).read_text())
    out: dict = {}
    if "annotations" in data:  # Omni3D style
        cats = {c["id"]: c.get("name") for c in data.get("categories", [])}
        for im in data.get("images", []):
            out.setdefault(im["id"], [])
        for a in data["annotations"]:
            if a.get("valid3D", True) is False or a.get("ignore", False) or a.get("behind_camera", False):
                continue
            if any(k not in a for k in ("center_cam", "dimensions", "R_cam")):
                continue
            o = {"annotation_id": a["id"], "category": a.get("category_name") or cats.get(a.get("category_id"), ""),
                 **_box_fields(a)}
            out.setdefault(a["image_id"], []).append(o)
        return out
    for im in data.get("images", []):
        objs = []
        for a in im.get("objects", []):
            objs.append({"annotation_id": a["annotation_id"], "category": a.get("category", ""), **_box_fields(a)})
        out[im["image_id"]] = objs
    return out


def load_predictions(pred_dir) -> dict:
    """{image_id: [object dicts]} from ``pred_dir/objects/*.parquet`` (or any parquet under pred_dir)."""
    import pyarrow.parquet as pq

    p = Path(pred_dir)
    files = [p] if p.is_file() else sorted((p / "objects").glob("**/*.parquet"))
    if not files and p.is_dir():
        files = sorted(p.glob("**/*.parquet"))
    preds: dict = {}
    for f in files:
        schema = pq.read_schema(f)
        if "objects" not in schema.names or "image_id" not in schema.names:
            continue
        for row in pq.read_table(f, columns=["image_id", "objects"]).to_pylist():
            preds.setdefault(row["image_id"], []).extend(row["objects"] or [])
    return preds


# ---------------------------------------------------------------- per-object errors

def _wrap_half(a: float) -> float:
    """Wrap to (-pi/2, pi/2]: boxes are symmetric under a half turn."""
    a = (a + np.pi / 2) % np.pi - np.pi / 2
    return float(a)


def object_errors(pred: dict, gt: dict) -> dict:
    pb = _box_fields(pred)
    Rg, Rp = gt["R_cam"], pb["R_cam"]
    dg, dp = gt["dimensions"], pb["dimensions"]
    up = Rg[:, 1]
    best = None
    for length_col, dims in ((2, dp), (0, dp[[2, 1, 0]])):
        axis = Rp[:, length_col] - (Rp[:, length_col] @ up) * up
        if np.linalg.norm(axis) < 1e-9:
            continue
        loc = Rg.T @ axis
        ang = abs(_wrap_half(math.atan2(loc[0], loc[2])))
        dim_cost = float(np.sum(np.abs(np.log(np.maximum(dims, 1e-6) / np.maximum(dg, 1e-6)))))
        if best is None or dim_cost < best[0] - 1e-12:
            best = (dim_cost, ang, dims)
    if best is None:  # predicted up axis horizontal: compare raw
        best = (0.0, float("nan"), dp)
    _, yaw_err, dims_m = best
    return {
        "iou": iou_3d((pb["center_cam"], pb["dimensions"], Rp), (gt["center_cam"], dg, Rg)),
        "center_err": float(np.linalg.norm(pb["center_cam"] - gt["center_cam"])),
        "depth_err": float(abs(pb["center_cam"][2] - gt["center_cam"][2])),
        "size_err": float(np.mean(np.abs(dims_m - dg) / np.maximum(dg, 1e-6))),
        "yaw_err_deg": float(np.degrees(yaw_err)),
    }


# ---------------------------------------------------------------- AP3D

def _ap_101(tp: np.ndarray, n_gt: int) -> float:
    if n_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1 - tp)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, 1e-12)
    prec = np.maximum.accumulate(prec[::-1])[::-1]  # monotone envelope
    rs = np.linspace(0, 1, 101)
    idx = np.searchsorted(rec, rs, side="left")
    return float(np.mean(np.where(idx < len(prec), prec[np.minimum(idx, len(prec) - 1)], 0.0)))


def ap3d(preds: dict, gt: dict, thresholds=IOU_THRESHOLDS, buckets=DEPTH_BUCKETS) -> dict:
    """{bucket: {"mAP": float, "per_category": {cat: AP}, "per_threshold": {t: mAP}}} (AP in 0..1)."""
    cats = sorted({o["category"] for objs in gt.values() for o in objs}
                  | {o["category"] for objs in preds.values() for o in objs})
    # per image, per category: IoU matrices, scores, depths
    entries = {c: [] for c in cats}  # list of (iou (np, ng), scores (np,), pred z, gt z)
    for img in set(gt) | set(preds):
        g_all = gt.get(img, [])
        p_all = preds.get(img, [])
        for c in {o["category"] for o in g_all} | {o["category"] for o in p_all}:
            g = [o for o in g_all if o["category"] == c]
            p = [o for o in p_all if o["category"] == c]
            M = np.zeros((len(p), len(g)))
            for i, po in enumerate(p):
                pb = _box_fields(po)
                for j, go in enumerate(g):
                    M[i, j] = iou_3d((pb["center_cam"], pb["dimensions"], pb["R_cam"]),
                                     (go["center_cam"], go["dimensions"], go["R_cam"]))
            sc = np.array([float(po.get("quality", 1.0) if po.get("quality") is not None else 1.0) for po in p])
            pz = np.array([float(po["center_cam"][2]) for po in p])
            gz = np.array([float(go["center_cam"][2]) for go in g])
            entries[c].append((M, sc, pz, gz))
    out = {}
    for bname, (zlo, zhi) in buckets.items():
        per_cat: dict = {}
        per_thr = {t: [] for t in thresholds}
        for c in cats:
            n_gt = sum(int(np.sum((gz >= zlo) & (gz < zhi))) for _, _, _, gz in entries[c])
            if n_gt == 0:
                continue
            aps = []
            for t in thresholds:
                scores, tps = [], []
                for M, sc, pz, gz in entries[c]:
                    g_ign = ~((gz >= zlo) & (gz < zhi))
                    order = np.argsort(-sc, kind="stable")
                    taken = np.zeros(len(gz), dtype=bool)
                    for i in order:
                        cand = np.where(~taken & (M[i] >= t))[0] if len(gz) else np.array([], dtype=int)
                        # prefer non-ignored GT, then the highest IoU (COCO)
                        if len(cand):
                            ni = cand[~g_ign[cand]]
                            pick = ni[np.argmax(M[i, ni])] if len(ni) else cand[np.argmax(M[i, cand])]
                            taken[pick] = True
                            if g_ign[pick]:
                                continue  # matched an ignored GT: neither TP nor FP
                            scores.append(sc[i])
                            tps.append(1)
                        else:
                            if not (zlo <= pz[i] < zhi):
                                continue  # unmatched prediction outside the bucket: ignored
                            scores.append(sc[i])
                            tps.append(0)
                o = np.argsort(-np.asarray(scores), kind="stable")
                ap = _ap_101(np.asarray(tps, dtype=np.float64)[o], n_gt)
                aps.append(ap)
                per_thr[t].append(ap)
            per_cat[c] = float(np.mean(aps))
        out[bname] = {
            "mAP": float(np.mean(list(per_cat.values()))) if per_cat else float("nan"),
            "per_category": per_cat,
            "per_threshold": {t: (float(np.mean(v)) if v else float("nan")) for t, v in per_thr.items()},
        }
    return out


# ---------------------------------------------------------------- the report

def evaluate_predictions(preds: dict, gt: dict) -> dict:
    """Evaluate in-memory predictions ({image_id: [objects]}) against ``load_gt`` output."""
    rows = []
    n_gt = 0
    gt_by_ann = {}
    for img, objs in gt.items():
        for o in objs:
            gt_by_ann[(img, o["annotation_id"])] = o
            n_gt += 1
    n_pred = 0
    unmatched_pred = 0
    for img, objs in preds.items():
        for po in objs:
            n_pred += 1
            g = gt_by_ann.get((img, po.get("annotation_id")))
            if g is None:
                unmatched_pred += 1
                continue
            e = object_errors(po, g)
            e.update(image_id=img, annotation_id=po.get("annotation_id"), category=g["category"],
                     gt_depth=float(g["center_cam"][2]), flags=list(po.get("flags") or []),
                     quality=po.get("quality"))
            rows.append(e)

    def summarise(rs, n_total):
        if not rs:
            return {"n_gt": n_total, "n_lifted": 0, "mean_iou_lifted": float("nan"), "mean_iou_all": 0.0,
                    "median_iou": float("nan"), "iou_at_25": 0.0, "iou_at_50": 0.0,
                    "center_err_m": float("nan"), "size_err": float("nan"), "yaw_err_deg": float("nan")}
        iou = np.array([r["iou"] for r in rs])
        yaw = np.array([r["yaw_err_deg"] for r in rs])
        return {
            "n_gt": n_total,
            "n_lifted": len(rs),
            "mean_iou_lifted": float(iou.mean()),
            "mean_iou_all": float(iou.sum() / max(n_total, 1)),
            "median_iou": float(np.median(iou)),
            "iou_at_25": float(np.sum(iou >= 0.25) / max(n_total, 1)),
            "iou_at_50": float(np.sum(iou >= 0.5) / max(n_total, 1)),
            "center_err_m": float(np.median([r["center_err"] for r in rs])),
            "size_err": float(np.median([r["size_err"] for r in rs])),
            "yaw_err_deg": float(np.nanmedian(yaw)) if np.any(np.isfinite(yaw)) else float("nan"),
        }

    gt_counts: dict = {}
    for objs in gt.values():
        for o in objs:
            gt_counts[o["category"]] = gt_counts.get(o["category"], 0) + 1
    aps = ap3d(preds, gt)
    per_cat = {}
    for c in sorted(gt_counts):
        s = summarise([r for r in rows if r["category"] == c], gt_counts[c])
        s["AP3D"] = aps["all"]["per_category"].get(c, float("nan"))
        per_cat[c] = s
    overall = summarise(rows, n_gt)
    per_image = {img: [0.0, len(objs)] for img, objs in gt.items()}
    for r in rows:
        per_image[r["image_id"]][0] += r["iou"]
    image_iou = list(per_image.values())
    overall["mean_iou_all_se"] = image_cluster_se([v[0] for v in image_iou], [v[1] for v in image_iou])
    overall["iou_oracle_scale"] = oracle_scale_iou(preds, gt)
    overall["iou_oracle_range"] = oracle_range_iou(preds, gt)
    return {
        "overall": overall,
        "n_images": len(gt),
        "n_pred": n_pred,
        "n_pred_unmatched": unmatched_pred,
        "AP3D": {b: v["mAP"] for b, v in aps.items()},
        "AP3D_per_threshold": {str(t): v for t, v in aps["all"]["per_threshold"].items()},
        "per_category": per_cat,
        "objects": rows,
        "image_iou": image_iou,  # per image: [IoU summed over its GT objects, their count] (pooling several sets)
    }


def image_cluster_se(sums, counts) -> float:
    """Standard error of the ratio ``sum(sums) / sum(counts)`` (a mean over objects, ``sums[i]`` the IoU summed over
    image i's ``counts[i]`` objects) with the images as the independent units: the delta method's
    ``sqrt(n / (n - 1) * sum((s_i - R c_i)^2)) / sum(c_i)``.  NaN with fewer than two images with objects."""
    s, c = np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    keep = c > 0
    s, c = s[keep], c[keep]
    n = len(c)
    if n < 2:
        return float("nan")
    r = s.sum() / c.sum()
    return float(np.sqrt(n / (n - 1) * np.sum((s - r * c) ** 2)) / c.sum())


def _matched_pairs(preds: dict, gt: dict) -> tuple[int, list[list[tuple[dict, dict]]]]:
    """(the number of GT objects, per image the (lifted box fields, GT object) pairs matched by annotation id): what
    the oracle diagnostics rescore."""
    gt_by_ann = {(img, o["annotation_id"]): o for img, objs in gt.items() for o in objs}
    return len(gt_by_ann), [[(_box_fields(po), g) for po in objs
                             if (g := gt_by_ann.get((img, po.get("annotation_id")))) is not None]
                            for img, objs in preds.items()]


def oracle_scale(pairs) -> float | None:
    """An image's median ratio of true to lifted centre distance over its (lifted, GT) pairs (each with a
    ``center_cam``): the factor that would put its boxes at their true distances; None without a lifted centre off
    the camera.  A diagnostic: it reads the truth."""
    ratios = [np.linalg.norm(g["center_cam"]) / np.linalg.norm(pb["center_cam"]) for pb, g in pairs
              if np.linalg.norm(pb["center_cam"]) > 0]
    return float(np.median(ratios)) if ratios else None


def oracle_scale_iou(preds: dict, gt: dict) -> float:
    """Mean 3D IoU over all GT objects (unlifted = 0) after each image's lifted boxes are scaled about the camera
    by that image's median ratio of true to lifted centre distance over its matched objects: what the lifter would
    reach with a perfect per-image metric scale and everything else as it is.  A diagnostic (it reads the truth):
    the gap to ``mean_iou_all`` is the share of the error that one number per image carries."""
    n_gt, matched = _matched_pairs(preds, gt)
    if n_gt == 0:
        return float("nan")
    total = 0.0
    for pairs in matched:
        k = oracle_scale(pairs)
        if k is None:
            continue
        total += sum(iou_3d((pb["center_cam"] * k, pb["dimensions"] * k, pb["R_cam"]),
                            (g["center_cam"], g["dimensions"], g["R_cam"])) for pb, g in pairs)
    return total / n_gt


def oracle_range_iou(preds: dict, gt: dict) -> float:
    """Mean 3D IoU over all GT objects (unlifted = 0) after each lifted box is moved along the ray through its centre
    to the true centre's distance from the camera, keeping its dimensions and rotation: what the lifter would reach
    with every object's distance right and everything else as it is.  A diagnostic (it reads the truth): the gap to
    ``mean_iou_all`` is the share of the error that the distances along the view carry (a per-image scale, a focal
    length, a depth-range exponent, a box pushed back by a blended edge alike); the gap from it to 1 is the boxes'
    size, shape, orientation and placement across the view."""
    n_gt, matched = _matched_pairs(preds, gt)
    if n_gt == 0:
        return float("nan")
    total = 0.0
    for pb, g in (pair for pairs in matched for pair in pairs):
        d = float(np.linalg.norm(pb["center_cam"]))
        c = pb["center_cam"] * (float(np.linalg.norm(g["center_cam"])) / d) if d > 0 else pb["center_cam"]
        total += iou_3d((c, pb["dimensions"], pb["R_cam"]), (g["center_cam"], g["dimensions"], g["R_cam"]))
    return total / n_gt


def evaluate(pred_dir, gt_path) -> dict:
    """``lift3d eval --pred OUT --gt GT.json``: read both, return the metrics dict (see module doc)."""
    return evaluate_predictions(load_predictions(pred_dir), load_gt(gt_path))


def _f(x, fmt="{:.3f}") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def format_report(result: dict) -> str:
    o = result["overall"]
    lines = [
        f"images: {result['n_images']}   GT objects: {o['n_gt']}   lifted: {o['n_lifted']}   "
        f"predictions without GT id: {result['n_pred_unmatched']}",
        f"mean 3D IoU (lifted): {_f(o['mean_iou_lifted'])}   mean 3D IoU (all GT, missing = 0): "
        f"{_f(o['mean_iou_all'])} (+- {_f(o.get('mean_iou_all_se'))} se over images)   median: {_f(o['median_iou'])}",
        f"recall@IoU0.25: {_f(o['iou_at_25'])}   recall@IoU0.50: {_f(o['iou_at_50'])}   "
        f"mean 3D IoU with each image's scale from the GT (diagnostic): {_f(o.get('iou_oracle_scale'))}   "
        f"with each box at its true distance (diagnostic): {_f(o.get('iou_oracle_range'))}",
        f"median centre error: {_f(o['center_err_m'])} m   median relative size error: {_f(o['size_err'])}   "
        f"median yaw error: {_f(o['yaw_err_deg'], '{:.1f}')} deg",
        "AP3D (Omni3D, IoU 0.05:0.05:0.50, x100): " + "  ".join(
            f"{b} {_f(100 * v if math.isfinite(v) else v, '{:.1f}')}" for b, v in result["AP3D"].items()),
        "",
        f"{'category':<22}{'n_gt':>6}{'lifted':>8}{'IoU':>7}{'IoU_all':>8}{'AP3D':>7}{'ctr_m':>8}"
        f"{'size':>7}{'yaw°':>7}",
    ]
    for c, s in result["per_category"].items():
        ap = s["AP3D"]
        lines.append(
            f"{c[:21]:<22}{s['n_gt']:>6}{s['n_lifted']:>8}{_f(s['mean_iou_lifted']):>7}{_f(s['mean_iou_all']):>8}"
            f"{_f(100 * ap if math.isfinite(ap) else ap, '{:.1f}'):>7}{_f(s['center_err_m'], '{:.2f}'):>8}"
            f"{_f(s['size_err'], '{:.2f}'):>7}{_f(s['yaw_err_deg'], '{:.1f}'):>7}")
    return "\n".join(lines)
