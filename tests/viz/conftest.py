"""Fixtures for the viz tests: a real (tiny) build through the local executor."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the viz extra (matplotlib) is not installed")

from viz_helpers import W, H  # noqa: E402


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """A real build: 3 synthetic scenes (320x240) through the local executor (~1 s)."""
    from lift3d.build import build
    from lift3d.build import BuildConfig
    from lift3d.synth import generate

    root = tmp_path_factory.mktemp("viz_built")
    generate(root / "synth", 3, 1, width=W, height=H)
    build(str(root / "synth" / "annotations.json"), str(root / "synth"), str(root / "out"), BuildConfig(),
          executor="local", progress=False)
    return root / "out"

