"""Exact geometric properties of sampled scenes (no rendering)."""

import re

import numpy as np
import pytest

from lift3d.geometry.boxes import box_corners, is_rotation, rotation_from_yaw
from lift3d.synth.categories import BY_NAME, CATEGORIES, make_parts
from lift3d.synth.scene import SceneParams, down_from_angles, make_scene

SEEDS = range(25)


def obb_overlap(c1, d1, R1, c2, d2, R2, eps=1e-9) -> bool:
    """True when two oriented boxes overlap with positive volume (separating-axis theorem, 15 axes)."""
    axes = [R1[:, i] for i in range(3)] + [R2[:, i] for i in range(3)]
    axes += [np.cross(R1[:, i], R2[:, j]) for i in range(3) for j in range(3)]
    k1, k2 = box_corners(c1, d1, R1), box_corners(c2, d2, R2)
    for a in axes:
        n = np.linalg.norm(a)
        if n < 1e-9:
            continue
        a = a / n
        p1, p2 = k1 @ a, k2 @ a
        if p1.max() <= p2.min() + eps or p2.max() <= p1.min() + eps:
            return False
    return True


def test_obb_overlap_helper_detects_overlap_and_touching():
    R = np.eye(3)
    d = np.ones(3)
    assert obb_overlap(np.zeros(3), d, R, np.array([0.5, 0, 0]), d, R)
    assert not obb_overlap(np.zeros(3), d, R, np.array([1.0, 0, 0]), d, R)  # touching faces
    R2 = rotation_from_yaw(0.7)
    assert obb_overlap(np.zeros(3), d, R, np.array([0.9, 0.0, 0.2]), d, R2)


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(np.random.default_rng(s), 160, 120) for s in SEEDS]


def test_camera_parameters_in_range_and_consistent_with_gravity(scenes):
    p = SceneParams()
    for sc in scenes:
        assert p.cam_height[0] <= sc.cam_height <= p.cam_height[1]
        assert p.pitch_deg[0] <= sc.pitch_deg <= p.pitch_deg[1]
        assert p.roll_deg[0] <= sc.roll_deg <= p.roll_deg[1]
        assert p.hfov_deg[0] <= sc.hfov_deg <= p.hfov_deg[1]
        np.testing.assert_allclose(np.linalg.norm(sc.down), 1.0, atol=1e-12)
        assert np.degrees(np.arcsin(sc.down[2])) == pytest.approx(sc.pitch_deg, abs=1e-9)
        assert np.degrees(np.arctan2(-sc.down[0], sc.down[1])) == pytest.approx(sc.roll_deg, abs=1e-9)
        np.testing.assert_allclose(sc.down, down_from_angles(sc.pitch_deg, sc.roll_deg), atol=1e-12)
        hfov = np.degrees(2 * np.arctan((sc.width / 2) / sc.K[0, 0]))
        assert hfov == pytest.approx(sc.hfov_deg, abs=1e-9)


def test_scenes_have_objects_and_two_or_more_walls_ahead(scenes):
    for sc in scenes:
        assert len(sc.objects) >= 1
        kinds = [pl.kind for pl in sc.planes]
        assert kinds.count("floor") == 1 and sum(k.startswith("wall") for k in kinds) == 4
    assert sum(len(sc.objects) for sc in scenes) >= 3 * len(scenes)
    assert any(not o.on_floor for sc in scenes for o in sc.objects)  # some objects stand on tables


def test_rotation_column_1_is_exactly_down_and_yaw_round_trips(scenes):
    for sc in scenes:
        for o in sc.objects:
            assert is_rotation(o.R, 1e-12)
            assert np.array_equal(o.R[:, 1], sc.down)
            np.testing.assert_allclose(rotation_from_yaw(o.yaw, sc.down), o.R, atol=1e-12)
            cat = BY_NAME[o.category]
            assert np.all(o.dims > 0)
            assert cat.h[0] - 1e-9 <= o.dims[1] or not o.on_floor


def test_objects_rest_on_floor_or_on_their_support(scenes):
    for sc in scenes:
        for o in sc.objects:
            bottom = o.center @ sc.down + o.dims[1] / 2  # coordinate of the bottom face along down
            if o.on_floor:
                assert bottom == pytest.approx(sc.cam_height, rel=1e-12, abs=1e-12)
                assert o.support is None
            else:
                sup = sc.objects[o.support]
                assert BY_NAME[sup.category].support
                sup_top = sup.center @ sc.down - sup.dims[1] / 2
                assert bottom == pytest.approx(sup_top, abs=1e-12)
                # the footprint lies inside the support's top
                local = (o.corners() - sup.center) @ sup.R
                assert np.all(np.abs(local[:, [0, 2]]) <= sup.dims[[0, 2]] / 2 + 1e-9)


def test_no_two_boxes_intersect_and_all_inside_the_room(scenes):
    for sc in scenes:
        objs = sc.objects
        for i in range(len(objs)):
            for j in range(i + 1, len(objs)):
                a, b = objs[i], objs[j]
                assert not obb_overlap(a.center, a.dims, a.R, b.center, b.dims, b.R), (a.category, b.category)
            k = objs[i].corners()
            for pl in sc.planes:
                assert np.all(k @ pl.normal <= pl.offset + 1e-9), (objs[i].category, pl.kind)
            assert k[:, 2].min() >= SceneParams().min_object_depth - 1e-12


def test_parts_bound_exactly_the_amodal_box():
    rng = np.random.default_rng(3)
    for cat in CATEGORIES:
        for _ in range(5):
            w, h = rng.uniform(*cat.w), rng.uniform(*cat.h)
            dims = np.array([w, h, w if cat.l is None else rng.uniform(*cat.l)])
            parts = make_parts(cat.name, dims, rng)
            lo = np.min([p.lo for p in parts], axis=0)
            hi = np.max([p.hi for p in parts], axis=0)
            np.testing.assert_allclose(lo, -dims / 2, atol=1e-12)
            np.testing.assert_allclose(hi, dims / 2, atol=1e-12)
            for p in parts:
                assert np.all(np.array(p.hi) > np.array(p.lo)), cat.name


def test_make_scene_is_deterministic():
    a = make_scene(np.random.default_rng(11), 160, 120)
    b = make_scene(np.random.default_rng(11), 160, 120)
    assert len(a.objects) == len(b.objects)
    for oa, ob in zip(a.objects, b.objects):
        assert oa.category == ob.category
        assert np.array_equal(oa.center, ob.center) and np.array_equal(oa.R, ob.R)


# ------------------------------------------------------------------------------------------- outdoor

@pytest.fixture(scope="module")
def outdoor():
    from lift3d.synth.scene import OutdoorParams

    return [make_scene(np.random.default_rng(s), 320, 240, scene_type="outdoor") for s in range(15)], OutdoorParams()


def test_outdoor_scenes_street_categories_distances_and_camera(outdoor):
    scenes, p = outdoor
    cats = set()
    for sc in scenes:
        assert sc.scene_type == "outdoor" and sc.sun is not None
        assert p.cam_height[0] <= sc.cam_height <= p.cam_height[1]
        assert [pl.kind for pl in sc.planes][0] == "floor" and sc.planes[-1].kind == "sky"
        assert sc.objects
        for o in sc.objects:
            cats.add(o.category)
            assert BY_NAME[o.category].outdoor_weight > 0 and o.on_floor
            ahead = float(sc.G[:, 2] @ o.center)  # footprint centre along the horizontal forward axis
            assert p.object_distance[0] - 1e-9 <= ahead <= p.object_distance[1] + 1e-9
            bottom = float(o.center @ sc.down + o.dims[1] / 2)
            assert bottom == pytest.approx(sc.cam_height, abs=1e-9)  # standing on the ground
    assert {"person", "car"} <= cats and len(cats) >= 5


def test_outdoor_boxes_disjoint_inside_the_street_and_never_indoor_categories(outdoor):
    scenes, _ = outdoor
    for sc in scenes:
        objs = sc.objects
        for i in range(len(objs)):
            for j in range(i + 1, len(objs)):
                a, b = objs[i], objs[j]
                assert not obb_overlap(a.center, a.dims, a.R, b.center, b.dims, b.R), (a.category, b.category)
            k = objs[i].corners()
            for pl in sc.planes:
                assert np.all(k @ pl.normal <= pl.offset + 1e-9), (objs[i].category, pl.kind)
    for s in range(10):
        assert all(BY_NAME[o.category].outdoor_weight == 0 for o in make_scene(np.random.default_rng(s), 160, 120).objects)
    with pytest.raises(ValueError):
        make_scene(np.random.default_rng(0), 160, 120, scene_type="beach")


def test_scene_overrides_parse_ranges_values_and_refuse_the_rest():
    """``--scene NAME=LO,HI``: a range of the sampler (one value is a range of one), integers for counts, every
    value within its field's bounds; anything else a ValueError of one line naming it."""
    from lift3d.synth.scene import OutdoorParams, parse_scene_overrides, scene_params, scene_types_with

    got = parse_scene_overrides(["hfov_deg=28,45", "n-objects=14,24", "ceiling_prob=0", "roll_deg=-14,14",
                                 "cam_height=1.5", "street_yaw_deg=-90,90"])
    assert got == {"hfov_deg": (28.0, 45.0), "n_objects": (14, 24), "ceiling_prob": 0.0, "roll_deg": (-14.0, 14.0),
                   "cam_height": (1.5, 1.5), "street_yaw_deg": (-90.0, 90.0)}
    assert isinstance(got["n_objects"][0], int) and isinstance(got["hfov_deg"][0], float)
    indoor, outdoor = scene_params("indoor", got), scene_params("outdoor", got)
    assert indoor.hfov_deg == outdoor.hfov_deg == (28.0, 45.0) and indoor.ceiling_prob == 0.0
    assert outdoor.n_objects == (14, 24) and outdoor.pitch_deg == OutdoorParams().pitch_deg  # the rest: defaults
    assert not hasattr(indoor, "n_objects")  # an outdoor range is left to outdoor scenes
    assert scene_params("indoor") == SceneParams() and scene_types_with("n_floor_objects") == ("indoor",)
    assert scene_types_with("hfov_deg") == ("indoor", "outdoor")
    for bad, why in [("hfov=30,40", "unknown scene parameter 'hfov'"), ("hfov_deg", "NAME=LO,HI"),
                     ("hfov_deg=1,2", "within [5, 150]"), ("n_objects=1.5,3", "takes integers"),
                     ("pitch_deg=10,5", "LO <= HI"), ("ceiling_prob=2", "within [0, 1]"),
                     ("cam_height=1,2,3", "takes LO,HI"), ("ceiling_prob=0.1,0.2", "takes one value"),
                     ("dist_side_wall=-1,2", "within [0, inf]"), ("hfov_deg=nan,40", "finite"),
                     ("hfov_deg=a", "takes numbers")]:
        with pytest.raises(ValueError, match=re.escape(why)) as e:
            parse_scene_overrides([bad])
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown scene parameter 'foo'"):
        scene_params("indoor", {"foo": (1.0, 2.0)})


@pytest.mark.parametrize("scene_type", ["indoor", "outdoor"])
def test_scenes_are_drawn_from_the_overridden_ranges(scene_type):
    """A long lens and a tilted, raised camera: every sampled scene's camera lies in the ranges given."""
    from lift3d.synth.scene import parse_scene_overrides, scene_params

    p = scene_params(scene_type, parse_scene_overrides(["hfov_deg=28,32", "roll_deg=10,12", "cam_height=2.2,2.4"]))
    for seed in range(6):
        sc = make_scene(np.random.default_rng(seed), 320, 240, p, scene_type)
        assert 28.0 <= sc.hfov_deg <= 32.0 and 10.0 <= sc.roll_deg <= 12.0 and 2.2 <= sc.cam_height <= 2.4
        assert sc.K[0, 0] == pytest.approx(160.0 / np.tan(np.radians(sc.hfov_deg / 2)))
