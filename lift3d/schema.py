"""The output data contract: the single source of truth for every column lift3d writes.

``datasets.Features`` per config -> Arrow schema (with the ``huggingface`` metadata that
``load_dataset("parquet", data_files=...)`` reads) -> JSON Schema export + a human-readable field reference
(``lift3d schema --export schemas/`` writes both; a test keeps the committed copies current).

Configs (fixed names): ``objects`` (one row per image), ``qa`` (one row per question), ``rejects``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
from datasets import Features, Image, List, Value

log = logging.getLogger(__name__)

CONFIG_NAMES = ("objects", "qa", "rejects")


def _vec(n: int, dtype: str = "float64") -> List:
    return List(Value(dtype), length=n)


OBJECT_FIELDS: dict[str, tuple] = {
    # name: (feature, description)
    "annotation_id": (Value("int64"), "Input annotation id (unique within the source dataset)."),
    "category": (Value("string"), "Category name from the source dataset."),
    "category_id": (Value("int64"), "Category id from the source dataset."),
    "bbox2d": (_vec(4), "2D box [x1, y1, x2, y2] in pixels (0-based, x2 = x + w)."),
    "center_cam": (_vec(3), "Box centre [x, y, z] in the camera frame (x right, y down, z forward), metres."),
    "dimensions": (_vec(3), "Box size [w, h, l] in metres along the box's local x, y, z axes."),
    "R_cam": (
        _vec(9),
        "Rotation object->camera, row-major. Corners = center_cam + R_cam·(±w/2, ±h/2, ±l/2); "
        "column 1 is the gravity (down) axis when gravity is known.",
    ),
    "yaw": (Value("float64"), "Rotation about the down axis in the gravity frame, radians (see docs/conventions.md)."),
    "quality": (Value("float32"), "Lifting confidence in [0, 1]."),
    "flags": (List(Value("string")), "Lifting flags, e.g. truncated, occluded, few_points, yaw_unreliable, box_only, shared_surface, blended."),
    "num_points": (Value("int64"), "Depth points used for the fit."),
    "mask_source": (Value("string"), "Where the object's pixels came from: dataset (annotation) | sam (segmenter) | depth (box-only separation)."),
    "on_floor": (Value("bool"), "True when the box was snapped to rest on the floor plane."),
    "yaw_confidence": (Value("float32"), "Confidence of the fitted yaw in [0, 1] (low for round or thin objects)."),
    "distance_log_sigma": (
        Value("float32"),
        "Uncertainty of the object's distance from the camera as the QA guards model it: sd of log(lifted / true "
        "distance). Model depth: the image's depth scale (which holds the focal length's error), the depth-range "
        "bend and the object's own position error; sensor depth: the object's own position error only (its guards take "
        "the depth's scale as known). Null for an object the QA cannot use.",
    ),
    "height_log_sigma": (
        Value("float32"),
        "The same for its height (`dimensions`' h). Model depth: the lateral scale's sd (the size cues read heights "
        "directly, so the focal length's error hardly reaches them), the depth-range bend and the object's own size "
        "error; sensor depth: the object's own size error. Null for an object the QA cannot use. (Horizontal extents "
        "have none: one seen along the line of sight carries errors the model does not state.)",
    ),
}

OBJECTS_ROW: dict[str, tuple] = {
    "image_id": (Value("int64"), "Input image id."),
    "file_name": (Value("string"), "Image path relative to the image root."),
    "width": (Value("int32"), "Image width in pixels."),
    "height": (Value("int32"), "Image height in pixels."),
    "K": (_vec(9), "Camera intrinsics, row-major 3x3, 0-based pixel centres."),
    "depth_source": (Value("string"), "Depth backend: 'dataset' (sensor depth files), 'dataset-model' "
                     "(depth files from a depth model: --depth-origin model) or the model id."),
    "intrinsics_source": (Value("string"), "Where K came from: dataset | model | exif | fov_prior | vanishing (model depth: the focal length refined from the image's vanishing points)."),
    "depth_assumed_focal": (Value("bool"), "True when the depth model's metric scale assumes a focal length not from the image."),
    "gravity": (_vec(3), "Unit down direction in the camera frame; null when unknown."),
    "gravity_source": (Value("string"), "dataset | vanishing (the image's vertical lines, model depth) | estimated (floor-plane fit) | camera (camera = unknown, camera frame used)."),
    "gravity_confidence": (Value("float32"), "Confidence of the down direction in [0, 1] (1 for dataset gravity)."),
    "depth_scale_factor": (
        Value("float32"),
        "Global depth scale divided out before lifting, estimated from category size priors (model depth, and "
        "sensor depth with --sensor-scale-sd); "
        "1.0 when not applied.",
    ),
    "depth_scale_log_sigma": (
        Value("float32"),
        "Uncertainty of the image's metric scale after that correction: standard deviation of log(true / used "
        "depth scale), from the size priors, the camera height and the depth source's known spread (model depth, "
        "and sensor depth with --sensor-scale-sd); 0 for sensor depth taken as metric. Model depth's metric and box "
        "questions are asked only where it keeps them true (sensor depth keeps its own guards).",
    ),
    "objects": (List({k: v[0] for k, v in OBJECT_FIELDS.items()}), "Lifted 3D objects of the image (fields below)."),
    "depth": (
        Image(),
        "Depth used for lifting as a 16-bit PNG in millimetres (0 = invalid); only with --keep-depth, else null.",
    ),
    "rejected_categories": (
        List(Value("string")),
        "Categories with an annotation in this image that was not lifted, or not exhaustively annotated in the "
        "source (LVIS not_exhaustive): questions never count them, name one of them or treat them as absent.",
    ),
    "image": (
        Image(),
        "The RGB image (the source file's bytes, or re-encoded: --embed-images-format); only with --embed-images, "
        "else null.",
    ),
}

MESSAGE_CONTENT = {"type": Value("string"), "text": Value("string")}

QA_ROW: dict[str, tuple] = {
    "id": (Value("string"), "Unique question id."),
    "image_id": (Value("int64"), "Image the question is about."),
    "question_type": (Value("string"), "Stable question type id (schemas/question_types.md)."),
    "question": (Value("string"), "The question text."),
    "answer": (Value("string"), "The answer text."),
    "answer_form": (Value("string"), "open | yes_no | choice | numeric | boxes."),
    "answer_value": (Value("string"), "Machine-readable answer: SI number, yes/no, the chosen option, or JSON boxes."),
    "answer_unit": (Value("string"), "Unit of answer_value (m, deg, count, ...) or null."),
    "choices": (List(Value("string")), "Options of a multiple-choice question, in presented order."),
    "reasoning": (Value("string"), "Chain of thought: boxes used, computation steps, conclusion."),
    "object_ids": (List(Value("int64")), "Annotation ids the question is about."),
    "messages": (
        List({"role": Value("string"), "content": List(MESSAGE_CONTENT)}),
        "Chat turns in the format TRL's SFT trainer reads (image placeholder + question; <think> reasoning + answer).",
    ),
    "images": (
        List(Image()),
        "One image per image placeholder in messages (the question's image), for TRL's SFTTrainer and the Hub; "
        "only with --embed-images, else null.",
    ),
}

REJECTS_ROW: dict[str, tuple] = {
    "image_id": (Value("int64"), "Image id (null when the record had none)."),
    "annotation_id": (Value("int64"), "Annotation id, null for an image-level reject."),
    "stage": (Value("string"), "Pipeline stage that rejected it."),
    "reason": (Value("string"), "Stable reason code (docs/rejects.md)."),
    "detail": (Value("string"), "Human-readable detail."),
}

_ROWS = {"objects": OBJECTS_ROW, "qa": QA_ROW, "rejects": REJECTS_ROW}
CONFIG_DESCRIPTIONS = {
    "objects": "One row per image: camera, gravity and the lifted 3D boxes.",
    "qa": "One row per question: 3D grounding and spatial reasoning with chain of thought.",
    "rejects": "One row per rejected image or annotation, with a stable reason code.",
}


def features(config: str) -> Features:
    return Features({k: v[0] for k, v in _ROWS[config].items()})


def arrow_schema(config: str) -> pa.Schema:
    """Arrow schema with the ``huggingface`` features metadata embedded."""
    return features(config).arrow_schema


def columns(config: str) -> list[str]:
    return list(_ROWS[config])


_warned: set = set()


def _project(row: dict, names, config: str, warn: bool = True) -> dict:
    extra = set(row) - set(names)
    if warn and extra and (config, frozenset(extra)) not in _warned:
        _warned.add((config, frozenset(extra)))
        log.warning("%s: columns not in the contract are not written: %s", config, sorted(extra))
    return {k: row.get(k) for k in names}


def normalize_row(config: str, row: dict) -> dict:
    """Keep exactly the contract's columns (and object fields) of a row; missing ones become null."""
    # Image rows are built from pipeline records, which carry working fields: only nested objects warn.
    out = _project(row, _ROWS[config], config, warn=config != "objects")
    if config == "objects":
        out["objects"] = [_project(o, OBJECT_FIELDS, "objects.objects") for o in (row.get("objects") or [])]
    return out


def to_table(config: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([normalize_row(config, r) for r in rows], schema=arrow_schema(config))


# ----------------------------------------------------------------------------------------------- exports
def _feature_json_schema(feat) -> dict:
    if isinstance(feat, Image):
        return {"type": ["object", "null"], "properties": {"bytes": {"type": ["string", "null"], "contentEncoding": "base64"},
                                                           "path": {"type": ["string", "null"]}}}
    if isinstance(feat, Value):
        t = {
            "int32": "integer", "int64": "integer", "float32": "number", "float64": "number",
            "bool": "boolean", "string": "string",
        }[feat.dtype]
        return {"type": [t, "null"]}
    if isinstance(feat, List):
        s = {"type": ["array", "null"], "items": _feature_json_schema(feat.feature)}
        if feat.length and feat.length > 0:
            s["minItems"] = s["maxItems"] = feat.length
        return s
    if isinstance(feat, dict):
        return {
            "type": "object",
            "properties": {k: _feature_json_schema(v) for k, v in feat.items()},
            "required": list(feat),
        }
    raise TypeError(f"no JSON Schema mapping for {feat!r}")


def json_schema(config: str) -> dict:
    props = {}
    for name, (feat, desc) in _ROWS[config].items():
        props[name] = dict(_feature_json_schema(feat), description=desc)
    if config == "objects":
        item = props["objects"]["items"]
        for name, (_, desc) in OBJECT_FIELDS.items():
            item["properties"][name]["description"] = desc
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"lift3d {config} row",
        "description": CONFIG_DESCRIPTIONS[config],
        "type": "object",
        "properties": props,
        "required": list(props),
    }


def _type_str(feat) -> str:
    if isinstance(feat, Image):
        return "image (encoded bytes)"
    if isinstance(feat, Value):
        return feat.dtype
    if isinstance(feat, List):
        inner = _type_str(feat.feature)
        return f"list<{inner}>[{feat.length}]" if feat.length and feat.length > 0 else f"list<{inner}>"
    if isinstance(feat, dict):
        return "struct"
    return type(feat).__name__


def field_reference() -> str:
    lines = [
        "# lift3d output fields",
        "",
        "Generated by `lift3d schema --export schemas/` from `lift3d/schema.py` (the single source of truth);",
        "do not edit by hand. Camera frame: x right, y down, z forward, metres (docs/conventions.md).",
        "",
    ]
    for config in CONFIG_NAMES:
        lines += [f"## `{config}`", "", CONFIG_DESCRIPTIONS[config], "", "| column | type | meaning |", "|---|---|---|"]
        for name, (feat, desc) in _ROWS[config].items():
            lines.append(f"| `{name}` | `{_type_str(feat)}` | {desc} |")
        lines.append("")
        if config == "objects":
            lines += ["### `objects[]` (one per lifted annotation)", "", "| field | type | meaning |", "|---|---|---|"]
            for name, (feat, desc) in OBJECT_FIELDS.items():
                lines.append(f"| `{name}` | `{_type_str(feat)}` | {desc} |")
            lines.append("")
    return "\n".join(lines)


def export(directory: str | Path) -> list[Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for config in CONFIG_NAMES:
        p = d / f"{config}.schema.json"
        p.write_text(json.dumps(json_schema(config), indent=2, ensure_ascii=False) + "\n")
        written.append(p)
    p = d / "FIELDS.md"
    p.write_text(field_reference() + "\n")
    written.append(p)
    return written
