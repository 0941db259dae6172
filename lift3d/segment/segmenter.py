"""Box-prompted segmenters through ``transformers``: SAM, SAM-HQ, SAM 2 (2.1) and EdgeTAM.

Short names (see :data:`SHORT_NAMES`) plus any HF id or local directory (``save_pretrained`` output). Weights
load with ``from_pretrained(..., use_safetensors=True)``, never remote code; the hub is only contacted when the
weights are not local and the hub is reachable (same rules as the depth models: ``lift3d.depth.backends``).

Preprocessing is done here in torch (the SAM 2 image processor needs torchvision, which is not installable
everywhere): SAM / SAM-HQ resize the longest side to the encoder size and pad bottom-right; SAM 2 / EdgeTAM
resize to the square encoder size. Both normalise with the checkpoint's mean / std (ImageNet by default).

One image encoding per image (``get_image_embeddings``) is shared by all its boxes; boxes go through the
prompt encoder and mask decoder in chunks of ``box_batch``; bf16 autocast on CUDA. Low-resolution mask
logits are upsampled to the image on the device and thresholded at 0; only boolean masks come back.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from lift3d.errors import UserError

SHORT_NAMES: dict[str, str] = {
    **{f"sam-vit-{s}": f"facebook/sam-vit-{s}" for s in ("base", "large", "huge")},
    **{f"sam-hq-vit-{s}": f"syscv-community/sam-hq-vit-{s}" for s in ("base", "large", "huge")},
    **{f"sam2.1-hiera-{s}": f"facebook/sam2.1-hiera-{s}" for s in ("tiny", "small", "base-plus", "large")},
    **{f"sam2-hiera-{s}": f"facebook/sam2-hiera-{s}" for s in ("tiny", "small", "base-plus", "large")},
    "edgetam": "yonigozlan/EdgeTAM-hf",
}
DEFAULT_MODEL = "sam2.1-hiera-base-plus"
FAMILIES = {"sam": "SamModel", "sam_hq": "SamHQModel", "sam2": "Sam2Model", "edgetam": "EdgeTamModel"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingSegmenterError(UserError):
    """Segmenter weights are not available offline (``str(exc)`` is one line: the model and how to get it)."""

    def __init__(self, model_id: str, why: str = ""):
        self.model_id = model_id
        self.why = why
        super().__init__(
            f"segmenter weights for '{model_id}' are not available"
            + (f" ({why})" if why else "")
            + f": on a machine with network run `hf download {model_id} --exclude '*.bin' '*.pth'` and copy the HF"
            " cache here (HF_HOME), or pass --segmenter <directory written by save_pretrained>, or use --masks depth"
        )


def resolve_model_id(name: str) -> str:
    return SHORT_NAMES.get(name, name)


def locate(model_id: str, offline: bool | None = None) -> tuple[str, bool, str]:
    """``(source, local_files_only, model_type)`` or :class:`MissingSegmenterError`."""
    from lift3d.depth.backends import locate_weights
    from lift3d.depth.errors import MissingWeightsError

    try:
        source, local_only, model_type = locate_weights(model_id, offline=offline)
    except MissingWeightsError as exc:
        raise MissingSegmenterError(model_id, exc.why) from None
    except (OSError, ValueError) as exc:
        raise MissingSegmenterError(model_id, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__) from None
    if model_type not in FAMILIES:
        raise MissingSegmenterError(model_id, f"model type '{model_type}' is not a box-promptable segmenter "
                                    f"({', '.join(FAMILIES)})")
    return source, local_only, model_type


class BoxSegmenter:
    """A loaded box-promptable segmenter. :meth:`segment` -> candidate masks and model scores per box."""

    def __init__(self, model_id: str, device: str = "auto", dtype: str = "auto", box_batch: int = 64,
                 multimask: bool = True, offline: bool | None = None):
        self.model_id = resolve_model_id(model_id)
        self.device_req = device
        self.dtype_req = dtype
        self.box_batch = max(1, int(box_batch))
        self.multimask = multimask
        self.offline = offline
        self.model = None

    def load(self) -> "BoxSegmenter":
        import torch
        import transformers

        source, local_only, model_type = locate(self.model_id, self.offline)
        self.family = model_type
        cls = getattr(transformers, FAMILIES[model_type])
        dev = self.device_req
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(dev)
        try:
            model = cls.from_pretrained(source, local_files_only=local_only, use_safetensors=True)
        except OSError as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise MissingSegmenterError(self.model_id, f"{cls.__name__}: {first}") from None
        self.model = model.eval().to(self.device)
        self.autocast = self.device.type == "cuda" and self.dtype_req in ("auto", "bfloat16", "bf16")
        # the prompt encoder's image size is the frame the box coordinates and the encoder input live in
        size = model.config.prompt_encoder_config.image_size
        self.size = int(size[0] if isinstance(size, (list, tuple)) else size)
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        pp = Path(source) / "preprocessor_config.json" if Path(source).is_dir() else None
        if pp is not None and pp.is_file():
            try:
                cfg = json.loads(pp.read_text())
                self.mean = tuple(cfg.get("image_mean", self.mean))
                self.std = tuple(cfg.get("image_std", self.std))
            except (OSError, ValueError):
                pass
        self.square = model_type in ("sam2", "edgetam")
        return self

    # ------------------------------------------------------------------ preprocessing
    def _input_hw(self, H: int, W: int) -> tuple[int, int]:
        if self.square:
            return self.size, self.size
        s = self.size / max(H, W)
        return int(H * s + 0.5), int(W * s + 0.5)

    def preprocess(self, rgb: np.ndarray):
        """(1, 3, S, S) float tensor on the device; returns (pixel_values, (h, w) of the resized image)."""
        import torch
        import torch.nn.functional as F

        H, W = rgb.shape[:2]
        h, w = self._input_hw(H, W)
        arr = np.ascontiguousarray(rgb)
        if not arr.flags.writeable:
            arr = arr.copy()
        x = torch.from_numpy(arr).to(self.device, non_blocking=True)
        x = x.permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        if (h, w) != (self.size, self.size):
            x = F.pad(x, (0, self.size - w, 0, self.size - h))
        return x, (h, w)

    def _boxes(self, boxes: np.ndarray, H: int, W: int, hw) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        if self.square:
            b[:, [0, 2]] *= self.size / W
            b[:, [1, 3]] *= self.size / H
        else:
            b *= self.size / max(H, W)
        return b.astype(np.float32)

    # ------------------------------------------------------------------ inference
    def segment(self, rgb: np.ndarray, boxes) -> tuple[np.ndarray, np.ndarray]:
        """Candidate masks (N, M, H, W) bool and model scores (N, M) for N boxes [x1, y1, x2, y2] in pixels."""
        import torch
        import torch.nn.functional as F

        H, W = rgb.shape[:2]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, 0, H, W), dtype=bool), np.zeros((0, 0), dtype=np.float32)
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if self.autocast else nullcontext()
        masks_out, scores_out = [], []
        with torch.inference_mode(), ctx:
            pv, (h, w) = self.preprocess(rgb)
            emb = self.model.get_image_embeddings(pv)  # one encoding, shared by every box of the image
            extra = {}
            if self.family == "sam_hq":
                emb, inter = emb
                extra["intermediate_embeddings"] = inter
            nb = self._boxes(boxes, H, W, (h, w))
            for i in range(0, len(nb), self.box_batch):
                chunk = torch.from_numpy(nb[i : i + self.box_batch])[None].to(self.device)
                out = self.model(image_embeddings=emb, input_boxes=chunk, multimask_output=self.multimask, **extra)
                logits = out.pred_masks[0].float()  # (n, M, s, s)
                n, M = logits.shape[:2]
                up = F.interpolate(logits.reshape(n * M, 1, *logits.shape[-2:]), size=(self.size, self.size),
                                   mode="bilinear", align_corners=False)
                if not self.square:
                    up = up[..., :h, :w]
                up = F.interpolate(up, size=(H, W), mode="bilinear", align_corners=False)
                masks_out.append((up > 0).reshape(n, M, H, W).cpu().numpy())
                scores_out.append(out.iou_scores[0].float().cpu().numpy().reshape(n, M))
        return np.concatenate(masks_out), np.concatenate(scores_out)


__all__ = ["BoxSegmenter", "DEFAULT_MODEL", "MissingSegmenterError", "SHORT_NAMES", "locate", "resolve_model_id"]
