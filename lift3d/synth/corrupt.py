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

The monocular error mode (:meth:`CorruptionConfig.monocular`, ``lift3d synth --depth-errors monocular``)
makes the depth look like a metric depth network's output on an image unlike its training data; its extra
steps are off in the sensor-like default (which stays byte-identical):

0. soft edges (``soft_edge_px``): the clean depth is area-averaged over ``soft_edge_px`` x ``soft_edge_px``
   blocks and bilinearly upsampled back, as a network's prediction at a ~518 px input upsampled to a
   photo ``soft_edge_px`` times larger: every discontinuity becomes a ramp of in-between depths about
   ``2 * soft_edge_px`` pixels wide (no isolated flying pixels, no holes);
0b. a depth-range exponent ``gamma`` drawn uniformly in ``range_exponent``, applied around the median
   depth ``m``: ``z' = m (z / m) ** gamma`` (gamma < 1 compresses the range: near too far, far too near);
2b. a per-image log-normal scale error ``exp(N(0, scale_log_sigma))`` on top of the global factor, and with
   probability ``scale_failure_prob`` a whole-image failure: a factor drawn in ``scale_failure_range``,
   multiplied or divided with equal odds;
4b. ``clip_far``: depths beyond ``max_depth_m`` are clipped to it instead of becoming holes (a network
   predicts every pixel, the sky at its maximum range).

Not depth but part of the same mode: ``focal_sigma`` draws the focal-length error ``exp(N(0, focal_sigma))``
of the intrinsics that :mod:`lift3d.synth.dataset` writes (as a model's predicted or assumed K would be;
``gt_boxes.json`` keeps the true K) and ``write_gravity=False`` writes no gravity vector.

Paired draws (``mode="monocular"``): every random quantity of the error classes (the range exponent, the smooth
field's cosines, the per-image scale) is drawn whether or not its class is switched on, so an image with one class
off keeps the other classes' draws: an ablation (``bench_truth.py --one-cause``, a preset with one override) compares
the same errors but one.  A class that is off draws its quantity and applies nothing (a zero amplitude, an exponent
of 1, a factor of 1).  Only a whole-image scale failure's own factor is drawn where a failure happens, so switching
the failures off changes the focal error (drawn last) of the images that had one.  With every class on, the draws
and the data are those of unpaired draws; the sensor-like mode draws only what it uses, as before.
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
    # monocular error mode (all off by default: the sensor-like corruption above is unchanged)
    soft_edge_px: int = 0  # >= 2: area-average over k x k blocks + bilinear upsampling (ramps ~2k px wide)
    range_exponent: tuple[float, float] = (1.0, 1.0)  # gamma range of z' = m (z / m) ** gamma, m the median
    scale_log_sigma: float = 0.0  # per-image scale factor exp(N(0, sigma)) on top of the global factor
    scale_failure_prob: float = 0.0  # probability of a whole-image scale failure
    scale_failure_range: tuple[float, float] = (1.4, 2.0)  # its factor (multiplied or divided, equal odds)
    clip_far: bool = False  # True: depth beyond max_depth_m is clipped to it (no holes) instead of dropped
    focal_sigma: float = 0.0  # log-normal sigma of the written focal length's error (dataset.py)
    write_gravity: bool = True  # False: annotations.json carries no gravity vector
    mode: str = "sensor"  # "sensor" | "monocular": the label recorded in gt_boxes.json

    @classmethod
    def monocular(cls, **overrides) -> "CorruptionConfig":
        """A metric depth network's errors on an unfamiliar image (defaults in the ranges measured for strong
        models off their training data, ``../shared/field-notes.md``); any field can be overridden."""
        base = dict(global_scale=0.0, field_amplitude=0.05, noise_rel=0.0, flying_prob=0.0, hole_fraction=0.0,
                    dropout_prob=0.0, max_depth_m=65.0, soft_edge_px=4, range_exponent=(0.85, 1.05),
                    scale_log_sigma=0.15, scale_failure_prob=0.04, scale_failure_range=(1.4, 2.0), clip_far=True,
                    focal_sigma=0.08, write_gravity=False, mode="monocular")
        base.update(overrides)
        return cls(**base)

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
    range_exponent: float = 1.0  # gamma of the depth-range distortion (1: none)
    scale_failure: float = 1.0  # the whole-image failure factor included in ``scale`` (1: no failure)
    focal_factor: float = 1.0  # written focal length / true focal length
    soft: np.ndarray | None = None  # (H, W) bool, pixels the soft edges moved by more than 1 % (None: off)


def scale_field(height: int, width: int, rng: np.random.Generator, cfg: CorruptionConfig) -> tuple[float, np.ndarray]:
    s = 1.0 + float(rng.uniform(-cfg.global_scale, cfg.global_scale))
    f = np.zeros((height, width))
    if (cfg.field_amplitude > 0 or _paired(cfg)) and cfg.field_terms > 0:  # (amplitude 0: the draws, no field)
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


def soften(depth: np.ndarray, k: int) -> np.ndarray:
    """Depth as a network predicts it at 1/k of the resolution, bilinearly upsampled back (soft edges).

    Area average over k x k blocks (the image is edge-padded to a multiple of k), then bilinear
    interpolation at the original pixel centres: a depth step becomes a ramp of in-between depths about
    2k pixels wide; smooth surfaces (planes) are kept up to second-order terms.
    """
    z = np.asarray(depth, dtype=np.float64)
    k = int(k)
    if k <= 1:
        return z.copy()
    H, W = z.shape
    h, w = -(-H // k), -(-W // k)
    zp = np.pad(z, ((0, h * k - H), (0, w * k - W)), mode="edge")
    low = zp.reshape(h, k, w, k).mean(axis=(1, 3))
    # pixel centre (i + 0.5) in full resolution sits at (i + 0.5) / k - 0.5 in block coordinates
    yy = np.clip((np.arange(H) + 0.5) / k - 0.5, 0, h - 1)
    xx = np.clip((np.arange(W) + 0.5) / k - 0.5, 0, w - 1)
    y0 = np.minimum(np.floor(yy).astype(int), max(h - 2, 0))
    x0 = np.minimum(np.floor(xx).astype(int), max(w - 2, 0))
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
    top = low[y0][:, x0] * (1 - fx) + low[y0][:, x1] * fx
    bot = low[y1][:, x0] * (1 - fx) + low[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def corrupt_depth(depth: np.ndarray, rng: np.random.Generator,
                  cfg: CorruptionConfig = CorruptionConfig()) -> tuple[np.ndarray, CorruptionInfo]:
    """Corrupted copy of a clean z-depth map (metres; 0 = no measurement in the result)."""
    H, W = depth.shape
    z = np.asarray(depth, dtype=np.float64).copy()
    none = np.zeros((H, W), dtype=bool)
    if not cfg.enabled:
        return z, CorruptionInfo(1.0, np.ones((H, W)), none, none.copy(), none.copy())
    soft = None
    gamma = 1.0
    # 0. soft edges (monocular mode)
    if cfg.soft_edge_px >= 2:
        zs = soften(z, cfg.soft_edge_px)
        soft = np.abs(zs - z) > 0.01 * z
        z = zs
    # 0b. depth-range exponent around the median (monocular mode)
    if tuple(cfg.range_exponent) != (1.0, 1.0) or _paired(cfg):
        gamma = float(rng.uniform(cfg.range_exponent[0], cfg.range_exponent[1]))
        pos = z > 0
        if gamma != 1.0 and pos.any():
            med = float(np.median(z[pos]))
            z = np.where(pos, med * (np.maximum(z, 1e-9) / med) ** gamma, z)
    # 1. flying pixels
    disc, zmin, zmax = discontinuities(z, cfg)
    flying = disc & (rng.random((H, W)) < cfg.flying_prob) if cfg.flying_prob > 0 else none.copy()
    alpha = rng.uniform(0.15, 0.85, (H, W))
    z = np.where(flying, zmin + alpha * (zmax - zmin), z)
    # 2. smooth scale error
    s, field = scale_field(H, W, rng, cfg)
    failure = 1.0
    if cfg.scale_log_sigma > 0 or cfg.scale_failure_prob > 0 or _paired(cfg):  # 2b. per-image scale error
        m = float(np.exp(cfg.scale_log_sigma * rng.standard_normal()))
        if rng.random() < cfg.scale_failure_prob:
            failure = float(rng.uniform(cfg.scale_failure_range[0], cfg.scale_failure_range[1]))
            if rng.random() < 0.5:
                failure = 1.0 / failure
        s, field = s * m * failure, field * (m * failure)
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
    if cfg.clip_far:
        z = np.where(np.isfinite(z), np.minimum(z, cfg.max_depth_m), z)
    holes |= (z > cfg.max_depth_m) | ~np.isfinite(z) | (z <= 0)
    z[holes] = 0.0
    focal = float(np.exp(cfg.focal_sigma * rng.standard_normal())) if cfg.focal_sigma > 0 else 1.0
    return z, CorruptionInfo(s, field, flying, disc, holes, gamma, failure, focal, soft)


def _paired(cfg: CorruptionConfig) -> bool:
    """Draw every error class's random quantities even where the class is off (the monocular mode, module doc)."""
    return cfg.mode == "monocular"


def to_millimetres(depth: np.ndarray) -> np.ndarray:
    """uint16 millimetres (0 = no measurement); depths that do not fit are set to 0."""
    mm = np.round(np.asarray(depth, dtype=np.float64) * 1000.0)
    mm = np.where(np.isfinite(mm) & (mm > 0) & (mm <= 65535), mm, 0)
    return mm.astype(np.uint16)
