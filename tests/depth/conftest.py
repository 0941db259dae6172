"""Fixtures: tiny randomly initialised depth models saved like hub checkpoints, loaded through from_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_depth_models import build_tiny_da, build_tiny_depth_pro

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NYU = SHARED / "nyu_depth"


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
