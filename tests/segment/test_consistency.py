"""The depth agreement check: right masks pass, masks of the floor / of a neighbour / of two layers fail."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.camera import backproject
from lift3d.segment.consistency import ConsistencyConfig, check_mask, choose_mask, estimate_floor_height
from lift3d.synth.dataset import make_sample


def _toy_scene(with_floor: bool = True):
    """Camera 1.5 m above a floor, a wall at 6 m, a 0.6 m cube standing 3 m in front; down = +y."""
    H, W, f = 120, 160, 120.0
    K = np.array([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])
    vv, uu = np.mgrid[0:H, 0:W].astype(np.float64)
    ry = (vv - K[1, 2]) / f
    depth = np.full((H, W), 6.0)
    floor = ry > 1e-6
    zf = np.where(floor, 1.5 / np.maximum(ry, 1e-6), np.inf)
    floor &= (zf < 6.0) & with_floor
    depth[floor] = zf[floor]
    rx = (uu - K[0, 2]) / f
    # cube front face at z=3, x in [-0.3, 0.3], y in [0.9, 1.5] (down positive)
    cube = (np.abs(rx * 3.0) <= 0.3) & (ry * 3.0 >= 0.9) & (ry * 3.0 <= 1.5)
    depth[cube] = 3.0
    ys, xs = np.nonzero(cube)
    bbox = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
    return depth.astype(np.float32), K, np.array([0.0, 1.0, 0.0]), cube, floor, bbox


def test_toy_scene_right_and_wrong_masks():
    depth, K, down, cube, floor, bbox = _toy_scene()
    assert check_mask(cube, bbox, depth, K, down).ok
    x1, y1, x2, y2 = [int(v) for v in bbox]
    # floor: the prompt box holds a floor patch beside the cube and the segmenter returned that patch
    fb = [5.0, float(y2 - 8), float(x1 - 10), float(y2 + 6)]
    fm = floor & _rows(cube.shape, int(fb[1]), int(fb[3]), int(fb[0]), int(fb[2]))
    c = check_mask(fm, fb, depth, K, down)
    assert not c.ok and c.flag == "sam_rejected_floor", c
    # a cube hanging in front of a wall (no floor bridging the depths): masks of cube + wall, or wall only
    depth, K, down, cube, floor, bbox = _toy_scene(with_floor=False)
    x1, y1, x2, y2 = [int(v) for v in bbox]
    assert check_mask(cube, bbox, depth, K, down).ok
    both = np.zeros_like(cube)
    both[y1:y2, x1 - 6 : x2 + 6] = True
    big = [bbox[0] - 6, bbox[1], bbox[2] + 6, bbox[3]]
    wall_and_cube = both & (cube | (depth == 6.0))
    c = check_mask(wall_and_cube, big, depth, K, down, cfg=ConsistencyConfig(max_floor_fraction=0.99))
    assert not c.ok and c.flag in ("sam_rejected_layers", "sam_rejected_background"), c
    # nothing but the wall around the cube in a wider box: background
    wall = both & (depth == 6.0)
    wall[:, x1:x2] = False
    c = check_mask(wall, big, depth, K, down, cfg=ConsistencyConfig(min_box_fit=0.0))
    assert not c.ok and c.flag == "sam_rejected_background", c
    # the floor height estimate matches the camera height
    depth, K, down = _toy_scene()[:3]
    assert estimate_floor_height(depth, K, down) == pytest.approx(1.5, abs=0.05)


def _rows(shape, r0, r1, c0, c1):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def test_choose_mask_prefers_consistent_candidate_over_model_score():
    depth, K, down, cube, floor, bbox = _toy_scene()
    x1, y1, x2, y2 = [int(v) for v in bbox]
    floor_in_box = floor & ~cube & _rows(cube.shape, y1, y2 + 12, x1 - 4, x2 + 4)
    part = cube & _rows(cube.shape, y1, (y1 + y2) // 2, x1, x2)  # upper half: a part of the object
    best, checks = choose_mask([floor_in_box, part, cube], bbox, depth, K, down, model_scores=[0.99, 0.9, 0.5])
    assert best == 2, [c.flag for c in checks]
    assert not checks[0].ok


def _synth_cases(n_scenes=12):
    gt, floor_m, neigh = [], [], []
    for i in range(n_scenes):
        s = make_sample(3, i, width=320, height=240)
        K, down, D = s.scene.K, s.scene.down, s.depth
        H, W = D.shape
        vv, uu = np.mgrid[0:H, 0:W]
        h = (backproject(uu.ravel(), vv.ravel(), s.result.depth.ravel(), K) @ down).reshape(H, W)
        floor = (s.result.instance == 0) & (np.abs(h - s.scene.cam_height) < 0.03)
        fh = estimate_floor_height(D, K, down)
        boxes = {o["annotation_id"]: o["bbox2d"] for o in s.objects}
        for o in s.objects:
            a, b = o["annotation_id"], o["bbox2d"]
            gt.append(check_mask(s.masks[a], b, D, K, down, fh))
            x1, y1, x2, y2 = [int(v) for v in b]
            fm = np.zeros((H, W), dtype=bool)
            fm[y1:y2, x1:x2] = floor[y1:y2, x1:x2]
            if fm.sum() >= 100:
                floor_m.append(check_mask(fm, b, D, K, down, fh))
            area = (b[2] - b[0]) * (b[3] - b[1])
            for a2, b2 in boxes.items():
                iw = max(0.0, min(b[2], b2[2]) - max(b[0], b2[0]))
                ih = max(0.0, min(b[3], b2[3]) - max(b[1], b2[1]))
                if a2 != a and iw * ih > 0.1 * area:
                    neigh.append(check_mask(s.masks[a2], b, D, K, down, fh))
    return gt, floor_m, neigh


def test_synthetic_scenes_wrong_masks_rejected_right_masks_kept():
    gt, floor_m, neigh = _synth_cases()
    assert len(gt) > 50 and len(floor_m) > 10 and len(neigh) > 10
    assert np.mean([c.ok for c in gt]) >= 0.9
    assert np.mean([not c.ok for c in floor_m]) >= 0.9
    assert np.mean([not c.ok for c in neigh]) >= 0.9
    assert any(c.flag == "sam_rejected_floor" for c in floor_m)
