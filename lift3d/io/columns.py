"""Columnar annotation batches for the COCO-family ingest (:mod:`lift3d.io.ingest`).

The parser's annotation dicts are taken a batch at a time and split three ways:

- *plain* rows -- integer ids, image id and category id, a bbox of 4 finite numbers, a segmentation that is
  absent, polygons or RLE -- become numpy columns (:class:`Plain`), spilled per partition as a few arrays;
- *odd* rows (anything else with a valid annotation id) stay as tuples of their raw fields and go through the
  per-record rules of :func:`lift3d.io.coco._annotation` at the join, exactly as before;
- entries without a valid id are ``bad_annotation_entry`` rejects at once.

At the join (:func:`clean_mask`) a plain row that is not a duplicate, has its image (not rejected), a known
category, a bbox inside the image and no Objects365 flag is *clean*: its manifest annotation is computed for the
whole column at once.  Every other row -- the rare ones -- takes the per-record path, so each reject keeps its
reason and message.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, fields
from itertools import chain
from pathlib import Path

import numpy as np

from lift3d.io.coco import BBOX_TOLERANCE_PX
from lift3d.io.manifest import _dumps

FLUSH_ROWS = 200_000  # spilled rows buffered in memory (all partitions) before they are written


def _valid_id(v) -> bool:
    return type(v) is int and -2**63 <= v < 2**63


def int64_column(values: list) -> tuple[np.ndarray, np.ndarray]:
    """(int64 array, ok): ok where the value is an int (not a bool) within int64; 0 elsewhere."""
    if set(map(type, values)) <= {int}:
        try:
            return np.array(values, dtype=np.int64), np.ones(len(values), bool)
        except OverflowError:
            pass
    ok = np.array([_valid_id(v) for v in values], dtype=bool)
    return np.array([v if o else 0 for v, o in zip(values, ok)], dtype=np.int64), ok


def _plain_box(b) -> bool:
    return type(b) is list and len(b) == 4 and all(type(v) is int or type(v) is float for v in b)


def bbox_column(boxes: list) -> tuple[np.ndarray, np.ndarray]:
    """(n x 4 float64, ok): ok where the bbox is a list of 4 finite ints/floats (no bools)."""
    n = len(boxes)
    if set(map(type, boxes)) == {list} and set(map(len, boxes)) == {4}:
        flat = list(chain.from_iterable(boxes))
        if set(map(type, flat)) <= {int, float}:
            try:
                out = np.array(flat, dtype=np.float64).reshape(n, 4)
                return out, np.isfinite(out).all(axis=1)
            except OverflowError:
                pass
    ok = np.array([_plain_box(b) for b in boxes], dtype=bool)
    out = np.zeros((n, 4))
    for i in np.flatnonzero(ok):
        try:
            out[i] = boxes[i]
        except OverflowError:
            ok[i] = False
    return out, ok & np.isfinite(out).all(axis=1)


def _is_one(values: list) -> np.ndarray:
    """``v in (1, True)`` for each value (the reader's rule for iscrowd, isfake, isreflected)."""
    if set(map(type, values)) <= {int}:
        return np.array(values, dtype=np.int64) == 1
    return np.array([v in (1, True) for v in values], dtype=bool)


def _seg_text(s):
    return None if s is None or s == [] or s == {} else _dumps(s)


@dataclass
class Plain:
    """Columns of plain annotation rows (one entry per row)."""

    seq: np.ndarray  # position in the file's annotation list
    vi: np.ndarray  # index among the annotations with a valid id (the duplicate rule's order)
    aid: np.ndarray
    iid: np.ndarray
    cid: np.ndarray
    box: np.ndarray  # n x 4: x, y, w, h
    crowd: np.ndarray  # int8: iscrowd in (1, True)
    fake: np.ndarray  # bool: isfake in (1, True) (Objects365 only, else False)
    refl: np.ndarray  # bool: isreflected in (1, True) (Objects365 only, else False)
    seg: list  # segmentation as the manifest's JSON text, or None

    def take(self, idx: np.ndarray) -> "Plain":
        return Plain(*(getattr(self, f.name)[idx] if f.name != "seg" else [self.seg[i] for i in idx]
                       for f in fields(self)))

    def __len__(self) -> int:
        return len(self.seq)

    @staticmethod
    def concat(parts: list["Plain"]) -> "Plain":
        if not parts:
            return Plain(*(np.zeros(0, np.int64),) * 5, np.zeros((0, 4)), np.zeros(0, np.int8),
                         np.zeros(0, bool), np.zeros(0, bool), [])
        return Plain(*(list(chain.from_iterable(p.seg for p in parts)) if f.name == "seg"
                       else np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Plain)))

    def odd_tuple(self, i: int) -> tuple:
        """Row ``i`` in the odd rows' tuple shape, for the per-record path (segmentation: its JSON text)."""
        return (int(self.seq[i]), int(self.vi[i]), int(self.aid[i]), int(self.iid[i]), int(self.cid[i]),
                self.box[i].tolist(), None, int(self.crowd[i]), bool(self.fake[i]), bool(self.refl[i]), self.seg[i])


RAW_SEG = "<raw>"  # the last field of an odd row: its segmentation is the raw value (never JSON text: not valid JSON)


@dataclass
class Batch:
    plain: Plain
    odd: list  # (seq, vi, aid, iid, cid, bbox, seg, iscrowd, isfake, isreflected, RAW_SEG)
    bad: list  # (seq, entry) without a valid id
    ids: np.ndarray  # the valid annotation ids, in file order


def split_batch(batch: list, seq0: int, vi0: int, flags: bool) -> Batch:
    """One batch of parsed annotation entries -> plain columns, odd rows, bad entries (``flags``: Objects365)."""
    rows = batch if set(map(type, batch)) == {dict} else [d if type(d) is dict else {} for d in batch]
    aid, ok = int64_column([d.get("id") for d in rows])
    if rows is not batch:
        ok &= np.array([type(d) is dict for d in batch], dtype=bool)
    n = len(rows)
    seq = np.arange(seq0, seq0 + n, dtype=np.int64)
    vi = np.full(n, -1, np.int64)
    vi[ok] = np.arange(vi0, vi0 + int(ok.sum()), dtype=np.int64)
    raw_iid = [d.get("image_id") for d in rows]
    raw_cid = [d.get("category_id") for d in rows]
    raw_box = [d.get("bbox") for d in rows]
    raw_seg = [d.get("segmentation") for d in rows]
    raw_crowd = [d.get("iscrowd", 0) for d in rows]
    raw_fake = [d.get("isfake") for d in rows] if flags else [None] * n
    raw_refl = [d.get("isreflected") for d in rows] if flags else [None] * n
    iid, ok_iid = int64_column(raw_iid)
    cid, ok_cid = int64_column(raw_cid)
    box, ok_box = bbox_column(raw_box)
    no_seg = set(map(type, raw_seg)) <= {type(None)}
    if no_seg:
        ok_seg = np.ones(n, bool)
    else:
        ok_seg = np.array([s is None or type(s) is list or type(s) is dict for s in raw_seg], dtype=bool)
    plain = ok & ok_iid & ok_cid & ok_box & ok_seg
    p = np.flatnonzero(plain)
    segs = [None] * len(p) if no_seg else [_seg_text(raw_seg[i]) for i in p]
    cols = Plain(seq[p], vi[p], aid[p], iid[p], cid[p], box[p], _is_one(raw_crowd)[p].astype(np.int8),
                 _is_one(raw_fake)[p], _is_one(raw_refl)[p], segs)
    odd = [(int(seq[i]), int(vi[i]), int(aid[i]), raw_iid[i], raw_cid[i], raw_box[i], raw_seg[i], raw_crowd[i],
            raw_fake[i], raw_refl[i], RAW_SEG) for i in np.flatnonzero(ok & ~plain)]
    bad = [(int(seq[i]), batch[i]) for i in np.flatnonzero(~ok)]
    return Batch(cols, odd, bad, aid[ok])


class ColumnSpill:
    """Per-partition spill files of (plain columns, odd rows) chunks; ``read(part)`` gives them back merged."""

    def __init__(self, folder: Path, n: int, name: str = "annotations"):
        self.paths = [folder / f"{name}-{i:05d}.pkl" for i in range(n)]
        self.files = [open(p, "wb") for p in self.paths]
        self.plain: list[list[Plain]] = [[] for _ in range(n)]
        self.odd: list[list] = [[] for _ in range(n)]
        self.pending = 0

    def add(self, part: np.ndarray, plain: Plain, odd: list, odd_part) -> None:
        """Plain rows to their partitions ``part`` (one per row); odd rows to ``odd_part(image_id)``."""
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(len(self.paths) + 1))
        for k in np.flatnonzero(np.diff(cuts)):
            self.plain[k].append(plain.take(order[cuts[k]:cuts[k + 1]]))
        for t in odd:
            self.odd[odd_part(t[3])].append(t)
        self.pending += len(plain) + len(odd)
        if self.pending >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for k, f in enumerate(self.files):
            if self.plain[k] or self.odd[k]:
                pickle.dump((Plain.concat(self.plain[k]), self.odd[k]), f, protocol=pickle.HIGHEST_PROTOCOL)
                self.plain[k], self.odd[k] = [], []
        self.pending = 0

    def close(self) -> None:
        self.flush()
        for f in self.files:
            f.close()

    def read(self, part: int) -> tuple[Plain, list]:
        plains, odd = [], []
        with open(self.paths[part], "rb") as f:
            while True:
                try:
                    p, o = pickle.load(f)
                except EOFError:
                    break
                plains.append(p)
                odd.extend(o)
        return Plain.concat(plains), odd


def clean_mask(p: Plain, pids: np.ndarray, pending: np.ndarray, width: np.ndarray, height: np.ndarray,
               is_dup: np.ndarray, cat_ids: np.ndarray, flags: bool) -> tuple[np.ndarray, np.ndarray]:
    """(clean, pos): rows whose annotation the reader would keep as is, and each row's record position.

    ``pids``: the partition's record image ids, sorted; ``pending``/``width``/``height`` per record;
    ``is_dup`` per valid-id index; ``cat_ids`` the known category ids, sorted.
    """
    n = len(pids)
    pos = np.minimum(np.searchsorted(pids, p.iid), max(n - 1, 0))
    if n == 0:
        return np.zeros(len(p), bool), pos
    found = pids[pos] == p.iid
    known = np.isin(p.cid, cat_ids)
    x, y, w, h = p.box.T
    W, H = width[pos], height[pos]
    t = BBOX_TOLERANCE_PX
    inside = (w > 0) & (h > 0) & (x >= -t) & (y >= -t) & (x + w <= W + t) & (y + h <= H + t)
    clean = found & ~pending[pos] & ~is_dup[p.vi] & known & inside
    if flags:
        clean &= ~(p.fake | p.refl)
    return clean, pos


def clip_boxes(box: np.ndarray, W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """x, y, w, h -> the reader's bbox2d [max(0, x), max(0, y), min(W, x + w), min(H, y + h)] (same floats)."""
    x, y, w, h = box.T
    x2, y2 = x + w, y + h
    return np.stack([np.where(x > 0.0, x, 0.0), np.where(y > 0.0, y, 0.0),
                     np.where(x2 < W, x2, W), np.where(y2 < H, y2, H)], axis=1)
