"""Reader for COCO instances JSON with the COCO-3D extension (see docs/conventions.md).

``read_coco3d(path, images_root)`` validates the file as a whole (a problem there is an
:class:`~lift3d.errors.InputError`: one line, exit 2) and turns it into one light *record* per image
(no pixels yet: decoding is a pipeline stage, see :mod:`lift3d.io.decode`).  Per-record problems
(duplicate ids, unknown category or image, bad bbox, bad K, a path escaping the image root...) become
reject entries on the record and never stop the run.  The accounting invariant holds from here on:
every input image and every input annotation ends in exactly one place.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lift3d.errors import InputError
from lift3d.geometry.camera import IntrinsicsError, as_K
from lift3d.rejects import add_reject, reject_record, reject_row

STAGE = "read"
BBOX_TOLERANCE_PX = 1.0  # boxes may overhang the image by this much (rounding) and are clipped


@dataclass
class CocoInput:
    """The parsed input: records in image-id order plus the whole-file counts."""

    path: Path
    images_root: Path
    records: list[dict]
    categories: dict[int, str]
    input_images: int
    input_annotations: int
    orphan_rejects: list[dict] = field(default_factory=list)  # annotations whose image does not exist

    def counts(self) -> dict:
        return {"input_images": self.input_images, "input_annotations": self.input_annotations}


def _load_json(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: annotations file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read annotations file ({exc.__class__.__name__}: {exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _vector(v, n: int) -> list[float] | None:
    if not isinstance(v, (list, tuple)) or len(v) != n or not all(_finite_number(x) for x in v):
        return None
    return [float(x) for x in v]


def safe_join(root: Path, rel) -> Path | None:
    """``root / rel`` if the relative path stays inside ``root``, else None.

    The check is lexical (no absolute paths, no ``..`` climbing out of the root); symbolic links placed inside
    the root by the dataset's owner are followed as usual.
    """
    joined = _joined(root, rel)
    return None if joined is None else Path(joined)


def _joined(root, rel) -> str | None:
    """:func:`safe_join` as a string (no Path object: the reader checks every image's paths with it)."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\x00" in rel:
        return None
    base = os.path.normpath(os.path.abspath(root))
    joined = os.path.normpath(os.path.join(base, rel))
    if joined != base and not joined.startswith(base + os.sep):
        return None
    return joined


def _image_record(img: dict, root: Path) -> dict:
    rec = {
        "image_id": img.get("id"),
        "file_name": img.get("file_name"),
        "width": img.get("width"),
        "height": img.get("height"),
        "K": None,
        "gravity": None,
        "depth_file": img.get("depth_file"),
        "depth_scale": 1000.0,
        "images_root": str(root),
        "annotations": [],
        "annotation_categories": {},  # every annotation of the image with a known category, lifted or not
        "rejects": [],
        "failed": False,
    }
    problems = []
    if not isinstance(rec["file_name"], str) or not rec["file_name"]:
        problems.append(("bad_image_entry", "missing file_name"))
    for key in ("width", "height"):
        v = rec[key]
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            problems.append(("bad_image_entry", f"{key} must be a positive integer, got {v!r}"))
    if not problems and _joined(root, rec["file_name"]) is None:
        problems.append(("path_escapes_root", f"file_name {rec['file_name']!r} escapes the image root"))
    if rec["depth_file"] is not None and _joined(root, rec["depth_file"]) is None:
        problems.append(("path_escapes_root", f"depth_file {rec['depth_file']!r} escapes the image root"))
    if "depth_scale" in img:
        s = img["depth_scale"]
        if not _finite_number(s) or s <= 0:
            problems.append(("bad_depth_scale", f"depth_scale must be > 0, got {s!r}"))
        else:
            rec["depth_scale"] = float(s)
    if img.get("K") is not None:
        try:
            rec["K"] = [float(x) for x in as_K(img["K"]).reshape(9)]
        except IntrinsicsError as exc:
            problems.append(("bad_intrinsics", str(exc)))
    if img.get("gravity") is not None:
        g = _vector(img["gravity"], 3)
        n = float(np.linalg.norm(g)) if g else 0.0
        if g is None or n < 1e-6:
            problems.append(("bad_gravity", f"gravity must be 3 finite numbers, not all zero: {img['gravity']!r}"))
        else:
            rec["gravity"] = [x / n for x in g]
    if problems:
        reason, detail = problems[0]
        rec["_pending_reject"] = (reason, "; ".join(d for _, d in problems))
    return rec


def category_name(cid, categories: dict[int, str]) -> str | None:
    """The category of a ``category_id`` as found in a file, None when it is none of them (an unhashable value,
    a list or a dict, included: a reject, never a crash)."""
    try:
        return categories.get(cid)
    except TypeError:
        return None


def _annotation(ann: dict, rec: dict, categories: dict[int, str]) -> tuple[dict | None, tuple | None]:
    """Validate one annotation against its image. Returns (annotation, None) or (None, (reason, detail))."""
    cid = ann.get("category_id")
    if category_name(cid, categories) is None:
        return None, ("unknown_category", f"category_id {cid!r:.200} is not in categories")
    bbox = _vector(ann.get("bbox"), 4)
    if bbox is None:
        return None, ("bad_bbox", f"bbox must be 4 finite numbers [x, y, w, h], got {ann.get('bbox')!r}")
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return None, ("bad_bbox", f"bbox has non-positive size w={w}, h={h}")
    W, H = rec["width"], rec["height"]
    t = BBOX_TOLERANCE_PX
    if x < -t or y < -t or x + w > W + t or y + h > H + t:
        return None, ("bad_bbox", f"bbox {bbox} lies outside the {W}x{H} image")
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(W), x + w), min(float(H), y + h)
    seg = ann.get("segmentation")
    if seg is not None and not isinstance(seg, (list, dict)):
        return None, ("bad_segmentation", f"segmentation must be polygons or RLE, got {type(seg).__name__}")
    iscrowd = ann.get("iscrowd", 0)
    return {
        "annotation_id": ann["id"],
        "category_id": cid,
        "category": categories[cid],
        "bbox2d": [x1, y1, x2, y2],
        "segmentation": seg if seg not in ([], {}) else None,
        "iscrowd": 1 if iscrowd in (1, True) else 0,
    }, None


def _int_or_none(x):
    return x if isinstance(x, int) else None


# The reader's own reject rows (an entry that is no record of an image or annotation), shared with the streaming
# ingest (lift3d/io/ingest.py) so both give the same rows.
def bad_image_entry(img) -> dict:
    return reject_row(None, STAGE, "bad_image_entry", f"image entry without an integer id: {str(img)[:200]}")


def bad_annotation_entry(ann) -> dict:
    return reject_row(ann.get("image_id") if isinstance(ann, dict) else None, STAGE, "bad_annotation_entry",
                      f"annotation without an integer id: {str(ann)[:200]}")


def duplicate_annotation(iid, aid) -> dict:
    return reject_row(_int_or_none(iid), STAGE, "duplicate_annotation_id",
                      f"annotation id {aid} appears more than once; the first occurrence is kept", annotation_id=aid)


def unknown_image(iid, aid) -> dict:
    return reject_row(_int_or_none(iid), STAGE, "unknown_image", f"image_id {iid!r} is not in images",
                      annotation_id=aid)


def read_coco3d(path, images_root) -> CocoInput:
    path = Path(path)
    root = Path(images_root)
    if not root.is_dir():
        raise InputError(f"{root}: image root is not a directory (pass --images ROOT)")
    data = _load_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with images, annotations and categories")
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise InputError(f"{path}: missing top-level key(s) {', '.join(missing)} (a COCO instances file needs images, annotations, categories)")
    for k in ("images", "annotations", "categories"):
        if not isinstance(data[k], list):
            raise InputError(f"{path}: '{k}' must be a list, got {type(data[k]).__name__}")

    categories: dict[int, str] = {}
    for c in data["categories"]:
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
            raise InputError(f"{path}: every category needs an integer id and a string name, got {c!r}")
        categories[c["id"]] = c["name"]

    by_id: dict[int, dict] = {}
    dup_records: list[dict] = []
    bad_id_images = 0
    orphan_rejects: list[dict] = []
    for img in data["images"]:
        if not isinstance(img, dict) or not isinstance(img.get("id"), int) or isinstance(img.get("id"), bool):
            bad_id_images += 1
            orphan_rejects.append(bad_image_entry(img))
            continue
        rec = _image_record(img, root)
        if rec["image_id"] in by_id:
            dup = rec
            dup["_pending_reject"] = ("duplicate_image_id", f"image id {rec['image_id']} appears more than once")
            dup_records.append(dup)
        else:
            by_id[rec["image_id"]] = rec

    seen_ann: set = set()
    n_ann = 0
    for ann in data["annotations"]:
        n_ann += 1
        if not isinstance(ann, dict) or not isinstance(ann.get("id"), int) or isinstance(ann.get("id"), bool):
            orphan_rejects.append(bad_annotation_entry(ann))
            continue
        aid, iid = ann["id"], ann.get("image_id")
        rec = by_id.get(iid)
        if aid in seen_ann:
            target = rec if rec is not None else None
            (target["rejects"] if target is not None else orphan_rejects).append(duplicate_annotation(iid, aid))
            continue
        seen_ann.add(aid)
        if rec is None:
            orphan_rejects.append(unknown_image(iid, aid))
            continue
        if rec.get("_pending_reject"):
            rec["annotations"].append({"annotation_id": aid})  # rejected with its image below
            continue
        name = category_name(ann.get("category_id"), categories)
        if name is not None:
            rec["annotation_categories"][aid] = name
        a, problem = _annotation(ann, rec, categories)
        if problem:
            add_reject(rec, STAGE, problem[0], problem[1], annotation_id=aid)
        else:
            rec["annotations"].append(a)

    records = sorted(by_id.values(), key=lambda r: r["image_id"]) + dup_records
    for rec in records:
        pending = rec.pop("_pending_reject", None)
        if pending:
            reject_record(rec, STAGE, *pending)
    return CocoInput(
        path=path,
        images_root=root,
        records=records,
        categories=categories,
        input_images=len(data["images"]),
        input_annotations=n_ann,
        orphan_rejects=orphan_rejects,
    )
