"""3D grounding from human referring expressions (RefCOCO / RefCOCO+ / RefCOCOg): ``ground_expression``.

A person wrote the sentence for one annotated object ("the man on the left in a red shirt"), so the
question does not depend on the category being exhaustively annotated: it is asked for every expression
whose object was lifted with a reliable box (``quality >= min_quality`` and ``p_box >= box_min_p``, the
guard of ``ground_single``), one question per expression (one of its sentences, drawn per image seed).
The answer is the object's box in the build's box format, exactly as the other grounding types write it.
"""

from __future__ import annotations

import random

from lift3d.qa.config import QAConfig
from lift3d.qa.scene import Scene
from lift3d.qa.text import cap_first, cat_text

QUESTION_TYPE = "ground_expression"
TEMPLATES = (
    'Locate the object described as "{E}" and give its 3D bounding box.',
    'Where is "{E}" in 3D? Give its bounding box.',
    'Find "{E}" and output its 3D box.',
    'Give the 3D bounding box of the object referred to as "{E}".',
)


def expression_rows(image: dict, objects: list[dict], referring: list[dict], config: QAConfig | None = None,
                    seed: int = 0, start: int = 0) -> tuple[list[dict], dict]:
    """Rows for the image's referring expressions (ids continue from ``start``); ``(rows, skipped counts)``."""
    from lift3d.qa import templates as T
    from lift3d.qa.generate import _boxes_answer

    cfg = config if config is not None else QAConfig()
    image_id = int(image["image_id"])
    skipped = {"expression_object_missing": 0, "expression_box_uncertain": 0}
    if not referring or not objects:
        skipped["expression_object_missing"] += len(referring or [])
        return [], skipped
    rng = random.Random(f"lift3d-ref:{int(seed)}:{image_id}")
    S = Scene(image, objects, cfg, rng)
    where = {aid: i for i, aid in enumerate(S.ids)}
    hint = T.FORMAT_HINT[cfg.box_format]
    rows = []
    for ref in referring:
        i = where.get(ref.get("annotation_id"))
        if i is None:
            skipped["expression_object_missing"] += 1
            continue
        if S.quality[i] < cfg.min_quality or S.box_p[i] < cfg.box_min_p:
            skipped["expression_box_uncertain"] += 1
            continue
        sent = rng.choice(ref["sentences"]).strip().rstrip(".")
        q = cap_first(rng.choice(TEMPLATES).format(E=sent)) + hint
        text, value = _boxes_answer(S, [i])
        r = (f'A person described one {cat_text(S.cats[i])} in the image as "{sent}"; that object\'s box '
             f"(centre, depth, yaw, size) follows.")
        rows.append({
            "id": f"{image_id}-{start + len(rows):04d}", "image_id": image_id, "question_type": QUESTION_TYPE,
            "question": q, "answer": text, "answer_form": "boxes", "answer_value": value, "answer_unit": None,
            "choices": [], "reasoning": r, "object_ids": [S.ids[i]],
            "messages": [
                {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": q}]},
                {"role": "assistant", "content": [{"type": "text", "text": f"<think>{r}</think>{text}"}]},
            ],
        })
    return rows, skipped
