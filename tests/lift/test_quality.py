"""The fitted box's flags and quality formula (lift3d.lift.quality)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.lift.quality import box_flags, quality_score


def test_quality_formula_factor_by_factor():
    assert quality_score(400, 1.0, [], 1.0, False) == 1.0
    assert quality_score(4000, 1.0, [], 1.0, False) == 1.0  # the points term saturates
    assert quality_score(100, 1.0, [], 1.0, False) == pytest.approx(0.5)  # sqrt(100 / 400)
    assert quality_score(400, 0.0, [], 1.0, False) == pytest.approx(0.5)  # no valid depth in the region
    assert quality_score(400, 1.0, ["truncated"], 1.0, False) == pytest.approx(0.75)
    assert quality_score(400, 1.0, ["occluded"], 1.0, False) == pytest.approx(0.8)
    assert quality_score(400, 1.0, [], 0.0, False) == pytest.approx(0.7)  # yaw confidence 0
    assert quality_score(400, 1.0, ["amodal_completed"], 1.0, False) == pytest.approx(0.85)
    assert quality_score(400, 1.0, [], 1.0, True) == pytest.approx(0.85)  # box-only
    allf = quality_score(100, 0.5, ["truncated", "occluded", "amodal_completed"], 0.5, True)
    assert allf == pytest.approx(0.5 * 0.75 * 0.75 * 0.8 * 0.85 * 0.85 * 0.85)


def test_box_flags():
    ext = np.array([1.0, 0.5])
    assert box_flags(400, ext, 0.9, [0, 1, 0], False, 1.0, 150) == []
    assert box_flags(100, ext, 0.9, [0, 1, 0], True, 1.1, 150) == ["few_points", "on_floor", "depth_rescaled"]
    assert box_flags(400, ext, 0.2, [0, 1, 0], False, 1.0, 150) == ["yaw_unreliable"]  # low yaw confidence
    assert box_flags(400, np.array([1.0, 0.9]), 0.9, [0, 1, 0], False, 1.0, 150) == ["yaw_unreliable"]  # square
    assert box_flags(400, ext, 0.9, None, False, 1.0, 150) == ["yaw_unreliable"]  # no up direction
