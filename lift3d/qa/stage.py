"""The QA stage: adapts a record's lifted objects to ``generate_qa`` with a per-image seed."""

from __future__ import annotations

import numpy as np

from lift3d.pipeline.stage import Resources, Stage


def qa_seed(seed: int, image_id: int) -> int:
    """Per-image seed: the same image gets the same questions whatever the sharding or executor."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(image_id) & 0xFFFFFFFFFFFF]).generate_state(1)[0])


class QAStage(Stage):
    name = "qa"
    resources = Resources(num_cpus=1, batch_size=32)

    def __init__(self, config=None, seed: int = 0):
        self.config = config
        self.seed = seed

    def setup(self) -> None:
        from lift3d.qa import QAConfig

        if self.config is None:
            self.config = QAConfig()

    def process_record(self, record: dict) -> dict:
        from lift3d.qa import generate_qa

        image = {k: record.get(k) for k in ("image_id", "width", "height", "K", "gravity", "file_name",
                                           "depth_scale_log_sigma", "lateral_scale_log_sigma", "edge_ramp_px",
                                           "depth_source")}
        from lift3d.qa.exhaustive import incomplete_categories

        # Categories with an unlifted instance or not exhaustively annotated in the source (LVIS):
        # "the chair", "the leftmost chair", a count or "locate all chairs" would not be true to the image.
        record["rejected_categories"] = incomplete_categories(record)
        image["rejected_categories"] = record["rejected_categories"]
        rows, stats = generate_qa(image, record.get("objects") or [], self.config, qa_seed(self.seed, record["image_id"]))
        if record.get("referring"):  # human referring expressions (RefCOCO family): lift3d/qa/referring.py
            from lift3d.qa.referring import QUESTION_TYPE, expression_rows

            more, skipped = expression_rows(image, record.get("objects") or [], record["referring"], self.config,
                                            qa_seed(self.seed, record["image_id"]), start=len(rows))
            rows += more
            stats.setdefault("generated", {})[QUESTION_TYPE] = len(more)
            for k, v in skipped.items():
                if v:
                    stats.setdefault("skipped", {})[k] = stats.get("skipped", {}).get(k, 0) + v
        # each object's distance and size uncertainty as the guards model it: columns of the objects rows
        from lift3d.qa.scene import annotate_uncertainty

        annotate_uncertainty(image, record.get("objects") or [], self.config)
        record["qa"] = rows
        record["qa_stats"] = stats
        return record
