import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lift3d.depth import DepthConfig, DepthStage, MissingWeightsError, make_backend
from lift3d.depth.backends import SHORT_NAMES, resolve_model_id

from tiny_depth_models import build_tiny_da


def images(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]


def records(shapes, seed=0, **kw):
    return [{"image_id": i, "rgb": im, "K": None, "exif_focal_35mm": None, "width": im.shape[1],
             "height": im.shape[0], "annotations": [], **kw} for i, im in enumerate(images(shapes, seed))]


# ------------------------------------------------------------------------------------------ Depth Anything


def test_da_loads_from_pretrained_with_the_pil_processor(da_stage):
    b = da_stage.backend
    assert b.is_model and b.device == "cpu"
    assert type(b.model).__name__ == "DepthAnythingForDepthEstimation"
    assert b.max_depth == 20.0
    assert da_stage.resources.num_gpus == 0  # device="cpu"
    assert da_stage.resources.batch_size == 3


def test_resources_ask_for_a_gpu_only_for_models_on_cuda():
    def gpus(**kw):
        return DepthStage(DepthConfig(**kw)).resources.num_gpus  # nothing is loaded here

    assert gpus(backend="da2-indoor-small", device="cuda") == 1
    assert gpus(backend="da2-indoor-small", device="auto") == (1 if torch.cuda.is_available() else 0)
    assert gpus(backend="da2-indoor-small", device="cpu") == 0
    assert gpus(backend="dataset", device="cuda") == 0
    assert DepthStage(DepthConfig(backend="depth-pro", batch_size=5)).resources.batch_size == 5


def test_da_depth_shape_scale_and_provenance(da_stage, tiny_da_dir):
    shapes = [(48, 64), (97, 130), (64, 48)]
    recs = records(shapes)
    recs[0]["K"] = [60.0, 0, 31.5, 0, 60.0, 23.5, 0, 0, 1]
    recs[1]["exif_focal_35mm"] = 28.0
    da_stage.process(recs)
    b = da_stage.backend
    for r, (h, w) in zip(recs, shapes):
        assert not r.get("failed"), r.get("rejects")
        d = r["depth"]
        assert d.shape == (h, w) and d.dtype == np.float32
        assert 0 < d.min() and d.max() <= 20.0 + 1e-4  # sigmoid x max_depth metres
        assert d.std() > 0  # the randomised model gives a non-constant map
        # reference: the model's own forward on the preprocessed image, resized bilinearly to the image
        pv = b.preprocess([r["rgb"]])
        assert tuple(pv.shape[2:]) == b.bucket_key(h, w)
        with torch.no_grad():
            raw = b.model(pixel_values=pv).predicted_depth
        ref = F.interpolate(raw[:, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
        np.testing.assert_allclose(d, ref, rtol=1e-4, atol=1e-4)
        assert r["depth_source"] == str(tiny_da_dir)
        assert r["depth_assumed_focal"] is True
        assert len(r["K"]) == 9
    assert [r["intrinsics_source"] for r in recs] == ["dataset", "exif", "fov_prior"]
    assert recs[0]["K"][0] == 60.0
    assert recs[2]["K"][0] == pytest.approx(470.4 * 48 / 640)


def test_batches_are_bucketed_by_processor_shape(da_stage, monkeypatch):
    b = da_stage.backend
    shapes = [(48, 64), (64, 48), (96, 128), (50, 50), (48, 64), (240, 320), (30, 90)]
    recs = records(shapes, seed=1)
    seen = []
    orig = b.run

    def spy(prepared, sizes, focal_px=None):
        pv = b.device_inputs(prepared)  # raises if the chunk's inputs could not be stacked
        seen.append(([tuple(s) for s in sizes], tuple(pv.shape[2:])))
        return orig(prepared, sizes, focal_px)

    monkeypatch.setattr(b, "run", spy)
    da_stage.process(recs)
    assert not any(r.get("failed") for r in recs)
    assert sum(len(s) for s, _ in seen) == len(shapes)
    assert all(len(s) <= 3 for s, _ in seen)  # batch_size
    for img_shapes, pv_shape in seen:
        assert {b.bucket_key(h, w) for h, w in img_shapes} == {pv_shape}
    # same-aspect images of different sizes share a bucket: (48, 64), (96, 128), (240, 320)
    assert any(len({tuple(s) for s in group}) > 1 for group, _ in seen)
    # batching does not change the result: each image alone gives the same depth
    monkeypatch.setattr(b, "run", orig)
    for r, im in zip(recs, images(shapes, seed=1)):
        alone = records([im.shape[:2]], seed=0)[0]
        alone["rgb"] = im
        da_stage.process([alone])
        np.testing.assert_allclose(r["depth"], alone["depth"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("h, w", [(48, 64), (31, 97), (700, 90), (56, 56), (40, 200)])
def test_bucket_key_predicts_processor_output(da_stage, h, w):
    b = da_stage.backend
    pv = b.processor(images=images([(h, w)]), return_tensors="pt")["pixel_values"]
    assert tuple(pv.shape[2:]) == b.bucket_key(h, w)


def test_extreme_aspect_ratio_is_rejected_not_crashed(da_stage):
    recs = records([(13, 200), (48, 64)])
    da_stage.process(recs)
    assert recs[0]["rejects"][0]["reason"] == "rgb_unsupported_shape"
    assert not recs[1].get("failed")


@pytest.fixture(scope="module")
def processor_stage(tiny_da_dir):
    stage = DepthStage(DepthConfig(backend=str(tiny_da_dir), device="cpu", batch_size=3, preprocess="processor"))
    stage.setup()
    return stage


def test_torch_preprocessing_matches_the_hf_processor(da_stage, processor_stage, nyu_dir):
    from PIL import Image

    rgb = np.asarray(Image.open(nyu_dir / "rgb" / "rgb_00000.jpg").convert("RGB"))
    for size in [(480, 640), (200, 300), (97, 130)]:
        im = np.asarray(Image.fromarray(rgb).resize(size[::-1], Image.BILINEAR))
        ref = processor_stage.backend.processor(images=[im], return_tensors="pt")["pixel_values"]
        ours = da_stage.backend.preprocess([im])
        assert ours.shape == ref.shape
        diff = (ours - ref).abs()
        # normalised units (one grey level ~ 0.017): ~0.25 levels on average, a few levels at sharp edges
        assert diff.mean() < 0.01 and diff.max() < 0.15
    a = records([rgb.shape[:2]])
    b = records([rgb.shape[:2]])
    a[0]["rgb"] = b[0]["rgb"] = rgb
    da_stage.process(a)
    processor_stage.process(b)
    rel = np.abs(a[0]["depth"] - b[0]["depth"]) / b[0]["depth"]
    assert np.median(rel) < 0.01


def test_cpu_preprocess_stage_gives_the_same_depth(processor_stage, tiny_da_dir):
    from lift3d.depth import DepthPreprocessStage

    shapes = [(48, 64), (64, 48), (96, 128)]
    direct = records(shapes, seed=4)
    processor_stage.process(direct)
    cfg = DepthConfig(backend=str(tiny_da_dir), device="cpu", preprocess="processor")
    pre = DepthPreprocessStage(cfg)
    assert pre.resources.num_gpus == 0
    staged = pre.process(records(shapes, seed=4))
    assert all(r["depth_input"].ndim == 3 for r in staged)
    processor_stage.process(staged)
    for a, b in zip(direct, staged):
        assert "depth_input" not in b  # not carried further down the pipeline
        np.testing.assert_allclose(a["depth"], b["depth"], rtol=1e-5, atol=1e-5)


def test_bad_rgb_rejects_only_that_record(da_stage):
    recs = records([(48, 64), (48, 64)])
    recs.insert(1, {"image_id": 9, "rgb": None, "K": None, "annotations": [{"annotation_id": 3}]})
    recs.append({"image_id": 10, "rgb": np.zeros((48, 64), np.uint8), "K": None})  # greyscale is fine
    recs.append({"image_id": 11, "rgb": np.zeros((48, 64, 3), np.uint8), "K": [1, 2]})
    da_stage.process(recs)
    assert [r.get("failed", False) for r in recs] == [False, True, False, False, True]
    assert recs[1]["rejects"][0]["reason"] == "rgb_missing"
    assert recs[1]["rejects"][1]["annotation_id"] == 3
    assert recs[4]["rejects"][0]["reason"] == "invalid_intrinsics"
    assert recs[3]["depth"].shape == (48, 64)


def test_relative_depth_anything_is_refused(tmp_path):
    d = build_tiny_da(tmp_path / "rel", metric=False)
    with pytest.raises(ValueError, match="relative depth"):
        make_backend(str(d), device="cpu")


def test_eval_depth_with_a_model_backend(da_stage, nyu_dir):
    from lift3d.depth.evaluate import eval_depth, format_eval

    res = eval_depth(nyu_dir / "annotations.json", nyu_dir, backend=da_stage, max_images=2)
    assert res["n_evaluated"] == 2
    for k in ("abs_rel", "rmse", "delta1"):
        assert np.isfinite(res["mean"][k]) and np.isfinite(res["median_scaled"][k])
    assert res["mean"]["abs_rel"] > 0  # a random model is not the sensor
    assert 0 <= res["mean"]["delta1"] <= 1
    assert res["per_image"][0]["intrinsics_source"] == "dataset"
    assert "median-scaled" in format_eval(res)


# ------------------------------------------------------------------------------------------ Depth Pro


def test_depth_pro_depth_and_model_focal(dp_stage, tiny_dp_dir):
    shapes = [(48, 64), (64, 48), (40, 40)]
    recs = records(shapes)  # no EXIF: the model's estimate
    dp_stage.process(recs)
    b = dp_stage.backend
    assert b.has_fov
    for r, (h, w) in zip(recs, shapes):
        assert not r.get("failed"), r.get("rejects")
        assert r["depth"].shape == (h, w) and r["depth"].dtype == np.float32
        assert (r["depth"] >= 0).all() and (r["depth"] > 0).any()
        assert r["intrinsics_source"] == "model"
        assert r["depth_assumed_focal"] is False
        assert r["depth_source"] == str(tiny_dp_dir)
        # the focal comes from the FOV head: f = 0.5 W / tan(fov / 2)
        with torch.no_grad():
            fov = b.model(pixel_values=b.preprocess([r["rgb"]])).field_of_view.item()
        assert r["K"][0] == pytest.approx(0.5 * w / np.tan(np.radians(fov) / 2), rel=1e-4)
        assert r["K"][2] == (w - 1) / 2


def test_depth_pro_uses_the_dataset_focal_for_metric_scale(dp_stage):
    (im,) = images([(48, 64)], seed=3)
    out = {}
    for f in (50.0, 100.0):
        r = records([(48, 64)])[0]
        r["rgb"], r["K"] = im, [f, 0, 31.5, 0, f, 23.5, 0, 0, 1]
        dp_stage.process([r])
        assert r["intrinsics_source"] == "dataset" and r["depth_assumed_focal"] is False
        out[f] = r["depth"]
    valid = (out[50.0] > 0) & (out[100.0] > 0)
    assert valid.mean() > 0.5
    # metric depth = f / (W * canonical inverse depth): doubling f doubles depth
    np.testing.assert_allclose(out[100.0][valid], 2 * out[50.0][valid], rtol=1e-4)


def test_depth_pro_converts_with_the_exif_focal_unless_the_model_disagrees(dp_stage):
    (im,) = images([(48, 64)], seed=4)

    def run(f_exif_px=None):
        r = records([(48, 64)])[0]
        r["rgb"] = im
        if f_exif_px is not None:
            r["exif_focal_35mm"] = f_exif_px * math.hypot(36, 24) / math.hypot(64, 48)
        dp_stage.process([r])
        assert not r.get("failed"), r.get("rejects")
        return r

    base = run()
    assert base["intrinsics_source"] == "model"
    f_model = base["K"][0]
    valid = base["depth"] > 0
    assert valid.mean() > 0.5
    # EXIF within x1.3 of the model's estimate: its focal length converts the depth (metric depth is proportional
    # to the focal length it is converted with) and is the row's K
    near = run(1.2 * f_model)
    assert near["intrinsics_source"] == "exif" and near["depth_assumed_focal"] is False
    assert near["K"][0] == pytest.approx(1.2 * f_model, rel=1e-6)
    np.testing.assert_allclose(near["depth"][valid], 1.2 * base["depth"][valid], rtol=1e-4)
    # further off (a crop after capture): the model's estimate, and the depth converted with it
    far = run(1.5 * f_model)
    assert far["intrinsics_source"] == "model" and far["K"][0] == pytest.approx(f_model, rel=1e-6)
    np.testing.assert_allclose(far["depth"][valid], base["depth"][valid], rtol=1e-4)


# ------------------------------------------------------------------------------------------ weights


def test_short_names():
    assert resolve_model_id("da2-indoor-small") == "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf"
    assert resolve_model_id("da2-outdoor-large") == "depth-anything/Depth-Anything-V2-Metric-Outdoor-Large-hf"
    assert resolve_model_id("depth-pro") == "apple/DepthPro-hf"
    assert resolve_model_id("org/custom") == "org/custom"
    assert len(SHORT_NAMES) == 7


def test_missing_hub_weights_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as ei:
        make_backend("lift3d-tests/no-such-depth-model", device="cpu")
    msg = str(ei.value)
    assert "\n" not in msg
    assert "lift3d-tests/no-such-depth-model" in msg and "hf download" in msg
    stage = DepthStage(DepthConfig(backend="lift3d-tests/no-such-depth-model", device="cpu"))
    with pytest.raises(MissingWeightsError):
        stage.setup()


def test_missing_local_weights(tmp_path, tiny_da_dir):
    with pytest.raises(MissingWeightsError, match="no such directory"):
        make_backend(str(tmp_path / "nope" / "model"), device="cpu")
    d = tmp_path / "no_safetensors"
    d.mkdir()
    (d / "config.json").write_text((tiny_da_dir / "config.json").read_text())
    with pytest.raises(MissingWeightsError, match="safetensors"):
        make_backend(str(d), device="cpu")


def test_provenance_for_the_dataset_card(da_stage, dp_stage, tiny_dp_dir):
    p = da_stage.provenance()
    assert p["depth_assumed_focal"] is True and "focal" in p["note"]
    assert p["fov_prior_hfov_deg"] == pytest.approx(68.453, abs=1e-3)
    assert dp_stage.provenance()["depth_assumed_focal"] is False
    # before setup (no model loaded) the local directory's config says what it is
    assert DepthStage(DepthConfig(backend=str(tiny_dp_dir))).provenance()["depth_assumed_focal"] is False
    assert DepthStage(DepthConfig(backend="dataset")).provenance()["depth_assumed_focal"] is False
    assert DepthStage(DepthConfig(backend="da2-outdoor-base")).provenance()["depth_model"] == (
        "depth-anything/Depth-Anything-V2-Metric-Outdoor-Base-hf")
