"""Real SUN RGB-D frames (../shared/data/sunrgbd_rgbd): box-only lifting on sensor depth with holes and a
tilted camera must give an object for every annotation, with boxes that project back onto their 2D boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lift3d.build import MODEL_DEPTH_LIFT
from lift3d.geometry.boxes import Box3D
from lift3d.geometry.camera import project
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.overlap import FLAG

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sunrgbd_rgbd"

pytestmark = pytest.mark.skipif(not (DATA / "annotations.json").exists(),
                                reason=f"real sample data not available at {DATA} (../shared is absent)")


def _images():
    d = json.loads((DATA / "annotations.json").read_text())
    cats = {c["id"]: c["name"] for c in d["categories"]}
    for im in d["images"]:
        depth = np.asarray(Image.open(DATA / im["depth_file"]), dtype=np.float32) / float(im["depth_scale"])
        anns = [{"annotation_id": a["id"], "category": cats[a["category_id"]], "category_id": a["category_id"],
                 "bbox2d": [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]],
                 "mask": None, "iscrowd": a.get("iscrowd", 0)}
                for a in d["annotations"] if a["image_id"] == im["id"]]
        yield im, depth, anns


def test_sunrgbd_lifts_without_rejects_and_projects_onto_boxes():
    n = 0
    for im, depth, anns in _images():
        res = lift_image(depth, im["K"], anns, im["gravity"], image_id=im["id"])
        assert res.rejects == [], res.rejects
        assert res.gravity_source == "dataset"
        assert res.floor_height is not None and 0.8 < res.floor_height < 1.8  # a Kinect held at chest height
        assert len(res.objects) == len(anns)
        for o, a in zip(res.objects, anns):
            n += 1
            b = Box3D.from_row(o)
            assert np.all(b.dims > 0.05) and np.all(b.dims < 4.0), (o["category"], b.dims)
            c = project(b.center[None], im["K"])[0]
            x1, y1, x2, y2 = a["bbox2d"]
            mx, my = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
            assert x1 - mx <= c[0] <= x2 + mx and y1 - my <= c[1] <= y2 + my, (o["category"], c, a["bbox2d"])
    assert n == 17


def test_sunrgbd_dresser_behind_the_bed_is_not_lifted_onto_the_footboard():
    """Image 3: the dresser stands beside the bed's headboard, behind the bed; the footboard and mattress cross
    the lower right of its 2D box (box-only, sensor depth).  Its box must land behind the bed's centre, at the
    depth of its own front face (3.8-4.4 m in the depth map), not on the footboard (2.3-2.5 m)."""
    im, depth, anns = next((im, d, a) for im, d, a in _images() if im["id"] == 3)
    res = lift_image(depth, im["K"], anns, im["gravity"], image_id=im["id"])
    obj = {o["category"]: Box3D.from_row(o) for o in res.objects}
    bed, dresser = obj["bed"], obj["dresser"]
    assert dresser.center[2] > bed.center[2] + 0.3, (dresser.center, bed.center)
    assert 3.6 < dresser.center[2] < 4.8


def test_sunrgbd_scale_from_the_priors_is_near_the_kinects():
    """The frames' Kinect v2 depth is metric, so the scale that model depth's cues find for them (the size priors of
    beds, night stands, dressers, lamps, ottomans and the camera height; no dataset gravity, the up direction and
    focal length from the image) should be near 1.  It read 1.10-1.14 on all four while the priors were a mirror's
    for SUN RGB-D's dresser_mirror (a dresser with its mirror, 1.7-2.0 m), 0.58 m for night stands (SUN RGB-D's
    mean 0.68) and 0.95 m for dressers (1.17), with height spreads too narrow for beds with headboards and for
    the benches at a bed's foot that SUN RGB-D calls ottomans; 1.00-1.07 since."""
    cfg = LiftConfig(**MODEL_DEPTH_LIFT)
    logs = []
    for im, depth, anns in _images():
        rgb = np.asarray(Image.open(DATA / im["file_name"]).convert("RGB"))
        res = lift_image(depth, im["K"], anns, None, config=cfg, image_id=im["id"], rgb=rgb)
        assert len(res.objects) == len(anns)
        logs.append(np.log(res.depth_scale_factor))
    assert np.all(np.abs(logs) < np.log(1.09)), np.exp(logs)
    assert abs(float(np.median(logs))) < np.log(1.07), np.exp(logs)


def test_sunrgbd_night_stand_on_the_footboard_is_flagged_a_lower_bound():
    """Image 1 (box-only, sensor depth): the night stand's dark wood has no Kinect depth, and its box's lower part
    is the bed's footboard, so it is lifted onto the footboard, inside the bed's box (its own surface is at 4.7-4.8 m).
    Either it is lifted right, or it carries ``shared_surface``: its distance is then only a lower bound, and the QA
    neither asks about it nor names another night stand against it as if it were there."""
    im, depth, anns = next((im, d, a) for im, d, a in _images() if im["id"] == 1)
    res = lift_image(depth, im["K"], anns, im["gravity"], image_id=im["id"])
    ns = next(o for o in res.objects if o["category"] == "night_stand")
    assert FLAG in ns["flags"] or float(np.linalg.norm(ns["center_cam"])) >= 4.5, ns
    bed = next(o for o in res.objects if o["category"] == "bed")
    assert FLAG not in bed["flags"]


def test_sunrgbd_dresser_behind_the_bed_on_a_dense_depth_map():
    """A depth model leaves no holes: image 3's depth with every hole filled from the nearest measured pixel (and,
    on the model path, blurred over 3 px, a sharp model's edges).  The Kinect's holes on the dark wood had kept the
    dresser apart from the bed; filled, the two surfaces met through a line of pixels one crop pixel wide where the
    dresser's right end meets the mattress (lifted at 3.28 m on the sensor path, on the footboard)."""
    from scipy import ndimage

    im, depth, anns = next((im, d, a) for im, d, a in _images() if im["id"] == 3)
    idx = ndimage.distance_transform_edt(~(depth > 0), return_distances=False, return_indices=True)
    dense = depth[tuple(idx)]
    res = lift_image(dense, im["K"], anns, im["gravity"], image_id=im["id"])
    obj = {o["category"]: Box3D.from_row(o) for o in res.objects}
    assert obj["dresser"].center[2] > obj["bed"].center[2] + 0.3, (obj["dresser"].center, obj["bed"].center)
    assert 3.6 < obj["dresser"].center[2] < 4.8
    cfg = LiftConfig(**MODEL_DEPTH_LIFT)
    rgb = np.asarray(Image.open(DATA / im["file_name"]).convert("RGB"))
    for d in (dense, np.exp(ndimage.uniform_filter(np.log(dense), size=3))):
        res = lift_image(d, im["K"], anns, None, config=cfg, image_id=im["id"], rgb=rgb)
        obj = {o["category"]: Box3D.from_row(o) for o in res.objects}
        k = res.depth_scale_factor  # the scale the cues gave: the dresser's front at 3.8-4.4 m in the Kinect's metres
        assert obj["dresser"].center[2] > obj["bed"].center[2] + 0.3 * k, (obj["dresser"].center, obj["bed"].center)
