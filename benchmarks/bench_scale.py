"""Where each image's metric scale goes wrong (model depth, issue 22): the scale cues against the ground truth.

For each scene type and seed, synthetic scenes are generated (``--depth-errors monocular``: the monocular preset,
built as model depth; ``sensor``: the sensor-like errors built as model depth, the ``sensor-as-model`` setting of
``bench_truth.py``) and lifted as ``lift3d build --depth-origin model`` lifts them.  Per image, the **ideal factor**
is the one that would put the lifted boxes at their true distances: the factor used (the depth is divided by it) over
the median ratio of true to lifted centre distance of the matched objects (``lift3d.evaluate.oracle_scale``, as
``oracle_scale_iou`` scales the boxes).  Reported:

* the image factor's log error against the ideal: rms, mean, the stated sd (``depth_scale_log_sigma``), the z-scores'
  sd (below 1: the stated sd is conservative) and the slope of the ideal on the estimate (above 1: the estimate is
  pulled towards the depth source's prior more than the errors warrant);
* the factor recombined (:func:`lift3d.lift.metric_scale.combine_cues`, the lift's own settings) with every two-sided
  height cue of a single prior made exact in its **measurement** (the object's height as lifted, at the ideal scale,
  equal to its true height), exact in its **prior** (the object's true height equal to its category's prior), or
  both; lamps (a floor or a table lamp), partly seen heights (bounds), the camera and the room height as they are.
  What each would gain is what better heights or better priors are worth, and what stays with both is the rest.
  Also with only each image's **shared** measurement error taken out (the median over its cues: under model depth
  mostly the focal length's error, which reads every height by 1 / e against the distances);
* per category, each two-sided height cue's error (log of the height read at the ideal scale over the prior) split
  into the measurement's (and its own part: less the image's shared error) and the prior's, against the spread the
  cue states.

A diagnostic: it reads the truth.  Tune on scratch seeds (5000+), never on the held-out ones (1000+).

Usage: ``python benchmarks/bench_scale.py --scene-types indoor,outdoor --seed 5000,6000 --scenes 30
[--depth-errors monocular|sensor] [--annotations masks|box-only]`` (figures -> docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import ready_to_lift  # noqa: E402

from lift3d.evaluate import oracle_scale  # noqa: E402
from lift3d.lift.metric_scale import combine_cues  # noqa: E402
from lift3d.lift.priors import lookup  # noqa: E402
from lift3d.lift.scale import cue_config  # noqa: E402
from lift3d.pipeline.run import blas_threads  # noqa: E402
from lift3d.synth import CorruptionConfig, generate  # noqa: E402

RECOMBINED = ("as lifted", "no shared error", "exact measurements", "exact priors", "both exact")


def lift_scenes(root: Path, depth_origin: str = "model") -> tuple[list[tuple], object]:
    """((LiftResult, the image's ground truth) of every image of the generated scenes in ``root``, the LiftConfig
    they were lifted with)."""
    gt = {im["image_id"]: im for im in json.loads((root / "gt_boxes.json").read_text())["images"]}
    recs, lift = ready_to_lift(root / "annotations.json", depth_origin)
    out = []
    with blas_threads(lift):
        for r in recs:
            out.append((lift.lift_record(r), gt[r["image_id"]]))
    return out, lift.config


def ideal_log_factor(res, truth: dict) -> float | None:
    """log of the factor that puts the image's lifted boxes at their true distances: the depth is divided by the
    factor, so the factor used over :func:`lift3d.evaluate.oracle_scale` (true over lifted distance) of the matched
    objects."""
    by_id = {o["annotation_id"]: o for o in truth["objects"]}
    k = oracle_scale([(o, by_id[o["annotation_id"]]) for o in res.objects if o["annotation_id"] in by_id])
    return None if k is None else float(np.log(res.depth_scale_factor) - np.log(k))


def cue_errors(cue, truth_by_id: dict, ideal: float) -> tuple | None:
    """(category, total, measurement, prior) log errors of a two-sided height cue of one prior, or None."""
    if not cue.kind == "height" or cue.lower or cue.modes or cue.ref not in truth_by_id:
        return None
    t = truth_by_id[cue.ref]
    prior = lookup(t["category"])
    if prior is None:
        return None
    total = cue.log_ratio - ideal
    prior_err = float(np.log(t["dimensions"][1] / prior.h))
    return t["category"], total, total - prior_err, prior_err


def analyse(lifted: list[tuple], cfg) -> dict:
    mcfg = cue_config(cfg)
    img, rec = [], {k: [] for k in RECOMBINED}
    per_cat = defaultdict(list)
    for res, truth in lifted:
        est = res.scale_estimate
        ideal = ideal_log_factor(res, truth)
        if est is None or ideal is None:
            continue
        img.append((float(np.log(res.depth_scale_factor)), ideal, res.depth_scale_log_sigma))
        by_id = {o["annotation_id"]: o for o in truth["objects"]}
        errs = [cue_errors(c, by_id, ideal) for c in est.cues]
        # the image's shared measurement error: the median over its cues (a focal length off by e reads every height
        # by 1 / e against the distances; a range exponent or field that the cues' depths share)
        shared = float(np.median([e[2] for e in errs if e is not None])) if any(e is not None for e in errs) else 0.0
        variants = {k: [] for k in RECOMBINED}
        for c, e in zip(est.cues, errs):
            if e is not None:
                per_cat[e[0]].append((e[1], e[2], e[3], c.sigma, e[2] - shared))
            # the error each variant leaves the cue (None: the cue as it is)
            left = dict.fromkeys(RECOMBINED) if e is None else {
                "as lifted": None, "no shared error": e[1] - shared, "exact measurements": e[3], "exact priors": e[2],
                "both exact": 0.0}
            for k in RECOMBINED:
                variants[k].append(c if left[k] is None else replace(c, log_ratio=ideal + left[k]))
        for k in RECOMBINED:
            rec[k].append(float(np.log(combine_cues(variants[k], mcfg).factor)) - ideal)
    a = np.array(img).reshape(-1, 3)
    err = a[:, 0] - a[:, 1]
    slope = float(np.polyfit(a[:, 0], a[:, 1], 1)[0]) if len(a) > 2 else float("nan")
    return {
        "images": len(a), "rms": float(np.sqrt(np.mean(err ** 2))), "mean": float(err.mean()),
        "stated_rms": float(np.sqrt(np.mean(a[:, 2] ** 2))), "z_sd": float(np.std(err / a[:, 2])), "slope": slope,
        "recombined_rms": {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in rec.items()},
        "categories": {k: summarise(v) for k, v in sorted(per_cat.items(), key=lambda kv: -len(kv[1]))},
    }


def summarise(rows: list) -> dict:
    r = np.array(rows)
    rms = np.sqrt(np.mean(r ** 2, axis=0))
    q = np.percentile(r[:, 1], [10, 50, 90])
    return {"n": len(r), "total_rms": float(rms[0]), "meas_rms": float(rms[1]), "meas_p10_50_90": [float(x) for x in q],
            "own_meas_rms": float(rms[4]), "prior_rms": float(rms[2]), "prior_mean": float(r[:, 2].mean()),
            "stated_rms": float(rms[3])}


def report(name: str, s: dict) -> str:
    rc = s["recombined_rms"]
    lines = [f"### {name}: {s['images']} images",
             f"image factor, log error: rms {s['rms']:.4f}, mean {s['mean']:+.4f}; stated sd rms {s['stated_rms']:.4f}, "
             f"z-scores' sd {s['z_sd']:.2f}; slope of the ideal on the estimate {s['slope']:.3f}",
             "", "| recombined | " + " | ".join(RECOMBINED) + " |", "|---" * (len(RECOMBINED) + 1) + "|",
             "| rms log error | " + " | ".join(f"{rc[k]:.4f}" for k in RECOMBINED) + " |", "",
             "| category | cues | total rms | measurement rms | its own part | measurement p10 / p50 / p90 "
             "| prior rms (mean) | stated |",
             "|---|---|---|---|---|---|---|---|"]
    for cat, c in s["categories"].items():
        p = " / ".join(f"{x:+.3f}" for x in c["meas_p10_50_90"])
        lines.append(f"| {cat} | {c['n']} | {c['total_rms']:.3f} | {c['meas_rms']:.3f} | {c['own_meas_rms']:.3f} | {p} | "
                     f"{c['prior_rms']:.3f} ({c['prior_mean']:+.3f}) | {c['stated_rms']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", default="5000", help="seed(s), comma-separated; their scenes are pooled per scene type")
    ap.add_argument("--scenes", type=int, default=30)
    ap.add_argument("--scene-types", default="indoor,outdoor")
    ap.add_argument("--depth-errors", choices=("monocular", "sensor"), default="monocular")
    ap.add_argument("--annotations", choices=("masks", "box-only"), default="masks")
    ap.add_argument("--json", type=Path, help="also write every figure as JSON here")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seed.split(",")]
    corruption = CorruptionConfig.monocular() if args.depth_errors == "monocular" else CorruptionConfig()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for st in args.scene_types.split(","):
            lifted, cfg = [], None
            for seed in seeds:
                root = Path(tmp) / f"{st}_{seed}"
                generate(root, args.scenes, seed, masks=args.annotations == "masks", corruption=corruption,
                         scene_type=st)
                res, cfg = lift_scenes(root)
                lifted += res
            name = f"{st}, {args.annotations}, {args.depth_errors} errors as model depth, seeds {args.seed}"
            out[name] = analyse(lifted, cfg)
            print(report(name, out[name]) + "\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
