"""Segmenter backends (tiny random SAM / SAM-HQ / SAM 2 saved locally) and the segment stage with its modes."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.errors import UserError
from lift3d.segment import BoxSegmenter, MissingSegmenterError, SegmentConfig, SegmentStage
from lift3d.synth.dataset import make_sample


def _record(index=0, masks=False):
    s = make_sample(5, index, width=160, height=120)
    anns = [{"annotation_id": o["annotation_id"], "category": o["category"], "bbox2d": o["bbox2d"],
             "mask": s.masks[o["annotation_id"]] if masks else None, "iscrowd": 0} for o in s.objects]
    return {"image_id": index, "rgb": s.result.rgb, "depth": s.depth, "K": s.scene.K.reshape(-1).tolist(),
            "gravity": s.scene.down.tolist(), "annotations": anns}


@pytest.mark.parametrize("family", ["sam", "sam_hq", "sam2"])
def test_tiny_segmenter_loads_and_segments(tiny_dirs, family):
    seg = BoxSegmenter(tiny_dirs[family], device="cpu", box_batch=2).load()
    assert seg.family == family
    rgb = np.random.default_rng(0).integers(0, 255, (90, 140, 3), dtype=np.uint8)
    boxes = [[10, 10, 60, 70], [30, 20, 130, 80], [0, 0, 140, 90]]
    masks, scores = seg.segment(rgb, boxes)
    assert masks.shape == (3, 3, 90, 140) and masks.dtype == bool
    assert scores.shape == (3, 3) and np.all(np.isfinite(scores))
    # one image encoding per image whatever the number of boxes (chunks of 2 here)
    calls = []
    orig = seg.model.get_image_embeddings
    seg.model.get_image_embeddings = lambda pv: (calls.append(1), orig(pv))[1]
    seg.segment(rgb, boxes)
    assert len(calls) == 1
    # boxes batched: same masks whether chunked or not
    seg.box_batch = 64
    m2, s2 = seg.segment(rgb, boxes)
    np.testing.assert_allclose(s2, scores, atol=1e-4)


def test_preprocess_frames(tiny_dirs):
    sam = BoxSegmenter(tiny_dirs["sam"], device="cpu").load()
    pv, hw = sam.preprocess(np.zeros((64, 128, 3), np.uint8))
    assert tuple(pv.shape) == (1, 3, 128, 128) and hw == (64, 128)
    assert np.allclose(sam._boxes([[0, 0, 128, 64]], 64, 128, hw), [[0, 0, 128, 64]])
    sam2 = BoxSegmenter(tiny_dirs["sam2"], device="cpu").load()
    pv, hw = sam2.preprocess(np.zeros((64, 128, 3), np.uint8))
    assert tuple(pv.shape) == (1, 3, 128, 128) and hw == (128, 128)
    assert np.allclose(sam2._boxes([[0, 0, 128, 64]], 64, 128, hw), [[0, 0, 128, 128]])


def test_stage_sam_mode_sets_fields(tiny_dirs):
    st = SegmentStage(SegmentConfig(masks="sam", model=tiny_dirs["sam"], device="cpu"))
    assert st.resources.num_gpus == 0
    r = _record(0)
    st.process([r])
    assert not r.get("failed"), r.get("rejects")
    for a in r["annotations"]:
        assert a["mask_source"] in ("sam", "depth")
        assert isinstance(a["mask_flags"], list)
        if a["mask_source"] == "sam":
            assert a["mask"].dtype == bool and a["mask"].shape == r["depth"].shape
        else:  # a random model's masks mostly disagree with depth: fallback, flagged
            assert a["mask"] is None and a["mask_flags"] and a["mask_flags"][0].startswith("sam_rejected")


def test_stage_keeps_dataset_masks_and_depth_mode(tiny_dirs):
    r = _record(1, masks=True)
    SegmentStage(SegmentConfig(masks="auto", model=tiny_dirs["sam2"], device="cpu")).process([r])
    assert all(a["mask_source"] == "dataset" and a["mask"] is not None for a in r["annotations"])
    r = _record(1, masks=True)
    SegmentStage(SegmentConfig(masks="depth")).process([r])
    assert all(a["mask_source"] == "depth" and a["mask"] is None for a in r["annotations"])


def test_missing_weights_auto_falls_back_sam_raises(tmp_path, caplog):
    missing = str(tmp_path / "no_such_model")
    st = SegmentStage(SegmentConfig(masks="auto", model=missing, offline=True))
    r = _record(2)
    with caplog.at_level("WARNING"):
        st.process([r])
    assert not r.get("failed")
    assert all(a["mask_source"] == "depth" and a["mask"] is None for a in r["annotations"])
    assert st.fallback_reason and sum("no segmenter" in m for m in caplog.messages) == 1
    st = SegmentStage(SegmentConfig(masks="sam", model="sam-vit-base", offline=True))
    with pytest.raises(MissingSegmenterError) as ei:
        st.setup()
    assert isinstance(ei.value, UserError) and "facebook/sam-vit-base" in str(ei.value)
    assert "\n" not in str(ei.value)


def test_not_a_segmenter_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    d = tmp_path / "bert"
    BertModel(BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
                         vocab_size=30)).save_pretrained(d)
    with pytest.raises(MissingSegmenterError, match="not a box-promptable segmenter"):
        SegmentStage(SegmentConfig(masks="sam", model=str(d))).setup()


def test_the_depth_check_shares_its_gravity_estimate_with_the_lift_stage(tiny_dirs):
    """One gravity/floor estimate per image: the segment stage's depth check makes it (the lifter's floor, not a
    percentile of heights), stores it on the record, and the lift stage lifts with it - the same boxes as when
    it estimates again - and drops the field."""
    import copy

    from lift3d.lift import LiftConfig
    from lift3d.lift.gravity import image_gravity
    from lift3d.lift.stage import LiftStage

    r = _record(0)
    SegmentStage(SegmentConfig(masks="sam", model=tiny_dirs["sam"], device="cpu")).process([r])
    est = r["gravity_estimate"]
    ge, _ = image_gravity(r["depth"], np.asarray(r["K"]).reshape(3, 3), r["gravity"], r["annotations"])
    assert est["source"] == "dataset" and est["down"] == [float(t) for t in ge.down]
    assert est["floor_h"] == ge.floor_h and abs(est["floor_h"] - make_sample(5, 0).scene.cam_height) < 0.05
    without = copy.deepcopy(r)
    without.pop("gravity_estimate")
    lift = LiftStage(LiftConfig(scale_from_priors=True))
    lift.setup()
    lift.process([r, without])
    assert "gravity_estimate" not in r and r["objects"] and r["objects"] == without["objects"]
    assert r["gravity"] == without["gravity"] and r.get("rejects") == without.get("rejects")
    # no depth check (dataset masks / depth mode): no estimate, the lift stage makes its own
    r2 = _record(1, masks=True)
    SegmentStage(SegmentConfig(masks="depth")).process([r2])
    assert r2["gravity_estimate"] is None
