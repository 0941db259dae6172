"""Speed of the synthetic generator: wall and CPU time for N scenes, split by phase.

Run: ``.venv/bin/python benchmarks/bench_synth.py --scenes 40 --width 640 --height 480``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np

from lift3d.synth import CorruptionConfig, corrupt_depth, generate, make_scene, render
from lift3d.synth.dataset import scene_seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    args = ap.parse_args()

    # phases, in memory
    t_scene = t_render = t_corrupt = 0.0
    n_obj = 0
    for i in range(args.scenes):
        s_scene, s_tex, s_corr = scene_seed(args.seed, i).spawn(3)
        t0 = time.perf_counter()
        sc = make_scene(np.random.default_rng(s_scene), args.width, args.height)
        t1 = time.perf_counter()
        res = render(sc, np.random.default_rng(s_tex))
        t2 = time.perf_counter()
        corrupt_depth(res.depth, np.random.default_rng(s_corr), CorruptionConfig())
        t3 = time.perf_counter()
        t_scene, t_render, t_corrupt = t_scene + t1 - t0, t_render + t2 - t1, t_corrupt + t3 - t2
        n_obj += len(sc.objects)

    # end to end, with files
    out = tempfile.mkdtemp(prefix="bench_synth_")
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        ann = generate(out, args.scenes, args.seed, width=args.width, height=args.height)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
        n_ann = len(json.loads(open(ann).read())["annotations"])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    n = max(args.scenes, 1)
    print(json.dumps({
        "scenes": args.scenes, "size": [args.width, args.height], "objects": n_obj, "annotations": n_ann,
        "generate_wall_s": round(wall, 2), "generate_cpu_s": round(cpu, 2),
        "per_scene_ms": {"make_scene": round(1000 * t_scene / n, 1), "render": round(1000 * t_render / n, 1),
                         "corrupt": round(1000 * t_corrupt / n, 1),
                         "generate_total_cpu": round(1000 * cpu / n, 1)},
        "output_MB": round(size / 1e6, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
