"""Tiny randomly initialised depth models saved like hub checkpoints, loaded through from_pretrained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NYU = SHARED / "nyu_depth"


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


@pytest.fixture(scope="session")
def tiny_da_dir(tmp_path_factory) -> Path:
    return build_tiny_da(tmp_path_factory.mktemp("tiny_da"))


@pytest.fixture(scope="session")
def tiny_dp_dir(tmp_path_factory) -> Path:
    return build_tiny_depth_pro(tmp_path_factory.mktemp("tiny_dp"))


@pytest.fixture(scope="session")
def da_stage(tiny_da_dir):
    from lift3d.depth import DepthConfig, DepthStage

    stage = DepthStage(DepthConfig(backend=str(tiny_da_dir), device="cpu", batch_size=3))
    stage.setup()
    return stage


@pytest.fixture(scope="session")
def dp_stage(tiny_dp_dir):
    from lift3d.depth import DepthConfig, DepthStage

    stage = DepthStage(DepthConfig(backend=str(tiny_dp_dir), device="cpu", batch_size=4))
    stage.setup()
    return stage


@pytest.fixture
def nyu_dir() -> Path:
    if not (NYU / "annotations.json").is_file():
        pytest.skip(f"real NYU sample frames not found at {NYU} (../shared is absent in this checkout)")
    return NYU
