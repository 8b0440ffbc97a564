"""A hand-computed ledger: three weeks, two contracts, every journal row checked.

January 2026, two paths, the default TPI month future (multiplier 1,000, tick
$0.001, initial margin 10 % of notional, maintenance = initial / 1.1), fees
$1 per contract, no spread, ``limited`` funding with $5,000 of operating cash
per path and no credit line, fills at the next bar's open.

Index: 2.000 + 0.010·(d − 1) on 1–31 Jan (every calendar day), so the January
contract's average-price final settlement is 2.150. Futures trade on business
days 12 Jan – 2 Feb; each bar opens at the previous settlement.

Story (both paths see the same prices):

* 12 Jan: buy 10 Jan contracts → fill 13 Jan at 2.000, fee 10, deposit 2,010.
* 14 Jan: path 1 consumes 1,500 M tokens at 2.130 → pays 3,195; its cash is gone.
* 15 Jan: Jan settles 1.960 (−0.050): VM −500, equity 1,600 < maintenance
  1,781.82 → call for 1,960 − 1,600 = 360, due 16 Jan. Path 0 pays it;
  path 1 cannot.
* 16 Jan: path 1's call is unmet at its deadline → liquidated at 1.960.
* 23 Jan: path 0 rolls half: sell 5 Jan, buy 5 Feb → fills 26 Jan at 1.960 /
  2.060, fees 10, deposit 60; settles 1.980 / 2.080 → VM +100 +100.
* 2 Feb: Feb settles 2.090 → VM +50; Jan's final settlement at 2.150 on
  5 contracts marked at 1.980 → +850.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from engine_strategies import Script

from tokbt.data import Kind, TableMarket
from tokbt.engine import BrokerConfig
from tokbt.ledger import LedgerConfig
from tokbt.market import TPI_MONTH
from tokbt.runs import backtest

JAN, FEB = "TPI-2026-01", "TPI-2026-02"
CAL_DAYS = pd.date_range("2026-01-01", "2026-02-02", freq="D")
BUS_DAYS = pd.bdate_range("2026-01-12", "2026-02-02")
JAN_SETTLE = {
    "2026-01-12": 2.000, "2026-01-13": 2.010, "2026-01-14": 2.010, "2026-01-15": 1.960,
    "2026-01-16": 1.960, "2026-01-19": 1.960, "2026-01-20": 1.960, "2026-01-21": 1.960,
    "2026-01-22": 1.960, "2026-01-23": 1.960, "2026-01-26": 1.980, "2026-01-27": 1.980,
    "2026-01-28": 1.980, "2026-01-29": 1.980, "2026-01-30": 1.980,
}  # fmt: skip
FEB_SETTLE = {d.strftime("%Y-%m-%d"): 2.100 for d in BUS_DAYS}
FEB_SETTLE.update({"2026-01-13": 2.110, "2026-01-14": 2.110})
FEB_SETTLE.update({d: 2.060 for d in ["2026-01-15", "2026-01-16", "2026-01-19", "2026-01-20"]})
FEB_SETTLE.update({d: 2.060 for d in ["2026-01-21", "2026-01-22", "2026-01-23"]})
FEB_SETTLE.update({d: 2.080 for d in ["2026-01-26", "2026-01-27", "2026-01-28", "2026-01-29"]})
FEB_SETTLE.update({"2026-01-30": 2.080, "2026-02-02": 2.090})


def _index(day: pd.Timestamp) -> float:
    if day.month == 1:
        return round(2.000 + 0.010 * (day.day - 1), 3)
    return round(2.300 + 0.010 * day.day, 3)


def _market() -> TableMarket:
    spot = pd.DataFrame(
        [
            {"ts": d, "path": p, "open": _index(d), "high": _index(d), "low": _index(d),
             "close": _index(d)}
            for d in CAL_DAYS for p in (0, 1)
        ]
    )  # fmt: skip
    rows = []
    for code, settles in ((JAN, JAN_SETTLE), (FEB, FEB_SETTLE)):
        prev = None
        for day, settle in sorted(settles.items()):
            opened = settle if prev is None else prev
            for p in (0, 1):
                rows.append(
                    {"ts": pd.Timestamp(day), "path": p, "contract": code, "open": opened,
                     "high": max(opened, settle), "low": min(opened, settle), "close": settle,
                     "settle": settle}
                )  # fmt: skip
            prev = settle
    futures = pd.DataFrame(rows)
    tokens = [
        {"ts": d, "path": p, "tokens": 1500.0 if (p == 1 and d.day == 14 and d.month == 1) else 0.0}
        for d in CAL_DAYS
        for p in (0, 1)
    ]
    tables = {
        Kind.SPOT: pa.Table.from_pandas(spot, preserve_index=False),
        Kind.FUTURES: pa.Table.from_pandas(futures, preserve_index=False),
        Kind.CONSUMPTION: pa.Table.from_pandas(pd.DataFrame(tokens), preserve_index=False),
    }
    return TableMarket(TPI_MONTH, tables, name="hand", block_events=7)


def _held_jan(ctx: object) -> np.ndarray:
    return np.where(ctx.position(JAN) > 0, 1.0, 0.0)  # type: ignore[attr-defined]


SETTINGS = {
    "broker": BrokerConfig(fee_per_contract=1.0, liquidity=None),
    "ledger": LedgerConfig(initial_cash=5000.0, funding="limited"),
}


@pytest.fixture(scope="module")
def run() -> object:
    strategy = Script(
        orders={
            dt.date(2026, 1, 12): [(JAN, 10.0)],
            dt.date(2026, 1, 23): [
                (JAN, lambda ctx: -5.0 * _held_jan(ctx)),
                (FEB, lambda ctx: 5.0 * _held_jan(ctx)),
            ],
        }
    )
    result = backtest(_market(), strategy, config=SETTINGS)
    return result


def _ts(day: str) -> pd.Timestamp:
    """Event time of a daily bar of ``day``: the next midnight."""
    return pd.Timestamp(day) + pd.Timedelta(days=1)


def test_every_journal_row(run: object) -> None:
    j = run.journal.to_pandas()  # type: ignore[attr-defined]
    got = [
        (r.ts, r.path, r.account, r.contract, r.kind, r.qty, r.price, round(r.amount, 6))
        for r in j.itertuples()
    ]
    n = None
    expected = [
        # 13 Jan: the fill at the open, the fee, the initial-margin deposit, VM at 2.010
        (_ts("2026-01-13"), 0, "margin", JAN, "fill", 10.0, 2.0, 0.0),
        (_ts("2026-01-13"), 1, "margin", JAN, "fill", 10.0, 2.0, 0.0),
        (_ts("2026-01-13"), 0, "margin", JAN, "fee", n, n, -10.0),
        (_ts("2026-01-13"), 1, "margin", JAN, "fee", n, n, -10.0),
        (_ts("2026-01-13"), 0, "operating", n, "deposit", n, n, -2010.0),
        (_ts("2026-01-13"), 1, "operating", n, "deposit", n, n, -2010.0),
        (_ts("2026-01-13"), 0, "margin", n, "deposit", n, n, 2010.0),
        (_ts("2026-01-13"), 1, "margin", n, "deposit", n, n, 2010.0),
        (_ts("2026-01-13"), 0, "margin", JAN, "variation_margin", n, 2.01, 100.0),
        (_ts("2026-01-13"), 1, "margin", JAN, "variation_margin", n, 2.01, 100.0),
        # 14 Jan: path 1 buys 1,500 M tokens at the day's index 2.130
        (_ts("2026-01-14"), 1, "operating", n, "consumption", 1500.0, 2.13, -3195.0),
        # 15 Jan: -0.050 → VM -500; the call: path 0 pays 360 from cash, path 1 has none
        (_ts("2026-01-15"), 0, "margin", JAN, "variation_margin", n, 1.96, -500.0),
        (_ts("2026-01-15"), 1, "margin", JAN, "variation_margin", n, 1.96, -500.0),
        (_ts("2026-01-15"), 0, "operating", n, "margin_call", n, n, -360.0),
        (_ts("2026-01-15"), 0, "margin", n, "margin_call", n, n, 360.0),
        # 16 Jan: path 1's call is due and unmet → liquidated at the settlement price
        (_ts("2026-01-16"), 1, "margin", JAN, "liquidation", -10.0, 1.96, 0.0),
        # 26 Jan: path 0's roll fills at the opens; fees; top-up to IM 2,010; VM both
        (_ts("2026-01-26"), 0, "margin", JAN, "fill", -5.0, 1.96, 0.0),
        (_ts("2026-01-26"), 0, "margin", JAN, "fee", n, n, -5.0),
        (_ts("2026-01-26"), 0, "margin", FEB, "fill", 5.0, 2.06, 0.0),
        (_ts("2026-01-26"), 0, "margin", FEB, "fee", n, n, -5.0),
        (_ts("2026-01-26"), 0, "operating", n, "deposit", n, n, -60.0),
        (_ts("2026-01-26"), 0, "margin", n, "deposit", n, n, 60.0),
        (_ts("2026-01-26"), 0, "margin", JAN, "variation_margin", n, 1.98, 100.0),
        (_ts("2026-01-26"), 0, "margin", FEB, "variation_margin", n, 2.08, 100.0),
        # 2 Feb: Feb VM; Jan cash-settles at the January average 2.150
        (_ts("2026-02-02"), 0, "margin", FEB, "variation_margin", n, 2.09, 50.0),
        (_ts("2026-02-02"), 0, "margin", JAN, "final_settlement", -5.0, 2.15, 850.0),
    ]
    normalised = [
        tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in row) for row in got
    ]
    assert normalised == expected


def test_calls_events_and_balances(run: object) -> None:
    ev = run.events.to_pandas()  # type: ignore[attr-defined]
    calls = ev[ev.event == "margin_call"]
    assert calls.path.tolist() == [0, 1]
    np.testing.assert_allclose(calls.amount, [360.0, 360.0])
    assert (calls.detail == "due 2026-01-16").all()
    liq = ev[ev.event == "liquidation"]
    assert liq.path.tolist() == [1]
    assert liq.ts.tolist() == [_ts("2026-01-16")]
    paths = run.paths.to_pandas().set_index("path")  # type: ignore[attr-defined]
    # path 0: VM 100 - 500 + 100 + 100 + 50, final 850, fees 20
    assert paths.loc[0, "variation_margin"] == pytest.approx(-150.0)
    assert paths.loc[0, "final_settlement"] == pytest.approx(850.0)
    assert paths.loc[0, "equity_change"] == pytest.approx(680.0)
    # path 1: consumption 3,195, VM 100 - 500, fee 10
    assert paths.loc[1, "equity_change"] == pytest.approx(-3195.0 - 400.0 - 10.0)
    assert paths.margin_calls.tolist() == [1, 1]
    assert paths.liquidations.tolist() == [0, 1]
    assert run.contracts == (JAN, FEB)  # type: ignore[attr-defined]
    # path 0 still holds the 5 Feb contracts (Feb settles in March)
    np.testing.assert_array_equal(run.final_positions, [[0.0, 5.0], [0.0, 0.0]])  # type: ignore[attr-defined]


def test_daily_positions(run: object) -> None:
    pos = run.positions.to_pandas()  # type: ignore[attr-defined]
    path0 = pos[pos.path == 0]
    on_26 = path0[path0.ts == _ts("2026-01-26")].set_index("contract")
    assert on_26.qty.to_dict() == {JAN: 5.0, FEB: 5.0}
    assert on_26.settle.to_dict() == {JAN: 1.98, FEB: 2.08}
    assert pos[(pos.path == 1) & (pos.ts >= _ts("2026-01-16"))].empty  # liquidated
    assert path0[path0.ts == _ts("2026-02-02")].contract.tolist() == [FEB]
