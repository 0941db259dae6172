"""Truth checking against ground-truth boxes: exact boxes are all true, a global scale error breaks exactly
the metric and box answers, referents that change under the truth are caught."""

import copy
import json
import re

import numpy as np
import pytest

from lift3d.qa import QAConfig, generate_qa
from lift3d.synth import make_sample
from lift3d.truth import BOX_IOU_MIN, check_truth, gt_by_image, truth_image, truth_report


def _image(seed, scale=1.0):
    smp = make_sample(seed, 0, width=320, height=240)
    objs = copy.deepcopy(smp.objects)
    for o in objs:
        o["center_cam"] = [scale * v for v in o["center_cam"]]
        o["dimensions"] = [scale * v for v in o["dimensions"]]
    image = {"image_id": seed, "width": 320, "height": 240, "K": smp.scene.K.reshape(-1).tolist(),
             "gravity": smp.scene.down.tolist(), "objects": objs}
    gt = {"image_id": seed, "gravity": smp.scene.down.tolist(), "objects": smp.objects}
    rows, _ = generate_qa(image, objs, QAConfig(), seed)
    for r in rows:
        r["image_id"] = seed
    return image, gt, rows


@pytest.fixture(scope="module")
def scenes():
    return {s: {k: _image(s, k) for k in (1.0, 1.6)} for s in range(6)}


def _report(scenes, k):
    rows, images, gt = [], {}, {}
    for s, v in scenes.items():
        image, g, rr = v[k]
        rows += rr
        images[s] = image
        gt[s] = g
    return truth_report(rows, images, gt_by_image({"images": list(gt.values())}))


def test_exact_boxes_are_all_true(scenes):
    rep = _report(scenes, 1.0)
    assert rep.n > 100 and rep.n_true == rep.n, rep.reasons
    assert {"numeric_m", "yes_no", "boxes"} <= set(rep.by_form)
    assert min(rep.box_ious) > 0.99  # answers are printed to 1 cm


def test_a_global_scale_error_breaks_metric_and_box_answers_only(scenes):
    rep = _report(scenes, 1.6)
    by = rep.shares("form")
    # relations, orders and counts do not change under a uniform scale about the camera
    for f in ("yes_no", "choice", "open"):
        if f in by:
            assert by[f][0] == 1.0, f
    assert by["numeric_m"][0] < 0.2  # 60 % too large: outside +/-25 % (except values within 2.5 cm of 0)
    assert by["boxes"][0] < 0.5 and rep.reasons["box"] > 0 and rep.reasons["value"] > 0
    d = rep.as_dict()
    assert d["questions"] == rep.n and 0 < d["share_true"] < 1 and json.dumps(d)


def test_numeric_tolerance_and_box_threshold_and_referent(scenes):
    image, gt, rows = scenes[0][1.0]
    truth = truth_image(image, gt)
    num = next(r for r in rows if r["question_type"] in ("1p_height", "1p_width", "1p_length"))
    exact = float(num["answer_value"])
    for f, ok in ((1.2, True), (0.8, True), (1.3, False), (0.7, False)):
        assert check_truth(dict(num, answer_value=str(round(exact * f, 4))), image, truth).true is ok
    box = next(r for r in rows if r["answer_form"] == "boxes" and len(r["object_ids"]) == 1)
    rec = json.loads(box["answer_value"])[0]
    for shift, ok in ((0.0, True), (5.0, False)):
        moved = dict(rec, center_cam=[rec["center_cam"][0] + shift, *rec["center_cam"][1:]])
        v = check_truth(dict(box, answer_value=json.dumps([moved])), image, truth)
        assert v.true is ok and (v.error >= BOX_IOU_MIN) is ok
    # swap the true positions of two objects of a pair question: the lifted "left" answer becomes false
    lr = next((r for r in rows if r["question_type"] == "2p_left_yn"), None)
    if lr is not None:
        a, b = lr["object_ids"]
        g2 = copy.deepcopy(gt)
        ga = next(o for o in g2["objects"] if o["annotation_id"] == a)
        gb = next(o for o in g2["objects"] if o["annotation_id"] == b)
        ga["center_cam"], gb["center_cam"] = gb["center_cam"], ga["center_cam"]
        assert not check_truth(lr, image, truth_image(image, g2)).true


def test_missing_ground_truth_is_counted_not_checked(scenes):
    image, gt, rows = scenes[1][1.0]
    gt2 = dict(gt, objects=gt["objects"][1:])
    rep = truth_report(rows, {1: image}, {1: gt2})
    assert rep.n == 0 and rep.missing_gt == len(rows)
    with pytest.raises(KeyError):
        truth_image(image, gt2)
    assert np.isnan(rep.share_true)


def test_bench_truth_pools_seeds_over_all_their_images(load_benchmark):
    """benchmarks/bench_truth.py --seed 1000,1100: one row per combination, the mean IoU over all the seeds' objects
    with its standard error over all their images, counts summed, the truth reports merged."""
    from lift3d.evaluate import image_cluster_se
    from lift3d.truth import TruthReport

    bt = load_benchmark("bench_truth")

    def row(seed, image_iou, questions):
        n = sum(c for _, c in image_iou)
        return {"scene_type": "indoor", "annotation": "masks", "mode": "monocular", "seeds": [seed],
                "images": len(image_iou), "n_gt": n, "mean_iou": sum(s for s, _ in image_iou) / n,
                "mean_iou_se": image_cluster_se(*zip(*image_iou)),
                "mean_iou_by_seed": [sum(s for s, _ in image_iou) / n],
                "iou_oracle_scale": 0.5 + seed % 2 * 0.1, "iou_oracle_range": 0.6, "iou_at_25": 0.7,
                "questions": questions, "q_per_image": questions / len(image_iou), "build_s": 1.0,
                "image_iou": image_iou}

    a, b = row(1000, [[1.2, 3], [0.4, 2]], 30), row(1001, [[2.0, 4], [0.1, 1], [0.9, 2]], 45)
    rep = TruthReport(n=75, n_true=74)
    p = bt.pool_seeds([a, b], rep)
    assert p["seeds"] == [1000, 1001] and p["images"] == 5 and p["n_gt"] == 12 and p["questions"] == 75
    assert p["mean_iou"] == pytest.approx(4.6 / 12)  # over objects, not the mean of the two seeds' means
    assert p["mean_iou_se"] == pytest.approx(image_cluster_se([1.2, 0.4, 2.0, 0.1, 0.9], [3, 2, 4, 1, 2]))
    assert p["iou_oracle_scale"] == pytest.approx((5 * 0.5 + 7 * 0.6) / 12)  # weighted by objects
    assert p["mean_iou_by_seed"] == [a["mean_iou"], b["mean_iou"]]
    assert p["share_true"] == pytest.approx(74 / 75)
    assert bt.pool_seeds([a], rep) is a  # one seed: its own row


def test_bench_truth_monocular_errors_override_the_preset_as_lift3d_synth_does(capsys, load_benchmark):
    """--monocular-errors: lift3d synth's depth-error flags override the monocular preset one by one (an unseen
    setting); anything else is refused with a one-line reason and exit status 2, before any scene is built."""
    from lift3d.errors import UserError
    from lift3d.synth import CorruptionConfig

    bt = load_benchmark("bench_truth")
    assert bt.monocular_errors("") == CorruptionConfig.monocular()
    c = bt.monocular_errors("--soft-edge-px 8 --range-exponent 0.7 1.15 --scale-sigma 0.3 --gravity write")
    assert c == CorruptionConfig.monocular(soft_edge_px=8, range_exponent=(0.7, 1.15), scale_log_sigma=0.3,
                                           write_gravity=True)
    assert c.focal_sigma == CorruptionConfig.monocular().focal_sigma  # the rest stays the preset's
    assert bt.one_cause("soft-edges", c).soft_edge_px == 8 and bt.one_cause("soft-edges", c).focal_sigma == 0.0
    for bad, why in [("--scenes 3", "not --scenes"), ("--soft-edge-px x", "invalid int"),
                     ("--focal-sigma 1.5", "must be in [0, 1)"), ("--range-exponent 1.1 0.9", "0 < LO <= HI"),
                     ("--soft-edge-px '8", "quotation")]:
        with pytest.raises(UserError, match=re.escape(why)) as e:
            bt.monocular_errors(bad)
        assert "\n" not in str(e.value)
    assert bt.main(["--monocular-errors", "--depth-errors sensor", "--scenes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench_truth: --monocular-errors takes") and "\n" not in err


def test_bench_truth_scene_ranges_reach_the_generator(capsys, load_benchmark, tmp_path):
    """--scene: the scene sampler's ranges for unseen scenes, applied to the scene types that have them (a build of
    one long-lens scene reads its camera from them); one no requested scene type has, or a malformed one, is refused
    with a one-line reason and exit status 2, before any scene is built."""
    bt = load_benchmark("bench_truth")
    row, rep = bt.run_one(tmp_path, "outdoor", "box-only", "sensor", 1000, 1, 320, 240,
                          scene={"hfov_deg": (30.0, 31.0), "n_floor_objects": (1, 1), "n_objects": (2, 2)})
    cam = json.loads((tmp_path / "data-outdoor-box-only-sensor" / "gt_boxes.json").read_text())["images"][0]["camera"]
    assert 30.0 <= cam["hfov_deg"] <= 31.0 and row["images"] == 1 and rep.n == row["questions"]
    for args, why in [(["--scene", "n_objects=3,4", "--scene-types", "indoor"], "only outdoor scenes have it"),
                      (["--scene", "hfov=30,40"], "--scene: unknown scene parameter 'hfov'")]:
        assert bt.main([*args, "--scenes", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("bench_truth: ") and why in err and "\n" not in err
