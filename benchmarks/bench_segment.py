"""Segment-stage benchmark (issue 9).

1. Throughput: the SegmentStage (preprocess, one encoding per image, batched box decoding, upsampling, depth
   agreement check) in images/s and boxes/s, against a bare model loop (get_image_embeddings + mask decoder
   on the same boxes, no upsampling, no check). ``--model`` picks the segmenter (default: the stage default;
   ``--tiny`` builds a tiny random SAM in a temp dir, for machines without weights; ``--weights random``, the
   default, builds the named SAM 2.1 size's full architecture with random weights, saves it and loads it through
   the stage's from_pretrained path: speed depends on the architecture only; ``--weights hub`` loads the real
   checkpoint from the HF cache).
2. Mask quality: on synthetic box-only scenes, lift every object with the synthetic ground-truth masks (a
   perfect segmenter) and with no mask (depth separation), and compare the 3D boxes with the GT.

    python benchmarks/bench_segment.py --tiny --images 8 --quality-scenes 20
    python benchmarks/bench_segment.py --model sam2.1-hiera-base-plus --device cuda --images 64   # GPU box
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synth_records(n: int, seed: int, width: int, height: int, masks: bool, workdir: Path) -> tuple[list, Path]:
    from lift3d.depth import DepthConfig, DepthStage
    from lift3d.io.coco import read_coco3d
    from lift3d.io.decode import DecodeStage
    from lift3d.synth import generate

    ann = generate(workdir, n, seed, width=width, height=height, masks=masks)
    inp = read_coco3d(ann, workdir)
    recs = inp.records
    DecodeStage(need_dataset_depth=True).process(recs)
    DepthStage(DepthConfig(backend="dataset")).process(recs)
    return [r for r in recs if not r.get("failed")], workdir / "gt_boxes.json"


# SAM 2.1 Hiera image encoders as in the released configs (sam2.1_hiera_{t,s,b+,l}.yaml): width and heads of the
# first stage (doubled at each of the 4 stages), blocks per stage, global-attention blocks, window sizes per stage,
# background size of the windowed position embedding. Prompt encoder and mask decoder are the same for all sizes.
SAM21_ARCH = {
    "tiny": dict(dim=96, heads=1, blocks=[1, 2, 7, 2], glob=[5, 7, 9], win=[8, 4, 14, 7], bg=[7, 7]),
    "small": dict(dim=96, heads=1, blocks=[1, 2, 11, 2], glob=[7, 10, 13], win=[8, 4, 14, 7], bg=[7, 7]),
    "base-plus": dict(dim=112, heads=2, blocks=[2, 3, 16, 3], glob=[12, 16, 20], win=[8, 4, 14, 7], bg=[14, 14]),
    "large": dict(dim=144, heads=2, blocks=[2, 6, 36, 4], glob=[23, 33, 43], win=[8, 4, 16, 8], bg=[7, 7]),
}


def build_random_sam21(size: str, root: Path) -> Path:
    """The full-size SAM 2.1 ``size`` architecture with random weights, saved where from_pretrained can load it."""
    import torch
    import transformers as t

    a = SAM21_ARCH[size]
    dims = [a["dim"] * 2**i for i in range(4)]
    bb = t.Sam2HieraDetConfig(hidden_size=a["dim"], num_attention_heads=a["heads"], blocks_per_stage=a["blocks"],
                              embed_dim_per_stage=dims, num_attention_heads_per_stage=[a["heads"] * 2**i for i in range(4)],
                              window_size_per_stage=a["win"], global_attention_blocks=a["glob"],
                              window_positional_embedding_background_size=a["bg"])
    torch.manual_seed(0)
    model = t.Sam2Model(t.Sam2Config(vision_config=dict(backbone_config=bb, backbone_channel_list=dims[::-1])))
    path = root / f"sam2.1-hiera-{size}-random"
    model.save_pretrained(path)
    return path


def throughput(args, recs) -> dict:
    import torch

    from lift3d.segment import SegmentConfig, SegmentStage

    model = args.model
    if args.tiny:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "segment"))
        from conftest import tiny_model

        d = Path(tempfile.mkdtemp(prefix="tiny_sam_"))
        tiny_model("sam").save_pretrained(d)
        model = str(d)
    elif args.weights == "random":
        size = model.removeprefix("sam2.1-hiera-")
        if size not in SAM21_ARCH:
            raise SystemExit(f"--weights random builds sam2.1-hiera-{{{','.join(SAM21_ARCH)}}}, not {model!r}")
        model = str(build_random_sam21(size, Path(tempfile.mkdtemp(prefix="sam21_"))))
    st = SegmentStage(SegmentConfig(masks="sam", model=model, device=args.device))
    st.setup()
    seg = st.segmenter
    n_boxes = sum(len(r["annotations"]) for r in recs)

    def fresh():
        return [{**r, "annotations": [{**a, "mask": None} for a in r["annotations"]]} for r in recs]

    st.process(fresh()[:2])  # warm-up
    sync = torch.cuda.synchronize if seg.device.type == "cuda" else (lambda: None)
    rs = fresh()
    sync()
    t0 = time.perf_counter()
    st.process(rs)
    sync()
    t_stage = time.perf_counter() - t0
    kept = sum(a["mask_source"] == "sam" for r in rs for a in r["annotations"])

    # bare loop: the same encoder + decoder calls, no upsampling / thresholding / check
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if seg.autocast else torch.no_grad()
    sync()
    t0 = time.perf_counter()
    with torch.inference_mode(), ctx:
        for r in recs:
            H, W = r["rgb"].shape[:2]
            pv, hw = seg.preprocess(r["rgb"])
            emb = seg.model.get_image_embeddings(pv)
            extra = {}
            if seg.family == "sam_hq":
                emb, extra["intermediate_embeddings"] = emb
            b = torch.from_numpy(seg._boxes(np.array([a["bbox2d"] for a in r["annotations"]]), H, W, hw))[None]
            if b.shape[1]:
                seg.model(image_embeddings=emb, input_boxes=b.to(seg.device), multimask_output=True, **extra)
    sync()
    t_bare = time.perf_counter() - t0
    return {
        "model": ("tiny random SAM (tests/segment/conftest.py)" if args.tiny else
                  f"{args.model} ({args.weights} weights, {sum(p.numel() for p in seg.model.parameters()) / 1e6:.1f}M params)"),
        "device": str(seg.device), "images": len(recs), "boxes": n_boxes,
        "stage_images_per_s": round(len(recs) / t_stage, 2), "stage_boxes_per_s": round(n_boxes / t_stage, 1),
        "bare_images_per_s": round(len(recs) / t_bare, 2), "bare_boxes_per_s": round(n_boxes / t_bare, 1),
        "stage_over_bare_time": round(t_stage / t_bare, 2), "masks_kept_by_check": kept,
    }


def quality(args, recs, gt_path) -> dict:
    from lift3d.evaluate import evaluate_predictions, load_gt
    from lift3d.lift import lift_image

    gt = load_gt(gt_path)
    out = {}
    for mode in ("gt_masks", "depth_only"):
        preds = {}
        for r in recs:
            anns = [{**a, "mask": (a["mask"] if mode == "gt_masks" else None)} for a in r["annotations"]]
            res = lift_image(r["depth"], r["K"], anns, r.get("gravity"), None, image_id=r["image_id"])
            preds[r["image_id"]] = res.objects
        s = evaluate_predictions(preds, {k: v for k, v in gt.items() if k in preds})["overall"]
        out[mode] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sam2.1-hiera-base-plus")
    ap.add_argument("--tiny", action="store_true", help="a tiny random SAM instead of real weights")
    ap.add_argument("--weights", choices=["random", "hub"], default="random",
                    help="random: the named SAM 2.1 size's architecture with random weights; hub: real weights")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--quality-scenes", type=int, default=20)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args(argv)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput and args.images > 0:
            recs, _ = synth_records(args.images, args.seed, args.width, args.height, False, Path(tmp) / "thr")
            result["throughput"] = throughput(args, recs)
        if args.quality_scenes > 0:
            recs, gt = synth_records(args.quality_scenes, args.seed + 1, args.width, args.height, True, Path(tmp) / "q")
            result["quality"] = quality(args, recs, gt)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
