"""The core's one writer of positions keeps the count of holders and the held range exact."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.core import layout, rules

N_PATHS, N_CONTRACTS = 3, 6

writes = st.lists(
    st.tuples(
        st.integers(0, N_PATHS - 1),
        st.integers(0, N_CONTRACTS - 1),
        st.sampled_from([0.0, 0.0, 1.0, -2.0, 0.5]),
    ),
    max_size=60,
)


@given(writes)
@settings(max_examples=200, deadline=None)
def test_holders_and_held_range_follow_every_write(steps: list[tuple[int, int, float]]) -> None:
    book = layout.new_book(N_PATHS, N_CONTRACTS, 0.0, 0.0)
    for p, c, qty in steps:
        rules.set_position(book, np.int64(p), np.int64(c), qty)
        held = book.positions != 0.0
        np.testing.assert_array_equal(book.holders, held.sum(axis=0))
        lo, hi = int(book.held[0]), int(book.held[1])
        columns = np.flatnonzero(held.any(axis=0))
        if len(columns) == 0:
            assert lo == hi
        else:  # the tightest range holding every position
            assert (lo, hi) == (columns[0], columns[-1] + 1)


def test_initial_margin_sums_only_the_held_range_and_the_order() -> None:
    """An order's contract outside the held range still counts (limited funding's check)."""
    book = layout.new_book(1, N_CONTRACTS, 0.0, 0.0)
    rules.set_position(book, np.int64(0), np.int64(2), 2.0)
    book.marks[0, 2] = 10.0
    cf = np.zeros(layout.N_CF)
    cf[layout.F_MULT], cf[layout.F_IM_RATE], cf[layout.F_MM_RATIO] = 100.0, 0.1, 1.25
    ci = np.zeros(layout.N_CI, dtype=np.int64)
    k = np.zeros(N_CONTRACTS, dtype=np.int64)
    terms = layout.Terms(k, k, k, k, np.full((N_CONTRACTS, 1), -1, np.int64), cf, ci)
    initial, maintenance = np.zeros(1), np.zeros(1)
    rules.requirement_of(cf, ci, book.span_var, book.positions, book.marks, initial, maintenance)
    assert initial[0] == 0.1 * 2 * 100 * 10.0
    # 3 more contracts of contract 5 (never held, no mark: priced at 4.0)
    assert rules._initial(book, terms, np.int64(0), np.int64(5), 3.0, 4.0) == (
        0.1 * (2 * 100 * 10.0 + 3 * 100 * 4.0)
    )
