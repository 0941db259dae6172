"""N3D's depth-aware positional encoding.

The metric point map of an image (camera frame, metres) is pooled to the merged vision-token grid of
Qwen2.5-VL (one point per token after the 2x2 patch merger), encoded with a 3D sinusoidal encoding
(sin/cos of each coordinate at ``num_freqs`` octaves, plus a validity flag) and projected by a learned
linear layer onto the vision features, which it is added to.  The projection starts at zero, so a
pretrained model is unchanged at step 0; its parameters train with the rest (and are saved with the
LoRA adapter through ``modules_to_save``).

Wiring: :func:`attach_depth_pe` adds the module as ``model.depth_pe`` and a forward hook on the vision
tower; :func:`set_depth_points` stores the (tokens, 4) points (x, y, z, valid) of the next forward, in
the order the vision tower emits merged tokens (images in batch order, each row-major over its merged
grid - the tower undoes its window permutation before returning).

Point maps come from :func:`point_map_from_depth` (metric depth + K) or, when no depth is available,
:func:`point_map_from_boxes` (a coarse proxy: each pixel takes the depth of the nearest object whose 2D
box contains it, else the farthest object's depth).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from lift3d.geometry.camera import backproject

_POINTS_ATTR = "_lift3d_depth_points"


def sinusoidal_3d(points: torch.Tensor, num_freqs: int, range_m: float) -> torch.Tensor:
    """(N, 3) metres -> (N, 6 * num_freqs): sin/cos of each coordinate / range_m at octaves 2^k * pi."""
    p = points / float(range_m)
    freqs = (2.0 ** torch.arange(num_freqs, device=points.device, dtype=points.dtype)) * math.pi
    ang = p[:, :, None] * freqs[None, None, :]  # (N, 3, F)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1).reshape(points.shape[0], -1)


class DepthPositionalEncoding(nn.Module):
    def __init__(self, out_dim: int, num_freqs: int = 8, range_m: float = 20.0):
        super().__init__()
        self.num_freqs = int(num_freqs)
        self.range_m = float(range_m)
        self.proj = nn.Linear(6 * self.num_freqs + 1, out_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points (N, 4) = (x, y, z, valid) -> (N, out_dim)."""
        xyz, valid = points[:, :3], points[:, 3:4]
        enc = sinusoidal_3d(xyz, self.num_freqs, self.range_m) * valid
        return self.proj(torch.cat([enc, valid], dim=-1).to(self.proj.weight.dtype))


def _vision_hook(top):
    def hook(module, args, output):
        pts = getattr(top, _POINTS_ATTR, None)
        if pts is None:
            raise RuntimeError("depth PE is attached but no depth points were set for this forward "
                               "(set_depth_points)")
        feats = output.pooler_output
        if pts.shape[0] != feats.shape[0]:
            raise RuntimeError(f"depth points ({pts.shape[0]}) do not match vision tokens ({feats.shape[0]})")
        output.pooler_output = feats + top.depth_pe(pts.to(feats.device, torch.float32)).to(feats.dtype)
        return output
    return hook


def attach_depth_pe(model, num_freqs: int = 8, range_m: float = 20.0) -> DepthPositionalEncoding:
    """Add ``model.depth_pe`` and hook it onto the vision tower of a Qwen2.5-VL model."""
    out_dim = model.config.vision_config.out_hidden_size
    pe = DepthPositionalEncoding(out_dim, num_freqs, range_m).to(next(model.parameters()).device, torch.float32)
    model.depth_pe = pe
    model.model.visual.register_forward_hook(_vision_hook(model))
    setattr(model, _POINTS_ATTR, None)
    return pe


def set_depth_points(model, points: torch.Tensor | None) -> None:
    """Store the (tokens, 4) points for the next forward of ``model`` (the unwrapped Qwen2.5-VL)."""
    setattr(model, _POINTS_ATTR, points)


def point_map_from_depth(depth_m: np.ndarray, K) -> np.ndarray:
    """(H, W, 4) float32: camera-frame point (x, y, z) per pixel and a validity flag (depth > 0)."""
    h, w = depth_m.shape
    vv, uu = np.mgrid[0:h, 0:w]
    z = np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m, 0.0)
    pts = backproject(uu.ravel(), vv.ravel(), z.ravel(), K).reshape(h, w, 3)
    valid = (z > 0).astype(np.float64)[..., None]
    return np.concatenate([pts, valid], axis=-1).astype(np.float32)


def point_map_from_boxes(objects: list[dict], K, width: int, height: int) -> np.ndarray:
    """Coarse (H, W, 4) point map from the image's 3D boxes when no depth map is available."""
    z = np.zeros((height, width), dtype=np.float64)
    if objects:
        far = max(float(o["center_cam"][2]) for o in objects)
        z[:] = far
        for o in sorted(objects, key=lambda o: -float(o["center_cam"][2])):  # nearest painted last
            x0, y0, x1, y1 = (int(round(float(t))) for t in o["bbox2d"])
            z[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = float(o["center_cam"][2])
    return point_map_from_depth(z, K)


def pool_point_map(pmap: np.ndarray, grid_h: int, grid_w: int) -> np.ndarray:
    """Mean of the valid points of each cell of a (grid_h, grid_w) grid over the image -> (gh*gw, 4)."""
    h, w, _ = pmap.shape
    ys = np.linspace(0, h, grid_h + 1).round().astype(int)
    xs = np.linspace(0, w, grid_w + 1).round().astype(int)
    out = np.zeros((grid_h, grid_w, 4), dtype=np.float32)
    for i in range(grid_h):
        for j in range(grid_w):
            cell = pmap[ys[i]:max(ys[i + 1], ys[i] + 1), xs[j]:max(xs[j + 1], xs[j] + 1)].reshape(-1, 4)
            ok = cell[:, 3] > 0
            if ok.any():
                out[i, j, :3] = cell[ok, :3].mean(axis=0)
                out[i, j, 3] = 1.0
    return out.reshape(-1, 4)
