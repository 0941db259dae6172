"""lift3d ingest: streaming COCO-family JSON -> manifest, the same records as the JSON reader, format semantics."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lift3d.errors import InputError
from lift3d.io.coco import read_coco3d
from lift3d.io.ingest import ingest, ingest_coco_json
from lift3d.io.manifest import manifest_units, open_manifest


def _img(i, **kw):
    d = {"id": i, "file_name": f"im{i}.png", "width": 40, "height": 30, "K": [[50, 0, 20], [0, 50, 15], [0, 0, 1]]}
    d.update(kw)
    return d


def _ann(i, img, **kw):
    d = {"id": i, "image_id": img, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0}
    d.update(kw)
    return d


def _write(path, images, annotations, categories=None, **extra):
    path.write_text(json.dumps({**extra, "images": images, "annotations": annotations,
                                "categories": categories or [{"id": 1, "name": "box"}, {"id": 2, "name": "chair"}]}))
    return path


EDGE_IMAGES = [
    _img(7), _img(2, file_name="../escape.png"), _img(3, K=[[0, 0, 0], [0, 0, 0], [0, 0, 1]]), _img(7),
    _img(4, width=0), _img(5, depth_file="/abs/depth.png"), {"id": "x"}, _img(1), _img(12), _img(9, gravity=[0, 1, 0]),
    _img(30, segmentation=None), _img(21), _img(8, depth_scale=0),
]
EDGE_ANNS = [
    _ann(10, 7), _ann(10, 7), _ann(11, 7, bbox=[0, 0, 0, 5]), _ann(12, 7, bbox=[35, 0, 20, 5]),
    _ann(13, 7, category_id=99), _ann(14, 99), _ann(15, 2), _ann(16, 7, segmentation=5), "junk", {"id": True},
    _ann(17, 1, segmentation=[[2, 2, 12, 2, 12, 12]]), _ann(18, 12, category_id=2), _ann(19, 99), _ann(19, 12),
    _ann(20, 9, bbox=[1.5, 2.25, 3.125, 4]), _ann(21, 21, iscrowd=1, segmentation={"counts": [0, 4], "size": [30, 40]}),
    _ann(22, 30), _ann(23, 1.0), _ann(24, "1"), _ann(25, 8),
]


@pytest.mark.parametrize("partitions", [1, 3, 50])
def test_records_identical_to_the_json_reader(tmp_path, partitions):
    src = _write(tmp_path / "a.json", EDGE_IMAGES, EDGE_ANNS)
    ingest_coco_json(src, tmp_path / "m", rows_per_shard=2, partitions=partitions)
    man = open_manifest(tmp_path / "m")
    ref = read_coco3d(src, tmp_path)
    assert man.counts() == ref.counts()
    got = list(man.iter_records(tmp_path))
    assert [r["image_id"] for r in got] == [r["image_id"] for r in ref.records]
    for a, b in zip(got, ref.records):
        if a["failed"]:  # a rejected record keeps only its reject rows (raw bad fields are not stored)
            assert a["rejects"] == b["rejects"] and b["failed"]
        else:
            assert a == b
    assert man.orphan_rejects() == ref.orphan_rejects
    # units are row ranges of one shard each (2 rows here, units of 3: one unit per shard), in record order
    units = manifest_units(man, 3, tmp_path)
    assert [r["image_id"] for u in units for r in u.records] == [r["image_id"] for r in ref.records]
    assert [u.unit_id for u in units] == list(range(len(units)))
    assert all(len(u.spans) == 1 and u.size == min(2, s["rows"]) for u, s in zip(units, man.shards))


def test_malformed_inputs_are_one_line(tmp_path):
    cases = {
        "trunc.json": ('{"images": [{"id": 1', "malformed JSON"),
        "list.json": ("[1, 2]", "expected a JSON object"),
        "missing.json": ('{"images": []}', "annotations, categories"),
        "notlist.json": ('{"images": {}, "annotations": [], "categories": []}', "'images' must be a list"),
        "badcat.json": ('{"images": [], "annotations": [], "categories": [{"id": "a"}]}', "integer id"),
    }
    for name, (text, msg) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(InputError, match=msg):
            ingest("coco", [p], tmp_path / ("m-" + name))
    with pytest.raises(InputError, match="not found"):
        ingest("coco", [tmp_path / "nope.json"], tmp_path / "m")
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "lift3d", "ingest", "--format", "lvis", "--annotations",
                        str(tmp_path / "trunc.json"), "--out", str(tmp_path / "cli")], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_objects365_fake_and_reflected_boxes_are_rejected(tmp_path):
    anns = [_ann(1, 1, isfake=0, isreflected=0), _ann(2, 1, isfake=1, isreflected=0),
            _ann(3, 1, isfake=0, isreflected=1)]
    src = _write(tmp_path / "o365.json", [_img(1)], anns)
    ingest("objects365", [src], tmp_path / "m")
    (rec,) = open_manifest(tmp_path / "m").iter_records(tmp_path)
    assert [a["annotation_id"] for a in rec["annotations"]] == [1]
    assert sorted((r["annotation_id"], r["reason"]) for r in rec["rejects"]) == [(2, "fake_box"), (3, "reflection")]
    # the same file read as plain COCO keeps them (the flags mean nothing there)
    ingest("coco", [src], tmp_path / "c")
    (rec,) = open_manifest(tmp_path / "c").iter_records(tmp_path)
    assert len(rec["annotations"]) == 3


def test_lvis_semantics_and_file_names(tmp_path):
    cats = [{"id": 1, "name": "chair", "synonyms": ["chair"], "frequency": "f"},
            {"id": 2, "name": "armchair", "synonyms": ["armchair", "easy_chair"], "frequency": "c"},
            {"id": 3, "name": "cat", "synonyms": ["cat"], "frequency": "f"}]
    images = [{"id": 5, "coco_url": "http://images.cocodataset.org/val2017/000000000005.jpg", "width": 40,
               "height": 30, "not_exhaustive_category_ids": [1], "neg_category_ids": [3, 77]}]
    src = _write(tmp_path / "lvis.json", images, [_ann(1, 5), _ann(2, 5, category_id=2)], cats)
    meta = ingest("lvis", [src], tmp_path / "m")
    (rec,) = open_manifest(tmp_path / "m").iter_records(tmp_path)
    assert rec["file_name"] == "val2017/000000000005.jpg"
    assert rec["not_exhaustive_categories"] == ["chair"]
    assert len(rec["annotations"]) == 2
    assert meta["priors_coverage"]["categories"] == 3
    # the synonyms travel in manifest.json to the build (the lift stage's size priors: LiftStage.bind_input)
    assert open_manifest(tmp_path / "m").meta["category_synonyms"]["armchair"] == ["armchair", "easy_chair"]
    assert (tmp_path / "m" / "README.md").read_text().startswith("# lift3d manifest: lvis")


def test_existing_manifest_needs_overwrite(tmp_path):
    src = _write(tmp_path / "a.json", [_img(1)], [_ann(1, 1)])
    ingest("coco", [src], tmp_path / "m")
    with pytest.raises(InputError, match="--overwrite"):
        ingest("coco", [src], tmp_path / "m")
    ingest("coco", [src], tmp_path / "m", overwrite=True)


def test_build_from_manifest_equals_build_from_json(tmp_path):
    from lift3d.build import build
    from lift3d.output import read_config_table
    from lift3d.build import BuildConfig
    from lift3d.synth import generate

    d = tmp_path / "synth"
    generate(d, 5, 7, width=200, height=150)
    data = json.loads((d / "annotations.json").read_text())
    data["annotations"].append(dict(data["annotations"][0], id=10**6, image_id=4242))  # an orphan reject
    (d / "annotations.json").write_text(json.dumps(data))
    ingest("coco", [d / "annotations.json"], tmp_path / "m", images_root=d, rows_per_shard=2)

    def contents(out):
        return {c: read_config_table(out, c).to_pylist() for c in ("objects", "qa", "rejects")}

    cfg = BuildConfig(images_per_unit=2, rows_per_shard=40)
    a = build(d / "annotations.json", d, tmp_path / "a", cfg, executor="local", progress=False)
    b = build(tmp_path / "m", None, tmp_path / "b", cfg, executor="local", progress=False)  # image root from the manifest
    ca, cb = contents(tmp_path / "a"), contents(tmp_path / "b")
    assert ca == cb and len(ca["objects"]) == 5 and ca["qa"]
    assert any(r["reason"] == "unknown_image" for r in ca["rejects"])
    assert a["counts"] == b["counts"] and b["input"]["manifest"] and not a["input"]["manifest"]
    assert not (tmp_path / "a" / ".staging").exists()


def test_source_flags_reach_the_lifted_objects(tmp_path):
    """OpenImages occluded/truncated (annotation flags) become object flags, which the QA guards read."""
    from lift3d.pipeline.run import run_stages
    from lift3d.build import BuildConfig, make_stages
    from lift3d.synth import generate

    d = tmp_path / "synth"
    generate(d, 1, 3, width=200, height=150)
    ingest("coco", [d / "annotations.json"], tmp_path / "m", images_root=d)
    (rec,) = open_manifest(tmp_path / "m").iter_records(d)
    first = rec["annotations"][0]["annotation_id"]
    rec["annotations"][0]["flags"] = ["truncated", "inside"]
    stages = make_stages(BuildConfig())[:-1]  # decode .. lift
    for s in stages:
        s.setup()
    (out,) = run_stages(stages, [rec])
    objs = {o["annotation_id"]: o for o in out["objects"]}
    assert {"truncated", "inside"} <= set(objs[first]["flags"])
    assert all("inside" not in o["flags"] for a, o in objs.items() if a != first)


def test_unhashable_category_id_is_a_reject_not_a_crash(tmp_path):
    src = _write(tmp_path / "a.json", [_img(1)], [_ann(1, 1, category_id=[1]), _ann(2, 1)])
    ingest("coco", [src], tmp_path / "m")
    (rec,) = open_manifest(tmp_path / "m").iter_records(tmp_path)
    assert [a["annotation_id"] for a in rec["annotations"]] == [2]
    assert [(r["annotation_id"], r["reason"]) for r in rec["rejects"]] == [(1, "unknown_category")]
