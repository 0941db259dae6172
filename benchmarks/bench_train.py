"""Training benchmarks: throughput (samples/s, tokens/s), peak memory, and the tiny-model overfit check.

    .venv/bin/python benchmarks/bench_train.py [--model tiny] [--steps 100] [--scenes 8] [--threads 1]
    .venv/bin/python benchmarks/bench_train.py --model random-3b --steps 300 --batch-size 4   # GPU

1. Builds a synthetic corpus (lift3d synth + build, local executor) in a temporary folder.
2. Throughput: trains ``--model`` on the localisation stage (every detection + grounding conversation)
   for ``--steps`` steps (LoRA or full per the config; bf16 + activation checkpointing on CUDA) and
   reports samples/s, tokens/s (non-padding tokens) and peak memory (RSS; CUDA max allocated on GPU).
3. Overfit (tiny only): 3 single-box grounding samples, full fine-tuning with the depth PE for 200 steps;
   reports the mean 3D IoU of the generated boxes with their targets (the test asserts > 0.5).
Results go to stdout as JSON (``--json`` to also write a file).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lift3d.build import build  # noqa: E402
from lift3d.model import resolve_model_config  # noqa: E402
from lift3d.build import BuildConfig  # noqa: E402
from lift3d.synth import generate  # noqa: E402
from lift3d.train import Corpus, localization_samples, predict, score_predictions, train  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU")
    ap.add_argument("--depth-pe", action="store_true")
    ap.add_argument("--no-overfit", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        torch.set_num_threads(a.threads)
    res = {"model": a.model, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
           "torch_threads": torch.get_num_threads()}
    # a time limit's SIGTERM unwinds normally, so the temporary folder (a 3B run's base/ is 12 GB) is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        ann = generate(f"{d}/src", a.scenes, 0, width=a.width, height=a.height)
        build(str(ann), f"{d}/src", f"{d}/out", BuildConfig(), executor="local", progress=False)
        res["corpus_build_s"] = time.perf_counter() - t0
        cfg = resolve_model_config(a.model, depth_pe=True if a.depth_pe else None)
        s = train(f"{d}/out", cfg, f"{d}/run", max_steps=a.steps, batch_size=a.batch_size, logging_steps=10,
                  save_steps=10**9)
        res["throughput"] = {k: s[k] for k in ("train_samples", "steps", "wall_s", "samples_per_s", "tokens_per_s",
                                               "step_s_median", "loop_samples_per_s", "loop_tokens_per_s",
                                               "dtype", "peak_rss_mb") if k in s}
        res["throughput"]["peak_cuda_mb"] = s.get("peak_cuda_mb")
        res["throughput"]["finetune"] = cfg.finetune
        res["throughput"]["loss_first_last"] = [s["loss_history"][0], s["loss_history"][-1]]
        if a.model == "tiny" and not a.no_overfit:
            ocfg = resolve_model_config("tiny", finetune="full", depth_pe=True)
            corpus = Corpus(f"{d}/out", "train")
            pick, seen = [], set()
            for smp in localization_samples(corpus, ocfg):
                if smp["question_type"] == "loc_ground_single" and smp["image_id"] not in seen \
                        and smp["prompt"] not in {p["prompt"] for p in pick}:
                    seen.add(smp["image_id"])
                    pick.append(smp)
            pick = pick[:3]
            t0 = time.perf_counter()
            train(f"{d}/out", ocfg, f"{d}/overfit", samples=pick, max_steps=200, batch_size=len(pick),
                  learning_rate=3e-3, warmup_steps=10, logging_steps=50, save_steps=10**9)
            rows = predict(f"{d}/overfit", f"{d}/out", "train", samples=pick, max_new_tokens=60)
            sc = score_predictions(rows)["boxes"]["all"]
            res["overfit"] = {"samples": len(pick), "steps": 200, "wall_s": time.perf_counter() - t0,
                              "mean_iou3d": sc["mean_iou3d"], "ap3d": sc["ap3d"],
                              "mean_iou2d_projected": sc["mean_iou2d_projected"]}
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
