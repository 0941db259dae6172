"""Lift test fixtures; the scene helpers live in lift_scenes.py (a unique module name)."""

from __future__ import annotations

import pytest

from lift3d.geometry.camera import K_from_fov
from lift_scenes import bbox_of, raycast


@pytest.fixture
def scene():
    """Factory: scene(boxes, down, cam_h, wall_dist, W, H) -> (depth, K, annotations(with masks), owner)."""
    def make(boxes, down=(0.0, 1.0, 0.0), cam_h=1.3, wall_dist=None, W=240, H=180, hfov=70.0, categories=None):
        K = K_from_fov(W, H, hfov)
        depth, owner = raycast(K, H, W, boxes, down, cam_h, wall_dist)
        anns = []
        for i, _ in enumerate(boxes):
            m = owner == i
            if not m.any():
                continue
            anns.append({"annotation_id": 100 + i, "category": (categories or {}).get(i, "box"),
                         "category_id": 1, "bbox2d": bbox_of(m), "mask": m, "iscrowd": 0})
        return depth, K, anns, owner
    return make
