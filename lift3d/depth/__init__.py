"""Depth and intrinsics stage: metric depth at image resolution and a K for every image (see docs/depth.md)."""

from .backends import (
    SHORT_NAMES,
    DatasetBackend,
    DepthAnythingBackend,
    DepthBackend,
    DepthProBackend,
    Prediction,
    make_backend,
    resolve_model_id,
)
from .errors import MissingWeightsError
from .intrinsics import FOV_PRIOR_HFOV_DEG, resolve_intrinsics
from .stage import DepthConfig, DepthPreprocessStage, DepthStage

__all__ = [
    "SHORT_NAMES",
    "DatasetBackend",
    "DepthAnythingBackend",
    "DepthBackend",
    "DepthConfig",
    "DepthPreprocessStage",
    "DepthProBackend",
    "DepthStage",
    "FOV_PRIOR_HFOV_DEG",
    "MissingWeightsError",
    "Prediction",
    "make_backend",
    "resolve_intrinsics",
    "resolve_model_id",
]
