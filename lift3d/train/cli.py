"""``lift3d train``, ``lift3d predict`` and ``lift3d eval-model`` (registered by lift3d/cli.py)."""

from __future__ import annotations

import json

from lift3d.errors import UserError


def register(subparsers, add) -> dict:
    """Add the three subcommands with ``add(name, help, example)``; returns {name: handler}."""
    t = add("train", "Fine-tune the bundled Qwen2.5-VL grounding model on a corpus (LoRA or full).",
            "lift3d train --data out/sample --model n3d-qwen2.5-vl-3b --out runs/stage1 --stage localization\n"
            "lift3d train --data out/sample --out runs/stage2 --stage reasoning --init-from runs/stage1\n"
            "accelerate launch -m lift3d train --data out/sample --out runs/stage1   # multi-GPU")
    t.add_argument("--data", required=True, help="built corpus folder or Hub dataset id")
    t.add_argument("--model", default=None,
                   help="bundled config (n3d-qwen2.5-vl-3b default, n3d-qwen2.5-vl-7b, tiny, random-3b), "
                        "a YAML/JSON model config, or a model id / folder")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--split", default="train")
    t.add_argument("--images", default=None, help="image root (default: from build_info.json)")
    t.add_argument("--stage", default="localization", choices=["localization", "reasoning", "all"],
                   help="N3D stage: localization (1), reasoning mixed with localisation (2), or all")
    t.add_argument("--loc-share", type=float, default=0.25, help="localisation share of the reasoning mix")
    t.add_argument("--init-from", default=None, metavar="RUN", help="continue from a previous run (stage 2)")
    t.add_argument("--finetune", choices=["lora", "full"], default=None, help="override the config")
    t.add_argument("--depth-pe", action="store_true", help="add N3D's depth-aware positional encoding")
    t.add_argument("--depth-source", choices=["auto", "depth", "boxes"], default="auto",
                   help="point map for --depth-pe: source depth maps (auto falls back to the boxes)")
    t.add_argument("--max-steps", type=int, default=1000)
    t.add_argument("--epochs", type=float, default=None, help="train for epochs instead of --max-steps")
    t.add_argument("--batch-size", type=int, default=4, help="per-device batch size")
    t.add_argument("--grad-accum", type=int, default=1)
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the config's)")
    t.add_argument("--warmup-steps", type=int, default=0)
    t.add_argument("--scheduler", default="cosine")
    t.add_argument("--save-steps", type=int, default=500)
    t.add_argument("--logging-steps", type=int, default=10)
    t.add_argument("--max-samples", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")

    def _gen(p):
        p.add_argument("--run", required=True, help="run folder from lift3d train")
        p.add_argument("--data", required=True, help="built corpus folder or Hub dataset id")
        p.add_argument("--split", default="validation")
        p.add_argument("--images", default=None, help="image root (default: from build_info.json)")
        p.add_argument("--tasks", default="detect,ground,qa", help="comma list of detect, ground, qa")
        p.add_argument("--max-samples", type=int, default=None, help="at most this many samples per task")
        p.add_argument("--max-new-tokens", type=int, default=None)
        p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")

    p = add("predict", "Generate answers with a trained run on a split (JSONL).",
            "lift3d predict --run runs/stage1 --data out/sample --split validation --out preds.jsonl")
    _gen(p)
    p.add_argument("--out", required=True, help="predictions JSONL")
    e = add("eval-model", "Score a trained run on a held-out split: 3D IoU, AP3D, 2D IoU, QA accuracy.",
            "lift3d eval-model --run runs/stage1 --data out/sample --split validation --json eval.json")
    _gen(e)
    e.add_argument("--predictions", default=None, help="score this predictions JSONL instead of generating")
    e.add_argument("--json", default=None, help="also write the full result as JSON here")
    return {"train": cmd_train, "predict": cmd_predict, "eval-model": cmd_eval_model}


def _tasks(s: str) -> tuple:
    tasks = tuple(t.strip() for t in s.split(",") if t.strip())
    bad = [t for t in tasks if t not in ("detect", "ground", "qa")]
    if bad or not tasks:
        raise UserError(f"--tasks: unknown {bad}; use a comma list of detect, ground, qa")
    return tasks


def cmd_train(a) -> int:
    from lift3d.model import resolve_model_config
    from lift3d.train.trainer import train

    cfg = resolve_model_config(a.model, finetune=a.finetune, depth_pe=True if a.depth_pe else None)
    s = train(a.data, cfg, a.out, split=a.split, stage=a.stage, loc_share=a.loc_share, max_steps=a.max_steps,
              epochs=a.epochs, batch_size=a.batch_size, grad_accum=a.grad_accum, learning_rate=a.lr,
              warmup_steps=a.warmup_steps, scheduler=a.scheduler, save_steps=a.save_steps,
              logging_steps=a.logging_steps, seed=a.seed, images=a.images, init_from=a.init_from,
              max_samples=a.max_samples, depth_source=a.depth_source, overwrite=a.overwrite)
    lh = s["loss_history"]
    print(f"trained {cfg.name} ({cfg.finetune}{', depth PE' if cfg.depth_pe else ''}) on {s['train_samples']} "
          f"samples, {s['steps']} steps: loss {lh[0] if lh else float('nan'):.4f} -> "
          f"{lh[-1] if lh else float('nan'):.4f}; {s['samples_per_s']:.2f} samples/s, "
          f"{s['tokens_per_s']:.0f} tokens/s on {s['device']}")
    print(f"run: {a.out}")
    return 0


def cmd_predict(a) -> int:
    from lift3d.train.predict import predict

    rows = predict(a.run, a.data, a.split, out=a.out, tasks=_tasks(a.tasks), max_per_task=a.max_samples,
                   images=a.images, max_new_tokens=a.max_new_tokens, device=a.device)
    print(f"wrote {len(rows)} predictions: {a.out}")
    return 0


def cmd_eval_model(a) -> int:
    from lift3d.train.evaluate import eval_model, format_table, score_predictions

    if a.predictions:
        try:
            with open(a.predictions) as f:
                rows = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError) as exc:
            raise UserError(f"{a.predictions}: cannot read predictions ({type(exc).__name__})") from None
        result = score_predictions(rows)
        result.update({"run": a.run, "data": a.data, "split": a.split})
    else:
        result = eval_model(a.run, a.data, a.split, tasks=_tasks(a.tasks), max_per_task=a.max_samples,
                            images=a.images, max_new_tokens=a.max_new_tokens, device=a.device)
    print(format_table(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
    return 0
