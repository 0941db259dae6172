"""Helpers shared by the pipeline tests (imported by name: a unique module name, not through conftest)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lift3d.io.coco import read_coco3d
from lift3d.output import UnitWriter, finalize, read_config_table
from lift3d.pipeline.run import make_units

CONFIGS = ("objects", "qa", "rejects")


def start_ray(test_module: str, **init_kwargs) -> None:
    """A local Ray instance for a test module; stages defined in that module are pickled by value."""
    import ray

    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(include_dashboard=False, log_to_driver=False, **init_kwargs)
    ray.cloudpickle.register_pickle_by_value(sys.modules[test_module])


def contents(out) -> dict:
    """Every row of every config of a finished build, in shard order."""
    return {c: read_config_table(str(out), c).to_pylist() for c in CONFIGS}


def run_build(executor, src: Path, out: Path, stages: list, images_per_unit: int) -> dict:
    """Run ``stages`` over a synthetic set with ``executor``, finalize the split, return its contents."""
    inp = read_coco3d(src / "annotations.json", src)
    writer = UnitWriter(str(out), "train")
    executor.run(stages, make_units(inp.records, images_per_unit), writer)
    finalize(writer, 1000)
    return contents(out)


def run_manifest_build(executor, src: Path, out: Path, stages: list, images_per_unit: int,
                       rows_per_shard: int = 3) -> tuple[dict, object]:
    """``run_build`` over a manifest of the same set (ingested with ``rows_per_shard``): units are a ManifestPlan,
    which the Ray executor reads with ray.data.read_parquet. Returns the contents and the run report."""
    from lift3d.io.ingest import ingest_coco_json
    from lift3d.io.manifest import ManifestPlan, open_manifest

    ingest_coco_json(src / "annotations.json", out.parent / (out.name + "-manifest"), rows_per_shard=rows_per_shard)
    plan = ManifestPlan(open_manifest(out.parent / (out.name + "-manifest")), images_per_unit, src)
    writer = UnitWriter(str(out), "train")
    report = executor.run(stages, plan, writer)
    finalize(writer, 1000)
    return contents(out), report
