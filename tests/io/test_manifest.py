"""The manifest's reading side: work units planned from the shard list (ManifestPlan) and made from Ray Data's
Parquet read blocks, whose rows come in any order and any grouping (units_in_block)."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lift3d.io.ingest import ingest_coco_json
from lift3d.io.manifest import ManifestPlan, manifest_units, open_manifest, row_offsets


def _manifest(tmp_path, n_images=23, rows_per_shard=5):
    images = [{"id": i, "file_name": f"im{i}.png", "width": 40, "height": 30,
               "K": [[50, 0, 20], [0, 50, 15], [0, 0, 1]]} for i in range(1, n_images + 1)]
    anns = [{"id": 100 + i, "image_id": i, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0}
            for i in range(1, n_images + 1)]
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "box"}]}))
    ingest_coco_json(src, tmp_path / "m", rows_per_shard=rows_per_shard)
    return open_manifest(tmp_path / "m")


def test_plan_units_are_row_ranges_of_one_shard_with_stable_ids(tmp_path):
    man = _manifest(tmp_path)  # shards of 5, 5, 5, 5, 3 rows
    plan = ManifestPlan(man, 2, tmp_path)
    assert plan.num_units == 3 + 3 + 3 + 3 + 2
    units = list(plan.units())
    assert [u.unit_id for u in units] == list(range(14))
    assert [u.spans for u in units[:4]] == [[("images-00000.parquet", 0, 2)], [("images-00000.parquet", 2, 4)],
                                            [("images-00000.parquet", 4, 5)], [("images-00001.parquet", 0, 2)]]
    assert all(plan.unit(u.unit_id).spans == u.spans for u in units)
    assert [r["image_id"] for u in units for r in u.load()] == list(range(1, 24))
    assert [u.spans for u in manifest_units(man, 2, tmp_path)] == [u.spans for u in units]
    # resume: finished units are skipped by id; a shard with nothing left is not read at all
    rest = plan.skip({0, 1, 2, 4, 99})
    assert [u.unit_id for u in rest.units()] == [3] + list(range(5, 14)) and len(rest) == 10
    assert rest.todo_images == 23 - 5 - 2
    assert [p.rsplit("/", 1)[1] for p in rest.parquet_paths()] == [f"images-{i:05d}.parquet" for i in range(1, 5)]


def _ray_blocks(man, rng, blocks):
    """What ray.data.read_parquet(include_paths=True, include_row_hash=True) may hand a task: every shard row once,
    with its path and Ray's row hash, shuffled and cut into blocks that mix shards and split units."""
    from ray.data._internal.datasource_v2.common.synthesized_columns import _compute_row_hashes

    tables = []
    for s in man.shards:
        path = str((man.path / s["path"]).resolve())
        t = pq.read_table(path)
        tables.append(t.append_column("path", pa.array([path] * t.num_rows))
                      .append_column("row_hash", pa.array(_compute_row_hashes(path, 0, t.num_rows), pa.uint64())))
    t = pa.concat_tables(tables)
    perm = list(range(t.num_rows))
    rng.shuffle(perm)
    t = t.take(pa.array(perm))
    cuts = sorted(rng.sample(range(1, t.num_rows), blocks - 1)) if blocks > 1 else []
    return [t.slice(a, b - a) for a, b in zip([0] + cuts, cuts + [t.num_rows])]


@pytest.mark.parametrize("seed,blocks,n", [(0, 1, 2), (1, 4, 2), (2, 9, 3), (3, 23, 1), (4, 3, 64)])
def test_units_from_ray_blocks_equal_the_planned_units(tmp_path, seed, blocks, n):
    pytest.importorskip("ray")
    man = _manifest(tmp_path)
    plan = ManifestPlan(man, n, tmp_path).skip({1})
    got = [u for b in _ray_blocks(man, random.Random(seed), blocks) for u in plan.units_in_block(b)]
    assert sorted(u.unit_id for u in got) == [u.unit_id for u in plan.units()]  # each unit once, unit 1 skipped
    want = {u.unit_id: u.load() for u in plan.units()}
    for u in got:
        assert u.load() == want[u.unit_id]
        assert u.read_counts["ray_data"] + u.read_counts["pyarrow"] == u.size and u.read_counts["ray_data"] >= 1
    if blocks == 1:  # one block holds every row: nothing is read again
        assert all(u.read_counts["pyarrow"] == 0 for u in got)


def test_row_offsets_reject_a_hash_that_is_not_rays(tmp_path):
    pytest.importorskip("ray")
    from ray.data._internal.datasource_v2.common.synthesized_columns import _compute_row_hashes

    h = _compute_row_hashes("/x/images-00000.parquet", 0, 10)
    assert list(row_offsets("/x/images-00000.parquet", h[[3, 0, 9]], 10)) == [3, 0, 9]
    with pytest.raises(RuntimeError, match="row_hash"):
        row_offsets("/x/images-00001.parquet", h[[3]], 10)
    with pytest.raises(RuntimeError, match="row_hash"):
        row_offsets("/x/images-00000.parquet", np.array([12345], dtype=np.uint64), 10)
