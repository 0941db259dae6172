"""Executors run a list of stages over work units and hand each finished unit to the sink.

The stages do not know which executor runs them.  ``LocalExecutor`` runs everything in-process (for
debugging and small builds); ``RayExecutor`` (``lift3d.pipeline.ray_executor``) runs the same stages on a
Ray cluster.  Both produce the same dataset content.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from lift3d.pipeline.stage import Stage


@dataclass
class WorkUnit:
    """A deterministic slice of the input: consecutive records in image-id order."""

    unit_id: int
    records: list[dict]


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

    def steady_images_per_s(self) -> float | None:
        """Throughput after the first unit finished (worker start-up excluded); None with < 3 units."""
        if len(self.unit_done) < 3:
            return None
        t0 = self.unit_done[0][0]
        dt = self.unit_done[-1][0] - t0
        return sum(n for _, n in self.unit_done[1:]) / dt if dt > 0 else None


def run_stages(stages: list[Stage], records: list[dict], timings: dict | None = None) -> list[dict]:
    """Run every stage over ``records`` in each stage's own batch size (in place; returns the records).

    ``timings`` accumulates each stage's CPU time of this process (not wall time, which other load inflates).
    """
    for stage in stages:
        t0 = time.process_time()
        bs = max(1, stage.resources.batch_size)
        for s in range(0, len(records), bs):
            stage.process(records[s : s + bs])
        if timings is not None:
            timings[stage.name] += time.process_time() - t0
    return records


class LocalExecutor:
    name = "local"

    def __init__(self, progress: bool | None = None):
        self.progress = sys.stderr.isatty() if progress is None else progress

    def run(self, stages: list[Stage], units: list[WorkUnit], sink) -> RunReport:
        report = RunReport()
        t0 = time.perf_counter()
        for stage in stages:
            stage.setup()
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=sum(len(u.records) for u in units), unit="img", desc="build")
        for unit in units:
            run_stages(stages, unit.records, report.stage_seconds)
            t_write = time.process_time()
            sink.write_unit(unit.unit_id, unit.records)
            report.stage_seconds["write"] += time.process_time() - t_write
            report.units += 1
            report.images += len(unit.records)
            report.unit_done.append((time.perf_counter() - t0, len(unit.records)))
            if bar is not None:
                bar.update(len(unit.records))
        if bar is not None:
            bar.close()
        report.seconds = time.perf_counter() - t0
        return report


def make_executor(name: str, **kwargs):
    if name == "local":
        return LocalExecutor(progress=kwargs.get("progress"))
    if name == "ray":
        from lift3d.pipeline.ray_executor import RayExecutor

        return RayExecutor(address=kwargs.get("ray_address"), progress=kwargs.get("progress"))
    raise ValueError(f"unknown executor {name!r} (use local or ray)")
