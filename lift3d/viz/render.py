"""One picture per image: RGB with projected 3D wireframes | depth (viridis, metres) | bird's-eye view.

The figure is laid out in exact pixels (:func:`panel_layout`), so a camera pixel (u, v) lands at figure pixel
``(x0 + (u + 0.5) * sx, y0 + (v + 0.5) * sy)`` of the image panel: tests check projected corners on the PNG.
Matplotlib is used through ``Figure`` + the Agg canvas only (no pyplot, no global state, no display).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import numpy as np

from lift3d.geometry.boxes import FRONT_FACE
from lift3d.geometry.camera import backproject_depth, project
from lift3d.viz.data import ImageView
from lift3d.viz.geometry import (
    NEAR, clip_segment, convex_hull_2d, fov_rays, object_corners, projected_edges, projected_front_face, to_bev,
)

DPI = 100
TITLE_H = 34
MARGIN = 12
BOTTOM_H = 64
BEV_LEFT = 58  # room for the BEV's y tick labels


def _tab20() -> list[tuple[float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    # even entries first (the saturated ones), then the light ones
    return [tuple(cmap(i)[:3]) for i in list(range(0, 20, 2)) + list(range(1, 20, 2))]


def category_palette(categories) -> dict[str, tuple[float, float, float]]:
    """A distinct, stable colour per category (sorted names -> tab20 order)."""
    cols = _tab20()
    return {c: cols[i % len(cols)] for i, c in enumerate(sorted(set(categories)))}


def category_color(cat: str, palette: dict | None = None) -> tuple[float, float, float]:
    if palette and cat in palette:
        return palette[cat]
    cols = _tab20()
    return cols[zlib.crc32(str(cat).encode()) % len(cols)]


@dataclass(frozen=True)
class Layout:
    """Pixel rectangles (x, y from the top-left of the PNG, w, h) of the three panels."""

    fig_w: int
    fig_h: int
    image: tuple[int, int, int, int]
    depth: tuple[int, int, int, int]
    bev: tuple[int, int, int, int]
    colorbar: tuple[int, int, int, int]
    sx: float
    sy: float

    def pixel(self, u: float, v: float) -> tuple[float, float]:
        """Figure pixel (x, y) of camera pixel (u, v) in the image panel."""
        x0, y0, _, _ = self.image
        return x0 + (u + 0.5) * self.sx, y0 + (v + 0.5) * self.sy


def panel_layout(width: int, height: int, max_side: int = 640) -> Layout:
    s = min(1.0, max_side / max(width, height))
    pw, ph = max(1, round(width * s)), max(1, round(height * s))
    bev_side = max(ph, 240)
    x_img = MARGIN
    x_dep = x_img + pw + MARGIN
    x_bev = x_dep + pw + MARGIN + BEV_LEFT
    fig_w = x_bev + bev_side + MARGIN
    fig_h = TITLE_H + max(ph, bev_side) + BOTTOM_H
    return Layout(fig_w=fig_w, fig_h=fig_h, image=(x_img, TITLE_H, pw, ph), depth=(x_dep, TITLE_H, pw, ph),
                  bev=(x_bev, TITLE_H, bev_side, bev_side), colorbar=(x_dep + 20, TITLE_H + ph + 10, pw - 40, 10),
                  sx=pw / width, sy=ph / height)


def _axes(fig, rect, layout: Layout):
    x, y, w, h = rect
    return fig.add_axes((x / layout.fig_w, 1.0 - (y + h) / layout.fig_h, w / layout.fig_w, h / layout.fig_h))


def _image_axes(fig, rect, layout, width, height):
    ax = _axes(fig, rect, layout)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_axis_off()
    return ax


def _draw_wireframes(ax, view: ImageView, palette, *, labels: bool, thin: bool = False):
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon, Rectangle

    K = view.K
    W, H = int(view.row["width"]), int(view.row["height"])
    for obj in view.objects:
        col = category_color(obj["category"], palette)
        corners = object_corners(obj)
        segs = projected_edges(corners, K, NEAR)
        if thin:
            ax.add_collection(LineCollection([[a, b] for _, _, a, b in segs], colors=[(1, 1, 1, 0.65)],
                                             linewidths=0.8))
            continue
        front = set(FRONT_FACE)
        back = [[a, b] for i, j, a, b in segs if not (i in front and j in front)]
        fr = [[a, b] for i, j, a, b in segs if i in front and j in front]
        ax.add_collection(LineCollection(back, colors=[col], linewidths=1.6))
        ax.add_collection(LineCollection(fr, colors=[col], linewidths=2.6))
        face = projected_front_face(corners, K, NEAR)
        if len(face) >= 3:
            ax.add_patch(Polygon(face, closed=True, facecolor=(*col, 0.28), edgecolor="none"))
            # the front face's diagonals: an X marks the front
            diag = []
            for i, j in ((FRONT_FACE[0], FRONT_FACE[2]), (FRONT_FACE[1], FRONT_FACE[3])):
                seg = clip_segment(corners[i], corners[j], NEAR)
                if seg is not None:
                    diag.append(project(np.stack(seg), K))
            ax.add_collection(LineCollection(diag, colors=[col], linewidths=1.0))
        bb = obj.get("bbox2d")
        if bb is not None:
            x1, y1, x2, y2 = bb
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=(*col, 0.8),
                                   linestyle=(0, (3, 3)), linewidth=0.8))
        if labels:
            if bb is not None:
                lx, ly = bb[0], bb[1]
            else:
                uv = np.array([p for _, _, a, b in segs for p in (a, b)]).reshape(-1, 2)
                lx, ly = (uv[:, 0].min(), uv[:, 1].min()) if len(uv) else (0, 0)
            lx = float(np.clip(lx, 0, W - 1))
            ly = float(np.clip(ly, 0, H - 1))
            ax.text(lx, ly, f"{obj['category']} #{obj['annotation_id']}", fontsize=7, color="white",
                    va="bottom" if ly > 12 else "top", ha="left", parse_math=False, clip_on=True,
                    bbox=dict(boxstyle="square,pad=0.15", facecolor=col, edgecolor="none", alpha=0.85))


def _depth_limits(depth: np.ndarray) -> tuple[float, float]:
    valid = depth[np.isfinite(depth) & (depth > 0)]
    if valid.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(valid, [1, 99])
    if hi - lo < 1e-3:
        hi = lo + 1e-3
    return float(lo), float(hi)


def _draw_bev(ax, view: ImageView, palette):
    from matplotlib.patches import Polygon

    down = view.gravity
    W = int(view.row["width"])
    ranges = [1.0]
    if view.depth is not None:
        pts, _ = backproject_depth(view.depth, view.K)
        if len(pts):
            step = max(1, len(pts) // 20000)
            b = to_bev(pts[::step], down)
            far = np.percentile(np.linalg.norm(b, axis=1), 98)
            b = b[np.linalg.norm(b, axis=1) <= far * 1.05]
            ax.scatter(b[:, 0], b[:, 1], s=0.2, c="0.55", alpha=0.5, linewidths=0, rasterized=True, zorder=1)
            ranges.append(float(far))
    for obj in view.objects:
        col = category_color(obj["category"], palette)
        c = object_corners(obj)
        bev = to_bev(c, down)
        hull = convex_hull_2d(bev)
        ax.add_patch(Polygon(hull, closed=True, facecolor=(*col, 0.25), edgecolor=col, linewidth=1.2, zorder=3))
        front = bev[list(FRONT_FACE)]
        ax.add_patch(Polygon(front, closed=True, fill=False, edgecolor=col, linewidth=3.0, zorder=4))
        centre = to_bev(np.asarray(obj["center_cam"], dtype=np.float64), down)[0]
        ax.text(centre[0], centre[1], str(obj["annotation_id"]), fontsize=6, ha="center", va="center",
                color="black", parse_math=False, zorder=5)
        ranges.append(float(np.linalg.norm(bev, axis=1).max()))
    reach = max(ranges) * 1.08
    left, right = fov_rays(view.K, W, down)
    # ray lengths chosen so the wedge reaches `reach` metres forward (rays are unit vectors in the BEV plane)
    wedge = np.array([[0.0, 0.0], left * reach / max(left[1], 0.2), right * reach / max(right[1], 0.2)])
    ax.add_patch(Polygon(wedge, closed=True, facecolor=(0.2, 0.4, 1.0, 0.07), edgecolor=(0.2, 0.4, 1.0, 0.8),
                         linewidth=1.0, linestyle="--", zorder=2))
    ax.plot([0], [0], marker="^", markersize=8, color="black", zorder=6)
    ax.annotate("camera", (0, 0), textcoords="offset points", xytext=(6, -10), fontsize=7)
    xs = np.concatenate([wedge[:, 0], [-0.5, 0.5]])
    ys = np.concatenate([wedge[:, 1], [-0.3]])
    for obj in view.objects:
        b = to_bev(object_corners(obj), down)
        xs = np.concatenate([xs, b[:, 0]])
        ys = np.concatenate([ys, b[:, 1]])
    # the axes are square in pixels: equal x and y spans give equal metres per pixel on both axes
    half = 0.5 * max(np.ptp(xs), np.ptp(ys), 1.0) * 1.06
    cx, cy = 0.5 * (xs.min() + xs.max()), 0.5 * (ys.min() + ys.max())
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.tick_params(labelsize=7)
    if down is None:
        ax.set_xlabel("camera x (m)", fontsize=8)
        ax.set_ylabel("camera z (m)", fontsize=8)
        ax.set_title("bird's-eye view (camera frame: gravity unknown)", fontsize=8)
    else:
        ax.set_xlabel("x right (m)", fontsize=8)
        ax.set_ylabel("forward (m)", fontsize=8)
        ax.set_title("bird's-eye view (gravity frame), metres", fontsize=8)


def render_figure(view: ImageView, palette: dict | None = None, max_side: int = 640):
    """The matplotlib Figure of one image (Agg canvas attached)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    W, H = int(view.row["width"]), int(view.row["height"])
    lay = panel_layout(W, H, max_side)
    fig = Figure(figsize=(lay.fig_w / DPI, lay.fig_h / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    row = view.row
    title = (f"image {row['image_id']} [{view.split}]  {row.get('file_name', '')}  {W}x{H}  "
             f"{len(view.objects)} objects  |  depth: {row.get('depth_source')}  K: {row.get('intrinsics_source')}  "
             f"gravity: {row.get('gravity_source')}")
    fig.text(MARGIN / lay.fig_w, 1 - 22 / lay.fig_h, title, fontsize=9, parse_math=False, ha="left")

    # RGB + wireframes
    ax = _image_axes(fig, lay.image, lay, W, H)
    if view.rgb is not None:
        ax.imshow(view.rgb, interpolation="antialiased" if lay.sx < 1 else "nearest", zorder=0,
                  extent=(-0.5, W - 0.5, H - 0.5, -0.5))
    else:
        ax.imshow(np.full((H, W, 3), 235, np.uint8), extent=(-0.5, W - 0.5, H - 0.5, -0.5))
        ax.text(W / 2, H / 2, f"RGB not available ({view.rgb_note})", ha="center", va="center", fontsize=9,
                parse_math=False)
    _draw_wireframes(ax, view, palette, labels=True)
    x, y, w, h = lay.image
    fig.text(x / lay.fig_w, 1 - (y + h + 16) / lay.fig_h,
             "3D boxes projected; front face filled, thick, with an X; dashed: 2D box", fontsize=7)

    # depth
    axd = _image_axes(fig, lay.depth, lay, W, H)
    if view.depth is not None:
        from matplotlib import colormaps

        d = np.where(np.isfinite(view.depth) & (view.depth > 0), view.depth, np.nan)
        lo, hi = _depth_limits(view.depth)
        cmap = colormaps["viridis"].with_extremes(bad=(0.15, 0.15, 0.15))
        im = axd.imshow(d, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest",
                        extent=(-0.5, W - 0.5, H - 0.5, -0.5))
        _draw_wireframes(axd, view, palette, labels=False, thin=True)
        cax = _axes(fig, lay.colorbar, lay)
        cb = fig.colorbar(im, cax=cax, orientation="horizontal")
        cb.ax.tick_params(labelsize=7)
        cb.set_label(f"{view.depth_note}, metres (dark grey: no depth)", fontsize=7)
    else:
        axd.imshow(np.full((H, W, 3), 60, np.uint8), extent=(-0.5, W - 0.5, H - 0.5, -0.5))
        axd.text(W / 2, H / 2, view.depth_note, ha="center", va="center", color="white", fontsize=9,
                 wrap=True, parse_math=False)

    # bird's-eye view
    axb = _axes(fig, lay.bev, lay)
    _draw_bev(axb, view, palette)
    return fig


def render_png(view: ImageView, palette: dict | None = None, max_side: int = 640) -> bytes:
    fig = render_figure(view, palette, max_side)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def render_jpeg(view: ImageView, palette: dict | None = None, max_side: int = 420, quality: int = 85) -> bytes:
    from PIL import Image

    png = render_png(view, palette, max_side)
    with Image.open(io.BytesIO(png)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


__all__ = ["Layout", "panel_layout", "category_palette", "category_color", "render_figure", "render_png",
           "render_jpeg"]
