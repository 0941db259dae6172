"""OpenImages V7 boxes CSV -> manifest: normalised boxes, group/depiction/flags, verified labels, lazy sizes."""

from __future__ import annotations

import pytest
from PIL import Image

from lift3d.errors import InputError
from lift3d.io.ingest import ingest
from lift3d.io.manifest import open_manifest

HEADER = "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"
A, B, C = "000002b66c9c498e", "000002b97e5471a0", "0000048549557964"


def _fixture(tmp_path):
    imgs = tmp_path / "images"
    imgs.mkdir()
    Image.new("RGB", (200, 100)).save(imgs / f"{A}.jpg")
    Image.new("RGB", (64, 48)).save(imgs / f"{B}.jpg")  # C has no image file
    rows = [
        f"{A},xclick,/m/01mzpv,1,0.1,0.5,0.2,0.9,1,0,0,0,0",   # chair, occluded
        f"{A},xclick,/m/01mzpv,1,0.6,0.9,0.2,0.9,0,1,0,0,0",   # chair, truncated
        f"{A},xclick,/m/04bcr3,1,0.0,1.0,0.5,1.0,0,0,1,0,0",   # table group-of -> crowd
        f"{A},xclick,/m/01mzpv,1,0.3,0.4,0.1,0.2,0,0,0,1,0",   # a depicted chair -> depiction
        f"{A},xclick,/m/09999,1,0.3,0.4,0.1,0.2,0,0,0,0,0",    # unknown class
        f"{A},xclick,/m/04bcr3,1,0.5,0.4,0.1,0.2,0,0,0,0,0",   # XMax < XMin -> bad_bbox
        f"{B},xclick,/m/04bcr3,1,0.25,0.75,0.25,0.75,0,0,0,0,0",
        f"{C},xclick,/m/04bcr3,1,0.25,0.75,0.25,0.75,0,0,0,0,0",  # size unknown -> image rejected
        "not-hex,xclick,/m/04bcr3,1,0.25,0.75,0.25,0.75,0,0,0,0,0",
    ]
    (tmp_path / "boxes.csv").write_text(HEADER + "\n".join(rows) + "\n")
    (tmp_path / "classes.csv").write_text("/m/01mzpv,Chair\n/m/04bcr3,Table\n")
    mdir = tmp_path / "masks"
    mdir.mkdir()
    m = Image.new("L", (100, 50))  # half resolution; the box's area set
    m.paste(255, (10, 10, 50, 45))
    m.save(mdir / "a_chair.png")
    (tmp_path / "seg.csv").write_text("MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks\n"
                                      f"a_chair.png,{A},/m/01mzpv,x,0.1,0.5,0.2,0.9,0.9,\n"
                                      f"gone.png,{A},/m/01mzpv,y,0.6,0.9,0.2,0.9,0.9,\n")
    (tmp_path / "labels.csv").write_text(f"ImageID,Source,LabelName,Confidence\n{A},verification,/m/01mzpv,1\n"
                                         f"{A},machine,/m/04bcr3,1\n{B},crowdsource-verification,/m/04bcr3,1\n")
    return imgs


def test_openimages_ingest(tmp_path):
    imgs = _fixture(tmp_path)
    meta = ingest("openimages", [tmp_path / "labels.csv", tmp_path / "boxes.csv", tmp_path / "classes.csv",
                                 tmp_path / "seg.csv"], tmp_path / "m", images_root=imgs)
    assert meta["masks_matched"] == 1 and meta["masks_unreadable"] == 1
    man = open_manifest(tmp_path / "m")
    recs = {r["file_name"]: r for r in man.iter_records(imgs)}
    assert meta["input_images"] == 3 and meta["input_annotations"] == 9
    a = recs[f"{A}.jpg"]
    assert (a["width"], a["height"]) == (200, 100)
    anns = {x["annotation_id"]: x for x in a["annotations"]}
    assert anns[1]["bbox2d"] == pytest.approx([20.0, 20.0, 100.0, 90.0]) and anns[1]["category"] == "Chair"
    assert anns[1]["flags"] == ["occluded"] and anns[2]["flags"] == ["truncated"]
    assert anns[3]["iscrowd"] == 1
    from pycocotools import mask as mask_utils

    seg = anns[1]["segmentation"]
    assert seg["size"] == [100, 200] and anns[2]["segmentation"] is None
    mask = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()})
    assert mask.sum() == 80 * 70 and mask[20:90, 20:100].all()  # upsampled x2 from the 40 x 35 block
    reasons = {x["annotation_id"]: x["reason"] for x in a["rejects"]}
    assert reasons == {4: "depiction", 5: "unknown_category", 6: "bad_bbox"}
    assert a["not_exhaustive_categories"] == ["Table"]  # chair verified by a human, table only by a machine
    assert "not_exhaustive_categories" not in recs[f"{B}.jpg"]
    c = recs[f"{C}.jpg"]
    assert c["failed"] and [x["reason"] for x in c["rejects"]] == ["image_size_unknown", "image_rejected"]
    assert [x["reason"] for x in man.orphan_rejects()] == ["unknown_image"]
    # every box row ends in exactly one place
    placed = sum(len(r["annotations"]) + sum(1 for x in r["rejects"] if x["annotation_id"] is not None)
                 for r in recs.values()) + len(man.orphan_rejects())
    assert placed == 9
    ids = [r["image_id"] for r in man.iter_records(imgs)]
    assert ids == sorted(ids)


def test_openimages_bad_inputs(tmp_path):
    _fixture(tmp_path)
    with pytest.raises(InputError, match="class-descriptions CSV"):
        ingest("openimages", [tmp_path / "boxes.csv"], tmp_path / "m1")
    (tmp_path / "weird.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="not an OpenImages"):
        ingest("openimages", [tmp_path / "weird.csv", tmp_path / "classes.csv"], tmp_path / "m2")
