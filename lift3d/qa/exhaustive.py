"""Which categories of an image questions must not treat as complete.

A category is *incomplete* in an image when one of its annotations there was not lifted (rejected by any
stage), or when the source says it is not exhaustively annotated in that image (LVIS
``not_exhaustive_category_ids``; OpenImages classes that were not human-verified for the image).  The QA
generator never counts an incomplete category, never names one of its objects ("the X", "the leftmost X",
so no relation or measurement question about it either) and never asks to locate all of them; the list is
stored with the image (``rejected_categories``), so ``lift3d validate`` applies the same rule.
"""

from __future__ import annotations


def incomplete_categories(record: dict) -> list[str]:
    lifted = {o["annotation_id"] for o in record.get("objects") or []}
    out = {c for aid, c in (record.get("annotation_categories") or {}).items() if aid not in lifted}
    out.update(str(c) for c in record.get("not_exhaustive_categories") or ())
    return sorted(out)
