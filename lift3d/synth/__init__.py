"""Procedural indoor RGB-D scenes with exact 3D ground truth (pure numpy/scipy/pillow/pycocotools).

``generate(out_dir, n_scenes, seed)`` writes a COCO-3D dataset (images, corrupted depth, exact clean depth,
``annotations.json``, ``gt_boxes.json``); ``make_scene`` / ``render`` / ``corrupt_depth`` are the parts.
See docs in each module: categories (size table), scene (camera angles), raycast (ray casting),
corrupt (depth errors), dataset (files and ids).
"""

from lift3d.synth.categories import CATEGORIES, coco_categories
from lift3d.synth.corrupt import CorruptionConfig, corrupt_depth, to_millimetres
from lift3d.synth.dataset import CONVENTION, SynthConfig, generate, make_sample
from lift3d.synth.raycast import RenderResult, render
from lift3d.synth.scene import Scene, SceneObject, SceneParams, make_scene

__all__ = [
    "CATEGORIES", "CONVENTION", "CorruptionConfig", "RenderResult", "Scene", "SceneObject", "SceneParams",
    "SynthConfig", "coco_categories", "corrupt_depth", "generate", "make_sample", "make_scene", "render",
    "to_millimetres",
]
