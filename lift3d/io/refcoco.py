"""RefCOCO / RefCOCO+ / RefCOCOg -> manifest records with human referring expressions (``--format refcoco``).

Inputs: the COCO instances JSON of the refer folder (``instances.json``, train2014 images) and the refs file,
either the original ``refs(<split_by>).p`` pickle or a JSON list of the same dicts
(``{ref_id, ann_id, image_id, category_id, split, sentences: [{sent, raw, tokens, sent_id}]}``).  The pickle is
read with a restricted unpickler that builds only lists, dicts, tuples, strings and numbers and refuses
every global (no code can run while loading an untrusted file); the refs are small (RefCOCO: 50k refs) and
are held in memory, the instances are streamed like any COCO file.

Each record gets ``referring`` = [{annotation_id, ref_id, split, sentences}] for its annotated objects and
its split (the dataset's split of the image: UNC/UMD splits are per image; an image whose refs disagree
takes the split of its first ref, counted in the manifest as ``split_conflicts``); images without refs are
in split ``noref``.  ``lift3d build --split val`` builds one split; the QA stage asks one
``ground_expression`` question per expression's object (the human sentence) when its box is reliable.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

from lift3d.errors import InputError

_ALLOWED = {("builtins", n) for n in ("list", "dict", "tuple", "set", "frozenset", "str", "int", "float", "bytes")}
_ALLOWED |= {("__builtin__", n) for n in ("list", "dict", "tuple", "set", "frozenset", "str", "int", "float",
                                          "unicode", "long")}


class RestrictedUnpickler(pickle.Unpickler):
    """Builds only builtin containers, strings and numbers; any other global is refused."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            import builtins

            return getattr(builtins, {"unicode": "str", "long": "int"}.get(name, name))
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a refs file")


def load_refs(path) -> list[dict]:
    path = Path(path)
    data = path.read_bytes()
    if path.suffix.lower() == ".json" or data[:1] in (b"[", b"{"):
        try:
            refs = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: malformed JSON ({exc})") from None
    else:
        try:
            refs = RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError) as exc:
            raise InputError(f"{path}: not a readable refs pickle ({type(exc).__name__}: {exc})") from None
    if isinstance(refs, dict) and isinstance(refs.get("refs"), list):
        refs = refs["refs"]
    if not isinstance(refs, list):
        raise InputError(f"{path}: a refs file is a list of refs, got {type(refs).__name__}")
    return refs


def _sentences(ref) -> list[str]:
    out = []
    for s in ref.get("sentences") or []:
        t = s.get("sent") or s.get("raw") if isinstance(s, dict) else s
        if isinstance(t, str) and t.strip():
            out.append(" ".join(t.split()))
    return out


def ingest_refcoco(paths, out, *, images_root=None, rows_per_shard: int = 20000, tmp_dir=None) -> dict:
    from lift3d.io.ingest import ingest_coco_json

    paths = [Path(p) for p in paths]
    refs_paths = [p for p in paths if p.suffix.lower() in (".p", ".pkl", ".pickle") or p.name.startswith("refs")]
    inst = [p for p in paths if p not in refs_paths]
    if len(inst) != 1 or not refs_paths:
        raise InputError("--format refcoco needs the instances JSON and one or more refs files "
                         "(refs(<split_by>).p or a JSON list of refs)")
    by_image: dict[int, list[dict]] = {}
    n_refs = n_bad = 0
    for rp in refs_paths:
        for ref in load_refs(rp):
            n_refs += 1
            sents = _sentences(ref) if isinstance(ref, dict) else []
            if not sents or not isinstance(ref.get("ann_id"), int) or not isinstance(ref.get("image_id"), int):
                n_bad += 1
                continue
            by_image.setdefault(ref["image_id"], []).append(
                {"annotation_id": ref["ann_id"], "ref_id": ref.get("ref_id"), "split": str(ref.get("split")),
                 "sentences": sents})
    stats = {"split_conflicts": 0, "refs_without_object": 0}

    def hook(rec: dict, annotation_ids: list):
        refs = by_image.get(rec["image_id"])
        if not refs or rec.get("failed"):
            return "noref"
        have = set(annotation_ids)
        keep = [r for r in refs if r["annotation_id"] in have]
        stats["refs_without_object"] += len(refs) - len(keep)
        if not keep:
            return "noref"
        rec["referring"] = keep
        if len({r["split"] for r in keep}) > 1:
            stats["split_conflicts"] += 1
        return keep[0]["split"]

    meta = ingest_coco_json(inst[0], out, "refcoco", images_root=images_root, rows_per_shard=rows_per_shard,
                            tmp_dir=tmp_dir, record_hook=hook,
                            extra_meta={"refs_files": [str(p.resolve()) for p in refs_paths], "refs": n_refs,
                                        "refs_unusable": n_bad})
    meta.update(stats)
    from lift3d.io.manifest import MANIFEST_FILE

    (Path(out) / MANIFEST_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    return meta
