"""Regression pin of the lifter: the lifted boxes of a few synthetic scenes of a fixed seed must not move.

Scenes from ``lift3d.synth.make_sample`` (the generator the benchmarks use; depth read back at the PNG's
millimetre resolution), lifted with the instance masks and from the 2D boxes alone, with sensor depth (the
build's default) and with model depth (``scale_from_priors`` + ``depth_field``), gravity given and (one
variant) estimated.  The digest is a sha256 over every object's centre, dimensions, yaw, flags and quality
rounded to 1e-9, plus the rejects.  A change that moves a box changes a digest here: the commit must say
why, and update the pinned value.

The digests are pinned per OpenBLAS kernel family.  OpenBLAS picks its kernels by CPU (an Intel CPU with AVX-512:
SkylakeX, Cooperlake, SapphireRapids; an AMD Zen or an AVX2-only Intel CPU: Haswell), and the kernels round their
last bits differently, and some of the lifter's steps carry such a bit into a difference the 1e-9 rounding shows
(the box-only digests differ by a few micrometres; the masks digests agree since rows reprojected from pixel
centres are compared with a margin, ``contact.ROW_EPS``: before, one truncated object's height was 0.736 m with
one kernel and 0.753 m with the other).  numpy's own SIMD level does not change them (checked with
``NPY_DISABLE_CPU_FEATURES``), only ``OPENBLAS_CORETYPE`` does.  On a kernel family with no pinned digest the
test is skipped with its name, to be recorded (``OPENBLAS_CORETYPE=SKYLAKEX`` / ``HASWELL`` give both families'
digests on an AVX-512 machine).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

import numpy as np
import pytest

from lift3d.lift import LiftConfig, lift_image
from lift3d.synth.corrupt import to_millimetres
from lift3d.synth.dataset import make_sample

SEED, N_SCENES, W, H = 1000, 4, 320, 240


@lru_cache(maxsize=None)
def _scenes():
    out = []
    for i in range(N_SCENES):
        smp = make_sample(SEED, i, width=W, height=H)
        depth = to_millimetres(smp.depth).astype(np.float32) / 1000.0
        anns = [{"annotation_id": o["annotation_id"], "category": o["category"], "category_id": o["category_id"],
                 "bbox2d": o["bbox2d"], "iscrowd": 0, "mask": smp.masks[o["annotation_id"]]} for o in smp.objects]
        out.append((smp.image_id, depth, np.asarray(smp.scene.K, dtype=np.float64),
                    [float(v) for v in smp.scene.down], anns))
    return out


def _rows(objects):
    return [[o["annotation_id"], [round(t, 9) for t in o["center_cam"]], [round(t, 9) for t in o["dimensions"]],
             round(o["yaw"], 9), list(o["flags"]), round(o["quality"], 9)] for o in objects]


def _lift_all(mode: str, model_depth: bool, gravity: bool):
    cfg = LiftConfig(scale_from_priors=model_depth, depth_field=model_depth)
    results = []
    for img_id, depth, K, down, anns in _scenes():
        aa = anns if mode == "masks" else [dict(a, mask=None) for a in anns]
        results.append((img_id, lift_image(depth, K, aa, down if gravity else None, cfg, image_id=img_id)))
    return results


def _digest(results) -> str:
    h = hashlib.sha256()
    for img_id, r in results:
        h.update(json.dumps([img_id, _rows(r.objects), [list(x) for x in r.rejects],
                             round(r.depth_scale_factor, 9),
                             None if r.floor_height is None else round(r.floor_height, 9)],
                            sort_keys=True).encode())
    return h.hexdigest()


# OpenBLAS kernel -> family of pinned digests
KERNEL_FAMILY = {"skylakex": "avx512", "cooperlake": "avx512", "sapphirerapids": "avx512",
                 "haswell": "avx2", "zen": "avx2"}

PINNED = {
    ("masks", False, True): {
        "avx512": "c21ec8fc85bd02d0b4ed9f3aeccc1211538dc607f5a11e6eebd7b80bf837908c",
        "avx2": "c21ec8fc85bd02d0b4ed9f3aeccc1211538dc607f5a11e6eebd7b80bf837908c"},
    ("box-only", False, True): {
        "avx512": "ad0d8a802969b33ce3950c54ac1cd8e40789ea506338a85f33efebf958d4c64f",
        "avx2": "51bf08d0c9e1a58621f38f4825c829306a81bf520ede2b3f68118a493d8f857e"},
    ("masks", True, True): {
        "avx512": "ea2c4c11d513e1e6f91de3832f13b6a7ff3af3c5f6db47bcc9d76d4f1ed01532",
        "avx2": "ea2c4c11d513e1e6f91de3832f13b6a7ff3af3c5f6db47bcc9d76d4f1ed01532"},
    ("box-only", True, True): {
        "avx512": "07a3d342678b8d12c62d248e887b161a1d6d6ca6dac6cbba5dec5b87448e77d5",
        "avx2": "59829504ee42354b8a2136c58324ec7a57b43a6892fb13a389dae6ae648487ab"},
    ("masks", True, False): {
        "avx512": "5782e08d08eac1513d346d3063e63a8adb0c1f3b2ba458473fa4954b677cb997",
        "avx2": "5782e08d08eac1513d346d3063e63a8adb0c1f3b2ba458473fa4954b677cb997"},
}


def blas_kernels() -> set[str]:
    """The kernels (architectures) of the OpenBLAS libraries loaded in this process, lower case."""
    from threadpoolctl import threadpool_info

    import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS, which the lifter calls too)

    return {str(i.get("architecture", "")).lower() for i in threadpool_info() if i.get("internal_api") == "openblas"}


@pytest.mark.parametrize("key", list(PINNED), ids=lambda k: f"{k[0]}-{'model' if k[1] else 'sensor'}"
                         f"-{'gravity' if k[2] else 'estimated'}")
def test_lifted_boxes_pinned(key):
    kernels = blas_kernels()
    families = {KERNEL_FAMILY.get(k) for k in kernels}
    if len(families) != 1 or None in families:
        pytest.skip(f"no digest pinned for the OpenBLAS kernels {sorted(kernels)}: record this machine's")
    results = _lift_all(*key)
    assert sum(len(r.objects) for _, r in results) >= 10  # the scenes do exercise the lifter
    assert _digest(results) == PINNED[key][families.pop()]


def test_a_few_exact_values():
    """Readable anchors of the digests above: the first object of scene 0, masks, sensor depth."""
    (_, r), *_ = _lift_all("masks", False, True)
    o = r.objects[0]
    assert o["annotation_id"] == EXACT["annotation_id"]
    assert o["category"] == EXACT["category"]
    assert [round(t, 6) for t in o["center_cam"]] == EXACT["center_cam"]
    assert [round(t, 6) for t in o["dimensions"]] == EXACT["dimensions"]
    assert round(o["yaw"], 6) == EXACT["yaw"]
    assert round(o["quality"], 6) == EXACT["quality"]
    assert o["flags"] == EXACT["flags"]


EXACT = {"annotation_id": 1, "category": "sofa", "center_cam": [-2.537104, -0.226514, 3.900408],
         "dimensions": [1.125516, 0.804926, 1.93575], "yaw": -0.414516, "quality": 0.564341,
         "flags": ["truncated", "amodal_completed", "on_floor"]}
