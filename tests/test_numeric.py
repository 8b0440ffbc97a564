"""``tokbt.numeric``: compiled sums that are numpy's, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.numeric import column_sums, total

value = st.one_of(
    st.floats(-1e15, 1e15, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(value, min_size=0, max_size=700), st.integers(0, 50))
def test_total_is_numpys_sum(values: list[float], lo: int) -> None:
    a = np.array(values, dtype=np.float64)
    lo = min(lo, len(a))
    want = a[lo:].sum()
    got = total(a, lo, len(a) - lo)
    assert got == want
    assert np.signbit(got) == np.signbit(want)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(1, 5), st.integers(0, 2**32 - 1), st.booleans())
def test_column_sums_are_numpys(rows: int, cols: int, seed: int, zeros: bool) -> None:
    rng = np.random.default_rng(seed)
    v = rng.lognormal(0, 4, (rows, cols)) * rng.choice([-1.0, 1.0], (rows, cols))
    v = -0.0 * np.abs(v) if zeros else v
    want, got = v.sum(axis=0), column_sums(v)
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_a_run_of_negative_zeros_sums_to_positive_zero() -> None:
    assert not np.signbit(total(np.full(20, -0.0), 0, 20))
    assert not np.signbit(column_sums(np.full((3, 2), -0.0))).any()
