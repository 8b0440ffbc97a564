"""Own arrays through a backtest: ``market_from_arrays``, ``ContractSpec.for_series`` and the
how-to page, whose example is executed here."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

import tokbt
from tokbt.data import Kind
from tokbt.market import ContractSpec

DOC = Path(__file__).resolve().parents[1] / "docs/own-arrays.md"


def test_the_how_to_runs_as_written() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})


def test_for_series_lists_one_contract_over_the_whole_series() -> None:
    start, end = dt.date(2026, 1, 15), dt.date(2028, 3, 2)
    spec, code = ContractSpec.for_series(start, end, multiplier=1000.0, tick_size=0.001)
    contract = spec.contract(code)
    assert contract.listing_date <= start
    assert contract.last_trading_day > end
    assert (spec.multiplier, spec.tick_size, spec.price_limit) == (1000.0, 0.001, None)
    with pytest.raises(ValueError, match="before start"):
        ContractSpec.for_series(end, start)


def test_paths_side_by_side_and_consumption_become_long_bars() -> None:
    days = np.arange("2026-02-01", "2026-02-11", dtype="datetime64[D]")
    spot = np.column_stack([np.linspace(2.0, 2.5, 10), np.linspace(3.0, 2.0, 10)])
    market = tokbt.market_from_arrays(days, spot, np.round(spot, 4), tokens=np.ones((10, 2)))
    assert list(market.path_ids) == [0, 1]
    futures = market.tables[Kind.FUTURES].to_pandas()
    assert (futures["settle"] == futures["close"]).all()
    first = futures[futures["path"] == 1].iloc[1]
    assert first["open"] == np.round(spot[0, 1], 4)  # a bar opens at the previous close
    assert Kind.CONSUMPTION in market.tables


def test_arrays_that_do_not_fit_are_named() -> None:
    days = np.arange("2026-02-01", "2026-02-04", dtype="datetime64[D]")
    with pytest.raises(ValueError, match=r"futures: shape \(2,\) does not fit ts"):
        tokbt.market_from_arrays(days, [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="spot: not a finite number at bar 1, path 0"):
        tokbt.market_from_arrays(days, [1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="ts: bar start times must increase"):
        tokbt.market_from_arrays(days[::-1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="spec and contract: give both"):
        tokbt.market_from_arrays(days, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], contract="X")
