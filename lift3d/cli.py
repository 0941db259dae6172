"""The ``lift3d`` command line. Every user error is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap

from lift3d.errors import UserError


def _fmt(example: str) -> str:
    return "example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  ")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lift3d",
        description="Turn 2D-annotated images + metric depth into 3D grounding and spatial-QA corpora.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_fmt("lift3d synth --scenes 32 --seed 0 --out out/synth\n"
                    "lift3d build --annotations out/synth/annotations.json --images out/synth --depth dataset --out out/sample"),
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_, example):
        return sub.add_parser(name, help=help_, description=help_, epilog=_fmt(example),
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    s = add("synth", "Generate synthetic RGB-D indoor scenes with exact 3D ground truth (COCO-3D input).",
            "lift3d synth --scenes 32 --seed 0 --out out/synth")
    s.add_argument("--scenes", type=int, default=32, help="number of scenes (default 32)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--start-id", type=int, default=0, metavar="N",
                   help="first scene index = image id (default 0); scenes depend on (seed, index) only, so "
                        "ranges that do not overlap are disjoint sets of scenes (e.g. a validation split)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=480)
    s.add_argument("--box-only", action="store_true", help="omit segmentation masks (box-only annotations)")
    s.add_argument("--mask-bleed", type=int, default=0, metavar="PX", help="dilate masks by PX pixels (default 0)")
    s.add_argument("--clean", action="store_true", help="write uncorrupted depth (no simulated depth error)")
    s.add_argument("--scene-type", choices=["indoor", "outdoor"], default="indoor",
                   help="indoor rooms with furniture (default) or outdoor streets/parks (people, cars, trucks, "
                        "bicycles, benches, dogs, fire hydrants, poles at 3-30 m; camera 1.2-1.8 m above ground)")
    s.add_argument("--scene", action="append", default=[], metavar="NAME=LO,HI",
                   help="a range the scene sampler draws from, in place of its default (repeatable), e.g. "
                        "--scene hfov_deg=30,45 (a long lens), --scene cam_height=2.0,2.6 --scene pitch_deg=20,45 "
                        "(steep views), --scene n_objects=14,24 (a crowded street); the names are the fields of "
                        "lift3d.synth.scene.SceneParams / OutdoorParams (docs/synthetic.md)")
    m = s.add_argument_group(
        "depth errors",
        "--depth-errors sensor (default): a depth sensor's errors (+/-5 % global scale, +/-3 % smooth field,\n"
        "flying pixels, noise, holes), the true K and gravity written. monocular: a metric depth network's errors\n"
        "on an unfamiliar image (the options below, defaults in parentheses); the written K has the focal error and\n"
        "no gravity is written (gt_boxes.json keeps the truth). The options override the monocular preset\n"
        "(docs/synthetic.md).")
    m.add_argument("--depth-errors", choices=["sensor", "monocular"], default="sensor", help="error mode")
    m.add_argument("--scale-sigma", type=float, default=None, metavar="S",
                   help="per-image log-normal depth scale error exp(N(0, S)) (default 0.15)")
    m.add_argument("--scale-failure-prob", type=float, default=None, metavar="P",
                   help="probability of a whole-image scale failure (default 0.04)")
    m.add_argument("--scale-failure-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="factor of a failure, multiplied or divided (default 1.4 2.0)")
    m.add_argument("--range-exponent", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="depth-range exponent gamma around the median depth m: z' = m (z/m)^gamma (default 0.85 1.05)")
    m.add_argument("--field-amplitude", type=float, default=None, metavar="A",
                   help="max of the smooth multiplicative depth field (default 0.05)")
    m.add_argument("--soft-edge-px", type=int, default=None, metavar="K",
                   help="soft edges: block-average K x K + bilinear upsampling, ramps ~2K px wide (default 4; 0 off)")
    m.add_argument("--focal-sigma", type=float, default=None, metavar="S",
                   help="log-normal error of the written focal length (default 0.08)")
    m.add_argument("--gravity", choices=["write", "omit"], default=None,
                   help="write the gravity vector to annotations.json (default: sensor write, monocular omit)")

    b = add("build", "Build the corpus: decode -> depth -> lift -> QA -> sharded Parquet + dataset card.",
            "lift3d build --annotations out/synth/annotations.json --images out/synth --depth dataset --out out/sample")
    b.add_argument("--config", default=None, metavar="YAML",
                   help="run config (pipelines/*.yaml): keys are these options' names; flags override it")
    b.add_argument("--annotations",
                   help="a manifest folder (lift3d ingest) or a COCO instances JSON (with the optional COCO-3D fields)")
    b.add_argument("--images", help="root folder that file_name and depth_file are relative to "
                                    "(default for a manifest: the root given to lift3d ingest)")
    b.add_argument("--out", help="output folder or fsspec URI")
    b.add_argument("--depth", default="dataset",
                   help="depth backend: dataset | da2-indoor-small | ... | depth-pro | an HF id or local dir")
    b.add_argument("--depth-origin", choices=["sensor", "model"], default="sensor",
                   help="--depth dataset: where the depth files came from. sensor (default): metric, never "
                        "rescaled (see --sensor-scale-sd); model: cached monocular-model depth (MoGe, Depth Pro, "
                        "Depth Anything, WildDet3D-Data), treated as model depth (scale from size priors, "
                        "depth-field correction)")
    b.add_argument("--sensor-scale-sd", type=float, default=0.0,
                   help="--depth dataset, sensor: log sd of the depth files' metric scale when their calibration is "
                        "poor (e.g. 0.03); the scale is then fused with the size priors and the camera height and "
                        "its sd written to depth_scale_log_sigma. 0 (default): metric, never rescaled")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda (for model backends)")
    b.add_argument("--depth-preprocess", choices=["auto", "torch", "processor"], default="auto",
                   help="Depth Anything resizing: on the device (auto/torch, fastest) or the HF processor on CPU "
                        "workers (processor)")
    b.add_argument("--masks", choices=["auto", "dataset", "sam", "depth"], default="auto",
                   help="object masks: dataset segmentation, a box-prompted segmenter, or depth separation "
                        "(auto: dataset > segmenter when its weights are available > depth)")
    b.add_argument("--segmenter", default="sam2.1-hiera-base-plus",
                   help="segmenter for --masks sam/auto: sam-vit-base, sam-hq-vit-base, "
                        "sam2.1-hiera-{tiny,small,base-plus,large}, edgetam, an HF id or a local dir")
    b.add_argument("--split", default="train", help="split name (default train)")
    b.add_argument("--seed", type=int, default=0, help="seed for question sampling (default 0)")
    b.add_argument("--executor", choices=["local", "ray"], default=os.environ.get("LIFT3D_EXECUTOR", "ray"),
                   help="ray (default; starts a local Ray instance unless --ray-address/RAY_ADDRESS) or local")
    b.add_argument("--ray-address", default=None, help="join an existing Ray cluster (else RAY_ADDRESS)")
    b.add_argument("--images-per-unit", type=int, default=64, help="images per work unit (default 64)")
    b.add_argument("--rows-per-shard", type=int, default=20000, help="rows per output shard (default 20000)")
    b.add_argument("--max-shard-mb", type=float, default=None,
                   help="also cap shards by size: more shards when the staged data exceeds this many MB each")
    b.add_argument("--keep-depth", action="store_true", help="keep depth maps (uint16 PNG, mm) in the objects rows")
    b.add_argument("--embed-images", action="store_true",
                   help="put the images into the corpus: objects.image and qa.images (one per image placeholder "
                        "in messages), for TRL's SFTTrainer and the Hub (docs/hub.md)")
    b.add_argument("--embed-images-format", choices=["original", "jpeg", "png"], default="original",
                   help="original: the source files' bytes (default); jpeg: re-encoded at --jpeg-quality; png")
    b.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    b.add_argument("--source-name", default="", help="source dataset name for the dataset card")
    b.add_argument("--source-license", default="", help="source dataset licence for the dataset card")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted build (finished units are skipped)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing split in --out")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

    ig = add("ingest", "Stream annotation files into a sharded Parquet manifest that lift3d build reads.",
             "lift3d ingest --format objects365 --annotations zhiyuan_objv2_train.json --images o365/ --out o365.manifest\n"
             "lift3d ingest --format openimages --annotations oidv7-train-annotations-bbox.csv "
             "oidv7-class-descriptions-boxable.csv --images oi/train --out oi.manifest")
    ig.add_argument("--format", required=True, choices=("coco", "lvis", "objects365", "openimages", "refcoco"),
                    help="source format")
    ig.add_argument("--annotations", required=True, nargs="+", metavar="PATH",
                    help="annotation file(s): one JSON (coco, lvis, objects365); the boxes CSV plus class descriptions "
                         "(and optional image-labels / segmentation CSVs) for openimages; instances JSON plus "
                         "refs(<split_by>).p or .json for refcoco")
    ig.add_argument("--images", default=None, metavar="ROOT", help="image root (recorded; OpenImages sizes are read here)")
    ig.add_argument("--out", required=True, metavar="MANIFEST", help="manifest folder to write")
    ig.add_argument("--rows-per-shard", type=int, default=20000, help="images per manifest shard (default 20000)")
    ig.add_argument("--tmp-dir", default=None, help="folder for the spill files (default: the system temp dir)")
    ig.add_argument("--overwrite", action="store_true", help="replace an existing manifest")

    v = add("validate", "Re-derive every answer from the stored boxes and check balance and accounting.",
            "lift3d validate out/sample")
    v.add_argument("out", help="a built dataset folder")

    e = add("eval", "3D IoU / AP3D of built boxes against ground truth (synth gt_boxes.json or Omni3D JSON).",
            "lift3d eval --pred out/sample --gt out/synth/gt_boxes.json")
    e.add_argument("--pred", required=True, help="a built dataset folder")
    e.add_argument("--gt", required=True, help="ground-truth JSON")
    e.add_argument("--json", default=None, help="also write the full result as JSON here")

    d = add("eval-depth", "AbsRel, RMSE and delta1 of a depth backend against sensor depth (COCO-3D input).",
            "lift3d eval-depth --annotations ../shared/data/nyu_depth/annotations.json "
            "--images ../shared/data/nyu_depth --depth da2-indoor-small")
    d.add_argument("--annotations", required=True)
    d.add_argument("--images", required=True)
    d.add_argument("--depth", required=True, help="depth backend (short name, HF id or local dir)")
    d.add_argument("--device", default="auto")

    _BUILD_DEFAULTS.update({act.dest: act.default for act in b._actions})

    sc = add("schema", "Export the output contract (JSON Schema + field reference).", "lift3d schema --export schemas")
    sc.add_argument("--export", required=True, metavar="DIR")

    from lift3d.viz.cli import register as register_viz

    register_viz(sub, add)

    from lift3d.train.cli import register as register_train

    COMMANDS.update(register_train(sub, add))
    return p


def _cmd_synth(a) -> int:
    from lift3d.synth import CorruptionConfig, generate

    if a.scenes < 1:
        raise UserError("--scenes must be at least 1")
    if a.start_id < 0:
        raise UserError("--start-id must be >= 0")
    corruption = _corruption_from_args(a, CorruptionConfig)
    params = scene_params_from_args(a.scene, a.scene_type)
    path = generate(a.out, a.scenes, a.seed, width=a.width, height=a.height, masks=not a.box_only,
                    corruption=corruption, mask_bleed_px=a.mask_bleed, scene_type=a.scene_type, start_id=a.start_id,
                    scene_params=params)
    print(f"wrote {a.scenes} scenes: {path}")
    return 0


def scene_params_from_args(items, scene_type: str):
    """``lift3d synth --scene`` overrides as the sampler's ranges for ``scene_type`` (None without any); a
    ``UserError`` for a malformed or unknown one, or one that ``scene_type``'s sampler does not have."""
    from lift3d.synth.scene import parse_scene_overrides, scene_params, scene_types_with

    if not items:
        return None
    try:
        overrides = parse_scene_overrides(items)
    except ValueError as e:
        raise UserError(f"--scene: {e}") from None
    for name in overrides:
        if scene_type not in scene_types_with(name):
            raise UserError(f"--scene {name}: {scene_type} scenes have no such range "
                            f"({', '.join(scene_types_with(name))} only)")
    return scene_params(scene_type, overrides)


_MONO_FLAGS = {"scale_sigma": "scale_log_sigma", "scale_failure_prob": "scale_failure_prob",
               "scale_failure_range": "scale_failure_range", "range_exponent": "range_exponent",
               "field_amplitude": "field_amplitude", "soft_edge_px": "soft_edge_px", "focal_sigma": "focal_sigma"}


def _corruption_from_args(a, CorruptionConfig):
    """The depth corruption of ``lift3d synth``: --clean, the sensor default, or the monocular preset + overrides."""
    given = {field: getattr(a, flag) for flag, field in _MONO_FLAGS.items() if getattr(a, flag) is not None}
    if a.gravity is not None:
        given["write_gravity"] = a.gravity == "write"
    if a.clean:
        if given or a.depth_errors != "sensor":
            raise UserError("--clean writes exact depth: it takes no --depth-errors option")
        return CorruptionConfig.none()
    if a.depth_errors == "sensor":
        if set(given) - {"write_gravity", "field_amplitude"}:
            flags = sorted("--" + f.replace("_", "-") for f, v in _MONO_FLAGS.items() if v in given)
            raise UserError(f"{', '.join(flags)} need --depth-errors monocular")
        return CorruptionConfig(**given)
    for k in ("scale_log_sigma", "scale_failure_prob", "field_amplitude", "focal_sigma"):
        if k in given and not 0 <= given[k] < 1:
            raise UserError(f"--{next(f for f, v in _MONO_FLAGS.items() if v == k).replace('_', '-')} must be in [0, 1)")
    for k in ("scale_failure_range", "range_exponent"):
        if k in given:
            lo, hi = given[k]
            if not 0 < lo <= hi:
                raise UserError(f"--{k.replace('_', '-')} needs 0 < LO <= HI")
            given[k] = (float(lo), float(hi))
    if given.get("soft_edge_px", 0) < 0:
        raise UserError("--soft-edge-px must be >= 0")
    return CorruptionConfig.monocular(**given)


def _apply_run_config(a) -> None:
    """Fill options not given on the command line from a run config YAML."""
    import yaml

    if a.config:
        try:
            with open(a.config) as f:
                conf = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"{a.config}: cannot read run config ({type(exc).__name__}: {exc})") from None
        if not isinstance(conf, dict):
            raise UserError(f"{a.config}: a run config is a mapping of option names to values")
        for key, value in conf.items():
            attr = key.replace("-", "_")
            if not hasattr(a, attr) or attr == "config":
                raise UserError(f"{a.config}: unknown option {key!r} (see lift3d build --help)")
            if getattr(a, attr) == _BUILD_DEFAULTS.get(attr):
                setattr(a, attr, value)
    for req in ("annotations", "out"):
        if not getattr(a, req):
            raise UserError(f"--{req} is required (on the command line or in --config)")


_BUILD_DEFAULTS: dict = {}


def _cmd_build(a) -> int:
    from lift3d.build import build

    _apply_run_config(a)
    from lift3d.build import BuildConfig
    from lift3d.summary import format_summary

    if a.depth_origin not in ("sensor", "model"):
        raise UserError(f"--depth-origin must be sensor or model, not {a.depth_origin!r}")
    if a.depth_origin == "model" and a.depth != "dataset":
        raise UserError("--depth-origin model describes dataset depth files: it needs --depth dataset")
    if not a.sensor_scale_sd >= 0:
        raise UserError(f"--sensor-scale-sd must be 0 or more, not {a.sensor_scale_sd}")
    if a.sensor_scale_sd > 0 and (a.depth != "dataset" or a.depth_origin != "sensor"):
        raise UserError("--sensor-scale-sd describes sensor depth files: it needs --depth dataset "
                        "--depth-origin sensor")
    cfg = BuildConfig(split=a.split, depth=a.depth, depth_origin=a.depth_origin, sensor_scale_sd=a.sensor_scale_sd,
                      device=a.device, seed=a.seed,
                      images_per_unit=a.images_per_unit, rows_per_shard=a.rows_per_shard, max_shard_mb=a.max_shard_mb,
                      masks=a.masks, segmenter=a.segmenter, depth_preprocess=a.depth_preprocess,
                      keep_depth=a.keep_depth, embed_images=a.embed_images,
                      embed_images_format=a.embed_images_format, jpeg_quality=a.jpeg_quality,
                      source_name=a.source_name, source_license=a.source_license)
    info = build(a.annotations, a.images, a.out, cfg, executor=a.executor, ray_address=a.ray_address,
                 resume=a.resume, overwrite=a.overwrite, progress=False if a.no_progress else None)
    print(format_summary(a.out, info))
    return 0


def _cmd_ingest(a) -> int:
    from lift3d.io.ingest import ingest, manifest_summary

    meta = ingest(a.format, a.annotations, a.out, images_root=a.images, rows_per_shard=a.rows_per_shard,
                  tmp_dir=a.tmp_dir, overwrite=a.overwrite)
    print(f"wrote {a.out}: {manifest_summary(meta)}")
    return 0


def _cmd_validate(a) -> int:
    from lift3d.validate import validate

    report = validate(a.out)
    print(report.summary())
    return 0 if report.ok else 1


def _cmd_eval(a) -> int:
    import json

    from lift3d.evaluate import evaluate, format_report

    result = evaluate(a.pred, a.gt)
    print(format_report(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2, default=float)
    return 0


def _cmd_eval_depth(a) -> int:
    from lift3d.depth.evaluate import eval_depth, format_eval

    result = eval_depth(a.annotations, a.images, a.depth, device=a.device)
    print(format_eval(result))
    return 0


def _cmd_schema(a) -> int:
    from lift3d.schema import export

    for p in export(a.export):
        print(f"wrote {p}")
    return 0


COMMANDS = {"synth": _cmd_synth, "ingest": _cmd_ingest, "build": _cmd_build, "validate": _cmd_validate, "eval": _cmd_eval,
            "eval-depth": _cmd_eval_depth, "schema": _cmd_schema}

from lift3d.viz.cli import COMMANDS as VIZ_COMMANDS  # noqa: E402  (cheap: no numpy/matplotlib import)

COMMANDS.update(VIZ_COMMANDS)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"lift3d {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"lift3d {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
