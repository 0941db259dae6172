"""Builders of tiny randomly initialised depth models saved like hub checkpoints (for tests/depth)."""

from __future__ import annotations

import json
from pathlib import Path


def _randomise(model, seed: int, std: float = 0.3):
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def build_tiny_da(path: Path, metric: bool = True, size: int = 56, seed: int = 0) -> Path:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    bb = Dinov2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                      image_size=size, patch_size=14, out_indices=[1, 2], reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=16, reassemble_factors=[2, 1],
                              neck_hidden_sizes=[8, 16], fusion_hidden_size=8, head_hidden_size=8,
                              depth_estimation_type="metric" if metric else "relative", max_depth=20)
    _randomise(DepthAnythingForDepthEstimation(cfg), seed).save_pretrained(path)
    # the same preprocessor_config.json as the depth-anything/Depth-Anything-V2-Metric-*-hf checkpoints, smaller
    (path / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_rescale": True, "do_resize": True, "ensure_multiple_of": 14,
        "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "DPTImageProcessor",
        "image_std": [0.229, 0.224, 0.225], "keep_aspect_ratio": True, "resample": 3,
        "rescale_factor": 1 / 255, "size": {"height": size, "width": size},
    }))
    return path


def build_tiny_depth_pro(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import DepthProConfig, DepthProForDepthEstimation

    def sub():
        return dict(model_type="dinov2", hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, patch_size=4, image_size=16)

    cfg = DepthProConfig(patch_size=16, fusion_hidden_size=8, intermediate_hook_ids=[1, 0],
                         intermediate_feature_dims=[8, 8], scaled_images_ratios=[0.5, 1.0],
                         scaled_images_overlap_ratios=[0.0, 0.25], scaled_images_feature_dims=[8, 8],
                         merge_padding_value=1, use_fov_model=True, num_fov_head_layers=1,
                         image_model_config=sub(), patch_model_config=sub(), fov_model_config=sub())
    torch.manual_seed(seed)
    model = DepthProForDepthEstimation(cfg)
    with torch.no_grad():  # the head ends in a ReLU: a positive last bias keeps the inverse depth > 0
        model.head.layers[-2].bias.fill_(1.0)
    model.save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "DepthProImageProcessor", "do_resize": True, "do_rescale": True,
        "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "rescale_factor": 1 / 255, "resample": 2, "size": {"height": 32, "width": 32},
    }))
    return path
