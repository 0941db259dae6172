"""Small text helpers: category names, plurals, numbers with units, referring expressions."""

from __future__ import annotations

_IRREGULAR = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
    "sheep": "sheep", "fish": "fish", "deer": "deer", "knife": "knives", "shelf": "shelves",
    "leaf": "leaves", "scissors": "scissors", "skis": "skis", "glasses": "glasses", "foot": "feet",
    "tooth": "teeth", "goose": "geese", "cactus": "cacti", "bus": "buses", "dress": "dresses",
}

# The referring descriptors for an instance of a repeated category.  The validator parses these exact
# forms back (lift3d.validate), so keep both in sync through these builders.
DESCRIPTORS = ("leftmost", "rightmost", "closest", "farthest")


def cat_text(category: str) -> str:
    return str(category).replace("_", " ").strip()


def plural(noun: str) -> str:
    words = noun.split(" ")
    last = words[-1]
    low = last.lower()
    if low in _IRREGULAR:
        p = _IRREGULAR[low]
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        p = last + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        p = last[:-1] + "ies"
    else:
        p = last + "s"
    return " ".join(words[:-1] + [p])


def referring_name(category: str, descriptor: str | None) -> str:
    c = cat_text(category)
    if descriptor is None:
        return f"the {c}"
    if descriptor == "leftmost":
        return f"the leftmost {c}"
    if descriptor == "rightmost":
        return f"the rightmost {c}"
    if descriptor == "closest":
        return f"the {c} closest to the camera"
    if descriptor == "farthest":
        return f"the {c} farthest from the camera"
    raise ValueError(descriptor)


def r2(v: float) -> float:
    """Round to the printed precision of lengths (1 cm); -0.0 becomes 0.0."""
    return round(v, 2) + 0.0


def fmt2(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def fmt_length(v: float, cm_below: float) -> tuple[str, str]:
    """(answer text, answer_value) for a length in metres rounded to 1 cm."""
    v = r2(v)
    if v < cm_below:
        return f"{int(round(v * 100))} cm", fmt2(v)
    return f"{fmt2(v)} m", fmt2(v)


def cap_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def join_names(names: list[str], conj: str = "and") -> str:
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]} {conj} {names[1]}"
    return ", ".join(names[:-1]) + f", {conj} {names[-1]}"
