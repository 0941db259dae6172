"""Fine-tuning with the transformers ``Trainer`` (+ PEFT LoRA or full fine-tuning).

Run folder layout (``--out RUN``)::

    run.json             model config, stage, data, loss history, throughput
    tokenizer/           the tokenizer the run was trained with
    base/                the initial weights, only for random: base models (nothing to download)
    model/               full fine-tuning: the trained model; LoRA: the adapter (+ depth PE via modules_to_save)
    depth_pe.safetensors full fine-tuning with --depth-pe: the depth encoder's weights
    checkpoints/         Trainer checkpoints (checkpoint-N)

On CUDA the run uses bf16 and gradient checkpointing; on CPU float32.  Multi-GPU / multi-node: launch
the same command with ``accelerate launch -m lift3d.cli train ...`` or ``torchrun --nproc-per-node N -m
lift3d.cli train ...``; the Trainer picks the distributed setup up from the environment.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from pathlib import Path

import torch

from lift3d.errors import UserError
from lift3d.model.config import ModelConfig
from lift3d.model.depth_pe import attach_depth_pe, set_depth_points
from lift3d.model.load import build_tokenizer, image_processor, load_pretrained, model_dtype, random_model
from lift3d.train.data import Corpus, localization_samples, qa_samples, stage_samples
from lift3d.train.encode import Encoder, SampleDataset, collate

log = logging.getLogger(__name__)
RUN_FILE = "run.json"


def _tokenizer_texts(corpus: Corpus, cfg: ModelConfig) -> list[str]:
    from lift3d.model.load import SPECIAL_TOKENS

    texts = ["user\nassistant\nsystem\n" + cfg.system_prompt, " ".join(SPECIAL_TOKENS)]
    for s in localization_samples(corpus, cfg) + qa_samples(corpus, cfg):
        texts += [s["prompt"], s["target"]]
    return texts


def _lora(model, cfg: ModelConfig):
    from peft import LoraConfig, get_peft_model

    lc = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                    target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM",
                    modules_to_save=(list(cfg.lora_modules_to_save) + (["depth_pe"] if cfg.depth_pe else [])) or None)
    return get_peft_model(model, lc)


def core_model(model):
    """The Qwen2.5-VL module under a PEFT wrapper (the one the depth PE hooks onto)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _peak_memory_mb() -> dict:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if torch.cuda.is_available():
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _make_trainer_cls():
    from transformers import Trainer

    class Lift3DTrainer(Trainer):
        """Routes the collator's ``depth_points`` to the depth PE hook instead of the model's forward."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            pts = inputs.pop("depth_points", None)
            if pts is not None:
                set_depth_points(core_model(self.model), pts)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return Lift3DTrainer


def init_model(cfg: ModelConfig, corpus: Corpus, run: Path, init_from: str | None = None):
    """(model, tokenizer, base reference) for a new run; saves base/ and tokenizer/ into ``run``."""
    if init_from:
        model, tok, _, prev_cfg, meta = load_run(init_from, trainable=True)
        if prev_cfg.finetune != cfg.finetune or prev_cfg.depth_pe != cfg.depth_pe:
            raise UserError(f"--init-from {init_from}: that run used finetune={prev_cfg.finetune}, "
                            f"depth_pe={prev_cfg.depth_pe}; use the same settings for the next stage")
        tok.save_pretrained(run / "tokenizer")
        return model, tok, meta["base"]
    if cfg.is_random:
        tok = build_tokenizer(_tokenizer_texts(corpus, cfg), cfg.tokenizer_vocab)
        model = random_model(cfg, tok)
        model.save_pretrained(run / "base")
        tok.save_pretrained(run / "base")
        base = "base"
    else:
        model, tok = load_pretrained(cfg.base_model, dtype=torch.float32)
        base = cfg.base_model
    tok.save_pretrained(run / "tokenizer")
    if cfg.depth_pe:
        attach_depth_pe(model, cfg.depth_pe_freqs, cfg.depth_pe_range_m)
    if cfg.finetune == "lora":
        model = _lora(model, cfg)
    return model, tok, base


def _step_clock(cuda: bool):
    """A Trainer callback timing each optimizer step (forward, backward, update; not checkpoint saves or logging),
    and printing the running s/step at each logging step, so that a run stopped early still tells its speed."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.steps: list[float] = []
            self._t = 0.0
            self._printed = -1

        def on_step_begin(self, args, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.steps.append(time.perf_counter() - self._t)

        def on_log(self, args, state, control, logs=None, **kw):
            if self.steps and state.global_step != self._printed:
                self._printed = state.global_step
                recent = sorted(self.steps[-args.logging_steps:])
                print(f"step {state.global_step}: {recent[len(recent) // 2]:.3f} s/step (median of the last "
                      f"{len(recent)})", flush=True)

    return StepClock()


def train(data: str, cfg: ModelConfig, out: str, *, split: str = "train", stage: str = "localization",
          loc_share: float = 0.25, max_steps: int = 100, epochs: float | None = None, batch_size: int = 4,
          grad_accum: int = 1, learning_rate: float | None = None, warmup_steps: int = 0,
          scheduler: str = "cosine", save_steps: int = 500, logging_steps: int = 10, seed: int = 0,
          images: str | None = None, init_from: str | None = None, max_samples: int | None = None,
          depth_source: str = "auto", overwrite: bool = False, samples: list[dict] | None = None) -> dict:
    """Fine-tune ``cfg`` on a corpus split; returns the run summary (also written to RUN/run.json)."""
    from transformers import TrainingArguments, set_seed

    run = Path(out)
    if (run / RUN_FILE).exists() and not overwrite:
        raise UserError(f"{out} already holds a run; choose another --out or pass --overwrite")
    run.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    corpus = Corpus(data, split, images)
    if samples is None:
        samples = stage_samples(corpus, cfg, stage, loc_share, seed)
    if max_samples:
        samples = samples[:max_samples]
    if not samples:
        raise UserError(f"{data}: no training samples in split {split!r} for stage {stage!r}")
    model, tok, base = init_model(cfg, corpus, run, init_from)
    ip = image_processor(cfg, core_model(model).config)
    enc = Encoder(cfg, tok, ip, corpus, depth_source=depth_source)
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    args = TrainingArguments(
        output_dir=str(run / "checkpoints"), per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum, learning_rate=learning_rate or cfg.learning_rate,
        max_steps=-1 if epochs else max_steps, num_train_epochs=epochs or 1.0, warmup_steps=warmup_steps,
        lr_scheduler_type=scheduler, weight_decay=0.0, logging_steps=logging_steps, save_steps=save_steps,
        save_total_limit=2, report_to="none", seed=seed, use_cpu=not cuda, bf16=bf16,
        activation_checkpointing=cuda,
        activation_checkpointing_kwargs={"use_reentrant": False} if cuda else None,
        remove_unused_columns=False, dataloader_num_workers=0, disable_tqdm=True)
    counter = {"tokens": 0, "samples": 0}
    pad_id, img_id = tok.pad_token_id, enc.image_token_id

    def collator(items):
        b = collate(items, pad_id, img_id)
        counter["tokens"] += int(b["attention_mask"].sum())
        counter["samples"] += len(items)
        return b

    clock = _step_clock(cuda)
    trainer = _make_trainer_cls()(model=model, args=args, train_dataset=SampleDataset(samples, enc),
                                  data_collator=collator, callbacks=[clock])
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = trainer.train()
    wall = time.perf_counter() - t0
    model = trainer.model
    if cfg.finetune == "lora":
        model.save_pretrained(run / "model")
    else:
        core = core_model(model)
        core.save_pretrained(run / "model", state_dict={k: v for k, v in core.state_dict().items()
                                                        if not k.startswith("depth_pe.")})
        if cfg.depth_pe:
            from safetensors.torch import save_file
            save_file({k: v.detach().cpu().contiguous() for k, v in core.depth_pe.state_dict().items()},
                      str(run / "depth_pe.safetensors"))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "lift3d_run": 1, "model_config": cfg.to_dict(), "base": base, "data": data, "split": split,
        "stage": stage, "loc_share": loc_share, "init_from": init_from, "train_samples": len(samples),
        "steps": int(trainer.state.global_step), "loss_history": losses,
        "final_train_loss": float(result.training_loss), "wall_s": wall,
        "samples_per_s": counter["samples"] / wall, "tokens_per_s": counter["tokens"] / wall,
        # the optimizer steps alone (no checkpoint saves, logging or setup): the figure to compare machines by
        "step_s_median": float(sorted(clock.steps)[len(clock.steps) // 2]) if clock.steps else None,
        "loop_samples_per_s": counter["samples"] / sum(clock.steps) if clock.steps else None,
        "loop_tokens_per_s": counter["tokens"] / sum(clock.steps) if clock.steps else None,
        "device": "cuda" if cuda else "cpu", "dtype": "bfloat16" if bf16 else "float32",
        "depth_source": depth_source if cfg.depth_pe else None, **_peak_memory_mb(),
    }
    (run / RUN_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def load_run(run: str, trainable: bool = False, device: str | None = None):
    """(model, tokenizer, image processor, ModelConfig, run.json) of a trained run."""
    from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    rp = Path(run)
    if not (rp / RUN_FILE).exists():
        raise UserError(f"{run}: not a training run (no {RUN_FILE}); train one with lift3d train")
    meta = json.loads((rp / RUN_FILE).read_text())
    cfg = ModelConfig.from_dict(meta["model_config"])
    tok = AutoTokenizer.from_pretrained(rp / "tokenizer")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float32 if trainable else model_dtype()
    base = meta["base"]
    if base == "base":
        base = str(rp / "base")
    if cfg.finetune == "full":
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(rp / "model", dtype=dtype)
        if cfg.depth_pe:
            from safetensors.torch import load_file
            attach_depth_pe(model, cfg.depth_pe_freqs, cfg.depth_pe_range_m)
            model.depth_pe.load_state_dict(load_file(str(rp / "depth_pe.safetensors")))
    else:
        from peft import PeftModel
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(base, dtype=dtype)
        if cfg.depth_pe:
            attach_depth_pe(model, cfg.depth_pe_freqs, cfg.depth_pe_range_m)
        model = PeftModel.from_pretrained(model, rp / "model", is_trainable=trainable)
    model.to(device)
    if not trainable:
        model.eval()
    if "base" in meta and meta["base"] == "base":
        meta = {**meta, "base": str(rp / "base")}
    return model, tok, image_processor(cfg, core_model(model).config), cfg, meta

