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
from pipeline_runs import run_build, start_ray  # noqa: E402


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
