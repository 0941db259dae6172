"""Files written by generate(): determinism, COCO validity, ground truth against the written data."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from lift3d.geometry.boxes import Box3D, rotation_from_yaw
from lift3d.geometry.camera import backproject, project
from lift3d.synth import CONVENTION, CorruptionConfig, SynthConfig, generate, make_sample

W, H = 128, 96
N = 3


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    ann = generate(root / "a", N, 7, width=W, height=H)
    return ann.parent


def test_layout(ds):
    files = _files(ds)
    for i in range(N):
        for sub in ("images", "depth", "depth_clean"):
            assert f"{sub}/scene_{i:05d}.png" in files
    assert "annotations.json" in files and "gt_boxes.json" in files
    assert not any(k.endswith(".tmp") for k in files)
    rgb = np.asarray(Image.open(ds / "images/scene_00000.png"))
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    dep = np.asarray(Image.open(ds / "depth/scene_00000.png"))
    assert dep.shape == (H, W) and dep.dtype == np.uint16
    clean = np.asarray(Image.open(ds / "depth_clean/scene_00000.png")).astype(np.float64)
    assert np.all(clean > 0) and (dep == 0).any()  # default corruption makes holes, clean has none
    valid = dep > 0
    rel = dep[valid] / clean[valid] - 1
    assert 0 < np.median(np.abs(rel)) < 0.12 and np.abs(rel).max() > 1e-3


def test_same_seed_identical_bytes_and_other_seed_differs(ds, tmp_path):
    again = generate(tmp_path / "b", N, 7, width=W, height=H).parent
    assert _files(again) == _files(ds)
    other = _files(generate(tmp_path / "c", N, 8, width=W, height=H).parent)
    ref = _files(ds)
    assert other["images/scene_00000.png"] != ref["images/scene_00000.png"]
    assert other["annotations.json"] != ref["annotations.json"]


def test_scene_i_independent_of_n_and_start_id(ds, tmp_path):
    ref = _files(ds)
    short = _files(generate(tmp_path / "s", 2, 7, width=W, height=H).parent)
    shard = _files(generate(tmp_path / "t", 1, 7, width=W, height=H, start_id=2).parent)
    for sub in ("images", "depth", "depth_clean"):
        assert short[f"{sub}/scene_00001.png"] == ref[f"{sub}/scene_00001.png"]
        assert shard[f"{sub}/scene_00002.png"] == ref[f"{sub}/scene_00002.png"]
    full = json.loads(ref["gt_boxes.json"])["images"][2]
    part = json.loads(shard["gt_boxes.json"])["images"][0]
    assert full == part


def test_coco_loads_and_masks_match_render(ds):
    coco = COCO(str(ds / "annotations.json"))
    assert len(coco.getImgIds()) == N
    ids = [a["id"] for a in coco.dataset["annotations"]]
    assert len(ids) == len(set(ids)) and len(ids) > 0
    for img in coco.dataset["images"]:
        smp = make_sample(7, img["id"], width=W, height=H)
        K = np.asarray(img["K"])
        assert K.shape == (3, 3) and np.array_equal(K, smp.scene.K)
        assert img["depth_scale"] == 1000.0 and img["gravity"] == smp.scene.down.tolist()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert {a["id"] for a in anns} == {o["annotation_id"] for o in smp.objects}
        for a in anns:
            k = a["id"] - img["id"] * 1000 - 1
            truth = smp.result.instance == k + 1
            m = coco.annToMask(a).astype(bool)
            assert np.array_equal(m, truth)
            assert a["area"] == truth.sum() >= 50
            assert a["iscrowd"] == 0 and isinstance(a["segmentation"]["counts"], str)
            np.testing.assert_allclose(a["bbox"], mask_utils.toBbox(a["segmentation"]))
            assert coco.cats[a["category_id"]]["name"] == smp.scene.objects[k].category


def test_gt_boxes_against_written_clean_depth(ds):
    gt = json.loads((ds / "gt_boxes.json").read_text())
    assert gt["convention"] == CONVENTION
    coco = COCO(str(ds / "annotations.json"))
    n_checked = 0
    for im in gt["images"]:
        K = np.asarray(im["K"]).reshape(3, 3)
        down = np.asarray(im["gravity"])
        clean = np.asarray(Image.open(ds / im["depth_clean_file"])).astype(np.float64) / 1000.0
        assert np.all(clean > 0)
        cam = im["camera"]
        assert 1.0 <= cam["height_m"] <= 1.8 and 0 <= cam["pitch_deg"] <= 30
        for obj in im["objects"]:
            box = Box3D.from_row(obj)
            assert np.array_equal(box.R[:, 1], down)  # column 1 is exactly gravity
            np.testing.assert_allclose(rotation_from_yaw(obj["yaw"], down), box.R, atol=1e-12)
            if obj["on_floor"]:
                assert box.center @ down + box.dims[1] / 2 == pytest.approx(cam["height_m"], abs=1e-9)
            ann = coco.anns[obj["annotation_id"]]
            m = coco.annToMask(ann).astype(bool)
            vv, uu = np.nonzero(m)
            # written millimetre depth: inside the box up to the quantisation (0.5 mm along the ray)
            pts = backproject(uu, vv, clean[vv, uu], K)
            local = np.abs((pts - box.center) @ box.R)
            assert np.all(local <= box.dims / 2 + 1e-3)
            # mask inside the projected box, and bbox2d is the mask's box
            uv = project(box.corners(), K)
            assert uu.min() >= uv[:, 0].min() - 1e-9 and uu.max() <= uv[:, 0].max() + 1e-9
            assert obj["bbox2d"] == [float(uu.min()), float(vv.min()), float(uu.max() + 1), float(vv.max() + 1)]
            assert 0 < obj["visible_fraction"] <= 1
            n_checked += 1
        for obj in im["unannotated_objects"]:
            assert obj["annotation_id"] is None and obj["visible_pixels"] < 50
    assert n_checked > 0
    # one gt object per COCO annotation, same category
    gt_ids = {o["annotation_id"]: o["category"] for im in gt["images"] for o in im["objects"]}
    assert gt_ids == {a["id"]: coco.cats[a["category_id"]]["name"] for a in coco.dataset["annotations"]}


def test_floor_depth_consistent_with_gravity_and_height(ds):
    gt = json.loads((ds / "gt_boxes.json").read_text())
    for im in gt["images"]:
        smp = make_sample(7, im["image_id"], width=W, height=H)
        floor = smp.result.surface == 0
        vv, uu = np.nonzero(floor)
        pts = backproject(uu, vv, smp.result.depth[vv, uu], np.asarray(im["K"]).reshape(3, 3))
        np.testing.assert_allclose(pts @ np.asarray(im["gravity"]), im["camera"]["height_m"], rtol=1e-9)


def test_box_only_and_mask_bleed(tmp_path):
    ann = generate(tmp_path / "b", 2, 3, width=W, height=H, masks=False, mask_bleed_px=2)
    d = json.loads(ann.read_text())
    assert d["annotations"] and all("segmentation" not in a for a in d["annotations"])
    for img in d["images"]:
        smp = make_sample(3, img["id"], width=W, height=H, mask_bleed_px=2)
        for row in smp.objects:
            k = row["object_index"]
            truth = smp.result.instance == k + 1
            bled = smp.masks[row["annotation_id"]]
            assert np.all(bled[truth])  # superset
            extra = bled & ~truth
            from scipy import ndimage

            assert np.all(ndimage.binary_dilation(truth, iterations=2)[extra])  # within 2 px
            inst = smp.result.instance[extra]
            depth = smp.result.depth[extra]
            # only onto the room or onto something behind the object
            assert np.all((inst == 0) | (depth > smp.result.depth[truth].min()))
            a = next(x for x in d["annotations"] if x["id"] == row["annotation_id"])
            assert a["area"] == bled.sum()
    assert any((smp.masks[r["annotation_id"]].sum() > r["visible_pixels"]) for r in smp.objects)


def test_clean_corruption_writes_exact_depth(tmp_path):
    ann = generate(tmp_path / "n", 1, 1, width=W, height=H, corruption=CorruptionConfig.none(),
                   write_clean_depth=False)
    d = json.loads(ann.read_text())
    assert "depth_clean_file" not in d["images"][0]
    written = np.asarray(Image.open(ann.parent / "depth/scene_00000.png")).astype(np.float64) / 1000
    smp = make_sample(1, 0, width=W, height=H, corruption=CorruptionConfig.none())
    assert np.abs(written - smp.result.depth).max() <= 0.0005 + 1e-12


def test_synth_config_maps_cli_flags(tmp_path):
    cfg = SynthConfig(out=tmp_path / "cfg", scenes=1, seed=2, width=W, height=H, box_only=True, mask_bleed_px=1)
    ann = cfg.run()
    d = json.loads(ann.read_text())
    assert len(d["images"]) == 1 and all("segmentation" not in a for a in d["annotations"])


def test_monocular_mode_writes_the_wrong_focal_no_gravity_and_keeps_the_truth(tmp_path):
    ann = generate(tmp_path / "m", 3, 7, width=W, height=H, corruption=CorruptionConfig.monocular())
    coco = json.loads(ann.read_text())
    gt = json.loads((ann.parent / "gt_boxes.json").read_text())
    for im, g in zip(coco["images"], gt["images"]):
        assert "gravity" not in im and len(g["gravity"]) == 3
        e = g["depth_errors"]
        assert e["mode"] == "monocular" and not e["gravity_written"]
        Kw, Kt = np.asarray(im["K"]), np.asarray(g["K"]).reshape(3, 3)
        np.testing.assert_allclose(Kw[0, 0], Kt[0, 0] * e["focal_factor"], rtol=1e-12)
        np.testing.assert_allclose(Kw[1, 1], Kt[1, 1] * e["focal_factor"], rtol=1e-12)
        np.testing.assert_allclose(Kw[:2, 2], Kt[:2, 2])
        assert abs(e["focal_factor"] - 1) > 1e-6
        d = np.asarray(Image.open(ann.parent / im["depth_file"]))
        assert (d > 0).all()  # no holes
    again = generate(tmp_path / "m2", 3, 7, width=W, height=H, corruption=CorruptionConfig.monocular())
    assert _files(again.parent) == _files(ann.parent)


def test_outdoor_dataset_categories_and_far_depth(tmp_path):
    ann = generate(tmp_path / "o", 3, 2, width=160, height=120, scene_type="outdoor")
    coco = json.loads(ann.read_text())
    names = {c["name"] for c in coco["categories"]}
    assert {"person", "car", "truck", "bicycle", "bench", "dog", "fire hydrant", "pole"} == names
    gt = json.loads((ann.parent / "gt_boxes.json").read_text())
    assert all(g["scene_type"] == "outdoor" for g in gt["images"])
    assert all(o["category"] in names for g in gt["images"] for o in g["objects"])
    far = [np.asarray(Image.open(ann.parent / im["depth_file"])).max() / 1000.0 for im in coco["images"]]
    assert max(far) > 20.0  # sensor-like outdoor depth is not cut at the indoor 10 m
    from lift3d.lift.priors import lookup
    from lift3d.synth.categories import OUTDOOR

    for c in OUTDOOR:  # every outdoor category has a size prior, and the generator's sizes agree with it
        pr = lookup(c.name)
        assert pr is not None, c.name
        assert c.h[0] * 0.8 <= pr.h <= c.h[1] * 1.25, c.name


def test_synth_cli_depth_error_flags(tmp_path, capsys):
    from lift3d.cli import main

    out = tmp_path / "cli"
    assert main(["synth", "--scenes", "1", "--seed", "4", "--width", str(W), "--height", str(H), "--out", str(out),
                 "--depth-errors", "monocular", "--scale-sigma", "0.0", "--focal-sigma", "0", "--soft-edge-px", "0",
                 "--range-exponent", "1", "1", "--scale-failure-prob", "0", "--field-amplitude", "0",
                 "--gravity", "write"]) == 0
    im = json.loads((out / "annotations.json").read_text())["images"][0]
    g = json.loads((out / "gt_boxes.json").read_text())["images"][0]
    assert im["gravity"] == g["gravity"] and g["depth_errors"]["focal_factor"] == 1.0
    # every monocular error switched off: the depth is the clean depth (no noise, no holes)
    clean = np.asarray(Image.open(out / im["depth_clean_file"]))
    assert np.array_equal(np.asarray(Image.open(out / im["depth_file"])), clean)
    for bad in (["--scale-sigma", "0.2"], ["--depth-errors", "monocular", "--range-exponent", "1.1", "0.9"],
                ["--clean", "--depth-errors", "monocular"], ["--depth-errors", "monocular", "--scale-sigma", "-1"]):
        assert main(["synth", "--scenes", "1", "--out", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("lift3d synth: error:") and "\n" not in err


def test_synth_cli_scene_ranges(tmp_path, capsys):
    """``lift3d synth --scene``: the sampler's ranges overridden (the cameras written in gt_boxes.json lie in them);
    a range the scene type does not have, or a malformed one, is refused in one line with exit status 2."""
    from lift3d.cli import main

    out = tmp_path / "tele"
    assert main(["synth", "--scenes", "2", "--seed", "4", "--width", str(W), "--height", str(H), "--out", str(out),
                 "--scene-type", "outdoor", "--scene", "hfov_deg=30,32", "--scene", "n_objects=2,2"]) == 0
    cams = [im["camera"] for im in json.loads((out / "gt_boxes.json").read_text())["images"]]
    assert len(cams) == 2 and all(30.0 <= c["hfov_deg"] <= 32.0 for c in cams)
    for bad, why in [(["--scene", "n_objects=2,3"], "indoor scenes have no such range (outdoor only)"),
                     (["--scene", "hfov=30,40"], "unknown scene parameter 'hfov'"),
                     (["--scene", "pitch_deg=85,89"], "within [-80, 80]")]:
        assert main(["synth", "--scenes", "1", "--out", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("lift3d synth: error: --scene") and why in err and "\n" not in err
