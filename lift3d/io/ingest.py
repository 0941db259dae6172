"""``lift3d ingest``: stream annotation sources into a sharded Parquet manifest (:mod:`lift3d.io.manifest`).

Nothing is loaded whole.  COCO-family JSON (COCO, LVIS, Objects365, the RefCOCO instances) is read with a
streaming parser (``ijson``, C backend) in three passes over the file: ``categories``, ``images`` (spilled to
disk, ids kept as an int64 array), ``annotations`` (parsed entries turned into numpy columns a batch at a time,
:mod:`lift3d.io.columns`, and spilled to on-disk partitions by image-id range).  Each partition is then joined
alone with the same per-record rules as :func:`lift3d.io.coco.read_coco3d` (the same rejects, the same
first-occurrence rule for duplicate ids, found from the sorted id array): the clean annotations column-wise,
every other one through the reader's per-annotation rules in file order; the partition's records are written in
image-id order as one Arrow table.  Memory is bounded by one partition (the partition count grows with the file)
plus 9 bytes per annotation id and 16 per image id.  The cyclic garbage collector is paused meanwhile
(:func:`gc_paused`).  OpenImages CSVs are read in chunks through the same partitioning
(:mod:`lift3d.io.openimages`).

Format semantics (per record / per annotation, see docs/ingest.md):
- ``lvis``: ``not_exhaustive_category_ids`` -> ``not_exhaustive_categories`` (QA never counts, names or
  locates all of them), ``neg_category_ids`` -> ``neg_categories``; ``file_name`` from ``coco_url`` when absent.
- ``objects365``: ``isfake`` -> reject ``fake_box``, ``isreflected`` -> reject ``reflection``.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import math
import os
import pickle
import shutil
import tempfile
import time
from array import array
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa

from lift3d.errors import InputError
from lift3d.io.coco import (STAGE, _annotation, _image_record, bad_annotation_entry, category_name,
                            bad_image_entry, duplicate_annotation, unknown_image)
from lift3d.io.columns import RAW_SEG, ColumnSpill, clean_mask, clip_boxes, split_batch
from lift3d.io.manifest import (ManifestWriter, ann_row, annotation_column, category_column, record_to_row,
                                rows_to_table)
from lift3d.rejects import add_reject, reject_record

FORMATS = ("coco", "lvis", "objects365", "openimages", "refcoco")
PARTITION_BYTES = 16 * 2**20  # input bytes per partition (about 100k Objects365 annotations)
FLUSH_ITEMS = 50_000  # spilled items buffered in memory before a flush


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off for the duration (restored after).

    Ingest allocates millions of short-lived acyclic objects (parsed dicts, spill tuples) while holding large
    live buffers, so the collector's full passes re-traverse those buffers again and again (a third of the CPU
    time at 20k images x 15 boxes) and free nothing: reference counting frees all of it.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _ijson():
    import ijson

    return ijson


class Spill:
    """Append-only pickle partitions on disk: ``add(part, item)``, then ``read(part)`` in insertion order."""

    def __init__(self, folder: Path, n: int, name: str):
        self.paths = [folder / f"{name}-{i:05d}.pkl" for i in range(n)]
        self.files = [open(p, "wb") for p in self.paths]
        self.buf: list[list] = [[] for _ in range(n)]
        self.pending = 0

    def add(self, part: int, item) -> None:
        self.buf[part].append(item)
        self.pending += 1
        if self.pending >= FLUSH_ITEMS:
            self.flush()

    def flush(self) -> None:
        for f, b in zip(self.files, self.buf):
            if b:
                pickle.dump(b, f, protocol=pickle.HIGHEST_PROTOCOL)
                b.clear()
        self.pending = 0

    def close(self) -> None:
        self.flush()
        for f in self.files:
            f.close()

    def read(self, part: int):
        with open(self.paths[part], "rb") as f:
            while True:
                try:
                    chunk = pickle.load(f)
                except EOFError:
                    return
                yield from chunk


def _json_items(path: Path, prefix: str):
    """Stream the items of a top-level list; malformed JSON is one InputError line."""
    ijson = _ijson()
    try:
        with open(path, "rb") as f:
            yield from ijson.items(f, prefix, use_float=True, buf_size=1 << 20)
    except FileNotFoundError:
        raise InputError(f"{path}: annotations file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read annotations file ({exc.__class__.__name__}: {exc})") from None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise InputError(f"{path}: malformed JSON ({msg})") from None


def _top_level_types(path: Path) -> dict[str, str]:
    """Types of the top-level keys (a full event scan: only run when a list came back empty)."""
    ijson = _ijson()
    out: dict[str, str] = {}
    key = None
    try:
        with open(path, "rb") as f:
            for prefix, event, value in ijson.parse(f):
                if prefix == "" and event == "map_key":
                    key = value
                elif key is not None and prefix == key and event in ("start_map", "start_array", "string",
                                                                       "number", "boolean", "null", "integer",
                                                                       "double"):
                    out[key] = {"start_map": "dict", "start_array": "list"}.get(event, event)
                    key = None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: malformed JSON ({' '.join(str(exc).split())[:200]})") from None
    return out


def _check_json_object(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip()
    except FileNotFoundError:
        raise InputError(f"{path}: annotations file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read annotations file ({exc.__class__.__name__}: {exc})") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if not head.startswith(b"{"):
        raise InputError(f"{path}: expected a JSON object with images, annotations and categories")


def _require_lists(path: Path, empty: list[str]) -> None:
    """A list that came back empty may be missing or not a list: find out (rare, so the slow scan is fine)."""
    if not empty:
        return
    types = _top_level_types(path)
    missing = [k for k in ("images", "annotations", "categories") if k not in types]
    if missing:
        raise InputError(f"{path}: missing top-level key(s) {', '.join(missing)} "
                         "(a COCO instances file needs images, annotations, categories)")
    for k in empty:
        if types.get(k) != "list":
            raise InputError(f"{path}: '{k}' must be a list, got {types.get(k)}")


def _valid_id(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63


def _lvis_file_name(img: dict):
    if img.get("file_name") is None and isinstance(img.get("coco_url"), str):
        parts = img["coco_url"].rstrip("/").split("/")
        if len(parts) >= 2:
            return "/".join(parts[-2:])  # .../train2017/000000391895.jpg -> train2017/000000391895.jpg
    return img.get("file_name")


class CocoFamily:
    """Per-format hooks of the COCO-family join."""

    def __init__(self, fmt: str, categories: dict[int, str]):
        self.fmt = fmt
        self.categories = categories

    def image(self, img: dict) -> dict:
        if self.fmt == "lvis" and img.get("file_name") is None:
            img = {**img, "file_name": _lvis_file_name(img)}
        return img

    def semantics(self, rec: dict, img: dict) -> None:
        if self.fmt != "lvis":
            return
        for src, dst in (("not_exhaustive_category_ids", "not_exhaustive_categories"),
                         ("neg_category_ids", "neg_categories")):
            ids = img.get(src) or []
            names = sorted({self.categories[c] for c in ids if isinstance(c, int) and c in self.categories})
            if names:
                rec[dst] = names

    def annotation_problem(self, ann: dict):
        if self.fmt == "objects365":
            if ann.get("isfake") in (1, True):
                return ("fake_box", "Objects365 marks this box isfake (not a real object)")
            if ann.get("isreflected") in (1, True):
                return ("reflection", "Objects365 marks this box isreflected (a reflection is not a 3D object)")
        return None


def _licence(img: dict) -> str:
    lic = img.get("license")
    return "" if lic is None else str(lic)


def ingest_coco_json(path, out, fmt: str = "coco", *, images_root=None, rows_per_shard: int = 20000,
                     partitions: int | None = None, tmp_dir=None, extra_meta: dict | None = None,
                     record_hook=None) -> dict:
    """Stream a COCO-family instances JSON into a manifest at ``out``; returns the manifest metadata.

    ``record_hook(rec, annotation_ids)`` may add ``referring`` to a finished record (its kept annotations are
    given as their ids) and returns its split name or None (RefCOCO).
    """
    with gc_paused():
        return _ingest_coco_json(Path(path), out, fmt, images_root=images_root, rows_per_shard=rows_per_shard,
                                 partitions=partitions, tmp_dir=tmp_dir, extra_meta=extra_meta,
                                 record_hook=record_hook)


def _ingest_coco_json(path: Path, out, fmt: str, *, images_root, rows_per_shard: int, partitions, tmp_dir,
                      extra_meta, record_hook) -> dict:
    t0 = time.perf_counter()
    _check_json_object(path)

    categories: dict[int, str] = {}
    synonyms: dict[str, list[str]] = {}
    for c in _json_items(path, "categories.item"):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
            raise InputError(f"{path}: every category needs an integer id and a string name, got {str(c)[:200]}")
        categories[c["id"]] = c["name"]
        if isinstance(c.get("synonyms"), list):
            synonyms[c["name"]] = [s for s in c["synonyms"] if isinstance(s, str)]
    fam = CocoFamily(fmt, categories)

    work = Path(tempfile.mkdtemp(prefix="lift3d-ingest-", dir=tmp_dir))
    try:
        # images: spilled in file order, their ids kept for the partition boundaries
        img_spill = Spill(work, 1, "images-seq")
        ids = array("q")
        orphans: list[tuple] = []  # (key, reject)
        n_img = 0
        for img in _json_items(path, "images.item"):
            seq = n_img
            n_img += 1
            if not isinstance(img, dict) or not _valid_id(img.get("id")):
                orphans.append(((0, seq), bad_image_entry(img)))
                continue
            ids.append(img["id"])
            img_spill.add(0, (seq, img))
        img_spill.close()

        size = path.stat().st_size
        n_parts = partitions or max(1, min(4096, math.ceil(size / PARTITION_BYTES)))
        sorted_ids = np.sort(np.frombuffer(ids, dtype=np.int64)) if len(ids) else np.zeros(0, np.int64)
        del ids
        n_parts = max(1, min(n_parts, len(sorted_ids) or 1))
        bounds = [int(sorted_ids[(k * len(sorted_ids)) // n_parts]) for k in range(1, n_parts)]
        del sorted_ids

        def part_of(iid) -> int:
            if isinstance(iid, (int, float)) and not (isinstance(iid, float) and not math.isfinite(iid)):
                return bisect.bisect_right(bounds, iid)
            return 0

        images = Spill(work, n_parts, "images")
        for seq, img in img_spill.read(0):
            images.add(part_of(img["id"]), (seq, img))
        images.close()
        os.unlink(img_spill.paths[0])

        # annotations: a batch at a time into columns, partitioned by image id; ids kept for the duplicate rule
        o365 = fmt == "objects365"
        anns = ColumnSpill(work, n_parts)
        bounds_arr = np.array(bounds, dtype=np.int64)
        id_chunks: list[np.ndarray] = []
        n_ann = n_valid = 0
        for batch in _batches(_json_items(path, "annotations.item")):
            cols = split_batch(batch, n_ann, n_valid, o365)
            n_ann += len(batch)
            n_valid += len(cols.ids)
            id_chunks.append(cols.ids)
            orphans.extend(((1, seq), bad_annotation_entry(entry)) for seq, entry in cols.bad)
            anns.add(np.searchsorted(bounds_arr, cols.plain.iid, side="right"), cols.plain, cols.odd, part_of)
        anns.close()

        empty = [k for k, n in (("images", n_img), ("annotations", n_ann), ("categories", len(categories))) if n == 0]
        _require_lists(path, empty)
        is_dup = _duplicates(np.concatenate(id_chunks) if id_chunks else np.zeros(0, np.int64))
        del id_chunks

        writer = ManifestWriter(out, rows_per_shard)
        join = Join(fam, categories, is_dup, o365, orphans)
        dup_records: list[tuple] = []
        root = Path(images_root) if images_root else Path(".")
        for part in range(n_parts):
            recs, imgs = _partition_records(images.read(part), fam, root, dup_records)
            plain, odd = anns.read(part)
            table, ann_ids = join.table(recs, imgs, plain, odd)
            _write_partition(writer, table, recs, ann_ids, record_hook)
        for _, rec, img in sorted(dup_records, key=lambda t: t[0]):
            _finish(rec)
            split = record_hook(rec, []) if record_hook is not None else None
            writer.add(rec, split=split, source=fmt, license=_licence(img))
        orphan_rows = [r for _, r in sorted(orphans, key=lambda t: t[0])]
        writer.write_orphans(orphan_rows)
        from lift3d.lift.priors import coverage

        meta = {
            "format": fmt, "sources": [str(path.resolve())],
            "images_root": str(Path(images_root).resolve()) if images_root else None,
            "input_images": n_img, "input_annotations": n_ann, "orphan_rejects": "orphan_rejects.parquet",
            "orphan_reject_count": len(orphan_rows),
            "categories": {str(k): v for k, v in sorted(categories.items())},
            "priors_coverage": coverage(categories.values(), synonyms),
            "category_synonyms": {k: v for k, v in sorted(synonyms.items()) if v},
            "seconds": round(time.perf_counter() - t0, 3), "partitions": n_parts,
            **(extra_meta or {}),
        }
        return writer.finish(meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


BATCH = 20_000  # parsed annotations turned into columns at a time


def _batches(items, n: int = BATCH):
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def _duplicates(ids: np.ndarray) -> np.ndarray:
    """Per valid-id index: True for every occurrence of an id after its first (the first one is kept)."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    dup = np.zeros(len(ids), bool)
    if len(s) > 1:
        dup[order[1:][s[1:] == s[:-1]]] = True
    return dup


def _partition_records(images, fam: CocoFamily, root: Path, dup_records: list) -> tuple[list, list]:
    """The partition's image entries -> records (and their entries) in image-id order; a repeated id goes to
    ``dup_records`` as (file position, record, entry) with its pending duplicate_image_id reject."""
    by_id: dict = {}
    for seq, img in images:
        img = fam.image(img)
        rec = _image_record(img, root)
        fam.semantics(rec, img)
        if rec["image_id"] in by_id:
            rec["_pending_reject"] = ("duplicate_image_id", f"image id {rec['image_id']} appears more than once")
            dup_records.append((seq, rec, img))
        else:
            by_id[rec["image_id"]] = (rec, img)
    keys = sorted(by_id)
    return [by_id[k][0] for k in keys], [by_id[k][1] for k in keys]


class Join:
    """Joins one partition's annotations to its records, the reader's rules in the reader's order.

    Clean plain rows (:func:`lift3d.io.columns.clean_mask`) become manifest annotations column-wise; every other
    row goes through :meth:`slow` in file order, which appends the record's rejects (and pending placeholders)
    and returns the odd rows' kept annotations and category entries for the columns.
    """

    def __init__(self, fam: CocoFamily, categories: dict, is_dup: np.ndarray, o365: bool, orphans: list):
        self.fam = fam
        self.categories = categories
        self.is_dup = is_dup
        self.o365 = o365
        self.orphans = orphans
        self.cat_ids = np.array(sorted(k for k in categories), dtype=np.int64)
        self.cat_names = np.array([categories[k] for k in sorted(categories)], dtype=object)

    def table(self, recs: list, imgs: list, plain, odd: list):
        """(the partition's rows as an Arrow table, per record the kept annotation ids for a record hook)."""
        pids = np.array([r["image_id"] for r in recs], dtype=np.int64)
        pending = np.array([bool(r.get("_pending_reject")) for r in recs], dtype=bool)
        W = np.array([0.0 if q else float(r["width"]) for r, q in zip(recs, pending)])
        H = np.array([0.0 if q else float(r["height"]) for r, q in zip(recs, pending)])
        clean, pos = clean_mask(plain, pids, pending, W, H, self.is_dup, self.cat_ids, self.o365)
        index = {k: i for i, k in enumerate(pids.tolist())}
        slow = sorted([plain.odd_tuple(i) for i in np.flatnonzero(~clean)] + odd, key=lambda t: t[0])
        extra_anns, extra_cats = [], []
        for t in slow:
            self.slow(t, recs, index, extra_anns, extra_cats)
        c = np.flatnonzero(clean)
        cpos = pos[c]
        cat = self.cat_names[np.searchsorted(self.cat_ids, plain.cid[c])]
        boxes = clip_boxes(plain.box[c], W[cpos], H[cpos])
        seq = np.concatenate([plain.seq[c], np.array([e[1] for e in extra_anns], dtype=np.int64)])
        rpos = np.concatenate([cpos, np.array([e[0] for e in extra_anns], dtype=np.int64)])
        order = np.lexsort((seq, rpos))
        ex = [e[2] for e in extra_anns]
        aid = np.concatenate([plain.aid[c], np.array([a["annotation_id"] for a in ex], dtype=np.int64)])[order]
        offsets = _offsets(rpos, len(recs))
        anns = annotation_column(
            offsets, aid,
            np.concatenate([plain.cid[c], np.array([a["category_id"] for a in ex], dtype=np.int64)])[order],
            np.concatenate([cat, np.array([a["category"] for a in ex], dtype=object)])[order],
            np.concatenate([boxes, np.array([a["bbox2d"] for a in ex], dtype=np.float64).reshape(-1, 4)])[order],
            np.concatenate([plain.crowd[c], np.array([a["iscrowd"] for a in ex], dtype=np.int8)])[order],
            np.array([plain.seg[i] for i in c] + [a["segmentation"] for a in ex], dtype=object)[order])
        cseq = np.concatenate([plain.seq[c], np.array([e[1] for e in extra_cats], dtype=np.int64)])
        crpos = np.concatenate([cpos, np.array([e[0] for e in extra_cats], dtype=np.int64)])
        corder = np.lexsort((cseq, crpos))
        cats = category_column(
            _offsets(crpos, len(recs)),
            np.concatenate([plain.aid[c], np.array([e[2] for e in extra_cats], dtype=np.int64)])[corder],
            np.concatenate([cat, np.array([e[3] for e in extra_cats], dtype=object)])[corder])
        for rec in recs:
            _finish(rec)
        rows = [record_to_row(rec, source=self.fam.fmt, license=_licence(img)) for rec, img in zip(recs, imgs)]
        table = rows_to_table(rows)
        table = table.set_column(table.schema.get_field_index("annotations"), "annotations", anns)
        table = table.set_column(table.schema.get_field_index("annotation_categories"), "annotation_categories", cats)
        ann_ids = [aid[offsets[i]:offsets[i + 1]].tolist() for i in range(len(recs))]
        return table, ann_ids

    def slow(self, t: tuple, recs: list, index: dict, extra_anns: list, extra_cats: list) -> None:
        """One row by the reader's per-annotation rules (the streaming form of read_coco3d's loop)."""
        seq, vi, aid, iid, cid, bbox, seg, iscrowd, fake, refl, seg_text = t
        try:
            i = index.get(iid)
        except TypeError:  # an unhashable image_id
            i = None
        rec = recs[i] if i is not None else None
        if self.is_dup[vi]:
            r = duplicate_annotation(iid, aid)
            if rec is not None:
                rec["rejects"].append(r)
            else:
                self.orphans.append(((1, seq), r))
            return
        if rec is None:
            self.orphans.append(((1, seq), unknown_image(iid, aid)))
            return
        if rec.get("_pending_reject"):
            rec["annotations"].append({"annotation_id": aid})
            return
        name = category_name(cid, self.categories)
        if name is not None:
            extra_cats.append((i, seq, aid, name))
        a, problem = _annotation({"id": aid, "image_id": iid, "category_id": cid, "bbox": bbox,
                                  "segmentation": seg, "iscrowd": iscrowd}, rec, self.categories)
        if problem is None and self.o365 and (fake or refl):
            problem = self.fam.annotation_problem({"isfake": fake, "isreflected": refl})
        if problem:
            add_reject(rec, STAGE, problem[0], problem[1], annotation_id=aid)
            return
        a = ann_row(a)
        if seg_text != RAW_SEG:
            a["segmentation"] = seg_text
        extra_anns.append((i, seq, a))


def _offsets(rpos: np.ndarray, n: int) -> np.ndarray:
    """List offsets for rows sorted by record position ``rpos`` (n records)."""
    return np.concatenate([[0], np.cumsum(np.bincount(rpos, minlength=n))]).astype(np.int32)


def _write_partition(writer: ManifestWriter, table, recs: list, ann_ids: list, record_hook) -> None:
    """The partition's rows to the writer; with a record hook, in runs of records of the same split."""
    if record_hook is None:
        writer.add_table(table)
        return
    splits = [record_hook(rec, ids) for rec, ids in zip(recs, ann_ids)]
    referring = [rec.get("referring") for rec in recs]
    table = table.set_column(table.schema.get_field_index("split"), "split", pa.array(splits, type=pa.string()))
    table = table.set_column(table.schema.get_field_index("referring"), "referring", pa.array(
        [None if not r else json.dumps(r, separators=(",", ":")) for r in referring], type=pa.string()))
    start = 0
    for k in range(1, len(splits) + 1):
        if k == len(splits) or splits[k] != splits[start]:
            writer.add_table(table.slice(start, k - start), splits[start])
            start = k


def _finish(rec: dict) -> None:
    pending = rec.pop("_pending_reject", None)
    if pending:
        reject_record(rec, STAGE, *pending)


def ingest(fmt: str, annotations: list, out, *, images_root=None, rows_per_shard: int = 20000,
           tmp_dir=None, overwrite: bool = False) -> dict:
    """The ``lift3d ingest`` entry point: validate arguments, dispatch on the format, write the card."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    paths = [Path(p) for p in annotations]
    if not paths:
        raise InputError("--annotations needs at least one file")
    for p in paths:
        if not p.is_file():
            raise InputError(f"{p}: annotations file not found")
    if images_root is not None and not Path(images_root).is_dir():
        raise InputError(f"{images_root}: image root is not a directory")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"{out}: exists and is not empty (pass --overwrite to replace it)")
        shutil.rmtree(out)
    if fmt in ("coco", "lvis", "objects365"):
        if len(paths) != 1:
            raise InputError(f"--format {fmt} takes one instances JSON, got {len(paths)} files")
        meta = ingest_coco_json(paths[0], out, fmt, images_root=images_root, rows_per_shard=rows_per_shard,
                                tmp_dir=tmp_dir)
    elif fmt == "openimages":
        from lift3d.io.openimages import ingest_openimages

        with gc_paused():
            meta = ingest_openimages(paths, out, images_root=images_root, rows_per_shard=rows_per_shard,
                                     tmp_dir=tmp_dir)
    else:
        from lift3d.io.refcoco import ingest_refcoco

        meta = ingest_refcoco(paths, out, images_root=images_root, rows_per_shard=rows_per_shard, tmp_dir=tmp_dir)
    write_manifest_card(out, meta)
    return meta


def write_manifest_card(out, meta: dict) -> None:
    cov = meta.get("priors_coverage") or {}
    lines = [
        f"# lift3d manifest: {meta.get('format')}",
        "",
        f"- Sources: {', '.join(meta.get('sources') or [])}",
        f"- Images root: {meta.get('images_root')}",
        f"- Input images: {meta.get('input_images')}, input annotations: {meta.get('input_annotations')}",
        f"- Records: {meta.get('records')} in {len(meta.get('shards') or [])} shard(s); "
        f"rejects without an image record: {meta.get('orphan_reject_count', 0)}",
        f"- Categories: {len(meta.get('categories') or {})}; size priors: {cov.get('direct', 0)} direct, "
        f"{cov.get('synonym', 0)} by synonym, {cov.get('fallback', 0)} by fallback, {cov.get('head_noun', 0)} by head "
        f"noun, {cov.get('none', 0)} none",
        f"- Ingest time: {meta.get('seconds')} s",
        "",
        "Build with `lift3d build --annotations THIS_FOLDER --out OUT` (`--images ROOT` when none is recorded above;"
        " `--split S` for a source with splits).",
        "",
    ]
    (Path(out) / "README.md").write_text("\n".join(lines))


def manifest_summary(meta: dict) -> str:
    return json.dumps({k: meta.get(k) for k in ("format", "records", "input_images", "input_annotations",
                                                 "orphan_reject_count", "seconds")})
