"""The up direction from the image's vertical lines (lift3d.lift.vanishing), the floor level's below-the-floor check
(lift3d.lift.gravity.floor_height) and their use by the lifter: rendered line images under known intrinsics and
camera tilt."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.geometry.boxes import gravity_frame
from lift3d.geometry.camera import K_from_fov
from lift3d.lift import LiftConfig, lift_image
from lift3d.lift.gravity import floor_height
from lift3d.lift.vanishing import VanishingConfig, _points, down_samples, image_gradients, vanishing_points, vertical_direction
from lift_scenes import box_on_floor, raycast


def tilted_down(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Gravity in the camera frame of a camera pitched down by ``pitch_deg`` and rolled by ``roll_deg``."""
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    d = np.array([0.0, np.cos(p), np.sin(p)])  # pitched down: gravity leans away from the viewer
    c, s = np.cos(r), np.sin(r)
    return np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])


def render_lines(K, W, H, down, segments, width=1.2):
    """A grey image with dark anti-aliased lines: ``segments`` are (p0, p1) pairs of points in the gravity frame
    (x right, y down, z forward, metres), projected with ``K`` under ``down``."""
    G = gravity_frame(np.asarray(down, dtype=np.float64))
    vv, uu = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.full((H, W), 200.0)
    for p0, p1 in segments:
        a, b = (np.asarray(K) @ (G @ np.asarray(p, dtype=np.float64)) for p in (p0, p1))
        a, b = a[:2] / a[2], b[:2] / b[2]
        t = np.clip(((uu - a[0]) * (b[0] - a[0]) + (vv - a[1]) * (b[1] - a[1])) / np.sum((b - a) ** 2), 0.0, 1.0)
        dist = np.hypot(uu - a[0] - t * (b[0] - a[0]), vv - a[1] - t * (b[1] - a[1]))
        img -= 150.0 * np.clip(width + 0.5 - dist, 0.0, 1.0)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return np.repeat(img[..., None], 3, axis=2)


def room_lines(n=8, seed=0):
    """World-vertical edges (door frames, furniture corners) at 2-6 m, and horizontal and slanted distractors."""
    rng = np.random.default_rng(seed)
    segs = []
    for x in np.linspace(-2.0, 2.0, n):
        z = rng.uniform(2.5, 6.0)
        segs.append(((x, rng.uniform(-1.5, -0.5), z), (x, rng.uniform(0.5, 1.3), z)))
    segs.append(((-2.0, 0.2, 4.0), (2.0, 0.2, 4.0)))  # a horizontal edge
    segs.append(((-1.0, -0.8, 3.0), (1.0, 0.9, 3.5)))  # a slanted one (a stair rail)
    return segs


@pytest.mark.parametrize("pitch,roll", [(0.0, 0.0), (12.0, 0.0), (-6.0, 7.0), (20.0, -4.0)])
def test_vertical_lines_give_the_down_direction(pitch, roll):
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(pitch, roll)
    d, conf = vertical_direction(render_lines(K, W, H, down, room_lines()), K)
    assert d is not None and conf > 0.5
    assert np.degrees(np.arccos(np.clip(d @ down, -1.0, 1.0))) < 0.5
    assert d[1] > 0 and np.isclose(np.linalg.norm(d), 1.0)


def test_a_wrong_focal_length_tilts_it_little():
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(15.0, 5.0)
    img = render_lines(K, W, H, down, room_lines(seed=1))
    Kw = K.copy()
    Kw[0, 0] *= 1.08
    Kw[1, 1] *= 1.08  # 8 % off, as a model's focal length is
    d, _ = vertical_direction(img, Kw)
    assert np.degrees(np.arccos(np.clip(d @ down, -1.0, 1.0))) < 2.0


def test_the_vertical_points_segments_and_its_spread():
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(12.0, 4.0)
    img = render_lines(K, W, H, down, room_lines(seed=2))
    d, conf, K2, sd, vertical = vanishing_points(img, K, 0.0, with_segments=True)
    d4, conf4, K4, sd4 = vanishing_points(img, K, 0.0)  # the same estimate without the segments
    assert np.array_equal(d, d4) and conf == conf4 and K2 is None and K4 is None and sd is None and sd4 is None
    c, dirs, lengths = vertical
    assert len(lengths) >= 3 and c.shape == dirs.shape == (len(lengths), 2)
    samples = down_samples(vertical, K)
    ang = np.degrees(np.arccos(np.clip(samples @ d, -1.0, 1.0)))
    assert samples.shape == (32, 3) and np.all(samples[:, 1] > 0)
    assert 0.0 < np.median(ang) < 1.0  # a spread, not a copy, and a small one for long clean lines
    assert vanishing_points(None, K, 0.0, with_segments=True) == (None, 0.0, None, None, None)



def test_a_resample_that_keeps_fewer_than_two_lines_fixes_no_point():
    # three lines through the point (0, 0, 1) of normalised coordinates: x = 0, y = 0, x = y
    lines = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, -1.0, 0.0]]) / np.array([[1.0], [1.0], [np.sqrt(2.0)]])
    lb = np.broadcast_to(lines, (4, 3, 3))
    wb = np.array([[1.0, 2.0, 1.0], [0.0, 3.0, 1.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    p = _points(lb, wb)
    assert np.allclose(np.abs(p[:2, 2]), 1.0)  # two or more lines: their crossing
    assert np.all(np.isnan(p[2:]))  # one line or none: any point on it would fit, so none is given

def test_no_estimate_without_enough_vertical_lines():
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(10.0, 3.0)
    blank = np.full((H, W, 3), 128, dtype=np.uint8)
    assert vertical_direction(blank, K) == (None, 0.0)
    noise = np.random.default_rng(0).integers(0, 255, (H, W, 3)).astype(np.uint8)
    assert vertical_direction(noise, K)[0] is None  # texture, no lines
    horizontal = [((-2.0, y, 4.0), (2.0, y, 4.0)) for y in (-1.0, -0.3, 0.4, 1.0)]
    assert vertical_direction(render_lines(K, W, H, down, horizontal), K)[0] is None
    bunched = [((x, -1.0, 4.0), (x, 1.0, 4.0)) for x in (0.0, 0.05, 0.1)]  # one spot: no vanishing point
    assert vertical_direction(render_lines(K, W, H, down, bunched), K)[0] is None
    assert vertical_direction(None, K) == (None, 0.0)


def test_floor_level_with_the_scene_below_it_is_not_the_floor():
    """A table top fills the lower image and a wall stands behind it, hiding the floor: the top is the lowest horizontal
    surface, but the wall's lower part lies below it, so no floor is seen (a table top taken for the floor would
    put the camera 0.55 m above the ground)."""
    W, H = 240, 180
    K = K_from_fov(W, H, 70.0)
    down = np.array([0.0, 1.0, 0.0])
    table = box_on_floor(0.0, 1.6, [6.0, 0.75, 0.6], 0.0)
    depth, _ = raycast(K, H, W, [table], down, 1.3, wall_dist=4.0)
    assert floor_height(depth, K, down) is None
    depth, _ = raycast(K, H, W, [box_on_floor(0.0, 3.0, [0.6, 0.75, 0.6], 0.0)], down, 1.3, wall_dist=6.0)
    assert floor_height(depth, K, down) == pytest.approx(1.3, abs=0.03)  # the floor seen: found as before


def two_boxes_under_lines(scene, W, H, pitch, roll, lines):
    """Two boxes on the floor of a tilted camera, ray-cast (depth, K, annotations), the down direction, and an image
    of ``lines`` (gravity-frame segments) under the same camera."""
    down = tilted_down(pitch, roll)
    boxes = [box_on_floor(-0.6, 3.0, [0.6, 0.8, 0.6], 0.3, down=down),
             box_on_floor(0.7, 3.5, [0.8, 0.5, 0.5], -0.2, down=down)]
    depth, K, anns, _ = scene(boxes, down=down, wall_dist=6.0, W=W, H=H)
    return depth, K, anns, down, render_lines(K, W, H, down, lines)


def test_lift_image_takes_the_up_direction_from_the_image_without_a_dataset_gravity(scene):
    W, H = 240, 180
    depth, K, anns, down, rgb = two_boxes_under_lines(scene, W, H, 10.0, 4.0, room_lines(seed=2))
    on = LiftConfig(gravity={"vanishing": True})
    res = lift_image(depth, K, anns, None, on, rgb=rgb)
    assert res.gravity_source == "vanishing" and res.gravity_confidence > 0.5
    assert np.degrees(np.arccos(np.clip(np.asarray(res.gravity) @ down, -1.0, 1.0))) < 0.5
    assert res.floor_height == pytest.approx(1.3, abs=0.03) and len(res.objects) == 2
    # a dataset gravity wins; switched off, or no image, or no lines in it: the floor-plane fit
    assert lift_image(depth, K, anns, list(down), on, rgb=rgb).gravity_source == "dataset"
    assert lift_image(depth, K, anns, None, LiftConfig(), rgb=rgb).gravity_source == "estimated"
    assert lift_image(depth, K, anns, None, on).gravity_source == "estimated"
    blank = np.full((H, W, 3), 128, dtype=np.uint8)
    assert lift_image(depth, K, anns, None, on, rgb=blank).gravity_source == "estimated"


def floor_boards(n=9, z0=2.0, z1=7.0, yaw_deg=25.0, cam_h=1.3):
    """Parallel lines on the floor (boards), turned by ``yaw_deg`` from the camera's forward axis: a horizontal
    family with a finite vanishing point."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    segs = []
    for x in np.linspace(-2.5, 2.5, n):
        p0 = np.array([x, cam_h, z0])
        segs.append((p0, p0 + (z1 - z0) * np.array([s, 0.0, c])))
    return segs


@pytest.mark.parametrize("pitch,roll,given", [(15.0, 3.0, 1.08), (25.0, -4.0, 0.93), (10.0, 0.0, 1.0)])
def test_the_focal_length_from_a_horizontal_family_orthogonal_to_the_vertical(pitch, roll, given):
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(pitch, roll)
    img = render_lines(K, W, H, down, room_lines(seed=3) + floor_boards())
    Kg = K.copy()
    Kg[0, 0] *= given
    Kg[1, 1] *= given  # a model's focal length, off by 7-8 %
    d, conf, K2, sd = vanishing_points(img, Kg, 0.08)
    assert K2 is not None and 0 < sd < 0.08  # surer than the given focal length
    err = abs(np.log(K2[0, 0] / K[0, 0]))  # within its stated spread, and inside the given focal's 7-8 %
    assert err < 2.0 * sd and err < 0.04 and K2[1, 1] == pytest.approx(K2[0, 0] * K[1, 1] / K[0, 0])
    assert np.array_equal(K2[:, 2], Kg[:, 2])  # the principal point as given
    assert np.degrees(np.arccos(np.clip(d @ down, -1.0, 1.0))) < 1.2  # the up direction under the found focal
    # the given focal length trusted: nothing refined, the same up direction as vertical_direction's
    d0, _, K0, sd0 = vanishing_points(img, Kg, 0.0)
    assert K0 is None and sd0 is None and np.allclose(d0, vertical_direction(img, Kg)[0])


def test_no_focal_length_without_a_horizontal_family_and_a_split_one_far_from_the_given_one():
    W, H = 480, 360
    K = K_from_fov(W, H, 65.0)
    down = tilted_down(15.0, 2.0)
    img = render_lines(K, W, H, down, room_lines(seed=4))  # vertical lines and two single distractors only
    d, _, K2, sd = vanishing_points(img, K, 0.08)
    assert d is not None and K2 is None and sd is None
    boards = render_lines(K, W, H, down, room_lines(seed=4) + floor_boards())
    Kg = K.copy()
    Kg[0, 0] *= 1.6
    Kg[1, 1] *= 1.6  # 60 % off: beyond focal_gate sds of an 8 % prior
    _, _, Kw, sdw = vanishing_points(boards, Kg, 0.5)  # a wide prior (intrinsics from a field-of-view guess): used
    est = np.log(Kw[0, 0] / Kg[0, 0])
    assert abs(np.log(Kw[0, 0] / K[0, 0])) < 0.1 and sdw < 0.5
    # an 8 % prior: the lines and the given focal length disagree, one of them has failed and each is as likely:
    # their geometric mean, with a spread that covers both (the estimate used to be dropped: K None, sd None)
    _, _, Ks, sds = vanishing_points(boards, Kg, 0.08)
    half = np.log(Ks[0, 0] / Kg[0, 0])
    assert half == pytest.approx(0.5 * est, abs=0.03) and Ks[1, 1] / Kg[1, 1] == pytest.approx(Ks[0, 0] / Kg[0, 0])
    assert sds >= abs(half) > 0.15 and sds > 0.08
    _, _, Kd, sdd = vanishing_points(boards, Kg, 0.08, VanishingConfig(focal_split=False))
    assert Kd is None and sdd is None
    level = tilted_down(1.5, 2.0)  # a level camera: its vertical point is far off the image and fixes no focal length
    flat = render_lines(K, W, H, level, room_lines(seed=4) + floor_boards())
    d, _, K2, _ = vanishing_points(flat, K, 0.08)
    assert d is not None and K2 is None


def test_lift_image_and_the_lift_stage_record_the_refined_intrinsics(scene):
    from lift3d.lift.stage import LiftStage

    depth, K, anns, down, rgb = two_boxes_under_lines(scene, 480, 360, 15.0, 2.0, room_lines(seed=5) + floor_boards())
    Kg = K.copy()
    Kg[0, 0] *= 1.08
    Kg[1, 1] *= 1.08
    cfg = LiftConfig(gravity={"vanishing": True, "focal_log_sd": 0.08})
    res = lift_image(depth, Kg, anns, None, cfg, rgb=rgb)
    assert res.K is not None and abs(np.log(res.K[0] / K[0, 0])) < 0.04 and len(res.objects) == 2
    assert lift_image(depth, Kg, anns, None, LiftConfig(gravity={"vanishing": True}), rgb=rgb).K is None
    # a dataset gravity (a capture device's IMU, whose intrinsics are calibrated): nothing is refined
    withg = lift_image(depth, Kg, anns, list(down), cfg, rgb=rgb)
    assert withg.gravity_source == "dataset" and withg.K is None
    rec = {"image_id": 1, "depth": depth, "K": Kg.ravel().tolist(), "annotations": anns, "gravity": None,
           "rgb": rgb, "intrinsics_source": "model"}
    out = LiftStage(cfg).process_record(rec)
    assert out["intrinsics_source"] == "vanishing" and out["K"] == res.K and "rgb" not in out
    assert 0 < res.focal_log_sigma < 0.08 and out["depth_scale_log_sigma"] == res.depth_scale_log_sigma


def test_a_refined_focal_length_narrows_the_scale_uncertainty(scene):
    """The scale's cues all share the focal length's error (``scale.shared_std``); refined from the lines, that
    error is the refined focal length's sd, so the image's scale sd shrinks."""
    from lift3d.build import MODEL_DEPTH_LIFT

    down = tilted_down(15.0, 2.0)
    boxes = [box_on_floor(-0.7, 3.0, [0.5, 0.9, 0.55], 0.3, down=down),
             box_on_floor(0.8, 3.6, [1.4, 0.75, 0.8], -0.2, down=down)]
    W, H = 480, 360
    depth, K, anns, _ = scene(boxes, down=down, wall_dist=6.0, W=W, H=H, categories={0: "chair", 1: "table"})
    rgb = render_lines(K, W, H, down, room_lines(seed=5) + floor_boards())
    refined = lift_image(depth, K, anns, None, LiftConfig(**MODEL_DEPTH_LIFT), rgb=rgb)
    assert refined.focal_log_sigma is not None and 0 < refined.focal_log_sigma < 0.08
    # the same intrinsics given outright (nothing refined): with the shared 0.08 the scale is less sure; with the
    # refined sd as the shared error it is exactly as sure
    K2 = np.asarray(refined.K).reshape(3, 3)
    off = LiftConfig(**MODEL_DEPTH_LIFT).update({"focal_log_sd": 0.0})
    given = lift_image(depth, K2, anns, None, off, rgb=rgb)
    assert given.K is None and given.focal_log_sigma is None
    assert 0 < refined.depth_scale_log_sigma < given.depth_scale_log_sigma
    same = lift_image(depth, K2, anns, None, off.update({"scale_shared_std": refined.focal_log_sigma}), rgb=rgb)
    # (the two lifts build the point grid differently, rescaled vs from K2: equal up to rounding, which the depth
    # field's robust fit carries into the 7th digit: 0.98e-6 apart with its range term off, 1.01e-6 with it on)
    assert refined.depth_scale_log_sigma == pytest.approx(same.depth_scale_log_sigma, rel=1e-5)


def test_a_field_of_view_guess_is_the_error_every_scale_cue_shares(scene):
    """Intrinsics from a field-of-view prior are off by ~25 % (log sd 0.25), not a model's 8 %: unrefined, that is the
    error every scale cue shares, so the image's scale sd holds it (the guards then ask fewer metric questions).
    It once stayed at the config's 0.08 whatever the given focal length's sd."""
    from lift3d.build import MODEL_DEPTH_LIFT
    from lift3d.lift.stage import LiftStage

    down = tilted_down(15.0, 2.0)
    boxes = [box_on_floor(-0.7, 3.0, [0.5, 0.9, 0.55], 0.3, down=down),
             box_on_floor(0.8, 3.6, [1.4, 0.75, 0.8], -0.2, down=down)]
    depth, K, anns, _ = scene(boxes, down=down, wall_dist=6.0, W=480, H=360, categories={0: "chair", 1: "table"})
    cfg = LiftConfig(**MODEL_DEPTH_LIFT)
    model = lift_image(depth, K, anns, None, cfg)  # no image: no lines, nothing refined
    guess = lift_image(depth, K, anns, None, cfg, focal_log_sd=0.25)
    assert model.K is None and guess.K is None
    assert model.depth_scale_factor == guess.depth_scale_factor  # the estimate is the same; only its spread widens
    assert 0.08 < model.depth_scale_log_sigma < 0.25 <= guess.depth_scale_log_sigma
    off = LiftConfig(**MODEL_DEPTH_LIFT).update({"focal_log_sd": 0.0})
    assert guess.depth_scale_log_sigma == lift_image(depth, K, anns, None, off.update({"scale_shared_std": 0.25})
                                                     ).depth_scale_log_sigma
    rec = {"image_id": 1, "depth": depth, "K": K.ravel().tolist(), "annotations": anns, "gravity": None,
           "intrinsics_source": "fov_prior"}
    out = LiftStage(cfg).process_record(rec)
    assert out["depth_scale_log_sigma"] == guess.depth_scale_log_sigma
    # sizes across the view: the cues read them, so the field-of-view guess's error reaches them only through the
    # depth's prior (lateral_scale_log_sigma, for the QA guards)
    assert out["lateral_scale_log_sigma"] == guess.lateral_scale_log_sigma
    assert model.lateral_scale_log_sigma <= guess.lateral_scale_log_sigma < 0.5 * guess.depth_scale_log_sigma


@pytest.mark.parametrize("min_grad", [4.0, 12.0, 40.0])
def test_the_edge_pixels_are_those_whose_gradient_exceeds_the_threshold(min_grad):
    """The 8-bit path tests |gx| + |gy| first and the exact magnitude on those pixels only: the same pixels, in the
    same order, as the magnitude test on every pixel."""
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    img[:, 40:] //= 4  # strong and weak edges
    cfg = VanishingConfig(min_grad=min_grad)
    st, gx, gy, vv, uu = image_gradients(img, cfg)
    mag2 = gx.astype(np.int64) ** 2 + gy.astype(np.int64) ** 2
    want = np.nonzero(mag2 > (min_grad * 8.0 * 3) ** 2)
    assert np.array_equal(vv, want[0]) and np.array_equal(uu, want[1]) and 0 < len(vv) < mag2.size
    st2, gx2, gy2, vv2, uu2 = image_gradients(img.astype(np.float32), cfg)  # the float path: the same pixels
    assert np.array_equal(vv2, vv) and np.array_equal(uu2, uu)
