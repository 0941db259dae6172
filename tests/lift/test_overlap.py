"""A box-only object lifted into the box of another object covering its 2D box (lift3d.lift.overlap)."""

from __future__ import annotations

import numpy as np

from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.overlap import FLAG, flag_shared_surfaces, shared_surface
from lift3d.qa import generate_qa
from lift3d.synth.corrupt import to_millimetres
from lift3d.synth.dataset import make_sample
from lift3d.truth import check_truth, truth_image


def _row(aid, bbox, center, dims, flags=("box_only",)):
    return {"annotation_id": aid, "category": "car", "bbox2d": list(bbox), "center_cam": list(center),
            "dimensions": list(dims), "R_cam": np.eye(3).reshape(9).tolist(), "flags": list(flags)}


def test_a_centre_inside_the_covering_objects_box_is_flagged():
    near = _row(1, [100, 100, 400, 300], [0.0, 0.5, 6.0], [4.5, 1.5, 1.8])
    far = _row(2, [300, 120, 380, 200], [1.0, 0.3, 6.3], [1.8, 1.5, 4.5])  # lifted onto the near car
    assert shared_surface([near, far], 0.5) == [1]
    flag_shared_surfaces([near, far], 0.5)
    assert far["flags"] == ["box_only", FLAG] and near["flags"] == ["box_only"]
    flag_shared_surfaces([near, far], 0.5)  # once only
    assert far["flags"].count(FLAG) == 1


def test_not_flagged_when_its_own_surface_placed_it_or_the_boxes_barely_overlap():
    near = _row(1, [100, 100, 400, 300], [0.0, 0.5, 6.0], [4.5, 1.5, 1.8])
    behind = _row(2, [300, 120, 380, 200], [3.0, 0.3, 20.0], [1.8, 1.5, 4.5])  # its own surface, far behind
    assert shared_surface([near, behind], 0.5) == []
    # centre inside the other's box, but only a corner of its 2D box inside the other's 2D box
    beside = _row(3, [380, 280, 480, 380], [1.0, 0.3, 6.3], [1.8, 1.5, 4.5])
    assert shared_surface([near, beside], 0.5) == []
    # an object with a mask is lifted from its own pixels
    masked = _row(4, [300, 120, 380, 200], [1.0, 0.3, 6.3], [1.8, 1.5, 4.5], flags=())
    assert shared_surface([near, masked], 0.5) == []
    # off, and rows without a usable box
    far = _row(2, [300, 120, 380, 200], [1.0, 0.3, 6.3], [1.8, 1.5, 4.5])
    assert shared_surface([near, far], 0.0) == []
    assert shared_surface([{"annotation_id": 9, "flags": ["box_only"]}, near, far], 0.5) == [2]


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
