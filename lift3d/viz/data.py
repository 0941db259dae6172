"""Reading a built corpus for viewing: rows, pixels (RGB from the image root, depth) and build_info stats.

Depth, in order of preference:

1. the row's own ``depth`` column (written with ``build --keep-depth``): the depth the boxes were lifted from;
2. the source dataset's ``depth_file`` (``splits[split].input.annotations`` -> image root), used as is when the
   build used ``--depth dataset``; for a model-depth build it is shown labelled as sensor depth;
3. none: the panels say "depth not available".
"""

from __future__ import annotations

import io
import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lift3d.errors import UserError


@dataclass
class ImageView:
    """One objects row plus whatever pixels could be found for it."""

    row: dict
    split: str
    rgb: np.ndarray | None = None          # (H, W, 3) uint8
    depth: np.ndarray | None = None        # (H, W) float32 metres, 0 = invalid
    depth_note: str = "depth not available"
    rgb_note: str = ""
    qa: list[dict] = field(default_factory=list)

    @property
    def image_id(self) -> int:
        return int(self.row["image_id"])

    @property
    def K(self) -> np.ndarray:
        return np.asarray(self.row["K"], dtype=np.float64).reshape(3, 3)

    @property
    def gravity(self) -> np.ndarray | None:
        g = self.row.get("gravity")
        return None if g is None else np.asarray(g, dtype=np.float64)

    @property
    def objects(self) -> list[dict]:
        return list(self.row.get("objects") or [])


class Corpus:
    """A built output folder (local path or fsspec URI), read lazily."""

    def __init__(self, out: str):
        from lift3d.output import fs_and_root

        self.out = str(out)
        try:
            self.fs, self.root = fs_and_root(self.out)
        except (ValueError, ImportError) as exc:
            raise UserError(f"{out}: cannot open ({exc}); pass a built dataset folder (the --out of lift3d build)") from None
        p = posixpath.join(self.root, "build_info.json")
        if not self.fs.exists(p):
            raise UserError(f"{out}: no build_info.json here; pass a built dataset folder (the --out of lift3d build)")
        try:
            with self.fs.open(p, "rb") as f:
                self.info = json.load(f)
        except (OSError, ValueError) as exc:
            raise UserError(f"{p}: unreadable build_info.json ({exc}); rebuild with lift3d build --overwrite") from None
        self.splits: dict = dict(self.info.get("splits") or {})
        if not self.splits:
            raise UserError(f"{out}: build_info.json lists no splits; rebuild with lift3d build --overwrite")
        self._sources: dict[str, dict[int, dict] | None] = {}
        self._index: list[tuple[str, int]] | None = None

    # ------------------------------------------------------------------------------------------ tables
    def table(self, config: str, split: str | None = None):
        from lift3d.output import read_config_table

        try:
            return read_config_table(self.out, config, split)
        except FileNotFoundError:
            from lift3d import schema

            return schema.arrow_schema(config).empty_table()

    def image_index(self) -> list[tuple[str, int]]:
        """(split, image_id) of every objects row, splits in build_info order, ids sorted (reads one column)."""
        if self._index is None:
            self._index = []
            for split in self.splits:
                ids = self.table("objects", split).column("image_id").to_pylist()
                self._index += [(split, int(i)) for i in sorted(ids)]
        return self._index

    def rows(self, keys: list[tuple[str, int]]) -> list[tuple[str, dict]]:
        """(split, row) for the given (split, image_id) keys, in that order (only those rows are converted)."""
        import pyarrow.compute as pc

        out: dict[tuple[str, int], dict] = {}
        for split in {s for s, _ in keys}:
            tbl = self.table("objects", split)
            want = [i for s, i in keys if s == split]
            sel = tbl.filter(pc.is_in(tbl.column("image_id"), value_set=pa_array(want)))
            for r in sel.to_pylist():
                out.setdefault((split, int(r["image_id"])), r)
        return [(s, out[(s, i)]) for s, i in keys if (s, i) in out]

    def object_rows(self) -> list[tuple[str, dict]]:
        """(split, row) for every objects row, splits in build_info order, rows sorted by image_id."""
        return self.rows(self.image_index())

    def qa_by_image(self, split: str, image_ids=None) -> dict[int, list[dict]]:
        """image id -> its QA rows (without ``messages``), optionally only for the given image ids."""
        import pyarrow.compute as pc

        tbl = self.table("qa", split)
        cols = [c for c in ("id", "image_id", "question_type", "question", "answer", "answer_form", "answer_value",
                            "answer_unit", "choices", "reasoning", "object_ids") if c in tbl.column_names]
        tbl = tbl.select(cols)
        if image_ids is not None:
            tbl = tbl.filter(pc.is_in(tbl.column("image_id"), value_set=pa_array(list(image_ids))))
        by: dict[int, list[dict]] = {}
        for r in tbl.to_pylist():
            by.setdefault(int(r["image_id"]), []).append(r)
        return by

    def stats(self) -> dict:
        """Counters of build_info.json summed over splits (dicts of counts are merged, lists added)."""
        total: dict = {}
        for entry in self.splits.values():
            for k, v in (entry.get("stats") or {}).items():
                if isinstance(v, dict):
                    d = total.setdefault(k, {})
                    for kk, vv in v.items():
                        d[kk] = d.get(kk, 0) + (vv or 0)
                elif isinstance(v, list):
                    cur = total.get(k) or [0] * len(v)
                    total[k] = [a + (b or 0) for a, b in zip(cur, v)] if len(cur) == len(v) else cur
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    total[k] = total.get(k, 0) + v
        return total

    def categories(self) -> list[str]:
        cats = set(self.stats().get("categories", {}))
        return sorted(cats)

    # ------------------------------------------------------------------------------------------ pixels
    def image_root(self, split: str) -> Path | None:
        root = ((self.splits.get(split) or {}).get("input") or {}).get("images")
        return Path(root) if root else None

    def _source_images(self, split: str) -> dict[int, dict] | None:
        """image id -> source image entry of the input annotations JSON (None when unreadable)."""
        if split not in self._sources:
            path = ((self.splits.get(split) or {}).get("input") or {}).get("annotations")
            src = None
            if path:
                try:
                    with open(path) as f:
                        data = json.load(f)
                    src = {int(im["id"]): im for im in data.get("images", []) if "id" in im}
                except (OSError, ValueError, TypeError, AttributeError, KeyError):
                    src = None
            self._sources[split] = src
        return self._sources[split]

    def load(self, split: str, row: dict, with_depth: bool = True) -> ImageView:
        from lift3d.io.coco import safe_join

        view = ImageView(row=row, split=split)
        root = self.image_root(split)
        h, w = int(row["height"]), int(row["width"])
        if root is not None and row.get("file_name"):
            p = safe_join(root, row["file_name"])
            view.rgb, view.rgb_note = _read_rgb(p, h, w)
        else:
            view.rgb_note = "image root unknown"
        if not with_depth:
            return view
        kept = row.get("depth")
        if isinstance(kept, dict) and kept.get("bytes"):
            d = _decode_depth_bytes(kept["bytes"], 1000.0)
            if d is not None and d.shape == (h, w):
                view.depth, view.depth_note = d, f"depth used for lifting ({row.get('depth_source')})"
                return view
        src = self._source_images(split)
        im = (src or {}).get(int(row["image_id"]))
        if im and im.get("depth_file") and root is not None:
            p = safe_join(root, im["depth_file"])
            scale = float(im.get("depth_scale") or 1000.0)
            d = None
            if p is not None and p.is_file():
                d = _decode_depth_bytes(p.read_bytes(), scale)
            if d is not None and d.shape == (h, w):
                if row.get("depth_source") in (None, "dataset"):
                    view.depth, view.depth_note = d, "dataset depth"
                else:
                    view.depth = d
                    view.depth_note = f"sensor depth (boxes lifted with {row.get('depth_source')})"
            else:
                view.depth_note = "depth not available (depth file missing or unreadable)"
        else:
            view.depth_note = ("depth not available (not stored; build with --keep-depth to keep it)"
                               if row.get("depth_source") not in (None, "dataset") else "depth not available")
        return view


def _read_rgb(path: Path | None, h: int, w: int) -> tuple[np.ndarray | None, str]:
    from PIL import Image, UnidentifiedImageError

    if path is None or not path.is_file():
        return None, "image file not found"
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        return None, f"image unreadable ({type(exc).__name__})"
    if arr.shape[:2] != (h, w):
        return None, f"image size {arr.shape[1]}x{arr.shape[0]} != row size {w}x{h}"
    return arr, ""


def _decode_depth_bytes(data: bytes, scale: float) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    if arr.ndim != 2:
        return None
    return (arr.astype(np.float32) / np.float32(scale)).astype(np.float32)


def pa_array(values):
    import pyarrow as pa

    return pa.array(values, type=pa.int64())


def select_rows(corpus: Corpus, image_ids: list[int] | None, n: int | None) -> list[tuple[str, dict]]:
    """Rows to show: the given image ids (all must exist; the first split holding an id wins), else the first
    ``n`` images by id."""
    index = corpus.image_index()
    if not index:
        raise UserError(f"{corpus.out}: the objects table is empty; nothing to show (see its rejects table)")
    if image_ids:
        have: dict[int, tuple[str, int]] = {}
        for key in index:
            have.setdefault(key[1], key)
        missing = [i for i in image_ids if i not in have]
        if missing:
            sample = ", ".join(str(k) for k in sorted(have)[:5])
            raise UserError(f"--image-id {missing[0]} is not in {corpus.out} (ids there include {sample})")
        return corpus.rows([have[i] for i in image_ids])
    if n is not None and n < 1:
        raise UserError(f"--n {n}: must be at least 1 (default 24)")
    return corpus.rows(index[:n] if n else index)
