"""``lift3d show`` and ``lift3d report``: argparse wiring for the main CLI.

The main CLI calls ``register(sub, add)`` inside its parser builder (``add(name, help, example)`` returns a
subparser) and maps the names in ``COMMANDS`` to the functions here; ``lift3d.cli.main`` handles errors.
"""

from __future__ import annotations

import sys

from lift3d.errors import UserError

SHOW_HELP = "Draw images with their 3D boxes, depth and a bird's-eye view (PNG per image; optional rerun .rrd)."
SHOW_EXAMPLE = ("lift3d show out/sample --out out/sample_viz --n 24\n"
                "lift3d show out/sample --out out/sample_viz --image-id 3 --image-id 7\n"
                "lift3d show out/sample --rerun out/sample.rrd --n 8   # needs: pip install rerun-sdk")
REPORT_HELP = "Write one self-contained offline HTML report: gallery with questions, charts of the corpus stats."
REPORT_EXAMPLE = "lift3d report out/sample --out out/sample_report.html --n 12"


def register(subparsers, add) -> dict:
    """Add the ``show`` and ``report`` subcommands via the main CLI's ``add``; returns ``COMMANDS``."""
    s = add("show", SHOW_HELP, SHOW_EXAMPLE)
    s.add_argument("dataset", metavar="OUT", help="a built dataset folder (the --out of lift3d build)")
    s.add_argument("--out", dest="out_dir", metavar="DIR", default=None,
                   help="folder for the PNGs, one per image: SPLIT-IMAGEID.png")
    s.add_argument("--image-id", dest="image_ids", type=int, action="append", metavar="ID", default=None,
                   help="show this image (repeatable); default: the first --n images by id")
    s.add_argument("--n", type=int, default=24, help="number of images when no --image-id is given (default 24)")
    s.add_argument("--rerun", metavar="FILE.rrd", default=None,
                   help="also write a rerun recording (point cloud, camera, boxes per image); needs rerun-sdk")
    s.add_argument("--max-side", type=int, default=640, metavar="PX",
                   help="longest side of the image panels in pixels (default 640; images are never upscaled)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = add("report", REPORT_HELP, REPORT_EXAMPLE)
    r.add_argument("dataset", metavar="OUT", help="a built dataset folder (the --out of lift3d build)")
    r.add_argument("--out", dest="report", metavar="FILE.html", required=True, help="the HTML file to write")
    r.add_argument("--n", type=int, default=12, help="gallery size: images sampled evenly by id (default 12)")
    r.add_argument("--qa-per-image", type=int, default=8, metavar="K",
                   help="questions listed per gallery image, one per type first (default 8)")
    r.add_argument("--max-side", type=int, default=420, metavar="PX",
                   help="longest side of the gallery image panels in pixels (default 420)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    return COMMANDS


def _progress(disabled: bool, desc: str):
    if disabled or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="img", file=sys.stderr)

    def step(i, n):
        bar.total = n
        bar.n = i
        bar.refresh()

    return step, bar.close


def cmd_show(args) -> int:
    from lift3d.viz.pictures import show

    if args.max_side < 16:
        raise UserError(f"--max-side {args.max_side} is too small; use at least 16 (default 640)")
    if args.out_dir is None and args.rerun is None:
        raise UserError("nothing to write: add --out DIR for the PNGs (and/or --rerun FILE.rrd)")
    step, close = _progress(args.no_progress, "show")
    try:
        res = show(args.dataset, args.out_dir, image_ids=args.image_ids, n=args.n, rerun=args.rerun,
                   max_side=args.max_side, progress=step)
    finally:
        close()
    if args.out_dir is not None:
        print(f"wrote {len(res['pngs'])} PNGs to {args.out_dir}")
    if res["rrd"] is not None:
        print(f"wrote {res['rrd']} ({res['images']} images); open it with: rerun {res['rrd']}")
    return 0


def cmd_report(args) -> int:
    from lift3d.viz.report import write_report

    if args.n < 0:
        raise UserError(f"--n {args.n}: the gallery size must be 0 or more (default 12)")
    if args.qa_per_image < 0:
        raise UserError(f"--qa-per-image {args.qa_per_image}: must be 0 or more (default 8)")
    if args.max_side < 16:
        raise UserError(f"--max-side {args.max_side} is too small; use at least 16 (default 420)")
    if not str(args.report).lower().endswith((".html", ".htm")):
        raise UserError(f"--out {args.report}: the report is one HTML file; give a name ending in .html")
    step, close = _progress(args.no_progress, "report")
    try:
        p = write_report(args.dataset, args.report, n=args.n, qa_per_image=args.qa_per_image,
                         max_side=args.max_side, progress=step)
    finally:
        close()
    print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB, self-contained; open it in any browser, offline)")
    return 0


COMMANDS = {"show": cmd_show, "report": cmd_report}
