"""The lifter's percentile and median (lift3d.lift.quantiles): numpy's results, bit for bit; the robust spread."""

from __future__ import annotations

import numpy as np
import pytest

from lift3d.lift.quantiles import mad_sd, median, percentile, percentile_columns


def _same(a, b) -> bool:
    return (type(a) is type(b) and np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
            and np.array_equal(a, b, equal_nan=True))


@pytest.mark.parametrize("q", [50, 0, 100, 0.0, 100.0, 37.3, np.float64(90.0), [5, 95], (2.5, 97.5), [10, 50, 90],
                               np.array([0.0, 33.3, 100.0])])
def test_percentile_equals_numpy_bit_for_bit(q):
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 257, 1000):
        for x in (rng.normal(size=n) * 3.0, np.round(rng.normal(size=n)), np.full(n, 1.5)):
            assert _same(percentile(x, q), np.percentile(x, q)), (n, q)


def test_percentile_nan_and_other_inputs_go_as_numpy_does():
    x = np.array([1.0, np.nan, 3.0, 2.0])
    assert np.isnan(percentile(x, 50)) and np.all(np.isnan(percentile(x, [5, 95])))
    others = [np.arange(10), np.arange(10, dtype=np.float32), np.ones((4, 3))]
    for a in others:  # integers, float32, 2-D: numpy itself
        assert _same(percentile(a, [5, 95]), np.percentile(a, [5, 95]))
    assert _same(percentile(np.arange(5.0), np.float32(40.0)), np.percentile(np.arange(5.0), np.float32(40.0)))
    with pytest.raises(ValueError):
        percentile(np.arange(5.0), 101)


def test_median_equals_numpy_bit_for_bit():
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 4, 17, 18, 256, 1001):
        for x in (rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3), np.round(rng.normal(size=n), 1), np.full(n, 0.1)):
            assert _same(median(x), np.median(x)), n
    x = np.array([1.0, np.nan, 3.0])
    assert np.isnan(median(x))
    for a in (np.arange(7), np.arange(6, dtype=np.float32), np.ones((4, 3)), [3.0, 1.0, 2.0]):
        assert _same(median(a), np.median(a))


def test_percentile_columns_equals_numpy_along_the_first_axis():
    rng = np.random.default_rng(12)
    for n in (1, 2, 5, 300):
        q = rng.normal(size=(n, 3))
        assert _same(percentile_columns(q, [2, 98]), np.percentile(q, [2, 98], axis=0))
        assert _same(percentile_columns(q, 50), np.percentile(q, 50, axis=0))
    q = rng.normal(size=(6, 3)).astype(np.float32)
    assert _same(percentile_columns(q, [2, 98]), np.percentile(q, [2, 98], axis=0))


def test_mad_sd_is_a_normal_sd_that_a_few_wild_values_do_not_set():
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 0.1, 20000)
    assert mad_sd(x) == pytest.approx(0.1, rel=0.03)
    # a bootstrap of 32 draws, three of them wild (a resample whose two lines are nearly parallel)
    b = np.concatenate([rng.normal(0.0, 0.05, 29), [2.5, -3.0, 4.0]])
    assert np.std(b) > 0.9
    assert 0.03 < mad_sd(b) < 0.08
    assert mad_sd([1.0, 1.0, 1.0]) == 0.0
