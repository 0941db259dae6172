"""Every LVIS / Objects365 / OpenImages category resolves to a size prior (issue 23, item 4)."""

from __future__ import annotations

import pytest

from lift3d.lift.priors import VOCABULARIES, coverage, lookup, resolve, vocabulary

SIZES = {"lvis": 1203, "objects365": 365, "openimages": 600}


@pytest.mark.parametrize("name", VOCABULARIES)
def test_vocabulary_fully_covered(name):
    vocab = vocabulary(name)
    assert len(vocab) == SIZES[name]
    cov = coverage(vocab)
    assert cov["none"] == 0 and cov["categories"] == SIZES[name], cov["missing"]
    for cat, parent in vocab.items():  # every parent named in the file is a row
        assert not parent or lookup(parent) is not None, (cat, parent)
        assert resolve(cat)[0] is not None


def test_fallback_is_wider_and_disambiguates():
    bat, how = resolve("bat_(animal)")
    assert how == "fallback" and bat.l < 0.5  # a small animal, not a baseball bat
    chair = lookup("chair")
    folding, how = resolve("folding_chair")
    assert how == "fallback" and (folding.w, folding.h, folding.l) == (chair.w, chair.h, chair.l)
    assert folding.rel_std >= 2 * chair.rel_std
    assert resolve("Cabinet/shelf")[1] == "direct"


def test_synonyms_route():
    p, how = resolve("totally_new_name", synonyms=["sofa"])
    assert how == "synonym" and p.category == lookup("sofa").category
    assert resolve("qqq")[1] == "none"
