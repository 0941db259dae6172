"""The depth stage: metric depth at image resolution plus intrinsics for every image record.

Input record fields: ``rgb`` (H x W x 3 uint8), ``depth_dataset`` (H x W float32 metres, 0 = none, or None),
``K`` (9 floats or None), ``exif_focal_35mm`` (float or None), ``width``, ``height``.

Output fields: ``depth`` (H x W float32 metres, 0 = invalid), ``depth_source``, ``K`` (9 floats),
``intrinsics_source`` ("dataset" | "model" | "exif" | "fov_prior"), ``depth_assumed_focal`` (bool).

Reject reasons (stable): ``depth_missing``, ``depth_empty``, ``missing_intrinsics``, ``invalid_intrinsics``,
``depth_shape_mismatch`` (dataset backend); ``rgb_missing``, ``rgb_unsupported_shape`` (an extreme aspect ratio
that the processor would resize to zero rows), ``invalid_intrinsics``, ``depth_empty`` (model backends).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lift3d.geometry.camera import IntrinsicsError
from lift3d.pipeline.stage import Resources, Stage, cuda_available
from lift3d.rejects import RecordRejected

from .backends import DepthBackend, check_backend, make_backend, resolve_model_id
from .intrinsics import FOV_PRIOR_HFOV_DEG, dataset_K, resolve_intrinsics


@dataclass
class DepthConfig:
    backend: str = "dataset"  # "dataset" | short name (da2-indoor-small, ..., depth-pro) | HF id | local dir
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    batch_size: int = 8  # images per forward pass
    dtype: str = "auto"  # "auto" = bfloat16 autocast on CUDA, float32 on CPU
    num_workers: int = 0  # CPU threads for preprocessing (0 = min(4, cores))
    input_size: int | None = None  # override the processor's input size (e.g. 518); None = checkpoint's
    offline: bool | None = None  # None = honour HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE, then probe the hub
    min_valid_fraction: float = 0.0  # dataset depth: reject as depth_empty below this fraction of valid pixels
    preprocess: str = "auto"  # Depth Anything: "auto" = "torch" (resize on the device) | "processor" (HF, CPU)
    origin: str = "sensor"  # dataset backend: "sensor" | "model" (depth files cached from a depth model)


class DepthStage(Stage):
    name = "depth"

    def __init__(self, config: DepthConfig | None = None, **kwargs):
        self.config = config or DepthConfig(**kwargs)
        is_model = self.config.backend != "dataset"
        dev = self.config.device
        # an explicit "cuda" asks the executor for a GPU even where the stage is built on a CPU-only driver
        gpu = is_model and (dev.startswith("cuda") or (dev == "auto" and cuda_available()))
        self.resources = Resources(num_cpus=1.0, num_gpus=1.0 if gpu else 0.0, batch_size=self.config.batch_size)
        self.backend: DepthBackend | None = None

    # ------------------------------------------------------------------ lifecycle
    def setup(self) -> None:
        if self.backend is None:
            c = self.config
            self.backend = make_backend(c.backend, device=c.device, dtype=c.dtype, num_workers=c.num_workers,
                                        input_size=c.input_size, offline=c.offline, preprocess=c.preprocess)

    def preflight(self) -> None:
        """Driver-side check before any worker starts: the weights resolve and are a supported model."""
        check_backend(self.config.backend, offline=self.config.offline)

    def provenance(self) -> dict:
        """What the dataset card should say about depth (does not load the model)."""
        c = self.config
        model_id = None if c.backend == "dataset" else resolve_model_id(c.backend)
        assumed = bool(model_id) and not _is_depth_pro(model_id, self.backend)
        return {
            "depth_backend": c.backend,
            "depth_model": model_id,
            "depth_assumed_focal": assumed,
            "fov_prior_hfov_deg": round(FOV_PRIOR_HFOV_DEG, 3),
            "intrinsics_policy": "dataset K > EXIF 35mm-equivalent (unless x1.3 off the model's estimate) > model-estimated (Depth Pro) > FOV prior",
            "note": (
                "Depth Anything V2 metric depth assumes the focal length of its training cameras, not the image's: "
                "metric scale is approximate where the real focal length differs (rows: depth_assumed_focal=true)."
                if assumed else ""
            ),
        }

    # ------------------------------------------------------------------ processing
    def process_batch(self, records: list[dict]) -> list[dict]:
        if self.backend is None:
            self.setup()
        if not self.backend.is_model:
            return [self._safe(self._dataset_record, r) for r in records]
        return self._model_batch(records)

    def process_record(self, record: dict) -> dict:
        return self.process_batch([record])[0]

    # dataset backend: everything is per record
    def _dataset_record(self, r: dict) -> dict:
        d = r.get("depth_dataset")
        if d is None:
            raise RecordRejected("depth_missing", "no dataset depth for this image (depth_file absent or unreadable)")
        d = np.asarray(d)
        if d.ndim == 3 and d.shape[2] == 1:
            d = d[:, :, 0]
        if d.ndim != 2:
            raise RecordRejected("depth_missing", f"depth map has shape {d.shape}, expected (H, W)")
        model_origin = self.config.origin == "model"
        if r.get("K") is None and not model_origin:
            raise RecordRejected("missing_intrinsics", "sensor depth needs the dataset K; none given")
        H, W = _image_hw(r, fallback=d.shape)
        try:
            # depth files cached from a model without the model's intrinsics: the policy's K, as the model path
            # would take it (EXIF, else the field-of-view prior; no model estimate is at hand)
            K, source = resolve_intrinsics(r, W, H) if model_origin else (dataset_K(r), "dataset")
        except IntrinsicsError as exc:
            raise RecordRejected("invalid_intrinsics", str(exc)) from None
        d = d.astype(np.float32, copy=False)
        d = np.where(np.isfinite(d) & (d > 0), d, 0.0).astype(np.float32)
        if d.shape != (H, W):
            d = _resize_sensor_depth(d, H, W)
        valid = np.count_nonzero(d)
        if valid == 0 or valid < self.config.min_valid_fraction * d.size:
            raise RecordRejected("depth_empty", f"{valid} valid depth pixels of {d.size}")
        r["depth"] = d
        # depth files cached from a model are model depth downstream (depth_source "dataset-model")
        r["depth_source"] = "dataset-model" if model_origin else "dataset"
        r["K"] = K.reshape(-1).tolist()
        r["intrinsics_source"] = source
        r["depth_assumed_focal"] = source == "fov_prior"
        return r

    def _model_batch(self, records: list[dict]) -> list[dict]:
        b = self.backend
        ok = []
        for r in records:
            self._safe(self._check_rgb, r)
            if r.get("failed"):
                r.pop("depth_input", None)
            else:
                ok.append(r)
        # bucket by the processor's output shape (the DPT processor cannot stack mixed shapes); records
        # preprocessed upstream (DepthPreprocessStage) bucket by the shape of their prepared input
        buckets: dict = {}
        for r in ok:
            pre = r.get("depth_input")
            key = ("pre", tuple(pre.shape)) if pre is not None else b.bucket_key(*r["rgb"].shape[:2])
            buckets.setdefault(key, []).append(r)
        bs = max(1, int(self.config.batch_size))
        chunks = [rs[i : i + bs] for rs in buckets.values() for i in range(0, len(rs), bs)]
        if not chunks:
            return records
        # CPU preprocessing of chunk i+1 overlaps the device work of chunk i (kernels are queued
        # asynchronously; the only synchronisation is the one copy back per chunk)
        pool = self._prefetch_pool()
        fut = pool.submit(self._prepare, chunks[0])
        for i, chunk in enumerate(chunks):
            prepared = fut.result()
            if i + 1 < len(chunks):
                fut = pool.submit(self._prepare, chunks[i + 1])
            known_f = [_known_fx(r, b) for r in chunk]
            preds = b.run(prepared, [r["rgb"].shape[:2] for r in chunk], known_f)
            for r, p, f in zip(chunk, preds, known_f):
                r.pop("depth_input", None)
                self._safe(lambda rec, p=p, f=f: self._finish_model_record(rec, p, f), r)
        return records

    def _prepare(self, chunk: list[dict]):
        if chunk[0].get("depth_input") is not None:
            import torch

            return torch.from_numpy(np.stack([r["depth_input"] for r in chunk]).astype(np.float32, copy=False))
        return self.backend.prepare([r["rgb"] for r in chunk])

    def _prefetch_pool(self):
        if getattr(self, "_pool", None) is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="depth-prefetch")
        return self._pool

    def _check_rgb(self, r: dict) -> dict:
        rgb = r.get("rgb")
        if rgb is None:
            raise RecordRejected("rgb_missing", "no decoded image for the depth model")
        rgb = np.asarray(rgb)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or min(rgb.shape[:2]) < 2:
            raise RecordRejected("rgb_missing", f"image has shape {rgb.shape}, expected (H, W, 3)")
        if rgb.shape[2] == 4:
            rgb = rgb[:, :, :3]
        if rgb.dtype != np.uint8:
            rgb = np.clip(rgb, 0, 255).astype(np.uint8)
        r["rgb"] = rgb
        key = self.backend.bucket_key(*rgb.shape[:2])
        if min(key) < 1:
            raise RecordRejected("rgb_unsupported_shape",
                                 f"image {rgb.shape[1]}x{rgb.shape[0]} resizes to {key[1]}x{key[0]} model input")
        try:
            dataset_K(r)
        except IntrinsicsError as exc:
            raise RecordRejected("invalid_intrinsics", str(exc)) from None
        return r

    def _finish_model_record(self, r: dict, p, f_used: float | None) -> dict:
        """The record's depth, K and provenance from the model's prediction ``p``, whose depth a focal-aware model
        converted with ``f_used`` (:func:`_known_fx`; None: its own estimate)."""
        b = self.backend
        H, W = r["rgb"].shape[:2]
        K, source = resolve_intrinsics(r, W, H, model_focal_px=p.focal_px)
        depth = p.depth
        if not np.any(depth > 0):
            raise RecordRejected("depth_empty", "the depth model returned no valid pixel")
        if b.estimates_focal and f_used is not None and source == "model":
            # the EXIF focal length the depth was converted with lost to the model's estimate (a crop after capture):
            # Depth Pro's metric depth is proportional to the focal length it is converted with
            depth = (depth * np.float32(K[0, 0] / f_used)).astype(np.float32, copy=False)
        r["depth"] = depth
        r["depth_source"] = b.name
        r["K"] = K.reshape(-1).tolist()
        r["intrinsics_source"] = source
        if b.estimates_focal:
            # Depth Pro's metric depth uses the dataset fx when known, else the EXIF focal length, else its own
            # estimate; a checkpoint without an FOV head falls back to the prior focal, which is an assumption.
            r["depth_assumed_focal"] = source not in ("dataset", "exif", "model")
        else:
            r["depth_assumed_focal"] = bool(b.assumed_focal)
        return r


class DepthPreprocessStage(Stage):
    """Optional CPU stage in front of :class:`DepthStage` for executors that separate CPU and GPU workers (Ray):
    with ``preprocess="processor"`` runs the checkpoint's image processor and stores ``depth_input``
    ((3, h, w) float32) on each record, so the GPU actors only copy, run and resize. Loads the processor config
    only (no weights). Records it cannot prepare are left for the depth stage (which rejects them with a reason).
    A no-op otherwise: the ``dataset`` backend, Depth Pro and the default ``torch`` preprocessing resize on the
    device, where it costs less than shipping float32 model inputs between workers.
    """

    name = "depth_preprocess"

    def __init__(self, config: DepthConfig | None = None, **kwargs):
        self.config = config or DepthConfig(**kwargs)
        self.resources = Resources(num_cpus=1.0, num_gpus=0.0, batch_size=self.config.batch_size)
        self.processor = None
        self._bucket = None

    def setup(self) -> None:
        if self.config.backend == "dataset" or self.processor is not None:
            return
        from .backends import DepthAnythingBackend, locate_weights

        model_id = resolve_model_id(self.config.backend)
        source, local_only, model_type = locate_weights(model_id, offline=self.config.offline)
        if model_type != "depth_anything":
            return
        if self.config.preprocess != "processor":
            return  # torch mode resizes on the device: nothing worth doing upstream
        b = DepthAnythingBackend(model_id, device="cpu", num_workers=self.config.num_workers,
                                 input_size=self.config.input_size, preprocess="processor")
        b.load_processor(source, local_only)
        self.processor = b

    def process_batch(self, records: list[dict]) -> list[dict]:
        self.setup()
        if self.processor is None:
            return records
        buckets: dict = {}
        for r in records:
            rgb = r.get("rgb")
            if rgb is None or np.asarray(rgb).ndim != 3 or np.asarray(rgb).shape[2] != 3:
                continue
            key = self.processor.bucket_key(*rgb.shape[:2])
            if min(key) >= 1:
                buckets.setdefault(key, []).append(r)
        for rs in buckets.values():
            pv = self.processor.processor_inputs([r["rgb"] for r in rs]).numpy()
            for r, x in zip(rs, pv):
                r["depth_input"] = x
        return records


def _known_fx(r: dict, backend) -> float | None:
    """The focal length a model converts its depth with, from the policy without the model's estimate: the dataset
    fx; for a focal-aware model (Depth Pro) also the EXIF focal length (ranked above its estimate;
    :meth:`DepthStage._finish_model_record` rescales the depth when the estimate overrules it) and, for a checkpoint
    without a field-of-view head, the prior's (the row is then flagged depth_assumed_focal).  None: the model's own
    estimate (or none, for a model that takes no focal length)."""
    H, W = r["rgb"].shape[:2]
    K, source = resolve_intrinsics(r, W, H)  # a dataset K was validated in _check_rgb
    aware = getattr(backend, "estimates_focal", False)
    if source == "dataset" or (aware and (source == "exif" or not getattr(backend, "has_fov", True))):
        return float(K[0, 0])
    return None


def _is_depth_pro(model_id: str, backend) -> bool:
    if backend is not None:
        return bool(getattr(backend, "estimates_focal", False))
    cfg = Path(model_id).expanduser() / "config.json"
    if cfg.is_file():
        try:
            return json.loads(cfg.read_text()).get("model_type") == "depth_pro"
        except (OSError, ValueError):
            pass
    return "depthpro" in model_id.lower().replace("-", "").replace("_", "")


def _image_hw(r: dict, fallback) -> tuple[int, int]:
    H, W = r.get("height"), r.get("width")
    if H and W:
        return int(H), int(W)
    if r.get("rgb") is not None:
        return tuple(np.asarray(r["rgb"]).shape[:2])
    return int(fallback[0]), int(fallback[1])


def _resize_sensor_depth(d: np.ndarray, H: int, W: int) -> np.ndarray:
    """Nearest-neighbour resize of sensor depth registered to the image at another resolution.

    Nearest (no blending across depth edges, holes stay holes); only when the aspect ratios agree within 1 %.
    """
    h, w = d.shape
    if not math.isclose(h / w, H / W, rel_tol=0.01):
        raise RecordRejected("depth_shape_mismatch", f"depth {w}x{h} vs image {W}x{H}: different aspect ratios")
    rows = np.minimum(((np.arange(H) + 0.5) * h / H).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(W) + 0.5) * w / W).astype(np.int64), w - 1)
    return d[rows[:, None], cols[None, :]]


__all__ = ["DepthConfig", "DepthPreprocessStage", "DepthStage"]
