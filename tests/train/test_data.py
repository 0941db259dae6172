import json

import numpy as np
import pytest
import torch

from lift3d.errors import UserError
from lift3d.model import pool_point_map, point_map_from_depth, resolve_model_config, sinusoidal_3d
from lift3d.model.load import build_tokenizer, image_processor
from lift3d.qa.serialize import parse_boxes
from lift3d.train import Corpus, localization_samples, qa_samples, stage_samples
from lift3d.train.encode import Encoder, collate
from lift3d.train.evaluate import average_precision, box_scores


def test_localization_conversations_round_trip(corpus_dir):
    cfg = resolve_model_config("tiny")
    c = Corpus(corpus_dir, "train")
    loc = localization_samples(c, cfg)
    assert {s["task"] for s in loc} == {"detect", "ground"}
    assert sum(s["task"] == "detect" for s in loc) == len(c.images)
    for s in loc:
        recs = parse_boxes(s["target"], "n3d", s["K"], s["width"], s["height"])
        ref = json.loads(s["answer_value"])
        assert len(recs) == len(ref)
        # exact to the printed precision: sizes, depth and yaw to 2 decimals, (u, v) to 3 decimals
        fx = s["K"][0]
        for got, want in zip(recs, ref):
            assert got["category"] == want["category"]
            assert np.allclose(got["dimensions"], want["dimensions"], atol=0.005 + 1e-9)
            assert abs(got["yaw"] - want["yaw"]) <= 0.005 + 1e-9
            assert abs(got["center_cam"][2] - want["center_cam"][2]) <= 0.005 + 1e-9
            lateral = 0.0005 * max(s["width"], s["height"]) * (want["center_cam"][2] + 0.005) / fx + 0.005
            assert np.allclose(got["center_cam"][:2], want["center_cam"][:2], atol=lateral)
        sc = box_scores(recs, ref, s["K"], s["width"], s["height"], s["gravity"])
        assert sc["iou3d_sum"] / sc["n_ref"] > 0.75  # cm rounding costs small objects a little IoU
    qa = qa_samples(c, cfg)
    assert qa and all("</think>" in s["target"] for s in qa)


def test_stage_mix_share(corpus_dir):
    cfg = resolve_model_config("tiny")
    c = Corpus(corpus_dir, "train")
    mix = stage_samples(c, cfg, "reasoning", loc_share=0.2)
    n_loc = sum(s["task"] != "qa" for s in mix)
    assert 0 < n_loc <= len(localization_samples(c, cfg))
    assert abs(n_loc / len(mix) - 0.2) < 0.05 or n_loc == len(localization_samples(c, cfg))
    with pytest.raises(UserError):
        stage_samples(c, cfg, "bogus")
    with pytest.raises(UserError):
        Corpus(corpus_dir, "validation")


def test_labels_cover_only_the_assistant_answer(corpus_dir):
    cfg = resolve_model_config("tiny", depth_pe=True)
    c = Corpus(corpus_dir, "train")
    s = localization_samples(c, cfg)[1]
    tok = build_tokenizer([s["prompt"], s["target"], "user assistant"], 200)
    enc = Encoder(cfg, tok, image_processor(cfg), c)
    item = enc.encode(s)
    lab = item["labels"][item["labels"] != -100]
    assert tok.decode(lab) == s["target"] + "<|im_end|>"
    n_img = int((item["input_ids"] == enc.image_token_id).sum())
    assert n_img == int(item["image_grid_thw"].prod()) // 4 == item["depth_points"].shape[0]
    b = collate([item, enc.encode(localization_samples(c, cfg)[0])], tok.pad_token_id, enc.image_token_id)
    assert b["mm_token_type_ids"].sum() == (b["input_ids"] == enc.image_token_id).sum()
    assert b["depth_points"].shape[0] == b["mm_token_type_ids"].sum()


def test_point_map_and_encoding():
    K = [100.0, 0, 31.5, 0, 100.0, 23.5, 0, 0, 1]
    depth = np.full((48, 64), 2.0)
    depth[:, :32] = 0.0  # left half invalid
    pm = point_map_from_depth(depth, K)
    assert pm.shape == (48, 64, 4)
    assert np.allclose(pm[10, 40, :3], [(40 - 31.5) * 2 / 100, (10 - 23.5) * 2 / 100, 2.0])
    pooled = pool_point_map(pm, 3, 4)
    assert pooled.shape == (12, 4)
    assert np.all(pooled.reshape(3, 4, 4)[:, :2, 3] == 0) and np.all(pooled.reshape(3, 4, 4)[:, 2:, 3] == 1)
    assert np.allclose(pooled.reshape(3, 4, 4)[:, 2:, 2], 2.0)
    enc = sinusoidal_3d(torch.tensor([[0.0, 1.0, 2.0]]), 4, 10.0)
    assert enc.shape == (1, 24) and torch.allclose(enc[0, 4:8], torch.ones(4))  # cos(0) for x


def test_average_precision():
    assert average_precision([(1.0, 0.9), (0.5, 0.0)], 1, 0.5) == pytest.approx(1.0)
    assert average_precision([(1.0, 0.0), (0.5, 0.9)], 1, 0.5) == pytest.approx(0.5, abs=0.01)
    assert average_precision([], 2, 0.5) == 0.0
