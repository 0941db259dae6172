import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent / "qa"))
from qa_helpers import random_scene  # noqa: E402

from lift3d.qa import QAConfig, generate_qa  # noqa: E402
from lift3d.validate import validate  # noqa: E402


def write_out(tmp_path, n_images=40, mutate=None, extra_rejects=(), drop_reject=False):
    rng = np.random.default_rng(0)
    images, qa, rejects = [], [], []
    n_ann = 0
    for g in range(n_images):
        img, objs = random_scene(rng, g + 1, n=int(rng.integers(2, 9)), ncats=6)
        rows, _ = generate_qa(img, objs, QAConfig(), g)
        images.append(dict(img, objects=objs))
        qa += rows
        n_ann += len(objs)
    # one more input image rejected whole, with its two annotations
    rejects.append(dict(image_id=999, annotation_id=None, stage="decode", reason="image_unreadable", detail=""))
    for aid in (999001, 999002):
        rejects.append(dict(image_id=999, annotation_id=aid, stage="decode", reason="image_rejected", detail=""))
    # one annotation rejected on a written image
    rejects.append(dict(image_id=1, annotation_id=1999, stage="lift", reason="too_few_points", detail=""))
    rejects += list(extra_rejects)
    if drop_reject:
        rejects.pop()
    if mutate:
        mutate(images, qa)
    for name, rows in (("objects", images), ("qa", qa), ("rejects", rejects)):
        (tmp_path / name).mkdir()
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / name / "train-00000-of-00001.parquet")
    info = {"counts": {"input_images": n_images + 1, "input_annotations": n_ann + 3}}
    (tmp_path / "build_info.json").write_text(json.dumps(info))
    return tmp_path


def test_valid_output_passes(tmp_path):
    rep = validate(str(write_out(tmp_path)))
    assert rep.ok, rep.summary()
    assert rep.counts["questions"] > 200
    assert "OK" in rep.summary()


def _flip_first(kind):
    def m(images, qa):
        r = next(r for r in qa if r["answer_form"] == kind)
        if kind == "yes_no":
            r["answer_value"] = "no" if r["answer_value"] == "yes" else "yes"
        elif kind == "numeric":
            r["answer_value"] = f"{float(r['answer_value']) * 1.5 + 0.1:.2f}"
        elif kind == "choice":
            r["answer_value"] = next(c for c in r["choices"] if c != r["answer_value"])
    return m


@pytest.mark.parametrize("kind", ["yes_no", "numeric", "choice"])
def test_wrong_answer_fails(tmp_path, kind):
    rep = validate(str(write_out(tmp_path, mutate=_flip_first(kind))))
    assert not rep.ok
    assert any("boxes say" in e or "disagrees" in e for e in rep.errors), rep.errors


def test_moved_box_is_detected(tmp_path):
    def m(images, qa):
        r = next(r for r in qa if r["question_type"] == "1p_distance_camera")
        for img in images:
            for o in img["objects"]:
                if o["annotation_id"] == r["object_ids"][0]:
                    o["center_cam"] = [v * 2 for v in o["center_cam"]]
    assert not validate(str(write_out(tmp_path, mutate=m))).ok


def test_ambiguous_referent_fails(tmp_path):
    def m(images, qa):
        r = next(r for r in qa if r["question_type"] == "ground_single")
        img = next(i for i in images if i["image_id"] == r["image_id"])
        o = next(o for o in img["objects"] if o["annotation_id"] == r["object_ids"][0])
        other = next(x for x in img["objects"] if x["annotation_id"] != o["annotation_id"])
        other["category"] = o["category"]  # "the <category>" now names two objects
    rep = validate(str(write_out(tmp_path, mutate=m)))
    assert not rep.ok
    assert any("refers to 2 objects" in e or "not unambiguously named" in e or "single grounding" in e
               for e in rep.errors), rep.errors


def test_accounting_violation_fails(tmp_path):
    rep = validate(str(write_out(tmp_path, drop_reject=True)))
    assert not rep.ok
    assert any("annotations:" in e for e in rep.errors)
    dup = dict(image_id=1, annotation_id=1000, stage="lift", reason="x", detail="")  # 1000 is also an object
    sub = tmp_path / "b"
    sub.mkdir()
    rep = validate(str(write_out(sub, extra_rejects=[dup])))
    assert any("both objects and rejects" in e for e in rep.errors)


def test_yes_no_imbalance_fails(tmp_path):
    def m(images, qa):
        qa[:] = [r for r in qa if r["answer_value"] != "no"]
    rep = validate(str(write_out(tmp_path, mutate=m)))
    assert any("yes/no balance" in e for e in rep.errors)
