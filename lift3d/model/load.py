"""Build or load the model, tokenizer and image processor of a ModelConfig."""

from __future__ import annotations

import logging

import torch

from lift3d.errors import UserError
from lift3d.model.config import ModelConfig

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>", "<think>", "</think>"]
PATCH, MERGE, TEMPORAL = 14, 2, 2


def build_tokenizer(texts, vocab_size: int = 400):
    """A small BPE tokenizer trained on ``texts`` (digits split one per token), with Qwen's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never"),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(),
    ])
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="never")
    alphabet = [chr(i) for i in range(33, 127)] + ["\u2581", "\n"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=alphabet,
                                  show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS[3:])


def random_model(cfg: ModelConfig, tokenizer):
    """A randomly initialised Qwen2.5-VL with the shapes of ``cfg.shapes``."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    t, v = dict(cfg.shapes["text"]), dict(cfg.shapes["vision"])
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in SPECIAL_TOKENS}
    vocab = max(int(t.pop("vocab_size") or 0), len(tokenizer))
    tie = t.pop("tie_word_embeddings")
    rope = {"rope_type": "default", "mrope_section": t.pop("mrope_section"), "rope_theta": t.pop("rope_theta")}
    conf = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=vocab, rope_parameters=rope, bos_token_id=ids["<|endoftext|>"],
                         eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], **t),
        vision_config=dict(patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=TEMPORAL, **v),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=tie)
    return Qwen2_5_VLForConditionalGeneration(conf)


def image_processor(cfg: ModelConfig, model_config=None):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    vc = getattr(model_config, "vision_config", None)
    return Qwen2VLImageProcessorPil(
        min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels,
        patch_size=getattr(vc, "patch_size", PATCH), merge_size=getattr(vc, "spatial_merge_size", MERGE),
        temporal_patch_size=getattr(vc, "temporal_patch_size", TEMPORAL))


def load_pretrained(path_or_id: str, dtype=None):
    """Model and tokenizer from a Hub id or a local folder (raises UserError when unavailable)."""
    from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    try:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path_or_id, dtype=dtype or torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    except OSError as exc:
        raise UserError(f"cannot load model {path_or_id!r} ({exc.__class__.__name__}); pass a bundled config "
                        "(e.g. --model tiny), a local model folder, or a reachable Hub id") from None
    return model, tokenizer


def model_dtype() -> torch.dtype:
    """bf16 on CUDA devices that support it, float32 otherwise."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32
