"""Columnar annotation batches of the ingest: which rows are plain, and that the column path changes nothing."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow.parquet as pq

from lift3d.io.coco import read_coco3d
from lift3d.io.columns import RAW_SEG, bbox_column, int64_column, split_batch
from lift3d.io.ingest import ingest_coco_json
from lift3d.io.manifest import ManifestWriter, clean_reject, open_manifest, table_counts


def test_int64_and_bbox_columns():
    arr, ok = int64_column([1, True, 2.0, "3", None, -5])
    assert ok.tolist() == [True, False, False, False, False, True] and arr.tolist() == [1, 0, 0, 0, 0, -5]
    box, ok = bbox_column([[1, 2.5, 3, 4], [1, 2, 3], [1, True, 3, 4], "b", [1, 2, 3, float("inf")], None])
    assert ok.tolist() == [True, False, False, False, False, False]
    assert box[0].tolist() == [1.0, 2.5, 3.0, 4.0]


def test_split_batch_sorts_rows_into_plain_odd_and_bad():
    batch = [
        {"id": 1, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "iscrowd": True, "isfake": 1},
        {"id": 2, "image_id": 7.0, "category_id": 2, "bbox": [1, 2, 3, 4]},  # float image id: odd
        {"id": 3, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4], "segmentation": 5},  # odd
        {"id": True, "image_id": 7},  # bad entry
        "junk",  # bad entry
        {"id": 4, "image_id": 8, "category_id": 1, "bbox": [0, 0, 1, 1], "segmentation": [[1, 2, 3, 4, 5, 6]]},
    ]
    b = split_batch(batch, 100, 10, flags=True)
    assert b.plain.aid.tolist() == [1, 4] and b.plain.seq.tolist() == [100, 105] and b.plain.vi.tolist() == [10, 13]
    assert b.plain.crowd.tolist() == [1, 0] and b.plain.fake.tolist() == [True, False]
    assert b.plain.seg == [None, "[[1,2,3,4,5,6]]"]
    assert [(t[0], t[2], t[-1]) for t in b.odd] == [(101, 2, RAW_SEG), (102, 3, RAW_SEG)]
    assert [seq for seq, _ in b.bad] == [103, 104] and b.ids.tolist() == [1, 2, 3, 4]


def test_table_and_row_writes_give_the_same_shards(tmp_path):
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"images": [{"id": i, "file_name": f"{i}.png", "width": 9, "height": 9}
                                          for i in range(1, 8)], "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    ingest_coco_json(src, tmp_path / "m", rows_per_shard=3)
    rows = open_manifest(tmp_path / "m")
    recs = list(rows.iter_records(tmp_path))
    w = ManifestWriter(tmp_path / "w", 3)
    table = pq.read_table(tmp_path / "m" / "images-00000.parquet")
    w.add(recs[0], source="coco", license="")
    w.add_table(table.slice(1, 2))
    w.add_table(pq.read_table(tmp_path / "m" / "images-00001.parquet"))
    w.add(recs[6], source="coco", license="")
    w.finish({"input_images": 7, "input_annotations": 0})
    for name in ("images-00000.parquet", "images-00001.parquet", "images-00002.parquet"):
        assert pq.read_table(tmp_path / "w" / name).equals(pq.read_table(tmp_path / "m" / name))


def _fuzz(rng: random.Random, n_images: int = 120, n_anns: int = 2500) -> dict:
    """A COCO file with every kind of bad field the reader handles (and none that it cannot)."""
    images = [{"id": rng.choice([i] * 12 + [rng.randint(0, 20), "x", None]), "width": rng.choice([64] * 9 + [0]),
               "height": 48, "file_name": rng.choice([f"im{i}.png"] * 9 + ["../e.png"])} for i in range(n_images)]

    def v():
        return rng.choice([1, 2.5, -0.5, -3, 0, 70, 1e300, True, "3", None])

    anns = []
    for k in range(n_anns):
        a = {"id": k if rng.random() > 0.03 else rng.choice([k - 1, 5, True, "q", None]),
             "image_id": rng.randint(-2, n_images + 5) if rng.random() > 0.05 else rng.choice([1.0, "1", None]),
             "category_id": rng.randint(0, 3) if rng.random() > 0.03 else rng.choice(["1", None]),
             "bbox": [round(rng.uniform(-2, 60), 2), round(rng.uniform(-2, 40), 2), rng.choice([3.125, 10]),
                      rng.randint(1, 9)]}
        if rng.random() < 0.1:
            a["bbox"] = rng.choice([[v(), v(), v(), v()], [1, 2, 3], "b", None])
        if rng.random() < 0.3:
            a["segmentation"] = rng.choice([[[1, 2, 3, 4.5, 5, 6]], {"counts": "ab", "size": [48, 64]}, [], {}, None, 5])
        if rng.random() < 0.5:
            a["iscrowd"] = rng.choice([0, 1, True, False, 2, 1.0, "1", None])
        anns.append(a if rng.random() > 0.002 else "junk")
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "chair"}, {"id": 2, "name": "table"}]}


def test_fuzzed_file_gives_the_json_readers_records(tmp_path):
    src = tmp_path / "f.json"
    src.write_text(json.dumps(_fuzz(random.Random(3))))
    ingest_coco_json(src, tmp_path / "m", rows_per_shard=50, partitions=4)
    man = open_manifest(tmp_path / "m")
    ref = read_coco3d(src, tmp_path)
    assert man.counts() == ref.counts()
    got = list(man.iter_records(tmp_path))
    assert len(got) == len(ref.records) and sum(len(r["annotations"]) for r in got) > 300
    for a, b in zip(got, ref.records):
        if a["failed"]:
            assert a["rejects"] == b["rejects"] and b["failed"]
        else:
            assert a == b
    # the manifest's int64 image_id column keeps an orphan's non-integer image_id as null (clean_reject)
    assert man.orphan_rejects() == [clean_reject(r) for r in ref.orphan_rejects]
    assert np.all(np.diff([r["image_id"] for r in got if not r["failed"]]) > 0)


def test_table_counts_follow_slices(tmp_path):
    src = tmp_path / "f.json"
    src.write_text(json.dumps(_fuzz(random.Random(4), n_images=40, n_anns=600)))
    ingest_coco_json(src, tmp_path / "m", rows_per_shard=1000)
    table = pq.read_table(tmp_path / "m" / "images-00000.parquet")
    for a, b in ((0, table.num_rows), (3, 11), (17, 1)):
        rows = table.slice(a, b).to_pylist()
        want = sum(len(r["annotations"]) + sum(x["annotation_id"] is not None for x in r["rejects"]) for r in rows)
        assert table_counts(table.slice(a, b)) == (len(rows), want)
