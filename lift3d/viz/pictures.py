"""``lift3d show``: one PNG per image (boxes | depth | bird's-eye view), optionally a rerun ``.rrd``."""

from __future__ import annotations

from pathlib import Path

from lift3d.errors import UserError
from lift3d.viz.data import Corpus, select_rows


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("matplotlib is not installed; install the viz extra: pip install 'lift3d[viz]'") from None


def png_name(split: str, image_id: int) -> str:
    return f"{split}-{int(image_id):08d}.png"


def show(out: str, out_dir: str | Path | None, image_ids: list[int] | None = None, n: int | None = 24,
         rerun: str | Path | None = None, max_side: int = 640, progress=None) -> dict:
    """Write the PNGs (when ``out_dir``) and the rerun recording (when ``rerun``) of the selected images.

    Returns ``{"pngs": [paths], "rrd": path or None, "images": count}``.
    """
    if out_dir is None and rerun is None:
        raise UserError("nothing to write: give --out DIR (PNGs) and/or --rerun FILE.rrd")
    if rerun is not None:
        from lift3d.viz.rerun_export import check_rrd_path, require_rerun

        require_rerun()
        check_rrd_path(rerun)
    if out_dir is not None:
        require_matplotlib()
    corpus = Corpus(out)
    rows = select_rows(corpus, image_ids, n)
    from lift3d.viz.render import category_palette, render_png

    palette = category_palette(corpus.categories() or {o["category"] for _, r in rows for o in r["objects"] or []})
    pngs: list[Path] = []
    if out_dir is not None:
        d = Path(out_dir)
        if d.exists() and not d.is_dir():
            raise UserError(f"--out {out_dir} is a file; give a folder for the PNGs")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {out_dir}: cannot create the folder ({exc.strerror}); choose a writable path") from None
    views = []
    for i, (split, row) in enumerate(rows):
        view = corpus.load(split, row)
        if out_dir is not None:
            p = Path(out_dir) / png_name(split, row["image_id"])
            p.write_bytes(render_png(view, palette, max_side))
            pngs.append(p)
        if rerun is not None:
            views.append(view)
        if progress is not None:
            progress(i + 1, len(rows))
    rrd = None
    if rerun is not None:
        from lift3d.viz.rerun_export import export_rrd

        rrd = export_rrd(views, rerun, palette)
    return {"pngs": pngs, "rrd": rrd, "images": len(rows)}
