"""The embed stage (``lift3d build --embed-images``): the image itself goes into the corpus.

Runs right after decode, on the same CPU worker, and sets ``record["image"]`` = ``{"bytes", "path"}`` (the
storage of a ``datasets.Image`` value). The writer (:mod:`lift3d.output`) puts it into the ``objects`` row's
``image`` column and, once per image placeholder of ``messages``, into each ``qa`` row's ``images`` list, so
``load_dataset(OUT, "qa")`` feeds TRL's ``SFTTrainer`` as it is and a copy on the Hub needs no image folder.

Formats (``--embed-images-format``):

* ``original`` (default): the source file's bytes as they are (no re-encoding, no loss); a file whose EXIF
  orientation would make a reader rotate it (``datasets`` applies ``exif_transpose``) is re-encoded as PNG
  from the decoded pixels, so every embedded image has the row's ``width`` x ``height``;
* ``jpeg``: re-encoded from the decoded pixels as JPEG of ``--jpeg-quality`` (default 90), the smallest;
* ``png``: re-encoded losslessly as PNG.

The bytes are made here, on the worker; the driver never holds images (the last segment writes each unit).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from lift3d.errors import UserError
from lift3d.io.coco import safe_join
from lift3d.pipeline.stage import Resources, Stage
from lift3d.rejects import RecordRejected

FORMATS = ("original", "jpeg", "png")
EXIF_ORIENTATION = 0x0112


def check_options(fmt: str, quality: int) -> None:
    if fmt not in FORMATS:
        raise UserError(f"--embed-images-format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if not 1 <= int(quality) <= 100:
        raise UserError(f"--jpeg-quality must be in 1..100, not {quality}")


def encode_rgb(rgb, fmt: str, quality: int = 90) -> bytes:
    """Decoded RGB pixels -> JPEG (``quality``, 4:2:0 as PIL's default) or PNG bytes."""
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    if fmt == "jpeg":
        im.save(buf, format="JPEG", quality=int(quality))
    else:
        im.save(buf, format="PNG")
    return buf.getvalue()


def _rotated_by_readers(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(EXIF_ORIENTATION, 1) or 1) != 1
    except Exception:  # noqa: BLE001 - unreadable metadata: decode already read the pixels, re-encode
        return True


class EmbedImageStage(Stage):
    """Attach the image's encoded bytes to the record (``record["image"]``); needs decode's ``rgb``."""

    name = "embed"
    resources = Resources(num_cpus=1, batch_size=8)

    def __init__(self, fmt: str = "original", quality: int = 90):
        check_options(fmt, quality)
        self.fmt, self.quality = fmt, int(quality)

    def preflight(self) -> None:
        check_options(self.fmt, self.quality)

    def process_record(self, record: dict) -> dict:
        rgb = record.get("rgb")
        if rgb is None:
            raise RecordRejected("rgb_missing", "no decoded image reached the embed stage")
        data = None
        if self.fmt == "original":
            path = safe_join(Path(record["images_root"]), record["file_name"])
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise RecordRejected("image_unreadable", f"{path}: {type(exc).__name__}: {exc}") from None
            if _rotated_by_readers(data):
                data = encode_rgb(rgb, "png")
        else:
            data = encode_rgb(rgb, self.fmt, self.quality)
        record["image"] = {"bytes": data, "path": None}
        return record
