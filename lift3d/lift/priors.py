"""Category size priors: typical (w, h, l) in metres, shipped as ``lift3d/priors/size_priors.csv``.

``h`` is the vertical extent, ``l >= w`` the horizontal ones; ``rel_std`` the relative spread of the
horizontal extents and the optional ``h_std`` that of the height (default ``max(0.25, rel_std)``): heights
of standardised furniture (tables, desks, counters, seats) vary little and pin a per-image depth scale.
Category names are normalised (lower-case, ``_``/``-`` -> space, a trailing plural ``s`` tried) and
aliases in the table map to the same row.  The LVIS, Objects365 and OpenImages vocabularies
(``priors/vocab_*.txt``) give every one of their names a parent row (often a coarse class such as ``fruit``,
``tool`` or ``large animal``), used with a wider spread when the name itself is not a row (:func:`resolve`
says which route a name took; :func:`coverage` counts a vocabulary).  Other unknown categories have no prior
(:func:`lookup` returns ``None``); the lifter then uses a square-footprint fallback built from the visible
extents.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class SizePrior:
    category: str
    w: float
    h: float
    l: float  # noqa: E741 - the box convention's name
    rel_std: float
    h_rel_std: float = 0.25  # relative spread of the vertical extent (used for the depth-scale estimate)
    modes: tuple = ()  # names of the sub-type rows of a bimodal category (see :func:`resolve_mode`)

    @property
    def horizontal(self) -> tuple[float, float]:
        """(short, long) horizontal extents."""
        return (min(self.w, self.l), max(self.w, self.l))


def normalise_name(name: str) -> str:
    return " ".join(str(name).strip().lower().replace("_", " ").replace("-", " ").split())


@lru_cache(maxsize=1)
def load_table() -> dict[str, SizePrior]:
    text = resources.files("lift3d").joinpath("priors/size_priors.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    table: dict[str, SizePrior] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        names = [normalise_name(n) for n in row["category"].split("|") if n.strip()]
        w, h, l_ = float(row["w"]), float(row["h"]), float(row["l"])
        if min(w, h, l_) <= 0:
            raise ValueError(f"size prior for {names[0]!r} has a non-positive dimension")
        rel = float(row.get("rel_std") or 0.3)
        h_rel = float(row.get("h_std") or max(0.25, rel))
        modes = tuple(normalise_name(m) for m in (row.get("modes") or "").split(";") if m.strip())
        prior = SizePrior(names[0], min(w, l_), h, max(w, l_), rel, h_rel, modes)
        for n in names:
            table.setdefault(n, prior)
    return table


def _direct(n: str, table) -> SizePrior | None:
    """A row by the name, an alias or a plural of it (each '/'-separated part too: 'Cabinet/shelf')."""
    for part in ([n] + [normalise_name(p) for p in n.split("/")] if "/" in n else [n]):
        if part in table:
            return table[part]
        for cand in (part[:-1] if part.endswith("s") else None, part[:-2] if part.endswith("es") else None):
            if cand and cand in table:
                return table[cand]
    return None


def _head_noun(n: str, table) -> SizePrior | None:
    """The row of the name's last word ('folding chair' -> chair), qualifiers in parentheses removed."""
    base = n.split("(")[0].strip() if "(" in n else n
    if base != n:
        p = _direct(base, table)
        if p is not None:
            return p
    if " " in base:
        return _direct(base.split(" ")[-1], table)
    return None


@lru_cache(maxsize=4096)
def lookup(category: str | None) -> SizePrior | None:
    """The category's prior: a table row (name, alias, plural), else the vocabulary's parent class with a wider
    spread (:func:`fallback_prior`), else the row of its head noun; None when nothing fits."""
    return resolve(category)[0]


def synonym_lookup(synonyms: dict | None):
    """:func:`lookup` that also tries a dataset's synonyms of each category (``{name: [synonym, ...]}``, LVIS)."""
    if not synonyms:
        return lookup
    syn = {normalise_name(k): tuple(v or ()) for k, v in synonyms.items()}

    @lru_cache(maxsize=4096)
    def find(category: str | None) -> SizePrior | None:
        return resolve(category, syn.get(normalise_name(category or ""), ()))[0]

    return find


def prior_array(category: str | None) -> np.ndarray | None:
    p = lookup(category)
    return None if p is None else np.array([p.w, p.h, p.l])


def mode_rows(prior: SizePrior | None) -> tuple:
    """The rows of a bimodal category's sub-types (``modes`` column; empty for any other prior)."""
    if prior is None or not prior.modes:
        return ()
    table = load_table()
    return tuple(m for m in (table.get(name) for name in prior.modes) if m is not None)


def resolve_mode(prior: SizePrior | None, height: float, height_to_floor: float | None = None,
                 on_floor: bool = False) -> SizePrior | None:
    """The sub-type of a bimodal category (``modes`` column) that fits an observed object.

    ``height`` is the seen vertical extent, ``height_to_floor`` that of its top above the floor (an object
    standing on the floor whose thin base/pole did not survive the cleaning).  The mode whose height is
    nearest in log to either is chosen.  The modes differ by a factor ~3 (floor vs table lamp), beyond a sensor's
    scale error but not a monocular model's (x1.5-x3 now and then): model depth's scale cue reads such an object
    against every mode (:func:`lift3d.lift.scale.height_cues`) and the lifter picks the mode again at the image's
    estimated scale (:func:`lift3d.lift.contact.mode_at_scale`).  Other priors pass through.
    """
    if prior is None or not prior.modes or not (height > 0):
        return prior
    best, best_c = prior, np.inf
    for m in mode_rows(prior):
        c = abs(np.log(height / m.h))
        if height_to_floor is not None and height_to_floor > height:
            c_floor = abs(np.log(height_to_floor / m.h))
            c = c_floor if on_floor else min(c, c_floor)
        if c < best_c:
            best, best_c = m, c
    return best


def resolve(category: str | None, synonyms=()) -> tuple[SizePrior | None, str]:
    """The prior of a category and how it was found: ``direct`` | ``synonym`` | ``fallback`` | ``head_noun`` | ``none``.

    ``direct``: the name (or an alias/plural of it) is a row of the table; ``synonym``: one of the dataset's
    synonyms for it is (LVIS ``synonyms``), unless the vocabulary's parent of the name is another row (the synonym
    read as a bare word is then ambiguous: ``bat`` of ``bat_(animal)``); ``fallback``: the vocabulary's parent class
    (``lift3d/priors/vocab_*.txt``: LVIS, Objects365, OpenImages names -> a row, often a coarse class) with a
    wider spread (see :func:`fallback_prior`); ``head_noun``: the row of the name's last word.
    """
    if not category:
        return None, "none"
    table = load_table()
    n = normalise_name(category)
    p = _direct(n, table)
    if p is not None:
        return p, "direct"
    fb = fallback_prior(n)
    for syn in synonyms or ():
        p = _direct(normalise_name(syn), table)
        # a synonym is a bare word ('bat' of bat_(animal), 'cap' of bottle_cap): where the vocabulary's curated
        # parent names another row, the parent is the disambiguated reading and wins (with its wider spread)
        if p is not None and (fb is None or _direct(load_parents().get(n, ""), table) in (None, p)):
            return p, "synonym"
    if fb is not None:
        return fb, "fallback"
    p = _head_noun(n, table)
    if p is not None:
        return p, "head_noun"
    return None, "none"


def coverage(names, synonyms: dict | None = None) -> dict:
    """How a vocabulary's categories resolve to a prior: counts per route and the names without one."""
    out = {"categories": 0, "direct": 0, "synonym": 0, "fallback": 0, "head_noun": 0, "none": 0, "missing": []}
    for n in names:
        _, how = resolve(n, (synonyms or {}).get(n, ()))
        out["categories"] += 1
        out[how] += 1
        if how == "none":
            out["missing"].append(n)
    out["missing"] = out["missing"][:50]
    return out


VOCABULARIES = ("lvis", "objects365", "openimages")
# routes to a parent that are not a dataset's released names (Objects365 v1 names, corrected spellings)
VARIANTS = "variants"


@lru_cache(maxsize=None)
def vocabulary(name: str) -> dict[str, str]:
    """A dataset's category names -> parent row (``lift3d/priors/vocab_{name}.txt``, ``name>parent`` lines)."""
    text = resources.files("lift3d").joinpath(f"priors/vocab_{name}.txt").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for ln in text.splitlines():
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        cat, _, parent = ln.partition(">")
        out[cat.strip()] = parent.strip()
    return out


@lru_cache(maxsize=1)
def load_parents() -> dict[str, str]:
    """normalised category -> parent row of the fallback hierarchy (all vocabularies, then the variants; the first
    one wins)."""
    out: dict[str, str] = {}
    for v in (*VOCABULARIES, VARIANTS):
        for cat, parent in vocabulary(v).items():
            if parent:
                out.setdefault(normalise_name(cat), normalise_name(parent))
    return out


MAX_PARENT_LEVELS = 4  # the parent chain of the fallback hierarchy is followed this far


def _parent_row(n: str) -> SizePrior | None:
    """The first table row on the parent chain of the normalised name ``n`` (its own row excluded), or None."""
    parents, table = load_parents(), load_table()
    for _ in range(MAX_PARENT_LEVELS):
        n = parents.get(n)
        if n is None:
            return None
        p = _direct(n, table)
        if p is not None:
            return p
    return None


@lru_cache(maxsize=4096)
def row_name(category: str | None) -> str | None:
    """The name (first alias) of the table row a category's prior comes from: its own row ('armchair' -> chair), or
    its vocabulary parent's (``folding_chair`` -> chair, as :func:`fallback_prior`); None when neither has one."""
    if not category:
        return None
    n = normalise_name(category)
    p = _direct(n, load_table()) or _parent_row(n)
    return None if p is None else p.category


FALLBACK_SPREAD = 2.0  # a fallback prior's relative spreads are at least the parent's times this


@lru_cache(maxsize=4096)
def fallback_prior(category: str | None) -> SizePrior | None:
    """The parent class's prior with a wider spread (the parent chain is followed up to ``MAX_PARENT_LEVELS``)."""
    if not category:
        return None
    n = normalise_name(category)
    p = _parent_row(n)
    if p is None:
        return None
    return SizePrior(n, p.w, p.h, p.l, min(1.0, max(0.5, p.rel_std * FALLBACK_SPREAD)),
                     min(1.0, max(0.5, p.h_rel_std * FALLBACK_SPREAD)))
