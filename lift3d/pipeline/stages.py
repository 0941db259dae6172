"""The CPU stages that wrap the pure lifting and QA functions, plus the stage list of a build.

The heavy lifting lives in pure modules (``lift3d.lift``, ``lift3d.qa``: numpy only); these classes only
adapt records to them and turn their per-annotation rejects into reject rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lift3d.io.decode import DecodeStage
from lift3d.pipeline.stage import RecordRejected, Resources, Stage, add_reject

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


def qa_seed(seed: int, image_id: int) -> int:
    """Per-image seed: the same image gets the same questions whatever the sharding or executor."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(image_id) & 0xFFFFFFFFFFFF]).generate_state(1)[0])


class LiftStage(Stage):
    name = "lift"
    resources = Resources(num_cpus=1, batch_size=8)

    def __init__(self, config=None, keep_pixels: bool = False):
        self.config = config
        self.keep_pixels = keep_pixels

    def setup(self) -> None:
        from lift3d.lift import LiftConfig

        if self.config is None:
            self.config = LiftConfig()

    def process_record(self, record: dict) -> dict:
        from lift3d.lift import lift_image

        if record.get("depth") is None:
            raise RecordRejected("depth_missing", "no depth map reached the lift stage")
        if record.get("K") is None:
            raise RecordRejected("missing_intrinsics", "no intrinsics reached the lift stage")
        K = np.asarray(record["K"], dtype=np.float64).reshape(3, 3)
        res = lift_image(record["depth"], K, record["annotations"], record.get("gravity"), self.config,
                         image_id=record["image_id"])
        by_id = {a["annotation_id"]: a for a in record["annotations"]}
        for o in res.objects:
            a = by_id.get(o["annotation_id"], {})
            o["mask_source"] = a.get("mask_source", "dataset" if a.get("mask") is not None else "depth")
            o["flags"] = list(o.get("flags") or []) + list(a.get("mask_flags") or [])
        record["objects"] = res.objects
        for aid, reason, detail in res.rejects:
            add_reject(record, self.name, reason, detail, annotation_id=aid)
        record["gravity"] = res.gravity
        record["gravity_source"] = res.gravity_source
        record["gravity_confidence"] = res.gravity_confidence
        record["depth_scale_factor"] = float(getattr(res, "depth_scale_factor", 1.0))
        record["annotations"] = []  # every annotation is now an object or a reject
        if self.keep_pixels:
            record["depth"] = {"bytes": depth_png_bytes(record["depth"]), "path": None}
        for k in PIXEL_FIELDS:
            if not (self.keep_pixels and k == "depth"):
                record.pop(k, None)
        return record


class QAStage(Stage):
    name = "qa"
    resources = Resources(num_cpus=1, batch_size=32)

    def __init__(self, config=None, seed: int = 0):
        self.config = config
        self.seed = seed

    def setup(self) -> None:
        from lift3d.qa import QAConfig

        if self.config is None:
            self.config = QAConfig()

    def process_record(self, record: dict) -> dict:
        from lift3d.qa import generate_qa

        image = {k: record.get(k) for k in ("image_id", "width", "height", "K", "gravity", "file_name")}
        lifted = {o["annotation_id"] for o in record.get("objects") or []}
        record["rejected_categories"] = sorted(
            {c for aid, c in (record.get("annotation_categories") or {}).items() if aid not in lifted}
        )
        # Categories with an unlifted instance: "the chair" or a count would not be true to the image.
        image["rejected_categories"] = record["rejected_categories"]
        rows, stats = generate_qa(image, record.get("objects") or [], self.config, qa_seed(self.seed, record["image_id"]))
        record["qa"] = rows
        record["qa_stats"] = stats
        return record


@dataclass
class BuildConfig:
    """Everything that determines a build's content (recorded in build_info.json)."""

    split: str = "train"
    depth: str = "dataset"
    device: str = "auto"
    seed: int = 0
    images_per_unit: int = 64
    rows_per_shard: int = 20000
    max_shard_mb: float | None = None
    row_group_size: int = 256
    keep_depth: bool = False
    masks: str = "auto"  # auto | dataset | sam | depth (lift3d/segment)
    segmenter: str = "sam2.1-hiera-base-plus"
    depth_preprocess: str = "auto"  # auto/torch: resize on the device | processor: HF processor on CPU workers
    source_name: str = ""
    source_license: str = ""
    qa: dict = field(default_factory=dict)
    lift: dict = field(default_factory=dict)


def make_stages(cfg: BuildConfig) -> list[Stage]:
    """The ordered stage list of a build: decode -> depth -> lift -> qa (writing is the executor's sink)."""
    from lift3d.depth import DepthConfig, DepthPreprocessStage, DepthStage

    stages: list[Stage] = [DecodeStage(need_dataset_depth=(cfg.depth == "dataset"))]
    dcfg = DepthConfig(backend=cfg.depth, device=cfg.device, preprocess=cfg.depth_preprocess)
    if cfg.depth_preprocess == "processor":
        # the image processor runs on CPU workers (fused with decode in Ray); the GPU actors copy, run, resize
        stages.append(DepthPreprocessStage(dcfg))
    stages.append(DepthStage(dcfg))
    from lift3d.segment import SegmentConfig, SegmentStage

    # Always present: it also records mask_source/mask_flags for dataset masks. On a GPU it declares
    # num_gpus=1, so the Ray executor fuses it with a model depth stage into one actor (one decode per image).
    stages.append(SegmentStage(SegmentConfig(masks=cfg.masks, model=cfg.segmenter, device=cfg.device)))
    from lift3d.lift import LiftConfig

    # Monocular (model) depth has a global scale error that size priors can partly correct; sensor depth is
    # metric and is never rescaled.
    lift_kwargs = {"scale_from_priors": cfg.depth != "dataset", **cfg.lift}
    lift_cfg = LiftConfig(**lift_kwargs)
    stages.append(LiftStage(lift_cfg, keep_pixels=cfg.keep_depth))
    qa_cfg = None
    if cfg.qa:
        from lift3d.qa import QAConfig

        qa_cfg = QAConfig(**cfg.qa)
    stages.append(QAStage(qa_cfg, seed=cfg.seed))
    return stages

