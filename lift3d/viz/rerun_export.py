"""Optional 3D viewer export: a rerun ``.rrd`` recording with, per image (timeline ``image``), the coloured
point cloud, the camera (pinhole + RGB) and the boxes. Needs ``pip install rerun-sdk`` (not a core dependency).

Entity layout: ``world`` is the gravity frame of each image (x right, y down, z forward: ``RDF``, so the floor is
level in the viewer); ``world/camera`` carries the camera->gravity rotation; under it, ``image`` (pinhole + RGB),
``points`` and ``boxes`` (+ ``fronts``: an arrow from each box centre to its front face) are in the camera frame.
Open the file with ``rerun FILE.rrd``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lift3d.errors import UserError
from lift3d.geometry.boxes import FRONT_FACE, gravity_frame
from lift3d.geometry.camera import backproject_depth
from lift3d.viz.geometry import object_corners

MAX_POINTS = 120_000


def require_rerun():
    try:
        import rerun  # noqa: F401
    except ImportError:
        raise UserError("--rerun needs rerun-sdk, which is not installed: pip install rerun-sdk "
                        "(or drop --rerun)") from None
    return rerun


def check_rrd_path(path) -> Path:
    path = Path(path)
    if path.suffix != ".rrd":
        raise UserError(f"--rerun {path}: the file name must end in .rrd (e.g. --rerun corpus.rrd)")
    if path.is_dir():
        raise UserError(f"--rerun {path} is a folder; give a file name such as {path / 'corpus.rrd'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--rerun {path}: cannot create its folder ({exc.strerror}); choose a writable path") from None
    return path


def _rgba(col) -> list[int]:
    return [int(round(c * 255)) for c in col[:3]] + [255]


def export_rrd(views, path: str | Path, palette: dict | None = None) -> Path:
    rr = require_rerun()
    from scipy.spatial.transform import Rotation

    from lift3d.viz.render import category_color

    path = check_rrd_path(path)
    rec = rr.RecordingStream("lift3d")
    rec.save(str(path))
    rec.log("world", rr.ViewCoordinates.RDF, static=True)
    for i, view in enumerate(views):
        rec.set_time("image", sequence=i)
        G = gravity_frame(view.gravity)
        W, H = int(view.row["width"]), int(view.row["height"])
        # p_world = G^T p_cam
        rec.log("world/camera", rr.Transform3D(mat3x3=G.T))
        rec.log("world/camera/image", rr.Pinhole(image_from_camera=view.K, width=W, height=H,
                                                 camera_xyz=rr.ViewCoordinates.RDF))
        if view.rgb is not None:
            rec.log("world/camera/image", rr.Image(view.rgb))
        if view.depth is not None:
            pts, vu = backproject_depth(view.depth, view.K)
            step = max(1, len(pts) // MAX_POINTS)
            pts, vu = pts[::step], vu[::step]
            cols = view.rgb[vu[:, 0], vu[:, 1]] if view.rgb is not None else None
            rec.log("world/camera/points", rr.Points3D(pts.astype(np.float32), colors=cols))
        else:
            rec.log("world/camera/points", rr.Clear(recursive=False))
        objs = view.objects
        if objs:
            centers = np.array([o["center_cam"] for o in objs], dtype=np.float64)
            halves = np.array([o["dimensions"] for o in objs], dtype=np.float64) / 2.0
            quats = [rr.Quaternion(xyzw=Rotation.from_matrix(np.asarray(o["R_cam"], dtype=np.float64)
                                                             .reshape(3, 3)).as_quat())
                     for o in objs]
            cols = [_rgba(category_color(o["category"], palette)) for o in objs]
            labels = [f"{o['category']} #{o['annotation_id']}" for o in objs]
            rec.log("world/camera/boxes", rr.Boxes3D(centers=centers, half_sizes=halves, quaternions=quats,
                                                     colors=cols, labels=labels))
            fronts = np.array([object_corners(o)[list(FRONT_FACE)].mean(axis=0) for o in objs])
            rec.log("world/camera/fronts", rr.Arrows3D(origins=centers, vectors=fronts - centers, colors=cols))
        else:
            rec.log("world/camera/boxes", rr.Clear(recursive=False))
            rec.log("world/camera/fronts", rr.Clear(recursive=False))
    rec.flush()
    try:
        rec.disconnect()
    except Exception:  # older/newer SDKs: flushing above already wrote the file
        pass
    return path
