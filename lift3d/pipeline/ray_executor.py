"""Run the stages on Ray Data: one row per work unit, streamed through stage *segments*.

Consecutive stages with the same kind of resource are fused into one segment (so a unit's pixels are not
shipped between CPU stages): decode -> [depth, a GPU actor pool when the backend is a model and GPUs
exist] -> lift + QA + write.  With no GPU in the cluster every stage runs on CPU and the plan is one segment.
Every segment runs on a Ray Data actor pool: stages are set up once per worker (priors, models), and each
actor holds its next unit queued, so no worker waits for the driver between units (Ray Data tasks do: the
streaming executor collects finished tasks in ``ray.wait`` rounds of up to 100 ms, which idled task workers
15-20 % of the time on ~1 s units; docs/benchmarks.md).  Each row carries a unit's records pickled; the last
segment writes the unit's staging files itself and returns only its small stats, so the driver holds nothing
large and Ray Data's streaming executor bounds memory through backpressure.

Faults: actors are restarted when their process dies and the unit they held is retried
(``max_task_retries``).  Blocks that still fail are tolerated (``DataContext.max_errored_blocks``); their units
are then re-run one record per task, so a record that keeps crashing its worker is isolated, rejected as
``worker_crashed`` after bounded retries, and the rest of its unit is written normally.

User errors: a :class:`~lift3d.errors.UserError` raised while an actor sets its stages up (missing weights, an
unknown model id, an unsupported option) does not kill the actor (Ray would restart it forever and bury the
message in an ``ActorDiedError``): the actor answers every unit with a small failure marker, the driver stops at
the first one and raises the same ``UserError``, so the CLI prints the same one line and exit code 2 as with the
local executor.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import warnings
from collections import defaultdict

import numpy as np

from lift3d.errors import UserError
from lift3d.pipeline.run import RunReport, WorkUnit, run_stages
from lift3d.pipeline.stage import Stage
from lift3d.rejects import reject_record

log = logging.getLogger(__name__)

TASK_RETRIES = 2  # a unit whose worker died is retried this many times before its block counts as failed


def segments(stages: list[Stage], gpus: bool = True) -> list[list[Stage]]:
    """Group consecutive stages by whether they need a GPU; with ``gpus=False`` (none in the cluster) one segment."""
    if not gpus:
        return [list(stages)] if stages else []
    out: list[list[Stage]] = []
    for s in stages:
        gpu = s.resources.num_gpus > 0
        if out and (out[-1][0].resources.num_gpus > 0) == gpu:
            out[-1].append(s)
        else:
            out.append([s])
    return out


class _UserFailure:
    """A user error raised on a worker, carried to the driver as data (message and exit code only: the
    exception classes take other constructor arguments than their message, so they are not pickled)."""

    def __init__(self, exc: UserError):
        self.message = str(exc)
        self.exit_code = int(getattr(exc, "exit_code", 2))

    def error(self) -> UserError:
        err = UserError(self.message)
        err.exit_code = self.exit_code
        return err


def _failure_batch(batch: dict, failure: _UserFailure) -> dict:
    blob = pickle.dumps(failure)
    return {"unit_id": np.asarray(batch["unit_id"], dtype=np.int64),
            "payload": np.array([blob] * len(batch["unit_id"]), dtype=object)}


def _process(stages, sink, batch: dict) -> dict:
    unit_ids, payloads = [], []
    for unit_id, payload in zip(batch["unit_id"], batch["payload"]):
        records = pickle.loads(payload)
        if isinstance(records, _UserFailure):  # an earlier segment failed to set up: pass the marker on
            unit_ids.append(int(unit_id))
            payloads.append(payload)
            continue
        read = None
        if not isinstance(records, list):  # a work unit's description (a manifest row range): read it here
            unit = records
            records = unit.load()
            read = getattr(unit, "read_counts", None)
        run_stages(stages, records)
        if sink is not None:
            stats = sink.write_unit(int(unit_id), records)
            payload = pickle.dumps({"images": len(records), "stats": stats, "read": read})
        else:
            payload = pickle.dumps(records)
        unit_ids.append(int(unit_id))
        payloads.append(payload)
    return {"unit_id": np.array(unit_ids, dtype=np.int64), "payload": np.array(payloads, dtype=object)}


class _SegmentActor:
    """One worker of a segment's pool: stages set up once (``setup``: models, priors), then units stream through."""

    def __init__(self, stages_blob: bytes, sink_blob: bytes):
        self.stages = pickle.loads(stages_blob)
        self.sink = pickle.loads(sink_blob)
        self.failure: _UserFailure | None = None
        try:
            for s in self.stages:
                s.setup()
        except UserError as exc:  # keep the actor alive: its answer to every unit says why it cannot work
            self.failure = _UserFailure(exc)

    def __call__(self, batch):
        if self.failure is not None:
            return _failure_batch(batch, self.failure)
        try:
            return _process(self.stages, self.sink, batch)
        except UserError as exc:
            return _failure_batch(batch, _UserFailure(exc))


def _units_of_block(table, plan) -> dict:
    """A Ray Data read task's block of shard rows -> one row per work unit that starts in it (the plan decides:
    ``units_in_block``), each carrying its rows; runs fused with the read, on the read task."""
    units = plan.units_in_block(table)
    return {"unit_id": np.array([u.unit_id for u in units], dtype=np.int64),
            "payload": np.array([pickle.dumps(u) for u in units] or [], dtype=object)}


def read_units(ray, plan):
    """The Ray Data dataset of a Parquet-backed plan's work units (one row each: ``unit_id``, ``payload``).

    The shards are read by ``ray.data.read_parquet`` in Ray tasks (the driver lists no rows); each row comes
    with its file (``include_paths``) and Ray's hash of its position in that file (``include_row_hash``), from
    which ``plan.units_in_block`` places it in its unit: Ray Data keeps neither the rows' order nor unit
    boundaries in its blocks."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None and sys.modules.get("fsspec.implementations.http") is None:
        # Without aiohttp, fsspec's HTTP module cannot import. Ray 2.60 resolves read paths on several threads, each
        # importing it: one thread can see another's half-imported module and get an ImportError that Ray does not
        # catch (it catches ModuleNotFoundError). None in sys.modules makes every such import a ModuleNotFoundError.
        sys.modules["fsspec.implementations.http"] = None
    # The read tasks ask for no CPU: they are light next to the stages, and the actor pools take every CPU (a read
    # task that needs one would wait for ever behind them).
    ds = ray.data.read_parquet(plan.parquet_paths(), include_paths=True, include_row_hash=True,
                               partitioning=None, file_extensions=None, num_cpus=0)
    return ds.map_batches(_units_of_block, fn_args=(plan,), batch_size=None, batch_format="pyarrow",
                          zero_copy_batch=True)


def _one_record(stages_blob: bytes, record_blob: bytes) -> bytes:
    try:
        stages = pickle.loads(stages_blob)
        for s in stages:
            s.setup()
        records = [pickle.loads(record_blob)]
        run_stages(stages, records)
    except UserError as exc:
        return pickle.dumps(_UserFailure(exc))
    return pickle.dumps(records[0])


def _on_gpu(seg: list[Stage], n_gpus: int) -> bool:
    return n_gpus > 0 and seg[0].resources.num_gpus > 0


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, progress: bool | None = None, gpus_per_actor: float = 1.0):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.gpus_per_actor = gpus_per_actor

    def _init(self):
        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:  # a local instance; LIFT3D_RAY_NUM_CPUS caps its CPUs (benchmarks, shared machines)
                n = os.environ.get("LIFT3D_RAY_NUM_CPUS")
                ray.init(num_cpus=int(n) if n else None, **kwargs)
        import ray.data  # configures Ray Data's logging on import

        if not log.isEnabledFor(logging.INFO):
            # Ray Data prints INFO lines (plan, start, finish) of every dataset on the console; keep them in its
            # session log file only (-v keeps them on the console too).
            for h in logging.getLogger("ray.data").handlers:
                if not isinstance(h, logging.FileHandler) and "File" not in type(h).__name__:
                    h.setLevel(logging.ERROR)
        ctx = ray.data.DataContext.get_current()
        ctx.max_errored_blocks = -1  # failed units are isolated record by record below
        ctx.enable_progress_bars = bool(self.progress)
        ctx.execution_options.preserve_order = False
        ctx.max_tasks_in_flight_per_actor = 2  # one unit running and one queued per actor: no idle gap, no hoarding
        return ray

    def run(self, stages: list[Stage], units: list[WorkUnit], sink) -> RunReport:
        import time

        ray = self._init()
        report = RunReport()
        t0 = time.perf_counter()
        if not units:
            return report
        resources = ray.cluster_resources()
        n_gpus, n_cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        segs = segments(stages, gpus=n_gpus > 0)
        plan = units if hasattr(units, "units_in_block") else None
        if plan is not None:  # a manifest: Ray Data reads the shards, its read tasks make the units
            ds = read_units(ray, plan)
        else:  # units given as a list (records in memory, or descriptions the workers read)
            ds = ray.data.from_items(
                [{"unit_id": u.unit_id, "payload": pickle.dumps(u.records if isinstance(u, WorkUnit) else u)}
                 for u in units],
                override_num_blocks=len(units),
            )
        from ray import cloudpickle  # stages may be defined in __main__ or a test module

        sink_blob = cloudpickle.dumps(sink)
        for i, seg in enumerate(segs):
            last = i == len(segs) - 1
            first_after_read = plan is not None and i == 0
            if _on_gpu(seg, n_gpus):
                need = {"num_gpus": self.gpus_per_actor}
                pool = ray.data.ActorPoolStrategy(size=max(1, int(n_gpus // self.gpus_per_actor)))
            else:
                cpus = max(s.resources.num_cpus for s in seg)
                need = {"num_cpus": cpus}
                slots = max(1, int(n_cpus // cpus)) if cpus > 0 else max(1, n_cpus)
                # With no GPU the single segment gets every CPU; CPU segments around a GPU pool share the CPUs
                # (the GPU actors' nodes included), so Ray Data sizes those pools between 1 and all.
                # A manifest read starts with Ray Data's file listing, a task that takes one CPU: the pool after it
                # starts with one actor fewer than it may grow to, or the listing would never run.
                pool = (ray.data.ActorPoolStrategy(size=slots) if n_gpus == 0 and not first_after_read
                        else ray.data.ActorPoolStrategy(min_size=max(1, slots - 1) if n_gpus == 0 else 1,
                                                        max_size=slots))
            with warnings.catch_warnings():
                # Ray 2.60 has no named parameter for max_task_retries (its default for actor pools is -1: a unit
                # that kills its worker would be retried forever), so it goes through the deprecated **kwargs.
                warnings.filterwarnings("ignore", message=".*ray_remote_args. is deprecated")
                ds = ds.map_batches(
                    _SegmentActor, batch_size=1, compute=pool,
                    fn_constructor_args=(cloudpickle.dumps(seg), sink_blob if last else cloudpickle.dumps(None)),
                    max_restarts=-1, max_task_retries=TASK_RETRIES, **need,
                )
        done = set()
        with warnings.catch_warnings():
            # fewer units than pool slots (small builds) is expected here, not a misconfiguration
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            for row in ds.iter_rows():
                info = pickle.loads(row["payload"])
                if isinstance(info, _UserFailure):  # stop the dataset here; the CLI prints one line, exit 2
                    raise info.error()
                done.add(int(row["unit_id"]))
                report.units += 1
                report.images += info["images"]
                report.unit_done.append((time.perf_counter() - t0, info["images"]))
                for k, v in (info.get("read") or {}).items():
                    report.rows_read[k] += v
        if plan is not None:
            missing = [plan.unit(u) for u in plan.todo_ids() if u not in done]
        else:
            missing = [u for u in units if u.unit_id not in done]
        if missing:
            log.warning("%d work unit(s) failed after retries; re-running them one record per task", len(missing))
            self._isolate(ray, stages, missing, sink, report)
        report.seconds = time.perf_counter() - t0
        return report

    def _isolate(self, ray, stages, units: list[WorkUnit], sink, report: RunReport) -> None:
        """Re-run failed units record by record; a record whose task keeps dying is rejected."""
        need_gpu = any(s.resources.num_gpus > 0 for s in stages) and ray.cluster_resources().get("GPU", 0) > 0
        remote = ray.remote(num_gpus=self.gpus_per_actor if need_gpu else 0, max_retries=TASK_RETRIES)(_one_record)
        from ray import cloudpickle

        blob = ray.put(cloudpickle.dumps(stages))
        for unit in units:
            records = unit.load()
            refs = [remote.remote(blob, pickle.dumps(r)) for r in records]
            out = []
            for rec, ref in zip(records, refs):
                try:
                    res = pickle.loads(ray.get(ref))
                except Exception as exc:  # the worker died on this record every time
                    rec = dict(rec)
                    reject_record(rec, "executor", "worker_crashed",
                                  f"worker died on this record {TASK_RETRIES + 1} times: {type(exc).__name__}")
                    out.append(rec)
                    continue
                if isinstance(res, _UserFailure):
                    raise res.error()
                out.append(res)
            sink.write_unit(unit.unit_id, out)
            report.units += 1
            report.images += len(out)
