"""Depth backends behind one interface.

* ``dataset``: the sensor depth the reader loaded from the COCO-3D ``depth_file`` (no model).
* Depth Anything V2 metric (``transformers`` ``DepthAnythingForDepthEstimation``): short names
  ``da2-{indoor,outdoor}-{small,base,large}``, any HF id or local directory of that model type.
* Depth Pro (``DepthProForDepthEstimation``): ``depth-pro`` or any HF id / local directory; metric depth plus a
  field of view, i.e. a focal length.

Weights load with ``from_pretrained(..., use_safetensors=True)`` and never with remote code. A local directory is
used as is; a hub id is looked up in the HF cache first, and the network is only tried when the hub is reachable
(``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` are honoured); otherwise :class:`MissingWeightsError`.

Model backends work on chunks of images that share an input shape (see :func:`bucket_key`): preprocessing on
the CPU, one host-to-device copy from pinned memory, bf16 autocast on CUDA, depth resized back to each image's
resolution on the device, and a single device-to-host copy per chunk (no per-image synchronisation).
"""

from __future__ import annotations

import json
import math
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .errors import MissingWeightsError, UnsupportedDepthModel

DA2_IDS = {
    f"da2-{scene}-{size}": f"depth-anything/Depth-Anything-V2-Metric-{scene.capitalize()}-{size.capitalize()}-hf"
    for scene in ("indoor", "outdoor")
    for size in ("small", "base", "large")
}
SHORT_NAMES: dict[str, str] = {**DA2_IDS, "depth-pro": "apple/DepthPro-hf"}


def resolve_model_id(name: str) -> str:
    """Short name -> HF id; anything else (HF id or local directory) is returned unchanged."""
    return SHORT_NAMES.get(name, name)


# ----------------------------------------------------------------------------------------------- loading


def _truthy(v: str | None) -> bool:
    return str(v or "").strip().lower() in {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection to the HF endpoint: fails in well under a second where there is no network."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct probe says nothing; let the hub client try
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def locate_weights(model_id: str, offline: bool | None = None) -> tuple[str, bool, str]:
    """Decide how to load ``model_id``: ``(source, local_files_only, model_type)``.

    ``source`` is a local directory or a hub id. Raises MissingWeightsError when the weights cannot be had
    offline (and fails fast: at most one short connection attempt).
    """
    from transformers import AutoConfig

    p = Path(model_id).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise MissingWeightsError(model_id, "no config.json", local=True)
        if not any(p.glob("*.safetensors")):
            raise MissingWeightsError(model_id, "no .safetensors weights", local=True)
        cfg = AutoConfig.from_pretrained(str(p), local_files_only=True)
        return str(p), True, cfg.model_type
    if model_id.startswith((".", "/", "~")) or os.sep in model_id.strip("/").replace("/", "", 1):
        raise MissingWeightsError(model_id, "no such directory", local=True)
    try:
        cfg = AutoConfig.from_pretrained(model_id, local_files_only=True)
        return model_id, True, cfg.model_type
    except (OSError, ValueError):
        pass
    if offline is None:
        offline = hub_offline()
    if offline:
        raise MissingWeightsError(model_id, "not in the HF cache and offline mode is on")
    if not hub_reachable():
        raise MissingWeightsError(model_id, "not in the HF cache and the Hugging Face Hub is unreachable")
    try:
        cfg = AutoConfig.from_pretrained(model_id)
    except OSError as exc:
        raise MissingWeightsError(model_id, f"could not fetch config: {str(exc).splitlines()[0][:160]}") from None
    return model_id, False, cfg.model_type


def _from_pretrained(cls, source: str, local_files_only: bool, model_id: str, **kwargs):
    try:
        return cls.from_pretrained(source, local_files_only=local_files_only, **kwargs)
    except OSError as exc:  # hub errors (RepositoryNotFound, EntryNotFound, ...) are OSError subclasses
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise MissingWeightsError(model_id, f"{cls.__name__}: {first}", local=Path(source).is_dir()) from None


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# ----------------------------------------------------------------------------------------------- backends


@dataclass
class Prediction:
    depth: np.ndarray  # (H, W) float32 metres at image resolution, 0 = invalid
    focal_px: float | None = None  # model-estimated focal length in pixels at image resolution


class DepthBackend:
    """Interface. ``name`` goes to ``depth_source``; ``assumed_focal`` marks a metric scale tied to a focal
    length that does not come from the image (Depth Anything V2 metric)."""

    name: str = "backend"
    is_model: bool = False
    assumed_focal: bool = False
    estimates_focal: bool = False

    def bucket_key(self, height: int, width: int):
        return (height, width)

    def prepare(self, rgbs: list[np.ndarray]):
        """CPU-side preprocessing of one chunk (safe to run in a worker thread while the device is busy)."""
        raise NotImplementedError

    def run(self, prepared, sizes: list[tuple[int, int]], focal_px: list[float | None] | None = None
            ) -> list[Prediction]:
        """Device-side part: forward, resize to ``sizes`` and one copy back."""
        raise NotImplementedError

    def predict(self, rgbs: list[np.ndarray], focal_px: list[float | None] | None = None) -> list[Prediction]:
        return self.run(self.prepare(rgbs), [tuple(int(s) for s in r.shape[:2]) for r in rgbs], focal_px)


class DatasetBackend(DepthBackend):
    """Sensor depth from the dataset; no model. Validation lives in the stage (per record)."""

    name = "dataset"


class _TorchBackend(DepthBackend):
    is_model = True

    def __init__(self, model_id: str, device: str = "auto", dtype: str = "auto", num_workers: int = 0,
                 input_size: int | None = None, offline: bool | None = None, preprocess: str = "auto"):
        import torch

        if preprocess not in ("auto", "torch", "processor"):
            raise ValueError(f"preprocess must be auto, torch or processor, not {preprocess!r}")
        self.preprocess_mode = "torch" if preprocess == "auto" else preprocess

        self.model_id = model_id
        self.name = model_id
        self.device = pick_device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
                      "fp16": torch.float16, "float32": torch.float32, "fp32": torch.float32}[dtype]
        self.num_workers = num_workers if num_workers > 0 else min(4, os.cpu_count() or 1)
        self.input_size = input_size
        self.offline = offline
        self._pool = ThreadPoolExecutor(self.num_workers) if self.num_workers > 1 else None
        self.model = None
        self._pinned: dict = {}
        if self.device.startswith("cuda"):
            torch.backends.cudnn.benchmark = True  # few distinct input shapes (buckets): autotune pays off

    # -- pieces shared by the model backends
    def _autocast(self):
        import torch

        if self.device.startswith("cuda") and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return nullcontext()

    def _to_device(self, t):
        """Host tensor -> device. On CUDA through a reused pinned staging buffer and a non-blocking copy (the
        buffer is only rewritten after the previous chunk's results came back, i.e. after its copy finished)."""
        if not self.device.startswith("cuda"):
            return t.to(self.device)
        key = (tuple(t.shape), t.dtype)
        buf = self._pinned.get(key)
        if buf is None:
            if len(self._pinned) > 16:
                self._pinned.clear()
            buf = self._pinned[key] = torch_empty_pinned(t.shape, t.dtype)
        buf.copy_(t)
        return buf.to(self.device, non_blocking=True)

    def _resize_to_images(self, maps, sizes):
        """(B, h, w) device tensor -> one flat float32 device tensor of the maps resized to ``sizes`` (bilinear),
        ready for a single device-to-host copy (see :meth:`_split`)."""
        import torch
        import torch.nn.functional as F

        maps = maps.float().unsqueeze(1)
        if len(set(sizes)) == 1:
            up = F.interpolate(maps, size=sizes[0], mode="bilinear", align_corners=False)
            flat = up.reshape(-1)
        else:
            flat = torch.cat([
                F.interpolate(maps[i : i + 1], size=s, mode="bilinear", align_corners=False).reshape(-1)
                for i, s in enumerate(sizes)
            ])
        return flat

    @staticmethod
    def _split(host_flat: np.ndarray, sizes) -> list[np.ndarray]:
        out, o = [], 0
        for h, w in sizes:
            out.append(host_flat[o : o + h * w].reshape(h, w))
            o += h * w
        return out


class DepthAnythingBackend(_TorchBackend):
    """Depth Anything (V2) metric: head output = sigmoid x max_depth metres; no intrinsics.

    Two preprocessing modes, same output size rule (:func:`dpt_target_size`) and normalisation:

    * ``"torch"`` (default): the uint8 image goes to the device as is (one flat copy per chunk) and is resized
      there with torch's antialiased bicubic (a = -0.5, PIL's kernel), clipped to [0, 255] and normalised with the
      checkpoint's mean/std. On CPU the same code runs on the CPU.
    * ``"processor"``: the checkpoint's ``AutoImageProcessor`` (DPT, PIL backend without torchvision) on CPU
      threads: the reference numbers, but ~0.5 s per 640x480 image on a core of the development machine, far
      slower than a GPU forward; use it for reference evaluation or with :class:`DepthPreprocessStage` on many CPU workers.
    """

    assumed_focal = True
    PREPROCESS_MODES = ("auto", "torch", "processor")

    def load_processor(self, source: str, local_files_only: bool):
        from transformers import AutoImageProcessor

        self.processor = _from_pretrained(AutoImageProcessor, source, local_files_only, self.model_id)
        if self.input_size:
            self.processor.size = {"height": int(self.input_size), "width": int(self.input_size)}
        size = self.processor.size
        size = size if isinstance(size, dict) else dict(size.items()) if hasattr(size, "items") else vars(size)
        self._size = (int(size["height"]), int(size["width"]))
        self._keep = bool(getattr(self.processor, "keep_aspect_ratio", False))
        self._multiple = int(getattr(self.processor, "ensure_multiple_of", 1) or 1)
        pr = self.processor
        self._do_rescale = bool(getattr(pr, "do_rescale", True))
        self._rescale = float(getattr(pr, "rescale_factor", 1 / 255) or 1 / 255)
        self._do_norm = bool(getattr(pr, "do_normalize", True))
        self._mean_l = list(getattr(pr, "image_mean", None) or [0.485, 0.456, 0.406])
        self._std_l = list(getattr(pr, "image_std", None) or [0.229, 0.224, 0.225])
        resample = int(getattr(pr, "resample", 3) or 3)
        self._mode = {2: "bilinear", 3: "bicubic"}.get(resample, "bicubic")

    def load(self, source: str, local_files_only: bool):
        import torch
        from transformers import DepthAnythingForDepthEstimation

        self.load_processor(source, local_files_only)
        model = _from_pretrained(DepthAnythingForDepthEstimation, source, local_files_only, self.model_id,
                                 use_safetensors=True)
        if getattr(model.config, "depth_estimation_type", "relative") != "metric":
            raise UnsupportedDepthModel(
                f"'{self.model_id}' predicts relative depth (depth_estimation_type="
                f"{model.config.depth_estimation_type!r}); lift3d needs a metric model, e.g. da2-indoor-small"
            )
        self.max_depth = float(model.config.max_depth)
        self.model = model.to(self.device).eval()
        self._mean = torch.tensor(self._mean_l, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self._std_l, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def bucket_key(self, height: int, width: int):
        """The processor's output (h, w) for an image: images with the same key stack into one tensor."""
        return dpt_target_size(height, width, self._size, self._keep, self._multiple)

    def prepare(self, rgbs: list[np.ndarray]):
        """CPU part. ``torch`` mode: contiguous uint8 tensors (resized on the device in :meth:`run`);
        ``processor`` mode: the image processor on CPU threads -> (B, 3, h, w) float32."""
        import torch

        if self.preprocess_mode == "torch":
            return [torch.from_numpy(_host_array(r)) for r in rgbs]
        return self.processor_inputs(rgbs)

    def processor_inputs(self, rgbs: list[np.ndarray]):
        """The checkpoint's image processor (resize, rescale, normalise) on CPU threads -> (B, 3, h, w) float32."""
        import torch

        def run(chunk):
            return self.processor(images=chunk, return_tensors="pt")["pixel_values"]

        if self._pool is None or len(rgbs) < 2:
            return run(rgbs)
        k = min(self.num_workers, len(rgbs))
        parts = [rgbs[i::k] for i in range(k)]  # round-robin split, restored below
        outs = list(self._pool.map(run, parts))
        order = [j for i in range(k) for j in range(i, len(rgbs), k)]
        stacked = torch.cat(outs)
        inv = torch.empty(len(order), dtype=torch.long)
        inv[torch.tensor(order)] = torch.arange(len(order))
        return stacked[inv]

    def device_inputs(self, prepared):
        """Model input on the device from :meth:`prepare`'s output (either mode)."""
        import torch
        import torch.nn.functional as F

        if not isinstance(prepared, list):
            return self._to_device(prepared)
        flat = self._to_device(torch.cat([t.reshape(-1) for t in prepared]))
        target = self.bucket_key(*prepared[0].shape[:2])
        if len({tuple(t.shape) for t in prepared}) == 1:  # one batched resize
            groups = [flat.view(len(prepared), *prepared[0].shape).permute(0, 3, 1, 2)]
        else:
            groups, o = [], 0
            for r in prepared:
                groups.append(flat[o : o + r.numel()].view(r.shape).permute(2, 0, 1).unsqueeze(0))
                o += r.numel()
        outs = []
        for x in groups:
            x = F.interpolate(x.float(), size=target, mode=self._mode, align_corners=False, antialias=True)
            x = x.clamp_(0.0, 255.0)
            if self._do_rescale:
                x = x * self._rescale
            if self._do_norm:
                x = (x - self._mean) / self._std
            outs.append(x)
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def preprocess(self, rgbs):
        """(B, 3, h, w) model input on the device."""
        return self.device_inputs(self.prepare(rgbs))

    def forward(self, prepared):
        import torch

        with torch.inference_mode():
            pv = self.device_inputs(prepared)
            with self._autocast():
                return self.model(pixel_values=pv).predicted_depth

    def run(self, prepared, sizes, focal_px=None):
        import torch

        pred = self.forward(prepared)
        with torch.inference_mode():
            flat = self._resize_to_images(pred, sizes).clamp_(min=0.0)
            host = flat.cpu().numpy()
        return [Prediction(depth=d) for d in self._split(host, sizes)]


class DepthProBackend(_TorchBackend):
    """Depth Pro: canonical inverse depth + field of view. Metric depth = f_px / (W * inverse_canonical).

    The focal length used is the dataset K's fx when the record has one (``focal_px``), else the model's own
    estimate from its field-of-view head. Preprocessing (the DepthPro image processor needs torchvision, which is
    optional here) is done in torch: rescale to [0, 1], normalise with the processor's mean/std, then a bilinear
    resize (no antialias) to the square input size, exactly like the reference processor. The resize runs on the
    device: upsampling to 1536 px on the host would multiply the host-to-device traffic by ~7.
    """

    estimates_focal = True

    def load(self, source: str, local_files_only: bool):
        import torch
        from transformers import DepthProForDepthEstimation

        model = _from_pretrained(DepthProForDepthEstimation, source, local_files_only, self.model_id,
                                 use_safetensors=True)
        self.model = model.to(self.device).eval()
        self.has_fov = self.model.fov_model is not None
        self.assumed_focal = False  # a missing FOV head makes it True per record (stage decides)
        cfg = _read_preprocessor_config(source, local_files_only)
        size = cfg.get("size") or {"height": 1536, "width": 1536}
        if self.input_size:
            size = {"height": int(self.input_size), "width": int(self.input_size)}
        self._size = (int(size["height"]), int(size["width"]))
        self._rescale = float(cfg.get("rescale_factor", 1 / 255))
        mean = cfg.get("image_mean", [0.5, 0.5, 0.5])
        std = cfg.get("image_std", [0.5, 0.5, 0.5])
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def bucket_key(self, height: int, width: int):
        return self._size  # every image is resized to the same square input

    def prepare(self, rgbs):
        """Host side: contiguous uint8 tensors (the resize to the square input runs on the device)."""
        import torch

        return [torch.from_numpy(_host_array(r)) for r in rgbs]

    def preprocess(self, rgbs):
        """uint8 (H, W, 3) images -> normalised (B, 3, S, S) on the device."""
        return self._device_inputs(self.prepare(rgbs))

    def _device_inputs(self, tensors):
        import torch
        import torch.nn.functional as F

        # one host-to-device copy per chunk: the uint8 images concatenated flat, split again on the device
        flat = self._to_device(torch.cat([t.reshape(-1) for t in tensors]))
        outs, o = [], 0
        for r in tensors:
            t = flat[o : o + r.numel()].view(r.shape)
            o += r.numel()
            t = t.permute(2, 0, 1).unsqueeze(0).float() * self._rescale
            t = (t - self._mean) / self._std
            outs.append(F.interpolate(t, size=self._size, mode="bilinear", align_corners=False, antialias=False))
        return torch.cat(outs)

    def run(self, prepared, sizes, focal_px=None):
        import torch
        import torch.nn.functional as F

        n = len(sizes)
        widths = torch.tensor([float(w) for _, w in sizes], device=self.device)
        with torch.inference_mode():
            pv = self._device_inputs(prepared)
            with self._autocast():
                out = self.model(pixel_values=pv)
            inv = out.predicted_depth.float()
            if inv.dim() == 4:
                inv = inv[:, 0]
            if out.field_of_view is not None:
                fov = out.field_of_view.float().reshape(-1)
                f_est = 0.5 * widths / torch.tan(0.5 * torch.deg2rad(fov))
            else:
                f_est = torch.full_like(widths, float("nan"))
            known = [float(f) if f is not None else float("nan") for f in (focal_px or [None] * n)]
            f_known = torch.tensor(known, device=self.device)
            f_use = torch.where(torch.isnan(f_known), f_est, f_known)
            inv = inv * (widths / f_use).view(-1, 1, 1)
            pieces = []
            for i, s in enumerate(sizes):
                up = F.interpolate(inv[i : i + 1, None], size=s, mode="bilinear", align_corners=False)
                # inverse depth <= 1e-4 (beyond 10 km: sky) or NaN (no focal) -> 0 = invalid
                d = torch.where(up > 1e-4, 1.0 / up.clamp(min=1e-4, max=1e4), torch.zeros_like(up))
                pieces.append(d.reshape(-1))
            flat = torch.cat(pieces + [f_est])
            host = flat.cpu().numpy()
        depths = self._split(host[:-n], sizes)
        f_host = host[-n:]
        return [Prediction(depth=d, focal_px=(float(f) if np.isfinite(f) and f > 0 else None))
                for d, f in zip(depths, f_host)]


def _host_array(a: np.ndarray) -> np.ndarray:
    """Contiguous and writable (torch warns on read-only arrays such as np.asarray(PIL image))."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def torch_empty_pinned(shape, dtype):
    import torch

    return torch.empty(shape, dtype=dtype, pin_memory=True)


def _read_preprocessor_config(source: str, local_files_only: bool) -> dict:
    p = Path(source)
    if p.is_dir():
        f = p / "preprocessor_config.json"
        return json.loads(f.read_text()) if f.is_file() else {}
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(source, "preprocessor_config.json",
                                               local_files_only=local_files_only)).read_text())
    except Exception:  # noqa: BLE001 - the reference defaults apply
        return {}


def dpt_target_size(height: int, width: int, size: tuple[int, int], keep_aspect_ratio: bool, multiple: int):
    """Output (h, w) of the DPT image processor's resize (same rule as transformers' DPT processors)."""

    def constrain(val):
        x = round(val / multiple) * multiple
        if x < 0:
            x = math.ceil(val / multiple) * multiple
        return int(x)

    sh, sw = size[0] / height, size[1] / width
    if keep_aspect_ratio:
        if abs(1 - sw) < abs(1 - sh):
            sh = sw
        else:
            sw = sh
    return constrain(sh * height), constrain(sw * width)


SUPPORTED_MODEL_TYPES = ("depth_anything", "depth_pro")


def check_backend(name: str, offline: bool | None = None) -> None:
    """What can be known without loading the model: the weights are resolvable and of a supported type.

    Run on the driver before any worker starts (``lift3d build``); raises the same one-line errors as
    :func:`make_backend` (:class:`MissingWeightsError`, :class:`UnsupportedDepthModel`).
    """
    if name == "dataset":
        return
    model_id = resolve_model_id(name)
    source, local_only, model_type = locate_weights(model_id, offline=offline)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise UnsupportedDepthModel(f"unsupported depth model type {model_type!r} for '{model_id}' "
                                    "(supported: depth_anything metric, depth_pro)")


def make_backend(name: str = "dataset", device: str = "auto", dtype: str = "auto", num_workers: int = 0,
                 input_size: int | None = None, offline: bool | None = None,
                 preprocess: str = "auto") -> DepthBackend:
    """Build and load a backend by short name, HF id or local directory. Raises MissingWeightsError."""
    if name == "dataset":
        return DatasetBackend()
    model_id = resolve_model_id(name)
    source, local_only, model_type = locate_weights(model_id, offline=offline)
    kw = dict(device=device, dtype=dtype, num_workers=num_workers, input_size=input_size, offline=offline,
              preprocess=preprocess)
    if model_type == "depth_anything":
        backend = DepthAnythingBackend(model_id, **kw)
    elif model_type == "depth_pro":
        backend = DepthProBackend(model_id, **kw)
    else:
        raise UnsupportedDepthModel(f"unsupported depth model type {model_type!r} for '{model_id}' "
                                    "(supported: depth_anything metric, depth_pro)")
    backend.load(source, local_only)
    return backend
