"""Choosing the object's connected components (lift3d.lift.components)."""

from __future__ import annotations

import numpy as np

from lift3d.lift import LiftConfig


def test_box_only_components_inside_another_annotations_box_are_that_object():
    from lift3d.lift.components import other_objects

    cfg = LiftConfig()
    # crop of our box [100, 50, 200, 150) at stride 2: component 1 spans the crop (ours), component 2 sits
    # inside the 2D box of another annotation that covers a part of ours (an object in front)
    lab = np.zeros((50, 50), dtype=np.int64)
    lab[5:45, 0:50] = 1
    lab[20:30, 10:20] = 2
    bbox = [99.5, 49.5, 199.5, 149.5]
    other = [115.0, 80.0, 145.0, 115.0]
    theirs = other_objects(lab, 2, [other], 50, 100, 2, bbox, cfg)
    assert theirs.tolist() == [False, True]
    # an annotation whose box covers (most of) ours says nothing: everything of ours lies inside it too
    assert other_objects(lab, 2, [[90.0, 40.0, 210.0, 160.0]], 50, 100, 2, bbox, cfg) is None
    assert other_objects(lab, 2, [[400.0, 300.0, 420.0, 320.0]], 50, 100, 2, bbox, cfg) is None
