"""The record contract (lift3d/records.py) holds at every stage boundary of a real build."""

from __future__ import annotations

import pytest

from lift3d.build import BuildConfig, make_stages
from lift3d.io.coco import read_coco3d
from lift3d.records import boundaries, check_boundary, record_fields
from lift3d.synth import generate


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    generate(d, 2, 7, width=160, height=120)
    return d


def _ann_keys(rec):
    anns = rec.get("annotations") or []
    return set(anns[0]) if anns else None


@pytest.mark.parametrize("kw", [{}, {"masks": "depth", "keep_depth": True}, {"embed_images": True}])
def test_every_stage_boundary_matches_the_contract(synth, kw):
    records = read_coco3d(synth / "annotations.json", synth).records
    assert records and all(not r.get("failed") for r in records)
    for rec in records:
        assert set(rec) == record_fields("read")
    options = [k for k in ("embed_images",) if kw.get(k)]
    stages = make_stages(BuildConfig(**kw))
    assert [s.name for s in stages] == [b.stage for b in boundaries(options)[1:]]
    for stage in stages:
        stage.setup()
        before = [(set(r), _ann_keys(r)) for r in records]
        stage.process(records)
        for rec, (keys, ann) in zip(records, before):
            assert not rec.get("failed"), rec["rejects"]
            problems = check_boundary(stage.name, keys, set(rec), ann, _ann_keys(rec))
            assert not problems, problems
    expected = record_fields(options=options) | ({"depth"} if kw.get("keep_depth") else set())
    for rec in records:
        assert set(rec) == expected
        assert rec["annotations"] == [] and rec["objects"] and rec["qa"]


def test_check_boundary_reports_an_undeclared_field():
    before = record_fields("depth")
    seg = before | {"gravity_estimate"}
    assert check_boundary("segment", before, seg) == []
    assert check_boundary("segment", before, seg | {"floor"})
    assert check_boundary("segment", before, before)  # the segment stage always sets gravity_estimate
    assert check_boundary("lift", before, before)  # lift must add objects and drop the pixels
