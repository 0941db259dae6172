"""The generated dataset card (``OUT/README.md``): YAML ``configs`` + ``dataset_info`` and a readable body.

Everything in it comes from ``build_info.json`` and the written shards, so it is regenerated after every
build (all splits present in the folder are listed).
"""

from __future__ import annotations

import posixpath

import pyarrow.parquet as pq
from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

from lift3d import schema
from lift3d.output import SCALE_SIGMA_BINS, fs_and_root

LIMITATIONS = [
    "Boxes are lifted from depth (sensor or monocular model) and 2D annotations: they inherit the depth's "
    "scale error and the masks' bleed. `quality` and `flags` say how far each box can be trusted.",
    "The unseen back of an object is completed from category size priors (flag `amodal_completed`).",
    "A box-only object lifted onto the surface of another annotated object that covers most of its 2D box "
    "(flag `shared_surface`) may be hidden behind it: its distance is only a lower bound, and no question is asked "
    "about it.",
    "On model depth, an object about as thin as the depth map's soft edges (flag `blended`) has no depth of its "
    "own: what is read on it is mostly its surroundings', so no distance, depth order, number or box rests on it.",
    "Relations are only asked when their margin exceeds the boxes' uncertainty; near-ties are skipped, so the "
    "corpus under-represents hard, close cases.",
    "Depth from a model whose metric scale assumes a focal length not read from the image is flagged "
    "(`depth_assumed_focal`).",
]


def _split_rows(fs, root: str, config: str) -> dict[str, tuple[int, int]]:
    d = posixpath.join(root, config)
    out: dict[str, list[int]] = {}
    if not fs.exists(d):
        return {}
    for p in sorted(fs.ls(d, detail=False)):
        base = posixpath.basename(p)
        if not base.endswith(".parquet") or "-of-" not in base:
            continue
        split = base.rsplit("-", 3)[0]
        with fs.open(p, "rb") as f:
            md = pq.ParquetFile(f).metadata
        acc = out.setdefault(split, [0, 0])
        acc[0] += md.num_rows
        acc[1] += sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    return {k: (v[0], v[1]) for k, v in out.items()}


def _table(title: str, counts: dict, limit: int = 40) -> list[str]:
    if not counts:
        return [f"**{title}**: none", ""]
    lines = [f"| {title} | count |", "|---|---|"]
    for k, v in list(counts.items())[:limit]:
        lines.append(f"| {k} | {v} |")
    if len(counts) > limit:
        lines.append(f"| ... {len(counts) - limit} more | |")
    return lines + [""]


def _embed_format(cfg: dict) -> str:
    fmt = cfg.get("embed_images_format") or "original"
    if fmt == "jpeg":
        return f"re-encoded as JPEG, quality {cfg.get('jpeg_quality')}"
    return "re-encoded as PNG" if fmt == "png" else "the source files' bytes"


def card_yaml(fs, root: str) -> tuple[str, dict]:
    infos = {}
    configs = []
    per_config = {}
    for config in schema.CONFIG_NAMES:
        splits = _split_rows(fs, root, config)
        per_config[config] = splits
        sd = SplitDict()
        for split, (n, nbytes) in splits.items():
            sd.add(SplitInfo(name=split, num_examples=n, num_bytes=nbytes))
        infos[config] = DatasetInfo(features=schema.features(config), splits=sd, config_name=config)
        configs.append({
            "config_name": config,
            "data_files": [{"split": s, "path": f"{config}/{s}-*.parquet"} for s in splits],
        })
    cd = DatasetCardData()
    DatasetInfosDict(infos).to_dataset_card_data(cd)
    cd["configs"] = configs
    cd["license"] = None
    cd["task_categories"] = ["visual-question-answering", "object-detection"]
    cd["tags"] = ["3d-grounding", "spatial-reasoning", "lift3d"]
    return cd.to_yaml(), per_config


def render_card(out: str, info: dict) -> str:
    fs, root = fs_and_root(out)
    yaml, per_config = card_yaml(fs, root)
    lines = [
        "---", yaml.strip(), "---", "",
        "# lift3d corpus: 3D grounding and spatial reasoning",
        "",
        "Built by lift3d from 2D annotations and metric depth, following the N3D-VLM "
        "recipe: every 2D box or mask is lifted to a metric 3D oriented box, and every question's answer is "
        "computed from those boxes. Camera frame: x right, y down, z forward, metres; boxes as centre, "
        "dimensions (w, h, l) and rotation object->camera.",
        "",
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
        f'path = "{out}"  # this folder (or its Hub id once uploaded)',
        'objects = load_dataset(path, "objects")  # one row per image, with its 3D boxes',
        'qa = load_dataset(path, "qa")            # one row per question (messages column for TRL)',
        'rejects = load_dataset(path, "rejects")  # what was rejected, with reason codes',
        "```",
        "",
        "## Contents",
        "",
        "| config | split | rows |",
        "|---|---|---|",
    ]
    empty = []
    for config, splits in per_config.items():
        for split, (n, _) in splits.items():
            lines.append(f"| {config} | {split} | {n} |")
            if n == 0:
                empty.append(f"{config}/{split}")
    lines.append("")
    if empty:
        lines += [f"Empty: {', '.join(empty)}. Their Parquet shards exist (readable with pyarrow/pandas), but "
                  "`datasets` 5.x cannot load a split with no rows (huggingface/datasets#8401).", ""]
    for split, s in sorted(info.get("splits", {}).items()):
        st = s.get("stats", {})
        cfg = s.get("config", {})
        lines += [
            f"## Split `{split}`",
            "",
            f"- Source: {cfg.get('source_name') or s.get('input', {}).get('annotations')}"
            f" (licence: {cfg.get('source_license') or 'see the source dataset'})",
            f"- Input: {st.get('input_images', 0)} images, {st.get('input_annotations', 0)} annotations; "
            f"output: {st.get('images_out', 0)} images, {st.get('objects', 0)} objects, {st.get('qa', 0)} questions; "
            f"{st.get('image_rejects', 0)} image rejects, {st.get('annotation_rejects', 0)} annotation rejects.",
            f"- Depth: `{cfg.get('depth')}`"
            + (" (depth files from a depth model: treated as model depth, scale from size priors)"
               if cfg.get("depth_origin") == "model" else
               f" (sensor depth, its scale of log sd {cfg.get('sensor_scale_sd')} fused with the size priors)"
               if (cfg.get("sensor_scale_sd") or 0) > 0 and cfg.get("depth") == "dataset" else "")
            + "; images whose depth scale assumes a focal length: "
            f"{st.get('depth_assumed_focal', 0)}.",
            f"- Seed {cfg.get('seed')}, masks `{cfg.get('masks')}`, executor `{s.get('executor')}`.",
            (f"- Images: embedded (`objects.image`, `qa.images` one per image placeholder; "
             f"{_embed_format(cfg)}): `load_dataset(..., 'qa')` feeds TRL's SFTTrainer as it is."
             if cfg.get("embed_images") else
             "- Images: not embedded (`file_name` is relative to the source image folder; rebuild with "
             "`--embed-images` to carry them)."),
        ]
        cov = s.get("priors_coverage")
        if cov:  # how the source's categories reach a size prior (lift3d/lift/priors.py: resolve)
            lines.append(f"- Size priors for the {cov.get('categories', 0)} `{s.get('input', {}).get('format')}` "
                         f"categories: {cov.get('direct', 0)} direct, {cov.get('synonym', 0)} by synonym, "
                         f"{cov.get('fallback', 0)} through the fallback hierarchy (wider spread), "
                         f"{cov.get('head_noun', 0)} by head noun, {cov.get('none', 0)} without a prior.")
        lines.append("")
        lines += _table("depth source", st.get("depth_sources", {}))
        lines += _table("intrinsics source", st.get("intrinsics_sources", {}))
        lines += _table("gravity source", st.get("gravity_sources", {}))
        lines += _table("mask source", st.get("mask_sources", {}))
        lines += _table("category", st.get("categories", {}))
        lines += _table("question type", st.get("question_types", {}))
        lines += _table("reject (stage:reason)", st.get("reject_reasons", {}))
        lines += _table("questions skipped (guard)", st.get("qa_skipped", {}))
        sig = st.get("scale_sigma_hist")
        if sig and any(sig):
            edges = (0.0,) + SCALE_SIGMA_BINS
            names = [f"{a:.2f}-{b:.2f}" for a, b in zip(edges, edges[1:])] + [f"> {edges[-1]:.2f}"]
            lines += ["Uncertainty of each image's metric scale (sd of log scale, `depth_scale_log_sigma`; model "
                      "depth's distance and box questions are asked only below ~0.11, heights and other lengths "
                      "across the line of sight by the smaller sd of the lateral scale, which the size cues read "
                      "directly). Each object states its own: `distance_log_sigma`, `height_log_sigma`.", "",
                      "| scale sd | images |", "|---|---|"]
            lines += [f"| {n} | {c} |" for n, c in zip(names, sig)] + [""]
        hist = st.get("quality_hist")
        if hist:
            lines += ["| quality | objects |", "|---|---|"]
            lines += [f"| {i / 10:.1f}-{(i + 1) / 10:.1f} | {n} |" for i, n in enumerate(hist)] + [""]
    models = {}
    for s in info.get("splits", {}).values():
        models.update(s.get("models") or {})
    if models:
        lines += ["## Models and assumptions", ""]
        lines += [f"- `{k}`: {v}" for k, v in models.items() if v not in (None, "")] + [""]
    versions = info.get("versions", {})
    lines += ["## Software", "", ", ".join(f"{k} {v}" for k, v in versions.items() if v), "",
              "## Known limitations", ""]
    lines += [f"- {x}" for x in LIMITATIONS] + [""]
    lines += ["Field reference: `schemas/FIELDS.md` in the lift3d repository; question types: "
              "`schemas/question_types.md`.", ""]
    return "\n".join(lines)


def write_card(out: str, info: dict) -> str:
    fs, root = fs_and_root(out)
    text = render_card(out, info)
    with fs.open(posixpath.join(root, "README.md"), "wb") as f:
        f.write(text.encode())
    return text
