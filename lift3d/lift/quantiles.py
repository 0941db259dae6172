"""Percentiles and medians of small point sets, exactly as ``np.percentile`` (linear method) and ``np.median`` give
them, at a fraction of their per-call overhead (pure numpy).  The lifter takes about 60 percentiles per image, of a
few hundred to a few thousand values each; numpy's general implementation spends more time on its bookkeeping than on
the selection.

The arithmetic is numpy's own (numpy 2.x, ``method="linear"``), done on Python floats, which are the same IEEE
doubles: the virtual index ``(n - 1) q``, its floor and the next index (both the last value at or beyond it), the
order statistics there, and numpy's ``_lerp`` (``a + (b - a) t``, or ``b - (b - a)(1 - t)`` for ``t >= 0.5``); a NaN
anywhere gives NaN.  The order statistics come from one sort: ``np.partition`` at several of them (numpy's own way)
costs 2-4x a sort of the whole set at these sizes (200-16,000 values; at two of them it is faster only from about a
thousand values).  Anything but a non-empty 1-D float64 array and percentiles in [0, 100] goes to ``np.percentile``
itself.  :func:`mad_sd` is the robust spread built on them (a bootstrap's, whose few degenerate draws would set a
variance).
"""

from __future__ import annotations

import math

import numpy as np


def percentile(a, q):
    """``np.percentile(a, q)``: a float64 scalar for a number ``q``, an array for a sequence of them."""
    arr = np.asarray(a)
    one = np.ndim(q) == 0
    qs = [q] if one else list(q)
    if arr.ndim != 1 or arr.dtype != np.float64 or arr.size == 0 or np.ndim(q) > 1 \
            or not all(isinstance(v, (int, float, np.integer)) and 0 <= v <= 100 for v in qs):
        return np.percentile(a, q)
    n = arr.size
    spots = []
    for v in qs:
        vi = (n - 1) * (float(v) / 100)
        lo = -1 if vi >= n - 1 else math.floor(vi)
        spots.append((vi, lo, -1 if vi >= n - 1 else lo + 1))
    part = np.sort(arr)  # the order statistics at lo, hi and the last (a NaN sorts last)
    if math.isnan(part[-1]):
        out = [math.nan] * len(qs)
    else:
        out = []
        for vi, lo, hi in spots:
            a_, b_ = float(part[lo]), float(part[hi])
            t, d = vi - lo, b_ - a_
            out.append(b_ - d * (1 - t) if t >= 0.5 else a_ + d * t)
    return np.float64(out[0]) if one else np.array(out)


def median(a) -> np.float64:
    """``np.median(a)`` of a non-empty 1-D float64 array (the middle value, or the mean ``(a + b) / 2`` of the two
    middle ones, as numpy's; NaN when there is one), by one sort; anything else goes to ``np.median`` itself."""
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.dtype != np.float64 or arr.size == 0:
        return np.median(a)
    s = np.sort(arr)
    n = s.size
    if math.isnan(s[-1]):
        return np.float64(math.nan)
    return s[n // 2] if n % 2 else np.float64((float(s[n // 2 - 1]) + float(s[n // 2])) / 2)


MAD_TO_SD = 1.4826  # a normal distribution's sd over its median absolute deviation


def mad_sd(a) -> float:
    """The spread of the values ``a`` as a normal sd from their median absolute deviation: unlike ``np.std``, a few
    wild values (a bootstrap resample left with two nearly parallel lines, whose crossing lies anywhere) do not
    set it."""
    arr = np.asarray(a, dtype=np.float64).ravel()
    return float(MAD_TO_SD * median(np.abs(arr - median(arr))))


def percentile_columns(a: np.ndarray, q) -> np.ndarray:
    """``np.percentile(a, q, axis=0)`` of a 2-D array: :func:`percentile` of each column."""
    arr = np.asarray(a)
    if arr.ndim != 2 or arr.dtype != np.float64 or arr.shape[0] == 0:
        return np.percentile(a, q, axis=0)
    cols = [percentile(arr[:, j], q) for j in range(arr.shape[1])]
    return np.stack(cols, axis=-1)
