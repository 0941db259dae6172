"""The segment stage: an object mask per annotation, between the depth and the lift stages.

Input record fields: ``rgb``, ``depth``, ``K``, ``gravity`` (or None), ``annotations`` (each with ``bbox2d`` and
``mask`` = the dataset's segmentation or None).

Output, per annotation: ``mask`` (bool H x W, or None = let the lift stage separate the object by depth),
``mask_source`` ("dataset" | "sam" | "depth") and ``mask_flags`` (list of str, e.g. ``["sam_rejected_floor"]``).
Per record: ``gravity_estimate`` - the image's up direction and floor level
(:meth:`lift3d.lift.gravity.GravityEstimate.to_record`) when the depth check ran, else None; the lift stage
reuses it instead of estimating again.

Modes (``SegmentConfig.masks``):

* ``dataset``: the dataset mask where present, else depth separation.
* ``sam``: the segmenter for every box without a dataset mask (missing weights -> :class:`MissingSegmenterError`
  in ``setup()``). Dataset masks are kept: they are ground truth.
* ``depth``: dataset masks are ignored; every object is separated by depth in the lift stage.
* ``auto`` (default): dataset mask where present, else the segmenter when its weights are available offline,
  else depth (one log line says why).

A segmenter mask is kept only when it agrees with the depth in the box (:mod:`lift3d.segment.consistency`; its
floor test uses the lifter's floor - the lowest well-supported horizontal surface along the image's down
direction - and is skipped when no floor is seen);
multi-mask outputs are chosen by that agreement. A rejected mask falls back to depth separation and the object
is flagged with the reason (``sam_rejected_floor``, ``sam_rejected_layers``, ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from lift3d.pipeline.stage import Resources, Stage, cuda_available

from .consistency import ConsistencyConfig, choose_mask, rejection_flag
from .segmenter import DEFAULT_MODEL, BoxSegmenter, MissingSegmenterError, locate, resolve_model_id

log = logging.getLogger(__name__)

MODES = ("auto", "dataset", "sam", "depth")


@dataclass
class SegmentConfig:
    masks: str = "auto"  # "auto" | "dataset" | "sam" | "depth"
    model: str = DEFAULT_MODEL  # short name | HF id | local directory
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    dtype: str = "auto"  # "auto" = bf16 autocast on CUDA, float32 on CPU
    batch_size: int = 8  # images per stage batch
    box_batch: int = 64  # boxes per mask-decoder call
    multimask: bool = True  # ask for 3 candidates per box and pick by depth agreement
    check: bool = True  # the depth agreement check (False: keep the model's top-scored mask)
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    offline: bool | None = None  # None = honour HF_HUB_OFFLINE, then probe the hub
    estimate_gravity: bool = True  # no dataset gravity: estimate it (the lifter's floor fit) for the floor test


class SegmentStage(Stage):
    name = "segment"

    def __init__(self, config: SegmentConfig | None = None, **kwargs):
        self.config = config or SegmentConfig(**kwargs)
        c = self.config
        if c.masks not in MODES:
            raise ValueError(f"masks must be one of {MODES}, got {c.masks!r}")
        wants_model = c.masks in ("auto", "sam")
        gpu = wants_model and (c.device == "auto" or c.device.startswith("cuda")) and cuda_available()
        self.resources = Resources(num_cpus=1.0, num_gpus=1.0 if gpu else 0.0, batch_size=c.batch_size)
        self.segmenter: BoxSegmenter | None = None
        self.fallback_reason: str | None = None
        self._ready = False
        self._load_tried = False

    # ------------------------------------------------------------------ lifecycle
    def setup(self) -> None:
        if self._ready:
            return
        c = self.config
        # "sam" loads now, so missing weights stop the build at once; "auto" loads on the first annotation
        # that has no dataset mask (a fully masked dataset never touches the segmenter or warns about it).
        if c.masks == "sam":
            self._load_segmenter()
        self._ready = True

    def _load_segmenter(self) -> None:
        c = self.config
        self._load_tried = True
        seg = BoxSegmenter(c.model, device=c.device, dtype=c.dtype, box_batch=c.box_batch,
                           multimask=c.multimask, offline=c.offline)
        try:
            self.segmenter = seg.load()
        except MissingSegmenterError as exc:
            if c.masks == "sam":
                raise
            self.fallback_reason = str(exc)
            log.warning("segment: no segmenter, box-only objects use depth separation (%s)", exc)

    def preflight(self) -> None:
        """Driver-side check before any worker starts: with ``--masks sam`` the segmenter's weights resolve."""
        if self.config.masks == "sam":
            locate(resolve_model_id(self.config.model), self.config.offline)

    @property
    def uses_model(self) -> bool:
        return self.segmenter is not None

    def provenance(self) -> dict:
        c = self.config
        model = resolve_model_id(c.model) if c.masks in ("auto", "sam") else None
        return {
            "masks": c.masks,
            "segmenter": model if (self.segmenter is not None or not self._ready) else None,
            "segmenter_fallback": self.fallback_reason,
            "mask_check": "depth agreement (floor / layers / background / leak / box fit)" if c.check else "none",
        }

    # ------------------------------------------------------------------ processing
    def process_batch(self, records: list[dict]) -> list[dict]:
        self.setup()
        return [self._safe(self.process_record, r) for r in records]

    def process_record(self, record: dict) -> dict:
        self.setup()
        c = self.config
        record.setdefault("gravity_estimate", None)  # set by the depth check (_floor) when it runs
        anns = record.get("annotations") or []
        todo = []
        for a in anns:
            a["mask_flags"] = list(a.get("mask_flags") or [])
            if c.masks != "depth" and a.get("mask") is not None:
                a["mask_source"] = "dataset"
                continue
            a["mask"] = None
            a["mask_source"] = "depth"
            if c.masks == "auto" and not self._load_tried and a.get("bbox2d") is not None and not a.get("iscrowd"):
                self._load_segmenter()
            if self.segmenter is not None and a.get("bbox2d") is not None and not a.get("iscrowd"):
                todo.append(a)
        if todo:
            self._segment(record, todo)
        return record

    def _segment(self, record: dict, anns: list[dict]) -> None:
        c = self.config
        rgb = np.asarray(record["rgb"])
        depth = record.get("depth")
        K = np.asarray(record["K"], dtype=np.float64).reshape(3, 3) if record.get("K") is not None else None
        boxes = np.array([a["bbox2d"] for a in anns], dtype=np.float64)
        masks, scores = self.segmenter.segment(rgb, boxes)
        down, floor_h = None, None
        check = c.check and depth is not None and K is not None
        if check:
            down, floor_h = self._floor(record, depth, K)
        for a, cand, sc in zip(anns, masks, scores):
            if not check:
                k = int(np.argmax(sc))
                a["mask"], a["mask_source"] = cand[k], "sam"
                continue
            best, checks = choose_mask(cand, a["bbox2d"], depth, K, down, floor_h, sc, c.consistency)
            if best is None:
                a["mask_flags"].append(rejection_flag(checks))
                continue
            a["mask"], a["mask_source"] = cand[best], "sam"

    def _floor(self, record: dict, depth: np.ndarray, K: np.ndarray):
        """(down, floor_h) for the floor test, from the image's gravity/floor estimate - the lifter's
        (:func:`lift3d.lift.gravity.image_gravity` with the lifter's default settings), stored on the record
        (``gravity_estimate``) for the lift stage to reuse.  (None, None) - no floor test - without an up
        direction or without a floor seen."""
        from lift3d.lift.config import GravityConfig
        from lift3d.lift.gravity import RECORD_FIELD, image_gravity

        g = GravityConfig(estimate=self.config.estimate_gravity)
        try:
            ge, _ = image_gravity(depth, K, record.get("gravity"), record.get("annotations") or [],
                                  estimate=g.estimate, min_confidence=g.min_confidence)
        except Exception:  # noqa: BLE001 - no floor test rather than a failed image
            log.debug("segment: gravity estimate failed", exc_info=True)
            return None, None
        record[RECORD_FIELD] = ge.to_record(g.estimate, g.min_confidence)
        if ge.down is None or ge.floor_h is None:
            return None, None
        return ge.down, ge.floor_h


__all__ = ["MODES", "SegmentConfig", "SegmentStage"]
