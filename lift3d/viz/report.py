"""``lift3d report``: one self-contained, offline HTML file describing a built corpus.

* Gallery: sample images rendered like ``lift3d show`` (JPEG data URIs), each with its questions, answers and
  reasoning.
* Charts (inline SVG): objects per category, questions per type, the quality-score histogram, reject reasons,
  depth / intrinsics / gravity sources, lifting flags and skipped questions.

No external resource of any kind: a Content-Security-Policy meta tag (``default-src 'none'; img-src data:``)
makes the browser refuse any network request, every image is a ``data:`` URI, CSS and the small script are
inline. The script only checks, after load, that every gallery image decoded (``#render-check``), which the
browser test reads back. All text is escaped with ``html.escape``.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from pathlib import Path

from lift3d.errors import UserError
from lift3d.viz.data import Corpus

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "font-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222;
background:#fafafa;max-width:1900px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:13px}
table.counts{border-collapse:collapse;font-size:13px;margin:8px 0}
table.counts td,table.counts th{border:1px solid #ddd;padding:3px 10px;text-align:right}
table.counts th{background:#f0f0f0}table.counts td:first-child,table.counts th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.chart{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:8px 10px}
.chart h3{font-size:14px;margin:0 0 6px}.chart .empty{color:#888;font-size:13px}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;font-size:12px;margin:6px 0 12px}
.legend span.sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
.sample{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:10px;margin:0 0 18px}
.sample h3{font-size:15px;margin:0 0 6px}.sample img{max-width:100%;height:auto;display:block}
.qa{font-size:13px;margin-top:8px}.qa details{margin:3px 0;padding:3px 6px;background:#f6f7f9;border-radius:4px}
.qa summary{cursor:pointer}.qa .qt{color:#777;font-family:ui-monospace,monospace;font-size:11px;margin-right:6px}
.qa .ans{color:#0a5;font-weight:600}.qa pre{white-space:pre-wrap;font-size:12px;margin:6px 0 2px;color:#333}
.more{color:#777;font-size:12px}#render-check{color:#888;font-size:12px}
"""

SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.sample-img'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var el = document.getElementById('render-check');
  el.setAttribute('data-loaded', String(ok));
  el.setAttribute('data-total', String(imgs.length));
  el.textContent = 'gallery: ' + ok + ' of ' + imgs.length + ' images rendered';
});
"""

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def esc(s) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def _hex(col) -> str:
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in col[:3])


# ----------------------------------------------------------------------------------------------- charts
def svg_bar_chart(items, color: str = "#4c78a8", label_w: int = 190, width: int = 520, row_h: int = 18,
                  colors: dict | None = None) -> str:
    """Horizontal bar chart of (label, value) pairs as an inline <svg>."""
    items = [(str(k), float(v)) for k, v in items]
    if not items:
        return '<p class="empty">none</p>'
    vmax = max(v for _, v in items) or 1.0
    bar_w = width - label_w - 60
    h = row_h * len(items) + 6
    parts = [f'<svg width="{width}" height="{h}" viewBox="0 0 {width} {h}" '
             f'role="img" font-size="11" font-family="sans-serif">']
    for i, (k, v) in enumerate(items):
        y = 3 + i * row_h
        w = bar_w * v / vmax
        c = (colors or {}).get(k, color)
        lab = k if len(k) <= 30 else k[:29] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + row_h * 0.7:.1f}" text-anchor="end">{esc(lab)}'
                     f'<title>{esc(k)}</title></text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" fill="{esc(c)}">'
                     f'<title>{esc(k)}: {v:g}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + row_h * 0.7:.1f}">{v:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(counts, lo: float = 0.0, hi: float = 1.0, width: int = 520, height: int = 200,
                  color: str = "#4c78a8") -> str:
    """Vertical histogram of equal-width bins over [lo, hi] as an inline <svg>."""
    counts = [float(c or 0) for c in counts]
    if not counts:
        return '<p class="empty">none</p>'
    n = len(counts)
    left, bottom, top = 40, 30, 14
    pw, ph = width - left - 10, height - bottom - top
    cmax = max(counts) or 1.0
    bw = pw / n
    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-size="11" font-family="sans-serif">',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#444"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#444"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{cmax:g}</text>',
             f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">0</text>']
    for i, c in enumerate(counts):
        h = ph * c / cmax
        x = left + i * bw
        a, b = lo + (hi - lo) * i / n, lo + (hi - lo) * (i + 1) / n
        parts.append(f'<rect class="bin" x="{x + 1:.1f}" y="{top + ph - h:.1f}" width="{bw - 2:.1f}" '
                     f'height="{h:.1f}" fill="{color}"><title>[{a:.2f}, {b:.2f}): {c:g}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - h - 2:.1f}" text-anchor="middle">{c:g}</text>')
    for i in range(n + 1):
        x = left + i * bw
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle">{lo + (hi - lo) * i / n:.1f}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 2}" text-anchor="middle">quality score</text>')
    parts.append("</svg>")
    return "".join(parts)


def _sorted_counts(d: dict | None) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in (d or {}).items() if v), key=lambda kv: (-kv[1], kv[0]))


def _chart(title: str, body: str, cid: str) -> str:
    return f'<div class="chart" id="chart-{esc(cid)}"><h3>{esc(title)}</h3>{body}</div>'


# ----------------------------------------------------------------------------------------------- gallery
def _pick_qa(qas: list[dict], k: int) -> list[dict]:
    """Up to k questions, one per question type first (stable order)."""
    seen, first, rest = set(), [], []
    for q in sorted(qas, key=lambda q: q.get("id") or ""):
        (rest if q.get("question_type") in seen else first).append(q)
        seen.add(q.get("question_type"))
    return (first + rest)[:k]


def _qa_html(q: dict) -> str:
    ans = q.get("answer")
    choices = q.get("choices") or []
    ch = f' <span class="qt">choices: {esc(" | ".join(map(str, choices)))}</span>' if choices else ""
    return (f'<details class="qa-item"><summary><span class="qt">{esc(q.get("question_type"))}</span>'
            f'{esc(q.get("question"))} &rarr; <span class="ans">{esc(ans)}</span>{ch}</summary>'
            f'<pre>{esc(q.get("reasoning"))}</pre></details>')


def _sample_rows(rows, n: int):
    if n >= len(rows):
        return rows
    idx = sorted({round(i * (len(rows) - 1) / max(n - 1, 1)) for i in range(n)})
    return [rows[i] for i in idx]


def build_report(out: str, n: int = 12, qa_per_image: int = 8, max_side: int = 420, progress=None) -> str:
    """The report's HTML text."""
    from lift3d.viz.render import category_palette, render_jpeg
    from lift3d.viz.pictures import require_matplotlib

    require_matplotlib()
    if n < 0:
        raise UserError("--n must be 0 or more")
    corpus = Corpus(out)
    stats = corpus.stats()
    index = corpus.image_index()
    samples = corpus.rows(_sample_rows(index, n)) if n else []
    palette = category_palette(corpus.categories() or {o["category"] for _, r in samples for o in r["objects"] or []})
    qa_cache: dict[str, dict] = {}

    # ---- gallery
    cards = []
    for i, (split, row) in enumerate(samples):
        view = corpus.load(split, row)
        if split not in qa_cache:
            qa_cache[split] = corpus.qa_by_image(split, [int(r["image_id"]) for s, r in samples if s == split])
        qas = qa_cache[split].get(int(row["image_id"]), [])
        jpg = base64.b64encode(render_jpeg(view, palette, max_side)).decode("ascii")
        shown = _pick_qa(qas, qa_per_image)
        more = (f'<p class="more">+ {len(qas) - len(shown)} more questions about this image</p>'
                if len(qas) > len(shown) else "")
        qa_block = "".join(_qa_html(q) for q in shown) or '<p class="more">no questions for this image</p>'
        cards.append(
            f'<article class="sample" data-image-id="{int(row["image_id"])}" data-split="{esc(split)}">'
            f'<h3>image {int(row["image_id"])} &middot; {esc(row.get("file_name"))} &middot; '
            f'{len(view.objects)} objects &middot; {len(qas)} questions</h3>'
            f'<img class="sample-img" alt="image {int(row["image_id"])} with its 3D boxes" '
            f'src="data:image/jpeg;base64,{jpg}">'
            f'<div class="qa">{qa_block}{more}</div></article>')
        if progress is not None:
            progress(i + 1, len(samples))

    # ---- charts
    cat_colors = {c: _hex(col) for c, col in palette.items()}
    charts = [
        _chart("objects per category", svg_bar_chart(_sorted_counts(stats.get("categories")), colors=cat_colors),
               "categories"),
        _chart("questions per type", svg_bar_chart(_sorted_counts(stats.get("question_types")), color=PALETTE[0]),
               "question-types"),
        _chart("lifting quality score (objects)", svg_histogram(stats.get("quality_hist") or []), "quality"),
        _chart("reject reasons (stage:reason)", svg_bar_chart(_sorted_counts(stats.get("reject_reasons")),
                                                              color=PALETTE[3]), "reject-reasons"),
        _chart("depth sources (images)", svg_bar_chart(_sorted_counts(stats.get("depth_sources")), color=PALETTE[2]),
               "depth-sources"),
        _chart("intrinsics sources (images)", svg_bar_chart(_sorted_counts(stats.get("intrinsics_sources")),
                                                            color=PALETTE[4]), "intrinsics-sources"),
        _chart("gravity sources (images)", svg_bar_chart(_sorted_counts(stats.get("gravity_sources")),
                                                         color=PALETTE[5]), "gravity-sources"),
        _chart("object flags", svg_bar_chart(_sorted_counts(stats.get("flags")), color=PALETTE[1]), "flags"),
        _chart("questions skipped by reason", svg_bar_chart(_sorted_counts(stats.get("qa_skipped")),
                                                            color=PALETTE[7]), "qa-skipped"),
    ]

    # ---- counts per split
    keys = ["images_in", "images_out", "objects", "annotation_rejects", "image_rejects", "qa"]
    head = "".join(f"<th>{esc(k)}</th>" for k in ["split"] + keys)
    body = ""
    for split, entry in corpus.splits.items():
        st = entry.get("stats") or {}
        body += "<tr>" + f"<td>{esc(split)}</td>" + "".join(f"<td>{esc(st.get(k, ''))}</td>" for k in keys) + "</tr>"
    legend = "".join(f'<span><span class="sw" style="background:{_hex(col)}"></span>{esc(c)}</span>'
                     for c, col in palette.items())
    version = corpus.info.get("lift3d_version", "")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lift3d report: {esc(out)}</title>
<style>{CSS}</style></head>
<body>
<h1>lift3d corpus report</h1>
<p class="meta">{esc(out)} &middot; lift3d {esc(version)} &middot; generated {esc(now)}</p>
<table class="counts"><tr>{head}</tr>{body}</table>
<h2>Charts</h2>
<div class="charts">{''.join(charts)}</div>
<h2>Gallery ({len(cards)} of {len(index)} images)</h2>
<p class="meta">Each image: the 3D boxes projected (front face filled with an X, dashed: the 2D box) | depth
(viridis, metres) | bird's-eye view in the gravity frame with the camera and its field of view.
Click a question for its reasoning.</p>
<div class="legend">{legend}</div>
<section id="gallery">{''.join(cards)}</section>
<p id="render-check" data-loaded="-1" data-total="{len(cards)}">gallery: not rendered (scripts disabled)</p>
<script>{SCRIPT}</script>
</body></html>
"""


def write_report(out: str, path: str | Path, n: int = 12, qa_per_image: int = 8, max_side: int = 420,
                 progress=None) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give a file name such as {path / 'report.html'}")
    text = build_report(out, n=n, qa_per_image=qa_per_image, max_side=max_side, progress=progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {path}: cannot write ({exc.strerror}); choose a writable path") from None
    return path
