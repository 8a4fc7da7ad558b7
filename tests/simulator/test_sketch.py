"""A latency sketch reads percentiles within its stated relative error, with exact moments."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from batchsim.simulator.sketch import ExactValues, LogSketch, merge_values

QS = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3000), sigma=st.floats(0.1, 4.0),
       weighted=st.booleans(), zeros=st.integers(0, 50))
def test_percentiles_within_relative_error_of_numpy(seed, n, sigma, weighted, zeros):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(-3.0, sigma, n), np.zeros(zeros)])
    counts = rng.integers(1, 5, values.size) if weighted else None
    sketch = LogSketch()
    sketch.add(values, counts)
    expanded = np.repeat(values, counts) if weighted else values
    mean, std, pct = sketch.mean_std_percentiles_ms(QS)
    for q, got in zip(QS, pct):
        exact = float(np.percentile(expanded * 1000.0, q))
        assert abs(got - exact) <= sketch.relative_error * exact + 1e-12
    assert mean == pytest.approx(expanded.mean() * 1000.0, rel=1e-9)
    assert std == pytest.approx(expanded.std() * 1000.0, rel=1e-6, abs=1e-9)
    assert sketch.count == expanded.size


def test_chunks_and_merges_give_the_same_sketch_as_one_add():
    values = np.random.default_rng(3).exponential(0.2, 10_000)
    whole, chunked, left, right = LogSketch(), LogSketch(), LogSketch(), LogSketch()
    whole.add(values)
    for part in np.array_split(values, 7):
        chunked.add(part)
    left.add(values[:4000])
    right.add(values[4000:])
    left.merge(right)
    for sketch in (chunked, left):
        assert (sketch.buckets == whole.buckets).all()
        mean, std, percentiles = sketch.mean_std_percentiles_ms(QS)
        whole_mean, whole_std, whole_percentiles = whole.mean_std_percentiles_ms(QS)
        assert (mean, std) == pytest.approx((whole_mean, whole_std))
        assert list(percentiles) == pytest.approx(list(whole_percentiles))


def test_negative_or_nan_values_are_refused():
    with pytest.raises(ValueError):
        LogSketch().add(np.array([0.1, -1.0]))
    with pytest.raises(ValueError):
        LogSketch().add(np.array([np.nan]))


def test_exact_parts_merge_exactly_and_a_sketch_part_makes_a_sketch():
    a = ExactValues(np.array([1.0, 2.0]), np.array([1, 3]))
    b = ExactValues(np.array([4.0]), np.array([2]))
    merged = merge_values([a, b])
    assert merged.exact and merged.count == 6
    assert merged.mean_std_percentiles_ms((50.0,))[2] == [2000.0]
    sketch = LogSketch()
    sketch.add(np.array([3.0]))
    mixed = merge_values([a, sketch])
    assert not mixed.exact and mixed.count == 5


def test_the_masked_and_the_plain_paths_fill_the_same_buckets():
    # values with zeros, zero counts and values beyond the bucket range take the masked path;
    # the positive in-range values with positive counts alone take the plain one: the buckets,
    # zeros, clamped and total counts must agree exactly, the moments to rounding
    rng = np.random.default_rng(11)
    plain_values = rng.lognormal(-3.0, 2.0, 5000)
    plain_counts = rng.integers(1, 9, 5000)
    extra_values = np.array([0.0, 0.0, 1e-12, 5e8, 0.3])
    extra_counts = np.array([2, 0, 3, 4, 0])
    mixed = LogSketch()
    mixed.add(np.concatenate([plain_values, extra_values]),
              np.concatenate([plain_counts, extra_counts]))
    apart = LogSketch()
    apart.add(plain_values, plain_counts)
    apart.add(extra_values, extra_counts)
    assert (mixed.buckets == apart.buckets).all()
    assert (mixed.zeros, mixed.clamped, mixed.total) == (apart.zeros, apart.clamped, apart.total)
    assert (mixed.zeros, mixed.clamped) == (2, 7)
    assert mixed.mean_std_percentiles_ms([50.0])[:2] == pytest.approx(
        apart.mean_std_percentiles_ms([50.0])[:2], rel=1e-12)
