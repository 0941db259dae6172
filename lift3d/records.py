"""The record contract: which fields each stage adds, changes and drops on the per-image record.

One plain dict per input image flows ``read -> decode -> depth -> segment -> lift -> qa -> write``.  This module
is the one place that declares it; ``tests/test_records.py`` runs the real stages and checks every boundary
against it, and ``docs/architecture.md`` points here.  The columns finally written are ``lift3d/schema.py``'s.

A record that fails (``failed`` true, reject rows in ``rejects``) is passed through by every later stage
unchanged; the contract describes the records that are still live.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Boundary:
    """What one stage does to a live record (field -> one-line meaning)."""

    stage: str
    adds: dict[str, str] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)
    drops: dict[str, str] = field(default_factory=dict)
    annotation_adds: dict[str, str] = field(default_factory=dict)  # on each entry of ``annotations``
    annotation_drops: dict[str, str] = field(default_factory=dict)
    option: str | None = None  # a stage present only with this BuildConfig option (e.g. embed_images)


CONTRACT: tuple[Boundary, ...] = (
    Boundary(
        "read",  # lift3d/io/coco.py
        adds={
            "image_id": "int, the input image id",
            "file_name": "str, image path relative to images_root",
            "images_root": "str, the --images folder",
            "width": "int, image width in pixels", "height": "int, image height in pixels",
            "K": "3x3 list or None, dataset intrinsics (pixels)",
            "gravity": "3 floats or None, dataset down direction in the camera frame",
            "depth_file": "str or None, dataset depth image relative to images_root",
            "depth_scale": "float, depth units per metre of depth_file",
            "annotations": "list of {annotation_id, category_id, category, bbox2d [x1,y1,x2,y2], segmentation, iscrowd}",
            "annotation_categories": "annotation id -> category name of every input annotation (also rejected ones)",
            "rejects": "list of reject rows (lift3d/rejects.py)",
            "failed": "bool, the record was rejected as a whole",
        },
    ),
    Boundary(
        "decode",  # lift3d/io/decode.py
        adds={
            "rgb": "HxWx3 uint8 image",
            "depth_dataset": "HxW float metres or None, the dataset depth (when --depth dataset)",
            "exif_focal_35mm": "float or None, EXIF 35 mm equivalent focal length",
        },
        annotation_adds={"mask": "HxW bool or None, the decoded segmentation"},
        annotation_drops={"segmentation": "replaced by mask"},
    ),
    Boundary(
        "embed",  # lift3d/io/embed.py, only with --embed-images
        adds={"image": "{bytes, path: None}: the encoded image (source file's bytes, or re-encoded JPEG / PNG); "
                       "written as objects.image and, once per image placeholder, qa.images"},
        option="embed_images",
    ),
    Boundary(
        "depth",  # lift3d/depth/stage.py
        adds={
            "depth": "HxW float metres, the depth the lifter uses",
            "depth_source": "str, dataset | dataset-model (--depth-origin model) | the model id",
            "intrinsics_source": "str, dataset | model | exif | fov_prior (the lift stage: vanishing)",
            "depth_assumed_focal": "float or None, the focal length a model's metric depth assumes",
        },
        changes={"K": "set from the intrinsics policy when the dataset has none"},
    ),
    Boundary(
        "segment",  # lift3d/segment/stage.py
        annotation_adds={
            "mask_source": "str, dataset | sam | depth (box-only separation in the lifter)",
            "mask_flags": "list of str, e.g. sam_rejected_floor",
        },
        adds={
            "gravity_estimate": "dict or None, the image's down direction and floor level (lift3d.lift.gravity."
                                "GravityEstimate.to_record: down, source, confidence, floor_h and the settings) when "
                                "the segmenter's depth check ran; the lift stage reuses it",
        },
        changes={"annotations": "mask set from the segmenter for box-only annotations (--masks sam)"},
    ),
    Boundary(
        "lift",  # lift3d/lift/stage.py
        adds={
            "objects": "list of lifted 3D boxes (the objects row's columns, lift3d/schema.py)",
            "gravity_source": "str, dataset | vanishing | estimated | camera",
            "gravity_confidence": "float in [0, 1]",
            "depth_scale_factor": "float, the model depth was divided by this (1.0: not rescaled)",
            "depth_scale_log_sigma": "float, sd of the log depth scale left after that correction (0: sensor depth "
                                     "taken as metric; --sensor-scale-sd: its fused scale's sd)",
            "lateral_scale_log_sigma": "float, the same sd for lengths across the line of sight (sizes, lateral "
                                       "positions), which the scale cues read directly: no focal-length error "
                                       "beyond the depth prior's (the QA guards); not an output column",
            "edge_ramp_px": "float or None, width of the depth map's edge ramps in pixels (model depth: measured for "
                            "the soft-edge erosion; the QA guards' size uncertainty); not an output column",
        },
        changes={
            "gravity": "the down direction used (estimated when the dataset has none)",
            "K": "the intrinsics the boxes were lifted with: the focal length from the image's vanishing points "
                 "(model depth, gravity.focal_log_sd > 0), when they fix it",
            "intrinsics_source": "vanishing when K was so refined",
            "annotations": "emptied: every annotation is now an object or a reject row",
            "depth": "with --keep-depth: {bytes: uint16 PNG in mm, path: None}; else dropped",
        },
        drops={"rgb": "pixels are not needed downstream", "depth_dataset": "pixels",
               "gravity_estimate": "used instead of estimating again (the result is in gravity, gravity_source, ...)",
               "depth": "pixels (kept as PNG bytes with --keep-depth)"},
    ),
    Boundary(
        "qa",  # lift3d/qa/stage.py
        adds={
            "qa": "list of question rows (the qa config's columns)",
            "qa_stats": "dict: generated / skipped counts per reason, objects, askable_objects, invalid_objects",
            "rejected_categories": "sorted categories with an annotation that was not lifted, or not exhaustively "
                                   "annotated (not_exhaustive_categories)",
        },
    ),
)

# Fields the reader sets only for some sources (lift3d ingest, docs/ingest.md); later stages pass them through.
OPTIONAL_READ: dict[str, str] = {
    "not_exhaustive_categories": "sorted category names not exhaustively annotated in this image (LVIS "
                                 "not_exhaustive_category_ids; OpenImages classes no human verified): QA treats "
                                 "them as incomplete",
    "referring": "list of {annotation_id, ref_id, split, sentences}: human referring expressions (RefCOCO family)",
}
OPTIONAL_ANNOTATION: dict[str, str] = {
    "flags": "list of str, source flags (OpenImages occluded / truncated / inside), added to the object's flags",
}

BY_STAGE = {b.stage: b for b in CONTRACT}


def boundaries(options=()) -> list[Boundary]:
    """The stages of a build with these options on (``BuildConfig`` field names such as ``embed_images``)."""
    return [b for b in CONTRACT if b.option is None or b.option in set(options)]


def record_fields(upto: str | None = None, options=()) -> set[str]:
    """The fields a live record has after stage ``upto`` (None: after the last stage), with the defaults
    (a field a stage both changes and drops, such as ``depth`` with ``--keep-depth``, counts as dropped)."""
    keys: set[str] = set()
    for b in boundaries(options):
        keys |= set(b.adds)
        keys -= set(b.drops)
        if b.stage == upto:
            break
    return keys


def check_boundary(stage: str, before: set, after: set, ann_before: set | None = None,
                   ann_after: set | None = None) -> list[str]:
    """Differences between what ``stage`` did to a record's keys and the contract (empty: conforms)."""
    b = BY_STAGE[stage]
    out = []
    added, removed = set(after) - set(before), set(before) - set(after)
    if added != set(b.adds) - set(before):
        out.append(f"{stage}: added {sorted(added)}, contract says {sorted(set(b.adds) - set(before))}")
    must_drop = {k for k in b.drops if k not in b.changes}
    if not (must_drop & set(before)) <= removed or not removed <= set(b.drops):
        out.append(f"{stage}: dropped {sorted(removed)}, contract says {sorted(b.drops)}")
    if ann_before is not None and ann_after is not None:
        a_add, a_rm = set(ann_after) - set(ann_before), set(ann_before) - set(ann_after)
        if a_add != set(b.annotation_adds) - set(ann_before) or a_rm != set(b.annotation_drops) & set(ann_before):
            out.append(f"{stage}: annotation fields +{sorted(a_add)} -{sorted(a_rm)}, contract says "
                       f"+{sorted(b.annotation_adds)} -{sorted(b.annotation_drops)}")
    return out
