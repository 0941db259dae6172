"""Every LVIS / Objects365 / OpenImages category resolves to a size prior (issue 23, item 4)."""

from __future__ import annotations

import pytest

from lift3d.lift.priors import VARIANTS, VOCABULARIES, coverage, lookup, resolve, row_name, synonym_lookup, vocabulary

SIZES = {"lvis": 1203, "objects365": 365, "openimages": 601}


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


def test_released_misspellings_and_objects365_v1_names_resolve():
    # the released Objects365 v2 file spells these so; the corrected forms and v1's names are variants
    for released, corrected in [("Moniter/TV", "Monitor/TV"), ("Bakset", "Basket"), ("Dinning Table", "Dining Table"),
                                ("Hotair ballon", "Hot-air balloon"), ("Tape Measur/ Ruler", "Tape Measure/Ruler")]:
        assert released in vocabulary("objects365")
        a, b = resolve(released)[0], resolve(corrected)[0]
        assert a is not None and b is not None and (a.w, a.h, a.l) == (b.w, b.h, b.l), (released, corrected)
    for v1 in ("tangerine", "shampoo/shower gel", "tortoise/turtle", "table tennis paddle", "iron"):
        assert resolve(v1)[0] is not None, v1
    for cat, parent in vocabulary(VARIANTS).items():
        assert lookup(parent) is not None, (cat, parent)


def test_a_synonym_that_contradicts_the_curated_parent_is_not_taken():
    # LVIS bat_(animal) has the synonym 'bat' and bottle_cap 'cap': read as bare words they name a baseball bat
    # and a hat; the vocabulary's parents (small animal, small object) are the disambiguated reading
    assert resolve("bat_(animal)", ["bat"])[1] == "fallback"
    assert resolve("bottle_cap", ["cap"])[1] == "fallback"
    # where the synonym names the parent's own row, it gives that row with its own (tighter) spread
    car, how = resolve("car_(automobile)", ["car", "auto_(automobile)", "automobile"])
    assert how == "synonym" and car.category == lookup("car").category
    assert car.rel_std < resolve("car_(automobile)")[0].rel_std
    # a name in no vocabulary takes its synonym's row
    assert resolve("qqqzzz", ["sofa"])[1] == "synonym"


def test_synonym_lookup():
    find = synonym_lookup({"Car_(Automobile)": ["car"], "qqqzzz": ["sofa"]})
    assert find("car_(automobile)").category == lookup("car").category
    assert find("qqqzzz").category == lookup("sofa").category
    assert find("chair") is lookup("chair") or find("chair") == lookup("chair")
    assert synonym_lookup({}) is lookup and synonym_lookup(None) is lookup


def test_children_are_not_adults():
    """OpenImages' Boy / Girl and a child are a row of their own: shorter than an adult's 1.70 m and with a
    spread wide enough for toddlers to teenagers, so a child does not scale a photo down as an adult would."""
    adult, child = lookup("person"), lookup("Boy")
    assert lookup("Girl") is child and lookup("child") is child and lookup("man") is adult
    assert child.h < 0.85 * adult.h and child.h_rel_std >= 2 * adult.h_rel_std


def test_row_name_follows_aliases_and_parents():
    assert row_name("armchair") == row_name("folding_chair") == row_name("Chair") == "chair"
    assert row_name("Boy") == "child" and row_name("Human body") == "person" and row_name("sofa_bed") == "couch"
    assert row_name("qqqzzz") is None and row_name("") is None
