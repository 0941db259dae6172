import numpy as np

from lift3d.geometry.boxes import rotation_from_yaw
from lift3d.geometry.camera import K_from_fov

CATS = ["chair", "table", "lamp", "sofa", "bed", "tv", "person", "cup", "potted_plant", "shelf"]


def make_obj(aid, cat, center, dims, yaw=0.0, down=None, quality=0.9, flags=()):
    R = rotation_from_yaw(yaw, None if down is None else np.asarray(down, float))
    return dict(annotation_id=aid, category=cat, bbox2d=[0, 0, 1, 1], center_cam=[float(v) for v in center],
                dimensions=[float(v) for v in dims], R_cam=R.reshape(9).tolist(), yaw=float(yaw),
                quality=quality, flags=list(flags), num_points=100, mask_source="dataset")


def make_image(image_id=1, down=None, width=640, height=480):
    return dict(image_id=image_id, width=width, height=height, K=K_from_fov(width, height, 60).reshape(9).tolist(),
                gravity=None if down is None else [float(v) for v in down], file_name=f"{image_id}.jpg")


def random_scene(rng, image_id, n=None, down=None, ncats=len(CATS), on_floor_p=0.0):
    n = int(rng.integers(1, 12)) if n is None else n
    objs = []
    for k in range(n):
        c = [rng.uniform(-2.5, 2.5), rng.uniform(-0.8, 1.2), rng.uniform(1.0, 9.0)]
        d = [rng.uniform(0.1, 2.0), rng.uniform(0.1, 2.0), rng.uniform(0.1, 2.0)]
        flags = [f for f in ("truncated_top", "occluded", "few_points") if rng.random() < 0.1]
        if on_floor_p and rng.random() < on_floor_p:
            flags.append("on_floor")
        objs.append(make_obj(image_id * 1000 + k, CATS[int(rng.integers(0, ncats))], c, d, rng.uniform(-3, 3), down,
                             quality=float(rng.uniform(0.2, 1.0)), flags=flags))
    return make_image(image_id, down), objs


