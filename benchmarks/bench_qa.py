"""QA benchmarks: generation speed (one core) and lifted-vs-ground-truth answer agreement per type.

    .venv/bin/python benchmarks/bench_qa.py [--scenes 60] [--speed-images 2000]

Agreement: synthetic scenes (lift3d.synth.make_sample: exact boxes + corrupted depth + masks) are lifted
with lift3d.lift.lift_image; questions are generated from the *lifted* boxes; each question is then
re-derived (lift3d.validate.derive) on the *ground-truth* boxes of the same annotation ids.  A question
agrees when the GT answer equals it (yes/no, choice, order, clock, count), is within +/-25 % (lengths),
or, for boxes, every answer box has 3D IoU >= 0.25 with its GT box.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lift3d.qa import QAConfig, generate_qa  # noqa: E402
from lift3d.validate import ImageView, Mismatch, derive  # noqa: E402


def speed(n_images: int) -> tuple[int, float]:
    from lift3d.geometry.boxes import normalize, rotation_from_yaw
    from lift3d.geometry.camera import K_from_fov

    rng = np.random.default_rng(0)
    cats = ["chair", "table", "lamp", "sofa", "bed", "tv", "person", "cup", "plant", "shelf"]
    K = K_from_fov(640, 480, 60).reshape(9).tolist()
    data = []
    for g in range(n_images):
        down = normalize(np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.1, 3))
        objs = []
        for k in range(int(rng.integers(2, 15))):
            yaw = float(rng.uniform(-3, 3))
            objs.append(dict(annotation_id=g * 100 + k, category=cats[int(rng.integers(0, 10))], bbox2d=[0, 0, 1, 1],
                             center_cam=[rng.uniform(-2, 2), rng.uniform(-0.5, 1.2), rng.uniform(1.5, 8)],
                             dimensions=list(rng.uniform(0.2, 2, 3)), R_cam=rotation_from_yaw(yaw, down).reshape(9).tolist(),
                             yaw=yaw, quality=float(rng.uniform(0.4, 1)), flags=[], num_points=100, mask_source="x"))
        data.append((dict(image_id=g, width=640, height=480, K=K, gravity=down.tolist(), file_name=""), objs))
    cfg = QAConfig()
    t0 = time.process_time()
    n = 0
    for g, (img, objs) in enumerate(data):
        rows, _ = generate_qa(img, objs, cfg, g)
        n += len(rows)
    return n, time.process_time() - t0


def lifted_scene(seed: int, idx: int):
    """Synthetic scene ``idx`` of ``seed`` (exact boxes, corrupted depth, masks) and its lifted boxes."""
    from lift3d.lift import lift_image
    from lift3d.synth.dataset import make_sample

    s = make_sample(seed, idx)
    K = np.asarray(s.scene.K if hasattr(s.scene, "K") else s.scene.camera.K, dtype=float)
    down = getattr(s.scene, "gravity", None)
    if down is None and hasattr(s.scene, "down"):
        down = s.scene.down
    anns = [dict(annotation_id=o["annotation_id"], category=o["category"], bbox2d=o["bbox2d"],
                 mask=s.masks[o["annotation_id"]]) for o in s.objects]
    res = lift_image(s.depth, K, anns, None if down is None else list(map(float, down)), image_id=s.image_id)
    return s, K, down, anns, res


def agreement(n_scenes: int, seed: int):
    from lift3d.geometry.iou import iou_3d

    per_type = defaultdict(Counter)
    skipped = Counter()
    cfg = QAConfig(max_per_image=40, max_per_type_per_image=3)
    n_obj = n_lift = 0
    for idx in range(n_scenes):
        s, K, down, anns, res = lifted_scene(seed, idx)
        n_obj += len(anns)
        n_lift += len(res.objects)
        W, H = s.depth.shape[1], s.depth.shape[0]
        by_id = {o["annotation_id"]: o for o in s.objects}
        rejected = sorted({str(by_id[r[0]]["category"]) for r in res.rejects if r[0] in by_id})
        image = dict(image_id=s.image_id, width=W, height=H, K=K.reshape(9).tolist(), gravity=res.gravity, file_name="",
                     rejected_categories=rejected)  # as the pipeline passes it (lift3d.qa.stage)
        rows, st = generate_qa(image, res.objects, cfg, idx)
        skipped.update(st["skipped"])
        lifted_ids = {o["annotation_id"] for o in res.objects}
        gt_objs = [dict(o) for o in s.objects if o["annotation_id"] in lifted_ids]
        gt_image = dict(image, gravity=None if down is None else list(map(float, down)), objects=gt_objs)
        view = ImageView(gt_image)
        for r in rows:
            t = r["question_type"]
            try:
                exp = derive(r, gt_image, view)
            except Mismatch:
                per_type[t]["disagree"] += 1  # e.g. a referent that is not unique/true on the GT boxes
                continue
            if r["answer_form"] == "numeric" and r["answer_unit"] == "m":
                ok = abs(float(r["answer_value"]) - exp) <= 0.25 * exp
            elif r["answer_form"] == "boxes":
                recs = json.loads(r["answer_value"])
                ok = all(iou_3d((np.asarray(g["center_cam"]), np.asarray(g["dimensions"]),
                                 np.asarray(g["R_cam"]).reshape(3, 3)),
                                (np.asarray(o["center_cam"]), np.asarray(o["dimensions"]),
                                 np.asarray(o["R_cam"]).reshape(3, 3))) >= 0.25
                         for g, o in zip(exp, [next(x for x in res.objects if x["annotation_id"] == a)
                                               for a in r["object_ids"]]))
                _ = recs
            else:
                ok = exp == r["answer_value"]
            per_type[t]["agree" if ok else "disagree"] += 1
    return per_type, n_obj, n_lift, skipped


BOX_FEATURES = ("bias", "quality", "log_distance", "log_min_dim", "log_max_dim", "occluded", "yaw_unreliable",
                "on_floor", "truncated")


def calibrate(n_scenes: int, seed: int) -> None:
    """Logistic fit of "lifted box has 3D IoU >= 0.25 with the true box" on QAConfig.box_ok_coef's features."""
    from lift3d.geometry.iou import iou_3d

    X, y = [], []
    for idx in range(n_scenes):
        s, K, down, anns, res = lifted_scene(seed, idx)
        gt = {o["annotation_id"]: o for o in s.objects}
        for o in res.objects:
            g = gt[o["annotation_id"]]
            box = [(np.asarray(b["center_cam"]), np.asarray(b["dimensions"]), np.asarray(b["R_cam"]).reshape(3, 3))
                   for b in (o, g)]
            D = np.asarray(o["dimensions"])
            fl = set(o["flags"])
            X.append([1.0, o["quality"], np.log(np.linalg.norm(o["center_cam"])), np.log(D.min()), np.log(D.max())]
                     + [float(f in fl) for f in BOX_FEATURES[5:]])
            y.append(float(iou_3d(*box) >= 0.25))
    X, y = np.asarray(X), np.asarray(y)
    w = np.zeros(X.shape[1])
    for _ in range(50):  # Newton steps, L2 = 1
        p = 1 / (1 + np.exp(-X @ w))
        w -= np.linalg.solve((X.T * (p * (1 - p))) @ X + np.eye(len(w)), X.T @ (p - y) + w)
    p = 1 / (1 + np.exp(-X @ w))
    print(f"{len(y)} lifted objects, {y.mean():.1%} with IoU >= 0.25")
    print("box_ok_coef = " + json.dumps({k: round(float(v), 2) for k, v in zip(BOX_FEATURES, w)}))
    for t in (0.85, 0.9, 0.95):
        m = p >= t
        print(f"  p >= {t}: {m.sum()} objects, {y[m].mean() if m.any() else float('nan'):.1%} with IoU >= 0.25")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--speed-images", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibrate", action="store_true",
                    help="fit QAConfig.box_ok_coef on the lifted scenes (use the tuning scenes: --seed 0 --scenes 100)")
    a = ap.parse_args()
    n, dt = speed(a.speed_images)
    print(f"speed: {n} questions from {a.speed_images} images in {dt:.2f} s CPU = {n / dt:,.0f} questions/s (one core)")
    if a.calibrate:
        calibrate(a.scenes, a.seed)
        return
    per_type, n_obj, n_lift, skipped = agreement(a.scenes, a.seed)
    print(f"\nagreement: {a.scenes} synthetic scenes, {n_obj} annotations, {n_lift} lifted")
    print(f"{'question_type':28s} {'n':>6s} {'agree':>7s}")
    tot = Counter()
    for t in sorted(per_type):
        c = per_type[t]
        m = c["agree"] + c["disagree"]
        tot.update(c)
        print(f"{t:28s} {m:6d} {c['agree'] / m:7.1%}")
    m = tot["agree"] + tot["disagree"]
    print(f"{'ALL':28s} {m:6d} {tot['agree'] / max(m, 1):7.1%}")
    low = [t for t in sorted(per_type) if per_type[t]["agree"] + per_type[t]["disagree"] < 30]
    if low:
        print(f"types with < 30 questions (percentages not meaningful): {', '.join(low)}")
    print("skipped draws by reason: " + ", ".join(f"{k} {v}" for k, v in skipped.most_common()))


if __name__ == "__main__":
    main()
