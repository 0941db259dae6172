"""The Ray plan with a GPU segment: CPU pools around a GPU actor pool give the same content as local.

Ray is started with one *logical* GPU (no device is needed: the GPU stage here only passes records on), so
the three-segment plan that a model-depth build uses on a GPU cluster runs on any machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from lift3d.pipeline.executors import LocalExecutor  # noqa: E402
from lift3d.pipeline.ray_executor import RayExecutor, segments  # noqa: E402
from lift3d.pipeline.stage import Resources, Stage  # noqa: E402
from lift3d.build import BuildConfig, make_stages  # noqa: E402
from lift3d.synth import generate  # noqa: E402
from pipeline_runs import run_build, start_ray  # noqa: E402


class NeedsGpu(Stage):
    """Stands where the depth model runs; with ``require`` it fails unless Ray gave its worker a GPU."""

    name = "needs_gpu"
    resources = Resources(num_gpus=1)

    def __init__(self, require: bool):
        self.require = require

    def process_record(self, record):
        if self.require and not ray.get_gpu_ids():
            raise RuntimeError("the GPU stage ran in a worker without a GPU")  # would become a reject row
        return record


@pytest.fixture(scope="module")
def ray_with_a_gpu():
    start_ray(__name__, num_cpus=2, num_gpus=1)
    yield
    ray.shutdown()


def _stages(require_gpu: bool = False):
    st = make_stages(BuildConfig(images_per_unit=2))
    return st[:1] + [NeedsGpu(require_gpu)] + st[1:]


def _run(executor, src: Path, out: Path, require_gpu: bool):
    return run_build(executor, src, out, _stages(require_gpu), 2)


def test_plan_has_three_segments_with_a_gpu_and_one_without():
    st = _stages()
    assert [len(s) for s in segments(st, gpus=True)] == [1, 1, len(st) - 2]
    assert segments(st, gpus=False) == [st]


def test_gpu_pool_between_cpu_pools_equals_local(ray_with_a_gpu, tmp_path):
    src = tmp_path / "synth"
    generate(src, 6, 11, width=256, height=192)
    local = _run(LocalExecutor(progress=False), src, tmp_path / "local", require_gpu=False)
    remote = _run(RayExecutor(progress=False), src, tmp_path / "ray", require_gpu=True)
    assert remote == local
    assert len(local["objects"]) == 6
