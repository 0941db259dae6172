"""Depth corruptions that make the exact rendered depth look like a sensor's or a monocular network's.

Applied in this order to the clean z-depth (metres), the ground-truth boxes are never touched:

1. flying pixels: pixels within ``flying_width`` px of a depth discontinuity (see :func:`discontinuities`)
   take, with probability ``flying_prob``, a depth interpolated between the nearest and the farthest
   depth of their (2 w + 1)^2 neighbourhood, like the mixed pixels of a sensor or an upsampled network;
2. a smooth multiplicative scale error: ``s * (1 + f(u, v))`` with a global ``|s - 1| <= global_scale``
   and a low-frequency field (a few random cosines of at most ``field_max_cycles`` periods per image)
   normalised so that ``|f| <= field_amplitude``;
3. per-pixel Gaussian noise proportional to depth (``sigma = noise_rel * z``);
4. holes: random disks and isolated dropouts set to 0, and every depth beyond ``max_depth_m``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class CorruptionConfig:
    enabled: bool = True
    global_scale: float = 0.05  # max |s - 1|
    field_amplitude: float = 0.03  # max |f(u, v)|
    field_terms: int = 4
    field_max_cycles: float = 1.5
    noise_rel: float = 0.005
    flying_prob: float = 0.6
    flying_width: int = 1  # px on each side of a discontinuity
    flying_rel_jump: float = 0.05
    flying_abs_jump: float = 0.10  # metres
    flying_step_ratio: float = 3.0
    hole_fraction: float = 0.004  # approximate fraction of pixels in hole disks
    hole_radius: tuple[int, int] = (1, 4)
    dropout_prob: float = 0.001  # isolated zero pixels
    max_depth_m: float = 10.0

    @classmethod
    def none(cls) -> "CorruptionConfig":
        """No corruption at all: the written depth equals the clean depth (quantised to mm)."""
        return cls(enabled=False)

    @classmethod
    def only(cls, *names: str) -> "CorruptionConfig":
        """Only the named corruptions ("scale", "noise", "flying", "holes") at their default levels."""
        off = {"scale": {"global_scale": 0.0, "field_amplitude": 0.0}, "noise": {"noise_rel": 0.0},
               "flying": {"flying_prob": 0.0}, "holes": {"hole_fraction": 0.0, "dropout_prob": 0.0}}
        unknown = set(names) - set(off)
        if unknown:
            raise ValueError(f"unknown corruption(s) {sorted(unknown)}; choose from {sorted(off)}")
        kw: dict = {}
        for k, v in off.items():
            if k not in names:
                kw.update(v)
        return replace(cls(), **kw)


@dataclass
class CorruptionInfo:
    scale: float  # global factor s
    field: np.ndarray  # (H, W) full multiplicative factor s * (1 + f)
    flying: np.ndarray  # (H, W) bool, pixels turned into flying pixels
    discontinuity: np.ndarray  # (H, W) bool, pixels within flying_width of a depth discontinuity
    holes: np.ndarray  # (H, W) bool, pixels set to 0


def scale_field(height: int, width: int, rng: np.random.Generator, cfg: CorruptionConfig) -> tuple[float, np.ndarray]:
    s = 1.0 + float(rng.uniform(-cfg.global_scale, cfg.global_scale))
    f = np.zeros((height, width))
    if cfg.field_amplitude > 0 and cfg.field_terms > 0:
        yy = (np.arange(height) / max(height, width))[:, None]
        xx = (np.arange(width) / max(height, width))[None, :]
        for _ in range(cfg.field_terms):
            kx, ky = rng.uniform(-cfg.field_max_cycles, cfg.field_max_cycles, 2)
            ph = rng.uniform(0, 2 * np.pi)
            a = rng.uniform(0.3, 1.0)
            f += a * np.cos(2 * np.pi * (kx * xx + ky * yy) + ph)
        m = np.abs(f).max()
        if m > 0:
            f *= cfg.field_amplitude / m
    return s, s * (1.0 + f)


def _jumps(z: np.ndarray, axis: int, cfg: CorruptionConfig) -> np.ndarray:
    """Neighbour pairs along ``axis`` whose depth step is a discontinuity (not a steep smooth surface).

    A step is a discontinuity when it exceeds ``max(flying_abs_jump, flying_rel_jump * z)`` and is more
    than ``flying_step_ratio`` times the smaller of the two adjacent steps: a surface seen at a grazing
    angle changes depth by large but *similar* steps, an occlusion edge by one isolated step.
    """
    d = np.abs(np.diff(z, axis=axis))
    zl = np.minimum(np.delete(z, -1, axis=axis), np.delete(z, 0, axis=axis))
    big = d > np.maximum(cfg.flying_abs_jump, cfg.flying_rel_jump * zl)
    inf_pad = np.full_like(np.take(d, [0], axis=axis), np.inf)
    before = np.concatenate([inf_pad, np.delete(d, -1, axis=axis)], axis=axis)
    after = np.concatenate([np.delete(d, 0, axis=axis), inf_pad], axis=axis)
    return big & (d > cfg.flying_step_ratio * np.minimum(before, after))


def discontinuities(depth: np.ndarray, cfg: CorruptionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask of pixels within ``flying_width`` px of a depth discontinuity, local min, local max).

    Min and max are taken over the (2 w + 1)^2 neighbourhood of every pixel.
    """
    z = np.asarray(depth, dtype=np.float64)
    edge = np.zeros(z.shape, dtype=bool)
    jv, jh = _jumps(z, 0, cfg), _jumps(z, 1, cfg)
    edge[:-1] |= jv
    edge[1:] |= jv
    edge[:, :-1] |= jh
    edge[:, 1:] |= jh
    if cfg.flying_width > 1:
        edge = ndimage.binary_dilation(edge, structure=np.ones((3, 3), bool), iterations=cfg.flying_width - 1)
    size = 2 * cfg.flying_width + 1
    zmin = ndimage.minimum_filter(z, size=size, mode="nearest")
    zmax = ndimage.maximum_filter(z, size=size, mode="nearest")
    return edge, zmin, zmax


def corrupt_depth(depth: np.ndarray, rng: np.random.Generator,
                  cfg: CorruptionConfig = CorruptionConfig()) -> tuple[np.ndarray, CorruptionInfo]:
    """Corrupted copy of a clean z-depth map (metres; 0 = no measurement in the result)."""
    H, W = depth.shape
    z = np.asarray(depth, dtype=np.float64).copy()
    none = np.zeros((H, W), dtype=bool)
    if not cfg.enabled:
        return z, CorruptionInfo(1.0, np.ones((H, W)), none, none.copy(), none.copy())
    # 1. flying pixels
    disc, zmin, zmax = discontinuities(z, cfg)
    flying = disc & (rng.random((H, W)) < cfg.flying_prob) if cfg.flying_prob > 0 else none.copy()
    alpha = rng.uniform(0.15, 0.85, (H, W))
    z = np.where(flying, zmin + alpha * (zmax - zmin), z)
    # 2. smooth scale error
    s, field = scale_field(H, W, rng, cfg)
    z = z * field
    # 3. depth-proportional noise
    if cfg.noise_rel > 0:
        z = z * (1.0 + cfg.noise_rel * rng.standard_normal((H, W)))
    # 4. holes
    holes = np.zeros((H, W), dtype=bool)
    if cfg.hole_fraction > 0:
        r0, r1 = cfg.hole_radius
        mean_area = np.pi * ((r0 + r1) / 2.0) ** 2
        n = int(rng.poisson(cfg.hole_fraction * H * W / mean_area))
        yy, xx = np.mgrid[-r1:r1 + 1, -r1:r1 + 1]
        for cy, cx, r in zip(rng.integers(0, H, n), rng.integers(0, W, n), rng.integers(r0, r1 + 1, n)):
            disk = (yy**2 + xx**2) <= r * r
            ys, xs = yy[disk] + cy, xx[disk] + cx
            ok = (ys >= 0) & (ys < H) & (xs >= 0) & (xs < W)
            holes[ys[ok], xs[ok]] = True
    if cfg.dropout_prob > 0:
        holes |= rng.random((H, W)) < cfg.dropout_prob
    holes |= (z > cfg.max_depth_m) | ~np.isfinite(z) | (z <= 0)
    z[holes] = 0.0
    return z, CorruptionInfo(s, field, flying, disc, holes)


def to_millimetres(depth: np.ndarray) -> np.ndarray:
    """uint16 millimetres (0 = no measurement); depths that do not fit are set to 0."""
    mm = np.round(np.asarray(depth, dtype=np.float64) * 1000.0)
    mm = np.where(np.isfinite(mm) & (mm > 0) & (mm <= 65535), mm, 0)
    return mm.astype(np.uint16)
