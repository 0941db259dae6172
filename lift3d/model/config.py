"""The bundled model: named configurations (base model, LoRA, prompts, box serialisation, depth PE).

A configuration is a :class:`ModelConfig`.  ``resolve_model_config(spec)`` accepts

* a bundled name (``n3d-qwen2.5-vl-3b`` - the default -, ``n3d-qwen2.5-vl-7b``, ``tiny``,
  ``random-3b``),
* a YAML/JSON file with ModelConfig fields (``base`` may name a bundled config to start from),
* anything else is taken as a Hugging Face model id or local model folder, used as the base model of
  the default configuration.

``base_model`` values starting with ``random:`` are not downloaded: the model is built from a
configuration with random weights and a tokenizer is trained locally on the corpus text
(``random:tiny`` for tests, ``random:3b`` = the Qwen2.5-VL-3B shapes for throughput benchmarks).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from lift3d.errors import UserError

BOX_FORMAT = "n3d"
_BOX_HINT = "Answer with bbox_i=Bbox(class,u,v,z,angle,sx,sy,sz)."

# Qwen2.5-VL-3B-Instruct shapes (config.json of the released checkpoint), for random initialisation.
QWEN25_VL_3B_SHAPES = {
    "text": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                 num_key_value_heads=2, max_position_embeddings=128000, rope_theta=1000000.0,
                 mrope_section=[16, 24, 24], vocab_size=151936, tie_word_embeddings=True),
    "vision": dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                   fullatt_block_indexes=[7, 15, 23, 31], window_size=112),
}
TINY_SHAPES = {
    "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=4096, rope_theta=10000.0,
                 mrope_section=[2, 3, 3], vocab_size=0, tie_word_embeddings=False),
    "vision": dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                   fullatt_block_indexes=[1], window_size=112),
}


@dataclass
class ModelConfig:
    name: str = "n3d-qwen2.5-vl-3b"
    base_model: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    # fine-tuning
    finetune: str = "lora"  # lora | full
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # language-model projections only; the vision tower stays frozen under LoRA (as in N3D's recipe)
    lora_target_modules: str = (r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)")
    # modules trained in full next to the adapter (the depth PE is always added when enabled)
    lora_modules_to_save: list = field(default_factory=list)
    # prompts and answers
    system_prompt: str = "You are a helpful assistant."
    detect_prompt: str = "Detect all 3D boxes in the image. " + _BOX_HINT
    ground_prompt: str = "Locate the {category} in 3D. " + _BOX_HINT
    ground_all_prompt: str = "Locate all {category} instances in 3D. " + _BOX_HINT
    box_format: str = BOX_FORMAT
    reasoning: bool = True  # keep the <think>...</think> part of QA answers as training target
    # images (Qwen2VLImageProcessor limits, pixels)
    min_pixels: int = 56 * 56
    max_pixels: int = 448 * 448
    # depth-aware positional encoding (N3D): point map pooled to the merged patch grid
    depth_pe: bool = False
    depth_pe_freqs: int = 8
    depth_pe_range_m: float = 20.0
    # generation
    max_new_tokens: int = 512
    # default optimisation
    learning_rate: float = 1e-4
    # random-init shapes (only for random: base models)
    shapes: dict = field(default_factory=dict)
    tokenizer_vocab: int = 512  # size of the locally trained tokenizer for random: bases

    @property
    def is_random(self) -> bool:
        return self.base_model.startswith("random:")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        known = {f.name for f in fields(ModelConfig)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"unknown model config keys {unknown}; known: {sorted(known)}")
        return ModelConfig(**d)


BUNDLED: dict[str, ModelConfig] = {
    "n3d-qwen2.5-vl-3b": ModelConfig(),
    "n3d-qwen2.5-vl-7b": ModelConfig(name="n3d-qwen2.5-vl-7b", base_model="Qwen/Qwen2.5-VL-7B-Instruct"),
    # random weights: under LoRA the output head trains in full too (a random head cannot be steered by
    # low-rank updates of the layers alone)
    "tiny": ModelConfig(name="tiny", base_model="random:tiny", finetune="full", system_prompt="",
                        lora_modules_to_save=["lm_head"],
                        detect_prompt="Detect all 3D boxes.", ground_prompt="Locate the {category}.",
                        ground_all_prompt="Locate all {category}.", min_pixels=28 * 28, max_pixels=112 * 84,
                        max_new_tokens=96, learning_rate=3e-3, shapes=TINY_SHAPES, tokenizer_vocab=400,
                        depth_pe_freqs=4),
    "random-3b": ModelConfig(name="random-3b", base_model="random:3b", finetune="full",
                             shapes=QWEN25_VL_3B_SHAPES, tokenizer_vocab=512),
}
DEFAULT_MODEL = "n3d-qwen2.5-vl-3b"


def resolve_model_config(spec: str | None, **overrides) -> ModelConfig:
    """A ModelConfig from a bundled name, a YAML/JSON file or a model id/folder (see module doc)."""
    spec = spec or DEFAULT_MODEL
    if spec in BUNDLED:
        cfg = replace(BUNDLED[spec])
    elif Path(spec).is_file() and Path(spec).suffix.lower() in (".yaml", ".yml", ".json"):
        text = Path(spec).read_text()
        try:
            if spec.lower().endswith(".json"):
                d = json.loads(text)
            else:
                import yaml
                d = yaml.safe_load(text) or {}
        except Exception as exc:
            raise UserError(f"{spec}: cannot parse model config ({type(exc).__name__}: {exc})") from None
        if not isinstance(d, dict):
            raise UserError(f"{spec}: a model config is a mapping of ModelConfig fields")
        base = d.pop("base", DEFAULT_MODEL)
        if base not in BUNDLED:
            raise UserError(f"{spec}: base {base!r} is not a bundled config ({', '.join(BUNDLED)})")
        merged = BUNDLED[base].to_dict()
        merged.update(d)
        cfg = ModelConfig.from_dict(merged)
    else:
        cfg = replace(BUNDLED[DEFAULT_MODEL], name=f"{DEFAULT_MODEL}@{spec}", base_model=spec)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        cfg = replace(cfg, **overrides)
    if cfg.finetune not in ("lora", "full"):
        raise UserError(f"finetune must be lora or full, not {cfg.finetune!r}")
    if cfg.box_format not in ("n3d", "cam", "qwen"):
        raise UserError(f"box_format must be n3d, cam or qwen, not {cfg.box_format!r}")
    return cfg
