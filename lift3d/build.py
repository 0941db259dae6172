"""``lift3d build``: read the input, plan work units, run the stages with an executor, finalize the output."""

from __future__ import annotations

import dataclasses
import json
import platform
import posixpath
import time
from importlib import metadata
from pathlib import Path

from lift3d import __version__
from lift3d.errors import UserError
from lift3d.io.coco import read_coco3d
from lift3d.output import UnitWriter, existing_shards, finalize, fs_and_root, merge_stats
from lift3d.pipeline.executors import make_executor, make_units
from lift3d.pipeline.stages import BuildConfig, make_stages
from lift3d.schema import CONFIG_NAMES

VERSIONED = ("torch", "transformers", "ray", "datasets", "pyarrow", "numpy", "scipy", "pycocotools")


def library_versions() -> dict:
    out = {"lift3d": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _abs(p) -> str:
    """Local paths are recorded absolute (so `lift3d show`/`report` work from anywhere); URIs as given."""
    s = str(p)
    return s if "://" in s else str(Path(s).resolve())


def _provenance(stages) -> dict:
    """Models, versions and assumptions of the stages that have them (depth backend, segmenter)."""
    out = {}
    for s in stages:
        if hasattr(s, "provenance"):
            out.update(s.provenance())
    return out


def _load_build_info(fs, root: str) -> dict:
    p = posixpath.join(root, "build_info.json")
    if fs.exists(p):
        with fs.open(p, "rb") as f:
            return json.loads(f.read())
    return {}


def build(annotations, images, out, cfg: BuildConfig, *, executor: str = "local", ray_address=None,
          resume: bool = False, overwrite: bool = False, progress=None) -> dict:
    """Run a build; returns the split's entry of build_info.json."""
    t_start = time.perf_counter()
    inp = read_coco3d(annotations, images)
    fs, root = fs_and_root(out)
    writer = UnitWriter(out, cfg.split, row_group_size=cfg.row_group_size)
    has_final = any(existing_shards(fs, root, c, cfg.split) for c in CONFIG_NAMES)
    if has_final and not (overwrite or resume):
        raise UserError(f"{out} already has a '{cfg.split}' split; pass --overwrite to rebuild it or --resume to continue")
    if not resume:
        writer.clear()

    units = make_units(inp.records, cfg.images_per_unit)
    done = writer.done_units() if resume else set()
    todo = [u for u in units if u.unit_id not in done]
    stages = make_stages(cfg)
    ex = make_executor(executor, ray_address=ray_address, progress=progress)
    report = ex.run(stages, todo, writer)
    orphan_unit = len(units)  # annotations/images that belong to no valid record
    if inp.orphan_rejects and orphan_unit not in done:
        writer.write_extra_rejects(orphan_unit, inp.orphan_rejects)

    shards = finalize(writer, cfg.rows_per_shard,
                      int(cfg.max_shard_mb * 2**20) if cfg.max_shard_mb else None)
    stats = merge_stats(writer.load_stats())
    stats.update(inp.counts())
    info = _load_build_info(fs, root)
    split_info = {
        "config": dataclasses.asdict(cfg),
        "input": {"annotations": _abs(annotations), "images": _abs(images)},
        "counts": {**inp.counts(), **{f"{c}_rows": shards[c]["num_examples"] for c in CONFIG_NAMES}},
        "stats": stats,
        "shards": shards,
        "executor": executor,
        "units": {"total": len(units), "skipped_on_resume": len(done & {u.unit_id for u in units}),
                  "run": report.units},
        "timing": {"seconds": round(time.perf_counter() - t_start, 3),
                   "executor_seconds": round(report.seconds, 3),
                   "steady_images_per_s": (round(report.steady_images_per_s(), 3)
                                           if report.steady_images_per_s() else None),
                   "stage_seconds": {k: round(v, 3) for k, v in report.stage_seconds.items()}},
        "models": _provenance(stages),
    }
    info.setdefault("splits", {})[cfg.split] = split_info
    info["versions"] = library_versions()
    info["lift3d_version"] = __version__
    # Top-level counts describe the most recent split (the one validate checks by default).
    info["counts"] = split_info["counts"]
    with fs.open(posixpath.join(root, "build_info.json"), "wb") as f:
        f.write(json.dumps(info, indent=2, sort_keys=True, default=str).encode())
    from lift3d.card import write_card

    write_card(out, info)
    writer.clear()
    return split_info
