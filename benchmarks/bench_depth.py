"""Depth-stage throughput against a bare model-forward loop (the stage's overhead).

For each Depth Anything V2 size (Small / Base / Large) at a 518 px input:

* ``stage``: ``DepthStage.process`` on decoded 640x480 uint8 records (COCO-like), i.e. preprocessing on CPU
  threads, bucketing, host-to-device copy, forward, on-device resize back to 640x480, one copy back per batch,
  intrinsics policy, record fields;
* ``bare``: ``model(pixel_values)`` in a loop on a tensor already on the device, same model object, same batch
  size, dtype and input shape (518x686 for 640x480), synchronised once at the end.

The ratio stage/bare is the stage's efficiency (target on a GPU: >= 0.9). Weights: ``--weights random`` (default)
builds the full-size architecture from its config with random weights, saves it with save_pretrained and loads it
through the stage's from_pretrained path (speed depends on the architecture only); ``--weights hub`` loads the
real checkpoints (needs them in the HF cache).

    .venv/bin/python benchmarks/bench_depth.py                       # CPU, few images
    .venv/bin/python benchmarks/bench_depth.py --device cuda --images 256 --batch-size 16
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lift3d.depth import DepthConfig, DepthStage  # noqa: E402
from lift3d.depth.backends import DA2_IDS  # noqa: E402

# Depth Anything V2 architectures (DINOv2 ViT-S/B/L backbones + DPT heads), as in the released -hf configs.
ARCH = {
    "small": dict(hidden=384, heads=6, layers=12, out=[3, 6, 9, 12], neck=[48, 96, 192, 384], fusion=64),
    "base": dict(hidden=768, heads=12, layers=12, out=[3, 6, 9, 12], neck=[96, 192, 384, 768], fusion=128),
    "large": dict(hidden=1024, heads=16, layers=24, out=[5, 12, 18, 24], neck=[256, 512, 1024, 1024], fusion=256),
}
# Authors' figures (Depth Anything V1/V2 README, A100, 518x518): ms per image
AUTHORS_MS = {"small": 8, "base": 9, "large": 13}


def build_random_checkpoint(size: str, root: Path) -> Path:
    import json

    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    a = ARCH[size]
    bb = Dinov2Config(hidden_size=a["hidden"], num_attention_heads=a["heads"], num_hidden_layers=a["layers"],
                      intermediate_size=4 * a["hidden"], image_size=518, patch_size=14, out_indices=a["out"],
                      reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=bb, reassemble_hidden_size=a["hidden"], neck_hidden_sizes=a["neck"],
                              fusion_hidden_size=a["fusion"], head_hidden_size=32, depth_estimation_type="metric",
                              max_depth=20)
    path = root / f"da2-{size}"
    DepthAnythingForDepthEstimation(cfg).save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_rescale": True, "do_resize": True, "ensure_multiple_of": 14,
        "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "DPTImageProcessor",
        "image_std": [0.229, 0.224, 0.225], "keep_aspect_ratio": True, "resample": 3,
        "rescale_factor": 1 / 255, "size": {"height": 518, "width": 518},
    }))
    return path


def sync(device: str):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_one(source: str, args, n_images: int) -> dict:
    stage = DepthStage(DepthConfig(backend=source, device=args.device, batch_size=args.batch_size,
                                   dtype=args.dtype, input_size=args.input_size, num_workers=args.workers,
                                   preprocess=args.preprocess))
    t = time.perf_counter()
    stage.setup()
    load_s = time.perf_counter() - t
    b = stage.backend
    rng = np.random.default_rng(0)
    pool = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(min(n_images, 16))]

    def make_records(n):
        return [{"image_id": i, "rgb": pool[i % len(pool)], "K": None, "exif_focal_35mm": None,
                 "width": 640, "height": 480, "annotations": []} for i in range(n)]

    # bare loop input: same model, batch size, dtype and input shape, already on the device
    with torch.inference_mode():
        pv = b.preprocess(pool[: args.batch_size])
    shape = tuple(pv.shape[2:])

    def bare(n_batches):
        with torch.inference_mode(), b._autocast():
            for _ in range(n_batches):
                b.model(pixel_values=pv)
        sync(b.device)

    # warm-up (cudnn autotune, allocator) of both, then stage and bare loop interleaved call by call so that
    # load from other processes on a shared machine hits both alike
    stage.process(make_records(args.batch_size))
    bare(1)
    sync(b.device)
    recs = make_records(n_images)
    stage_s = bare_s = 0.0
    bare_images = 0
    for i in range(0, n_images, args.call_size):
        call = recs[i : i + args.call_size]
        t = time.perf_counter()
        stage.process(call)
        sync(b.device)
        stage_s += time.perf_counter() - t
        nb = max(1, round(len(call) / args.batch_size))
        t = time.perf_counter()
        bare(nb)
        bare_s += time.perf_counter() - t
        bare_images += nb * args.batch_size
    assert not any(r.get("failed") for r in recs), [r.get("rejects") for r in recs if r.get("failed")][:1]
    assert recs[0]["depth"].shape == (480, 640)
    # preprocessing alone (uint8 records -> model input on the device), wherever the mode runs it
    t = time.perf_counter()
    reps = max(1, n_images // args.batch_size)
    with torch.inference_mode():
        for _ in range(reps):
            b.preprocess(pool[: args.batch_size])
    sync(b.device)
    prep_ips = reps * args.batch_size / (time.perf_counter() - t)
    stage_ips = n_images / stage_s
    bare_ips = bare_images / bare_s
    return {"load_s": load_s, "prep_ips": prep_ips, "stage_ips": stage_ips, "bare_ips": bare_ips, "ratio": stage_ips / bare_ips,
            "input": f"{shape[0]}x{shape[1]}", "dtype": str(b.dtype).replace("torch.", ""), "device": b.device,
            "params_m": sum(p.numel() for p in b.model.parameters()) / 1e6}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto", help="auto = bf16 autocast on CUDA, fp32 on CPU")
    ap.add_argument("--models", default="small,base,large")
    ap.add_argument("--images", default=None,
                    help="images per model, one number or per model (e.g. 16,8,4); default 256 on CUDA, 4,4,2 on CPU")
    ap.add_argument("--batch-size", type=int, default=None, help="default 16 on CUDA, 2 on CPU")
    ap.add_argument("--call-size", type=int, default=None, help="records per stage.process call (default 4 batches)")
    ap.add_argument("--input-size", type=int, default=518)
    ap.add_argument("--workers", type=int, default=0, help="CPU preprocessing threads (0 = min(4, cores))")
    ap.add_argument("--weights", choices=["random", "hub"], default="random")
    ap.add_argument("--preprocess", choices=["auto", "torch", "processor"], default="auto",
                    help="Depth Anything preprocessing: torch (on the device, default) or the HF processor (CPU)")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda") or args.device.startswith("cuda:")
    args.device = "cuda" if args.device == "auto" and cuda else ("cpu" if args.device == "auto" else args.device)
    args.batch_size = args.batch_size or (16 if cuda else 2)
    # CPU: interleave stage and bare loop batch by batch (shared machines are noisy); GPU: 4 batches per call
    args.call_size = args.call_size or (4 * args.batch_size if cuda else args.batch_size)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.images is None:
        counts = [256] * len(models) if cuda else [{"small": 4, "base": 4, "large": 2}[m] for m in models]
    else:
        counts = [int(x) for x in args.images.split(",")]
        counts = counts * len(models) if len(counts) == 1 else counts

    dev_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else (
        f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads)")
    print(f"# bench_depth  torch {torch.__version__}  device: {dev_name}  batch {args.batch_size}  "
          f"input {args.input_size}px  weights: {args.weights}  preprocess: {args.preprocess}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, n in zip(models, counts):
            source = DA2_IDS[f"da2-indoor-{size}"] if args.weights == "hub" else str(
                build_random_checkpoint(size, Path(tmp)))
            r = bench_one(source, args, n)
            r.update(model=f"DA-V2 {size.capitalize()}", images=n)
            rows.append(r)
            print(f"  done {r['model']}: {r['stage_ips']:.2f} img/s", flush=True)
            if args.weights == "random":
                import shutil

                shutil.rmtree(source, ignore_errors=True)

    hdr = (f"{'model':14s}{'params':>8s}{'input':>9s}{'dtype':>10s}{'images':>7s}{'stage img/s':>13s}"
           f"{'bare img/s':>12s}{'ratio':>7s}{'stage ms/img':>14s}{'prep img/s':>12s}{'A100 ms (authors)':>19s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        size = r["model"].split()[-1].lower()
        print(f"{r['model']:14s}{r['params_m']:7.1f}M{r['input']:>9s}{r['dtype']:>10s}{r['images']:7d}"
              f"{r['stage_ips']:13.2f}{r['bare_ips']:12.2f}{r['ratio']:7.2f}{1000 / r['stage_ips']:14.1f}"
              f"{r['prep_ips']:12.1f}"
              f"{AUTHORS_MS[size]:19d}")
    return rows


if __name__ == "__main__":
    main()
