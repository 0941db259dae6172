"""Lifting 2D annotations (masks or boxes) to oriented 3D boxes; the algorithm reads in ``lift.py``."""

from lift3d.lift.config import LiftConfig
from lift3d.lift.lift import lift_image
from lift3d.lift.result import REJECT_REASONS, LiftResult

__all__ = ["LiftConfig", "LiftResult", "lift_image", "REJECT_REASONS"]
