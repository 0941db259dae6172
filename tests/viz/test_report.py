"""lift3d report: a self-contained offline HTML file; rendered and checked in headless Chromium when present."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift3d.viz import Corpus
from lift3d.viz.report import build_report, write_report
from viz_helpers import image_row, obj, qa_row, write_corpus

URL_RE = re.compile(r"(?i)(https?:|ftp:|//[a-z0-9.-]+\.[a-z]{2,}/)")


def _gallery(html: str) -> list[str]:
    return re.findall(r'<article class="sample"', html)


def test_report_is_self_contained(built, tmp_path):
    p = write_report(str(built), tmp_path / "r.html", n=2)
    html = p.read_text(encoding="utf-8")
    assert not URL_RE.search(html), URL_RE.search(html).group(0)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    srcs = re.findall(r'\ssrc="([^"]*)"', html)
    assert len(srcs) == 2 and all(s.startswith("data:image/jpeg;base64,") for s in srcs)
    for s in srcs:  # every embedded image decodes
        with Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))) as im:
            assert im.format == "JPEG" and im.size[0] > 300
    assert len(_gallery(html)) == 2
    # one QA block per gallery image, and the questions of the image are the corpus's own
    qa = Corpus(str(built)).qa_by_image("train")
    ids = [int(i) for i in re.findall(r'<article class="sample" data-image-id="(\d+)"', html)]
    for i in ids:
        if qa.get(i):
            q0 = sorted(qa[i], key=lambda q: q["id"])[0]
            assert q0["question"].replace("'", "&#x27;").replace('"', "&quot;") in html
    # charts: the quality histogram has its 10 bins, the categories chart all categories
    assert len(re.findall(r'class="bin"', html)) == 10
    for cid in ("categories", "question-types", "quality", "reject-reasons", "depth-sources", "intrinsics-sources"):
        assert f'id="chart-{cid}"' in html
    for cat in Corpus(str(built)).categories():
        assert f">{cat}<" in html


def test_gallery_count_and_escaping(tmp_path):
    evil = '<img src=x onerror=alert(1)>'
    rows = [image_row(i, [obj(1, "chair" if i else evil, (0.2, 0.1, 3.0))]) for i in range(5)]
    qa = [qa_row("q1", 0, f"Is the {evil} left of the chair?", answer="<b>yes</b>", reasoning="a < b & c")]
    out = write_corpus(tmp_path, rows, qa=qa)
    html = build_report(str(out), n=3, max_side=160)
    assert len(_gallery(html)) == 3
    assert evil not in html and "<b>yes</b>" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # in the question and the category legend
    assert "a &lt; b &amp; c" in html
    assert len(_gallery(build_report(str(out), n=12, max_side=120))) == 5
    assert len(_gallery(build_report(str(out), n=0, max_side=120))) == 0


# ------------------------------------------------------------------------------------------ Chromium
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")


def _chromium(url: str, tmp: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """(DOM after load, console lines) of a headless Chromium run with the network off."""
    with tempfile.TemporaryDirectory(dir=tmp) as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-default-apps", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom"]
        if screenshot is not None:
            cmd += [f"--screenshot={screenshot}", "--window-size=1280,2000"]
        r = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    # every console message (log, error, uncaught exception, CSP-blocked request) is an INFO:CONSOLE line
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]
    return r.stdout, console


@needs_chromium
def test_console_detector_catches_errors(tmp_path):
    """Negative control: the same harness sees console errors, uncaught exceptions and blocked requests."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                    "content=\"default-src 'none'; img-src data:; script-src 'unsafe-inline'\"></head><body>"
                    '<img src="https://example.invalid/x.png"><script>console.error("bad-1");'
                    'throw new Error("bad-2");</script></body></html>')
    _, console = _chromium(page.as_uri(), tmp_path)
    text = "\n".join(console)
    assert "bad-1" in text and "Uncaught Error: bad-2" in text and "Content Security Policy" in text


@needs_chromium
def test_report_renders_in_headless_chromium(built, tmp_path):
    p = write_report(str(built), tmp_path / "report.html", n=3)
    shot = tmp_path / "report.png"
    dom, console = _chromium(p.resolve().as_uri(), tmp_path, screenshot=shot)
    assert console == [], "console messages:\n" + "\n".join(console)
    m = re.search(r'<p id="render-check" data-loaded="(-?\d+)" data-total="(\d+)"', dom)
    assert m, "the render check did not run"
    assert int(m.group(1)) == int(m.group(2)) == 3 == len(_gallery(dom))
    assert dom.count("<svg") >= 6
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        a = np.asarray(im.convert("L"), dtype=np.float32)
    assert a.std() > 10  # not a blank page: charts and text are drawn
    print(f"screenshot: {shot}")
