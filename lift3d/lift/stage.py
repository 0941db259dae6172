"""The lift stage: adapts a record (depth, K, gravity, annotations with masks) to ``lift_image`` and turns its
per-annotation rejects into reject rows; drops the pixels once the objects exist."""

from __future__ import annotations

import numpy as np

from lift3d.pipeline.stage import Resources, Stage
from lift3d.rejects import RecordRejected, add_reject

# Fields that carry pixels; dropped once the lift stage is done so records stay small downstream.
PIXEL_FIELDS = ("rgb", "depth", "depth_dataset")


def depth_png_bytes(depth: np.ndarray) -> bytes:
    """Depth in metres -> 16-bit PNG in millimetres (0 = invalid, clipped at 65.535 m)."""
    import io

    from PIL import Image

    d = np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    mm = np.clip(np.rint(d * 1000.0), 0, 65535).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(mm).save(buf, format="PNG")
    return buf.getvalue()



class LiftStage(Stage):
    name = "lift"
    resources = Resources(num_cpus=1, batch_size=8)

    def __init__(self, config=None, keep_pixels: bool = False):
        self.config = config
        self.keep_pixels = keep_pixels
        self.category_synonyms: dict = {}  # the input's synonyms (LVIS), for the size priors
        self._priors = None

    def bind_input(self, meta: dict) -> None:
        self.category_synonyms = dict(meta.get("category_synonyms") or {})

    def setup(self) -> None:
        from lift3d.lift import LiftConfig

        from lift3d.lift.priors import synonym_lookup

        if self.config is None:
            self.config = LiftConfig()
        self._priors = synonym_lookup(self.category_synonyms)

    def lift_record(self, record: dict):
        """:func:`lift3d.lift.lift_image` of a record as this stage runs it (its ``LiftResult``; the record keeps its
        annotations, loses the segment stage's stored gravity estimate)."""
        from lift3d.lift import lift_image
        from lift3d.lift.gravity import RECORD_FIELD, GravityEstimate
        from lift3d.lift.priors import lookup

        stored = record.pop(RECORD_FIELD, None)  # the segment stage's gravity/floor estimate, used below
        if record.get("depth") is None:
            raise RecordRejected("depth_missing", "no depth map reached the lift stage")
        if record.get("K") is None:
            raise RecordRejected("missing_intrinsics", "no intrinsics reached the lift stage")
        K = np.asarray(record["K"], dtype=np.float64).reshape(3, 3)
        g = self.config.gravity
        # the segment stage's estimate of this image's gravity and floor, when made with the same settings
        est = GravityEstimate.from_record(stored, g.estimate, g.min_confidence)
        fsd = g.fov_prior_focal_log_sd if g.focal_log_sd > 0 and record.get("intrinsics_source") == "fov_prior" \
            else g.focal_log_sd
        return lift_image(record["depth"], K, record["annotations"], record.get("gravity"), self.config,
                          image_id=record["image_id"], estimate=est, priors=self._priors or lookup,
                          rgb=record.get("rgb"), focal_log_sd=fsd)

    def process_record(self, record: dict) -> dict:
        res = self.lift_record(record)
        if res.K is not None:  # the focal length from the image's vanishing points: what the boxes were lifted with
            record["K"], record["intrinsics_source"] = res.K, "vanishing"
        by_id = {a["annotation_id"]: a for a in record["annotations"]}
        for o in res.objects:
            a = by_id.get(o["annotation_id"], {})
            o["mask_source"] = a.get("mask_source", "dataset" if a.get("mask") is not None else "depth")
            o["flags"] = list(o.get("flags") or []) + list(a.get("mask_flags") or [])
            # source flags (OpenImages occluded / truncated / inside): the QA guards treat them like the lifter's
            o["flags"] += [f for f in a.get("flags") or () if f not in o["flags"]]
        record["objects"] = res.objects
        for aid, reason, detail in res.rejects:
            add_reject(record, self.name, reason, detail, annotation_id=aid)
        record["gravity"] = res.gravity
        record["gravity_source"] = res.gravity_source
        record["gravity_confidence"] = res.gravity_confidence
        record["depth_scale_factor"] = float(res.depth_scale_factor)
        record["depth_scale_log_sigma"] = float(res.depth_scale_log_sigma)
        record["lateral_scale_log_sigma"] = float(res.lateral_scale_log_sigma)
        record["edge_ramp_px"] = None if res.edge_ramp_px is None else float(res.edge_ramp_px)
        record["annotations"] = []  # every annotation is now an object or a reject
        if self.keep_pixels:
            record["depth"] = {"bytes": depth_png_bytes(record["depth"]), "path": None}
        for k in PIXEL_FIELDS:
            if not (self.keep_pixels and k == "depth"):
                record.pop(k, None)
        return record
