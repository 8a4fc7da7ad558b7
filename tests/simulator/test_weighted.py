"""Statistics of (value, count) pairs equal numpy's on the expanded list."""
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from batchsim.simulator import weighted
from batchsim.simulator.weighted import weighted_mean_std, weighted_percentiles

QS = (0.0, 1.0, 50.0, 90.0, 99.0, 100.0)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), size=st.integers(1, 40), max_count=st.sampled_from([1, 3, 300, 70000]),
       low=st.sampled_from([-5.0, 0.0]))
def test_weighted_statistics_equal_those_of_the_expanded_list(data, size, max_count, low):
    # few distinct values make ties; counts above 2**16 take the wide-key path; a negative
    # low end takes the argsort path
    pool = data.draw(st.lists(st.floats(low, 50.0, allow_nan=False), min_size=1, max_size=8))
    values = np.array(data.draw(st.lists(st.sampled_from(pool), min_size=size, max_size=size)))
    counts = np.array(data.draw(st.lists(st.integers(0, max_count), min_size=size,
                                         max_size=size)), dtype=np.int64)
    counts[0] = max(counts[0], 1)
    expanded = np.repeat(values, counts)
    want = pytest.approx([float(np.percentile(expanded, q)) for q in QS], rel=1e-12, abs=1e-12)
    assert weighted_percentiles(values, counts, QS) == want
    if low == 0.0:  # the path taken for millions of gaps with few distinct counts
        assert weighted._percentiles(weighted._sorted_by_count(values, counts), QS) == want
    mean, std = weighted_mean_std(values, counts)
    assert mean == pytest.approx(float(expanded.mean()), rel=1e-9, abs=1e-9)
    assert std == pytest.approx(float(expanded.std()), rel=1e-9, abs=1e-9)


def test_negative_zero_sorts_with_zero():
    values, counts = np.array([-0.0, 0.0, 1.0]), np.array([1, 1, 2])
    groups = weighted._sorted_by_count(values, counts)
    assert weighted._percentiles(groups, (0.0, 50.0, 100.0)) == [0.0, 0.5, 1.0]
