"""A real two-node Ray cluster on loopback (head + worker started with `ray start`), a build submitted with
--ray-address; the output equals the local executor's. The cluster is torn down by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

from lift3d.synth import generate  # noqa: E402
from pipeline_runs import contents  # noqa: E402

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_node_loopback_cluster(tmp_path):
    synth = tmp_path / "synth"
    generate(synth, 4, 11, width=256, height=192)
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0", "--disable-usage-stats"]
    build_args = ["--annotations", str(synth / "annotations.json"), "--images", str(synth),
                  "--images-per-unit", "1", "--no-progress"]
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", *common],
                       check=True, env=env, timeout=180, capture_output=True)
        subprocess.run([RAY, "start", f"--address={addr}", *common], check=True, env=env, timeout=180,
                       capture_output=True)
        nodes = subprocess.run(
            [sys.executable, "-c", f"import ray; ray.init(address='{addr}', log_to_driver=False); "
             "print(sum(1 for n in ray.nodes() if n['Alive']))"],
            check=True, env=env, timeout=120, capture_output=True, text=True)
        assert nodes.stdout.strip().splitlines()[-1] == "2"
        r = subprocess.run([sys.executable, "-m", "lift3d", "build", *build_args, "--out", str(tmp_path / "ray"),
                            "--executor", "ray", "--ray-address", addr], env=env, timeout=300,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, timeout=120, capture_output=True)
    r = subprocess.run([sys.executable, "-m", "lift3d", "build", *build_args, "--out", str(tmp_path / "local"),
                        "--executor", "local"], env=env, timeout=300, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    ray_out, local_out = contents(tmp_path / "ray"), contents(tmp_path / "local")
    reasons = sorted({(r["stage"], r["reason"], r["detail"][:200]) for r in ray_out["rejects"]})
    assert ray_out == local_out, f"ray rejects: {reasons[:5]}"
