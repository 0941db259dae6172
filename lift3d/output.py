"""Output layout: per-work-unit staging files, then a driver-side finalize into the HF layout.

While a build runs, each finished work unit writes ``OUT/.staging/{split}/{config}/unit-NNNNNN.parquet``
for every config and then ``OUT/.staging/{split}/stats/unit-NNNNNN.json`` — the completion marker, written
last, each file via a temporary name and an atomic rename.  A resumed build skips the units whose marker
exists and redoes the others.  ``finalize`` then streams the unit files, in unit order, into
``OUT/{config}/{split}-NNNNN-of-NNNNN.parquet`` (zstd, small row groups, the ``huggingface`` features
metadata embedded), writes ``build_info.json`` and the dataset card ``README.md``, and removes the staging.
Paths may be local or any fsspec/pyarrow URI (``s3://...``, ``gs://...``).
"""

from __future__ import annotations

import json
import math
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


def records_to_rows(records: list[dict]) -> dict[str, list[dict]]:
    """Split enriched records into the rows of each config. Failed records only contribute rejects."""
    rows = {"objects": [], "qa": [], "rejects": []}
    for r in records:
        rows["rejects"].extend(r.get("rejects") or [])
        if r.get("failed"):
            continue
        rows["objects"].append(r)
        rows["qa"].extend(r.get("qa") or [])
    return rows


# upper edges of the bins of the card's "depth scale uncertainty" table (sd of the log scale; the last bin is open)
SCALE_SIGMA_BINS = (0.05, 0.1, 0.15, 0.25)


def scale_sigma_hist(records: list[dict]) -> list[int]:
    """Images per bin of ``depth_scale_log_sigma`` (model depth only: sensor depth has 0 and is not counted)."""
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

    def write_unit(self, unit_id: int, records: list[dict]) -> dict:
        rows = records_to_rows(records)
        for config in schema.CONFIG_NAMES:
            table = schema.to_table(config, rows[config])
            self._atomic_write(
                self._path(config, unit_id, ".parquet"),
                lambda f, t=table: pq.write_table(t, f, compression="zstd", row_group_size=self.row_group_size),
            )
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


def finalize(writer: UnitWriter, rows_per_shard: int, bytes_per_shard: int | None = None) -> dict[str, dict]:
    """Stream the staged units into final shards. Returns {config: {"num_examples", "num_bytes", "shards"}}."""
    fs, root = writer.fs, writer.root
    result = {}
    for config in schema.CONFIG_NAMES:
        files = writer.unit_files(config)
        total = sum(pq.ParquetFile(fs.open(p, "rb")).metadata.num_rows for p in files)
        n_shards = max(1, math.ceil(total / max(1, rows_per_shard)))
        if bytes_per_shard:
            raw = sum(fs.size(p) for p in files)
            n_shards = max(n_shards, math.ceil(raw / bytes_per_shard))
        per_shard = max(1, math.ceil(total / n_shards)) if total else 1
        for old in existing_shards(fs, root, config, writer.split):
            fs.rm(old)
        fs.makedirs(posixpath.join(root, config), exist_ok=True)
        target = schema.arrow_schema(config)
        shard_i, in_shard, pw, f, tmp = 0, 0, None, None, None
        names = []

        def open_shard(i):
            name = posixpath.join(root, config, shard_name(writer.split, i, n_shards))
            fh = fs.open(name + ".tmp", "wb")
            return name, fh, pq.ParquetWriter(fh, target, compression="zstd")

        name, f, pw = open_shard(0)
        num_bytes = 0
        for p in files:
            with fs.open(p, "rb") as src:
                table = pq.read_table(src).cast(target)
            num_bytes += table.nbytes
            start = 0
            while start < table.num_rows:
                if in_shard >= per_shard and shard_i < n_shards - 1:
                    pw.close(); f.close(); fs.mv(name + ".tmp", name); names.append(name)
                    shard_i += 1
                    in_shard = 0
                    name, f, pw = open_shard(shard_i)
                take = min(per_shard - in_shard, table.num_rows - start) if shard_i < n_shards - 1 else table.num_rows - start
                pw.write_table(table.slice(start, take), row_group_size=writer.row_group_size)
                in_shard += take
                start += take
        pw.close(); f.close(); fs.mv(name + ".tmp", name); names.append(name)
        # Empty trailing shards (possible when rows ran out early) keep the -of-N naming complete.
        for i in range(shard_i + 1, n_shards):
            name, f, pw = open_shard(i)
            pw.close(); f.close(); fs.mv(name + ".tmp", name); names.append(name)
        result[config] = {"num_examples": total, "num_bytes": num_bytes, "shards": [posixpath.basename(n) for n in names]}
    return result


def read_config_table(out: str, config: str, split: str | None = None) -> pa.Table:
    """All final shards of a config (optionally one split) as one Arrow table."""
    fs, root = fs_and_root(out)
    d = posixpath.join(root, config)
    files = sorted(p for p in fs.ls(d, detail=False) if p.endswith(".parquet")
                   and (split is None or posixpath.basename(p).startswith(f"{split}-")))
    tables = [pq.read_table(fs.open(p, "rb")) for p in files]
    return pa.concat_tables(tables) if tables else schema.arrow_schema(config).empty_table()
