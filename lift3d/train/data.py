"""Corpus -> training samples.

A *sample* is a plain dict: ``id``, ``image_id``, ``file_name``, ``width``, ``height``, ``K``, ``gravity``,
``task`` (``detect`` | ``ground`` | ``qa``), ``question_type``, ``prompt`` (user text), ``target``
(assistant text), and the scoring fields of a QA row (``answer_form``, ``answer_value``, ``answer_unit``,
``choices``) so every sample can be scored with :func:`lift3d.qa.scoring.score_row`.

* ``objects`` rows become localisation conversations (N3D stage 1): one detection sample per image
  ("detect all 3D boxes" -> every box) and one grounding sample per category (a unique category -> a
  single box, a repeated one -> "locate all").
* ``qa`` rows become reasoning conversations from their ``messages`` column (N3D stage 2).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from lift3d.errors import UserError
from lift3d.model.config import ModelConfig
from lift3d.qa.serialize import box_record, format_boxes

STAGES = ("localization", "reasoning", "all")


class Corpus:
    """One split of a built corpus: ``objects`` and ``qa`` datasets plus where the images are."""

    def __init__(self, data: str, split: str = "train", images: str | None = None):
        import datasets

        self.data, self.split = data, split
        self.info = _build_info(data)
        try:
            self.objects = datasets.load_dataset(data, "objects", split=split)
        except ValueError as exc:
            raise UserError(f"{data}: no split {split!r} in the objects config ({exc}); "
                            "build it with lift3d build --split") from None
        except (FileNotFoundError, OSError) as exc:
            raise UserError(f"{data}: cannot load the corpus ({type(exc).__name__}: {exc})") from None
        try:
            self.qa = datasets.load_dataset(data, "qa", split=split)
        except ValueError:
            self.qa = None
        inp = (self.info.get("splits", {}).get(split, {}) or {}).get("input", {})
        self.image_root = images or inp.get("images")
        self.annotations = inp.get("annotations")
        # A corpus built with --embed-images carries its images (objects.image): no image folder needed, e.g.
        # for a copy loaded from the Hub. --images still wins when given.
        self._embedded: dict[int, int] = {}
        if "image" in self.objects.column_names and not images:
            stored = self.objects.select_columns(["image_id", "image"]).cast_column(
                "image", datasets.Image(decode=False))
            self._embedded = {int(r["image_id"]): i for i, r in enumerate(stored)
                              if r["image"] is not None and r["image"].get("bytes")}
            self._stored = stored
        if not self.image_root and not self._embedded:
            raise UserError(f"{data}: build_info.json does not say where the {split} images are and the corpus has "
                            "no embedded images (lift3d build --embed-images); pass --images")
        keys = ("image_id", "file_name", "width", "height", "K", "gravity", "objects")
        self.images = {int(r["image_id"]): {k: r[k] for k in keys}
                       for r in self.objects.select_columns(list(keys))}
        self._depth_files = None

    def image_path(self, file_name: str) -> str:
        return os.path.join(self.image_root, file_name)

    def open_image(self, image_id: int, file_name: str):
        """The RGB image as a PIL image: the embedded bytes when the corpus has them, else the file."""
        import io

        from PIL import Image

        i = self._embedded.get(int(image_id))
        if i is not None:
            src = io.BytesIO(self._stored[i]["image"]["bytes"])
        else:
            src = self.image_path(file_name)
        with Image.open(src) as im:
            return im.convert("RGB")

    def depth_file(self, image_id: int) -> tuple[str, float] | None:
        """(path, depth_scale) of the source depth map of an image, from the source annotations JSON."""
        if self._depth_files is None:
            self._depth_files = {}
            if self.annotations and self.image_root and os.path.exists(self.annotations):
                with open(self.annotations) as f:
                    src = json.load(f)
                for im in src.get("images", []):
                    if im.get("depth_file"):
                        self._depth_files[int(im["id"])] = (self.image_path(im["depth_file"]),
                                                            float(im.get("depth_scale", 1000.0)))
        return self._depth_files.get(int(image_id))


def _build_info(data: str) -> dict:
    p = Path(data) / "build_info.json"
    if p.exists():
        return json.loads(p.read_text())
    if os.path.isdir(data):
        return {}
    try:  # a Hub dataset id
        from huggingface_hub import hf_hub_download
        return json.loads(Path(hf_hub_download(data, "build_info.json", repo_type="dataset")).read_text())
    except Exception:  # noqa: BLE001 - no build_info: the caller needs --images
        return {}


def _image_fields(img: dict) -> dict:
    return {"image_id": int(img["image_id"]), "file_name": img["file_name"], "width": int(img["width"]),
            "height": int(img["height"]), "K": list(img["K"]), "gravity": img.get("gravity")}


def _records(objs) -> list[dict]:
    return [box_record(o["category"], o["center_cam"], o["dimensions"], o["yaw"]) for o in objs]


def localization_samples(corpus: Corpus, cfg: ModelConfig, detect: bool = True, ground: bool = True) -> list[dict]:
    out = []
    for img in corpus.images.values():
        objs = sorted(img["objects"], key=lambda o: (o["center_cam"][0], o["center_cam"][2]))
        if not objs:
            continue
        base = _image_fields(img)
        K, W, H = img["K"], img["width"], img["height"]

        def mk(task, qtype, prompt, recs, idx):
            return {**base, "id": f"{img['image_id']}-{task}-{idx}", "task": task, "question_type": qtype,
                    "prompt": prompt, "target": format_boxes(cfg.box_format, recs, K, W, H),
                    "answer_form": "boxes", "answer_value": json.dumps(recs), "answer_unit": None, "choices": []}

        if detect:
            out.append(mk("detect", "loc_detect", cfg.detect_prompt, _records(objs), 0))
        if ground:
            cats: dict[str, list] = {}
            for o in objs:
                cats.setdefault(o["category"], []).append(o)
            for i, (cat, group) in enumerate(sorted(cats.items())):
                name = cat.replace("_", " ")
                if len(group) == 1:
                    out.append(mk("ground", "loc_ground_single", cfg.ground_prompt.format(category=name),
                                  _records(group), i))
                else:
                    out.append(mk("ground", "loc_ground_multi", cfg.ground_all_prompt.format(category=name),
                                  _records(group), i))
    return out


def _text(content) -> str:
    return "".join(c.get("text") or "" for c in content if c.get("type") == "text")


def qa_samples(corpus: Corpus, cfg: ModelConfig) -> list[dict]:
    if corpus.qa is None:
        return []
    out = []
    for r in corpus.qa:
        img = corpus.images.get(int(r["image_id"]))
        if img is None:
            continue
        msgs = r["messages"]
        prompt = _text(msgs[0]["content"]) if msgs else r["question"]
        target = _text(msgs[1]["content"]) if len(msgs) > 1 else r["answer"]
        if not cfg.reasoning and "</think>" in target:
            target = target.split("</think>", 1)[1]
        out.append({**_image_fields(img), "id": r["id"], "task": "qa", "question_type": r["question_type"],
                    "prompt": prompt, "target": target, "answer_form": r["answer_form"],
                    "answer_value": r["answer_value"], "answer_unit": r["answer_unit"],
                    "choices": list(r["choices"] or [])})
    return out


def stage_samples(corpus: Corpus, cfg: ModelConfig, stage: str = "localization", loc_share: float = 0.25,
                  seed: int = 0) -> list[dict]:
    """The training mix of an N3D stage: ``localization`` (stage 1), ``reasoning`` (stage 2: every QA
    sample plus localisation samples amounting to ``loc_share`` of the mix), or ``all``."""
    if stage not in STAGES:
        raise UserError(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    loc = localization_samples(corpus, cfg)
    if stage == "localization":
        return loc
    qa = qa_samples(corpus, cfg)
    if stage == "all":
        return loc + qa
    if not 0 <= loc_share < 1:
        raise UserError("--loc-share must be in [0, 1)")
    n_loc = min(len(loc), int(round(len(qa) * loc_share / (1 - loc_share))))
    rng = random.Random(seed)
    mix = qa + rng.sample(loc, n_loc)
    rng.shuffle(mix)
    return mix
