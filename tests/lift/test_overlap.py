"""A box-only object lifted into the box of another object covering its 2D box (lift3d.lift.overlap)."""

from __future__ import annotations

import numpy as np

from lift3d.geometry.boxes import Box3D
from lift3d.geometry.camera import K_from_fov, project
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.overlap import FLAG, flag_shared_surfaces, shared_surface
from lift3d.qa import generate_qa
from lift3d.synth.corrupt import to_millimetres
from lift3d.synth.dataset import make_sample
from lift3d.truth import check_truth, truth_image


K = K_from_fov(640, 480, 60.0)


def _row(aid, center, dims, bbox=None, flags=("box_only",)):
    """An object row; its 2D box is its 3D box's projection unless given."""
    box = Box3D(np.asarray(center, float), np.asarray(dims, float), np.eye(3))
    if bbox is None:
        uv = project(box.corners(), K)
        bbox = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    return {"annotation_id": aid, "category": "car", "bbox2d": [float(t) for t in bbox],
            "center_cam": [float(t) for t in center], "dimensions": [float(t) for t in dims],
            "R_cam": np.eye(3).reshape(9).tolist(), "flags": list(flags)}


NEAR = dict(center=[0.0, 0.5, 6.0], dims=[4.5, 1.5, 1.8])  # a car side-on, 6 m away


def test_a_centre_inside_the_covering_objects_box_is_flagged():
    near = _row(1, **NEAR)
    far = _row(2, [1.0, 0.3, 6.3], [1.0, 0.6, 0.4])  # lifted onto the near car, its centre inside it
    assert shared_surface([near, far], K, 0.5) == [1]
    flag_shared_surfaces([near, far], K, 0.5)
    assert far["flags"] == ["box_only", FLAG] and near["flags"] == ["box_only"]
    flag_shared_surfaces([near, far], K, 0.5)  # once only
    assert far["flags"].count(FLAG) == 1


def test_a_near_face_on_the_covering_objects_surface_is_flagged():
    """A car's near face lifted onto a person in front of it: its centre lies behind the person (its length was
    completed from the prior), but along the ray through its 2D box its box begins where the person's does."""
    person = _row(1, [0.5, 0.6, 7.2], [0.5, 1.7, 0.35])
    u, v = project(np.array([[0.5, 0.7, 9.3]]), K)[0]
    car = _row(2, [0.5, 0.7, 7.05 + 2.25], [1.8, 1.4, 4.5], bbox=[u - 5, v - 5, u + 5, v + 5])  # inside the person's
    assert not Box3D.from_row(person).contains(np.array([car["center_cam"]]))[0]
    assert shared_surface([person, car], K, 0.5) == [1]
    # the same car with its near face 3 m behind the person: its own surface
    car2 = dict(car, center_cam=[0.5, 0.7, 10.3 + 2.25])
    assert shared_surface([person, car2], K, 0.5) == []


def test_not_flagged_when_its_own_surface_placed_it_or_the_boxes_barely_overlap():
    near = _row(1, **NEAR)
    far = _row(2, [1.0, 0.3, 6.3], [1.0, 0.6, 0.4])
    behind = dict(far, center_cam=[3.0, 0.3, 20.0])  # its own surface, far behind
    assert shared_surface([near, behind], K, 0.5) == []
    # centre inside the other's box, but only a corner of its 2D box inside the other's 2D box
    x1, y1, x2, y2 = near["bbox2d"]
    beside = dict(far, bbox2d=[x2 - 10, y2 - 10, x2 + 90, y2 + 90])
    assert shared_surface([near, beside], K, 0.5) == []
    # an object with a mask is lifted from its own pixels
    masked = dict(far, flags=[])
    assert shared_surface([near, masked], K, 0.5) == []
    # off, and rows without a usable box
    assert shared_surface([near, far], K, 0.0) == []
    assert shared_surface([{"annotation_id": 9, "flags": ["box_only"]}, near, far], K, 0.5) == [2]


def _dog_behind_a_person():
    """Synthetic street scene 13 of seed 7200 (sensor-like depth, 2D boxes only): a dog 20.8 m away, its 2D box
    (23 x 17 px) mostly covered by a person's standing at 10.7 m in front of it."""
    smp = make_sample(7200, 13, scene_type="outdoor")
    depth = to_millimetres(smp.depth).astype(np.float32) / 1000.0
    anns = [{"annotation_id": o["annotation_id"], "category": o["category"], "category_id": o["category_id"],
             "bbox2d": o["bbox2d"], "iscrowd": 0, "mask": None} for o in smp.objects]
    down = [float(v) for v in smp.scene.down]
    res = lift_image(depth, np.asarray(smp.scene.K), anns, down, LiftConfig(), image_id=13)
    return smp, res, down


def test_a_dog_hidden_behind_a_person_is_flagged_and_never_asked_about():
    smp, res, down = _dog_behind_a_person()
    truth = {o["annotation_id"]: o for o in smp.objects}
    flagged = [o for o in res.objects if FLAG in o["flags"]]
    assert [o["category"] for o in flagged] == ["dog"]
    dog = flagged[0]
    d_lift = float(np.linalg.norm(dog["center_cam"]))
    d_true = float(np.linalg.norm(truth[dog["annotation_id"]]["center_cam"]))
    assert d_lift < 0.6 * d_true  # lifted onto the person: the flag's distance is a lower bound
    # the QA asks nothing about the dog, and every answer is true of the true boxes
    K = np.asarray(smp.scene.K, dtype=float)
    image = {"image_id": 13, "width": smp.scene.width, "height": smp.scene.height, "K": K.reshape(9).tolist(), "gravity": down,
             "objects": res.objects}
    rows, _ = generate_qa(image, res.objects, seed=0)
    assert rows
    gt = {"gravity": down, "objects": [{k: o[k] for k in ("annotation_id", "center_cam", "dimensions", "R_cam", "yaw")}
                                       for o in smp.objects]}
    t = truth_image(image, gt)
    for r in rows:
        if r["question_type"] not in ("count", "ground_multi", "det_all"):
            assert dog["annotation_id"] not in r["object_ids"], r["question"]
        assert check_truth(r, image, t).true, (r["question"], r["answer"])
