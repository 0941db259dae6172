"""lift3d show: PNGs of a real build, depth lookup, one-line user errors, the optional rerun export."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from lift3d.errors import UserError
from lift3d.viz import Corpus, panel_layout, select_rows, show
from lift3d.cli import main
from viz_helpers import H, W, image_row, obj, write_corpus


def test_show_writes_one_png_per_image(built, tmp_path):
    res = show(str(built), tmp_path / "png", n=2)
    assert [p.name for p in res["pngs"]] == ["train-00000000.png", "train-00000001.png"]
    lay = panel_layout(W, H)
    for p in res["pngs"]:
        with Image.open(p) as im:
            assert im.size == (lay.fig_w, lay.fig_h)
    one = show(str(built), tmp_path / "one", image_ids=[2])
    assert [p.name for p in one["pngs"]] == ["train-00000002.png"]


def test_depth_comes_from_the_source_dataset(built, tmp_path):
    corpus = Corpus(str(built))
    split, row = select_rows(corpus, [0], None)[0]
    view = corpus.load(split, row)
    assert view.rgb is not None and view.rgb.shape == (H, W, 3)
    assert view.depth is not None and view.depth.shape == (H, W) and view.depth_note == "dataset depth"
    valid = view.depth[view.depth > 0]
    assert 0.3 < np.median(valid) < 15  # metres, not millimetres
    # without the source annotations JSON: RGB still shown, depth "not available"
    moved = tmp_path / "out"
    shutil.copytree(built, moved)
    info = json.loads((moved / "build_info.json").read_text())
    info["splits"]["train"]["input"]["annotations"] = str(tmp_path / "gone.json")
    (moved / "build_info.json").write_text(json.dumps(info))
    c2 = Corpus(str(moved))
    v2 = c2.load(*select_rows(c2, [0], None)[0])
    assert v2.rgb is not None and v2.depth is None and v2.depth_note.startswith("depth not available")


def test_hand_made_depth_is_read_in_metres(tmp_path):
    d = np.full((H, W), 2.5, np.float32)
    out = write_corpus(tmp_path, [image_row(4, [obj(1, "chair", (0, 0, 2.5))])], depth={4: d})
    c = Corpus(str(out))
    v = c.load(*select_rows(c, None, 5)[0])
    assert v.depth is not None and np.allclose(v.depth, 2.5)


def _one_line_error(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_user_errors_are_one_line(built, tmp_path, capsys):
    _one_line_error(capsys, ["show", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")], "build_info.json")
    _one_line_error(capsys, ["show", str(built), "--out", str(tmp_path / "o"), "--image-id", "424242"],
                    "--image-id 424242", "ids there include")
    _one_line_error(capsys, ["show", str(built), "--out", str(tmp_path / "o"), "--n", "0"], "--n")
    _one_line_error(capsys, ["show", str(built)], "--out DIR")
    f = tmp_path / "afile"
    f.write_text("x")
    _one_line_error(capsys, ["show", str(built), "--out", str(f)], "is a file")
    _one_line_error(capsys, ["report", str(built), "--out", str(tmp_path / "r.txt")], ".html")
    _one_line_error(capsys, ["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")],
                    "build_info.json")


@pytest.mark.parametrize("command", ["show", "report"])
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"lift3d {command} " in out


def test_main_cli_wiring_if_registered(built, tmp_path, capsys):
    """Once lift3d/cli.py registers the commands, `lift3d show` runs through the main entry point."""
    from lift3d import cli

    if "show" not in getattr(cli, "COMMANDS", {}):
        pytest.skip("lift3d/cli.py does not register `show` yet (lift3d.viz.cli.register)")
    assert cli.main(["show", str(built), "--out", str(tmp_path / "p"), "--n", "1", "--no-progress"]) == 0
    assert len(list((tmp_path / "p").glob("*.png"))) == 1


def test_rerun_missing_is_one_line_with_the_fix(built, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "rerun", None)  # makes `import rerun` raise ImportError
    err = _one_line_error(capsys, ["show", str(built), "--rerun", str(tmp_path / "x.rrd")], "pip install rerun-sdk")
    assert not (tmp_path / "x.rrd").exists(), err


def test_rerun_export_writes_rrd(built, tmp_path):
    pytest.importorskip("rerun", reason="rerun-sdk is optional and not installed (pip install rerun-sdk)")
    res = show(str(built), None, n=2, rerun=tmp_path / "c.rrd")
    data = (tmp_path / "c.rrd").read_bytes()
    assert res["rrd"] == tmp_path / "c.rrd" and data[:3] == b"RRF"
    for entity in (b"world/camera/points", b"world/camera/boxes", b"world/camera/image"):
        assert entity in data
    with pytest.raises(UserError, match=r"\.rrd"):
        show(str(built), None, n=1, rerun=tmp_path / "c.bin")
