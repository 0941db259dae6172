"""End-to-end builds on small synthetic sets: layout, loading, accounting, determinism, resume."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from lift3d.build import BuildConfig, build
from lift3d.errors import UserError
from lift3d.output import read_config_table
from lift3d.synth import generate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("synth")
    generate(d, 6, 123, width=320, height=240)
    # Real inputs are never clean: add a missing image and two bad annotations, which must end as rejects.
    data = json.loads((d / "annotations.json").read_text())
    img = dict(data["images"][0], id=999, file_name="images/missing.png")
    data["images"].append(img)
    next_id = max(a["id"] for a in data["annotations"]) + 1
    data["annotations"].append(dict(data["annotations"][0], id=next_id, image_id=999))
    data["annotations"].append(dict(data["annotations"][0], id=next_id + 1, bbox=[300, 200, 100, 100]))
    (d / "annotations.json").write_text(json.dumps(data))
    return d


def _build(synth_dir, out, **kw):
    ex = kw.pop("executor", "local")
    cfg = BuildConfig(**{"images_per_unit": 2, "rows_per_shard": 40, **kw})
    return build(synth_dir / "annotations.json", synth_dir, out, cfg, executor=ex, progress=False)


def contents(out) -> dict:
    return {c: read_config_table(out, c).to_pylist() for c in ("objects", "qa", "rejects")}


def test_end_to_end_layout_and_loading(synth_dir, tmp_path):
    out = tmp_path / "out"
    info = _build(synth_dir, out)
    assert (out / "README.md").exists() and (out / "build_info.json").exists()
    assert not (out / ".staging").exists()
    qa_shards = sorted(p.name for p in (out / "qa").iterdir())
    n = len(qa_shards)
    assert n >= 2, "rows_per_shard=40 should split the questions"
    assert qa_shards == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    for config in ("objects", "qa", "rejects"):
        ds = datasets.load_dataset(str(out), config)
        assert ds["train"].num_rows == info["counts"][f"{config}_rows"]
    one = datasets.load_dataset("parquet", data_files=str(out / "qa" / qa_shards[0]), split="train")
    assert "messages" in one.features and one.num_rows > 0
    objs = datasets.load_dataset(str(out), "objects")["train"]
    assert objs.num_rows == 6
    rejects = datasets.load_dataset(str(out), "rejects")["train"]
    reasons = {(r["image_id"], r["annotation_id"]): r["reason"] for r in rejects}
    assert reasons[(999, None)] == "image_missing"
    assert "bad_bbox" in reasons.values()
    assert all(len(r["objects"]) > 0 for r in objs)

    # accounting: every input annotation ends in exactly one place
    gt = json.loads((synth_dir / "annotations.json").read_text())
    ids = [a["id"] for a in gt["annotations"]]
    lifted = [o["annotation_id"] for r in objs for o in r["objects"]]
    rej = [r["annotation_id"] for r in datasets.load_dataset(str(out), "rejects")["train"] if r["annotation_id"] is not None]
    assert sorted(lifted + rej) == sorted(ids)
    card = (out / "README.md").read_text()
    assert "config_name: qa" in card and "load_dataset" in card


def test_deterministic_and_resume(synth_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _build(synth_dir, a)
    _build(synth_dir, b)
    ca = contents(a)
    assert ca == contents(b)
    # an interrupted build: staging holds some finished units and one half-written unit
    c = tmp_path / "c"
    _build(synth_dir, c)
    from lift3d.output import UnitWriter
    w = UnitWriter(str(c), "train")
    # rebuild staging as if units 0 and 2 had finished, unit 1 crashed mid-write
    for config in ("objects", "qa", "rejects"):
        for p in (c / config).iterdir():
            p.unlink()
    from lift3d.io.coco import read_coco3d
    from lift3d.pipeline.run import make_units, run_stages
    from lift3d.build import make_stages

    cfg = BuildConfig(images_per_unit=2, rows_per_shard=40)
    units = make_units(read_coco3d(synth_dir / "annotations.json", synth_dir).records, 2)
    stages = make_stages(cfg)
    for s in stages:
        s.setup()
    for u in (units[0], units[2]):
        w.write_unit(u.unit_id, run_stages(stages, u.records))
    (c / ".staging" / "train" / "qa").mkdir(parents=True, exist_ok=True)
    (c / ".staging" / "train" / "qa" / "unit-000001.parquet.tmp").write_bytes(b"partial")
    info = build(synth_dir / "annotations.json", synth_dir, c, cfg, resume=True, progress=False)
    assert info["units"]["skipped_on_resume"] == 2 and info["units"]["run"] == len(units) - 2
    assert contents(c) == ca


def test_existing_split_needs_flag(synth_dir, tmp_path):
    out = tmp_path / "o"
    _build(synth_dir, out)
    with pytest.raises(UserError, match="--overwrite"):
        _build(synth_dir, out)
    cfg = BuildConfig(images_per_unit=2, rows_per_shard=40)
    build(synth_dir / "annotations.json", synth_dir, out, cfg, overwrite=True, progress=False)


def test_cli_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    env = dict(os.environ, LIFT3D_EXECUTOR="local")
    r = subprocess.run([sys.executable, "-m", "lift3d", "build", "--annotations", str(bad), "--images", str(tmp_path),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "malformed JSON" in r.stderr and "Traceback" not in r.stderr


def test_keep_depth_stores_uint16_png(synth_dir, tmp_path):
    import io

    import numpy as np
    from PIL import Image

    out = tmp_path / "kd"
    _build(synth_dir, out, keep_depth=True)
    objs = datasets.load_dataset(str(out), "objects")["train"].cast_column("depth", datasets.Image(decode=False))
    row = objs[0]
    depth = np.asarray(Image.open(io.BytesIO(row["depth"]["bytes"])))
    assert depth.dtype == np.uint16 and depth.shape == (row["height"], row["width"])
    src = json.loads((synth_dir / "annotations.json").read_text())
    img = next(i for i in src["images"] if i["id"] == row["image_id"])
    sensor = np.asarray(Image.open(synth_dir / img["depth_file"]))
    assert np.array_equal(depth, sensor)  # dataset depth in mm round-trips exactly
    plain = datasets.load_dataset(str(out), "objects")
    assert plain["train"].features["depth"] == datasets.Image()


def test_killed_build_resumes_to_the_same_dataset(synth_dir, tmp_path):
    """A real interruption: the build process is killed after its first finished unit, then resumed."""
    import signal
    import time

    ref = tmp_path / "ref"
    _build(synth_dir, ref)
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "lift3d", "build", "--annotations", str(synth_dir / "annotations.json"),
            "--images", str(synth_dir), "--out", str(out), "--executor", "local", "--images-per-unit", "2",
            "--rows-per-shard", "40", "--no-progress"]
    proc = subprocess.Popen(args)
    marker_dir = out / ".staging" / "train" / "stats"
    deadline = time.time() + 120
    while time.time() < deadline and not (marker_dir.exists() and any(marker_dir.glob("unit-*.json"))):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "README.md").exists(), "the build finished before it could be killed"
    r = subprocess.run(args + ["--resume"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    assert contents(out) == contents(ref)


def test_fsspec_uri_and_size_capped_shards(synth_dir, tmp_path):
    out = tmp_path / "uri"
    info = _build(synth_dir, f"file://{out}", rows_per_shard=100000, max_shard_mb=0.01)
    assert len(info["shards"]["qa"]["shards"]) > 1  # the size cap split what the row cap would not
    ds = datasets.load_dataset(str(out), "qa")["train"]
    assert ds.num_rows == info["counts"]["qa_rows"]


def _cli_build(synth_dir, out, executor, *extra, env=None):
    env = dict(os.environ, **(env or {}), RAY_AUTH_MODE="disabled", LIFT3D_RAY_NUM_CPUS="2")
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "lift3d", "build", "--annotations", str(synth_dir / "annotations.json"),
                           "--images", str(synth_dir), "--out", str(out), "--executor", executor, "--no-progress",
                           *extra], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("executor", ["local", "ray"])
@pytest.mark.parametrize("what", ["depth", "segmenter"])
def test_missing_weights_stop_the_build_with_one_line(synth_dir, tmp_path, executor, what):
    """Checked on the driver before any worker starts, whichever the executor: one line, exit 2."""
    extra = ["--depth", "da2-indoor-small"] if what == "depth" else ["--masks", "sam"]
    r = _cli_build(synth_dir, tmp_path / "o", executor, *extra,
                   env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert r.returncode == 2, r.stderr[-800:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    model = "Depth-Anything-V2-Metric-Indoor-Small-hf" if what == "depth" else "facebook/sam2.1-hiera-base-plus"
    assert len(lines) == 1 and model in lines[0] and "hf download" in lines[0], r.stderr[-800:]
    assert lines[0].startswith("lift3d build: error:")
    assert not (tmp_path / "o").exists()  # nothing started


def test_user_error_inside_a_ray_worker_is_one_line(synth_dir, tmp_path):
    """A problem only a worker sees (here: the local model predicts relative depth, found when it loads) reaches
    the user as the local executor's line and exit 2, not as an ActorDiedError traceback."""
    sys.path.insert(0, str(REPO / "tests" / "depth"))
    from tiny_depth_models import build_tiny_da

    model_dir = build_tiny_da(tmp_path / "relative_da", metric=False)
    local = _cli_build(synth_dir, tmp_path / "o_local", "local", "--depth", str(model_dir))
    remote = _cli_build(synth_dir, tmp_path / "o_ray", "ray", "--depth", str(model_dir))
    for r in (local, remote):
        assert r.returncode == 2, r.stderr[-1500:]
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("lift3d build: error:") and "relative depth" in last, r.stderr[-1500:]
        assert "Traceback" not in r.stderr and "ActorDiedError" not in r.stderr, r.stderr[-1500:]
    assert local.stderr.strip().splitlines()[-1] == remote.stderr.strip().splitlines()[-1]


def test_model_depth_build_with_a_local_tiny_model(synth_dir, tmp_path):
    """The real model path end to end: a tiny random Depth Anything saved locally, loaded by from_pretrained,
    with the processor on CPU workers (depth_preprocess="processor"); intrinsics stay the dataset's."""
    sys.path.insert(0, str(REPO / "tests" / "depth"))
    from tiny_depth_models import build_tiny_da

    model_dir = build_tiny_da(tmp_path / "tiny_da")
    out = tmp_path / "model_depth"
    info = _build(synth_dir, out, depth=str(model_dir), depth_preprocess="processor")
    objs = datasets.load_dataset(str(out), "objects")["train"]
    assert objs.num_rows == 6
    assert all(r["depth_source"] == str(model_dir) or r["depth_source"].endswith("tiny_da") for r in objs)
    assert all(r["depth_assumed_focal"] and r["intrinsics_source"] == "dataset" for r in objs)
    assert info["models"]["depth_assumed_focal"] is True


def test_depth_origin_model_treats_dataset_depth_as_model_depth(tmp_path):
    from lift3d.build import make_stages
    from lift3d.synth import CorruptionConfig

    def lift_cfg(**kw):
        return next(s for s in make_stages(BuildConfig(**kw)) if s.name == "lift").config

    assert not lift_cfg().scale_from_priors  # sensor depth files: metric, never rescaled
    sensor = lift_cfg(sensor_scale_sd=0.03)  # a poorly calibrated scale (log sd 0.03): fused with the cues
    assert sensor.scale_from_priors and sensor.scale.cues and sensor.scale.prior_std == 0.03
    assert sensor.scale.failure_prob == 0.0 and not sensor.depth_field and not sensor.crop.soft_edges
    assert lift_cfg(depth_origin="model").scale_from_priors and lift_cfg(depth_origin="model").depth_field
    d = tmp_path / "mono"
    generate(d, 3, 5, width=320, height=240, corruption=CorruptionConfig.monocular())
    out = {}
    for name, origin, sd in (("sensor", "sensor", 0.0), ("fused", "sensor", 0.03), ("model", "model", 0.0)):
        cfg = BuildConfig(images_per_unit=2, depth_origin=origin, sensor_scale_sd=sd)
        build(d / "annotations.json", d, tmp_path / name, cfg, executor="local", progress=False)
        out[name] = read_config_table(tmp_path / name, "objects").to_pylist()
    assert {r["depth_source"] for r in out["sensor"] + out["fused"]} == {"dataset"}
    assert {r["depth_source"] for r in out["model"]} == {"dataset-model"}
    assert all(r["depth_scale_factor"] == 1.0 and r["depth_scale_log_sigma"] == 0.0 for r in out["sensor"])
    # the sensor's own scale (sd 0.03) dominates the cues: a few per cent at most, and the sd no larger than its own
    assert all(abs(math.log(r["depth_scale_factor"])) < 0.05 for r in out["fused"])
    assert all(0 < r["depth_scale_log_sigma"] <= 0.0305 for r in out["fused"])
    assert min(r["depth_scale_log_sigma"] for r in out["model"]) > 0.05
    fused = (tmp_path / "fused" / "README.md").read_text()
    assert "log sd 0.03 fused with the size priors" in fused and "Uncertainty of each image's metric scale" in fused
    assert "fused with the size priors" not in (tmp_path / "sensor" / "README.md").read_text()
    assert any(abs(r["depth_scale_factor"] - 1.0) > 1e-3 for r in out["model"])  # rescaled from size priors
    card = (tmp_path / "model" / "README.md").read_text()
    assert "dataset-model" in card and "depth files from a depth model" in card
    info = json.loads((tmp_path / "model" / "build_info.json").read_text())
    assert info["splits"]["train"]["config"]["depth_origin"] == "model"


def test_cli_sensor_scale_sd_needs_sensor_dataset_depth(tmp_path):
    for extra in (["--depth-origin", "model", "--sensor-scale-sd", "0.03"], ["--sensor-scale-sd", "-1"]):
        r = subprocess.run([sys.executable, "-m", "lift3d", "build", "--annotations", "a.json", "--images", ".",
                            "--out", str(tmp_path / "o"), *extra], capture_output=True, text=True, cwd=REPO)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--sensor-scale-sd" in r.stderr


def test_cli_depth_origin_needs_dataset_depth(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lift3d", "build", "--annotations", "a.json", "--images", ".",
                        "--out", str(tmp_path / "o"), "--depth", "da2-indoor-small", "--depth-origin", "model"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--depth dataset" in r.stderr
