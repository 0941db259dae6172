"""Drawing geometry and the per-image picture: corners land on the right PNG pixels, the BEV axes are right."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from viz_helpers import F, H, W, image_row, obj
from lift3d.geometry.boxes import FRONT_FACE, box_corners
from lift3d.geometry.camera import project
from lift3d.viz.data import ImageView
from lift3d.viz.geometry import NEAR, clip_polygon, clip_segment, fov_rays, projected_edges, to_bev
from lift3d.viz.render import DPI, category_palette, panel_layout, render_figure, render_png


def test_clip_segment():
    a, b = np.array([0.0, 0, 2]), np.array([1.0, 0, 4])
    assert all(np.allclose(x, y) for x, y in zip(clip_segment(a, b), (a, b)))
    assert clip_segment([0, 0, -1], [0, 0, 0.05]) is None
    q0, q1 = clip_segment([0.0, 0, -1], [2.0, 0, 1])
    assert q0[2] == pytest.approx(NEAR) and q0[0] == pytest.approx(2.0 * (NEAR + 1) / 2)  # on the line
    assert np.allclose(q1, [2, 0, 1])


def test_clip_polygon_keeps_front_part():
    sq = np.array([[-1.0, 0, -1], [1, 0, -1], [1, 0, 1], [-1, 0, 1]])
    out = clip_polygon(sq)
    assert len(out) == 4 and np.all(out[:, 2] >= NEAR - 1e-12)
    assert len(clip_polygon(sq - [0, 0, 5])) == 0


def test_partly_behind_box_projects_finite():
    corners = box_corners([0.0, 0.0, 0.3], [1.0, 1.0, 2.0], np.eye(3))  # back face at z = -0.7
    segs = projected_edges(corners, np.array(F * np.eye(3) + np.diag([0, 0, 1 - F])))
    assert 0 < len(segs) <= 12
    assert all(np.all(np.isfinite(a)) and np.all(np.isfinite(b)) for _, _, a, b in segs)


def test_bev_axes_level_and_pitched():
    # level camera: BEV = (camera x, camera z)
    assert np.allclose(to_bev([[1.0, 0.5, 3.0]], [0, 1, 0]), [[1.0, 3.0]])
    # camera pitched down by 30 deg: a floor point straight ahead (1.5 m below, 4 m out) is on the forward axis
    t = np.radians(30)
    down = np.array([0.0, np.cos(t), np.sin(t)])            # gravity seen from the pitched camera
    G_rows = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])  # world->camera
    p_world = np.array([0.0, 1.5, 4.0])                      # x right, y down, z forward (level)
    b = to_bev(G_rows @ p_world, down)[0]
    assert b == pytest.approx([0.0, 4.0], abs=1e-9)
    left, right = fov_rays(np.array([[F, 0, (W - 1) / 2], [0, F, (H - 1) / 2], [0, 0, 1]]), W, [0, 1, 0])
    half = np.arctan2(W / 2, F)
    assert np.degrees(np.arctan2(right[0], right[1])) == pytest.approx(np.degrees(half), abs=0.01)
    assert left[0] < 0 < right[0]


def _png(view, palette):
    return np.asarray(Image.open(io.BytesIO(render_png(view, palette))).convert("RGB")).astype(int)


def _near(img, x, y, col, r=2, tol=40):
    """Whether a pixel within r of (x, y) has colour col (0-255)."""
    xi, yi = int(round(x)), int(round(y))
    patch = img[yi - r:yi + r + 1, xi - r:xi + r + 1]
    return bool((np.abs(patch - np.asarray(col)).max(axis=2) <= tol).any())


def test_projected_corners_land_on_png_pixels():
    o = obj(1, "chair", (0.8, 0.3, 4.0), dims=(1.0, 0.8, 1.2), bbox=(150, 90, 260, 190))
    view = ImageView(row=image_row(1, [o]), split="train", rgb=np.zeros((H, W, 3), np.uint8))
    palette = category_palette(["chair", "table"])
    col = np.round(np.array(palette["chair"]) * 255).astype(int)
    img = _png(view, palette)
    lay = panel_layout(W, H)
    assert img.shape == (lay.fig_h, lay.fig_w, 3)
    uv = project(box_corners(o["center_cam"], o["dimensions"], np.eye(3)), view.K)
    for u, v in uv:
        assert _near(img, *lay.pixel(u, v), col), (u, v)
    # a wrong sign on x or y would put the box here instead: nothing is drawn there
    for u, v in uv:
        assert not _near(img, *lay.pixel(W - 1 - u, H - 1 - v), col, r=1)
    # the front face (local +l, the far face here) is filled: its centre is tinted with the category colour
    fc = project(box_corners(o["center_cam"], o["dimensions"], np.eye(3))[list(FRONT_FACE)].mean(0, keepdims=True),
                 view.K)[0]
    x, y = lay.pixel(*fc)
    px = img[int(y) + 3, int(x) + 6]  # off the X's diagonals, inside the face
    assert px.sum() > 30 and np.argmax(px) == np.argmax(col)
    # far from the box the RGB is untouched (black)
    assert img[int(lay.pixel(20, 200)[1]), int(lay.pixel(20, 200)[0])].max() < 10


def test_bev_box_right_of_camera_and_ahead():
    o = obj(1, "chair", (1.5, 0.0, 4.0), dims=(1.0, 1.0, 1.0))
    view = ImageView(row=image_row(1, [o]), split="train", rgb=np.zeros((H, W, 3), np.uint8))
    palette = category_palette(["chair"])
    fig = render_figure(view, palette)
    fig.canvas.draw()
    ax = fig.axes[-1]
    assert ax.get_xlabel() == "x right (m)" and ax.get_ylabel() == "forward (m)"
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    fh = img.shape[0]

    def pix(x, y):
        dx, dy = ax.transData.transform((x, y))
        return img[int(round(fh - dy)), int(round(dx))]

    col = np.round(np.array(palette["chair"]) * 255).astype(int)
    fill = pix(1.5 + 0.3, 4.0 - 0.3)            # inside the footprint: tinted with the category colour
    assert np.argmax(fill) == np.argmax(col) and fill.min() < 250
    assert pix(-1.5 - 0.3, 4.0 - 0.3).tolist() != fill.tolist()  # the mirror image is empty
    cam = pix(0.0, 0.05)                         # the camera marker (black triangle) at the origin
    assert cam.max() < 80
    assert fig.dpi == DPI


def test_missing_pixels_and_unknown_gravity_still_render():
    o = obj(1, "chair", (0.0, 0.0, 0.4), dims=(1.0, 1.0, 2.0))   # partly behind the camera
    view = ImageView(row=image_row(1, [o], gravity=None), split="train")
    fig = render_figure(view, category_palette(["chair"]))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert "depth not available" in texts
    assert any(t.startswith("RGB not available") for t in texts)
    assert "camera" in fig.axes[-1].get_xlabel()
    assert render_png(view)[:8] == b"\x89PNG\r\n\x1a\n"


def test_depth_panel_uses_metres():
    depth = np.full((H, W), 3.0, np.float32)
    depth[:, W // 2:] = 5.0
    view = ImageView(row=image_row(1, [obj(1, "chair", (0, 0, 3))]), split="train",
                     rgb=np.zeros((H, W, 3), np.uint8), depth=depth, depth_note="dataset depth")
    fig = render_figure(view)
    cbar = [ax for ax in fig.axes if "metres" in ax.get_xlabel()]
    assert cbar, "depth colour bar with a metres label"
    lo, hi = cbar[0].get_xlim()
    assert 2.9 <= lo <= 3.1 and 4.9 <= hi <= 5.1
