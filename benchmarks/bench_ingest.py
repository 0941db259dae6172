"""Streaming ingest at Objects365 scale: time, peak memory, and the build driver's memory (issue 23).

For each size N (images; 15 boxes each, Objects365-shaped: ``isfake``/``isreflected``/``iscrowd``/``area``,
365 categories, file names ``objects365_v2_NNNNNNNN.jpg``) the script

1. writes the JSON (streamed; not measured),
2. ``ingest``: runs ``lift3d ingest --format objects365`` in a fresh child process and reports wall time,
   its CPU time (the child is one single-threaded process: annotations per CPU-second is the one-core rate,
   which a shared machine's load does not inflate the way it inflates wall time) and its peak RSS (``ru_maxrss``),
3. ``driver``: in a fresh child, the build driver's work on the manifest — open it, plan the work units and
   build the unit descriptions the Ray executor ships (``pickle`` of each unit) — and its peak RSS,
4. ``json-reader`` (``--old``): for comparison, the former path's driver cost, ``read_coco3d`` of the whole JSON
   plus ``make_units`` (peak RSS of a fresh child),
5. ``raybuild`` (``--ray-build``): ``lift3d build --executor ray`` from the manifest in a fresh child (the
   driver; Ray's workers are other processes): Ray Data reads the shards, the images do not exist so every
   record is rejected at decode (the driver's work per unit is the same as in a real build) — peak RSS,
6. ``stream`` (``--stream N``): the local executor's loop over the first N units of the manifest with a no-op
   stage and a discarding sink (each unit reads its rows where it runs) — peak RSS.

    .venv/bin/python benchmarks/bench_ingest.py --sizes 100000,400000 --old 100000 --stream 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_objects365(path: Path, n_images: int, boxes: int = 15, seed: int = 0) -> int:
    rng = random.Random(seed)
    k = 0
    with open(path, "w") as f:
        f.write('{"images": [')
        for i in range(n_images):
            f.write(("," if i else "") + json.dumps({"height": 512, "id": i + 1, "license": 5, "width": 683,
                                                      "file_name": f"images/v2/patch{i % 50}/objects365_v2_{i + 1:08d}.jpg",
                                                      "url": ""}))
        f.write('], "annotations": [')
        for i in range(n_images):
            for _ in range(boxes):
                x, y = rng.uniform(0, 600), rng.uniform(0, 440)
                w, h = rng.uniform(4, 683 - x), rng.uniform(4, 512 - y)
                f.write(("," if k else "") + json.dumps({
                    "id": k + 1, "iscrowd": 0, "isfake": int(rng.random() < 0.01),
                    "isreflected": int(rng.random() < 0.01), "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                    "image_id": i + 1, "area": round(w * h, 2), "category_id": rng.randint(1, 365)}))
                k += 1
        f.write('], "categories": [' + ",".join(json.dumps({"id": c, "name": f"category {c}",
                                                             "supercategory": "x"}) for c in range(1, 366)))
        f.write('], "licenses": [{"id": 5, "name": "CC BY 4.0", "url": ""}]}')
    return k


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
mode, args = sys.argv[1], json.loads(sys.argv[2])
t0 = time.perf_counter()
out = {{}}
if mode == "ingest":
    from lift3d.io.ingest import ingest
    meta = ingest("objects365", [args["json"]], args["manifest"], tmp_dir=args["tmp"], overwrite=True)
    out["records"] = meta["records"]
    out["annotations"] = meta["input_annotations"]
    out["partitions"] = meta["partitions"]
elif mode == "driver":
    import pickle
    from lift3d.io.manifest import manifest_units, open_manifest
    man = open_manifest(args["manifest"])
    units = manifest_units(man, 64, args["tmp"])
    payload = [{{"unit_id": u.unit_id, "payload": pickle.dumps(u)}} for u in units]
    out["units"] = len(units)
    out["payload_bytes"] = sum(len(p["payload"]) for p in payload)
elif mode == "old":
    from lift3d.io.coco import read_coco3d
    from lift3d.pipeline.run import make_units
    inp = read_coco3d(args["json"], args["tmp"])
    out["units"] = len(make_units(inp.records, 64))
elif mode == "stream":
    from lift3d.io.manifest import manifest_units, open_manifest
    from lift3d.pipeline.executors import LocalExecutor
    from lift3d.pipeline.stage import Stage

    class Noop(Stage):
        name = "noop"
        def process_record(self, r):
            return r

    class Null:
        n = 0
        def write_unit(self, unit_id, records):
            Null.n += len(records)
            return {{}}

    units = manifest_units(open_manifest(args["manifest"]), 64, args["tmp"])[: args["units"]]
    LocalExecutor(progress=False).run([Noop()], units, Null())
    out["images"] = Null.n
elif mode == "raybuild":
    import os
    os.environ.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", LIFT3D_RAY_NUM_CPUS="2")
    os.environ.pop("RAY_ADDRESS", None)
    from lift3d.build import BuildConfig, build
    info = build(args["manifest"], args["tmp"], args["out"], BuildConfig(), executor="ray", overwrite=True,
                 progress=False)
    out["units"] = info["units"]["run"]
    out["rows_read"] = info["units"]["rows_read"]
    out["rejects"] = info["counts"]["rejects_rows"]
out["seconds"] = round(time.perf_counter() - t0, 2)
ru = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_seconds"] = round(ru.ru_utime + ru.ru_stime, 2)
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(out))
"""


def child(mode: str, **args) -> dict:
    code = CHILD.format(repo=str(REPO))
    r = subprocess.run([sys.executable, "-c", code, mode, json.dumps(args)], capture_output=True, text=True,
                       cwd=REPO)
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,400000", help="image counts (15 boxes each)")
    ap.add_argument("--old", default="", help="sizes at which to also measure the former whole-JSON reader")
    ap.add_argument("--stream", type=int, default=0, help="units to stream through the local executor (0: skip)")
    ap.add_argument("--ray-build", action="store_true",
                    help="also run lift3d build --executor ray from the manifest (2 CPUs; the images do not exist, "
                         "so every record is rejected at decode) and report the driver's peak RSS")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    old = {int(x) for x in a.old.split(",") if x}
    print(f"# bench_ingest  {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    for n in [int(x) for x in a.sizes.split(",")]:
        js = work / f"o365-{n}.json"
        t = time.perf_counter()
        n_ann = write_objects365(js, n)
        size_mb = js.stat().st_size / 2**20
        print(f"\n## {n} images x 15 = {n_ann} boxes, {size_mb:.0f} MB JSON (written in {time.perf_counter() - t:.0f} s)")
        man = work / f"m-{n}"
        r = child("ingest", json=str(js), manifest=str(man), tmp=str(work))
        print(f"ingest: {r['seconds']} s wall, {r['cpu_seconds']} s CPU (one process, one core): "
              f"{r['annotations'] / r['cpu_seconds']:.0f} annotations per CPU-second "
              f"({r['annotations'] / r['seconds']:.0f}/s wall), peak RSS {r['peak_rss_mb']} MB "
              f"({r['records']} records, {r['partitions']} partitions)")
        d = child("driver", manifest=str(man), tmp=str(work))
        print(f"build driver (open manifest, plan {d['units']} units, unit descriptions "
              f"{d['payload_bytes'] / 2**20:.1f} MB): {d['seconds']} s, peak RSS {d['peak_rss_mb']} MB")
        if n in old:
            o = child("old", json=str(js), tmp=str(work))
            print(f"former driver (read_coco3d whole JSON + make_units): {o['seconds']} s, peak RSS {o['peak_rss_mb']} MB")
        if a.stream:
            s = child("stream", manifest=str(man), tmp=str(work), units=a.stream)
            print(f"local executor over {s['images']} images ({a.stream} units, no-op stage): {s['seconds']} s, "
                  f"peak RSS {s['peak_rss_mb']} MB")
        if a.ray_build:
            b = child("raybuild", manifest=str(man), tmp=str(work), out=str(work / f"out-{n}"))
            print(f"Ray build from the manifest ({b['units']} units, rows read {b['rows_read']}, "
                  f"{b['rejects']} reject rows): {b['seconds']} s, driver peak RSS {b['peak_rss_mb']} MB")
        js.unlink()
        import shutil

        shutil.rmtree(man, ignore_errors=True)


if __name__ == "__main__":
    main()
