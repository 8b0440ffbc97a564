"""Property tests: any valid bars survive the store unchanged; any corruption is caught."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokbt.data import BarStore, DataValidationError


@st.composite
def spot_bars(draw: st.DrawFn) -> pd.DataFrame:
    n_paths = draw(st.integers(1, 4))
    n_days = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = n_paths * n_days
    low = rng.uniform(0.001, 100.0, n)
    high = low * rng.uniform(1.0, 1.5, n)
    frac = rng.uniform(0, 1, (2, n))
    days = pd.date_range("2026-01-01", periods=n_days, freq="D")
    return pd.DataFrame(
        {
            "ts": np.repeat(days, n_paths),
            "path": np.tile(np.arange(n_paths), n_days).astype(np.int32),
            "open": low + frac[0] * (high - low),
            "high": high,
            "low": low,
            "close": low + frac[1] * (high - low),
            "volume": rng.uniform(0, 1e6, n),
        }
    )


def to_table(df: pd.DataFrame) -> pa.Table:
    """Arrow table keeping NaN as NaN (``Table.from_pandas`` would turn it into NULL)."""
    return pa.table({c: pa.array(df[c].to_numpy()) for c in df.columns})


CORRUPTIONS = {
    "high_ge_low": lambda df, i: df.assign(high=np.where(df.index == i, df["low"] / 2, df["high"])),
    "positive_price": lambda df, i: df.assign(low=np.where(df.index == i, -df["low"], df["low"])),
    "finite": lambda df, i: df.assign(close=np.where(df.index == i, np.nan, df["close"])),
    "non_negative": lambda df, i: df.assign(volume=np.where(df.index == i, -1.0, df["volume"])),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=spot_bars())
def test_valid_bars_round_trip_exactly(bars: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp, BarStore(Path(tmp) / "s.duckdb") as store:
        store.write_table(to_table(bars), "p", "spot")
        got = store.read("p", "spot").to_pandas()
    want = bars.sort_values(["ts", "path"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)


@pytest.mark.parametrize("rule", sorted(CORRUPTIONS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=spot_bars(), where=st.floats(0, 1, exclude_max=True))
def test_any_corrupted_row_is_named_and_nothing_is_written(
    rule: str, bars: pd.DataFrame, where: float
) -> None:
    i = int(where * len(bars))
    bad = CORRUPTIONS[rule](bars, i)
    with tempfile.TemporaryDirectory() as tmp, BarStore(Path(tmp) / "s.duckdb") as store:
        with pytest.raises(DataValidationError) as err:
            store.write_table(to_table(bad), "p", "spot")
        assert store.names() == []
    hits = [v for v in err.value.violations if v.rule == rule]
    assert hits
    assert hits[0].row == i + 1
