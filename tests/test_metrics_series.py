"""``Funding`` and ``HedgeRatio`` sum their daily series in compiled passes: numpy's
formulas (cumsum, maximum/minimum with NaN kept, the ratio's mask), bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.metrics import kernels

value = st.one_of(
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, np.nan]),
)


def _grid(data: st.DataObject, days: int, paths: int) -> np.ndarray:
    cells = data.draw(st.lists(value, min_size=days * paths, max_size=days * paths))
    return np.array(cells, dtype=np.float64).reshape(days, paths)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True) and (np.signbit(a) == np.signbit(b)).all())


@settings(max_examples=150, deadline=None)
@given(days=st.integers(1, 30), paths=st.integers(1, 4), data=st.data())
def test_funding_series_are_numpys(days: int, paths: int, data: st.DataObject) -> None:
    margin, funding, credit, hedge = (_grid(data, days, paths) for _ in range(4))
    posted, need, pnl = (np.empty((days, paths)) for _ in range(3))
    peaks = np.empty((4, paths))
    kernels.funding_series(margin, funding, credit, hedge, posted, need, pnl, peaks)
    zero = np.zeros((1, paths))
    with np.errstate(invalid="ignore"):
        want_pnl = np.cumsum(hedge, axis=0)
        h = np.vstack([zero, want_pnl])
        want = [
            np.vstack([zero, np.cumsum(margin, axis=0)]).max(axis=0),
            np.vstack([zero, np.cumsum(funding, axis=0)]).max(axis=0),
            -np.vstack([zero, np.cumsum(credit, axis=0)]).min(axis=0),
            (np.maximum.accumulate(h, axis=0) - h).max(axis=0),
        ]
    assert _same(posted, np.cumsum(margin, axis=0))
    assert _same(need, np.cumsum(funding, axis=0))
    assert _same(pnl, want_pnl)
    for row, expected in zip(peaks, want, strict=True):
        assert _same(row, expected)


@settings(max_examples=150, deadline=None)
@given(days=st.integers(1, 30), paths=st.integers(1, 4), data=st.data())
def test_hedge_ratio_series_is_numpys(days: int, paths: int, data: st.DataObject) -> None:
    held, tokens = _grid(data, days, paths), np.abs(_grid(data, days, paths))
    ratio = np.empty((days, paths))
    kernels.hedge_ratio_series(held, tokens, 10.0, ratio)
    remaining = tokens.sum(axis=0) - np.cumsum(tokens, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(remaining > 1e-9, np.cumsum(held, axis=0) * 10.0 / remaining, np.nan)
    assert _same(ratio, want)
