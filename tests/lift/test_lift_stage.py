"""The lift stage adapter (lift3d/lift/stage.py): the input's synonyms reach the size priors."""

from __future__ import annotations

from lift3d.lift.priors import lookup
from lift3d.lift.stage import LiftStage


def test_bind_input_gives_the_lifter_the_datasets_synonyms():
    st = LiftStage()
    st.bind_input({"format": "lvis", "category_synonyms": {"qqqzzz": ["sofa"]}})
    st.setup()
    assert st._priors("qqqzzz").category == lookup("sofa").category
    plain = LiftStage()
    plain.bind_input({"format": "coco"})
    plain.setup()
    assert plain._priors("qqqzzz") is None and plain._priors("sofa") == lookup("sofa")
