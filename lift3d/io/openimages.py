"""OpenImages V7 boxes -> manifest records (``lift3d ingest --format openimages``).

Inputs (recognised by their header; any order): the boxes CSV (``ImageID, Source, LabelName, Confidence,
XMin, XMax, YMin, YMax, IsOccluded, IsTruncated, IsGroupOf, IsDepiction, IsInside``, coordinates normalised to
[0, 1]), the class-descriptions CSV (``LabelName, DisplayName``, with or without a header) and optionally the
human-verified image-labels CSV (``ImageID, Source, LabelName, Confidence``) and the instance-segmentation CSV
(``MaskPath, ImageID, LabelName, BoxID, BoxXMin, ...``; the mask PNGs next to it or in its ``masks/`` folder:
a mask is attached to the box row with its label and box coordinates, resized to the image and stored as
compressed RLE).  The CSVs are read row by row
and spilled to on-disk partitions by image id (top bits of the 64-bit hex ``ImageID``), then joined one
partition at a time, in image-id order: memory is one partition, whatever the file size.

Meaning: ``IsGroupOf`` boxes are crowd (never lifted as one object), ``IsDepiction`` boxes are rejected
(``depiction``: a drawing or a photo of the object is not the object), ``IsOccluded`` / ``IsTruncated`` /
``IsInside`` become the annotation's ``flags``.  A class counts as exhaustively annotated in an image only
when a human verified it there (image-labels CSV, ``Confidence`` 1 and a non-machine ``Source``); every other
class with boxes in the image is listed in ``not_exhaustive_categories``.  Image sizes are not in the CSV:
they are read from the image file's header under ``--images`` (``ImageID.jpg``), lazily, at the join;
an image whose header cannot be read is rejected (``image_size_unknown``).  Annotation ids are the box rows'
1-based line numbers in the boxes CSV; ``image_id`` is the 64-bit ``ImageID`` shifted right by one bit (the
hex string is kept as ``source_image_id``).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from pathlib import Path

from lift3d.errors import InputError
from lift3d.io.coco import STAGE, _annotation, _image_record
from lift3d.io.ingest import PARTITION_BYTES, Spill, _finish
from lift3d.io.manifest import ManifestWriter
from lift3d.rejects import add_reject, reject_record, reject_row

BOX_COLUMNS = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
               "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
LABEL_COLUMNS = ("ImageID", "Source", "LabelName", "Confidence")
SEG_COLUMNS = ("MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax")
BOX_MATCH = 1e-3  # a mask row belongs to the box row with its label and these normalised coordinates
MACHINE_SOURCES = {"machine"}


def _open_csv(path: Path):
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    return f


def _csv_rows(path: Path):
    """The rows of a CSV as dicts, streamed; a malformed file is one InputError naming the line."""
    with _open_csv(path) as f:
        reader = csv.DictReader(f)
        try:
            yield from reader
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: malformed CSV at line {reader.line_num} ({type(exc).__name__}: {exc})") from None


def _kind(path: Path) -> str:
    with _open_csv(path) as f:
        try:
            head = next(csv.reader(f), [])
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc})") from None
    cols = tuple(c.strip() for c in head)
    if set(BOX_COLUMNS) <= set(cols):
        return "boxes"
    if cols[:4] == LABEL_COLUMNS:
        return "labels"
    if set(SEG_COLUMNS) <= set(cols):
        return "masks"
    if len(cols) == 2 and (cols == ("LabelName", "DisplayName") or cols[0].startswith("/m/") or cols[0].startswith("/g/")):
        return "classes"
    raise InputError(f"{path}: not an OpenImages boxes, class-descriptions or image-labels CSV (header {list(cols)[:6]})")


def _image_int(image_id: str) -> int | None:
    if not image_id or len(image_id) > 16:
        return None
    try:
        return int(image_id, 16) >> 1
    except ValueError:
        return None


def _flag(v: str) -> int:
    try:
        return int(float(v)) if v not in ("", None) else 0
    except ValueError:
        return 0


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _image_size(root: Path | None, file_name: str):
    if root is None:
        return None
    from PIL import Image

    try:
        with Image.open(root / file_name) as im:  # reads the header only
            return im.size
    except Exception:  # noqa: BLE001  (missing, unreadable: the record is rejected with the reason)
        return None


def _mask_rle(folder: Path, mask_path: str, W: int, H: int):
    """An instance-mask PNG (next to the segmentation CSV, or in its masks/ folder) -> compressed RLE at W x H."""
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_utils

    for p in (folder / mask_path, folder / "masks" / mask_path):
        try:
            with Image.open(p) as im:
                m = im.convert("L")
                if m.size != (W, H):
                    m = m.resize((W, H), Image.NEAREST)
                arr = np.asfortranarray((np.asarray(m) > 0).astype(np.uint8))
        except Exception:  # noqa: BLE001  (missing or unreadable: try the next place)
            continue
        rle = mask_utils.encode(arr)
        return {"size": [int(H), int(W)], "counts": rle["counts"].decode("ascii")}
    return None


def ingest_openimages(paths, out, *, images_root=None, rows_per_shard: int = 20000, tmp_dir=None,
                      partitions: int | None = None) -> dict:
    t0 = time.perf_counter()
    kinds: dict[str, list[Path]] = {"boxes": [], "classes": [], "labels": [], "masks": []}
    for p in paths:
        kinds[_kind(Path(p))].append(Path(p))
    if len(kinds["boxes"]) != 1 or len(kinds["classes"]) != 1:
        raise InputError("--format openimages needs one boxes CSV and one class-descriptions CSV "
                         f"(got {len(kinds['boxes'])} boxes, {len(kinds['classes'])} class files)")
    mids: dict[str, int] = {}
    categories: dict[int, str] = {}
    with _open_csv(kinds["classes"][0]) as f:
        for row in csv.reader(f):
            if len(row) < 2 or row[0] == "LabelName":
                continue
            cid = len(mids) + 1
            mids[row[0]] = cid
            categories[cid] = row[1]
    root = Path(images_root) if images_root else None
    size = sum(p.stat().st_size for v in kinds.values() for p in v)
    n_parts = partitions or max(1, min(4096, size // PARTITION_BYTES + 1))

    def part_of(iid: int) -> int:
        return (iid * n_parts) >> 63

    work = Path(tempfile.mkdtemp(prefix="lift3d-oi-", dir=tmp_dir))
    try:
        boxes = Spill(work, n_parts, "boxes")
        n_ann = 0
        bad_rows: list[dict] = []
        for row in _csv_rows(kinds["boxes"][0]):
            n_ann += 1
            iid = _image_int(row.get("ImageID") or "")
            if iid is None:
                bad_rows.append(reject_row(None, STAGE, "unknown_image",
                                           f"ImageID {row.get('ImageID')!r} is not a 16-digit hex id",
                                           annotation_id=n_ann))
                continue
            boxes.add(part_of(iid), (n_ann, row))
        boxes.close()
        labels = Spill(work, n_parts, "labels")
        for lp in kinds["labels"]:
            for row in _csv_rows(lp):
                iid = _image_int(row.get("ImageID") or "")
                if iid is None or row.get("Source") in MACHINE_SOURCES or _num(row.get("Confidence")) != 1.0:
                    continue
                labels.add(part_of(iid), (row["ImageID"], row.get("LabelName")))
        labels.close()

        masks = Spill(work, n_parts, "masks")
        for mp in kinds["masks"]:
            for row in _csv_rows(mp):
                iid = _image_int(row.get("ImageID") or "")
                coords = [_num(row.get(k)) for k in ("BoxXMin", "BoxXMax", "BoxYMin", "BoxYMax")]
                if iid is None or None in coords or not row.get("MaskPath"):
                    continue
                masks.add(part_of(iid), (row["ImageID"], row.get("LabelName"), coords, str(mp.parent), row["MaskPath"]))
        masks.close()
        mask_stats = {"masks_matched": 0, "masks_unreadable": 0}

        writer = ManifestWriter(out, rows_per_shard)
        n_img = 0
        for part in range(n_parts):
            mask_rows: dict[str, list] = {}
            for image_key, mid, coords, folder, mpath in masks.read(part):
                mask_rows.setdefault(image_key, []).append((mid, coords, folder, mpath))
            verified: dict[str, set] = {}
            for image_key, mid in labels.read(part):
                verified.setdefault(image_key, set()).add(mid)
            by_key: dict[str, list] = {}
            for line, row in boxes.read(part):
                by_key.setdefault(row["ImageID"], []).append((line, row))
            images = sorted(by_key.items(), key=lambda kv: (_image_int(kv[0]), kv[0]))
            seen_int: set = set()
            for key, rows in images:
                n_img += 1
                iid = _image_int(key)
                file_name = f"{key}.jpg"
                wh = _image_size(root, file_name)
                rec = _image_record({"id": iid, "file_name": file_name, "width": wh[0] if wh else 1,
                                     "height": wh[1] if wh else 1}, root or Path("."))
                for line, _ in rows:
                    rec["annotations"].append({"annotation_id": line})  # pending until the image is accepted
                pending = rec.pop("_pending_reject", None)
                if iid in seen_int:
                    pending = ("duplicate_image_id", f"ImageID {key} maps to an image id already used")
                elif wh is None:
                    pending = ("image_size_unknown", f"cannot read the size of {file_name} under --images"
                               if root else "no --images root: the image size is unknown")
                seen_int.add(iid)
                if pending:
                    reject_record(rec, STAGE, *pending)
                    writer.add(rec, source="openimages", source_image_id=key)
                    continue
                rec["annotations"] = []
                W, H = rec["width"], rec["height"]
                present = set()
                for line, row in rows:
                    cid = mids.get(row.get("LabelName"), -1)
                    if cid in categories:
                        rec["annotation_categories"][line] = categories[cid]
                        present.add(row["LabelName"])
                    x0, x1, y0, y1 = (_num(row.get(k)) for k in ("XMin", "XMax", "YMin", "YMax"))
                    bbox = (None if None in (x0, x1, y0, y1)
                            else [x0 * W, y0 * H, (x1 - x0) * W, (y1 - y0) * H])
                    ann = {"id": line, "image_id": iid, "category_id": cid, "bbox": bbox,
                           "iscrowd": 1 if _flag(row.get("IsGroupOf")) == 1 else 0}
                    a, problem = _annotation(ann, rec, categories)
                    if problem is None and _flag(row.get("IsDepiction")) == 1:
                        problem = ("depiction", "OpenImages IsDepiction: a depiction is not a physical object")
                    if problem:
                        add_reject(rec, STAGE, problem[0], problem[1], annotation_id=line)
                        continue
                    a["flags"] = [name for name, col in (("occluded", "IsOccluded"), ("truncated", "IsTruncated"),
                                                         ("inside", "IsInside")) if _flag(row.get(col)) == 1]
                    for mid, coords, folder, mpath in mask_rows.get(key, ()):
                        if mid == row.get("LabelName") and all(abs(c - v) <= BOX_MATCH
                                                               for c, v in zip(coords, (x0, x1, y0, y1))):
                            rle = _mask_rle(Path(folder), mpath, W, H)
                            if rle is None:
                                mask_stats["masks_unreadable"] += 1
                            else:
                                a["segmentation"] = rle
                                mask_stats["masks_matched"] += 1
                            break
                    rec["annotations"].append(a)
                unverified = present - verified.get(key, set())
                if unverified:
                    rec["not_exhaustive_categories"] = sorted({categories[mids[m]] for m in unverified})
                _finish(rec)
                writer.add(rec, source="openimages", source_image_id=key)
        writer.write_orphans(bad_rows)
        from lift3d.lift.priors import coverage

        meta = {
            "format": "openimages", "sources": [str(p.resolve()) for v in kinds.values() for p in v],
            "images_root": str(root.resolve()) if root else None,
            "input_images": n_img,  # the distinct ImageIDs with boxes
            "input_annotations": n_ann, "orphan_rejects": "orphan_rejects.parquet",
            "orphan_reject_count": len(bad_rows),
            "categories": {str(k): v for k, v in categories.items()},
            "priors_coverage": coverage(categories.values()),
            "verified_labels": bool(kinds["labels"]), **mask_stats,
            "seconds": round(time.perf_counter() - t0, 3), "partitions": n_parts,
        }
        return writer.finish(meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
