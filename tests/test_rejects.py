"""The reject vocabulary (lift3d/rejects.py): every code written in the source is registered and documented."""

import ast
import re
from pathlib import Path

import lift3d
from lift3d.rejects import REASONS, RecordRejected, add_reject, reject_record

PKG = Path(lift3d.__file__).parent
DOCS = PKG.parent / "docs" / "rejects.md"

# call name -> index of the reason argument
_CALLS = {"RecordRejected": 0, "add_reject": 2, "reject_record": 2, "reject_row": 2}


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _const_str(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _codes_in_source() -> dict[str, str]:
    """reason code -> first file using it, from the calls, reject dicts and reject tuples in lift3d/."""
    found: dict[str, str] = {}

    def hit(code, path):
        if code is not None:
            found.setdefault(code, str(path.relative_to(PKG)))

    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                idx = _CALLS.get(name, 0 if name.endswith("Reject") else None)
                if idx is not None and len(node.args) > idx:
                    hit(_const_str(node.args[idx]), path)
                # x.rejects.append((aid, "code", detail))
                if (name == "append" and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Attribute)
                        and node.func.value.attr == "rejects" and node.args
                        and isinstance(node.args[0], ast.Tuple) and len(node.args[0].elts) == 3):
                    hit(_const_str(node.args[0].elts[1]), path)
            elif isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if k is not None and _const_str(k) == "reason":
                        hit(_const_str(v), path)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Attribute) and t.attr == "rejects" for t in node.targets):
                for sub in ast.walk(node.value):
                    if isinstance(sub, ast.Tuple) and len(sub.elts) == 3:
                        hit(_const_str(sub.elts[1]), path)
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 2:
                # reader helpers return (row, (code, detail)) for a rejected record
                prob = node.value.elts[1]
                if isinstance(prob, ast.Tuple) and len(prob.elts) == 2:
                    hit(_const_str(prob.elts[0]), path)
    return found


def test_every_code_in_the_source_is_registered():
    found = _codes_in_source()
    assert len(found) >= 25, sorted(found)  # the scan sees the reader, decode, depth, lift and executor codes
    unknown = {c: f for c, f in found.items() if c not in REASONS}
    assert not unknown, f"reason codes used but not in lift3d/rejects.py REASONS: {unknown}"


def test_lift_reasons_are_registered():
    from lift3d.lift import REJECT_REASONS

    assert set(REJECT_REASONS) <= set(REASONS)


def test_docs_table_matches_the_vocabulary():
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", DOCS.read_text(), flags=re.M)
    assert sorted(documented) == sorted(REASONS)
    for code, (stage, level, meaning) in REASONS.items():
        assert level in ("image", "annotation") and stage and meaning, code


def test_reject_record_keeps_the_accounting():
    rec = {"image_id": 7, "annotations": [{"annotation_id": 1}, {"annotation_id": 2}],
           "objects": [{"annotation_id": 3}], "rejects": []}
    add_reject(rec, "read", "bad_bbox", "x", annotation_id=4)
    reject_record(rec, "decode", "image_missing", "gone")
    rows = rec["rejects"]
    assert [(r["annotation_id"], r["reason"]) for r in rows] == [
        (4, "bad_bbox"), (None, "image_missing"), (1, "image_rejected"), (2, "image_rejected"), (3, "image_rejected")]
    assert rec["failed"] and rec["annotations"] == [] and rec["objects"] == [] and rec["qa"] == []
    assert all(r["image_id"] == 7 for r in rows)
    err = RecordRejected("depth_empty", "no pixel")
    assert (err.reason, err.detail) == ("depth_empty", "no pixel")
