"""Per annotation, the oriented box from its observation (lift3d.lift.fit): the fit, the plausibility checks."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig
from lift3d.lift.fit import box_record, check_plausible, fit_box
from lift3d.lift.observe import observe
from lift3d.lift.priors import lookup
from lift3d.lift.result import LiftReject
from lift_scenes import box_on_floor

DOWN = np.array([0.0, 1.0, 0.0])


def test_fit_box_recovers_a_box_and_fills_the_record(scene):
    gt = box_on_floor(0.3, 3.0, [0.8, 0.9, 1.6], 0.5)
    depth, K, anns, _ = scene([gt], wall_dist=6.0)
    G = gravity_frame(DOWN)
    ob = observe(anns[0], depth, K, G, 1.3, DOWN, LiftConfig())
    o = fit_box(ob, 1.3, DOWN, G, LiftConfig(), 1.0, K, depth)
    assert iou_3d(o, gt) > 0.75 and o["on_floor"] and "on_floor" in o["flags"]
    assert o["annotation_id"] == anns[0]["annotation_id"] and o["num_points"] == len(ob.q)
    assert 0.0 < o["quality"] <= 1.0 and o["mask_source"] == "dataset"
    # the depth scale divides every coordinate: the same box at half the size, flagged
    o2 = fit_box(ob, 1.3, DOWN, G, LiftConfig(amodal=False, cover_box=False), 2.0, K, depth)
    o1 = fit_box(ob, 1.3, DOWN, G, LiftConfig(amodal=False, cover_box=False), 1.0, K, depth)
    assert np.allclose(o2["dimensions"], np.asarray(o1["dimensions"]) / 2.0, rtol=1e-9)
    assert "depth_rescaled" in o2["flags"] and "depth_rescaled" not in o1["flags"]


def test_check_plausible():
    ok = (np.array([0.0, 0.5, 3.0]), np.array([0.5, 0.8, 1.0]))
    check_plausible(*ok, lookup("table"), LiftConfig())
    for centre, dims, prior, reason in [
        (np.array([0.0, 0.5, np.nan]), ok[1], None, "lift_error"),
        (ok[0], np.array([0.005, 0.005, 0.005]), None, "implausible_size"),  # below min_dim
        (ok[0], np.array([0.5, 0.8, 70.0]), None, "implausible_size"),  # above max_dim
        (ok[0], np.array([0.5, 0.8, 12.0]), lookup("table"), "implausible_size"),  # 8x the prior
        (np.array([0.0, 0.5, -1.0]), ok[1], None, "implausible_size"),  # behind the camera
    ]:
        with pytest.raises(LiftReject) as e:
            check_plausible(centre, dims, prior, LiftConfig())
        assert e.value.reason == reason


def test_box_record_fields():
    from lift3d.lift.result import Observation

    ob = Observation({"annotation_id": 7, "category": "chair"}, [1, 2, 3, 4], True, np.zeros((3, 3)), np.zeros(3),
                     [], 1.0, None)
    r = box_record(ob, np.array([0.0, 0.5, 3.0]), np.array([0.5, 0.8, 1.0]), np.eye(3), 0.25, 0.5, ["box_only"], 3,
                   0.9, False)
    assert r["annotation_id"] == 7 and r["category"] == "chair" and r["R_cam"] == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert r["mask_source"] == "depth" and r["bbox2d"] == [1.0, 2.0, 3.0, 4.0] and r["yaw"] == 0.25
