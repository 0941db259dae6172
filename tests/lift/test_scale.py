"""Per-image depth scale from the category height priors (lift3d.lift.scale)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.priors import lookup
from lift_scenes import box_on_floor


TABLE_H = 0.75  # = the "table" prior height



def _tables(scene, factor):
    boxes = [box_on_floor(-0.9, 3.4, [0.8, TABLE_H, 1.4], 0.3), box_on_floor(0.9, 3.8, [0.9, TABLE_H, 1.6], -0.4)]
    depth, K, anns, _ = scene(boxes, wall_dist=6.0, W=320, H=240, categories={0: "table", 1: "dining table"})
    return boxes, depth * np.float32(factor), K, anns



def plain_floor(depth, K):
    return lift_image(depth, K, [], [0.0, 1.0, 0.0]).floor_height



def test_prior_table_has_a_height_spread():
    assert lookup("table").h == pytest.approx(TABLE_H)
    assert lookup("table").h_rel_std < 0.1 < lookup("lamp").h_rel_std
    assert lookup("coffee table").h < 0.6  # not the dining-table row



@pytest.mark.parametrize("factor", [0.93, 1.06])
def test_scale_from_priors_undoes_a_global_depth_scale(scene, factor):
    boxes, depth, K, anns = _tables(scene, factor)
    cfg = LiftConfig(scale_from_priors=True)
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0], cfg)
    assert len(res.objects) == 2
    # shrunk towards 1 (two objects against the prior on the scale), but a good part of the way
    lk, lf = np.log(res.depth_scale_factor), np.log(factor)
    assert 0.4 * abs(lf) < abs(lk) <= abs(lf) + 0.01 and np.sign(lk) == np.sign(lf)
    assert abs(res.floor_height - 1.3) < abs(plain_floor(depth, K) - 1.3)
    plain = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    assert plain.depth_scale_factor == 1.0
    assert all("depth_rescaled" not in o["flags"] for o in plain.objects)
    for o, p, gt in zip(res.objects, plain.objects, boxes):
        assert "depth_rescaled" in o["flags"]
        assert abs(o["dimensions"][1] - TABLE_H) < abs(p["dimensions"][1] - TABLE_H)
        assert iou_3d(o, gt) > iou_3d(p, gt)



def test_scale_from_priors_off_by_default_and_neutral_without_priors(scene):
    gt = box_on_floor(0.0, 3.0, [0.7, 0.8, 1.2], 0.9)
    depth, K, anns, _ = scene([gt], wall_dist=6.0, categories={0: "unknown thing"})
    assert LiftConfig().scale_from_priors is False
    res = lift_image(depth * np.float32(1.05), K, anns, [0.0, 1.0, 0.0], LiftConfig(scale_from_priors=True))
    assert res.depth_scale_factor == 1.0 and len(res.objects) == 1
    assert "depth_rescaled" not in res.objects[0]["flags"]



def test_a_partial_view_cannot_drag_the_scale(scene):
    """A 'table' seen as its top alone (a 3 cm slab off the floor) says nothing about the depth scale: its
    height ratio (~1/25) lies beyond any scale the estimator may return, so it is left out instead of being
    the weighted median of two equally trusted tables (it was: the scale went to the 1/1.5 clip)."""
    factor = 1.06
    real = box_on_floor(-0.9, 3.4, [0.8, TABLE_H, 1.4], 0.3)
    slab = box_on_floor(0.9, 3.8, [0.9, 0.03, 1.6], -0.4, lift=0.3)
    depth, K, anns, _ = scene([real, slab], wall_dist=6.0, W=320, H=240, categories={0: "table", 1: "table"})
    res = lift_image(depth * np.float32(factor), K, anns, [0.0, 1.0, 0.0], LiftConfig(scale_from_priors=True))
    assert len(res.objects) == 2
    lk = np.log(res.depth_scale_factor)
    assert 0.3 * np.log(factor) < lk <= np.log(factor) + 0.01



def test_scale_ratios_far_from_the_consensus_count_less_student_t():
    """Five chairs agree on a 3 % scale, a sixth says 20 % (inside the outlier cut): with Student-t weights
    it moves the estimate less than in a plain weighted mean."""
    from lift3d.lift.result import Observation
    from lift3d.lift.scale import estimate_depth_scale

    chair = lookup("chair")
    floor_h = 1.3

    def obs(ratio):
        h = chair.h * ratio
        q = np.stack([np.zeros(300), np.linspace(floor_h - h, floor_h, 300), np.full(300, 3.0)], axis=1)
        return Observation({"category": "chair"}, [0, 0, 10, 10], False, q, q[:, 2], [], 1.0, chair)

    def est(ratios, nu):
        k, _ = estimate_depth_scale([obs(r) for r in ratios], floor_h, LiftConfig(scale_t_nu=nu))
        return np.log(k)

    agree = est([1.03] * 5, 0.0)
    plain, robust = est([1.03] * 5 + [1.20], 0.0), est([1.03] * 5 + [1.20], 4.0)
    assert agree < robust < plain
    # agreeing ratios keep (up to the t weights' (nu + 1) / nu) their weight against the shrinkage
    assert est([1.03] * 6, 0.0) <= est([1.03] * 6, 4.0) <= np.log(1.03)


@pytest.mark.parametrize("factor", [0.8, 1.3])
def test_scale_from_cues_with_its_uncertainty(scene, factor):
    """Model depth (scale.cues): the heights and the camera height (1.3 m here, the prior says 1.4 m) undo a
    global scale far beyond the old estimator's clip, and the image gets an honest uncertainty."""
    boxes, depth, K, anns = _tables(scene, factor)
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.25})
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0], cfg)
    assert len(res.objects) == 2
    assert abs(np.log(res.depth_scale_factor) - np.log(factor)) < 0.08
    assert cfg.scale.shared_std <= res.depth_scale_log_sigma < 0.15
    plain = lift_image(depth, K, anns, [0.0, 1.0, 0.0])
    for o, p, gt in zip(res.objects, plain.objects, boxes):
        assert iou_3d(o, gt) > iou_3d(p, gt)
    # no object and no floor: the depth source's own spread, no correction
    none = lift_image(depth, K, [], None, LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.25},
                                                     gravity={"estimate": False}))
    assert none.depth_scale_factor == 1.0 and none.depth_scale_log_sigma == pytest.approx(0.25)
    assert lift_image(depth, K, anns, [0.0, 1.0, 0.0], LiftConfig(scale_from_priors=True)).depth_scale_log_sigma == 0.0


def _chair_obs(ratio, floor_h=1.3, bbox=(100, 100, 140, 160), trunc_v=False, flags=(), on_floor=True):
    from lift3d.lift.result import Observation

    chair = lookup("chair")
    h = chair.h * ratio
    bottom = floor_h if on_floor else floor_h - 1.0  # well off the floor: no floor snap
    q = np.stack([np.zeros(300), np.linspace(bottom - h, bottom, 300), np.full(300, 3.0)], axis=1)
    return Observation({"category": "chair"}, list(bbox), False, q, q[:, 2], list(flags), 1.0, chair, trunc_v)


def test_a_cut_object_is_a_lower_bound():
    """A chair cut by the image border shows 60 % of its height: as a two-sided cue it would say the depth is
    x0.6 too small; as the censored cue (scale.censored) it only says the scale is at least that, so with two fully
    seen chairs at x1.1 the estimate stays at their x1.1 and is larger than the naive two-sided one."""
    from lift3d.lift.metric_scale import Cue, ScaleCueConfig, combine_cues
    from lift3d.lift.scale import height_cues, scale_from_cues

    floor_h = 1.3 * 1.1
    full = [_chair_obs(1.1, floor_h), _chair_obs(1.1, floor_h, bbox=(200, 100, 240, 160))]
    cut = _chair_obs(0.6, floor_h, bbox=(300, 0, 340, 40), trunc_v=True, on_floor=False)
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15, "camera_height": False})
    cues = height_cues(full + [cut], floor_h, cfg)
    assert [c.lower for c in cues] == [False, False, True]
    # 60 % of the height seen, plus half a pixel at both ends of its 40 px (a mask: no erosion to give back)
    assert cues[2].log_ratio == pytest.approx(np.log(0.6 * 40 / 39), abs=0.01)
    censored = scale_from_cues(full + [cut], floor_h, 1.0, cfg)
    alone = scale_from_cues(full, floor_h, 1.0, cfg)
    assert censored.factor == pytest.approx(alone.factor, rel=0.01)
    mcfg = ScaleCueConfig(prior_sigma=0.15)
    naive = combine_cues([Cue("height", c.log_ratio, c.sigma) for c in cues], mcfg)
    assert censored.factor > naive.factor
    # the option off: the cut chair is left out, as before
    off = LiftConfig(scale={"from_priors": True, "cues": True, "camera_height": False, "censored": False})
    assert len(height_cues(full + [cut], floor_h, off)) == 2
    # occluded and not standing on the floor: a bound too
    occ = _chair_obs(0.7, floor_h, flags=["occluded"], on_floor=False)
    assert height_cues([occ], floor_h, cfg)[0].lower


def test_the_eroded_pixels_are_given_back():
    """A box-only foreground eroded by 3 px lost them at the top (the floor contact restores the bottom), and the
    points at pixel centres lie half a pixel inside the outline: the height cue of a 40 px tall chair is 40 / 36.5
    times its seen height (40 / 39.5 uneroded); off the floor both ends lost them (40 / 33 and 40 / 39).  A mask is
    not eroded at the edges of its 2D box, which it touches: only the half pixel is given back."""
    from dataclasses import replace

    from lift3d.lift.scale import height_cues

    floor_h = 1.3
    on = replace(_chair_obs(1.0, floor_h, bbox=(100, 100, 140, 140)), box_only=True)
    off = replace(_chair_obs(1.0, floor_h, bbox=(100, 100, 140, 140), flags=["occluded"], on_floor=False),
                  box_only=True)
    base = {"from_priors": True, "cues": True, "camera_height": False, "box_only_factor": 1.0}
    plain = LiftConfig(scale=base, crop={"mask_erode_px": 0})
    eroded = LiftConfig(scale=base, crop={"mask_erode_px": 0, "box_erode_px": 3})
    (c0,), (c3,) = height_cues([on], floor_h, plain), height_cues([on], floor_h, eroded)
    assert c3.log_ratio - c0.log_ratio == pytest.approx(np.log(39.5 / 36.5), abs=1e-9)
    assert c3.sigma > c0.sigma  # and the height is less certain (3 px more at each end)
    (d0,), (d3,) = height_cues([off], floor_h, plain), height_cues([off], floor_h, eroded)
    assert d0.lower and d3.log_ratio - d0.log_ratio == pytest.approx(np.log(39 / 33), abs=1e-9)
    mask = _chair_obs(1.0, floor_h, bbox=(100, 100, 140, 140))
    (m0,), (m3,) = height_cues([mask], floor_h, plain), height_cues([mask], floor_h, LiftConfig(scale=base,
                                                                                               crop={"mask_erode_px": 3}))
    assert m3.log_ratio == m0.log_ratio


def test_camera_height_cue_reads_the_floor_under_the_objects():
    """Under a range exponent the near floor and the floor where the objects stand sit at different levels in the
    model's depth: the camera-height cue takes the median of the floors measured under the objects."""
    from lift3d.lift.metric_scale import ScaleCueConfig, camera_height_cue
    from lift3d.lift.scale import scale_from_cues

    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15})
    chairs = [_chair_obs(1.0, 1.3, bbox=(100 + 60 * i, 100, 140 + 60 * i, 160)) for i in range(3)]
    image_floor = 1.6  # the near floor's level: what the image's floor fit reads
    without = scale_from_cues(chairs, image_floor, 1.0, cfg)
    for ob, fl in zip(chairs, (1.3, 1.32, 1.28)):
        ob.floor = fl
    under = scale_from_cues(chairs, image_floor, 1.0, cfg)
    cam = camera_height_cue(1.3, 1.0, ScaleCueConfig())
    cam_img = camera_height_cue(image_floor, 1.0, ScaleCueConfig())
    assert cam.log_ratio < cam_img.log_ratio
    # the chairs (heights as their prior) and the floor under them agree on a scale of about 1; the near floor's
    # 1.6 m (vs the 1.4 m prior) pulls it above
    assert under.factor < without.factor
    assert abs(np.log(under.factor)) < 0.02 < np.log(without.factor)


def test_a_seen_ceiling_adds_the_rooms_height_as_a_cue():
    """Only the floor and the ceiling are seen, in depth 1.5x too large: the camera height alone moves the scale a
    quarter of the way to 1.5 (its prior is wide); with the room's height (2.7 m as its prior) over half the way."""
    from lift3d.lift.scale import scale_from_cues

    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15})
    floor_h, ceil_h = 1.5 * 1.4, 1.5 * 1.3
    alone = scale_from_cues([], floor_h, 1.0, cfg)
    room = scale_from_cues([], floor_h, 1.0, cfg, ceil_h)
    off = scale_from_cues([], floor_h, 1.0, LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15,
                                                             "room_height": False}), ceil_h)
    assert off.factor == alone.factor and off.log_sigma == alone.log_sigma
    assert alone.factor < 1.15 and 1.22 < room.factor < 1.5
    assert room.log_sigma < alone.log_sigma


def _seated_scene():
    """A table, and a person 1.30 m tall (seated) in front of an armchair whose sides show around it."""
    from lift3d.geometry.camera import K_from_fov
    from lift_scenes import bbox_of, raycast

    boxes = [box_on_floor(-0.9, 3.4, [0.8, TABLE_H, 1.4], 0.3), box_on_floor(0.5, 3.0, [0.45, 1.3, 0.45], 0.0),
             box_on_floor(0.5, 3.5, [0.85, 0.9, 0.6], 0.0)]
    K = K_from_fov(320, 240, 70.0)
    depth, owner = raycast(K, 240, 320, boxes, (0.0, 1.0, 0.0), 1.3, 6.0)
    anns = [{"annotation_id": 100 + i, "category": c, "category_id": 1, "bbox2d": bbox_of(owner == i),
             "mask": owner == i, "iscrowd": 0} for i, c in enumerate(["table", "person", "chair"])]
    return depth, K, anns


@pytest.mark.parametrize("masks", [True, False])
def test_a_seated_person_is_no_scale_cue(masks, monkeypatch):
    """Exact depth: the seated person's 1.30 m against a standing person's 1.70 would scale the image down; on the
    chair, it is left out and the table and the chair keep the scale at 1."""
    import lift3d.lift.scale as scale_mod

    depth, K, anns = _seated_scene()
    anns = anns if masks else [dict(a, mask=None) for a in anns]
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.15})
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0], cfg)
    assert len(res.objects) == 3
    assert abs(np.log(res.depth_scale_factor)) < 0.025
    monkeypatch.setattr(scale_mod, "SEATS", frozenset())  # without the rule, the person pulls the scale down
    assert lift_image(depth, K, anns, [0.0, 1.0, 0.0], cfg).depth_scale_factor < 0.975


def test_on_a_seat_needs_a_seat_over_the_lower_half():
    from types import SimpleNamespace as NS

    from lift3d.lift.scale import on_a_seat

    def ob(cat, bbox, z=4.0):
        return NS(prior=lookup(cat), bbox=bbox, z_sel=np.full(50, z))

    person = ob("woman", [100, 50, 140, 200])
    assert on_a_seat(person, [person, ob("bench", [80, 120, 220, 210], z=4.3)])
    assert on_a_seat(person, [person, ob("motorbike", [60, 110, 200, 215])])
    assert not on_a_seat(person, [person, ob("bench", [150, 120, 260, 210])])  # beside it
    assert not on_a_seat(person, [person, ob("bench", [80, 120, 220, 210], z=2.5)])  # far in front of her
    assert on_a_seat(person, [person, ob("folding_chair", [80, 120, 220, 210])])  # LVIS: a chair by its parent
    assert not on_a_seat(person, [person, ob("table", [80, 120, 220, 210])])  # not a seat
    table = ob("table", [100, 50, 140, 200])
    assert not on_a_seat(table, [table, ob("chair", [80, 120, 220, 210])])  # not a person


def test_a_mask_top_lost_to_soft_edges_is_taken_at_the_top_reach():
    """On soft-edged model depth a mask's thin top parts (a head, a handlebar, a backrest's rim) lose their points:
    the fit puts the top at the 2D box's top edge (the top reach), and the height cue reads that height too, not the
    surviving points' (those read the chair 20 % short here).  Not where a top face is seen from above (its far edge
    is the box's top row), and not box-only (its erosion is given back in proportion instead)."""
    from dataclasses import replace

    from lift3d.lift.scale import height_cues

    floor_h = 1.3
    chair = lookup("chair")
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "camera_height": False})
    lost = replace(_chair_obs(0.8, floor_h), top_reach=floor_h - chair.h)  # the 2D box's top edge at the full height
    assert height_cues([_chair_obs(0.8, floor_h)], floor_h, cfg)[0].log_ratio == pytest.approx(
        np.log(0.8 * 60 / 59.5), abs=0.01)
    assert height_cues([lost], floor_h, cfg)[0].log_ratio == pytest.approx(0.0, abs=1e-6)
    box_only = replace(lost, box_only=True)
    assert height_cues([box_only], floor_h, cfg)[0].log_ratio < np.log(0.9)
    # a top face seen from above spans the footprint: the points' own top stands
    g = np.linspace(-0.25, 0.25, 15)
    xx, zz = np.meshgrid(g, 3.0 + g)
    top = floor_h - 0.8 * chair.h
    face = np.stack([xx.ravel(), np.full(xx.size, top), zz.ravel()], axis=1)
    legs = np.stack([np.zeros(100), np.linspace(top, floor_h, 100), np.full(100, 3.0)], axis=1)
    q = np.concatenate([face, legs])
    seen_from_above = replace(lost, q=q, z_sel=q[:, 2])
    assert height_cues([seen_from_above], floor_h, cfg)[0].log_ratio == pytest.approx(np.log(0.8 * 60 / 59.5),
                                                                                       abs=0.01)


def test_a_lamp_is_read_against_both_of_its_modes():
    """A lamp 0.75 m tall seen whole 2 m above the floor (on a shelf): its scale cue is the mixture of a table lamp
    (log 0.75 / 0.5) and a floor lamp (log 0.75 / 1.6), whichever mode the depth's own scale picked; a chair's is
    one term."""
    from dataclasses import replace

    from lift3d.lift.scale import height_cues

    lamp = lookup("lamp")
    ob = _chair_obs(0.75 / lookup("chair").h, on_floor=False)
    ob = replace(ob, ann={"category": "lamp"}, prior=lookup("floor lamp"), category_prior=lamp, contact=False)
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "camera_height": False})
    lamp_cue, chair_cue = height_cues([ob, _chair_obs(1.0, 2.3, bbox=(200, 100, 240, 160))], 2.3, cfg)
    ratios = sorted(m[0] for m in lamp_cue.modes)
    seen = np.log(0.75 * 60 / 59)  # half a pixel at both ends of its 60 px
    assert ratios == pytest.approx(sorted([seen - np.log(lookup("table lamp").h), seen - np.log(lookup("floor lamp").h)]),
                                   abs=0.01)
    assert chair_cue.modes == ()


def test_a_lamps_yaw_is_fitted_once_for_all_of_its_modes(monkeypatch):
    """The copies of a lamp read under each of its modes share one yaw fit, kept on the observation the box fit then
    uses (each mode's top reach needs the box axes)."""
    from dataclasses import replace

    import lift3d.lift.yaw as yaw
    from lift3d.lift.scale import height_cues

    calls = []
    fit_yaw = yaw.fit_yaw
    monkeypatch.setattr(yaw, "fit_yaw", lambda *a, **k: calls.append(1) or fit_yaw(*a, **k))
    floor_h = 2.3
    ob = _chair_obs(0.75 / lookup("chair").h, on_floor=False)
    ob = replace(ob, ann={"category": "lamp"}, prior=lookup("floor lamp"), category_prior=lookup("lamp"),
                 contact=False, top_reach=floor_h - 1.0)  # the 2D box's top above the points': the reach applies
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "camera_height": False})
    assert len(height_cues([ob], floor_h, cfg)[0].modes) == 2
    assert len(calls) == 1 and ob.yaw is not None


def test_the_scale_estimate_keeps_the_cues_it_combined(scene):
    """Model depth: ``LiftResult.scale_estimate`` is the image's scale with the cues it came from, in the order of
    their weights, each height cue naming the annotation it was read from (for diagnostics: benchmarks/bench_scale.py
    compares them with the truth); sensor depth has none."""
    _, depth, K, anns = _tables(scene, 1.2)
    res = lift_image(depth, K, anns, [0.0, 1.0, 0.0], LiftConfig(scale={"from_priors": True, "cues": True}))
    est = res.scale_estimate
    assert est.factor == res.depth_scale_factor and est.log_sigma == res.depth_scale_log_sigma
    assert len(est.cues) == len(est.weights) >= 2
    heights = [c for c in est.cues if c.kind.startswith("height")]
    assert sorted(c.ref for c in heights) == sorted(a["annotation_id"] for a in anns)
    assert all(c.ref is None for c in est.cues if not c.kind.startswith("height"))
    assert lift_image(depth, K, anns, [0.0, 1.0, 0.0]).scale_estimate is None


def test_an_image_without_an_up_direction_reads_its_heights_over_the_pitch(scene):
    """Two tables seen from a camera pitched 35 degrees down, no gravity given and none estimated: their heights are
    read along the camera's vertical, where each spans h cos + d sin of it, so taken as level they set the scale high
    (rooms shot 42-44 degrees down: +0.39 to +0.55 in log, docs/benchmarks.md session 43).  Each cue then carries the
    tables' extent along the view over their height and the pitch is read over its prior: the estimate is nearer the
    truth (x1) and its sd covers what is left."""
    from dataclasses import replace

    from lift3d.lift.metric_scale import combine_cues
    from lift3d.lift.scale import cue_config, view_extent_ratio

    down = (0.0, np.cos(np.radians(35.0)), np.sin(np.radians(35.0)))
    boxes = [box_on_floor(-0.6, 2.6, [0.8, TABLE_H, 1.4], 0.3, down=down),
             box_on_floor(0.7, 3.0, [0.9, TABLE_H, 1.6], -0.4, down=down)]
    depth, K, anns, _ = scene(boxes, down=down, wall_dist=6.0, W=320, H=240, categories={0: "table", 1: "table"})
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "prior_std": 0.25, "shared_std": 0.0},
                     gravity={"estimate": False})
    res = lift_image(depth, K, anns, None, cfg)
    assert res.gravity_source == "camera"
    cues = res.scale_estimate.cues
    assert [c.tilt_ratio for c in cues] == [pytest.approx(view_extent_ratio(lookup("table")))] * 2
    level = combine_cues([replace(c, tilt_ratio=0.0) for c in cues], cue_config(cfg))
    err, err_level = np.log(res.depth_scale_factor), np.log(level.factor)
    assert err_level > 0.2 and err_level > 2 * level.log_sigma  # confidently wrong when taken as level
    assert abs(err) < 0.5 * err_level and abs(err) < 2 * res.depth_scale_log_sigma
    # the up direction given: level cues, as before
    given = lift_image(depth, K, anns, list(down), cfg)
    assert all(c.tilt_ratio == 0.0 for c in given.scale_estimate.cues)
    assert abs(np.log(given.depth_scale_factor)) < 0.1


def test_one_tilt_ratio_for_the_image():
    """The cues of an image without an up direction share one extent ratio, the median of their categories': ratios
    of their own would let the pitch be fitted to whatever else sets the cues apart."""
    from dataclasses import replace

    from lift3d.lift.scale import height_cues, view_extent_ratio

    floor_h = 1.3
    obs = [_chair_obs(1.0, floor_h), _chair_obs(1.0, floor_h, bbox=(200, 100, 240, 160)),
           replace(_chair_obs(1.0, floor_h, bbox=(300, 100, 340, 160)), prior=lookup("table"))]
    cfg = LiftConfig(scale={"from_priors": True, "cues": True, "camera_height": False})
    assert [c.tilt_ratio for c in height_cues(obs, floor_h, cfg)] == [0.0] * 3
    chair, table = view_extent_ratio(lookup("chair")), view_extent_ratio(lookup("table"))
    assert chair != table
    assert [c.tilt_ratio for c in height_cues(obs, floor_h, cfg, level_unknown=True)] == [pytest.approx(chair)] * 3
