"""The reject vocabulary: every stable reason code a reject row may carry, and the helpers that write them.

A reject row (the ``rejects`` config, ``lift3d/schema.py``) names the stage that rejected an image or an
annotation and one of the codes below; ``docs/rejects.md`` is the same table for readers, and a test keeps the
two and every code used in the source in step.  This is a data module: the reader, the stages and the
executors import it; it imports nothing of lift3d.
"""

from __future__ import annotations

# code -> (stages that emit it, level, meaning).  Level: "image" rejects a whole record (its pending
# annotations follow as ``image_rejected``); "annotation" rejects one annotation.
REASONS: dict[str, tuple[str, str, str]] = {
    # read (lift3d/io/coco.py)
    "bad_image_entry": ("read", "image", "missing/invalid id, file_name, width or height"),
    "duplicate_image_id": ("read", "image", "the image id appeared before; the first entry is kept"),
    "path_escapes_root": ("read", "image", "file_name or depth_file is absolute or escapes --images"),
    "bad_intrinsics": ("read, lift", "image", "K is not a valid 3x3 pinhole matrix (non-finite, singular, bad last row)"),
    "bad_gravity": ("read", "image", "gravity is not 3 finite numbers or is zero"),
    "bad_depth_scale": ("read", "image", "depth_scale is not > 0"),
    "bad_annotation_entry": ("read", "annotation", "annotation without an integer id"),
    "duplicate_annotation_id": ("read", "annotation", "the id appeared before; the first occurrence is kept"),
    "unknown_image": ("read", "annotation", "its image_id is not in images"),
    "unknown_category": ("read", "annotation", "its category_id is not in categories"),
    "bad_bbox": ("read", "annotation", "not 4 finite numbers, non-positive size, or outside the image by > 1 px"),
    "bad_segmentation": ("read, decode", "annotation",
                         "segmentation is neither polygons nor RLE, or does not decode for this image size"),
    # read, source semantics (lift3d ingest: lift3d/io/ingest.py, lift3d/io/openimages.py; docs/ingest.md)
    "fake_box": ("read", "annotation", "Objects365 isfake: not a real object"),
    "reflection": ("read", "annotation", "Objects365 isreflected: a reflection is not a 3D object"),
    "depiction": ("read", "annotation", "OpenImages IsDepiction: a drawing, photo or statue of the object, not the object"),
    "image_size_unknown": ("read", "image", "OpenImages: the image file's header could not be read at ingest (size unknown)"),
    # decode (lift3d/io/decode.py)
    "image_missing": ("decode", "image", "the RGB file does not exist"),
    "image_unreadable": ("decode, embed", "image", "the RGB file cannot be decoded (e.g. truncated) or read again"),
    "image_size_mismatch": ("decode", "image", "the decoded size differs from width x height"),
    "depth_missing": ("decode, depth, lift", "image", "no depth_file / depth map for this image, or it does not exist"),
    "depth_unreadable": ("decode", "image", "the depth file is not a readable single-channel image"),
    "depth_size_mismatch": ("decode", "image", "the depth resolution differs from the image"),
    "depth_empty": ("decode, depth", "image", "the depth map has no valid pixel"),
    # depth (lift3d/depth/stage.py)
    "missing_intrinsics": ("depth, lift", "image", "sensor depth without a dataset K (no K is invented for sensor depth; cached model depth takes EXIF or the field-of-view prior)"),
    "invalid_intrinsics": ("depth", "image", "the intrinsics from the model / EXIF / prior are not a valid K"),
    "rgb_missing": ("depth, embed", "image", "no decoded image (or a wrong-shaped one) reached the depth model / embed stage"),
    "rgb_unsupported_shape": ("depth", "image", "the image's channels cannot be fed to the depth model"),
    "depth_shape_mismatch": ("depth", "image", "the model's depth has another aspect ratio than the image"),
    # lift (lift3d/lift)
    "crowd": ("lift", "annotation", "iscrowd = 1: a group, not one object"),
    "degenerate_box": ("lift", "annotation", "2D box missing, non-finite, empty or outside the image"),
    "empty_mask": ("lift", "annotation", "the mask has no pixel inside the image / box"),
    "no_valid_depth": ("lift", "annotation", "no valid depth inside the mask/box"),
    "too_few_points": ("lift", "annotation", "fewer than the minimum number of points after cleaning"),
    "implausible_size": ("lift", "annotation", "lifted box too small/large, far beyond its category prior, or behind the camera"),
    "see_through": ("lift", "annotation", "the lifted box would show around its 2D box where the image sees the scene behind it (taken from the wrong points)"),
    "bad_depth": ("lift", "annotation", "depth map missing or of the wrong shape (every annotation of the image)"),
    "lift_error": ("lift", "annotation", "unexpected numerical failure (detail says what)"),
    # any stage / executor
    "image_rejected": ("any", "annotation", "its image was rejected; detail carries the image's reason"),
    "stage_error": ("any", "image", "an unexpected exception in a stage, isolated to this record (detail: traceback tail)"),
    "worker_crashed": ("executor", "image", "the record killed its worker on every retry (Ray executor)"),
}


class RecordRejected(Exception):
    """Raised inside a stage to reject a whole image record with a stable reason code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def reject_row(image_id, stage: str, reason: str, detail: str = "", annotation_id=None) -> dict:
    """One row of the ``rejects`` config."""
    return {"image_id": image_id, "annotation_id": annotation_id, "stage": stage, "reason": reason,
            "detail": str(detail)[:500]}


def add_reject(record: dict, stage: str, reason: str, detail: str = "", annotation_id=None) -> None:
    record.setdefault("rejects", []).append(
        reject_row(record.get("image_id"), stage, reason, detail, annotation_id=annotation_id))


def reject_record(record: dict, stage: str, reason: str, detail: str = "") -> None:
    """Reject an image: one row for the image, one per annotation still pending on it.

    The accounting invariant (every input image and annotation ends in exactly one place) is kept:
    annotations that were already rejected individually are not rejected again, and objects already
    lifted are moved to rejects too because the image row will not be written.
    """
    add_reject(record, stage, reason, detail, annotation_id=None)
    for ann in record.get("annotations", []) or []:
        add_reject(record, stage, "image_rejected", f"{reason}: {detail}", annotation_id=ann["annotation_id"])
    for obj in record.get("objects", []) or []:
        add_reject(record, stage, "image_rejected", f"{reason}: {detail}", annotation_id=obj["annotation_id"])
    record["annotations"] = []
    record["objects"] = []
    record["qa"] = []
    record["failed"] = True
