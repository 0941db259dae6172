"""Category size priors: typical (w, h, l) in metres, shipped as ``lift3d/priors/size_priors.csv``.

``h`` is the vertical extent, ``l >= w`` the horizontal ones; ``rel_std`` the relative spread of the
horizontal extents and the optional ``h_std`` that of the height (default ``max(0.25, rel_std)``): heights
of standardised furniture (tables, desks, counters, seats) vary little and pin a per-image depth scale.
Category names are normalised (lower-case, ``_``/``-`` -> space, a trailing plural ``s`` tried) and
aliases in the table map to the same row.  Unknown categories have no prior (:func:`lookup` returns
``None``); the lifter then uses a square-footprint fallback built from the visible extents.
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


@lru_cache(maxsize=4096)
def lookup(category: str | None) -> SizePrior | None:
    if not category:
        return None
    table = load_table()
    n = normalise_name(category)
    if n in table:
        return table[n]
    for cand in (n[:-1] if n.endswith("s") else None, n[:-2] if n.endswith("es") else None,
                 n.split(" ")[-1] if " " in n else None):
        if cand and cand in table:
            return table[cand]
    return None


def prior_array(category: str | None) -> np.ndarray | None:
    p = lookup(category)
    return None if p is None else np.array([p.w, p.h, p.l])


def resolve_mode(prior: SizePrior | None, height: float, height_to_floor: float | None = None,
                 on_floor: bool = False) -> SizePrior | None:
    """The sub-type of a bimodal category (``modes`` column) that fits an observed object.

    ``height`` is the seen vertical extent, ``height_to_floor`` that of its top above the floor (an object
    standing on the floor whose thin base/pole did not survive the cleaning).  The mode whose height is
    nearest in log to either is chosen; the modes differ by a factor ~3 (floor vs table lamp), far beyond
    a depth-scale error, so the choice does not bias the per-image depth scale.  Other priors pass through.
    """
    if prior is None or not prior.modes or not (height > 0):
        return prior
    table = load_table()
    best, best_c = prior, np.inf
    for name in prior.modes:
        m = table.get(name)
        if m is None:
            continue
        c = abs(np.log(height / m.h))
        if height_to_floor is not None and height_to_floor > height:
            c_floor = abs(np.log(height_to_floor / m.h))
            c = c_floor if on_floor else min(c, c_floor)
        if c < best_c:
            best, best_c = m, c
    return best


def resolve(category: str | None, synonyms=()) -> tuple[SizePrior | None, str]:
    """The prior of a category and how it was found: ``direct`` | ``synonym`` | ``fallback`` | ``none``.

    ``direct``: the name (or an alias/plural of it) is a row of the table; ``synonym``: one of the dataset's
    synonyms for it is (LVIS ``synonyms``); ``fallback``: the vocabulary's parent class
    (``lift3d/priors/vocab_parents.csv``) resolves, with a wider spread (see :func:`fallback_prior`).
    """
    p = lookup(category)
    if p is not None:
        return p, "direct"
    for s in synonyms or ():
        p = lookup(s)
        if p is not None:
            return p, "synonym"
    p = fallback_prior(category)
    if p is not None:
        return p, "fallback"
    return None, "none"


def coverage(names, synonyms: dict | None = None) -> dict:
    """How a vocabulary's categories resolve to a prior: counts per route and the names without one."""
    out = {"categories": 0, "direct": 0, "synonym": 0, "fallback": 0, "none": 0, "missing": []}
    for n in names:
        _, how = resolve(n, (synonyms or {}).get(n, ()))
        out["categories"] += 1
        out[how] += 1
        if how == "none":
            out["missing"].append(n)
    out["missing"] = out["missing"][:50]
    return out


@lru_cache(maxsize=1)
def load_parents() -> dict[str, str]:
    """category -> parent class of the fallback hierarchy (``priors/vocab_parents.csv``); empty when absent."""
    try:
        text = resources.files("lift3d").joinpath("priors/vocab_parents.csv").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    out: dict[str, str] = {}
    for ln in text.splitlines():
        if not ln.strip() or ln.lstrip().startswith("#") or ln.startswith("category,"):
            continue
        name, _, parent = ln.rpartition(",")
        if name:
            out[normalise_name(name)] = normalise_name(parent)
    return out


FALLBACK_SPREAD = 2.0  # a fallback prior's relative spreads are at least the parent's times this


@lru_cache(maxsize=4096)
def fallback_prior(category: str | None) -> SizePrior | None:
    """The parent class's prior with a wider spread (the parent chain is followed up to 4 levels)."""
    if not category:
        return None
    parents = load_parents()
    n = normalise_name(category)
    for _ in range(4):
        n = parents.get(n)
        if n is None:
            return None
        p = lookup(n)
        if p is not None:
            return SizePrior(normalise_name(category), p.w, p.h, p.l, min(1.0, max(0.5, p.rel_std * FALLBACK_SPREAD)),
                             min(1.0, max(0.5, p.h_rel_std * FALLBACK_SPREAD)))
    return None
