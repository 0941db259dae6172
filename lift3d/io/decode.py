"""Decode stage: pixels for a record (RGB, dataset depth, instance masks), on CPU workers.

Per-record problems become rejects with stable codes: ``image_missing``, ``image_unreadable``,
``image_size_mismatch``, ``depth_missing``, ``depth_unreadable``, ``depth_size_mismatch``,
``depth_empty`` (image level) and ``bad_segmentation`` (annotation level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils

from lift3d.io.coco import safe_join
from lift3d.pipeline.stage import Resources, Stage
from lift3d.rejects import RecordRejected, add_reject

EXIF_FOCAL_35MM = 0xA405  # FocalLengthIn35mmFilm
EXIF_IFD = 0x8769


def read_rgb(path: Path) -> tuple[np.ndarray, float | None]:
    """RGB uint8 array and the EXIF 35 mm-equivalent focal length (None when absent)."""
    if not path.is_file():
        raise RecordRejected("image_missing", f"{path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            focal = None
            try:
                exif = im.getexif()
                v = exif.get_ifd(EXIF_IFD).get(EXIF_FOCAL_35MM) or exif.get(EXIF_FOCAL_35MM)
                focal = float(v) if v else None
            except Exception:  # EXIF is optional metadata; a broken block only loses the hint
                focal = None
            return np.asarray(im if im.mode == "RGB" else im.convert("RGB")), focal  # (convert copies an RGB one)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RecordRejected("image_unreadable", f"{path}: {type(exc).__name__}: {exc}") from None


def read_depth_png(path: Path, depth_scale: float) -> np.ndarray:
    """Depth in metres (float32, 0 = no measurement) from a 16-bit PNG: value / depth_scale."""
    if not path.is_file():
        raise RecordRejected("depth_missing", f"{path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RecordRejected("depth_unreadable", f"{path}: {type(exc).__name__}: {exc}") from None
    if arr.ndim != 2:
        raise RecordRejected("depth_unreadable", f"{path}: expected a single-channel depth image, got shape {arr.shape}")
    return (arr.astype(np.float32) / np.float32(depth_scale)).astype(np.float32)


def decode_segmentation(seg, height: int, width: int) -> np.ndarray:
    """Polygons, uncompressed RLE or compressed RLE -> bool HxW mask (pycocotools). Raises ValueError."""
    if isinstance(seg, list):
        polys = [p for p in seg]
        if not polys or not all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
            and all(isinstance(v, (int, float)) and np.isfinite(v) for v in p)
            for p in polys
        ):
            raise ValueError("polygons must be lists of at least 3 (x, y) pairs of finite numbers")
        rles = mask_utils.frPyObjects(polys, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, list) and len(size) == 2) or counts is None:
            raise ValueError("RLE needs 'size' [h, w] and 'counts'")
        if list(size) != [height, width]:
            raise ValueError(f"RLE size {size} does not match the image {height}x{width}")
        if isinstance(counts, list):  # uncompressed
            if not all(isinstance(c, int) and c >= 0 for c in counts) or sum(counts) != height * width:
                raise ValueError("uncompressed RLE counts must be non-negative ints summing to h*w")
            rle = mask_utils.frPyObjects(seg, height, width)
        elif isinstance(counts, (str, bytes)):
            rle = {"size": size, "counts": counts.encode() if isinstance(counts, str) else counts}
        else:
            raise ValueError("RLE counts must be a list or a string")
    else:
        raise ValueError(f"unsupported segmentation type {type(seg).__name__}")
    try:
        m = mask_utils.decode(rle)
    except Exception as exc:  # pycocotools raises on corrupt compressed counts
        raise ValueError(f"RLE does not decode: {exc}") from None
    if m.shape != (height, width):
        raise ValueError(f"decoded mask has shape {m.shape}, expected {(height, width)}")
    return m.astype(bool)


class DecodeStage(Stage):
    """Reads the RGB image, the dataset depth (when the depth backend needs it) and the masks."""

    name = "decode"
    resources = Resources(num_cpus=1, batch_size=8)

    def __init__(self, need_dataset_depth: bool = True, decode_masks: bool = True):
        self.need_dataset_depth = need_dataset_depth
        self.decode_masks = decode_masks

    def process_record(self, record: dict) -> dict:
        root = Path(record["images_root"])
        rgb, focal = read_rgb(safe_join(root, record["file_name"]))
        H, W = rgb.shape[:2]
        if (W, H) != (record["width"], record["height"]):
            raise RecordRejected(
                "image_size_mismatch", f"image is {W}x{H} but the annotation file says {record['width']}x{record['height']}"
            )
        record["rgb"] = rgb
        record["exif_focal_35mm"] = focal
        record["depth_dataset"] = None
        if self.need_dataset_depth:
            if not record.get("depth_file"):
                raise RecordRejected("depth_missing", "no depth_file for this image (needed by --depth dataset)")
            depth = read_depth_png(safe_join(root, record["depth_file"]), record["depth_scale"])
            if depth.shape != (H, W):
                raise RecordRejected("depth_size_mismatch", f"depth is {depth.shape[1]}x{depth.shape[0]}, image {W}x{H}")
            if not np.any(np.isfinite(depth) & (depth > 0)):
                raise RecordRejected("depth_empty", "depth map has no valid pixels")
            record["depth_dataset"] = depth
        kept = []
        for ann in record["annotations"]:
            ann["mask"] = None
            seg = ann.pop("segmentation", None)
            if seg is not None and self.decode_masks:
                try:
                    ann["mask"] = decode_segmentation(seg, H, W)
                except ValueError as exc:
                    add_reject(record, self.name, "bad_segmentation", str(exc), annotation_id=ann["annotation_id"])
                    continue
            kept.append(ann)
        record["annotations"] = kept
        return record
