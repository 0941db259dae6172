"""Hand-made corpora with exactly known boxes, written in the build output layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

W, H = 320, 240
F = 200.0
K = [F, 0.0, (W - 1) / 2, 0.0, F, (H - 1) / 2, 0.0, 0.0, 1.0]


def obj(annotation_id, category, center, dims=(1.0, 1.0, 1.0), R=None, bbox=(0.0, 0.0, 1.0, 1.0)):
    R = np.eye(3) if R is None else np.asarray(R, dtype=np.float64)
    return {"annotation_id": annotation_id, "category": category, "category_id": 1, "bbox2d": list(bbox),
            "center_cam": list(map(float, center)), "dimensions": list(map(float, dims)),
            "R_cam": [float(v) for v in R.reshape(9)], "yaw": 0.0, "quality": 0.8, "flags": [],
            "num_points": 100, "mask_source": "dataset", "on_floor": False, "yaw_confidence": 1.0}


def image_row(image_id, objects, gravity=(0.0, 1.0, 0.0), file_name=None):
    return {"image_id": image_id, "file_name": file_name or f"images/{image_id}.png", "width": W, "height": H,
            "K": K, "depth_source": "dataset", "intrinsics_source": "dataset", "depth_assumed_focal": False,
            "gravity": None if gravity is None else list(gravity), "gravity_source": "dataset" if gravity else "camera",
            "gravity_confidence": 1.0, "objects": objects, "rejected_categories": []}


def write_corpus(root: Path, rows: list[dict], qa: list[dict] | None = None, rejects: list[dict] | None = None,
                 depth: dict | None = None, split: str = "train") -> Path:
    """A built-layout folder from rows: black RGB images (+ optional depth PNGs in mm) and a source JSON."""
    from lift3d import schema

    out, src = root / "out", root / "src"
    (src / "images").mkdir(parents=True, exist_ok=True)
    (src / "depth").mkdir(parents=True, exist_ok=True)
    images = []
    for r in rows:
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(src / r["file_name"])
        im = {"id": r["image_id"], "file_name": r["file_name"], "width": W, "height": H}
        if depth and r["image_id"] in depth:
            p = f"depth/{r['image_id']}.png"
            Image.fromarray(np.round(depth[r["image_id"]] * 1000).astype(np.uint16)).save(src / p)
            im.update(depth_file=p, depth_scale=1000.0)
        images.append(im)
    (src / "annotations.json").write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    for config, data in (("objects", rows), ("qa", qa or []), ("rejects", rejects or [])):
        (out / config).mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.to_table(config, data), out / config / f"{split}-00000-of-00001.parquet")
    cats: dict = {}
    for r in rows:
        for o in r["objects"]:
            cats[o["category"]] = cats.get(o["category"], 0) + 1
    qtypes: dict = {}
    for q in qa or []:
        qtypes[q["question_type"]] = qtypes.get(q["question_type"], 0) + 1
    info = {"lift3d_version": "test", "splits": {split: {
        "input": {"annotations": str(src / "annotations.json"), "images": str(src)},
        "stats": {"categories": cats, "question_types": qtypes, "quality_hist": [0] * 8 + [len(rows), 0],
                  "reject_reasons": {"lift:too_few_points": 2}, "depth_sources": {"dataset": len(rows)},
                  "intrinsics_sources": {"dataset": len(rows)}, "images_out": len(rows)}}}}
    (out / "build_info.json").write_text(json.dumps(info))
    return out


def qa_row(qid, image_id, question, answer="yes", reasoning="because", qtype="2p_left_yn"):
    return {"id": qid, "image_id": image_id, "question_type": qtype, "question": question, "answer": answer,
            "answer_form": "yes_no", "answer_value": answer, "answer_unit": None, "choices": [],
            "reasoning": reasoning, "object_ids": [1], "messages": []}
