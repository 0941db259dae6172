"""Vectorised ray casting of a :class:`~lift3d.synth.scene.Scene`: exact z-depth, instance ids, RGB.

The ray of pixel (u, v) (0-based pixel centres) is ``K^-1 (u, v, 1)``, whose z component is 1, so the
ray parameter of a hit *is* its z-depth: back-projecting the depth with
:func:`lift3d.geometry.camera.backproject` gives the hit point exactly (up to float64 rounding).

Room surfaces are planes (the room is convex and contains the camera, so the visible room surface is
the nearest plane hit ahead).  Objects are unions of parts that are axis-aligned in the object's frame,
intersected with the slab test; each object only casts the rays of the pixel rectangle that contains
the projection of its box (every corner is in front of the camera, so the projection of the box is the
convex hull of its projected corners).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lift3d.geometry.boxes import CORNER_SIGNS
from lift3d.geometry.camera import backproject
from lift3d.synth.scene import Scene


@dataclass
class RenderResult:
    depth: np.ndarray  # (H, W) float64, z-depth in metres, > 0 everywhere (closed room)
    instance: np.ndarray  # (H, W) int32: 0 room, k >= 1 -> scene.objects[k - 1]
    surface: np.ndarray  # (H, W) int16: index into scene.planes for room pixels, -1 on objects
    part: np.ndarray  # (H, W) int16: index into the object's parts on object pixels, -1 on the room
    normal: np.ndarray  # (H, W, 3) float64 unit surface normal (facing the camera)
    rgb: np.ndarray  # (H, W, 3) uint8
    amodal_pixels: np.ndarray  # (N,) pixels covered by each object rendered alone (inside the image)
    touches_border: np.ndarray  # (N,) bool: the object's unoccluded silhouette reaches the image border


def pixel_rays(width: int, height: int, K) -> np.ndarray:
    """(H, W, 3) rays K^-1 (u, v, 1) of all pixel centres; z component is exactly 1."""
    vv, uu = np.mgrid[0:height, 0:width]
    return backproject(uu, vv, np.ones((height, width)), K)


def _slab(o: np.ndarray, inv: np.ndarray, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Entry distance (inf where missed) and entry axis of rays ``o + t d`` (``inv = 1/d``) into [lo, hi]."""
    t1 = (np.asarray(lo) - o) * inv
    t2 = (np.asarray(hi) - o) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    axis = np.argmax(tmin, axis=-1)
    tn = np.take_along_axis(tmin, axis[..., None], axis=-1)[..., 0]
    tf = tmax.min(axis=-1)
    hit = (tn <= tf) & (tn > 0)
    return np.where(hit, tn, np.inf), axis


def _times(a: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``a @ M`` for (..., 3) @ (3, 3), as explicit sums (stays single-threaded and cheap)."""
    return a[..., 0:1] * M[0] + a[..., 1:2] * M[1] + a[..., 2:3] * M[2]


def _pixel_rect(corners: np.ndarray, K: np.ndarray, u0: int, u1: int, v0: int, v1: int):
    """Pixel rectangle [u0, u1) x [v0, v1), clipped to the given one, holding the projection of a box.

    With every corner in front of the camera the projection of the box is the convex hull of the projected
    corners, so no pixel outside this rectangle (grown by one pixel for safety) can see the box.  A box
    reaching behind the camera gets the whole given rectangle.
    """
    if corners[:, 2].min() <= 1e-9:
        return u0, u1, v0, v1
    uvw = corners @ K.T
    uv = uvw[:, :2] / uvw[:, 2:3]
    a0 = max(u0, int(np.floor(uv[:, 0].min())) - 1)
    a1 = min(u1, int(np.ceil(uv[:, 0].max())) + 2)
    b0 = max(v0, int(np.floor(uv[:, 1].min())) - 1)
    b1 = min(v1, int(np.ceil(uv[:, 1].max())) + 2)
    if a0 >= a1 or b0 >= b1:
        return None
    return a0, a1, b0, b1


def _hash01(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random values in [0, 1) for integer lattice cells."""
    x = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ (seed * 83492791)
    x = (x ^ (x >> 13)) * 1274126177
    x = x ^ (x >> 16)
    return (x & 0xFFFF).astype(np.float64) / 65536.0


def render(scene: Scene, rng: np.random.Generator | None = None, texture_noise: float = 0.03) -> RenderResult:
    """Ray-cast the scene.  ``rng`` only drives the RGB texture noise (None: no per-pixel noise)."""
    H, W = scene.height, scene.width
    rays = pixel_rays(W, H, scene.K)

    # --- room: nearest plane ahead -----------------------------------------------------------------
    ts = []
    for pl in scene.planes:
        n = pl.normal
        den = rays[..., 0] * n[0] + rays[..., 1] * n[1] + rays[..., 2] * n[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(den > 1e-12, pl.offset / np.where(den > 1e-12, den, 1.0), np.inf)
        ts.append(t)
    ts = np.stack(ts, axis=0)
    surface = np.argmin(ts, axis=0).astype(np.int16)
    depth = np.take_along_axis(ts, surface[None].astype(np.int64), axis=0)[0]
    if not np.all(np.isfinite(depth)):
        raise RuntimeError("a ray left the room: the camera is not inside a closed room")
    normals_pl = np.stack([-pl.normal for pl in scene.planes])
    normal = normals_pl[surface]
    albedo = np.array([pl.color for pl in scene.planes])[surface]

    # floor planks from world coordinates (gravity frame)
    psi = np.radians(scene.room.get("yaw_deg", 0.0))
    a1 = np.array([np.cos(psi), -np.sin(psi)])
    a2 = np.array([np.sin(psi), np.cos(psi)])
    floor = surface == 0
    if floor.any() and scene.scene_type == "indoor":
        # ground-plane coordinates of the floor points (explicit sums: no BLAS threads for a 3x3 product)
        p = rays[floor] * depth[floor][:, None]
        G = scene.G
        gx = p[:, 0] * G[0, 0] + p[:, 1] * G[1, 0] + p[:, 2] * G[2, 0]
        gf = p[:, 0] * G[0, 2] + p[:, 1] * G[1, 2] + p[:, 2] * G[2, 2]
        r1 = gx * a1[0] + gf * a1[1]
        r2 = gx * a2[0] + gf * a2[1]
        plank = np.floor(r1 / 0.16)
        seg = np.floor(r2 / 1.2 + 0.37 * plank)
        f = 0.82 + 0.3 * _hash01(plank, seg, 7)
        q = r2 / 1.2 + 0.37 * plank
        seam = (np.abs(r1 / 0.16 - np.round(r1 / 0.16)) < 0.03) | (np.abs(q - np.round(q)) < 0.004)
        f = np.where(seam, 0.55, f)
        albedo[floor] *= f[:, None]

    instance = np.zeros((H, W), dtype=np.int32)
    part_map = np.full((H, W), -1, dtype=np.int16)
    n_obj = len(scene.objects)
    amodal = np.zeros(n_obj, dtype=np.int64)
    border = np.zeros(n_obj, dtype=bool)

    # --- objects ----------------------------------------------------------------------------------
    for k, obj in enumerate(scene.objects):
        box = _pixel_rect(obj.corners(), scene.K, 0, W, 0, H)
        if box is None:
            continue
        u0, u1, v0, v1 = box
        d = _times(rays[v0:v1, u0:u1], obj.R)  # ray directions in the object frame
        o = -(obj.center @ obj.R)  # camera position in the object frame
        d = np.where(np.abs(d) < 1e-300, 1e-300, d)
        inv = 1.0 / d
        t_obj = np.full(d.shape[:2], np.inf)
        ax_obj = np.zeros(d.shape[:2], dtype=np.int64)
        part_obj = np.zeros(d.shape[:2], dtype=np.int16)
        base = np.asarray(obj.color)
        part_cols = np.array([(np.asarray(pt.tint) if pt.tint is not None else base) * pt.shade for pt in obj.parts])
        for pi, part in enumerate(obj.parts):
            lo, hi = np.asarray(part.lo), np.asarray(part.hi)
            pc = obj.center + (lo + (hi - lo) * (CORNER_SIGNS + 1) / 2) @ obj.R.T  # part corners, camera frame
            sub = _pixel_rect(pc, scene.K, u0, u1, v0, v1)
            if sub is None:
                continue
            a0, a1, b0, b1 = sub[0] - u0, sub[1] - u0, sub[2] - v0, sub[3] - v0
            t, ax = _slab(o, inv[b0:b1, a0:a1], lo, hi)
            t_sub = t_obj[b0:b1, a0:a1]
            better = t < t_sub
            if not better.any():
                continue
            t_sub[better] = t[better]
            ax_obj[b0:b1, a0:a1][better] = ax[better]
            part_obj[b0:b1, a0:a1][better] = pi
        hit = np.isfinite(t_obj)
        amodal[k] = int(hit.sum())
        if amodal[k] == 0:
            continue
        border[k] = bool(
            (v0 == 0 and hit[0].any()) or (v1 == H and hit[-1].any())
            or (u0 == 0 and hit[:, 0].any()) or (u1 == W and hit[:, -1].any())
        )
        zr = depth[v0:v1, u0:u1]
        closer = t_obj < zr
        if not closer.any():
            continue
        zr[closer] = t_obj[closer]
        instance[v0:v1, u0:u1][closer] = k + 1
        pc = part_obj[closer]
        part_map[v0:v1, u0:u1][closer] = pc
        ii, jj = np.nonzero(closer)
        ax = ax_obj[ii, jj]
        sign = -np.sign(d[ii, jj, ax])
        normal[v0:v1, u0:u1][closer] = obj.R.T[ax] * sign[:, None]  # column ax of R, facing the ray
        albedo[v0:v1, u0:u1][closer] = part_cols[pc]
    surface = np.where(instance > 0, -1, surface).astype(np.int16)

    # --- shading (float32: only the picture depends on it) -------------------------------------------
    pts = (rays * depth[..., None]).astype(np.float32)
    nrm = normal.astype(np.float32)
    to_l = scene.light.astype(np.float32) - pts
    dist2 = np.einsum("hwc,hwc->hw", to_l, to_l)
    ndotl = np.clip(np.einsum("hwc,hwc->hw", nrm, to_l) / np.sqrt(np.maximum(dist2, 1e-12)), 0.0, 1.0)
    ndotv = np.clip(-np.einsum("hwc,hwc->hw", nrm, pts) / np.sqrt(np.einsum("hwc,hwc->hw", pts, pts)), 0.0, 1.0)
    if scene.sun is not None:  # outdoor: directional sunlight
        sun = scene.sun.astype(np.float32)
        ndots = np.clip(nrm[..., 0] * sun[0] + nrm[..., 1] * sun[1] + nrm[..., 2] * sun[2], 0.0, 1.0)
        shade = 0.40 + 0.55 * ndots + 0.10 * ndotv
    else:
        shade = 0.30 + 0.70 * ndotl / (1.0 + 0.03 * dist2) + 0.15 * ndotv
    if rng is not None and texture_noise > 0:
        shade *= 1.0 + np.float32(texture_noise) * rng.standard_normal((H, W), dtype=np.float32)
    col = albedo.astype(np.float32) * shade[..., None]
    rgb = np.round(255.0 * np.clip(col, 0.0, 1.0) ** np.float32(1 / 1.6)).astype(np.uint8)
    return RenderResult(depth, instance, surface, part_map, normal, rgb, amodal, border)
