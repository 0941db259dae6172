"""The ingest manifest: a folder of Parquet shards, one row per image with everything the reader produces.

Layout of ``MANIFEST/``::

    manifest.json              format, sources, counts, shard list (path + rows), categories, coverage
    images-NNNNN.parquet       one row per image record, in the reader's order (image id, then duplicates)
    orphan_rejects.parquet     reject rows that belong to no image record (unknown image, bad entries)
    README.md                  the manifest card

A row carries the COCO-3D record fields of :func:`lift3d.io.coco.read_coco3d` (``file_name``, ``width``,
``height``, ``K``, ``gravity``, ``depth_file``, ``depth_scale``, ``annotations``, ``annotation_categories``,
``rejects``, ``failed``) plus the source, the licence and the per-image annotation semantics
(``not_exhaustive_categories``, ``neg_categories``).  :func:`row_to_record` turns a row back into exactly the
record dict the pipeline consumes, so a build from a manifest and one from the JSON see the same record stream.
Work units of a build are fixed-size row ranges of one shard each (:class:`ManifestPlan`): the Ray executor reads
the shards with Ray Data's Parquet reader and the read tasks make the units (:meth:`ManifestPlan.units_in_block`);
the local executor reads each unit's rows with pyarrow.  Either way the driver never holds the records.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lift3d.errors import InputError

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
ROW_GROUP = 64  # rows per Parquet row group: a work unit reads only the groups it covers

_REJECT = pa.struct([("image_id", pa.int64()), ("annotation_id", pa.int64()), ("stage", pa.string()),
                     ("reason", pa.string()), ("detail", pa.string())])
_ANN = pa.struct([
    ("annotation_id", pa.int64()), ("category_id", pa.int64()), ("category", pa.string()),
    ("bbox2d", pa.list_(pa.float64())), ("iscrowd", pa.int8()),
    ("segmentation", pa.string()),  # JSON (polygons or RLE), null when absent
    ("flags", pa.list_(pa.string())),  # source flags (OpenImages occluded/truncated/inside), usually empty
])
ROW_SCHEMA = pa.schema([
    ("image_id", pa.int64()), ("file_name", pa.string()), ("width", pa.int64()), ("height", pa.int64()),
    ("K", pa.list_(pa.float64())), ("gravity", pa.list_(pa.float64())), ("depth_file", pa.string()),
    ("depth_scale", pa.float64()), ("failed", pa.bool_()),
    ("annotations", pa.list_(_ANN)),
    ("annotation_categories", pa.list_(pa.struct([("annotation_id", pa.int64()), ("category", pa.string())]))),
    ("rejects", pa.list_(_REJECT)),
    ("not_exhaustive_categories", pa.list_(pa.string())), ("neg_categories", pa.list_(pa.string())),
    ("source", pa.string()), ("license", pa.string()), ("source_image_id", pa.string()),
    ("split", pa.string()),  # the source's split of the image (RefCOCO family), null when the source has none
    ("referring", pa.string()),  # JSON list of referring expressions of the image's objects, null when none
])
REJECT_SCHEMA = pa.schema(list(_REJECT))


def _int_or_none(v):
    return v if isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63 else None


def _str_or_none(v):
    return v if isinstance(v, str) else None


def clean_reject(r: dict) -> dict:
    return {"image_id": _int_or_none(r.get("image_id")), "annotation_id": _int_or_none(r.get("annotation_id")),
            "stage": str(r.get("stage")), "reason": str(r.get("reason")), "detail": str(r.get("detail") or "")}


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def ann_row(a: dict, flags=()) -> dict:
    """An annotation in the manifest's row shape (segmentation as JSON text)."""
    seg = a.get("segmentation")
    return {"annotation_id": a["annotation_id"], "category_id": a.get("category_id"), "category": a.get("category"),
            "bbox2d": a.get("bbox2d"), "iscrowd": a.get("iscrowd"),
            "segmentation": None if seg is None else _dumps(seg), "flags": list(flags or a.get("flags") or [])}


def record_to_row(rec: dict, *, source: str = "", license: str = "", source_image_id=None,  # noqa: A002
                  split=None) -> dict:
    ref = rec.get("referring")
    anns = []
    for a in rec.get("annotations") or []:
        if "flags" in a and type(a.get("segmentation")) is not list and type(a.get("segmentation")) is not dict \
                and len(a) == 7:  # already in row shape (lift3d.io.ingest.ann_row)
            anns.append(a)
            continue
        seg = a.get("segmentation")
        anns.append({"annotation_id": a["annotation_id"], "category_id": a.get("category_id"),
                     "category": a.get("category"), "bbox2d": a.get("bbox2d"), "iscrowd": a.get("iscrowd"),
                     "segmentation": None if seg is None else _dumps(seg),
                     "flags": a.get("flags") or []})
    return {
        "image_id": _int_or_none(rec.get("image_id")), "file_name": _str_or_none(rec.get("file_name")),
        "width": _int_or_none(rec.get("width")), "height": _int_or_none(rec.get("height")),
        "K": rec.get("K"), "gravity": rec.get("gravity"), "depth_file": _str_or_none(rec.get("depth_file")),
        "depth_scale": rec.get("depth_scale"), "failed": bool(rec.get("failed")),
        "annotations": anns,
        "annotation_categories": [{"annotation_id": k, "category": v}
                                  for k, v in (rec.get("annotation_categories") or {}).items()],
        "rejects": [clean_reject(r) for r in rec.get("rejects") or []],
        "not_exhaustive_categories": list(rec.get("not_exhaustive_categories") or []),
        "neg_categories": list(rec.get("neg_categories") or []),
        "source": source, "license": license, "source_image_id": source_image_id, "split": split,
        "referring": None if not ref else json.dumps(ref, separators=(",", ":")),
    }


def row_to_record(row: dict, images_root: str) -> dict:
    """A manifest row -> the pipeline record (the same dict the JSON reader builds)."""
    anns = []
    for a in row["annotations"] or []:
        d = {"annotation_id": a["annotation_id"], "category_id": a["category_id"], "category": a["category"],
             "bbox2d": a["bbox2d"],
             "segmentation": None if a["segmentation"] is None else json.loads(a["segmentation"]),
             "iscrowd": a["iscrowd"]}
        if a.get("flags"):
            d["flags"] = list(a["flags"])
        anns.append(d)
    rec = {
        "image_id": row["image_id"], "file_name": row["file_name"], "width": row["width"], "height": row["height"],
        "K": row["K"], "gravity": row["gravity"], "depth_file": row["depth_file"], "depth_scale": row["depth_scale"],
        "images_root": str(images_root), "annotations": anns,
        "annotation_categories": {x["annotation_id"]: x["category"] for x in row["annotation_categories"] or []},
        "rejects": list(row["rejects"] or []), "failed": bool(row["failed"]),
    }
    if row.get("not_exhaustive_categories"):
        rec["not_exhaustive_categories"] = list(row["not_exhaustive_categories"])
    if row.get("referring"):
        rec["referring"] = json.loads(row["referring"])
    return rec


_SCALAR = [f.name for f in ROW_SCHEMA if f.name not in ("annotations", "annotation_categories", "rejects")]


def rows_to_table(rows: list[dict]) -> pa.Table:
    """Rows (``record_to_row``) -> an Arrow table, the nested columns built from flat child arrays (fast)."""
    cols = {k: [r[k] for r in rows] for k in _SCALAR}
    arrays = {k: pa.array(v, type=ROW_SCHEMA.field(k).type) for k, v in cols.items()}
    ann_off, ac_off, rj_off = [0], [0], [0]
    af = {k: [] for k in ("annotation_id", "category_id", "category", "bbox2d", "iscrowd", "segmentation", "flags")}
    ac_id, ac_cat = [], []
    rf = {k: [] for k in ("image_id", "annotation_id", "stage", "reason", "detail")}
    for r in rows:
        for a in r["annotations"]:
            for k, lst in af.items():
                lst.append(a[k])
        ann_off.append(len(af["annotation_id"]))
        for x in r["annotation_categories"]:
            ac_id.append(x["annotation_id"])
            ac_cat.append(x["category"])
        ac_off.append(len(ac_id))
        for x in r["rejects"]:
            for k, lst in rf.items():
                lst.append(x[k])
        rj_off.append(len(rf["image_id"]))

    arrays["annotations"] = list_of_structs(ann_off, af, _ANN)
    arrays["annotation_categories"] = list_of_structs(ac_off, {"annotation_id": ac_id, "category": ac_cat},
                                                      _ANN_CATEGORY)
    arrays["rejects"] = list_of_structs(rj_off, rf, _REJECT)
    return pa.Table.from_arrays([arrays[f.name] for f in ROW_SCHEMA], schema=ROW_SCHEMA)


_ANN_CATEGORY = ROW_SCHEMA.field("annotation_categories").type.value_type


def list_of_structs(offsets, fields: dict, struct_type) -> pa.ListArray:
    """A list<struct> column from row offsets and one flat sequence (or Arrow array) per struct field."""
    children = [fields[f.name] if isinstance(fields[f.name], pa.Array) else pa.array(fields[f.name], type=f.type)
                for f in struct_type]
    st = pa.StructArray.from_arrays(children, fields=list(struct_type))
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), st)


def annotation_column(offsets, annotation_id, category_id, category, bbox2d, iscrowd, segmentation) -> pa.ListArray:
    """The ``annotations`` column from flat per-annotation columns (numpy arrays; ``bbox2d`` is n x 4, ``category``
    and ``segmentation`` sequences of str / None); ``flags`` are empty (the COCO family has none)."""
    n = len(annotation_id)
    boxes = pa.ListArray.from_arrays(pa.array(np.arange(0, 4 * n + 1, 4), type=pa.int32()),
                                     pa.array(np.ascontiguousarray(bbox2d, dtype=np.float64).reshape(-1)))
    flags = pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], type=pa.string()))
    fields = {"annotation_id": pa.array(annotation_id, type=pa.int64()),
              "category_id": pa.array(category_id, type=pa.int64()), "category": pa.array(category, type=pa.string()),
              "bbox2d": boxes, "iscrowd": pa.array(iscrowd, type=pa.int8()),
              "segmentation": pa.array(segmentation, type=pa.string()), "flags": flags}
    return list_of_structs(offsets, fields, _ANN)


def category_column(offsets, annotation_id, category) -> pa.ListArray:
    """The ``annotation_categories`` column from flat (annotation id, category name) columns."""
    return list_of_structs(offsets, {"annotation_id": pa.array(annotation_id, type=pa.int64()),
                                     "category": pa.array(category, type=pa.string())}, _ANN_CATEGORY)


def table_counts(table: pa.Table) -> tuple[int, int]:
    """(images, input annotations) that a table of rows accounts for: annotations + annotation-level rejects."""
    anns = sum(len(c.flatten()) for c in table["annotations"].chunks)
    k = _REJECT.get_field_index("annotation_id")
    ids = [c.flatten().flatten()[k] for c in table["rejects"].chunks]
    return table.num_rows, anns + sum(len(a) - a.null_count for a in ids)


class ManifestWriter:
    """Buffers rows and writes ``images-NNNNN.parquet`` shards of ``rows_per_shard`` rows.

    Rows come one record at a time (:meth:`add`) or as ready Arrow tables of rows (:meth:`add_table`); both keep
    the order in which they were added, and a shard is cut as soon as its split has ``rows_per_shard`` rows.
    """

    def __init__(self, out, rows_per_shard: int = 20000):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rows_per_shard = max(1, int(rows_per_shard))
        self.bufs: dict = {}  # split -> rows (dicts) not yet in a table piece
        self.pieces: dict = {}  # split -> tables of rows, in order, before the rows of bufs
        self.piece_rows: dict = {}  # split -> rows in pieces
        self.shards: list[dict] = []
        self.images = 0
        self.split_counts: dict = {}  # split -> input images / annotations that ended on its records

    def _count(self, split, images: int, annotations: int) -> None:
        self.images += images
        c = self.split_counts.setdefault(split, {"input_images": 0, "input_annotations": 0})
        c["input_images"] += images
        c["input_annotations"] += annotations

    def add(self, rec: dict, split: str | None = None, **kw) -> None:
        buf = self.bufs.setdefault(split, [])
        buf.append(record_to_row(rec, split=split, **kw))
        self._count(split, 1, len(rec.get("annotations") or []) + sum(
            1 for r in rec.get("rejects") or [] if r.get("annotation_id") is not None))
        if len(buf) + self.piece_rows.get(split, 0) >= self.rows_per_shard:
            self._write(split)

    def add_table(self, table: pa.Table, split: str | None = None) -> None:
        """Rows of ``ROW_SCHEMA`` (their ``split`` column already set to ``split``) after those added so far."""
        if table.num_rows == 0:
            return
        self.bufs.setdefault(split, [])  # the splits' first-seen order is the order of the last shards
        self._to_piece(split)
        self.pieces.setdefault(split, []).append(table)
        self.piece_rows[split] = self.piece_rows.get(split, 0) + table.num_rows
        self._count(split, *table_counts(table))
        while self.piece_rows[split] >= self.rows_per_shard:
            self._write(split)

    def _to_piece(self, split) -> None:
        rows = self.bufs.get(split)
        if rows:
            self.pieces.setdefault(split, []).append(rows_to_table(rows))
            self.piece_rows[split] = self.piece_rows.get(split, 0) + len(rows)
            self.bufs[split] = []

    def _write(self, split) -> None:
        """Write the first ``rows_per_shard`` buffered rows of ``split`` (all of them when fewer) as a shard."""
        self._to_piece(split)
        pieces = self.pieces.get(split)
        if not pieces:
            return
        table = pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]
        head, rest = table.slice(0, self.rows_per_shard), table.slice(self.rows_per_shard)
        name = f"images-{len(self.shards):05d}.parquet" if split is None else f"images-{split}-{len(self.shards):05d}.parquet"
        tmp = self.out / (name + ".tmp")
        pq.write_table(head.combine_chunks(), tmp, compression="zstd", row_group_size=ROW_GROUP)
        os.replace(tmp, self.out / name)
        self.shards.append({"path": name, "rows": head.num_rows, "split": split})
        self.pieces[split] = [rest] if rest.num_rows else []
        self.piece_rows[split] = rest.num_rows

    def flush(self) -> None:
        for split in list(self.bufs):
            while self.bufs.get(split) or self.piece_rows.get(split):
                self._write(split)

    def write_orphans(self, rejects: list[dict]) -> str:
        table = pa.Table.from_pylist([clean_reject(r) for r in rejects], schema=REJECT_SCHEMA)
        pq.write_table(table, self.out / "orphan_rejects.parquet", compression="zstd")
        return "orphan_rejects.parquet"

    def finish(self, meta: dict) -> dict:
        self.flush()
        meta = {"version": MANIFEST_VERSION, **meta, "shards": self.shards, "records": self.images}
        splits = sorted(k for k in self.split_counts if k is not None)
        if splits:
            # inputs that reached no record (orphan rejects) are accounted in one split: train, else the first
            home = "train" if "train" in splits else splits[0]
            counts = {k: dict(self.split_counts[k]) for k in splits}
            counts[home]["input_images"] += meta["input_images"] - self.images
            counts[home]["input_annotations"] += meta["input_annotations"] - sum(
                c["input_annotations"] for c in self.split_counts.values())
            meta["split_counts"] = counts
            meta["orphan_split"] = home
        tmp = self.out / (MANIFEST_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
        os.replace(tmp, self.out / MANIFEST_FILE)
        return meta


def is_manifest(path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST_FILE).is_file()


@dataclass
class Manifest:
    path: Path
    meta: dict

    split: str | None = None  # a manifest with source splits is read one split at a time

    @property
    def splits(self) -> list[str]:
        return sorted({s["split"] for s in self.meta["shards"] if s.get("split") is not None})

    @property
    def shards(self) -> list[dict]:
        if self.split is None:
            return self.meta["shards"]
        return [s for s in self.meta["shards"] if s.get("split") == self.split]

    def for_split(self, split: str) -> "Manifest":
        """The build's view: the shards of ``split`` when the source has splits (RefCOCO), else all of them."""
        if not self.splits:
            return self
        if split not in self.splits:
            raise InputError(f"{self.path}: the source has splits {', '.join(self.splits)}; --split {split!r} is not one")
        return Manifest(self.path, self.meta, split)

    @property
    def num_records(self) -> int:
        return sum(s["rows"] for s in self.shards)

    def counts(self) -> dict:
        if self.split is not None:
            return dict(self.meta["split_counts"][self.split])
        return {"input_images": int(self.meta["input_images"]), "input_annotations": int(self.meta["input_annotations"])}

    def orphan_rejects(self) -> list[dict]:
        if self.split is not None and self.split != self.meta.get("orphan_split"):
            return []
        p = self.path / self.meta.get("orphan_rejects", "orphan_rejects.parquet")
        return pq.read_table(p).to_pylist() if p.is_file() else []

    def read_rows(self, shard: str, start: int, stop: int) -> list[dict]:
        """Rows [start, stop) of one shard, reading only the row groups that hold them."""
        pf = pq.ParquetFile(self.path / shard)
        md = pf.metadata
        groups, first, offset = [], None, 0
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if offset + n > start and offset < stop:
                groups.append(g)
                if first is None:
                    first = offset
            offset += n
        if not groups:
            return []
        table = pf.read_row_groups(groups)
        return table.slice(start - first, stop - start).to_pylist()

    def iter_records(self, images_root):
        for s in self.shards:
            for row in pq.read_table(self.path / s["path"]).to_pylist():
                yield row_to_record(row, images_root)


def open_manifest(path) -> Manifest:
    p = Path(path)
    try:
        meta = json.loads((p / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise InputError(f"{p}: not a manifest (no {MANIFEST_FILE}; write one with lift3d ingest)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{p / MANIFEST_FILE}: unreadable manifest ({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict) or meta.get("version") != MANIFEST_VERSION or "shards" not in meta:
        raise InputError(f"{p / MANIFEST_FILE}: not a lift3d manifest of version {MANIFEST_VERSION}")
    for s in meta["shards"]:
        if not (p / s["path"]).is_file():
            raise InputError(f"{p}: manifest shard {s['path']} is missing")
    return Manifest(p, meta)


class ManifestUnit:
    """A work unit that is a row range of one manifest shard: its records are read where the unit runs.

    ``records`` reads them on every access (nothing is cached on the driver); ``size`` is the number of images.
    Pickles as its description only (a few hundred bytes), so the Ray executor ships descriptions, not records.
    ``have`` (set by :meth:`ManifestPlan.units_in_block` on a Ray Data read task) holds rows already read by Ray
    Data's Parquet reader, as an Arrow table with their shard offsets in ``have_offsets``; ``load`` then reads only
    the rows it lacks with pyarrow, and ``read_counts`` says how many rows came from each reader.
    """

    def __init__(self, unit_id: int, manifest_path: str, spans: list, images_root: str):
        self.unit_id = unit_id
        self.manifest_path = manifest_path
        self.spans = spans  # [(shard, start, stop)]
        self.images_root = images_root
        self.have: pa.Table | None = None
        self.have_offsets: list[int] = []
        self.read_counts = {"ray_data": 0, "pyarrow": 0}

    @property
    def size(self) -> int:
        return sum(b - a for _, a, b in self.spans)

    @property
    def records(self) -> list[dict]:
        m = Manifest(Path(self.manifest_path), {})
        if self.have is None:
            rows = [r for shard, a, b in self.spans for r in m.read_rows(shard, a, b)]
            self.read_counts = {"ray_data": 0, "pyarrow": len(rows)}
            return [row_to_record(r, self.images_root) for r in rows]
        (shard, a, b), = self.spans  # a unit of a Ray Data read lies in one shard
        got = dict(zip(self.have_offsets, self.have.drop_columns(
            [c for c in self.have.column_names if c not in ROW_SCHEMA.names]).to_pylist()))
        missing, run = [], None  # the offsets not in this block, as row ranges
        for i in range(a, b):
            if i in got:
                run = None
            elif run is not None and run[1] == i:
                run[1] = i + 1
            else:
                run = [i, i + 1]
                missing.append(run)
        for lo, hi in missing:
            got.update(zip(range(lo, hi), m.read_rows(shard, lo, hi)))
        self.read_counts = {"ray_data": len(self.have_offsets), "pyarrow": sum(hi - lo for lo, hi in missing)}
        return [row_to_record(got[i], self.images_root) for i in range(a, b)]

    def load(self) -> list[dict]:
        return self.records


def row_offsets(path: str, row_hash, rows: int):
    """Each row's offset in its shard, from the ``row_hash`` column of ``ray.data.read_parquet(...,
    include_row_hash=True)``: Ray hashes (file path, row position) with a bijective function
    (``_compute_row_hashes``), so the position is found by hashing 0..rows-1 the same way and looking each hash up.
    Every hash must be found: a Ray whose hash is no longer that function stops the build here."""
    import numpy as np
    from ray.data._internal.datasource_v2.common.synthesized_columns import _compute_row_hashes

    want = _compute_row_hashes(path, 0, rows)
    order = np.argsort(want)
    got = np.asarray(row_hash, dtype=np.uint64)
    pos = np.searchsorted(want, got, sorter=order).clip(0, max(rows - 1, 0))
    idx = order[pos] if rows else pos
    if rows == 0 or not np.array_equal(want[idx], got):
        raise RuntimeError(f"{path}: Ray's row_hash does not place rows in the file (Ray's hash changed?)")
    return idx


class ManifestPlan:
    """The work units of a build over a manifest: fixed-size row ranges of each shard, never across shards.

    Unit ``k`` of shard ``s`` holds rows ``[k*n, min((k+1)*n, rows_s))``; its id is the number of units in the
    shards before ``s`` plus ``k``, so ids follow manifest order, depend only on ``manifest.json`` (shard list and
    row counts) and ``n``, and are the same for every executor and every run (``--resume`` skips them by id).
    The driver keeps only the shard list: units are made on demand (``units`` for the local executor) or, on Ray,
    by the read tasks (``units_in_block`` over the blocks of ``ray.data.read_parquet(parquet_paths())``).
    """

    def __init__(self, man: Manifest, images_per_unit: int, images_root, done=frozenset()):
        self.manifest_path = str(man.path)
        self.images_root = str(images_root)
        self.n = max(1, int(images_per_unit))
        self.shards = [(s["path"], int(s["rows"])) for s in man.shards]
        self.first: list[int] = []  # first unit id of each shard
        k = 0
        for _, rows in self.shards:
            self.first.append(k)
            k += -(-rows // self.n)
        self.num_units = k
        self.done = frozenset(int(u) for u in done if 0 <= int(u) < k)
        self._shard_index = {name: i for i, (name, _) in enumerate(self.shards)}

    def skip(self, done) -> "ManifestPlan":
        """The same plan without the units in ``done`` (finished before a resume)."""
        other = object.__new__(ManifestPlan)
        other.__dict__.update(self.__dict__)
        other.done = frozenset(int(u) for u in done if 0 <= int(u) < self.num_units)
        return other

    def _unit(self, shard: int, k: int) -> ManifestUnit:
        name, rows = self.shards[shard]
        a = k * self.n
        return ManifestUnit(self.first[shard] + k, self.manifest_path, [(name, a, min(a + self.n, rows))],
                            self.images_root)

    def unit(self, unit_id: int) -> ManifestUnit:
        import bisect

        s = bisect.bisect_right(self.first, unit_id) - 1
        while self.shards[s][1] == 0:  # an empty shard shares its first id with the next one
            s += 1
        return self._unit(s, unit_id - self.first[s])

    def todo_ids(self):
        return (u for u in range(self.num_units) if u not in self.done)

    @property
    def todo_images(self) -> int:
        return sum(rows for _, rows in self.shards) - sum(self.unit(u).size for u in self.done)

    def units(self):
        """The units still to do, in id order (made as they are consumed)."""
        for s, (_, rows) in enumerate(self.shards):
            for k in range(-(-rows // self.n)):
                if self.first[s] + k not in self.done:
                    yield self._unit(s, k)

    def __len__(self) -> int:
        return self.num_units - len(self.done)

    def parquet_paths(self) -> list[str]:
        """The shards that hold a unit still to do (a resumed build does not read finished shards)."""
        out = []
        for s, (name, rows) in enumerate(self.shards):
            ids = range(self.first[s], self.first[s] + -(-rows // self.n))
            if any(u not in self.done for u in ids):
                out.append(str(Path(self.manifest_path).resolve() / name))
        return out

    def units_in_block(self, table: pa.Table) -> list[ManifestUnit]:
        """A block of ``ray.data.read_parquet(parquet_paths(), include_paths=True, include_row_hash=True)`` ->
        the units whose first row is in it, each carrying the block's rows of that unit (``ManifestUnit.have``).

        Ray Data gives no row order or block boundaries (a block may hold several shards' rows, in any order, and
        a unit may straddle two blocks), so each row is placed by its shard (``path``) and its offset (from
        ``row_hash``); the block holding a unit's first row emits the unit, the other blocks drop their rows of
        it, and the unit reads the rows it lacks with pyarrow where it runs.
        """
        import numpy as np

        if table.num_rows == 0:
            return []
        paths = table.column("path").to_numpy(zero_copy_only=False)
        hashes = table.column("row_hash").to_numpy()
        data = table.drop_columns(["path", "row_hash"])
        out = []
        for path in sorted(set(paths.tolist())):
            name = Path(path).name
            s = self._shard_index.get(name)
            if s is None:
                raise RuntimeError(f"{path}: not a shard of {self.manifest_path}")
            sel = np.flatnonzero(paths == path)
            offs = row_offsets(path, hashes[sel], self.shards[s][1])
            order = np.argsort(offs, kind="stable")
            sel, offs = sel[order], offs[order]
            ks = offs // self.n
            for k in np.unique(ks[offs % self.n == 0]):  # units that start in this block
                uid = self.first[s] + int(k)
                if uid in self.done:
                    continue
                mine = ks == k
                u = self._unit(s, int(k))
                u.have = data.take(pa.array(sel[mine]))
                u.have_offsets = [int(x) for x in offs[mine]]
                out.append(u)
        return out


def manifest_units(man: Manifest, images_per_unit: int, images_root) -> list[ManifestUnit]:
    """Every work unit of ``man`` as a list: ``images_per_unit`` consecutive rows of one shard (``ManifestPlan``)."""
    return list(ManifestPlan(man, images_per_unit, images_root).units())
