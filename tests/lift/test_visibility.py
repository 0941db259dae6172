"""The lifted box against what the image shows around its 2D box (lift3d/lift/visibility.py, fit.check_visible)."""

import numpy as np
import pytest

from lift3d.lift import LiftConfig
from lift3d.lift.fit import check_visible
from lift3d.lift.result import LiftReject
from lift3d.lift.visibility import box_ray_span, see_through_area

W, H, F = 320, 240, 300.0
K = np.array([[F, 0.0, (W - 1) / 2], [0.0, F, (H - 1) / 2], [0.0, 0.0, 1.0]])
I3 = np.eye(3)


def _project_rect(centre, dims):
    """Pixel rectangle (x1, y1, x2, y2) of an axis-aligned box's front face (z = centre z - l/2)."""
    cx, cy, cz = centre
    w, h, l = dims
    z = cz - l / 2
    return (K[0, 2] + F * (cx - w / 2) / z, K[1, 2] + F * (cy - h / 2) / z,
            K[0, 2] + F * (cx + w / 2) / z, K[1, 2] + F * (cy + h / 2) / z)


def _scene(centre, dims, background=20.0, occluder=None):
    """Depth: a wall at ``background``, the box's front face in front of it, optionally an occluder band
    (x1, x2, depth) over every row."""
    depth = np.full((H, W), background, dtype=np.float32)
    x1, y1, x2, y2 = (int(round(t)) for t in _project_rect(centre, dims))
    depth[max(y1, 0):y2 + 1, max(x1, 0):x2 + 1] = centre[2] - dims[2] / 2
    if occluder is not None:
        ox1, ox2, od = occluder
        depth[:, ox1:ox2 + 1] = od
    return depth


def test_box_ray_span():
    rays = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    t_in, t_out = box_ray_span(np.array([0.0, 0.0, 5.0]), np.array([1.0, 1.0, 1.0]), I3, rays)
    assert t_in[0] == pytest.approx(4.5) and t_out[0] == pytest.approx(5.5)
    assert t_in[1] > t_out[1]  # the ray at 45 degrees misses it


@pytest.mark.parametrize("k", [1.0, 2.5])
def test_a_right_box_shows_nothing_behind_it_at_any_scale(k):
    centre, dims = np.array([0.5, 0.2, 6.0]), np.array([1.8, 1.5, 4.0])
    depth = _scene(centre, dims)
    bbox = _project_rect(centre, dims)
    # (the back corners project inside the front face: a box seen straight on)
    assert see_through_area(centre * k, dims * k, I3, bbox, depth * k, K, 4.0, 0.1, 0.1) == 0.0


def test_a_box_lifted_from_a_nearer_occluder_shows_the_scene_behind_it():
    """A car far away (its small 2D box) lifted at an occluder's depth: its projection covers a region several times
    its 2D box where the image sees the street behind it; with the region around the 2D box hidden by a nearer
    occluder instead, nothing is seen behind it."""
    far_centre, dims = np.array([0.0, 0.8, 20.0]), np.array([1.8, 1.5, 4.5])
    depth = _scene(far_centre, dims, background=40.0)
    bbox = _project_rect(far_centre, dims)
    wrong = np.array([0.0, 0.2, 5.0])  # the same ray, at a nearer person's depth
    a = see_through_area(wrong, dims, I3, bbox, depth, K, 4.0, 0.1, 0.1)
    assert a > 5.0
    hidden = depth.copy()
    hidden[hidden > 10] = 3.0  # everything but the object is a nearer surface: the box may be hidden there
    assert see_through_area(wrong, dims, I3, bbox, hidden, K, 4.0, 0.1, 0.1) == 0.0
    # the bound: a limit larger than the projection outside the 2D box returns without reading a pixel
    assert see_through_area(wrong, dims, I3, bbox, depth, K, 4.0, 0.1, 0.1, limit=1e6) == 0.0


def test_check_visible_rejects_a_see_through_box():
    far_centre, dims = np.array([0.0, 0.8, 20.0]), np.array([1.8, 1.5, 4.5])
    depth = _scene(far_centre, dims, background=40.0)
    bbox = _project_rect(far_centre, dims)
    cfg = LiftConfig()
    check_visible(far_centre, dims, I3, bbox, depth, K, 1.0, cfg)  # the right box passes
    with pytest.raises(LiftReject) as e:
        check_visible(np.array([0.0, 0.2, 5.0]), dims, I3, bbox, depth, K, 1.0, cfg)
    assert e.value.reason == "see_through"
    # the depth divided by the image's scale: the same box in model depth 2x too far passes and fails alike
    check_visible(far_centre, dims, I3, bbox, depth * 2.0, K, 2.0, cfg)
    off = LiftConfig(plausible={"max_see_through": 0.0})
    assert off.plausible.max_see_through == 0.0


def test_the_depth_scale_divides_the_pixels_read_as_a_scaled_map_would():
    """``depth_scale``: only the pixels read are divided, with the same result as dividing the whole map."""
    K = np.array([[500.0, 0.0, 160.0], [0.0, 500.0, 120.0], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(3)
    depth = (4.0 + rng.random((240, 320))).astype(np.float32)
    centre, dims, bbox = np.array([0.3, 0.0, 3.0]), np.array([1.2, 0.8, 1.0]), [150.0, 100.0, 170.0, 130.0]
    for k in (0.8, 1.0, 1.37):
        a = see_through_area(centre, dims, np.eye(3), bbox, depth, K, 2.0, 0.05, 0.05, depth_scale=k)
        b = see_through_area(centre, dims, np.eye(3), bbox, depth / k if k != 1.0 else depth, K, 2.0, 0.05, 0.05)
        assert a == b and a > 0
