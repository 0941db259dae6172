"""Spatial QA corpus: question generation from lifted 3D boxes, box serialisations and scoring.

Entry point: ``rows, stats = generate_qa(image, objects, QAConfig(), seed)``.
Question types and their definitions: schemas/question_types.md.
"""

from lift3d.qa.config import QAConfig
from lift3d.qa.generate import QUESTION_TYPES, TYPES, default_mix, generate_qa
from lift3d.qa.serialize import FORMATS, format_boxes, parse_boxes

__all__ = ["QAConfig", "generate_qa", "QUESTION_TYPES", "TYPES", "default_mix", "FORMATS", "format_boxes",
           "parse_boxes"]

from lift3d.qa.scoring import score_row  # noqa: E402

__all__.append("score_row")
