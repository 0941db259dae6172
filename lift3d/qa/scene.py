"""Per-image precomputation: everything a question needs, computed once with numpy.

Coordinates used by every question are the object centres in the *gravity-aligned frame*
(``lift3d.geometry.boxes.gravity_frame``: x right, y down along gravity, z forward in the ground plane),
rounded to the printed precision (1 cm).  Every answer and every number in the chain of thought is
computed from these printed numbers, so the reasoning is exact arithmetic on what it shows.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from lift3d.geometry.boxes import gravity_frame, yaw_from_rotation
from lift3d.qa.config import QAConfig
from lift3d.qa.serialize import box_record, format_box
from lift3d.qa.text import DESCRIPTORS, fmt2, r2, referring_name

SIZE_BLOCKERS = {"truncated", "box_only"}
HEIGHT_BLOCKERS = {"truncated", "truncated_top", "truncated_bottom", "box_only"}
WIDTH_BLOCKERS = {"truncated", "yaw_unreliable", "box_only"}


def _valid(o: dict) -> bool:
    try:
        c = np.asarray(o["center_cam"], dtype=np.float64).reshape(3)
        d = np.asarray(o["dimensions"], dtype=np.float64).reshape(3)
        R = np.asarray(o["R_cam"], dtype=np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(c)) and np.all(np.isfinite(d)) and np.all(np.isfinite(R))
                and np.all(d > 0) and c[2] > 0)


class Scene:
    def __init__(self, image: dict, objects: list[dict], cfg: QAConfig, rng):
        self.cfg = cfg
        self.image_id = int(image["image_id"])
        self.width = int(image["width"])
        self.height = int(image["height"])
        self.K = np.asarray(image["K"], dtype=np.float64).reshape(3, 3)
        down = image.get("gravity")
        self.has_gravity = down is not None
        G = gravity_frame(None if down is None else np.asarray(down, dtype=np.float64))

        objs = [o for o in objects if _valid(o)]
        self.n_invalid = len(objects) - len(objs)
        self.objs = objs
        n = self.n = len(objs)
        # categories that are present in the image but not (validly) lifted: never "unique", never counted
        incomplete = Counter(str(c) for c in (image.get("rejected_categories") or []))
        incomplete.update(str(o.get("category")) for o in objects if not _valid(o))
        self.incomplete = incomplete
        self.cats = [str(o["category"]) for o in objs]
        self.ids = [int(o["annotation_id"]) for o in objs]
        self.cat_count = Counter(self.cats)
        self.flags = [frozenset(o.get("flags") or ()) for o in objs]
        self.quality = [float(o.get("quality", 1.0) if o.get("quality") is not None else 1.0) for o in objs]
        if n == 0:
            self.names = []
            self.askable = []
            return
        C = np.asarray([o["center_cam"] for o in objs], dtype=np.float64)
        D = np.asarray([o["dimensions"] for o in objs], dtype=np.float64)
        P = np.round(C @ G, 2) + 0.0  # gravity-frame centres, printed precision
        Dr = np.round(D, 2) + 0.0
        self.x = P[:, 0].tolist()
        self.y = P[:, 1].tolist()
        self.z = P[:, 2].tolist()
        # width / length = the smaller / larger horizontal box extent (invariant to a 90-degree yaw flip)
        self.w = np.minimum(Dr[:, 0], Dr[:, 2]).tolist()
        self.h = Dr[:, 1].tolist()
        self.l = np.maximum(Dr[:, 0], Dr[:, 2]).tolist()
        self.dist = [r2(v) for v in np.sqrt(np.sum(P * P, axis=1)).tolist()]
        vol = Dr[:, 0] * Dr[:, 1] * Dr[:, 2]
        self.vol = [float(f"{v:.3g}") for v in vol.tolist()]
        yaws = []
        for o in objs:
            yv = o.get("yaw")
            if yv is None or not math.isfinite(float(yv)):
                yv = yaw_from_rotation(np.asarray(o["R_cam"], dtype=np.float64).reshape(3, 3),
                                       None if down is None else np.asarray(down, dtype=np.float64))
            yaws.append(float(yv))
        self.yaw = yaws

        # uncertainty (see QAConfig)
        fs = cfg.flag_sigma
        self.mult = []
        for q, fl in zip(self.quality, self.flags):
            m = 1.0 + cfg.quality_gain * (1.0 - min(max(q, 0.0), 1.0))
            for f in fl:
                m *= fs.get(f, 1.0)
            self.mult.append(m)
        self.pos_sig = [(cfg.pos_sigma_base + cfg.pos_sigma_rel * d) * m for d, m in zip(self.dist, self.mult)]

        # box records and their text in the configured form
        self.recs = [box_record(c, C[i], D[i], yaws[i]) for i, c in enumerate(self.cats)]
        fmt = cfg.box_format
        core = [format_box(fmt, r, 0, self.K, self.width, self.height) for r in self.recs]
        if fmt == "n3d":
            core = [s.split("=", 1)[1] for s in core]
        self.box_core = core
        self.centre_txt = [f"({fmt2(a)}, {fmt2(b)}, {fmt2(c)})" for a, b, c in zip(self.x, self.y, self.z)]
        self.dims_txt = [f"({fmt2(a)}, {fmt2(b)}, {fmt2(c)})" for a, b, c in zip(self.w, self.h, self.l)]

        # referring names
        ok_quality = [q >= cfg.min_quality for q in self.quality]
        names: list[str | None] = []
        by_cat: dict[str, list[int]] = {}
        for i, c in enumerate(self.cats):
            by_cat.setdefault(c, []).append(i)
        self.by_cat = by_cat
        for i, c in enumerate(self.cats):
            if incomplete.get(c):
                names.append(None)
            elif self.cat_count[c] == 1:
                names.append(referring_name(c, None))
            else:
                valid = [d for d in DESCRIPTORS if self._descriptor_holds(i, by_cat[c], d)]
                names.append(referring_name(c, rng.choice(valid)) if valid else None)
        self.names = names
        self.askable = [i for i in range(n) if names[i] is not None and ok_quality[i]]

    def pos_margin(self, *idx: int) -> float:
        s = math.sqrt(sum(self.pos_sig[i] ** 2 for i in idx))
        return max(self.cfg.min_pos_margin, self.cfg.margin_k * s)

    def _descriptor_holds(self, i: int, group: list[int], d: str) -> bool:
        cfg = self.cfg
        for j in group:
            if j == i:
                continue
            m = max(cfg.min_pos_margin,
                    cfg.descriptor_margin_k * math.hypot(self.pos_sig[i], self.pos_sig[j]))
            if d == "leftmost" and not self.x[i] + m < self.x[j]:
                return False
            if d == "rightmost" and not self.x[i] > self.x[j] + m:
                return False
            if d == "closest" and not self.dist[i] + m < self.dist[j]:
                return False
            if d == "farthest" and not self.dist[i] > self.dist[j] + m:
                return False
        return True

    def size_sig(self, i: int, value: float) -> float:
        return (self.cfg.size_sigma_base + self.cfg.size_sigma_rel * value) * self.mult[i]

    def box_line(self, i: int, k: int) -> str:
        if self.cfg.box_format == "n3d":
            return f"bbox_{k}={self.box_core[i]}"
        return self.box_core[i]
