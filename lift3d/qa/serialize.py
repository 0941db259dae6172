"""Box serialisations for questions/answers and their parsers (to score model outputs).

A *box record* is ``{"category": str, "center_cam": [x, y, z], "dimensions": [w, h, l], "yaw": rad}``
in the camera frame of lift3d.geometry.boxes (x right, y down, z forward, metres; yaw about the
gravity-down axis).  Three text forms:

* ``n3d``: N3D-VLM ``bbox_{i}=Bbox(class,u,v,z,angle,sx,sy,sz)``: (u, v) the projection of the centre
  in normalised image coordinates ``((u_px + 0.5) / W, (v_px + 0.5) / H)`` (0-based pixel centres, so
  the image spans [0, 1]), z the centre depth in metres, angle = yaw in radians, (sx, sy, sz) = (w, h, l)
  in metres.
* ``cam``: one line per box ``class: [x, y, z, w, h, l, yaw]`` (camera frame, metres, radians).
* ``qwen``: Qwen3-VL style JSON ``[{"bbox_3d": [x, y, z, w, h, l, roll, pitch, yaw], "label": class}]``
  (camera frame, metres, radians; roll = pitch = 0 for gravity-aligned boxes).
"""

from __future__ import annotations

import json
import re

import numpy as np

from lift3d.geometry.camera import backproject

FORMATS = ("n3d", "cam", "qwen")

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_N3D_RE = re.compile(
    r"Bbox\(\s*([^,()]+?)\s*," + ",".join([rf"\s*({_NUM})\s*"] * 7) + r"\)"
)
_CAM_RE = re.compile(r"([A-Za-z][^:\[\]\n]*?)\s*:\s*\[" + ",".join([rf"\s*({_NUM})\s*"] * 7) + r"\]")


def box_record(category: str, center, dims, yaw: float) -> dict:
    return {
        "category": str(category),
        "center_cam": [round(float(v), 3) + 0.0 for v in center],
        "dimensions": [round(float(v), 3) + 0.0 for v in dims],
        "yaw": round(float(yaw), 3) + 0.0,
    }


def _f2(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def _f3(v: float) -> str:
    s = f"{v:.3f}"
    return "0.000" if s == "-0.000" else s


def n3d_uv(center, K, width: int, height: int) -> tuple[float, float]:
    Km = np.asarray(K, dtype=np.float64).reshape(3, 3)
    c = np.asarray(center, dtype=np.float64)
    p = Km @ c
    u = p[0] / p[2]
    v = p[1] / p[2]
    return (u + 0.5) / width, (v + 0.5) / height


def format_box(fmt: str, rec: dict, idx: int = 0, K=None, width=None, height=None) -> str:
    """One box in the given text form (for ``qwen`` a single JSON object, not a list)."""
    cat = rec["category"]
    x, y, z = rec["center_cam"]
    w, h, l = rec["dimensions"]
    yaw = rec["yaw"]
    if fmt == "n3d":
        u, v = n3d_uv(rec["center_cam"], K, width, height)
        return (f"bbox_{idx}=Bbox({cat},{_f3(u)},{_f3(v)},{_f2(z)},{_f2(yaw)},"
                f"{_f2(w)},{_f2(h)},{_f2(l)})")
    if fmt == "cam":
        return f"{cat}: [{_f2(x)}, {_f2(y)}, {_f2(z)}, {_f2(w)}, {_f2(h)}, {_f2(l)}, {_f2(yaw)}]"
    if fmt == "qwen":
        return ('{"bbox_3d": [' + ", ".join(_f2(t) for t in (x, y, z, w, h, l, 0.0, 0.0, yaw))
                + '], "label": ' + json.dumps(cat) + "}")
    raise ValueError(f"unknown box format {fmt!r}")


def format_boxes(fmt: str, recs: list[dict], K=None, width=None, height=None) -> str:
    if fmt == "qwen":
        return "[" + ", ".join(format_box(fmt, r) for r in recs) + "]"
    return "\n".join(format_box(fmt, r, i, K, width, height) for i, r in enumerate(recs))


def _rec(cat, center, dims, yaw) -> dict:
    return {"category": cat.strip(), "center_cam": [float(t) for t in center],
            "dimensions": [float(t) for t in dims], "yaw": float(yaw)}


def parse_n3d(text: str, K, width: int, height: int) -> list[dict]:
    out = []
    for m in _N3D_RE.finditer(text):
        cat = m.group(1)
        u, v, z, ang, sx, sy, sz = (float(m.group(i)) for i in range(2, 9))
        xyz = backproject(np.array([u * width - 0.5]), np.array([v * height - 0.5]), np.array([z]), K)[0]
        out.append(_rec(cat, xyz, (sx, sy, sz), ang))
    return out


def parse_cam(text: str) -> list[dict]:
    return [_rec(m.group(1), [float(m.group(i)) for i in (2, 3, 4)], [float(m.group(i)) for i in (5, 6, 7)],
                 float(m.group(8))) for m in _CAM_RE.finditer(text)]


def parse_qwen(text: str) -> list[dict]:
    start = text.find("[")
    if start < 0:
        return []
    # find a decodable JSON array starting at the first '['
    dec = json.JSONDecoder()
    items = None
    for s in [i for i, ch in enumerate(text) if ch == "["]:
        try:
            items, _ = dec.raw_decode(text[s:])
        except ValueError:
            continue
        if isinstance(items, list) and (not items or isinstance(items[0], dict)):
            break
        items = None
    if items is None:
        try:
            s = text.index("{")
            items = [dec.raw_decode(text[s:])[0]]
        except ValueError:
            return []
    out = []
    for it in items:
        if not isinstance(it, dict) or "bbox_3d" not in it:
            continue
        b = it["bbox_3d"]
        try:
            b = [float(t) for t in b]
        except (TypeError, ValueError):
            continue
        if len(b) == 9:
            yaw = b[8]
        elif len(b) == 7:
            yaw = b[6]
        elif len(b) == 6:
            yaw = 0.0
        else:
            continue
        out.append(_rec(str(it.get("label", "")), b[0:3], b[3:6], yaw))
    return out


def detect_format(text: str) -> str | None:
    if "Bbox(" in text:
        return "n3d"
    if '"bbox_3d"' in text:
        return "qwen"
    if _CAM_RE.search(text):
        return "cam"
    return None


def parse_boxes(text: str, fmt: str | None = None, K=None, width=None, height=None) -> list[dict]:
    """Box records from model output text; ``fmt`` None detects the form.  n3d needs K, width, height."""
    fmt = fmt or detect_format(text)
    if fmt is None:
        return []
    if fmt == "n3d":
        if K is None or width is None or height is None:
            raise ValueError("parsing the n3d form needs K, width and height")
        return parse_n3d(text, K, width, height)
    if fmt == "cam":
        return parse_cam(text)
    if fmt == "qwen":
        return parse_qwen(text)
    raise ValueError(f"unknown box format {fmt!r}")
