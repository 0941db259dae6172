"""RefCOCO family: restricted unpickling, expressions on records, splits kept, ground_expression questions."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from lift3d.errors import InputError
from lift3d.io.ingest import ingest
from lift3d.io.manifest import open_manifest
from lift3d.io.refcoco import load_refs


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_globals(tmp_path):
    p = tmp_path / "refs(unc).p"
    p.write_bytes(pickle.dumps([{"ref_id": 1, "x": _Evil()}], protocol=2))
    with pytest.raises(InputError, match="not allowed"):
        load_refs(p)
    ok = tmp_path / "refs(umd).p"
    ok.write_bytes(pickle.dumps([{"ref_id": 1, "ann_id": 2, "image_id": 3, "split": "val",
                                  "sentences": [{"sent": "the red cup", "sent_id": 0}]}], protocol=2))
    assert load_refs(ok)[0]["sentences"][0]["sent"] == "the red cup"
    (tmp_path / "bad.p").write_bytes(b"\x80\x02garbage")
    with pytest.raises(InputError):
        load_refs(tmp_path / "bad.p")


def test_refcoco_ingest_and_build(tmp_path):
    from lift3d.build import build
    from lift3d.output import read_config_table
    from lift3d.build import BuildConfig
    from lift3d.synth import generate
    from lift3d.validate import validate

    d = tmp_path / "synth"
    generate(d, 4, 5, width=200, height=150)
    data = json.loads((d / "annotations.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    refs = []
    for a in data["annotations"]:
        split = "val" if a["image_id"] == data["images"][0]["id"] else "train"
        refs.append({"ref_id": len(refs), "ann_id": a["id"], "image_id": a["image_id"], "category_id": a["category_id"],
                     "split": split, "sentences": [{"sent": f"the {cats[a['category_id']]} number {a['id']}",
                                                    "sent_id": a["id"]}]})
    (tmp_path / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    meta = ingest("refcoco", [d / "annotations.json", tmp_path / "refs(unc).p"], tmp_path / "m", images_root=d)
    assert meta["refs"] == len(refs) and meta["split_counts"]["val"]["input_images"] == 1
    man = open_manifest(tmp_path / "m")
    assert man.splits == ["train", "val"]
    n_expr = 0
    for split, n_images in (("val", 1), ("train", 3)):
        cfg = BuildConfig(images_per_unit=2, rows_per_shard=100, split=split)
        info = build(tmp_path / "m", d, tmp_path / split, cfg, executor="local", progress=False)
        assert info["counts"]["input_images"] == n_images
        qa = read_config_table(tmp_path / split, "qa").to_pylist()
        expr = [q for q in qa if q["question_type"] == "ground_expression"]
        for q in expr:  # the sentence names the very object the answer boxes
            assert f"number {q['object_ids'][0]}" in q["question"]
        n_expr += len(expr)
        report = validate(tmp_path / split)
        assert report.ok, report.summary()
    assert n_expr > 0
    with pytest.raises(InputError, match="splits train, val"):
        build(tmp_path / "m", d, tmp_path / "o2", BuildConfig(split="test"), executor="local", progress=False)
