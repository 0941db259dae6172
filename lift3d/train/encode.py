"""Samples -> model inputs (Qwen2.5-VL chat layout) and the training collator.

The prompt is laid out as Qwen2.5-VL's chat template does::

    <|im_start|>system\n{system}<|im_end|>\n                (when the config has a system prompt)
    <|im_start|>user\n<|vision_start|><|image_pad|>*N<|vision_end|>{prompt}<|im_end|>\n
    <|im_start|>assistant\n{target}<|im_end|>\n

and tokenised piecewise, so the labels are exact: every token is -100 except the assistant's answer
and its closing ``<|im_end|>`` (loss only on assistant tokens).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from lift3d.model.config import ModelConfig
from lift3d.model.depth_pe import point_map_from_boxes, point_map_from_depth, pool_point_map


class Encoder:
    def __init__(self, cfg: ModelConfig, tokenizer, image_processor, corpus=None, depth_source: str = "auto"):
        self.cfg, self.tok, self.ip, self.corpus = cfg, tokenizer, image_processor, corpus
        self.depth_source = depth_source  # auto | depth | boxes
        self.merge = int(getattr(image_processor, "merge_size", 2))
        self.image_token = "<|image_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self._ids_cache: dict[str, list[int]] = {}
        self._image_cache: dict[str, dict] = {}

    def _ids(self, text: str) -> list[int]:
        if text not in self._ids_cache:
            self._ids_cache[text] = self.tok(text, add_special_tokens=False)["input_ids"]
        return self._ids_cache[text]

    def image(self, sample: dict) -> dict:
        key = sample["file_name"]
        if key not in self._image_cache:
            if self.corpus is not None:
                im = self.corpus.open_image(sample["image_id"], sample["file_name"])
            else:
                with Image.open(sample["file_name"]) as im:
                    im = im.convert("RGB")
            out = self.ip(images=[im], return_tensors="pt")
            ent = {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}
            if self.cfg.depth_pe:
                _, gh, gw = (int(x) for x in out["image_grid_thw"][0])
                ent["depth_points"] = torch.from_numpy(
                    pool_point_map(self.point_map(sample), gh // self.merge, gw // self.merge))
            if len(self._image_cache) > 256:
                self._image_cache.clear()
            self._image_cache[key] = ent
        return self._image_cache[key]

    def point_map(self, sample: dict) -> np.ndarray:
        """Metric point map from the source depth (depth_file / depth_scale + K) or, failing that, the boxes."""
        K, W, H = sample["K"], sample["width"], sample["height"]
        if self.depth_source in ("auto", "depth") and self.corpus is not None:
            ref = self.corpus.depth_file(sample["image_id"])
            if ref is not None:
                with Image.open(ref[0]) as d:
                    depth = np.asarray(d, dtype=np.float64) / ref[1]
                if depth.shape == (H, W):
                    return point_map_from_depth(depth, K)
            if self.depth_source == "depth":
                raise FileNotFoundError(f"no source depth for image {sample['image_id']}")
        objs = self.corpus.images[sample["image_id"]]["objects"] if self.corpus is not None else []
        return point_map_from_boxes(objs, K, W, H)

    def prompt_ids(self, sample: dict, n_image_tokens: int) -> list[int]:
        ids = []
        if self.cfg.system_prompt:
            ids += self._ids("<|im_start|>system\n" + self.cfg.system_prompt + "<|im_end|>\n")
        ids += self._ids("<|im_start|>user\n<|vision_start|>")
        ids += [self.image_token_id] * n_image_tokens
        ids += self._ids("<|vision_end|>" + sample["prompt"] + "<|im_end|>\n<|im_start|>assistant\n")
        return ids

    def encode(self, sample: dict, with_target: bool = True) -> dict:
        img = self.image(sample)
        n_img = int(img["image_grid_thw"].prod()) // (self.merge ** 2)
        p = self.prompt_ids(sample, n_img)
        ids, labels = list(p), [-100] * len(p)
        if with_target:
            t = self._ids(sample["target"]) + self._ids("<|im_end|>")
            ids += t + self._ids("\n")
            labels += t + [-100] * (len(ids) - len(labels) - len(t))
        out = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), **img}
        return out


def collate(items: list[dict], pad_id: int, image_token_id: int) -> dict:
    """Right-padded batch; mm_token_type_ids marks image tokens (transformers 5.x needs it with images)."""
    n = max(len(it["input_ids"]) for it in items)
    ids = torch.full((len(items), n), pad_id, dtype=torch.long)
    labels = torch.full((len(items), n), -100, dtype=torch.long)
    att = torch.zeros((len(items), n), dtype=torch.long)
    for i, it in enumerate(items):
        k = len(it["input_ids"])
        ids[i, :k] = it["input_ids"]
        labels[i, :k] = it["labels"]
        att[i, :k] = 1
    batch = {"input_ids": ids, "attention_mask": att, "labels": labels,
             "mm_token_type_ids": (ids == image_token_id).long() * att,
             "pixel_values": torch.cat([it["pixel_values"] for it in items]),
             "image_grid_thw": torch.cat([it["image_grid_thw"] for it in items])}
    if "depth_points" in items[0]:
        batch["depth_points"] = torch.cat([it["depth_points"] for it in items])
    return batch


class SampleDataset(torch.utils.data.Dataset):
    def __init__(self, samples: list[dict], encoder: Encoder):
        self.samples, self.encoder = samples, encoder

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.encoder.encode(self.samples[i])
