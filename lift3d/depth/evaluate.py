"""``lift3d eval-depth``: a depth backend against sensor depth of a COCO-3D input (e.g. NYU Depth v2 frames).

Metrics on the valid sensor pixels (sensor depth > 0 and finite, within ``[min_depth, max_depth]``, prediction
> 0): AbsRel = mean(|p - g| / g), RMSE = sqrt(mean((p - g)^2)) in metres, delta1 = fraction with
max(p/g, g/p) < 1.25. Computed per image and averaged over images (the usual NYU protocol). Median scaling
(p * median(g) / median(p) per image) is reported separately: it removes the metric-scale error and shows the
shape error alone; the unscaled figures are the ones that matter for a metric 3D corpus.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

METRICS = ("abs_rel", "rmse", "delta1")


def depth_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """AbsRel, RMSE (m), delta1 and the pixel count over ``mask`` (default: gt > 0 and pred > 0, finite)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    valid = np.isfinite(gt) & (gt > 0) & np.isfinite(pred) & (pred > 0)
    if mask is not None:
        valid &= mask
    n = int(valid.sum())
    if n == 0:
        return {"abs_rel": math.nan, "rmse": math.nan, "delta1": math.nan, "n_pixels": 0}
    p, g = pred[valid], gt[valid]
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "delta1": float(np.mean(ratio < 1.25)),
        "n_pixels": n,
    }


def _inside(root: Path, rel: str) -> Path:
    p = (root / rel).resolve()
    if not p.is_relative_to(root.resolve()):
        raise ValueError(f"path {rel!r} escapes the image root")
    return p


def read_coco3d_depth_images(annotations_json, images_root=None, max_images: int | None = None) -> list[dict]:
    """Minimal COCO-3D reader for evaluation: records with rgb, depth_dataset (m), K, width, height.

    Images without ``depth_file`` are skipped (nothing to compare with); unreadable files raise.
    """
    from PIL import Image

    annotations_json = Path(annotations_json)
    root = Path(images_root) if images_root is not None else annotations_json.parent
    data = json.loads(annotations_json.read_text())
    records = []
    for im in data.get("images", []):
        if not im.get("depth_file"):
            continue
        with Image.open(_inside(root, im["file_name"])) as f:
            rgb = np.asarray(f.convert("RGB"))
        with Image.open(_inside(root, im["depth_file"])) as f:
            raw = np.asarray(f).astype(np.float32)
        scale = float(im.get("depth_scale", 1000.0))
        depth = np.where(raw > 0, raw / scale, 0.0).astype(np.float32)
        records.append({
            "image_id": im["id"], "file_name": im["file_name"], "rgb": rgb, "depth_dataset": depth,
            "K": None if im.get("K") is None else np.asarray(im["K"], dtype=np.float64).reshape(-1).tolist(),
            "exif_focal_35mm": None, "width": int(im.get("width", rgb.shape[1])),
            "height": int(im.get("height", rgb.shape[0])), "annotations": [],
        })
        if max_images and len(records) >= max_images:
            break
    return records


def eval_depth(annotations_json, images_root=None, backend="da2-indoor-small", *, device: str = "auto",
               batch_size: int = 4, input_size: int | None = None, max_images: int | None = None,
               min_depth: float = 1e-3, max_depth: float | None = 10.0, median_scaling: bool = True,
               use_dataset_K: bool = True) -> dict:
    """Evaluate ``backend`` (a name for :class:`DepthConfig` or a set-up ``DepthStage``) on sensor depth.

    ``use_dataset_K=False`` hides the dataset K from the model (Depth Pro then uses its own focal estimate), which
    is the honest setting for predicting how it behaves on COCO-like data without intrinsics.
    Returns ``{"backend", "n_images", "mean": {...}, "median_scaled": {...}, "per_image": [...], ...}``.
    """
    from .stage import DepthConfig, DepthStage

    if isinstance(backend, DepthStage):
        stage = backend
    else:
        stage = DepthStage(DepthConfig(backend=backend, device=device, batch_size=batch_size, input_size=input_size))
    stage.setup()
    records = read_coco3d_depth_images(annotations_json, images_root, max_images)
    gts = {r["image_id"]: r["depth_dataset"] for r in records}
    if not use_dataset_K:
        for r in records:
            r["K"] = None
    t0 = time.perf_counter()
    stage.process(records)
    seconds = time.perf_counter() - t0

    per_image, scaled = [], []
    for r in records:
        row = {"image_id": r["image_id"], "file_name": r["file_name"]}
        if r.get("failed"):
            row["rejected"] = (r.get("rejects") or [{}])[0].get("reason")
            per_image.append(row)
            continue
        gt = gts[r["image_id"]]
        pred = r["depth"]
        mask = gt >= min_depth
        if max_depth is not None:
            mask &= gt <= max_depth
        row.update(depth_metrics(pred, gt, mask))
        row["intrinsics_source"] = r.get("intrinsics_source")
        row["depth_assumed_focal"] = r.get("depth_assumed_focal")
        valid = mask & (gt > 0) & (pred > 0)
        if median_scaling and valid.any():
            s = float(np.median(gt[valid]) / np.median(pred[valid]))
            m = depth_metrics(pred * s, gt, mask)
            m["scale"] = s
            scaled.append(m)
        per_image.append(row)

    def mean_of(rows):
        rows = [x for x in rows if x.get("n_pixels")]
        return {k: (float(np.mean([x[k] for x in rows])) if rows else math.nan) for k in METRICS}

    out = {
        "backend": stage.backend.name,
        "n_images": len(records),
        "n_evaluated": sum(1 for x in per_image if x.get("n_pixels")),
        "mean": mean_of(per_image),
        "per_image": per_image,
        "seconds": seconds,
        "depth_range_m": [min_depth, max_depth],
    }
    if median_scaling:
        out["median_scaled"] = mean_of(scaled)
        out["median_scale_factors"] = [x["scale"] for x in scaled]
    return out


def format_eval(result: dict) -> str:
    """A small plain-text table of :func:`eval_depth`'s result."""
    lines = [
        f"depth backend: {result['backend']}   images: {result['n_evaluated']}/{result['n_images']}"
        f"   range: {result['depth_range_m'][0]}-{result['depth_range_m'][1]} m   time: {result['seconds']:.1f} s",
        f"{'':16s}{'AbsRel':>10s}{'RMSE (m)':>10s}{'delta1':>10s}",
    ]
    rows = [("metric", result["mean"])]
    if "median_scaled" in result:
        rows.append(("median-scaled", result["median_scaled"]))
    for label, m in rows:
        lines.append(f"{label:16s}{m['abs_rel']:10.4f}{m['rmse']:10.4f}{m['delta1']:10.4f}")
    for x in result["per_image"]:
        if "rejected" in x:
            lines.append(f"  {x['file_name']}: rejected ({x['rejected']})")
    return "\n".join(lines)


__all__ = ["depth_metrics", "eval_depth", "format_eval", "read_coco3d_depth_images"]
