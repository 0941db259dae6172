import numpy as np
import pytest

from lift3d.depth import DepthConfig, DepthStage
from lift3d.depth.evaluate import depth_metrics, eval_depth, format_eval, read_coco3d_depth_images

K = [500.0, 0, 31.5, 0, 500.0, 23.5, 0, 0, 1]


@pytest.fixture(scope="module")
def stage():
    s = DepthStage(DepthConfig(backend="dataset"))
    s.setup()
    return s


def rec(i, depth, K=K, **kw):
    return {"image_id": i, "depth_dataset": depth, "K": K, "width": 64, "height": 48,
            "annotations": [{"annotation_id": 10 * i}], **kw}


def test_dataset_depth_passes_through(stage):
    d = np.random.default_rng(0).uniform(0.5, 5, (48, 64)).astype(np.float32)
    d[0, :5] = 0
    d[1, 0] = np.nan
    d[1, 1] = -2
    r = stage.process([rec(1, d.copy())])[0]
    assert not r.get("failed")
    assert r["depth"].dtype == np.float32 and r["depth"].shape == (48, 64)
    assert r["depth"][1, 0] == 0 and r["depth"][1, 1] == 0 and r["depth"][0, 0] == 0
    np.testing.assert_array_equal(r["depth"][2:], d[2:])
    assert r["depth_source"] == "dataset"
    assert r["intrinsics_source"] == "dataset"
    assert r["depth_assumed_focal"] is False
    assert r["K"] == K
    assert stage.resources.num_gpus == 0


def test_dataset_rejects_with_stable_reasons(stage):
    ok = np.ones((48, 64), np.float32)
    recs = [
        rec(1, None),
        rec(2, np.zeros((48, 64), np.float32)),
        rec(3, np.full((48, 64), np.nan, np.float32)),
        rec(4, ok, K=None),
        rec(5, ok, K=[1, 2, 3]),
        rec(6, np.ones((48, 48), np.float32)),
        rec(7, ok),
    ]
    stage.process(recs)
    reasons = [r["rejects"][0]["reason"] if r.get("failed") else None for r in recs]
    assert reasons == ["depth_missing", "depth_empty", "depth_empty", "missing_intrinsics",
                       "invalid_intrinsics", "depth_shape_mismatch", None]
    assert "K" in recs[3] and recs[3]["K"] is None  # no invented K for sensor depth
    assert recs[0]["rejects"][1]["annotation_id"] == 10  # annotations accounted for


def test_dataset_depth_at_half_resolution_is_upsampled_nearest(stage):
    d = np.arange(24 * 32, dtype=np.float32).reshape(24, 32) + 1
    r = stage.process([rec(1, d)])[0]
    assert r["depth"].shape == (48, 64)
    np.testing.assert_array_equal(r["depth"][::2, ::2], d)
    np.testing.assert_array_equal(r["depth"][1::2, 1::2], d)


def test_real_nyu_frames_through_the_dataset_backend(stage, nyu_dir):
    from PIL import Image

    recs = read_coco3d_depth_images(nyu_dir / "annotations.json")
    assert len(recs) == 3
    stage.process(recs)
    for r in recs:
        assert not r.get("failed"), r.get("rejects")
        raw = np.asarray(Image.open(nyu_dir / "depth" / f"sync_depth_{r['file_name'][-9:-4]}.png"))
        np.testing.assert_allclose(r["depth"], raw / 1000.0, rtol=1e-6)
        assert r["depth"].shape == (480, 640)
        assert 0.3 < np.median(r["depth"][r["depth"] > 0]) < 10  # metres, indoor
        assert r["K"][0] == pytest.approx(518.8579)


def test_depth_metrics_known_values():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])
    pred = np.array([[1.1, 2.0], [2.0, 9.0]])
    m = depth_metrics(pred, gt)
    assert m["n_pixels"] == 3
    assert m["abs_rel"] == pytest.approx((0.1 + 0 + 0.5) / 3)
    assert m["rmse"] == pytest.approx(np.sqrt((0.01 + 0 + 4) / 3))
    assert m["delta1"] == pytest.approx(2 / 3)


def test_eval_depth_dataset_backend_is_exact(nyu_dir):
    res = eval_depth(nyu_dir / "annotations.json", nyu_dir, backend="dataset")
    assert res["n_evaluated"] == 3
    assert res["mean"]["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert res["mean"]["delta1"] == 1.0
    assert "AbsRel" in format_eval(res)


def test_cached_model_depth_without_a_K_takes_exif_else_the_fov_prior():
    s = DepthStage(DepthConfig(backend="dataset", origin="model"))
    s.setup()
    ok = np.ones((48, 64), np.float32)
    recs = [rec(1, ok.copy(), K=None, exif_focal_35mm=26.0), rec(2, ok.copy(), K=None), rec(3, ok.copy()),
            rec(4, ok.copy(), K=[1, 2, 3])]
    s.process(recs)
    assert [r.get("failed", False) for r in recs] == [False, False, False, True]
    assert [r["intrinsics_source"] for r in recs[:3]] == ["exif", "fov_prior", "dataset"]
    assert recs[0]["K"][0] == pytest.approx(26.0 * 80.0 / np.hypot(36, 24))  # diagonal 80 px at 64 x 48
    assert recs[1]["K"][0] == pytest.approx(470.4 * 64 / 640)
    assert [r["depth_assumed_focal"] for r in recs[:3]] == [False, True, False]
    assert recs[0]["depth_source"] == "dataset-model"
    assert recs[3]["rejects"][0]["reason"] == "invalid_intrinsics"
