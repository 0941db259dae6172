"""The short table printed at the end of every build."""

from __future__ import annotations


def format_summary(out: str, info: dict) -> str:
    st = info.get("stats", {})
    counts = info.get("counts", {})
    secs = info.get("timing", {}).get("seconds", 0.0) or 0.0
    images = st.get("images_in", 0)
    rows = [
        ("images in / written", f"{counts.get('input_images', 0)} / {st.get('images_out', 0)}"),
        ("annotations in", f"{counts.get('input_annotations', 0)}"),
        ("objects lifted", f"{st.get('objects', 0)}"),
        ("annotations rejected", f"{st.get('annotation_rejects', 0)}"),
        ("images rejected", f"{st.get('image_rejects', 0)}"),
        ("questions", f"{st.get('qa', 0)}"),
        ("time", f"{secs:.1f} s ({images / secs if secs else 0.0:.1f} images/s)"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = ["", "build summary", "-" * (w + 24)]
    lines += [f"{k:<{w}}  {v}" for k, v in rows]
    reasons = st.get("reject_reasons", {})
    if reasons:
        lines.append("rejects by reason:")
        lines += [f"  {k:<{w + 8}}{v}" for k, v in reasons.items()]
    qtypes = st.get("question_types", {})
    if qtypes:
        lines.append("questions by type:")
        lines += [f"  {k:<{w + 8}}{v}" for k, v in qtypes.items()]
    stage_s = info.get("timing", {}).get("stage_seconds", {})
    if stage_s:
        lines.append("stage CPU time: " + ", ".join(f"{k} {v:.2f}s" for k, v in stage_s.items()))
    lines += [
        f"output: {out}",
        f"load:   datasets.load_dataset({str(out)!r}, 'qa')  # or 'objects', 'rejects'",
    ]
    return "\n".join(lines)
