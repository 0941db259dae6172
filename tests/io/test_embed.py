"""--embed-images: the images go into the corpus (objects.image, qa.images), loadable with datasets as they are."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from lift3d.build import BuildConfig, build
from lift3d.errors import UserError
from lift3d.io.embed import EmbedImageStage
from lift3d.output import image_placeholders
from lift3d.synth import generate


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("embed_src")
    generate(d, 3, 11, width=160, height=120)
    return d


def _build(src, out, **kw):
    cfg = BuildConfig(**{"images_per_unit": 2, "embed_images": True, **kw})
    return build(src / "annotations.json", src, out, cfg, executor="local", progress=False)


def _check_rows(out, src, fmt):
    objects = datasets.load_dataset(str(out), "objects", split="train")
    qa = datasets.load_dataset(str(out), "qa", split="train")
    assert objects.features["image"] == datasets.Image()
    assert "Images: embedded" in (out / "README.md").read_text()
    assert qa.features["images"] == datasets.List(datasets.Image())
    size = {}
    for r in objects:
        im = r["image"]
        assert isinstance(im, Image.Image) and im.size == (r["width"], r["height"])
        assert im.format == fmt
        size[r["image_id"]] = im.size
    assert qa.num_rows > 20
    for r in qa:
        n = image_placeholders(r["messages"])
        assert n == 1 and len(r["images"]) == n  # exactly one image per placeholder
        assert all(im.size == size[r["image_id"]] for im in r["images"])
    return objects, qa


def test_original_bytes_are_embedded_as_they_are(src, tmp_path):
    out = tmp_path / "orig"
    _build(src, out)
    objects, _ = _check_rows(out, src, "PNG")
    raw = objects.cast_column("image", datasets.Image(decode=False))
    for r in raw:
        assert r["image"]["bytes"] == (src / r["file_name"]).read_bytes()


def test_jpeg_reencoding_and_size_capped_shards(src, tmp_path):
    out = tmp_path / "jpeg"
    cap_mb = 0.02
    info = _build(src, out, embed_images_format="jpeg", jpeg_quality=80, max_shard_mb=cap_mb)
    _, qa = _check_rows(out, src, "JPEG")
    shards = sorted((out / "qa").glob("train-*.parquet"))
    assert len(shards) == len(info["shards"]["qa"]["shards"]) > 1
    assert all(p.stat().st_size <= cap_mb * 2**20 for p in shards), [p.stat().st_size for p in shards]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in shards) == qa.num_rows == info["counts"]["qa_rows"]
    n = len(shards)
    assert [p.name for p in shards] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    # quality 80 JPEG is smaller than the lossless source
    with Image.open(io.BytesIO(qa.cast_column("images", datasets.List(datasets.Image(decode=False)))[0]["images"][0]["bytes"])) as im:
        assert im.format == "JPEG"


def test_without_the_flag_the_columns_are_null(src, tmp_path):
    out = tmp_path / "plain"
    build(src / "annotations.json", src, out, BuildConfig(images_per_unit=2), executor="local", progress=False)
    objects = datasets.load_dataset(str(out), "objects", split="train")
    qa = datasets.load_dataset(str(out), "qa", split="train")
    assert all(r is None for r in objects["image"]) and all(r is None for r in qa["images"])


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="--jpeg-quality"):
        EmbedImageStage("jpeg", 0)
    with pytest.raises(UserError, match="--embed-images-format"):
        EmbedImageStage("gif", 90)
