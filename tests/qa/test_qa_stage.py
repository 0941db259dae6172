"""The QA stage adapter: per-image seeds and the categories with an unlifted instance."""

from lift3d.qa.stage import QAStage, qa_seed


def _obj(aid, cat, x):
    return {"annotation_id": aid, "category": cat, "center_cam": [x, 0.2, 3.0], "dimensions": [0.5, 0.8, 0.5],
            "R_cam": [1, 0, 0, 0, 1, 0, 0, 0, 1], "yaw": 0.0, "bbox2d": [10 + 40 * aid, 10, 40 + 40 * aid, 60],
            "quality": 0.9, "flags": [], "on_floor": True, "num_points": 500, "yaw_confidence": 0.9,
            "mask_source": "dataset"}


def test_qa_seed_depends_on_seed_and_image_only():
    assert qa_seed(0, 5) == qa_seed(0, 5)
    assert len({qa_seed(0, 5), qa_seed(1, 5), qa_seed(0, 6)}) == 3


def _record(categories):
    return {"image_id": 3, "width": 640, "height": 480, "K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
           "gravity": [0, 1, 0], "file_name": "a.png",
           "objects": [_obj(1, "chair", -0.8), _obj(2, "chair", 0.0), _obj(3, "table", 0.9)],
           "annotation_categories": categories}


def _counted(rec):
    """The categories asked about in count questions (object 1 is a chair, object 3 the table)."""
    return {"chair" if 1 in r["object_ids"] else "table" for r in rec["qa"] if r["question_type"] == "count"}


def test_unlifted_category_is_recorded_and_never_counted():
    stage = QAStage(seed=0)
    stage.setup()
    full = _record({1: "chair", 2: "chair", 3: "table"})
    stage.process([full])
    assert full["rejected_categories"] == [] and _counted(full) == {"chair", "table"}
    rec = _record({1: "chair", 2: "chair", 3: "table", 4: "chair"})
    stage.process([rec])
    assert rec["rejected_categories"] == ["chair"]  # annotation 4 was not lifted
    assert _counted(rec) == {"table"}
    again = {**rec, "qa": None}
    stage.process([again])
    assert [r["question"] for r in again["qa"]] == [r["question"] for r in rec["qa"]]


def test_the_build_does_not_take_a_gravityless_camera_for_a_level_one():
    """An image reaches the build's QA without gravity only when its dataset gave none and its lift found none: no
    floor and no vertical lines within their search cones, as under a camera pitched 40-45 degrees down (scratch
    rooms shot from 2.0-2.6 m: the camera frame's "higher up" was "farther", and 5 of 6 false answers of a set were
    above / below).  The build skips the types that need the up direction there; the library's default (and a
    build's ``qa`` option) still takes the camera frame for level."""
    from lift3d.build import BuildConfig, make_stages
    from lift3d.qa.generate import FRAME_TYPES

    def qa_types(cfg, gravity):
        stage = next(s for s in make_stages(cfg) if s.name == "qa")
        stage.setup()
        types = set()
        for seed in range(8):
            stage.seed = seed
            rec = dict(_record({"chair": 2, "table": 1}), gravity=gravity)
            types |= {r["question_type"] for r in stage.process_record(rec)["qa"]}
        return types

    assert not qa_types(BuildConfig(), None) & FRAME_TYPES
    assert qa_types(BuildConfig(), [0, 1, 0]) & FRAME_TYPES
    assert qa_types(BuildConfig(qa={"assume_level_without_gravity": True}), None) & FRAME_TYPES


def test_each_object_gets_its_distance_and_height_uncertainty():
    """The QA stage writes the guards' model of each object's errors onto it (objects columns ``distance_log_sigma``,
    ``height_log_sigma``): sensor depth the object's own terms; model depth adds the image's scale, the depth scale's
    along the line of sight (the distance, mostly) and the lateral scale's across it (the height); an object with no
    valid box gets None."""
    import math
    import random

    from lift3d.qa import QAConfig
    from lift3d.qa.scene import Scene

    stage = QAStage(seed=0)
    stage.setup()
    sensor = _record({1: "chair", 2: "chair", 3: "table"})
    sensor["objects"].append({**_obj(4, "lamp", 0.5), "dimensions": [0.0, 0.5, 0.3]})  # no valid box
    stage.process([sensor])
    chair = sensor["objects"][0]
    S = Scene(sensor, sensor["objects"][:3], QAConfig(), random.Random(0))
    own = QAConfig().size_log_sigma * S.mult[0]
    assert chair["distance_log_sigma"] == round(S.pos_sig[0] / S.dist[0], 4)
    assert chair["height_log_sigma"] == round(own, 4)
    assert sensor["objects"][3]["distance_log_sigma"] is None and sensor["objects"][3]["height_log_sigma"] is None
    model = dict(_record({1: "chair", 2: "chair", 3: "table"}), depth_scale_log_sigma=0.12, lateral_scale_log_sigma=0.04,
                 depth_source="dataset-model")
    stage.process([model])
    m = model["objects"][0]
    rv = Scene(model, model["objects"][:3], QAConfig(), random.Random(0)).range_var[0]
    along = 3.0 ** 2 / (0.8 ** 2 + 0.2 ** 2 + 3.0 ** 2)  # the chair at (-0.8, 0.2, 3.0)
    assert m["distance_log_sigma"] == round(math.sqrt((0.04 + along * 0.08) ** 2 + rv + (S.pos_sig[0] / S.dist[0]) ** 2),
                                            4)
    assert m["height_log_sigma"] == round(math.sqrt(0.04 ** 2 + rv + own ** 2), 4)  # gravity across the view
