"""Tiny Qwen2.5-VL (random init + local tokenizer) trained on CPU on a synthetic corpus."""

import argparse
import json
from pathlib import Path

import pytest
import torch

from lift3d.errors import UserError
from lift3d.model import resolve_model_config, set_depth_points
from lift3d.train import Corpus, load_run, predict, score_predictions, train
from lift3d.train.cli import register
from lift3d.train.encode import Encoder, collate
from lift3d.train.trainer import core_model


def _loss(run, corpus, samples):
    model, tok, ip, cfg, _ = load_run(run, device="cpu")
    enc = Encoder(cfg, tok, ip, corpus)
    b = collate([enc.encode(s) for s in samples], tok.pad_token_id, enc.image_token_id)
    pts = b.pop("depth_points", None)
    if cfg.depth_pe:
        set_depth_points(core_model(model), pts)
    with torch.no_grad():
        return float(model(**b).loss)


def test_lora_training_loss_falls_and_adapter_reloads(corpus_dir, tmp_path, pick_ground_samples):
    cfg = resolve_model_config("tiny", finetune="lora", lora_r=8, lora_alpha=16, lora_dropout=0.0, depth_pe=True)
    corpus = Corpus(corpus_dir, "train")
    samples = pick_ground_samples(corpus, cfg, 3)
    run = tmp_path / "lora"
    s = train(corpus_dir, cfg, str(run), samples=samples, max_steps=40, batch_size=3, learning_rate=5e-2,
              logging_steps=5, save_steps=20)
    lh = s["loss_history"]
    assert lh[-1] < lh[0] - 1.0, lh
    assert (run / "model" / "adapter_config.json").exists()
    assert (run / "model" / "adapter_model.safetensors").exists()
    from safetensors import safe_open
    with safe_open(str(run / "model" / "adapter_model.safetensors"), "pt") as f:
        assert any("depth_pe" in k for k in f.keys())  # the depth PE trains and saves with the adapter
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("checkpoint-")) \
        == ["checkpoint-20", "checkpoint-40"]
    # the reloaded adapter reproduces the trained model: its loss is far below the untrained base's
    trained = _loss(str(run), corpus, samples)
    assert trained < lh[0] - 1.0
    base_meta = json.loads((run / "run.json").read_text())
    assert base_meta["base"] == "base" and (run / "base" / "config.json").exists()
    with pytest.raises(UserError):
        train(corpus_dir, cfg, str(run), samples=samples, max_steps=1)  # existing run, no --overwrite


def test_overfit_with_depth_pe_reaches_iou(corpus_dir, tmp_path, pick_ground_samples):
    cfg = resolve_model_config("tiny", finetune="full", depth_pe=True)
    corpus = Corpus(corpus_dir, "train")
    samples = pick_ground_samples(corpus, cfg, 3)
    assert len(samples) == 3
    run = tmp_path / "overfit"
    s = train(corpus_dir, cfg, str(run), samples=samples, max_steps=200, batch_size=3, learning_rate=3e-3,
              warmup_steps=10, logging_steps=20, save_steps=1000)
    assert s["loss_history"][-1] < 0.1 * s["loss_history"][0]
    assert s["depth_source"] == "auto" and (run / "depth_pe.safetensors").exists()
    model, *_ = load_run(str(run), device="cpu")
    w = core_model(model).depth_pe.proj.weight
    assert float(w.abs().sum()) > 0  # zero-initialised, so non-zero means it trained and reloaded
    rows = predict(str(run), corpus_dir, "train", samples=samples, max_new_tokens=60)
    res = score_predictions(rows)
    assert res["boxes"]["all"]["parsed_share"] == 1.0
    assert res["boxes"]["all"]["mean_iou3d"] > 0.5, [r["prediction"] for r in rows]
    assert res["boxes"]["all"]["ap3d"] > 0.3

    # CLI: eval-model on the run (scores generations on the split) writes JSON + table
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    handlers = register(sub, lambda name, h, ex: sub.add_parser(name, help=h))
    assert set(handlers) == {"train", "predict", "eval-model"}
    out = tmp_path / "eval.json"
    a = p.parse_args(["eval-model", "--run", str(run), "--data", corpus_dir, "--split", "train",
                      "--tasks", "ground,qa", "--max-samples", "2", "--max-new-tokens", "40", "--json", str(out)])
    assert handlers[a.command](a) == 0
    result = json.loads(out.read_text())
    assert result["samples"] == 4 and "ground" in result["boxes"]
    assert any(not k.startswith("loc_") for k in result["accuracy_by_type"])
    a = p.parse_args(["eval-model", "--run", str(run), "--data", corpus_dir])  # no validation split
    with pytest.raises(UserError):
        handlers[a.command](a)
    a = p.parse_args(["predict", "--run", str(tmp_path), "--data", corpus_dir, "--split", "train",
                      "--out", str(tmp_path / "p.jsonl")])
    with pytest.raises(UserError):  # not a run folder
        handlers[a.command](a)
    assert not Path(tmp_path / "p.jsonl").exists()
