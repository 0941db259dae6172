"""Output layout: per-work-unit staging files, then a driver-side finalize into the HF layout.

While a build runs, each finished work unit writes ``OUT/.staging/{split}/{config}/unit-NNNNNN.parquet``
for every config and then ``OUT/.staging/{split}/stats/unit-NNNNNN.json`` — the completion marker, written
last, each file via a temporary name and an atomic rename.  A resumed build skips the units whose marker
exists and redoes the others.  ``finalize`` then streams the unit files, in unit order, into
``OUT/{config}/{split}-NNNNN-of-NNNNN.parquet`` (zstd, small row groups, the ``huggingface`` features
metadata embedded), writes ``build_info.json`` and the dataset card ``README.md``, and removes the staging.
Paths may be local or any fsspec/pyarrow URI (``s3://...``, ``gs://...``).

Shards are filled in order up to ``rows_per_shard`` rows and, with ``max_shard_mb``, up to that many bytes
(each row's share estimated from its size in the staged file, the shard's written size measured); a single row
larger than the cap gets a shard of its own. Everything streams a row group at a time, so embedded images
(``--embed-images``: each ``qa`` row carries its question's image) are never all in memory, neither on a
worker (a unit is written a row group at a time) nor on the driver.
"""

from __future__ import annotations

import json
import posixpath
from collections import Counter

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from lift3d import schema

STAGING = ".staging"


def fs_and_root(out: str):
    fs, root = fsspec.core.url_to_fs(str(out))
    return fs, root.rstrip("/")


def _unit_name(unit_id: int) -> str:
    return f"unit-{unit_id:06d}"


def shard_name(split: str, i: int, n: int) -> str:
    return f"{split}-{i:05d}-of-{n:05d}.parquet"


IMAGE_ROW_GROUP = 100  # rows per row group when rows carry images (as datasets' push_to_hub does)


def image_placeholders(messages) -> int:
    """Number of image entries (``{"type": "image"}``) in a row's chat turns."""
    return sum(1 for m in messages or [] for c in (m.get("content") or []) if c.get("type") == "image")


def records_to_rows(records: list[dict]) -> dict[str, list[dict]]:
    """Split enriched records into the rows of each config. Failed records only contribute rejects.

    With an embedded image (``record["image"]``, the embed stage) each QA row gets ``images``: that image once
    per image placeholder of its ``messages`` (the same bytes object, copied only when written)."""
    rows = {"objects": [], "qa": [], "rejects": []}
    for r in records:
        rows["rejects"].extend(r.get("rejects") or [])
        if r.get("failed"):
            continue
        rows["objects"].append(r)
        img = r.get("image")
        for q in r.get("qa") or []:
            if img is not None:
                q = {**q, "images": [img] * image_placeholders(q.get("messages"))}
            rows["qa"].append(q)
    return rows


# upper edges of the bins of the card's "depth scale uncertainty" table (sd of the log scale; the last bin is open)
SCALE_SIGMA_BINS = (0.05, 0.1, 0.15, 0.25)


def scale_sigma_hist(records: list[dict]) -> list[int]:
    """Images per bin of ``depth_scale_log_sigma`` (model depth, and sensor depth fused at --sensor-scale-sd; a metric
    sensor's 0 is not counted)."""
    hist = [0] * (len(SCALE_SIGMA_BINS) + 1)
    for r in records:
        s = r.get("depth_scale_log_sigma") or 0.0
        if s > 0:
            hist[sum(1 for e in SCALE_SIGMA_BINS if s > e)] += 1
    return hist


def unit_stats(records: list[dict], rows: dict[str, list[dict]]) -> dict:
    """Counters of one unit; summed by finalize into build_info.json and the card."""
    ok = [r for r in records if not r.get("failed")]
    objs = [o for r in ok for o in (r.get("objects") or [])]
    qa_skipped: Counter = Counter()
    for r in ok:
        for k, v in ((r.get("qa_stats") or {}).get("skipped") or {}).items():
            qa_skipped[k] += int(v)
    quality_hist = [0] * 10
    for o in objs:
        q = o.get("quality")
        if q is not None:
            quality_hist[min(9, max(0, int(float(q) * 10)))] += 1
    return {
        "images_in": len(records),
        "images_out": len(ok),
        "objects": len(objs),
        "qa": len(rows["qa"]),
        "rejects": len(rows["rejects"]),
        "reject_reasons": dict(Counter(f"{x['stage']}:{x['reason']}" for x in rows["rejects"])),
        "annotation_rejects": sum(1 for x in rows["rejects"] if x.get("annotation_id") is not None),
        "image_rejects": sum(1 for x in rows["rejects"] if x.get("annotation_id") is None),
        "categories": dict(Counter(o["category"] for o in objs)),
        "question_types": dict(Counter(q["question_type"] for q in rows["qa"])),
        "qa_skipped": dict(qa_skipped),
        "depth_sources": dict(Counter(r.get("depth_source") for r in ok)),
        "intrinsics_sources": dict(Counter(r.get("intrinsics_source") for r in ok)),
        "gravity_sources": dict(Counter(r.get("gravity_source") for r in ok)),
        "depth_assumed_focal": sum(1 for r in ok if r.get("depth_assumed_focal")),
        "quality_hist": quality_hist,
        "scale_sigma_hist": scale_sigma_hist(ok),
        "flags": dict(Counter(f for o in objs for f in (o.get("flags") or []))),
        "mask_sources": dict(Counter(o.get("mask_source") for o in objs)),
    }


def merge_stats(parts) -> dict:
    total: dict = {}
    for s in parts:
        for k, v in s.items():
            if isinstance(v, dict):
                d = total.setdefault(k, Counter())
                d.update({str(kk): vv for kk, vv in v.items()})
            elif isinstance(v, list):
                cur = total.setdefault(k, [0] * len(v))
                total[k] = [a + b for a, b in zip(cur, v)]
            else:
                total[k] = total.get(k, 0) + v
    return {k: (dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) if isinstance(v, Counter) else v)
            for k, v in total.items()}


class UnitWriter:
    """Writes finished work units into the staging area, atomically; knows which units are done."""

    def __init__(self, out: str, split: str, row_group_size: int = 256):
        self.out = str(out)
        self.split = split
        self.row_group_size = row_group_size
        self.fs, self.root = fs_and_root(out)
        self.staging = posixpath.join(self.root, STAGING, split)

    def _path(self, kind: str, unit_id: int, ext: str) -> str:
        return posixpath.join(self.staging, kind, _unit_name(unit_id) + ext)

    def done_units(self) -> set[int]:
        d = posixpath.join(self.staging, "stats")
        if not self.fs.exists(d):
            return set()
        out = set()
        for p in self.fs.ls(d, detail=False):
            name = posixpath.basename(p)
            if name.startswith("unit-") and name.endswith(".json"):
                out.add(int(name[5:-5]))
        return out

    def _atomic_write(self, path: str, write_fn) -> None:
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with self.fs.open(tmp, "wb") as f:
            write_fn(f)
        self.fs.mv(tmp, path)

    def _write_rows(self, f, config: str, rows: list[dict]) -> None:
        """One row group at a time: a unit's QA rows with embedded images are never one big table."""
        rg = self.row_group_size
        if any(r.get("image") is not None or r.get("images") for r in rows[:1]):
            rg = min(rg, IMAGE_ROW_GROUP)
        w = pq.ParquetWriter(f, schema.arrow_schema(config), compression="zstd")
        for s in range(0, len(rows), max(1, rg)):
            w.write_table(schema.to_table(config, rows[s : s + rg]), row_group_size=rg)
        w.close()

    def write_unit(self, unit_id: int, records: list[dict]) -> dict:
        rows = records_to_rows(records)
        for config in schema.CONFIG_NAMES:
            self._atomic_write(self._path(config, unit_id, ".parquet"),
                               lambda f, c=config: self._write_rows(f, c, rows[c]))
        stats = unit_stats(records, rows)
        data = json.dumps(stats, sort_keys=True).encode()
        self._atomic_write(self._path("stats", unit_id, ".json"), lambda f: f.write(data))
        return stats

    def write_extra_rejects(self, unit_id: int, rejects: list[dict]) -> dict:
        """A unit holding only reject rows (annotations whose image does not exist, bad entries)."""
        return self.write_unit(unit_id, [{"failed": True, "rejects": rejects}])

    def clear(self) -> None:
        if self.fs.exists(self.staging):
            self.fs.rm(self.staging, recursive=True)
        parent = posixpath.dirname(self.staging)
        if self.fs.exists(parent) and not self.fs.ls(parent, detail=False):
            self.fs.rm(parent, recursive=True)

    def unit_files(self, config: str) -> list[str]:
        d = posixpath.join(self.staging, config)
        if not self.fs.exists(d):
            return []
        return sorted(p for p in self.fs.ls(d, detail=False) if p.endswith(".parquet"))

    def load_stats(self) -> list[dict]:
        d = posixpath.join(self.staging, "stats")
        if not self.fs.exists(d):
            return []
        out = []
        for p in sorted(self.fs.ls(d, detail=False)):
            if p.endswith(".json"):
                with self.fs.open(p, "rb") as f:
                    out.append(json.loads(f.read()))
        return out


def existing_shards(fs, root: str, config: str, split: str) -> list[str]:
    d = posixpath.join(root, config)
    if not fs.exists(d):
        return []
    return sorted(p for p in fs.ls(d, detail=False)
                  if posixpath.basename(p).startswith(f"{split}-") and p.endswith(".parquet"))


PIXEL_COLUMNS = ("image", "images", "depth")  # encoded images: counted at full size when sizing shards


def _split_columns(names) -> tuple[list[str], list[str]]:
    pix = [n for n in names if n in PIXEL_COLUMNS]
    return pix, [n for n in names if n not in PIXEL_COLUMNS]


def _other_ratio(meta, batches_nbytes_other: int) -> float:
    """Compressed / in-memory size of a unit file's non-image columns (from its column chunk metadata)."""
    comp = 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            if col.path_in_schema.split(".")[0] not in PIXEL_COLUMNS:
                comp += col.total_compressed_size
    return comp / batches_nbytes_other if batches_nbytes_other else 1.0


def _row_bytes(batch: pa.RecordBatch, ratio_other: float) -> list[float]:
    """Each row's estimated share of a shard: its encoded images at their full size (an upper bound: Parquet's
    dictionary may store an image repeated over a question's rows once) plus its other columns at their
    compression ratio in the unit file."""
    pix, other = _split_columns(batch.schema.names)
    bp, bo = batch.select(pix), batch.select(other)
    return [bp.slice(i, 1).nbytes + bo.slice(i, 1).nbytes * ratio_other for i in range(batch.num_rows)]


class _Shard:
    def __init__(self, fs, path: str, target: pa.Schema):
        self.path, self.fs = path, fs
        self.fh = fs.open(path, "wb")
        self.pw = pq.ParquetWriter(self.fh, target, compression="zstd")
        self.rows, self.bytes, self.row_groups = 0, 0.0, 0

    def write(self, table: pa.Table, row_group_size: int) -> None:
        self.pw.write_table(table, row_group_size=row_group_size)
        self.rows += table.num_rows
        self.row_groups += -(-table.num_rows // max(1, row_group_size))
        try:
            self.bytes = float(self.fh.tell())  # what is on disk so far (row groups are flushed as written)
        except (AttributeError, OSError, ValueError):
            self.bytes += table.nbytes

    def close(self) -> None:
        self.pw.close()
        self.fh.close()


def finalize(writer: UnitWriter, rows_per_shard: int, bytes_per_shard: int | None = None) -> dict[str, dict]:
    """Stream the staged units into final shards. Returns {config: {"num_examples", "num_bytes", "shards"}}.

    Shards fill in order up to ``rows_per_shard`` rows and ``bytes_per_shard`` bytes; they are written under
    temporary names and renamed ``{split}-NNNNN-of-NNNNN.parquet`` once their number is known."""
    fs, root = writer.fs, writer.root
    rows_cap = max(1, int(rows_per_shard))
    # Room for the footer and the estimate's error: aim a little under the cap.
    bytes_cap = 0.95 * bytes_per_shard if bytes_per_shard else None
    result = {}
    for config in schema.CONFIG_NAMES:
        files = writer.unit_files(config)
        for old in existing_shards(fs, root, config, writer.split):
            fs.rm(old)
        fs.makedirs(posixpath.join(root, config), exist_ok=True)
        target = schema.arrow_schema(config)
        # The footer (schema, features metadata, per row group statistics) is written at close: count it in.
        buf = pa.BufferOutputStream()
        pq.ParquetWriter(buf, target, compression="zstd").close()
        footer, per_rg = float(buf.getvalue().size), 0.0
        tmp_names: list[str] = []
        cur: _Shard | None = None
        total, num_bytes = 0, 0

        def new_shard() -> _Shard:
            name = posixpath.join(root, config, f".{writer.split}-{len(tmp_names):05d}.parquet.tmp")
            tmp_names.append(name)
            return _Shard(fs, name, target)

        for p in files:
            with fs.open(p, "rb") as src:
                pf = pq.ParquetFile(src)
                meta = pf.metadata
                rg = max((meta.row_group(i).num_rows for i in range(meta.num_row_groups)), default=1)
                rg = max(1, min(rg, writer.row_group_size))
                ratio = 1.0
                if meta.num_row_groups:
                    per_rg = max(per_rg, (meta.serialized_size - footer) / meta.num_row_groups)
                if bytes_cap:
                    other = _split_columns(pf.schema_arrow.names)[1]
                    ratio = _other_ratio(meta, sum(b.nbytes for b in pf.iter_batches(batch_size=rg, columns=other)))
                for batch in pf.iter_batches(batch_size=rg):
                    table = pa.Table.from_batches([batch]).cast(target)
                    num_bytes += table.nbytes
                    sizes = _row_bytes(batch, ratio) if bytes_cap else None
                    start = 0
                    while start < table.num_rows:
                        if cur is None:
                            cur = new_shard()
                        take = min(table.num_rows - start, rows_cap - cur.rows)
                        if bytes_cap:
                            room, k = bytes_cap - cur.bytes - footer - per_rg * (cur.row_groups + 1), 0
                            while k < take and room >= sizes[start + k]:
                                room -= sizes[start + k]
                                k += 1
                            take = k if (k or cur.rows) else 1  # one row over the cap: a shard of its own
                        if take == 0:
                            cur.close()
                            cur = None
                            continue
                        cur.write(table.slice(start, take), rg)
                        start += take
                        total += take
        if cur is None and not tmp_names:
            cur = new_shard()  # no rows: one empty shard, so the split exists
        if cur is not None:
            cur.close()
        n = len(tmp_names)
        names = []
        for i, tmp in enumerate(tmp_names):
            name = posixpath.join(root, config, shard_name(writer.split, i, n))
            fs.mv(tmp, name)
            names.append(posixpath.basename(name))
        result[config] = {"num_examples": total, "num_bytes": num_bytes, "shards": names}
    return result


def read_config_table(out: str, config: str, split: str | None = None) -> pa.Table:
    """All final shards of a config (optionally one split) as one Arrow table."""
    fs, root = fs_and_root(out)
    d = posixpath.join(root, config)
    files = sorted(p for p in fs.ls(d, detail=False) if p.endswith(".parquet")
                   and (split is None or posixpath.basename(p).startswith(f"{split}-")))
    tables = [pq.read_table(fs.open(p, "rb")) for p in files]
    return pa.concat_tables(tables) if tables else schema.arrow_schema(config).empty_table()
