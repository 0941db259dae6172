"""``lift3d build``: read the input, plan work units, run the stages with an executor, finalize the output."""

from __future__ import annotations

import dataclasses
import json
import platform
import posixpath
import time
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path

from lift3d import __version__
from lift3d.errors import UserError
from lift3d.errors import InputError
from lift3d.io.manifest import ManifestPlan, is_manifest, open_manifest
from lift3d.output import UnitWriter, existing_shards, finalize, fs_and_root, merge_stats
from lift3d.pipeline.executors import make_executor
from lift3d.pipeline.stage import Stage
from lift3d.schema import CONFIG_NAMES

VERSIONED = ("torch", "transformers", "ray", "datasets", "pyarrow", "numpy", "scipy", "pycocotools")


@dataclass
class BuildConfig:
    """Everything that determines a build's content (recorded in build_info.json)."""

    split: str = "train"
    depth: str = "dataset"
    depth_origin: str = "sensor"  # --depth dataset only: sensor | model (the files came from a depth model)
    # sensor depth: log sd of its metric scale (poor calibration: the scale is fused with the size priors and the
    # camera height); 0 (default): metric, never rescaled
    sensor_scale_sd: float = 0.0
    device: str = "auto"
    seed: int = 0
    images_per_unit: int = 64
    rows_per_shard: int = 20000
    max_shard_mb: float | None = None
    row_group_size: int = 256
    keep_depth: bool = False
    embed_images: bool = False  # the image in objects.image and qa.images (lift3d/io/embed.py)
    embed_images_format: str = "original"  # original | jpeg | png
    jpeg_quality: int = 90
    masks: str = "auto"  # auto | dataset | sam | depth (lift3d/segment)
    segmenter: str = "sam2.1-hiera-base-plus"
    depth_preprocess: str = "auto"  # auto/torch: resize on the device | processor: HF processor on CPU workers
    source_name: str = ""
    source_license: str = ""
    qa: dict = field(default_factory=dict)
    lift: dict = field(default_factory=dict)


# The lift options for model depth (a depth backend, or --depth-origin model): the scale from every cue with its
# uncertainty (a model's per-image scale is off by 10-20 % as a rule: prior_std 0.15; x1.5-x3 failures now and
# then: failure_prob 0.05 with a log spread of 0.6), the pixels near an object's outline treated by the measured
# soft edges, and each object's floor contact at the floor seen just below it.
MODEL_DEPTH_LIFT = {"scale": {"from_priors": True, "cues": True, "prior_std": 0.15, "failure_prob": 0.05,
                              "failure_std": 0.6},
                    "crop": {"soft_edges": True}, "gravity": {"vanishing": True, "focal_log_sd": 0.08, "horizon_focal": True,
                                                 "floor_bend": 0.2},
                    "contact": {"local_floor_band": 0.15}, "separation": {"smear_window": 1.0}}


def sensor_depth_lift(scale_sd: float) -> dict:
    """The lift options for sensor depth whose metric scale is known only to a log sd ``scale_sd`` (a stereo rig or
    depth camera of unknown calibration): that scale is a cue, combined by precision with the size priors and the
    camera height (model depth's posterior, with no gross failures and no focal error: the dataset's intrinsics are
    calibrated, scale.shared_std 0). The depth field stays off: dividing out a distortion measured on the planes
    moved objects' relative depths more than a sensor's few per cent now and then (front / behind answers lost on
    scratch scenes); so do soft edges, vanishing points and the local floor (a sensor's edges are sharp, its gravity
    and intrinsics given). ``scale_sd`` 0 (the default): metric, never rescaled. Only for a scale worse than the
    cues: outdoor IoU at 3-30 m is so sensitive to scale that exact depth fused at 0.03 loses 0.78 -> 0.61 (scratch
    seed 8000) for a 0.7 % rms shift, while sensor-like depth (±5 % scale) gains about +0.04."""
    if scale_sd <= 0:
        return {}
    return {"scale": {"from_priors": True, "cues": True, "prior_std": float(scale_sd), "failure_prob": 0.0,
                      "shared_std": 0.0}, "depth_field": {"enabled": False}}


def make_stages(cfg: BuildConfig) -> list[Stage]:
    """The ordered stage list of a build: decode -> depth -> lift -> qa (writing is the executor's sink)."""
    from lift3d.depth import DepthConfig, DepthPreprocessStage, DepthStage
    from lift3d.io.decode import DecodeStage
    from lift3d.lift.stage import LiftStage
    from lift3d.qa.stage import QAStage

    stages: list[Stage] = [DecodeStage(need_dataset_depth=(cfg.depth == "dataset"))]
    if cfg.embed_images:
        from lift3d.io.embed import EmbedImageStage

        stages.append(EmbedImageStage(cfg.embed_images_format, cfg.jpeg_quality))
    dcfg = DepthConfig(backend=cfg.depth, device=cfg.device, preprocess=cfg.depth_preprocess,
                       origin=cfg.depth_origin)
    if cfg.depth_preprocess == "processor":
        # the image processor runs on CPU workers (fused with decode in Ray); the GPU actors copy, run, resize
        stages.append(DepthPreprocessStage(dcfg))
    stages.append(DepthStage(dcfg))
    from lift3d.segment import SegmentConfig, SegmentStage

    # Always present: it also records mask_source/mask_flags for dataset masks. On a GPU it declares
    # num_gpus=1, so the Ray executor fuses it with a model depth stage into one actor (one decode per image).
    stages.append(SegmentStage(SegmentConfig(masks=cfg.masks, model=cfg.segmenter, device=cfg.device)))
    from lift3d.lift import LiftConfig

    # Monocular (model) depth has a global scale error that size priors can partly correct; sensor depth is metric
    # unless sensor_scale_sd says its calibration is poor (then fused with them by precision). Dataset depth
    # files from a model (--depth-origin model) are model depth.
    model = cfg.depth != "dataset" or cfg.depth_origin == "model"
    lift_cfg = LiftConfig(**(MODEL_DEPTH_LIFT if model else sensor_depth_lift(cfg.sensor_scale_sd))).update(cfg.lift)
    stages.append(LiftStage(lift_cfg, keep_pixels=cfg.keep_depth))
    from lift3d.qa import QAConfig

    # An image without gravity here is one whose dataset gave none and whose lift found none (no floor, no vertical
    # lines within their search cones: often a camera pitched steeply down), so the camera frame is not taken for a
    # level one: the types whose truth needs the up direction (above / below, front / behind, ...) are skipped.
    qa_cfg = QAConfig(**{"assume_level_without_gravity": False, **(cfg.qa or {})})
    stages.append(QAStage(qa_cfg, seed=cfg.seed))
    return stages


def library_versions() -> dict:
    out = {"lift3d": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _abs(p) -> str:
    """Local paths are recorded absolute (so `lift3d show`/`report` work from anywhere); URIs as given."""
    s = str(p)
    return s if "://" in s else str(Path(s).resolve())


def _provenance(stages) -> dict:
    """Models, versions and assumptions of the stages that have them (depth backend, segmenter)."""
    out = {}
    for s in stages:
        if hasattr(s, "provenance"):
            out.update(s.provenance())
    return out


def _load_build_info(fs, root: str) -> dict:
    p = posixpath.join(root, "build_info.json")
    if fs.exists(p):
        with fs.open(p, "rb") as f:
            return json.loads(f.read())
    return {}


def _images_root(annotations, images) -> Path:
    """The image root of a build: ``--images``, else the one recorded in a manifest."""
    if images is None and is_manifest(annotations):
        images = open_manifest(annotations).meta.get("images_root")
    if images is None:
        raise UserError("--images is required (the manifest records no image root)")
    root = Path(images)
    if not root.is_dir():
        raise InputError(f"{root}: image root is not a directory (pass --images ROOT)")
    return root


def _input_manifest(annotations, writer: UnitWriter, resume: bool):
    """The build's input as a manifest: a manifest folder as is; a COCO JSON ingested into the staging area.

    The JSON is streamed into ``OUT/.staging/{split}/manifest`` (a local temporary folder when OUT is remote), so
    both inputs reach the stages as the same record stream; ``--resume`` reuses that manifest and does not
    re-read the JSON.
    """
    if is_manifest(annotations):
        return open_manifest(annotations)
    if Path(str(annotations)).is_dir():
        raise InputError(f"{annotations}: a folder without manifest.json (write one with lift3d ingest)")
    from lift3d.io.ingest import ingest_coco_json

    local = "://" not in writer.out or writer.out.startswith("file://")
    if local:
        folder = Path(writer.staging.replace("file://", "")) / "manifest"
    else:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="lift3d-manifest-"))
    if resume and is_manifest(folder):
        return open_manifest(folder)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    ingest_coco_json(annotations, folder, "coco")
    return open_manifest(folder)


def preflight(stages, executor: str, ray_address=None) -> None:
    """Check on the driver what can be checked before workers start (model weights resolvable, options valid),
    so a missing model is one line and exit 2 at once. Skipped for the weights when joining an existing Ray
    cluster (``--ray-address`` / ``RAY_ADDRESS``): its workers may hold weights this machine does not; there
    the workers' own check reaches the driver as the same one-line error (``lift3d.pipeline.ray_executor``)."""
    import os

    if executor == "ray" and (ray_address or os.environ.get("RAY_ADDRESS")):
        return
    for s in stages:
        s.preflight()


def build(annotations, images, out, cfg: BuildConfig, *, executor: str = "local", ray_address=None,
          resume: bool = False, overwrite: bool = False, progress=None) -> dict:
    """Run a build; returns the split's entry of build_info.json."""
    t_start = time.perf_counter()
    stages = make_stages(cfg)
    preflight(stages, executor, ray_address)
    fs, root = fs_and_root(out)
    writer = UnitWriter(out, cfg.split, row_group_size=cfg.row_group_size)
    has_final = any(existing_shards(fs, root, c, cfg.split) for c in CONFIG_NAMES)
    if has_final and not (overwrite or resume):
        raise UserError(f"{out} already has a '{cfg.split}' split; pass --overwrite to rebuild it or --resume to continue")
    if not resume:
        writer.clear()
    images = _images_root(annotations, images)
    man = _input_manifest(annotations, writer, resume).for_split(cfg.split)
    for st in stages:
        st.bind_input(man.meta)

    # Work units: fixed-size row ranges of each manifest shard, made on demand (the driver holds no list of them);
    # the Ray executor reads the shards with ray.data.read_parquet, the local one each unit's rows with pyarrow.
    plan = ManifestPlan(man, cfg.images_per_unit, images)
    done = writer.done_units() if resume else set()
    todo = plan.skip(done)
    ex = make_executor(executor, ray_address=ray_address, progress=progress)
    report = ex.run(stages, todo, writer)
    orphan_unit = plan.num_units  # annotations/images that belong to no valid record
    if man.meta.get("orphan_reject_count") and orphan_unit not in done:
        writer.write_extra_rejects(orphan_unit, man.orphan_rejects())

    shards = finalize(writer, cfg.rows_per_shard,
                      int(cfg.max_shard_mb * 2**20) if cfg.max_shard_mb else None)
    stats = merge_stats(writer.load_stats())
    stats.update(man.counts())
    info = _load_build_info(fs, root)
    split_info = {
        "config": dataclasses.asdict(cfg),
        "input": {"annotations": _abs(annotations), "images": _abs(images), "format": man.meta.get("format"),
                  "manifest": is_manifest(annotations)},
        "priors_coverage": man.meta.get("priors_coverage"),
        "counts": {**man.counts(), **{f"{c}_rows": shards[c]["num_examples"] for c in CONFIG_NAMES}},
        "stats": stats,
        "shards": shards,
        "executor": executor,
        "units": {"total": plan.num_units, "skipped_on_resume": len(todo.done), "run": report.units,
                  "rows_read": dict(report.rows_read)},
        "timing": {"seconds": round(time.perf_counter() - t_start, 3),
                   "executor_seconds": round(report.seconds, 3),
                   "steady_images_per_s": (round(report.steady_images_per_s(), 3)
                                           if report.steady_images_per_s() else None),
                   "stage_seconds": {k: round(v, 3) for k, v in report.stage_seconds.items()}},
        "models": _provenance(stages),
    }
    info.setdefault("splits", {})[cfg.split] = split_info
    info["versions"] = library_versions()
    info["lift3d_version"] = __version__
    # Top-level counts describe the most recent split (the one validate checks by default).
    info["counts"] = split_info["counts"]
    with fs.open(posixpath.join(root, "build_info.json"), "wb") as f:
        f.write(json.dumps(info, indent=2, sort_keys=True, default=str).encode())
    from lift3d.card import write_card

    write_card(out, info)
    writer.clear()
    return split_info
