"""Executors run a list of stages over work units and hand each finished unit to the sink.

The stages do not know which executor runs them.  ``LocalExecutor`` runs everything in-process (for
debugging and small builds); ``RayExecutor`` (``lift3d.pipeline.ray_executor``) runs the same stages on a
Ray cluster.  Both produce the same dataset content.
"""

from __future__ import annotations

import sys
import time

from lift3d.pipeline.run import RunReport, WorkUnit, iter_units, run_stages, total_images
from lift3d.pipeline.stage import Stage


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

            bar = tqdm(total=total_images(units), unit="img", desc="build")
        for unit in iter_units(units):  # a manifest's units are made one at a time (the driver holds no list)
            records = unit.load()  # a manifest unit reads its rows here (pyarrow); nothing stays behind after the write
            run_stages(stages, records, report.stage_seconds)
            t_write = time.process_time()
            sink.write_unit(unit.unit_id, records)
            report.stage_seconds["write"] += time.process_time() - t_write
            report.units += 1
            report.images += len(records)
            report.unit_done.append((time.perf_counter() - t0, len(records)))
            for k, v in (getattr(unit, "read_counts", None) or {}).items():
                report.rows_read[k] += v
            if bar is not None:
                bar.update(len(records))
            del records
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
