"""Lifting 2D annotations (masks or boxes) to oriented 3D boxes; see ``core.py``."""

from lift3d.lift.core import REJECT_REASONS, LiftConfig, LiftResult, lift_image

__all__ = ["LiftConfig", "LiftResult", "lift_image", "REJECT_REASONS"]
