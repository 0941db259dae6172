"""Tiny randomly initialised segmenters built from configs and saved locally (same from_pretrained path as
real weights)."""

from __future__ import annotations

import pytest

S = 128  # encoder input size of the tiny models


def tiny_model(family: str):
    import torch
    import transformers as t

    torch.manual_seed(0)
    vision = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, image_size=S, patch_size=16,
                  output_channels=32, global_attn_indexes=[1], window_size=4, num_pos_feats=16)
    prompt = dict(hidden_size=32, image_size=S, patch_size=16, mask_input_channels=4)
    decoder = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=32)
    if family == "sam":
        return t.SamModel(t.SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder))
    if family == "sam_hq":
        return t.SamHQModel(t.SamHQConfig(vision_config=vision, prompt_encoder_config=prompt,
                                          mask_decoder_config=dict(decoder, vit_dim=32)))
    if family == "sam2":
        bb = t.Sam2HieraDetConfig(hidden_size=16, num_attention_heads=1, image_size=[S, S], blocks_per_stage=[1, 1, 2, 1],
                                  embed_dim_per_stage=[16, 32, 64, 128], num_attention_heads_per_stage=[1, 1, 1, 1],
                                  window_size_per_stage=[4, 4, 4, 2], global_attention_blocks=[3],
                                  window_positional_embedding_background_size=[2, 2])
        vis = dict(backbone_config=bb, backbone_channel_list=[128, 64, 32, 16],
                   backbone_feature_sizes=[[S // 4, S // 4], [S // 8, S // 8], [S // 16, S // 16]], fpn_hidden_size=32)
        return t.Sam2Model(t.Sam2Config(vision_config=vis, prompt_encoder_config=prompt, mask_decoder_config=decoder))
    raise ValueError(family)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    out = {}
    for fam in ("sam", "sam_hq", "sam2"):
        d = tmp_path_factory.mktemp(f"tiny_{fam}")
        tiny_model(fam).save_pretrained(d)
        out[fam] = str(d)
    return out
