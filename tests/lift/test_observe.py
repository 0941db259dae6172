"""Per annotation, the crop work (lift3d.lift.observe): the observation, its view flags, its rejects."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov
from lift3d.lift import LiftConfig
from lift3d.lift.crop import read_box_crop
from lift3d.lift.observe import observe, occluded, view_flags
from lift3d.lift.result import LiftReject
from lift_scenes import box_on_floor

DOWN = np.array([0.0, 1.0, 0.0])


def test_view_flags_from_the_box_and_the_image_border():
    assert view_flags([10, 10, 50, 50], False, 100, 80, 2.0) == ([], False, (False, False))
    assert view_flags([10, 10, 50, 50], True, 100, 80, 2.0) == (["box_only"], False, (False, False))
    assert view_flags([0.5, 10, 50, 50], False, 100, 80, 2.0) == (["truncated"], False, (True, False))
    assert view_flags([10, 10, 98.0, 50], False, 100, 80, 2.0) == (["truncated"], False, (False, True))
    assert view_flags([10, 1.0, 50, 50], False, 100, 80, 2.0) == (["truncated"], True, (False, False))


def test_occluded_when_a_share_of_the_box_is_nearer_than_the_object():
    K = K_from_fov(40, 30, 60.0)
    d = np.full((30, 40), 3.0)
    d[:, :3] = 1.0  # 3 of 40 columns (7.5 %) nearer by 2 m: not occluded
    z = np.full(50, 3.0)
    assert not occluded(read_box_crop(d, K, [-0.5, -0.5, 40.0, 30.0], 16000), z)
    d[:, :6] = 1.0  # 15 %: occluded
    assert occluded(read_box_crop(d, K, [-0.5, -0.5, 40.0, 30.0], 16000), z)


def test_observe_a_box_on_the_floor(scene):
    gt = box_on_floor(0.0, 3.0, [0.8, 0.9, 0.6], 0.4)
    depth, K, anns, _ = scene([gt], wall_dist=6.0)
    G = gravity_frame(DOWN)
    ob = observe(anns[0], depth, K, G, 1.3, DOWN, LiftConfig())
    assert not ob.box_only and ob.flags == [] and ob.cover == pytest.approx(1.0)
    # the points within the floor tolerance (4 cm + 1 % of the depth) are floor; the 2D box reaches the floor
    assert len(ob.q) >= 500 and 1.2 < np.percentile(ob.q[:, 1], 99.7) < 1.3 - 0.04
    assert ob.contact is True and ob.reach == pytest.approx(1.3)
    assert np.percentile(ob.q[:, 1], 0.3) == pytest.approx(1.3 - 0.9, abs=0.03)  # the top
    box = dict(anns[0], mask=None)
    ob2 = observe(box, depth, K, G, 1.3, DOWN, LiftConfig(), others=())
    assert ob2.box_only and ob2.flags == ["box_only"] and ob2.contact is True  # the box's bottom is its footprint
    assert np.ptp(ob2.q[:, 2]) < 1.0  # the wall behind and the floor are gone


def test_observe_rejects(scene):
    depth, K, anns, _ = scene([box_on_floor(0.0, 3.0, [0.8, 0.9, 0.6], 0.4)])
    G = gravity_frame(DOWN)
    cases = [
        (dict(anns[0], mask=np.zeros_like(anns[0]["mask"])), "empty_mask"),
        (dict(anns[0], mask=anns[0]["mask"][:-1]), "empty_mask"),
        (dict(anns[0], bbox2d=[5, 5, 5.2, 9]), "degenerate_box"),
    ]
    holes = np.where(anns[0]["mask"], 0.0, depth)
    for ann, reason in cases:
        with pytest.raises(LiftReject) as e:
            observe(ann, depth, K, G, 1.3, DOWN, LiftConfig())
        assert e.value.reason == reason
    with pytest.raises(LiftReject) as e:
        observe(anns[0], holes, K, G, 1.3, DOWN, LiftConfig())
    assert e.value.reason == "no_valid_depth"
    with pytest.raises(LiftReject) as e:
        observe(anns[0], depth, K, G, 1.3, DOWN, LiftConfig(min_points=10 ** 6))
    assert e.value.reason == "too_few_points"


def test_a_box_that_ends_at_an_occluders_top_has_no_known_floor_contact():
    """A floor lamp behind a table: its 2D box (of what is seen) ends at the table's top, which covers none of the
    box. Its bottom edge is the table's, not the lamp's: its floor contact is unknown rather than false, and it is
    lifted as the floor lamp it is (standing on the floor) instead of a table lamp of its seen 0.7 m. Alone, its box
    ends on the floor."""
    from lift3d.lift.observe import bottom_occluded
    from lift_scenes import bbox_of, raycast

    W, H = 320, 240
    K = K_from_fov(W, H, 70.0)
    G = gravity_frame(np.array([0.0, 1.0, 0.0]))
    lamp = box_on_floor(0.3, 3.5, [0.3, 1.5, 0.3], 0.0, cam_h=1.3)
    table = box_on_floor(0.3, 2.4, [1.2, 0.75, 0.8], 0.0, cam_h=1.3)
    for boxes, hidden in (([lamp, table], True), ([lamp], False)):
        depth, owner = raycast(K, H, W, boxes, cam_h=1.3, wall_dist=6.0)
        ann = {"annotation_id": 1, "category": "lamp", "bbox2d": bbox_of(owner == 0), "mask": owner == 0}
        ob = observe(ann, depth, K, G, 1.3, np.array([0.0, 1.0, 0.0]), LiftConfig())
        assert bottom_occluded(depth, K, G, ann["bbox2d"], ob.z_sel, 1.3, None, LiftConfig()) is hidden
        assert ob.contact is (None if hidden else True)
        assert ob.prior.h == pytest.approx(1.6)  # the floor lamp's row
        assert not bottom_occluded(depth, K, G, ann["bbox2d"], ob.z_sel, None, None, LiftConfig())  # no floor level
