"""Pipeline stages: small units with a declared resource need, unaware of which executor runs them.

A *record* is a plain dict for one input image (see docs/architecture.md, "Records").  A stage takes a
batch (list) of records and returns the same records, enriched.  Per-record failures never escape a
stage: :meth:`Stage.process` turns an exception on one record into a ``rejects`` entry on that record
and marks it ``failed`` so later stages pass it through untouched.

Executors (``lift3d.pipeline.executors``) call ``setup()`` once per worker, then ``process(batch)``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from lift3d.rejects import RecordRejected, reject_record


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs. ``num_gpus`` > 0 makes it an actor pool stage in Ray."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    batch_size: int = 8


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False when torch is missing); decides GPU resource requests."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001  (a broken CUDA install must not stop CPU builds)
        return False


class Stage:
    """Base class. Subclasses set ``name`` and ``resources`` and implement ``process_record``."""

    name: str = "stage"
    resources: Resources = Resources()

    def setup(self) -> None:
        """Load models or other heavy state; called once per worker before the first batch."""

    def bind_input(self, meta: dict) -> None:
        """The input's metadata (``manifest.json``: format, categories, synonyms), given on the driver before any
        worker starts; a stage keeps what it needs of it (small: it travels with the stage)."""

    def preflight(self) -> None:
        """Cheap checks on the driver before any worker starts (weights resolvable, options valid); raise
        ``UserError``. Workers may see what the driver does not (a remote cluster), so ``setup`` still checks."""

    def process_record(self, record: dict) -> dict:
        raise NotImplementedError

    def process_batch(self, records: list[dict]) -> list[dict]:
        """Override for stages that batch across records (e.g. a GPU model); default: one by one."""
        return [self._safe(self.process_record, r) for r in records]

    def process(self, records: list[dict]) -> list[dict]:
        live = [r for r in records if not r.get("failed")]
        if live:
            try:
                self.process_batch(live)
            except Exception:  # a batch-level failure: retry each record alone to isolate it
                for r in live:
                    self._safe(lambda rec: self.process_batch([rec])[0], r)
        return records

    def _safe(self, fn, record: dict) -> dict:
        try:
            out = fn(record)
            return out if out is not None else record
        except RecordRejected as rej:
            reject_record(record, self.name, rej.reason, rej.detail)
        except Exception as exc:  # never crash the run for one record
            detail = f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-300:]}"
            reject_record(record, self.name, "stage_error", detail)
        return record
