import math

import numpy as np
import pytest

from lift3d.depth.intrinsics import (
    FOV_PRIOR_HFOV_DEG,
    IntrinsicsError,
    focal_px_from_35mm,
    fov_prior_K,
    resolve_intrinsics,
)

K_DS = [500.0, 0, 319.5, 0, 501.0, 239.5, 0, 0, 1]


def test_fov_prior_is_da2_focal_at_640():
    K = fov_prior_K(640, 480)
    assert K[0, 0] == pytest.approx(470.4, rel=1e-9)
    assert K[1, 1] == pytest.approx(470.4, rel=1e-9)
    assert (K[0, 2], K[1, 2]) == (319.5, 239.5)  # 0-based pixel centres
    assert FOV_PRIOR_HFOV_DEG == pytest.approx(68.45, abs=0.01)
    assert fov_prior_K(1280, 960)[0, 0] == pytest.approx(940.8)  # scales with the width


def test_exif_35mm_equivalent_is_diagonal_based():
    # 3:2 frame: 36 mm equivalent on a 36 mm-wide frame -> fx = image width
    assert focal_px_from_35mm(3600, 2400, 36.0) == pytest.approx(3600.0)
    # 4:3 frame keeps the diagonal field of view of a 36 x 24 mm frame
    assert focal_px_from_35mm(4000, 3000, 26.0) == pytest.approx(26.0 * 5000.0 / math.hypot(36, 24))


@pytest.mark.parametrize(
    "record, model_f, source, fx",
    [
        ({"K": K_DS, "exif_focal_35mm": 26.0}, 600.0, "dataset", 500.0),
        # EXIF (26 mm: 480.7 px at 640 x 480) outranks the model's estimate within x1.3 of it ...
        ({"K": None, "exif_focal_35mm": 26.0}, 600.0, "exif", 26.0 * 800.0 / math.hypot(36, 24)),
        ({"K": None, "exif_focal_35mm": 26.0}, 400.0, "exif", 26.0 * 800.0 / math.hypot(36, 24)),
        # ... and not beyond (a crop after capture narrows the field of view the EXIF value describes)
        ({"K": None, "exif_focal_35mm": 26.0}, 700.0, "model", 700.0),
        ({"K": None, "exif_focal_35mm": 26.0}, 360.0, "model", 360.0),
        ({"K": None, "exif_focal_35mm": None}, 600.0, "model", 600.0),
        ({"K": None, "exif_focal_35mm": 0.0}, 600.0, "model", 600.0),  # corrupt EXIF
        ({"K": None, "exif_focal_35mm": 36.0}, None, "exif", 36.0 * 800.0 / math.hypot(36, 24)),
        ({"K": None, "exif_focal_35mm": None}, None, "fov_prior", 470.4),
        ({"K": None, "exif_focal_35mm": 0.0}, None, "fov_prior", 470.4),  # corrupt EXIF
        ({"K": None, "exif_focal_35mm": float("nan")}, None, "fov_prior", 470.4),
        ({"K": None, "exif_focal_35mm": "n/a"}, None, "fov_prior", 470.4),
        ({}, float("nan"), "fov_prior", 470.4),  # a NaN model estimate is not a focal length
    ],
)
def test_policy_order(record, model_f, source, fx):
    K, src = resolve_intrinsics(record, 640, 480, model_focal_px=model_f)
    assert src == source
    assert K[0, 0] == pytest.approx(fx)
    assert K.shape == (3, 3) and np.allclose(K[2], [0, 0, 1])


def test_malformed_dataset_K_raises():
    with pytest.raises(IntrinsicsError):
        resolve_intrinsics({"K": [1, 2, 3]}, 640, 480)
    with pytest.raises(IntrinsicsError):
        resolve_intrinsics({"K": [0, 0, 1, 0, 0, 1, 0, 0, 1]}, 640, 480)
