"""Looking at a built corpus: per-image PNGs (``lift3d show``), an offline HTML report (``lift3d report``)
and an optional rerun ``.rrd`` export. Needs the ``viz`` extra (matplotlib); rerun-sdk is optional.

Attributes are imported lazily, so ``import lift3d.viz.cli`` (done by the main CLI) stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Corpus": "lift3d.viz.data", "ImageView": "lift3d.viz.data", "select_rows": "lift3d.viz.data",
    "Layout": "lift3d.viz.render", "category_palette": "lift3d.viz.render", "panel_layout": "lift3d.viz.render",
    "render_figure": "lift3d.viz.render", "render_png": "lift3d.viz.render",
    "show": "lift3d.viz.pictures", "write_report": "lift3d.viz.report", "build_report": "lift3d.viz.report",
    "export_rrd": "lift3d.viz.rerun_export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lift3d.viz' has no attribute {name!r}")
