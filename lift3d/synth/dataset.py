"""Write a synthetic RGB-D dataset in the COCO-3D input convention, with exact 3D ground truth.

Layout of ``out_dir``::

    images/scene_00000.png        RGB
    depth/scene_00000.png         corrupted depth, uint16 millimetres, 0 = no measurement
    depth_clean/scene_00000.png   exact z-depth, uint16 millimetres (optional)
    annotations.json              COCO instances JSON (+ K, depth_file, depth_scale, gravity per image)
    gt_boxes.json                 exact 3D boxes in the camera frame, keyed by annotation id

Image ids are ``start_id + i`` and scene ``i`` only depends on ``(seed, start_id + i)``, so shards made
with different ``start_id`` concatenate into the same dataset as one big run.  Annotation ids are
``image_id * 1000 + object_index + 1`` (unique across shards too).  ``annotations.json`` is written last.

Ground-truth fields (``gt_boxes.json``, per object) beyond the box itself:

* ``bbox2d`` [x1, y1, x2, y2]: box of the true visible mask in COCO pixel-edge coordinates
  (x2 = last column + 1), the same numbers as the annotation's ``bbox`` when there is no mask bleed;
* ``visible_fraction``: visible pixels / pixels of the object rendered alone inside the image (occlusion
  only; truncation is the separate ``truncated`` flag: the unoccluded silhouette reaches the border);
* ``on_floor``; ``supported_by``: annotation id of the object it stands on (None when on the floor or
  when the support is not annotated); ``object_index``: index in the scene;
* objects with fewer than ``min_visible_px`` visible pixels are listed under ``unannotated_objects``
  (``annotation_id`` None) and have no COCO annotation.

Per image: ``camera`` (``height_m`` above the floor, ``pitch_deg``, ``roll_deg``, ``hfov_deg``; see
:mod:`lift3d.synth.scene` for the angle convention), ``room`` (wall distances), ``depth_scale_error``
(the global factor of the depth corruption), ``depth_errors`` (the mode and the drawn errors of this image:
``scale`` (every global factor together), ``scale_failure``, ``range_exponent``, ``focal_factor``),
``scene_type`` (outdoor only).

Monocular error mode (``corruption.focal_sigma`` > 0 / ``write_gravity`` False): ``annotations.json``
carries the *wrong* K (focal lengths times ``focal_factor``, as a model would predict them) and no gravity;
``gt_boxes.json`` keeps the true K and gravity.  Outdoor scenes (``scene_type="outdoor"``) have their own
categories (person, car, ...; see :mod:`lift3d.synth.categories`); their sensor-like depth keeps depths up
to ``OUTDOOR_SENSOR_MAX_DEPTH_M`` (a stereo or lidar range) instead of the indoor 10 m.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from scipy import ndimage

from lift3d.synth.categories import BY_NAME, coco_categories
from lift3d.synth.corrupt import CorruptionConfig, CorruptionInfo, corrupt_depth, to_millimetres
from lift3d.synth.raycast import RenderResult, render
from lift3d.synth.scene import SCENE_TYPES, OutdoorParams, Scene, SceneParams, make_scene

CONVENTION = (
    "camera frame x right, y down, z forward, metres; R_cam object->camera row-major; "
    "corners = center + R (±w/2,±h/2,±l/2)"
)
DEPTH_SCALE = 1000.0
MAX_OBJECTS_PER_SCENE = 999
OUTDOOR_SENSOR_MAX_DEPTH_M = 60.0


def corruption_for(scene_type: str, corruption: CorruptionConfig) -> CorruptionConfig:
    """The corruption applied to a scene type: outdoor sensor-like depth reaches 60 m, not the indoor 10 m."""
    if scene_type == "outdoor" and corruption.enabled and not corruption.clip_far and corruption.max_depth_m == 10.0:
        return replace(corruption, max_depth_m=OUTDOOR_SENSOR_MAX_DEPTH_M)
    return corruption


@dataclass(frozen=True)
class SynthConfig:
    """Options of ``lift3d synth``: ``--scenes N --seed S --out DIR [--box-only] [--mask-bleed PX]``."""

    out: str | os.PathLike = "out/synth"
    scenes: int = 40
    seed: int = 0
    width: int = 640
    height: int = 480
    box_only: bool = False  # --box-only: no `segmentation` in annotations.json
    mask_bleed_px: int = 0  # --mask-bleed PX
    start_id: int = 0
    write_clean_depth: bool = True
    min_visible_px: int = 50
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    scene_params: SceneParams | OutdoorParams | None = None
    scene_type: str = "indoor"  # --scene-type indoor | outdoor

    def run(self) -> Path:
        return generate(
            self.out, self.scenes, self.seed, width=self.width, height=self.height, masks=not self.box_only,
            corruption=self.corruption, mask_bleed_px=self.mask_bleed_px, start_id=self.start_id,
            write_clean_depth=self.write_clean_depth, min_visible_px=self.min_visible_px,
            scene_params=self.scene_params, scene_type=self.scene_type,
        )


@dataclass
class Sample:
    """Everything about one synthetic image, in memory."""

    image_id: int
    stem: str
    scene: Scene
    result: RenderResult
    depth: np.ndarray  # corrupted depth, metres, 0 = hole
    corruption: CorruptionInfo
    masks: dict[int, np.ndarray]  # annotation id -> annotated mask (bled when mask_bleed_px > 0)
    objects: list[dict]  # gt_boxes.json objects (annotated)
    unannotated: list[dict]  # objects too small / invisible


def scene_seed(seed: int, index: int) -> np.random.SeedSequence:
    """Per-scene seed: independent of how many scenes are generated."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(index),))


def bleed(mask: np.ndarray, instance: np.ndarray, depth: np.ndarray, px: int) -> np.ndarray:
    """Dilate ``mask`` by ``px`` pixels onto what lies behind it (the room, or farther objects)."""
    if px <= 0:
        return mask
    grown = ndimage.binary_dilation(mask, iterations=int(px)) & ~mask
    obj_depth = np.where(mask, depth, np.inf)
    nearest = ndimage.minimum_filter(obj_depth, size=2 * int(px) + 1, mode="constant", cval=np.inf)
    return mask | (grown & ((instance == 0) | (depth > nearest)))


def _bbox_xyxy(mask: np.ndarray) -> list[float]:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return [float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)]


def make_sample(seed: int, index: int, *, width: int = 640, height: int = 480,
                corruption: CorruptionConfig = CorruptionConfig(), mask_bleed_px: int = 0,
                min_visible_px: int = 50, scene_params: SceneParams | OutdoorParams | None = None,
                scene_type: str = "indoor") -> Sample:
    """Build, render and corrupt scene ``index`` of the dataset with this seed (image id = index)."""
    if scene_type not in SCENE_TYPES:
        raise ValueError(f"unknown scene type {scene_type!r}; choose from {SCENE_TYPES}")
    s_scene, s_tex, s_corr = scene_seed(seed, index).spawn(3)
    scene = make_scene(np.random.default_rng(s_scene), width, height, scene_params, scene_type)
    if len(scene.objects) > MAX_OBJECTS_PER_SCENE:
        raise ValueError("too many objects for the annotation id scheme")
    res = render(scene, np.random.default_rng(s_tex))
    depth, info = corrupt_depth(res.depth, np.random.default_rng(s_corr), corruption_for(scene_type, corruption))
    image_id = int(index)
    masks: dict[int, np.ndarray] = {}
    objects, unannotated = [], []
    for k, obj in enumerate(scene.objects):
        vis = res.instance == k + 1
        n_vis = int(vis.sum())
        row = {
            "annotation_id": None,
            "category": obj.category,
            "category_id": BY_NAME[obj.category].id,
            "center_cam": [float(v) for v in obj.center],
            "dimensions": [float(v) for v in obj.dims],
            "R_cam": [float(v) for v in obj.R.reshape(9)],
            "yaw": float(obj.yaw),
            "bbox2d": _bbox_xyxy(vis) if n_vis else None,
            "visible_fraction": float(n_vis / res.amodal_pixels[k]) if res.amodal_pixels[k] else 0.0,
            "visible_pixels": n_vis,
            "truncated": bool(res.touches_border[k]),
            "on_floor": bool(obj.on_floor),
            "supported_by": None,
            "object_index": k,
        }
        if n_vis >= min_visible_px:
            ann_id = image_id * 1000 + k + 1
            row["annotation_id"] = ann_id
            masks[ann_id] = bleed(vis, res.instance, res.depth, mask_bleed_px)
            objects.append(row)
        else:
            unannotated.append(row)
    by_index = {r["object_index"]: r for r in objects + unannotated}
    for k, obj in enumerate(scene.objects):
        if obj.support is not None:
            by_index[k]["supported_by"] = by_index[obj.support]["annotation_id"]
    return Sample(image_id, f"scene_{image_id:05d}", scene, res, depth, info, masks, objects, unannotated)


def _save_png(arr: np.ndarray, path: Path, level: int = 1) -> None:
    Image.fromarray(arr).save(path, format="PNG", compress_level=level)


def generate(out_dir, n_scenes: int, seed: int, *, width: int = 640, height: int = 480, masks: bool = True,
             corruption: CorruptionConfig = CorruptionConfig(), mask_bleed_px: int = 0, start_id: int = 0,
             write_clean_depth: bool = True, min_visible_px: int = 50,
             scene_params: SceneParams | OutdoorParams | None = None, scene_type: str = "indoor") -> Path:
    """Generate ``n_scenes`` scenes into ``out_dir``; returns the path of ``annotations.json``."""
    if n_scenes < 0:
        raise ValueError("n_scenes must be >= 0")
    out = Path(out_dir)
    for sub in ("images", "depth") + (("depth_clean",) if write_clean_depth else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    images, annotations, gt_images = [], [], []
    for i in range(int(n_scenes)):
        smp = make_sample(seed, start_id + i, width=width, height=height, corruption=corruption,
                          mask_bleed_px=mask_bleed_px, min_visible_px=min_visible_px, scene_params=scene_params,
                          scene_type=scene_type)
        sc = smp.scene
        K_written = sc.K.copy()
        K_written[0, 0] *= smp.corruption.focal_factor
        K_written[1, 1] *= smp.corruption.focal_factor
        img_rel, depth_rel = f"images/{smp.stem}.png", f"depth/{smp.stem}.png"
        _save_png(smp.result.rgb, out / img_rel)
        _save_png(to_millimetres(smp.depth), out / depth_rel)
        entry = {
            "id": smp.image_id, "file_name": img_rel, "width": width, "height": height,
            "K": [[float(v) for v in row] for row in K_written],
            "depth_file": depth_rel, "depth_scale": DEPTH_SCALE,
        }
        if corruption.write_gravity:
            entry["gravity"] = [float(v) for v in sc.down]
        gt_img = {
            "image_id": smp.image_id, "file_name": img_rel, "depth_file": depth_rel,
            "K": [float(v) for v in sc.K.reshape(9)],
            "gravity": [float(v) for v in sc.down],
            "camera": {"height_m": float(sc.cam_height), "pitch_deg": float(sc.pitch_deg),
                       "roll_deg": float(sc.roll_deg), "hfov_deg": float(sc.hfov_deg)},
            "room": sc.room,
            "depth_scale_error": float(smp.corruption.scale),
        }
        if scene_type != "indoor":  # (indoor output stays byte-identical to earlier versions)
            gt_img["scene_type"] = scene_type
        if corruption.enabled and corruption.mode != "sensor":
            gt_img["depth_errors"] = {
                "mode": corruption.mode, "scale": float(smp.corruption.scale),
                "scale_failure": float(smp.corruption.scale_failure),
                "range_exponent": float(smp.corruption.range_exponent),
                "focal_factor": float(smp.corruption.focal_factor),
                "soft_edge_px": int(corruption.soft_edge_px), "gravity_written": bool(corruption.write_gravity),
            }
        gt_img["objects"] = smp.objects
        gt_img["unannotated_objects"] = smp.unannotated
        if write_clean_depth:
            clean_rel = f"depth_clean/{smp.stem}.png"
            _save_png(to_millimetres(smp.result.depth), out / clean_rel, level=4)
            entry["depth_clean_file"] = clean_rel
            gt_img["depth_clean_file"] = clean_rel
        images.append(entry)
        gt_images.append(gt_img)
        for row in smp.objects:
            m = smp.masks[row["annotation_id"]]
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            x1, y1, x2, y2 = _bbox_xyxy(m)
            ann = {
                "id": row["annotation_id"], "image_id": smp.image_id, "category_id": row["category_id"],
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": float(m.sum()), "iscrowd": 0,
            }
            if masks:
                ann["segmentation"] = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
            annotations.append(ann)
    gt = {"convention": CONVENTION, "images": gt_images}
    (out / "gt_boxes.json").write_text(json.dumps(gt, indent=1) + "\n")
    coco = {
        "info": {"description": f"lift3d synthetic RGB-D {scene_type} scenes", "seed": int(seed),
                 "start_id": int(start_id), "n_scenes": int(n_scenes)},
        "images": images, "annotations": annotations, "categories": coco_categories(scene_type),
    }
    ann_path = out / "annotations.json"
    tmp = out / "annotations.json.tmp"
    tmp.write_text(json.dumps(coco) + "\n")
    tmp.replace(ann_path)
    return ann_path
