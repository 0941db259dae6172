"""The bundled grounding model: named configurations and N3D's depth-aware positional encoding."""

from lift3d.model.config import BUNDLED, DEFAULT_MODEL, ModelConfig, resolve_model_config
from lift3d.model.depth_pe import (DepthPositionalEncoding, attach_depth_pe, point_map_from_boxes,
                                   point_map_from_depth, pool_point_map, set_depth_points, sinusoidal_3d)

__all__ = ["BUNDLED", "DEFAULT_MODEL", "ModelConfig", "resolve_model_config", "DepthPositionalEncoding",
           "attach_depth_pe", "point_map_from_boxes", "point_map_from_depth", "pool_point_map",
           "set_depth_points", "sinusoidal_3d"]
