"""Greedy generation for samples of a held-out split, with the trained run."""

from __future__ import annotations

import json
import time

import torch

from lift3d.model.depth_pe import set_depth_points
from lift3d.train.data import Corpus, localization_samples, qa_samples
from lift3d.train.encode import Encoder, collate
from lift3d.train.trainer import core_model, load_run

TASKS = ("detect", "ground", "qa")


def eval_samples(corpus: Corpus, cfg, tasks=TASKS, max_per_task: int | None = None) -> list[dict]:
    """The samples evaluated on a split: localisation (detect, ground) from objects rows, and the qa rows."""
    loc = localization_samples(corpus, cfg, detect="detect" in tasks, ground="ground" in tasks)
    groups = {t: [s for s in loc if s["task"] == t] for t in ("detect", "ground")}
    groups["qa"] = qa_samples(corpus, cfg) if "qa" in tasks else []
    out = []
    for t in TASKS:
        if t in tasks:
            out += groups[t][:max_per_task] if max_per_task else groups[t]
    return out


class Predictor:
    def __init__(self, run: str, corpus: Corpus | None = None, device: str | None = None,
                 depth_source: str = "auto"):
        self.model, self.tok, self.ip, self.cfg, self.meta = load_run(run, device=device)
        self.core = core_model(self.model)
        self.corpus = corpus
        self.encoder = Encoder(self.cfg, self.tok, self.ip, corpus,
                               depth_source=self.meta.get("depth_source") or depth_source)
        self.device = next(self.model.parameters()).device
        self.stop_ids = [self.tok.convert_tokens_to_ids("<|im_end|>")]

    @torch.no_grad()
    def generate(self, sample: dict, max_new_tokens: int | None = None) -> str:
        enc = self.encoder.encode(sample, with_target=False)
        b = collate([enc], self.tok.pad_token_id, self.encoder.image_token_id)
        b.pop("labels")
        pts = b.pop("depth_points", None)
        if self.cfg.depth_pe:
            set_depth_points(self.core, pts)
        b = {k: v.to(self.device) for k, v in b.items()}
        b["pixel_values"] = b["pixel_values"].to(next(self.core.model.visual.parameters()).dtype)
        out = self.model.generate(**b, max_new_tokens=max_new_tokens or self.cfg.max_new_tokens, do_sample=False,
                                  eos_token_id=self.stop_ids, pad_token_id=self.tok.pad_token_id)
        text = self.tok.decode(out[0, b["input_ids"].shape[1]:], skip_special_tokens=False)
        for stop in ("<|im_end|>", "<|endoftext|>"):
            text = text.split(stop)[0]
        return text.strip()


def predict(run: str, data: str, split: str = "validation", out: str | None = None, tasks=TASKS,
            max_per_task: int | None = None, images: str | None = None, max_new_tokens: int | None = None,
            samples: list[dict] | None = None, device: str | None = None) -> list[dict]:
    """Predictions (one dict per sample: the sample's fields + ``prediction``); JSONL to ``out`` if given."""
    corpus = Corpus(data, split, images)
    pred = Predictor(run, corpus, device=device)
    if samples is None:
        samples = eval_samples(corpus, pred.cfg, tasks, max_per_task)
    rows = []
    t0 = time.perf_counter()
    for s in samples:
        rows.append({**s, "prediction": pred.generate(s, max_new_tokens)})
    wall = time.perf_counter() - t0
    if out:
        with open(out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    for r in rows:
        r.setdefault("_gen_wall_s", wall / max(1, len(rows)))
    return rows
