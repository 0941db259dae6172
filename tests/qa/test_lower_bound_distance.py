"""Objects whose lifted distance is a lower bound (flag ``shared_surface``, lift3d.lift.overlap): never asked about,
still counted, and the descriptors of others must hold wherever beyond its lifted centre it really is."""

import random

from qa_helpers import make_image, make_obj

from lift3d.qa import QAConfig, generate_qa
from lift3d.qa.scene import BEYOND_FLAGS, Scene, _against_beyond

FLAGGED = ["box_only", "shared_surface"]


def test_the_flag_makes_the_distance_a_lower_bound():
    assert "shared_surface" in BEYOND_FLAGS
    # j right of the camera and farther: i (left, nearer) is leftmost and closest against every t >= 1
    assert _against_beyond(-1.0, 3.0, 1.0, 6.0, 0.5, True, True, True, True) == (True, False, True, False)
    # j left of the camera: going farther moves it further left, so nothing is left of it for sure
    assert _against_beyond(-3.0, 3.0, -1.0, 6.0, 0.5, True, True, True, True) == (False, False, True, False)
    assert _against_beyond(0.5, 3.0, -1.0, 6.0, 0.5, True, True, True, True) == (False, True, True, False)
    # i beyond j's lifted distance: j may be farther still, and i is not closer either; still left of it
    assert _against_beyond(0.0, 8.0, 1.0, 6.0, 0.5, True, True, True, True) == (True, False, False, False)
    # the flags passed in are and-ed
    assert _against_beyond(-1.0, 3.0, 1.0, 6.0, 0.5, False, True, False, True) == (False, False, False, False)


def _chairs(d_other, flag_far=True):
    img = make_image(1)
    objs = [make_obj(1, "chair", [-1.0, 0.5, d_other], [0.5, 0.9, 0.5]),
            make_obj(2, "chair", [1.0, 0.5, 4.0], [0.5, 0.9, 0.5], flags=FLAGGED if flag_far else ["box_only"]),
            make_obj(3, "lamp", [1.5, 0.0, 5.0], [0.3, 1.5, 0.3])]
    return img, objs


def test_a_flagged_object_is_not_asked_about_but_counts():
    img, objs = _chairs(8.0)
    rows, stats = generate_qa(img, objs, QAConfig(max_per_image=200, max_per_type_per_image=10), 0)
    assert rows
    for r in rows:
        if r["question_type"] not in ("count", "ground_multi", "det_all"):
            assert 2 not in r["object_ids"], r["question"]
    assert stats["askable_objects"] == 2
    S = Scene(img, objs, QAConfig(), random.Random(0))
    assert S.cat_count["chair"] == 2 and S.beyond == [False, True, False]


def test_descriptors_against_a_flagged_object():
    cfg = QAConfig()
    # chair 1 at 8 m, the flagged chair lifted at 4 m: it may be beyond 8 m, so chair 1 is not surely the farthest;
    # without the flag it would be
    img, objs = _chairs(8.0)
    S = Scene(img, objs, cfg, random.Random(0))
    assert "farthest" not in S._descriptors(0, S.by_cat["chair"])
    img, objs = _chairs(8.0, flag_far=False)
    S = Scene(img, objs, cfg, random.Random(0))
    assert "farthest" in S._descriptors(0, S.by_cat["chair"])
    # chair 1 at 1.5 m, nearer than the flagged chair's lower bound and left of it (it is right of the camera)
    img, objs = _chairs(1.5)
    S = Scene(img, objs, cfg, random.Random(0))
    found = S._descriptors(0, S.by_cat["chair"])
    assert "closest" in found and "leftmost" in found and "farthest" not in found
