"""The Ray executor: same content as local, worker kills retried, crashing records isolated."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from lift3d.pipeline.executors import LocalExecutor  # noqa: E402
from lift3d.pipeline.ray_executor import RayExecutor, segments  # noqa: E402
from lift3d.pipeline.stage import Resources, Stage  # noqa: E402
from lift3d.build import BuildConfig, make_stages  # noqa: E402
from lift3d.synth import generate  # noqa: E402
from pipeline_runs import run_build, run_manifest_build, start_ray  # noqa: E402


@pytest.fixture(scope="module")
def ray_local():
    start_ray(__name__, num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth_ray")
    generate(d, 4, 7, width=256, height=192)
    return d


def _run(executor, synth_dir, out, extra_stages=()):
    return run_build(executor, synth_dir, out, make_stages(BuildConfig(images_per_unit=1)) + list(extra_stages), 1)


class KillOnce(Stage):
    """Kills its own worker process the first time it sees ``image_id`` (marker file says it did)."""

    name = "kill_once"
    resources = Resources()

    def __init__(self, image_id: int, marker: str):
        self.image_id, self.marker = image_id, marker

    def process_record(self, record):
        if record["image_id"] == self.image_id and not os.path.exists(self.marker):
            Path(self.marker).write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return record


class AlwaysCrash(Stage):
    name = "always_crash"
    resources = Resources()

    def __init__(self, image_id: int):
        self.image_id = image_id

    def process_record(self, record):
        if record["image_id"] == self.image_id:
            os._exit(3)
        return record


class Noop(Stage):
    name = "noop"

    def process_record(self, record):
        return record


class GpuNoop(Noop):
    resources = Resources(num_gpus=1)


def test_segments_fuse_by_resource():
    a, b, g, c = Noop(), Noop(), GpuNoop(), Noop()
    assert segments([a, b, g, c]) == [[a, b], [g], [c]]


def test_ray_equals_local(ray_local, synth_dir, tmp_path):
    local = _run(LocalExecutor(progress=False), synth_dir, tmp_path / "local")
    remote = _run(RayExecutor(progress=False), synth_dir, tmp_path / "ray")
    assert remote == local
    assert len(local["objects"]) == 4


def test_killed_worker_loses_nothing(ray_local, synth_dir, tmp_path):
    local = _run(LocalExecutor(progress=False), synth_dir, tmp_path / "local")
    marker = str(tmp_path / "killed.marker")
    got = _run(RayExecutor(progress=False), synth_dir, tmp_path / "ray", [KillOnce(2, marker)])
    assert os.path.exists(marker), "the worker was never killed"
    assert got == local


def test_crashing_record_is_isolated_and_rejected(ray_local, synth_dir, tmp_path):
    local = _run(LocalExecutor(progress=False), synth_dir, tmp_path / "local")
    got = _run(RayExecutor(progress=False), synth_dir, tmp_path / "ray", [AlwaysCrash(1)])
    assert sorted(r["image_id"] for r in got["objects"]) == sorted(r["image_id"] for r in local["objects"] if r["image_id"] != 1)
    crashed = [r for r in got["rejects"] if r["reason"] == "worker_crashed"]
    assert [r["image_id"] for r in crashed] == [1]
    n_ann = sum(1 for r in got["rejects"] if r["image_id"] == 1 and r["annotation_id"] is not None)
    assert n_ann == len(next(r for r in local["objects"] if r["image_id"] == 1)["objects"]) + sum(
        1 for r in local["rejects"] if r["image_id"] == 1 and r["annotation_id"] is not None)


def test_manifest_units_are_read_by_ray_data_and_equal_local(ray_local, synth_dir, tmp_path):
    """A manifest (shards of 3 rows, units of 2: units never cross a shard) on Ray: the rows come from
    ray.data.read_parquet, and the dataset equals the local executor's over the JSON records."""
    local = _run(LocalExecutor(progress=False), synth_dir, tmp_path / "local")
    stages = make_stages(BuildConfig())
    got, report = run_manifest_build(RayExecutor(progress=False), synth_dir, tmp_path / "ray", stages, 2)
    assert got == local
    assert report.units == 3 and report.images == 4  # shards of 3 + 1 rows: units 2 + 1 + 1
    assert report.rows_read["ray_data"] >= 1 and report.rows_read["ray_data"] + report.rows_read["pyarrow"] == 4


def test_manifest_crashing_record_is_isolated_and_rejected(ray_local, synth_dir, tmp_path):
    local = _run(LocalExecutor(progress=False), synth_dir, tmp_path / "local")
    stages = make_stages(BuildConfig()) + [AlwaysCrash(1)]
    got, _ = run_manifest_build(RayExecutor(progress=False), synth_dir, tmp_path / "ray", stages, 2)
    assert sorted(r["image_id"] for r in got["objects"]) == sorted(r["image_id"] for r in local["objects"] if r["image_id"] != 1)
    assert [r["image_id"] for r in got["rejects"] if r["reason"] == "worker_crashed"] == [1]


def test_build_from_manifest_on_ray_equals_build_from_json(ray_local, tmp_path):
    """lift3d build: a manifest on the Ray executor (read by Ray Data) gives the JSON build's dataset and counts."""
    import json

    from lift3d.build import build
    from lift3d.io.ingest import ingest_coco_json
    from pipeline_runs import contents

    d = tmp_path / "synth"
    generate(d, 5, 7, width=200, height=150)
    data = json.loads((d / "annotations.json").read_text())
    data["annotations"].append(dict(data["annotations"][0], id=10**6, image_id=4242))  # an orphan reject
    (d / "annotations.json").write_text(json.dumps(data))
    ingest_coco_json(d / "annotations.json", tmp_path / "m", images_root=d, rows_per_shard=2)
    cfg = BuildConfig(images_per_unit=2, rows_per_shard=40)
    a = build(d / "annotations.json", d, tmp_path / "a", cfg, executor="local", progress=False)
    b = build(tmp_path / "m", None, tmp_path / "b", cfg, executor="ray", progress=False)
    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    assert a["counts"] == b["counts"] and b["units"]["total"] == 3
    assert b["units"]["rows_read"]["ray_data"] >= 1 and sum(b["units"]["rows_read"].values()) == 5
    assert a["units"]["rows_read"]["pyarrow"] == 5 and not a["units"]["rows_read"].get("ray_data")
