"""Object masks for box-only datasets: a box-prompted segmenter (SAM family via transformers) checked
against depth. See docs/segment.md."""

from .consistency import ConsistencyConfig, MaskCheck, check_mask, choose_mask, estimate_floor_height
from .segmenter import DEFAULT_MODEL, SHORT_NAMES, BoxSegmenter, MissingSegmenterError, resolve_model_id
from .stage import MODES, SegmentConfig, SegmentStage

__all__ = [
    "DEFAULT_MODEL", "MODES", "SHORT_NAMES", "BoxSegmenter", "ConsistencyConfig", "MaskCheck",
    "MissingSegmenterError", "SegmentConfig", "SegmentStage", "check_mask", "choose_mask",
    "estimate_floor_height", "resolve_model_id",
]
