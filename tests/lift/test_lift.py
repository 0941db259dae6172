"""lift_image end to end on exact, analytically ray-cast depth maps (see conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import is_rotation, rotation_from_yaw
from lift3d.geometry.camera import K_from_fov
from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftResult, REJECT_REASONS, lift_image
from lift_scenes import box_on_floor


TILTED_DOWN = tuple(np.array([0.1, 0.97, 0.2]) / np.linalg.norm([0.1, 0.97, 0.2]))



def _yaw_err(a, b):
    """Yaw difference modulo the box's quarter-turn symmetry (w/l may swap)."""
    d = np.mod(a - b, np.pi / 2)
    return min(d, np.pi / 2 - d)



@pytest.mark.parametrize("down", [(0.0, 1.0, 0.0), TILTED_DOWN])
@pytest.mark.parametrize("yaw", [0.5, 1.0, -0.7])
def test_mask_lift_recovers_box(scene, down, yaw):
    gt = box_on_floor(0.2, 3.0, [0.8, 0.9, 1.6], yaw, down=down)
    depth, K, anns, _ = scene([gt], down=down, wall_dist=5.0)
    res = lift_image(depth, K, anns, list(down), image_id=7)
    assert isinstance(res, LiftResult)
    assert res.rejects == [] and len(res.objects) == 1
    assert res.gravity_source == "dataset" and res.gravity_confidence == 1.0
    assert np.allclose(res.gravity, np.asarray(down) / np.linalg.norm(down))
    assert res.floor_height == pytest.approx(1.3, abs=0.03)
    o = res.objects[0]
    R = np.asarray(o["R_cam"]).reshape(3, 3)
    assert is_rotation(R)
    assert np.allclose(R[:, 1], res.gravity, atol=1e-9)  # column 1 = gravity down
    assert np.allclose(R, rotation_from_yaw(o["yaw"], np.asarray(down)), atol=1e-9)
    assert iou_3d(o, gt) > 0.75
    assert _yaw_err(o["yaw"], yaw) < np.radians(4)
    assert o["dimensions"][1] == pytest.approx(0.9, abs=0.03)
    assert "on_floor" in o["flags"] and o["mask_source"] == "dataset"
    assert 0.0 < o["quality"] <= 1.0 and o["num_points"] >= 100
    assert o["annotation_id"] == anns[0]["annotation_id"]



def test_mask_bleed_onto_background(scene):
    from scipy import ndimage

    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=4.0)
    clean = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    anns[0]["mask"] = ndimage.binary_dilation(anns[0]["mask"], iterations=2)
    bled = lift_image(depth, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert iou_3d(bled, gt) > 0.75
    assert abs(iou_3d(bled, gt) - iou_3d(clean, gt)) < 0.1



def test_flying_pixels_are_removed(scene):
    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, owner = scene([gt], wall_dist=6.0)
    m = anns[0]["mask"]
    # flying pixels: a ring just outside the object at depths halfway to the wall, inside a bled mask
    from scipy import ndimage

    ring = ndimage.binary_dilation(m, iterations=1) & ~m
    d2 = depth.copy()
    d2[ring] = 0.5 * (d2[ring] + 4.0)
    anns[0]["mask"] = m | ring
    o = lift_image(d2, K, anns, [0.0, 1.0, 0.0]).objects[0]
    assert iou_3d(o, gt) > 0.75



def test_gravity_estimated_from_floor_not_wall(scene):
    down = np.array([0.05, 0.96, 0.25])
    down = down / np.linalg.norm(down)
    gt = box_on_floor(0.0, 3.0, [0.6, 0.7, 0.9], 0.3, down=tuple(down))
    # a wall close behind: it takes more pixels than the floor
    depth, K, anns, owner = scene([gt], down=tuple(down), wall_dist=3.8)
    assert (owner == -2).sum() > (owner == -1).sum()
    res = lift_image(depth, K, anns, None)
    assert res.gravity_source == "estimated"
    assert 0.2 < res.gravity_confidence <= 1.0
    ang = np.degrees(np.arccos(np.clip(np.dot(res.gravity, down), -1, 1)))
    assert ang < 2.0
    assert np.allclose(np.asarray(res.objects[0]["R_cam"]).reshape(3, 3)[:, 1], res.gravity)



def test_gravity_falls_back_to_camera_without_floor(scene):
    # camera looking at a wall only: nothing horizontal to fit
    depth, K, anns, owner = scene([], wall_dist=3.0, down=(0.0, 1.0, 0.0), cam_h=50.0)
    depth[owner != -2] = 0.0
    m = np.zeros(depth.shape, dtype=bool)
    m[60:120, 80:160] = True
    anns = [{"annotation_id": 1, "category": "picture", "bbox2d": [79.5, 59.5, 159.5, 119.5], "mask": m,
             "iscrowd": 0}]
    res = lift_image(depth, K, anns, None)
    assert res.gravity_source == "camera" and res.gravity is None and res.gravity_confidence == 0.0
    o = res.objects[0]
    assert np.allclose(np.asarray(o["R_cam"]).reshape(3, 3)[:, 1], [0, 1, 0])
    assert "yaw_unreliable" in o["flags"]
    assert o["center_cam"][2] == pytest.approx(3.0, abs=0.05)



def test_every_annotation_is_an_object_or_a_reject(scene):
    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=5.0)
    base = anns[0]
    H, W = depth.shape
    hole = np.zeros_like(depth, dtype=bool)
    hole[10:20, 10:20] = True
    depth = depth.copy()
    depth[10:20, 10:20] = 0.0
    tiny = np.zeros_like(hole)
    tiny[100, 100] = True
    anns = [
        base,
        dict(base, annotation_id=2, iscrowd=1),
        dict(base, annotation_id=3, bbox2d=[5.0, 5.0, 5.2, 30.0], mask=None),
        dict(base, annotation_id=4, bbox2d=[W + 10.0, 5.0, W + 40.0, 30.0], mask=None),
        dict(base, annotation_id=5, bbox2d=[9.5, 9.5, 19.5, 19.5], mask=hole),
        dict(base, annotation_id=6, bbox2d=[99.5, 99.5, 100.5, 100.5], mask=tiny),
        dict(base, annotation_id=7, bbox2d=[float("nan"), 0, 10, 10], mask=None),
        dict(base, annotation_id=8, mask=np.zeros_like(hole)),
        dict(base, annotation_id=9, bbox2d=None, mask=None),
    ]
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    got = {o["annotation_id"]: "object" for o in res.objects}
    got.update({a: r for a, r, _ in res.rejects})
    assert len(res.objects) + len(res.rejects) == len(anns)
    assert got == {
        base["annotation_id"]: "object",
        2: "crowd",
        3: "degenerate_box",
        4: "degenerate_box",
        5: "no_valid_depth",
        6: "degenerate_box",
        7: "degenerate_box",
        8: "empty_mask",
        9: "degenerate_box",
    }
    assert all(r in REJECT_REASONS for _, r, _ in res.rejects)



def test_too_few_points_and_bad_inputs(scene):
    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=5.0)
    m = np.zeros(depth.shape, dtype=bool)
    m[90:93, 120:124] = True  # 12 px
    few = [{"annotation_id": 1, "category": "cup", "bbox2d": [119.5, 89.5, 123.5, 92.5], "mask": m, "iscrowd": 0}]
    assert lift_image(depth, K, few, [0, 1, 0]).rejects[0][1] == "too_few_points"
    bad_k = lift_image(depth, None, anns, [0, 1, 0])
    assert [r[1] for r in bad_k.rejects] == ["bad_intrinsics"] and bad_k.objects == []
    bad_d = lift_image(np.zeros(5, dtype=np.float32), K, anns, [0, 1, 0])
    assert [r[1] for r in bad_d.rejects] == ["bad_depth"]



def test_implausible_size_against_prior(scene):
    # a "cup" annotation on a 2 m object is far beyond the cup prior
    gt = box_on_floor(0.0, 3.0, [1.5, 1.0, 2.0], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=6.0, categories={0: "cup"})
    res = lift_image(depth, K, anns, [0, 1, 0])
    assert [r[1] for r in res.rejects] == ["implausible_size"]



def test_truncated_and_occluded_flags(scene):
    back = box_on_floor(0.0, 3.5, [0.8, 0.8, 1.4], 0.6)
    front = box_on_floor(0.1, 2.2, [0.5, 0.6, 0.5], 0.2)
    edge = box_on_floor(-2.2, 3.0, [0.8, 0.8, 0.8], 0.0)  # half outside the left border
    depth, K, anns, _ = scene([back, front, edge], wall_dist=6.0)
    res = lift_image(depth, K, anns, [0, 1, 0])
    o = {x["annotation_id"]: x for x in res.objects}
    assert "occluded" in o[100]["flags"] and "occluded" not in o[101]["flags"]
    assert "truncated" in o[102]["flags"]
    # the same box fully in view scores higher than its truncated copy
    whole = box_on_floor(0.3, 3.0, [0.8, 0.8, 0.8], 0.0)
    d2, K2, a2, _ = scene([whole], wall_dist=6.0)
    o2 = lift_image(d2, K2, a2, [0, 1, 0]).objects[0]
    assert "truncated" not in o2["flags"]
    assert o[102]["quality"] < o2["quality"]



def test_working_set_is_the_crop():
    # a 4000x3000 depth map with one small object: the lifter must not allocate full-size float arrays
    import tracemalloc

    from lift3d.geometry.camera import K_from_fov

    H, W = 3000, 4000
    depth = np.full((H, W), 4.0, dtype=np.float32)
    depth[1400:1500, 1900:2000] = 2.0
    m = np.zeros((H, W), dtype=bool)
    m[1400:1500, 1900:2000] = True
    K = K_from_fov(W, H, 60)
    anns = [{"annotation_id": i, "category": "box", "bbox2d": [1899.5, 1399.5, 1999.5, 1499.5], "mask": m,
             "iscrowd": 0} for i in range(5)]
    tracemalloc.start()
    res = lift_image(depth, K, anns, [0, 1, 0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(res.objects) == 5
    assert peak < 0.25 * depth.nbytes  # 12 MB float32 map; float64 full-size copies would be 96 MB
