"""The contract module round-trips through Arrow, Parquet and datasets, and the exports are current."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from lift3d import schema

REPO = Path(__file__).resolve().parents[1]

EXAMPLE = {
    "objects": {
        "image_id": 7, "file_name": "a.png", "width": 640, "height": 480,
        "K": [500.0, 0, 319.5, 0, 500.0, 239.5, 0, 0, 1], "depth_source": "dataset",
        "intrinsics_source": "dataset", "depth_assumed_focal": False, "gravity": [0.0, 1.0, 0.0],
        "gravity_source": "dataset", "gravity_confidence": 1.0, "depth_scale_factor": 1.0,
        "depth_scale_log_sigma": 0.0, "rejected_categories": ["lamp"], "depth": None,
        "image": None,
        "objects": [{
            "annotation_id": 3, "category": "chair", "category_id": 2, "bbox2d": [1.0, 2.0, 30.0, 40.0],
            "center_cam": [0.1, 0.2, 3.0], "dimensions": [0.5, 0.9, 0.5],
            "R_cam": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], "yaw": 0.25, "quality": 0.75,
            "flags": ["occluded"], "num_points": 1234, "mask_source": "dataset", "on_floor": True, "yaw_confidence": 0.5,
            "distance_log_sigma": 0.125, "height_log_sigma": 0.0625,
        }],
    },
    "qa": {
        "id": "7-0000", "image_id": 7, "question_type": "distance_camera", "question": "How far?",
        "answer": "3.0 m", "answer_form": "numeric", "answer_value": "3.0", "answer_unit": "m", "choices": [],
        "reasoning": "z = 3.0", "object_ids": [3],
        "messages": [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": "How far?"}]},
                     {"role": "assistant", "content": [{"type": "text", "text": "<think>z</think>3.0 m"}]}],
        "images": None,
    },
    "rejects": {"image_id": 7, "annotation_id": None, "stage": "read", "reason": "bad_bbox", "detail": "x"},
}


@pytest.mark.parametrize("config", schema.CONFIG_NAMES)
def test_round_trip(tmp_path, config):
    row = EXAMPLE[config]
    assert set(row) == set(schema.columns(config))
    table = schema.to_table(config, [row])
    assert table.schema.metadata[b"huggingface"]
    p = tmp_path / config / "train-00000-of-00001.parquet"
    p.parent.mkdir()
    pq.write_table(table, p)
    # datasets reads the embedded features metadata
    ds = datasets.load_dataset("parquet", data_files=str(p), split="train")
    assert ds.features == schema.features(config)
    back = ds[0]
    assert back == row


def test_extra_keys_are_dropped_and_missing_are_null():
    row = dict(EXAMPLE["rejects"], extra="x")
    row.pop("detail")
    t = schema.to_table("rejects", [row])
    assert t.column_names == schema.columns("rejects")
    assert t.to_pylist()[0]["detail"] is None


def test_exports_are_current(tmp_path):
    schema.export(tmp_path)
    for p in tmp_path.iterdir():
        committed = REPO / "schemas" / p.name
        assert committed.exists(), f"run `make schema`: {committed} is missing"
        assert committed.read_text() == p.read_text(), f"run `make schema`: {committed} is stale"
    js = json.loads((tmp_path / "objects.schema.json").read_text())
    assert js["properties"]["objects"]["items"]["properties"]["R_cam"]["minItems"] == 9
