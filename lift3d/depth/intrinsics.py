"""Intrinsics policy, per image: dataset K > EXIF 35 mm-equivalent focal > model-estimated > field-of-view prior.

The chosen source is recorded in the row's ``intrinsics_source`` ("dataset" | "exif" | "model" | "fov_prior").
All K here are 3x3 pinhole matrices in 0-based pixel coordinates (see :mod:`lift3d.geometry.camera`).

EXIF before the model: ``FocalLengthIn35mmFilm`` is the camera's record of its lens, the reference single-image
focal estimators (Depth Pro's field-of-view head among them) are scored against; its own errors are a few per cent
(the value is rounded to whole millimetres: +-2 % at 26 mm; makers derive it from the diagonal or from the width: up
to 4 % apart on a 4:3 sensor), against the 8 % (log sd) this project assumes for a model's focal length.  The one
way EXIF goes badly wrong is an image cropped after capture (its field of view is then narrower than the lens's): an
EXIF focal length further than ``EXIF_MODEL_GATE`` (x1.3) from the model's own estimate is taken for that, and the
model's estimate is used.

The prior: ``FOV_PRIOR_HFOV_DEG`` ~= 68.5 degrees horizontal, i.e. a focal length of 470.4 px for a 640 px wide
image, scaled with the width. 470.4 px is the focal length the Depth Anything V2 authors assume in their own
metric point-cloud script, and a 68.5 degree horizontal field of view is that of a ~26 mm (35 mm-equivalent)
lens, the main camera of most phones, which took a large share of web photos such as COCO's.
"""

from __future__ import annotations

import math

import numpy as np

from lift3d.geometry.camera import IntrinsicsError, K_from_fov, as_K

#: Depth Anything V2's assumed focal length (px) at 640 px width (metric_depth/depth_to_pointcloud.py).
DA2_ASSUMED_FOCAL_PX_AT_640 = 470.4
#: Horizontal field of view of the prior, degrees (== 470.4 px at 640 px width).
FOV_PRIOR_HFOV_DEG = math.degrees(2.0 * math.atan(320.0 / DA2_ASSUMED_FOCAL_PX_AT_640))
#: Diagonal of a 36 x 24 mm frame, mm: a 35 mm-equivalent focal length keeps the diagonal field of view.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)

SOURCES = ("dataset", "exif", "model", "fov_prior")
#: log ratio beyond which an EXIF focal length that disagrees with the model's estimate is not used (x1.3: three
#: combined sds of a model's 8 % and EXIF's few per cent; a crop after capture to 77 % of the frame's diagonal or less)
EXIF_MODEL_GATE = math.log(1.3)


def K_from_focal_px(width: int, height: int, f_px: float) -> np.ndarray:
    """Square pixels, principal point at the image centre ((W-1)/2, (H-1)/2 in 0-based pixels)."""
    return np.array([[f_px, 0.0, (width - 1) / 2.0], [0.0, f_px, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def focal_px_from_35mm(width: int, height: int, focal_35mm: float) -> float:
    """Focal length in pixels from an EXIF FocalLengthIn35mmFilm value (diagonal-equivalent definition)."""
    return float(focal_35mm) * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM


def fov_prior_K(width: int, height: int) -> np.ndarray:
    return K_from_fov(width, height, FOV_PRIOR_HFOV_DEG)


def _valid_exif(f35) -> bool:
    try:
        f = float(f35)
    except (TypeError, ValueError):
        return False
    # 35 mm-equivalent focal lengths outside [8, 2000] mm are corrupt EXIF, not cameras.
    return math.isfinite(f) and 8.0 <= f <= 2000.0


def dataset_K(record: dict) -> np.ndarray | None:
    """The record's dataset K validated, or None when absent. Raises IntrinsicsError when malformed."""
    K = record.get("K")
    if K is None:
        return None
    return as_K(K)


def exif_focal_px(record: dict, width: int, height: int) -> float | None:
    """The record's EXIF focal length in pixels, None when absent or corrupt."""
    f35 = record.get("exif_focal_35mm")
    if f35 is None or not _valid_exif(f35):
        return None
    return focal_px_from_35mm(width, height, float(f35))


def resolve_intrinsics(record: dict, width: int, height: int, model_focal_px: float | None = None):
    """Return ``(K 3x3 float64, source)`` following the policy. Raises IntrinsicsError on a malformed dataset K."""
    K = dataset_K(record)
    if K is not None:
        return K, "dataset"
    has_model = model_focal_px is not None and math.isfinite(model_focal_px) and model_focal_px > 0
    f_exif = exif_focal_px(record, width, height)
    if f_exif is not None and not (has_model and abs(math.log(f_exif / model_focal_px)) > EXIF_MODEL_GATE):
        return K_from_focal_px(width, height, f_exif), "exif"
    if has_model:
        return K_from_focal_px(width, height, float(model_focal_px)), "model"
    return fov_prior_K(width, height), "fov_prior"


__all__ = [
    "DA2_ASSUMED_FOCAL_PX_AT_640",
    "EXIF_MODEL_GATE",
    "FOV_PRIOR_HFOV_DEG",
    "IntrinsicsError",
    "K_from_focal_px",
    "SOURCES",
    "dataset_K",
    "exif_focal_px",
    "focal_px_from_35mm",
    "fov_prior_K",
    "resolve_intrinsics",
]
