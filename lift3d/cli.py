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
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--width", type=int, default=640)
    s.add_argument("--height", type=int, default=480)
    s.add_argument("--box-only", action="store_true", help="omit segmentation masks (box-only annotations)")
    s.add_argument("--mask-bleed", type=int, default=0, metavar="PX", help="dilate masks by PX pixels (default 0)")
    s.add_argument("--clean", action="store_true", help="write uncorrupted depth (no simulated depth error)")

    b = add("build", "Build the corpus: decode -> depth -> lift -> QA -> sharded Parquet + dataset card.",
            "lift3d build --annotations out/synth/annotations.json --images out/synth --depth dataset --out out/sample")
    b.add_argument("--config", default=None, metavar="YAML",
                   help="run config (pipelines/*.yaml): keys are these options' names; flags override it")
    b.add_argument("--annotations", help="COCO instances JSON (with the optional COCO-3D fields)")
    b.add_argument("--images", help="root folder that file_name and depth_file are relative to")
    b.add_argument("--out", help="output folder or fsspec URI")
    b.add_argument("--depth", default="dataset",
                   help="depth backend: dataset | da2-indoor-small | ... | depth-pro | an HF id or local dir")
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
    b.add_argument("--source-name", default="", help="source dataset name for the dataset card")
    b.add_argument("--source-license", default="", help="source dataset licence for the dataset card")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted build (finished units are skipped)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing split in --out")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")

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
    corruption = CorruptionConfig.none() if a.clean else CorruptionConfig()
    path = generate(a.out, a.scenes, a.seed, width=a.width, height=a.height, masks=not a.box_only,
                    corruption=corruption, mask_bleed_px=a.mask_bleed)
    print(f"wrote {a.scenes} scenes: {path}")
    return 0


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
    for req in ("annotations", "images", "out"):
        if not getattr(a, req):
            raise UserError(f"--{req} is required (on the command line or in --config)")


_BUILD_DEFAULTS: dict = {}


def _cmd_build(a) -> int:
    from lift3d.build import build

    _apply_run_config(a)
    from lift3d.build import BuildConfig
    from lift3d.summary import format_summary

    cfg = BuildConfig(split=a.split, depth=a.depth, device=a.device, seed=a.seed,
                      images_per_unit=a.images_per_unit, rows_per_shard=a.rows_per_shard, max_shard_mb=a.max_shard_mb,
                      masks=a.masks, segmenter=a.segmenter, depth_preprocess=a.depth_preprocess,
                      keep_depth=a.keep_depth, source_name=a.source_name, source_license=a.source_license)
    info = build(a.annotations, a.images, a.out, cfg, executor=a.executor, ray_address=a.ray_address,
                 resume=a.resume, overwrite=a.overwrite, progress=False if a.no_progress else None)
    print(format_summary(a.out, info))
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


COMMANDS = {"synth": _cmd_synth, "build": _cmd_build, "validate": _cmd_validate, "eval": _cmd_eval,
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
