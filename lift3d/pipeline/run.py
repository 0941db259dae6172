"""Work units and the stage loop that every executor runs over a unit's records."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

from lift3d.pipeline.stage import Stage


@dataclass
class WorkUnit:
    """A deterministic slice of the input: consecutive records in image-id order."""

    unit_id: int
    records: list[dict]

    @property
    def size(self) -> int:
        return len(self.records)

    def load(self) -> list[dict]:
        return self.records


def iter_units(units):
    """The units of ``units``: a list, or a plan that makes them on demand (``units()``, e.g. a manifest's)."""
    return units.units() if hasattr(units, "units_in_block") else iter(units)


def total_images(units) -> int:
    return units.todo_images if hasattr(units, "units_in_block") else sum(u.size for u in units)


def make_units(records: list[dict], images_per_unit: int) -> list[WorkUnit]:
    n = max(1, int(images_per_unit))
    return [WorkUnit(i, records[s : s + n]) for i, s in enumerate(range(0, len(records), n))]


@dataclass
class RunReport:
    units: int = 0
    images: int = 0
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=lambda: defaultdict(float))
    unit_done: list = field(default_factory=list)  # (seconds since start, images) per finished unit, in order
    rows_read: dict = field(default_factory=lambda: defaultdict(int))  # manifest rows by reader (ray_data, pyarrow)

    def steady_images_per_s(self) -> float | None:
        """Throughput after the first unit finished (worker start-up excluded); None with < 3 units."""
        if len(self.unit_done) < 3:
            return None
        t0 = self.unit_done[0][0]
        dt = self.unit_done[-1][0] - t0
        return sum(n for _, n in self.unit_done[1:]) / dt if dt > 0 else None


_BLAS = None


def blas_threads(stage: Stage):
    """A context that caps the BLAS thread pool at the CPUs a CPU stage declares (``resources.num_cpus``).

    The CPU stages solve many small systems (a 230x230 depth-field solve: 0.4 ms on one thread, 35 ms of CPU
    with OpenBLAS's default two threads on this 2-core box under load, the threads spinning against each other
    and against the other workers); a stage that declared one CPU gets one BLAS thread on every executor.
    GPU stages (torch) are left alone."""
    global _BLAS
    if stage.resources.num_gpus > 0:
        return contextlib.nullcontext()
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=max(1, int(stage.resources.num_cpus)), user_api="blas")


def run_stages(stages: list[Stage], records: list[dict], timings: dict | None = None) -> list[dict]:
    """Run every stage over ``records`` in each stage's own batch size (in place; returns the records), each CPU
    stage with as many BLAS threads as CPUs it declared (:func:`blas_threads`).

    ``timings`` accumulates each stage's CPU time of this process (not wall time, which other load inflates).
    """
    for stage in stages:
        t0 = time.process_time()
        bs = max(1, stage.resources.batch_size)
        with blas_threads(stage):
            for s in range(0, len(records), bs):
                stage.process(records[s : s + bs])
        if timings is not None:
            timings[stage.name] += time.process_time() - t0
    return records
