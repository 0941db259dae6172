"""The smooth depth distortion measured on the room's planes (lift3d.lift.depth_field)."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.iou import iou_3d
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.depth_field import DepthField, _plane_rows, _roughness, estimate_depth_field, exclusion_grid
from lift3d.lift.gravity import floor_height, point_and_normal_grid
from lift_scenes import box_on_floor

DOWN = np.array([0.0, 1.0, 0.0])
CAM_H = 1.3


def _field(H, W, amp=0.025):
    """A smooth log-distortion of about one period over the image (a monocular network's low-frequency error)."""
    yy, xx = np.mgrid[0:H, 0:W] / float(max(H, W))
    f = np.cos(2 * np.pi * (0.7 * xx + 0.4 * yy) + 0.6) + 0.6 * np.cos(2 * np.pi * (-0.5 * xx + 0.8 * yy) + 2.0)
    return amp * f / np.abs(f).max()


def _room(scene, W=320, H=240):
    boxes = [box_on_floor(-0.8, 3.4, [0.6, 0.9, 0.5], 0.3), box_on_floor(0.7, 4.0, [0.9, 0.75, 1.4], -0.4)]
    depth, K, anns, owner = scene(boxes, cam_h=CAM_H, wall_dist=5.5, W=W, H=H, categories={0: "cabinet", 1: "table"})
    return boxes, depth, K, anns, owner


def _fit(depth, K, anns):
    grid = point_and_normal_grid(depth, K)
    floor_h = floor_height(depth, K, DOWN, grid)  # the floor level as the lifter measures it (bent depth)
    return estimate_depth_field(grid, DOWN, floor_h, depth.shape, exclusion_grid(anns, grid[4], grid[5], depth.shape))


def _ious_with_and_without_field(boxes, bent, K, anns) -> dict:
    """{depth field on: mean 3D IoU with the true boxes} of the bent depth lifted as model depth, without and with
    the depth field."""
    gt = [{"center_cam": b.center.tolist(), "dimensions": b.dims.tolist(), "R_cam": np.asarray(b.R).reshape(9).tolist()}
          for b in boxes]
    ious = {}
    for on in (False, True):
        res = lift_image(bent, K, anns, DOWN, LiftConfig(scale_from_priors=True, depth_field=on))
        assert (res.depth_field is not None) == on
        ious[on] = np.mean([iou_3d(o, gt[o["annotation_id"] - 100]) for o in res.objects])
    return ious


def test_bilinear_field_reproduces_a_linear_function_exactly():
    H, W = 120, 200
    gh, gw = 5, 7
    ny, nx = np.meshgrid(np.arange(gh) * (H - 1) / (gh - 1), np.arange(gw) * (W - 1) / (gw - 1), indexing="ij")
    fld = DepthField(0.01 + 2e-4 * ny - 1e-4 * nx, (H, W))
    rows, cols = np.array([0.0, 13.5, 60.0, 119.0]), np.array([0.0, 7.25, 150.0, 199.0])
    want = 0.01 + 2e-4 * rows[:, None] - 1e-4 * cols[None, :]
    assert np.allclose(fld.log_factor(rows, cols), want, atol=1e-12)
    d = np.full((4, 4), 3.0)  # no range term: the depths divided by the field's factor
    assert np.allclose(fld.correct(d, rows, cols), d / np.exp(want))


def test_the_fit_is_the_plain_weighted_least_squares_of_its_model(scene):
    """The normal matrix is summed per grid cell (not as A^T W A of a sparse A): the same IRLS solution as a dense
    least squares of the bilinear nodes, the planes' constants and ramps and the range column, written out here."""
    _, depth, K, anns, _ = _room(scene)
    H, W = depth.shape
    bent = depth * np.exp(_field(H, W) + 0.08 * np.log(depth / np.median(depth))).astype(np.float32)
    grid = point_and_normal_grid(bent, K)
    floor_h = floor_height(bent, K, DOWN, grid)
    ex = exclusion_grid(anns, grid[4], grid[5], bent.shape)
    kw = dict(nodes=(5, 7), smooth=0.1, prior=0.16, ramp_prior=0.04, range_prior=1.0)
    fld = estimate_depth_field(grid, DOWN, floor_h, bent.shape, ex, **kw)
    assert fld is not None and any(p.startswith("wall") for p in fld.planes)
    P, n, _ok, nok, vv, uu = grid
    rows, names = _plane_rows(P, n, nok & ~ex, DOWN, float(floor_h), 0.08, 15.0, 30)
    t, idx, pid, along = (np.concatenate([r[k] for r in rows]) for k in range(4))
    gh, gw = kw["nodes"]
    ny = vv[idx // len(uu)] / (H - 1) * (gh - 1)
    nx = uu[idx % len(uu)] / (W - 1) * (gw - 1)
    A = np.maximum(0.0, 1 - np.abs(ny[:, None, None] - np.arange(gh)[None, :, None])) * \
        np.maximum(0.0, 1 - np.abs(nx[:, None, None] - np.arange(gw)[None, None, :]))  # bilinear "hat" weights
    cols, col_prior = [A.reshape(len(t), -1)], [np.full(gh * gw, kw["prior"])]
    for q, name in enumerate(names):
        if name != "floor":
            cols.append((pid == q)[:, None].astype(float))
            col_prior.append([0.0])
        if name.startswith("wall"):
            cols.append(np.where(pid == q, along, 0.0)[:, None])
            col_prior.append([kw["ramp_prior"]])
    lz = np.log(P.reshape(-1, 3)[idx, 2])
    cols.append((lz - np.median(lz))[:, None])
    col_prior.append([kw["range_prior"]])
    A = np.concatenate(cols, axis=1)
    reg = np.diag(np.concatenate(col_prior) + 1e-9)
    reg[:gh * gw, :gh * gw] += kw["smooth"] * len(t) / (gh * gw) * _roughness(gh, gw)
    w = np.ones(len(t))
    for _ in range(3):
        x = np.linalg.solve(A.T @ (w[:, None] * A) + reg, A.T @ (w * t))
        res = t - A @ x
        w = 1.0 / (1.0 + (res / (2.5 * (1.4826 * np.median(np.abs(res)) + 1e-4))) ** 2)
    assert np.allclose(fld.log_grid.ravel(), x[:gh * gw], rtol=0, atol=1e-10)
    assert fld.range_slope == pytest.approx(x[-1], abs=1e-10) and abs(x[-1]) > 0.02


def test_undistorted_room_gives_no_field(scene):
    _, depth, K, anns, _ = _room(scene)
    fld = _fit(depth, K, anns)
    assert fld is not None and "floor" in fld.planes and any(p.startswith("wall") for p in fld.planes)
    assert np.abs(fld.log_grid).max() < 2e-3


def test_distortion_is_recovered_between_the_planes(scene):
    _, depth, K, anns, owner = _room(scene)
    H, W = depth.shape
    truth = _field(H, W)
    fld = _fit(depth * np.exp(truth).astype(np.float32), K, anns)
    assert fld is not None
    est = fld.log_factor(np.arange(H), np.arange(W))
    # the floor is the reference: the estimate equals the truth up to the truth's mean on the floor
    err = est - (truth - truth[owner == -1].mean())
    on_objects = owner >= 0
    spread = truth[on_objects].std()
    assert spread > 0.004
    # at the objects' pixels (never measured, interpolated from the planes around them)
    assert np.sqrt(np.mean((err[on_objects] - err[on_objects].mean()) ** 2)) < 0.35 * spread
    assert abs(err[owner == -1].mean()) < 0.006


def test_lifting_with_the_field_is_closer_to_the_undistorted_lift(scene):
    boxes, depth, K, anns, _ = _room(scene)
    H, W = depth.shape
    bent = depth * np.exp(_field(H, W, 0.03)).astype(np.float32)
    ious = _ious_with_and_without_field(boxes, bent, K, anns)
    assert ious[True] > ious[False] + 0.02


def test_sensor_depth_is_never_corrected(scene):
    _, depth, K, anns, _ = _room(scene)
    res = lift_image(depth, K, anns, DOWN, LiftConfig(depth_field=True))  # scale_from_priors off: sensor depth
    assert res.depth_field is None


def test_no_floor_no_field(scene):
    _, depth, K, anns, _ = _room(scene)
    grid = point_and_normal_grid(depth, K)
    assert estimate_depth_field(grid, None, CAM_H, depth.shape) is None
    assert estimate_depth_field(grid, DOWN, None, depth.shape) is None
    # a floor level nowhere near the floor: no floor pixels, no reference
    assert estimate_depth_field(grid, DOWN, 9.0, depth.shape) is None


@pytest.mark.parametrize("with_mask", [True, False])
def test_exclusion_covers_the_mask_or_the_box(with_mask):
    H, W = 60, 80
    vv, uu = np.arange(0, H, 4), np.arange(0, W, 4)
    m = np.zeros((H, W), dtype=bool)
    m[20:30, 40:52] = True
    ann = {"bbox2d": [39.5, 19.5, 51.5, 29.5], "mask": m if with_mask else None}
    ex = exclusion_grid([ann], vv, uu, (H, W), margin_cells=0)
    want = m[np.ix_(vv, uu)] if with_mask else np.outer((vv >= 19.5) & (vv <= 29.5), (uu >= 39.5) & (uu <= 51.5))
    assert np.array_equal(ex, want)
    grown = exclusion_grid([ann], vv, uu, (H, W), margin_cells=1)
    assert grown.sum() > ex.sum() and np.all(grown[ex])


def test_a_range_exponent_is_corrected_at_each_objects_own_depth():
    # synthetic rooms (floor, walls, furniture) with a range exponent of 0.85: near objects read too far, far ones too
    # near, and a smooth function of the image position measured on the planes behind them cannot undo that; the
    # range term, applied at each object's own depth, does in part (the field takes the rest of it on the planes)
    from lift3d.synth.corrupt import CorruptionConfig
    from lift3d.synth.dataset import make_sample

    # the generator's own range exponent (z' = m (z / m) ** gamma about the median), every other error off
    only_range = CorruptionConfig.monocular(scale_log_sigma=0.0, scale_failure_prob=0.0, range_exponent=(0.85, 0.85),
                                            field_amplitude=0.0, soft_edge_px=0, focal_sigma=0.0, write_gravity=True)
    slopes, spreads = {False: [], True: []}, {False: [], True: []}
    for idx in range(5):
        s = make_sample(3, idx, width=320, height=240, corruption=only_range)
        z, bent, inst, K, down = s.result.depth, s.depth, s.result.instance, s.scene.K, s.scene.down
        assert s.corruption.range_exponent == 0.85 and s.corruption.scale == 1.0
        grid = point_and_normal_grid(bent, K)
        floor_h = floor_height(bent, K, down, grid)
        ex = exclusion_grid([{"mask": inst == k + 1} for k in range(len(s.scene.objects))], grid[4], grid[5], z.shape)
        rows, cols = np.arange(z.shape[0], dtype=np.float64), np.arange(z.shape[1], dtype=np.float64)
        fields = {term: estimate_depth_field(grid, down, floor_h, z.shape, ex, range_term=term) for term in (False, True)}
        if any(f is None for f in fields.values()):
            continue
        assert fields[True].range_slope < -0.01  # 1 - 1 / gamma = -0.18
        for term, fld in fields.items():
            err = np.log(fld.correct(bent, rows, cols) / z)
            objs = [k for k in range(len(s.scene.objects)) if (inst == k + 1).sum() >= 50]
            e = [np.median(err[inst == k + 1]) for k in objs]
            d = [np.log(np.median(z[inst == k + 1])) for k in objs]
            slopes[term].append(np.polyfit(d, e, 1)[0])  # the objects' distance error against their log depth
            spreads[term].append(np.std(e))  # what one per-image scale cannot fix
    assert len(slopes[True]) >= 3
    assert np.mean(slopes[False]) < -0.1
    assert np.mean(slopes[True]) > 0.9 * np.mean(slopes[False])
    assert np.mean(spreads[True]) < 0.92 * np.mean(spreads[False])


def test_no_range_term_on_an_undistorted_room(scene):
    _, depth, K, anns, _ = _room(scene)
    fld = _fit(depth, K, anns)
    assert abs(fld.range_slope) < 0.01
    d = np.full((3, 4), 2.5)
    assert np.allclose(DepthField(np.zeros((2, 2)), (3, 4)).correct(d, np.arange(3.0), np.arange(4.0)), d)


def test_a_field_of_ten_per_cent_is_measured_and_applied(scene):
    """A smooth distortion of +-10 % (a monocular network off its training data) is a field to divide out, not a
    failed fit: it is measured and lifting with it comes closer to the truth.  A gate at +-6 % dropped it whole."""
    boxes, depth, K, anns, owner = _room(scene)
    H, W = depth.shape
    truth = _field(H, W, 0.10)
    bent = depth * np.exp(truth).astype(np.float32)
    fld = _fit(bent, K, anns)
    assert fld is not None and 0.06 < np.abs(fld.log_grid).max() < 0.25
    err = fld.log_factor(np.arange(H), np.arange(W)) - (truth - truth[owner == -1].mean())
    on_objects = owner >= 0
    assert np.sqrt(np.mean((err[on_objects] - err[on_objects].mean()) ** 2)) < 0.35 * truth[on_objects].std()
    grid = point_and_normal_grid(bent, K)  # the gate still rejects a field beyond it
    floor_h = floor_height(bent, K, DOWN, grid)
    assert estimate_depth_field(grid, DOWN, floor_h, bent.shape,
                                exclusion_grid(anns, grid[4], grid[5], bent.shape), limit=0.06) is None
    ious = _ious_with_and_without_field(boxes, bent, K, anns)
    assert ious[True] > ious[False] + 0.02
