"""``tokbt.hedge.front``: the rolled, back-adjusted front-month series, by hand.

The hand-built market: exchange days (rows) 0-5, two paths, three contracts —
``A`` (id 0, a month, last trading day row 3), ``B`` (id 1, a month, row 20) and
``Q`` (id 2, a quarter, row 2). Slots shift as contracts expire, as
``SimPlan.listed`` does::

    row      0      1      2      3      4      5
    slots  Q A B  Q A B  Q A B  A B -  B - -  B - -
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.hedge import OLSRatio, SpendRatio
from tokbt.hedge.estimators import last_observations, ols_ratio
from tokbt.hedge.front import (
    back_adjusted,
    front_contracts,
    roll_rows,
    rolled_changes,
    rolled_paired_changes,
)

NAN = np.nan
A, B, Q = 0, 1, 2
EXPIRY = np.array([3, 20, 2])
MONTHS = np.array([True, True, False])
LISTED = np.array(
    [[Q, A, B], [Q, A, B], [Q, A, B], [A, B, -1], [B, -1, -1], [B, -1, -1]], dtype=np.int64
)
PRICES = {  # contract → (path 0, path 1) settlements on rows 0, 1, ...
    A: ([10.0, 11.0, 13.0, 12.0], [5.0, 5.5, 6.0, 6.5]),
    B: ([20.0, 20.5, 21.0, 23.0, 22.0, 24.0], [8.0, 8.0, 9.0, 10.0, 9.5, NAN]),
    Q: ([30.0, 31.0, 32.0], [40.0, 41.0, 42.0]),
}


def _settle() -> np.ndarray:
    """``(6, 2, 3)`` settlements aligned with ``LISTED``."""
    out = np.full((*LISTED.shape[:1], 2, LISTED.shape[1]), NAN)
    for t, row in enumerate(LISTED):
        for slot, c in enumerate(row):
            if c >= 0:
                out[t, :, slot] = [PRICES[c][p][t] for p in range(2)]
    return out


def test_the_front_rolls_roll_days_before_the_last_trading_day() -> None:
    """``roll_days`` 1: A is front while at least 1 exchange day from its last trading day
    (rows 0-2), then B; 0: A through its last trading day (row 3). The quarter is front
    only where it is allowed to be."""
    assert front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS).tolist() == [A, A, A, B, B, B]
    assert front_contracts(LISTED, EXPIRY, 0, eligible=MONTHS).tolist() == [A, A, A, A, B, B]
    assert front_contracts(LISTED, EXPIRY, 1).tolist() == [Q, Q, A, B, B, B]
    assert front_contracts(LISTED, EXPIRY, 30, eligible=MONTHS).tolist() == [-1] * 6
    assert roll_rows(np.array([A, A, A, B, B, B])).tolist() == [0, 0, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="roll_days"):
        front_contracts(LISTED, EXPIRY, -1)


def test_rolled_changes_by_hand_never_span_the_roll() -> None:
    """Row 3 (the roll to B) is B's own change, 23 − 21, not the nearby jump 23 − 13."""
    front = front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS)
    got = rolled_changes(_settle(), LISTED, front)
    expected = np.array(
        [
            [NAN, NAN],
            [1.0, 0.5],  # A
            [2.0, 0.5],  # A
            [2.0, 1.0],  # B: 23 - 21, 10 - 9 (the roll day)
            [-1.0, -0.5],  # B
            [2.0, NAN],  # B (path 1 has no settlement on row 5)
        ]
    )
    np.testing.assert_array_equal(got, expected)
    # the unadjusted nearby series would jump by the A-to-B spread on the roll day
    nearby = np.array([PRICES[c][0][t] for t, c in enumerate(front)])
    assert np.diff(nearby)[2] == 10.0
    assert got[3, 0] != np.diff(nearby)[2]


def test_back_adjusted_levels_by_hand() -> None:
    """The roll gap B − A on row 2 (21 − 13 = 8; 9 − 6 = 3) is added to every level
    before the roll; the levels' differences are the rolled changes."""
    front = front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS)
    levels = back_adjusted(_settle(), LISTED, front)
    expected = np.array(
        [[18.0, 8.0], [19.0, 8.5], [21.0, 9.0], [23.0, 10.0], [22.0, 9.5], [24.0, NAN]]
    )
    np.testing.assert_array_equal(levels, expected)
    changes = rolled_changes(_settle(), LISTED, front)
    np.testing.assert_array_equal(np.diff(levels, axis=0), changes[1:])


def test_a_history_of_fixed_columns_is_the_case_of_constant_slots() -> None:
    """Fixed contract columns (an engine history) are ``listed[t] = ids`` on every row."""
    columns = np.array([A, B])
    settle = np.full((6, 2, 2), NAN)
    settle[:4, :, 0] = np.array(PRICES[A]).T
    settle[:, :, 1] = np.array(PRICES[B]).T
    listed = np.broadcast_to(columns, (6, 2))
    front = front_contracts(listed, EXPIRY, 1)
    assert front.tolist() == [A, A, A, B, B, B]
    np.testing.assert_array_equal(
        rolled_changes(settle, listed, front), rolled_changes(_settle(), LISTED, front)
    )


def _nearby(front: np.ndarray) -> np.ndarray:
    """The front's settlement on each row, ``(6, 2)`` (what ``Context.nearby`` serves)."""
    return np.array([[PRICES[c][p][t] for p in range(2)] for t, c in enumerate(front)])


def test_rolled_paired_changes_from_nearby_series_by_hand() -> None:
    """The front under ``roll_days`` and under ``roll_days + 1``: the change on each row is
    the front's, from its settlement on the previous exchange day — across the weekend
    rows (spot, no futures) inserted after rows 1 and 4 as well."""
    front = _nearby(front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS))
    successor = _nearby(front_contracts(LISTED, EXPIRY, 2, eligible=MONTHS))
    np.testing.assert_array_equal(successor[2], [21.0, 9.0])  # B, a row before the roll
    spot = np.arange(12.0).reshape(6, 2) ** 1.5
    weekend = np.full((2, 2), NAN)

    def with_weekends(a: np.ndarray, fill: np.ndarray) -> np.ndarray:
        """``a`` with two rows of ``fill`` after rows 1 and 4."""
        return np.vstack([a[:2], fill, a[2:5], fill, a[5:]])

    level = with_weekends(spot, np.full((2, 2), 99.0))  # the spot moves at weekends too
    d_level, d_front = rolled_paired_changes(
        level, with_weekends(front, weekend), with_weekends(successor, weekend)
    )
    exchange = np.r_[0, 1, 4, 5, 6, 9]  # the rows of exchange days 0-5
    rolled = rolled_changes(_settle(), LISTED, front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS))
    np.testing.assert_array_equal(d_front[exchange], rolled)
    assert np.isnan(np.delete(d_front, exchange, axis=0)).all()
    spot_changes = np.where(np.isnan(rolled[1:]), NAN, np.diff(spot, axis=0))  # pairs only
    np.testing.assert_array_equal(d_level[exchange[1:]], spot_changes)


@settings(max_examples=100, deadline=None)
@given(
    n_contracts=st.integers(1, 6),
    spacing=st.integers(1, 25),
    roll_days=st.integers(0, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_nearby_pairing_is_the_rolled_series(
    n_contracts: int, spacing: int, roll_days: int, seed: int
) -> None:
    """On a market with a settlement every exchange day, ``rolled_paired_changes`` of the
    nearby series under ``roll_days`` and ``roll_days + 1`` is ``rolled_changes``."""
    rng = np.random.default_rng(seed)
    n_rows, n_paths = n_contracts * spacing + 3, 3
    expiry = spacing * (1 + np.arange(n_contracts))
    listed = np.where(np.arange(n_rows)[:, None] <= expiry, np.arange(n_contracts), -1)
    settle = 5.0 + rng.normal(0.0, 1.0, (n_rows, n_paths, n_contracts)).cumsum(axis=0)
    settle[listed[:, None, :].repeat(n_paths, 1) < 0] = NAN
    spot = 5.0 + rng.normal(0.0, 1.0, (n_rows, n_paths)).cumsum(axis=0)

    def nearby(days: int) -> np.ndarray:
        front = front_contracts(listed, expiry, days)
        out = np.full((n_rows, n_paths), NAN)
        ok = front >= 0
        out[ok] = settle[np.flatnonzero(ok), :, front[ok]]
        return out

    front = front_contracts(listed, expiry, roll_days)
    d_spot, d_front = rolled_paired_changes(spot, nearby(roll_days), nearby(roll_days + 1))
    np.testing.assert_array_equal(d_front, rolled_changes(settle, listed, front))
    has = np.isfinite(d_front)
    np.testing.assert_array_equal(
        d_spot[has], np.vstack([spot[:1] * NAN, np.diff(spot, axis=0)])[has]
    )


def test_ols_ratio_on_the_rolled_series() -> None:
    """``OLSRatio(series="rolled").estimate(spot, front, successor)`` is the OLS slope of
    the spot changes on the rolled front's; the single-contract estimate differs."""
    rng = np.random.default_rng(3)
    front = front_contracts(LISTED, EXPIRY, 1, eligible=MONTHS)
    spot = 2.0 + rng.normal(0.0, 1.0, (6, 2)).cumsum(axis=0)
    changes = rolled_changes(_settle(), LISTED, front)
    block = OLSRatio(3, min_obs=2, series="rolled")
    nearby, successor = _nearby(front), _nearby(front_contracts(LISTED, EXPIRY, 2, eligible=MONTHS))
    d_spot = np.vstack([[NAN, NAN], np.diff(spot, axis=0)])
    kept = last_observations(d_spot, changes, 3)  # path 1's last change is on row 4
    want = ols_ratio(*kept, min_obs=2)
    np.testing.assert_allclose(block.estimate(spot, nearby, successor), want, rtol=1e-12)
    assert not np.allclose(OLSRatio(3, min_obs=2).estimate(spot, nearby), want)


def test_ratio_series_are_validated() -> None:
    with pytest.raises(ValueError, match="series"):
        OLSRatio(series="spliced")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"SpendRatio estimates on series \('front',\)"):
        SpendRatio(series="rolled")
