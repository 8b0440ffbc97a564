"""Numerical edge cases and strategy failures (issue 8, part 3).

Markets are a few days of January–February 2026, TPI month future (multiplier 1,000,
tick $0.001, initial margin 10 % of notional, maintenance = initial / 1.1). A daily bar
of day ``d`` is known at ``d + 1`` 00:00 (its event); an order decided there fills at the
open of the contract's next bar. Expected numbers are worked by hand in the comments.
Every run also checks that money is conserved: per path, the journal's flows sum to
the change in equity.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import market_arrays
from edge_markets import (
    Orders,
    cons_rows,
    days,
    event,
    fut_rows,
    make_market,
    spot_rows,
)
from engine_markets import market, random_tables
from engine_strategies import Script
from typer.testing import CliRunner

from strategies.static import Static
from strategies.static_kernel import StaticKernel
from tokbt.cli import app
from tokbt.data import Kind
from tokbt.engine import BrokerConfig, Context, StrategyError
from tokbt.errors import DataError
from tokbt.ledger import LedgerConfig, MarginCall
from tokbt.market import TPI_MONTH, limit_band, preset
from tokbt.report import write_report
from tokbt.runs import Result, backtest, mc
from tokbt.runs.backtest import build_plan
from tokbt.runs.compare import CompareConfig, compare
from tokbt.runs.config import SimulateMarket
from tokbt.runs.mc import ChunkError, Job, LocalExecutor, McConfig, monte_carlo
from tokbt.runs.store import RunStore
from tokbt.sim import SimMarket
from tokbt.sim.simulate import simulate_paths

MAR, JAN, FEB = "TPI-2026-03", "TPI-2026-01", "TPI-2026-02"
TICK = TPI_MONTH.tick_size
FRICTIONLESS = BrokerConfig(liquidity=None)


@pytest.fixture
def numpy_warnings_fail() -> Iterator[None]:
    """Any numpy RuntimeWarning (a division by zero, a mean of nothing) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def assert_money_conserved(result: Result) -> None:
    """Per path, the journal's flows sum to the change in equity; nothing is NaN."""
    journal = result.journal.to_pandas()
    assert np.isfinite(journal["amount"]).all()
    paths = result.paths.to_pandas().set_index("path")
    flows = journal.groupby("path")["amount"].sum().reindex(paths.index, fill_value=0.0)
    np.testing.assert_allclose(flows, paths["equity_change"], rtol=1e-12, atol=1e-9)
    totals = paths.drop(columns=["margin_calls", "liquidations", "rejections"])
    assert np.isfinite(totals.to_numpy(np.float64)).all()


def journal_rows(result: Result, *kinds: str, contract: str | None = None) -> list[tuple[Any, ...]]:
    """``(ts, path, kind, qty, price, amount)`` of the rows of ``kinds`` (NaN → None)."""
    j = result.journal.to_pandas()
    j = j[j.kind.isin(kinds) & ((j.contract == contract) if contract else True)]
    return [
        tuple(None if isinstance(v, float) and np.isnan(v) else v for v in row)
        for row in j[["ts", "path", "kind", "qty", "price", "amount"]]
        .round({"amount": 6, "price": 9})
        .itertuples(index=False, name=None)
    ]


# -- 1. zero consumption --------------------------------------------------------------------


def _zero_tokens(tables: dict[Kind, pa.Table], paths: tuple[int, ...]) -> dict[Kind, pa.Table]:
    frame = tables[Kind.CONSUMPTION].to_pandas()
    frame.loc[frame.path.isin(paths), "tokens"] = 0.0
    return tables | {Kind.CONSUMPTION: pa.Table.from_pandas(frame, preserve_index=False)}


def test_paths_without_consumption_have_no_unit_cost_and_the_summary_skips_them(
    numpy_warnings_fail: None,
) -> None:
    tables = _zero_tokens(random_tables(1, 3, 70), paths=(0, 2))
    result = backtest(market(tables), Script(orders={dt.date(2026, 1, 5): [(FEB, 3.0)]}))
    assert_money_conserved(result)
    assert result.metrics is not None
    m = result.metrics.columns
    assert m["tokens"][[0, 2]].tolist() == [0.0, 0.0]
    assert m["tokens"][1] > 0
    # unit costs are undefined (NaN) where nothing was consumed, cost / tokens elsewhere
    for side in ("hedged", "unhedged"):
        unit = m[f"unit_cost_{side}"]
        assert np.isnan(unit[[0, 2]]).all()
        assert unit[1] == pytest.approx(m[f"{side}_cost"][1] / m["tokens"][1])
    assert np.isnan(m["hedge_ratio"][[0, 2]]).all()
    assert np.isnan(m["budget"][[0, 2]]).all()  # no price paid to value the plan at
    # an idle path's cost is the hedge alone: − futures P&L (no fees, no interest here)
    np.testing.assert_allclose(m["hedged_cost"][[0, 2]], -m["futures_pnl"][[0, 2]])
    assert (m["unhedged_cost"][[0, 2]] == 0).all()
    summary = result.evaluation(resamples=50).summary.set_index("metric")["value"]
    # across paths: the cost metrics count every path, the unit metrics the defined ones
    assert summary["mean_cost"] == pytest.approx(m["hedged_cost"].mean())
    assert summary["mean_unit_cost"] == pytest.approx(m["unit_cost_hedged"][1])
    assert summary["mean_hedge_ratio"] == pytest.approx(m["hedge_ratio"][1])
    assert summary["budget_at_risk"] == pytest.approx(m["overrun"][1])
    assert np.isnan(summary["vr_std_unit"])  # a standard deviation of one defined path


def test_a_run_without_any_consumption_reports_nan_unit_metrics(
    numpy_warnings_fail: None, tmp_path: Path
) -> None:
    tables = _zero_tokens(random_tables(1, 2, 40), paths=(0, 1))
    result = backtest(market(tables), Script(orders={dt.date(2026, 1, 5): [(FEB, 2.0)]}))
    assert_money_conserved(result)
    paths = result.paths.to_pandas()
    assert (paths["consumption"] == 0).all()
    np.testing.assert_allclose(paths["hedged_cost"], -paths["futures_pnl"])
    run = result.stored(resamples=50)
    ev = run.evaluation
    assert ev.monthly.empty  # no month with consumption
    summary = ev.summary.set_index("metric")["value"]
    for metric in ("vr_std", "he_var", "mean_unit_cost", "vr_std_monthly", "mean_hedge_ratio"):
        assert np.isnan(summary[metric]), metric
    assert summary["mean_cost"] == pytest.approx(paths["hedged_cost"].mean())
    text = write_report(run, tmp_path / "summary.md").read_text()
    assert "| mean unit cost (USD / 1M tokens) | — |" in text
    assert write_report(run, tmp_path / "report.html").stat().st_size > 0


# -- 2. a contract without trades for days ----------------------------------------------------

BUS = days("2026-01-05", "2026-01-16", business=True)
GAP = ("2026-01-08", "2026-01-09", "2026-01-12")


def _quiet_market() -> Any:
    """March opens at 2.000 + 0.01·i and settles 0.01 higher on the i-th business day, but
    has no bar on 8, 9 and 12 Jan (path 1 also none on 14 Jan); February trades flat every
    day, so every day still has a settlement."""
    mar = {d: (2.0 + 0.01 * i, 2.01 + 0.01 * i) for i, d in enumerate(BUS) if d not in GAP}
    rows = fut_rows(MAR, mar, paths=(0, 1))
    rows = [r for r in rows if not (r["path"] == 1 and r["ts"] == pd.Timestamp("2026-01-14"))]
    rows += fut_rows(FEB, {d: (2.0, 2.0) for d in BUS}, paths=(0, 1))
    return make_market(spot_rows(days("2026-01-05", "2026-01-16"), paths=(0, 1)), rows)


def test_a_contract_without_bars_keeps_its_last_settlement_until_it_trades_again() -> None:
    # buy 2 decided 5 Jan → 6 Jan open 2.010; buy 1 decided on 8 Jan, a day without a
    # March bar → it waits for the next bar, 13 Jan, and fills at its open 2.060
    orders = Orders({"2026-01-05": [(MAR, 2.0)], "2026-01-08": [(MAR, 1.0)]})
    result = backtest(_quiet_market(), orders, config={"broker": FRICTIONLESS})
    assert_money_conserved(result)
    vm, n = "variation_margin", None
    assert journal_rows(result, "fill", vm, contract=MAR) == [
        (event("2026-01-06"), 0, "fill", 2.0, 2.01, 0.0),
        (event("2026-01-06"), 1, "fill", 2.0, 2.01, 0.0),
        (event("2026-01-06"), 0, vm, n, 2.02, 20.0),  # 2 × 1,000 × (2.02 − 2.01)
        (event("2026-01-06"), 1, vm, n, 2.02, 20.0),
        (event("2026-01-07"), 0, vm, n, 2.03, 20.0),
        (event("2026-01-07"), 1, vm, n, 2.03, 20.0),
        # 8, 9, 12 Jan: no bar, no settlement price: 2.03 stands, no money moves
        (event("2026-01-13"), 0, "fill", 1.0, 2.06, 0.0),
        (event("2026-01-13"), 1, "fill", 1.0, 2.06, 0.0),
        (event("2026-01-13"), 0, vm, n, 2.07, 90.0),  # 1,000 × (2 × 0.04 + 1 × 0.01)
        (event("2026-01-13"), 1, vm, n, 2.07, 90.0),
        (event("2026-01-14"), 0, vm, n, 2.08, 30.0),  # path 1: no bar on 14 Jan
        (event("2026-01-15"), 0, vm, n, 2.09, 30.0),
        (event("2026-01-15"), 1, vm, n, 2.09, 60.0),  # 3 × 1,000 × (2.09 − 2.07): last mark
        (event("2026-01-16"), 0, vm, n, 2.10, 30.0),
        (event("2026-01-16"), 1, vm, n, 2.10, 30.0),
    ]
    marks = result.positions.to_pandas().query("contract == @MAR")
    marks = marks.set_index(["ts", "path"])["settle"]
    for day in GAP:
        assert marks[(event(day), 0)] == marks[(event(day), 1)] == 2.03
    assert marks[(event("2026-01-14"), 1)] == 2.07
    assert result.paths.to_pandas()["variation_margin"].tolist() == pytest.approx([220.0] * 2)


# -- 3. limit-locked days in a row ----------------------------------------------------------

LOCKED = ("2026-01-07", "2026-01-08", "2026-01-09")
UP_LIMIT = {
    "2026-01-05": (2.0, 2.0), "2026-01-06": (2.0, 2.0),
    "2026-01-07": (2.2, 2.2), "2026-01-08": (2.42, 2.42), "2026-01-09": (2.662, 2.662),
    "2026-01-12": (2.65, 2.6), "2026-01-13": (2.6, 2.61),
}  # fmt: skip
"""Three limit-up days in a row (+10 % each: 2.2, 2.42, 2.662), then trading resumes."""


def _locked_run(on_locked: Literal["wait", "cancel"]) -> Result:
    # path 0's bars are locked on 7–9 Jan, path 1's are not; both buy 1 (decided 5 Jan,
    # filled 6 Jan at 2.000) and then 2 more (decided 6 Jan, for the 7 Jan open)
    rows = fut_rows(MAR, UP_LIMIT, paths=(0,), locked=LOCKED) + fut_rows(MAR, UP_LIMIT, (1,))
    source = make_market(spot_rows(days("2026-01-05", "2026-01-13"), paths=(0, 1)), rows)
    orders = Orders({"2026-01-05": [(MAR, 1.0)], "2026-01-06": [(MAR, 2.0)]})
    broker = BrokerConfig(liquidity=None, on_locked=on_locked)
    result = backtest(source, orders, config={"broker": broker})
    assert_money_conserved(result)
    return result


def test_an_order_waits_through_locked_days_and_fills_at_the_first_open_bar() -> None:
    result = _locked_run("wait")
    vm, n = "variation_margin", None
    assert journal_rows(result, "fill", vm) == [
        (event("2026-01-06"), 0, "fill", 1.0, 2.0, 0.0),
        (event("2026-01-06"), 1, "fill", 1.0, 2.0, 0.0),
        (event("2026-01-07"), 1, "fill", 2.0, 2.2, 0.0),  # path 0 locked: no fill
        # the held contract is marked at each locked settlement all the same
        (event("2026-01-07"), 0, vm, n, 2.2, 200.0),
        (event("2026-01-07"), 1, vm, n, 2.2, 200.0),
        (event("2026-01-08"), 0, vm, n, 2.42, 220.0),
        (event("2026-01-08"), 1, vm, n, 2.42, 660.0),
        (event("2026-01-09"), 0, vm, n, 2.662, 242.0),
        (event("2026-01-09"), 1, vm, n, 2.662, 726.0),
        # three locked bars later the order fills at the first free open, 2.650
        (event("2026-01-12"), 0, "fill", 2.0, 2.65, 0.0),
        (event("2026-01-12"), 0, vm, n, 2.6, -162.0),  # 1,000 × (−0.062 − 2 × 0.05)
        (event("2026-01-12"), 1, vm, n, 2.6, -186.0),  # 3 × 1,000 × −0.062
        (event("2026-01-13"), 0, vm, n, 2.61, 30.0),
        (event("2026-01-13"), 1, vm, n, 2.61, 30.0),
    ]
    assert result.events.to_pandas().query("event == 'order_rejected'").empty
    np.testing.assert_array_equal(result.final_positions, [[3.0], [3.0]])


def test_an_order_on_a_locked_bar_is_cancelled_once_when_asked() -> None:
    result = _locked_run("cancel")
    fills = journal_rows(result, "fill")
    assert [(ts, p, q) for ts, p, _, q, _, _ in fills] == [
        (event("2026-01-06"), 0, 1.0),
        (event("2026-01-06"), 1, 1.0),
        (event("2026-01-07"), 1, 2.0),
    ]
    rejected = result.events.to_pandas().query("event == 'order_rejected'")
    assert rejected[["ts", "path", "qty", "detail"]].values.tolist() == [
        [event("2026-01-07"), 0, 2.0, "limit locked: cancelled"]
    ]
    vm = [row[5] for row in journal_rows(result, "variation_margin") if row[1] == 0]
    assert vm == [200.0, 220.0, 242.0, -62.0, 10.0]  # one contract, marked through the lock
    np.testing.assert_array_equal(result.final_positions, [[1.0], [3.0]])


# -- 4. a margin call on the last trading day --------------------------------------------------


class CallWatcher:
    """Buys 10 January contracts (decided 26 Jan); at the end, appends the calls still
    outstanding to ``ends`` (a class attribute: a backtest runs a copy of the strategy)."""

    ends: ClassVar[list[list[float]]] = []

    def on_bar(self, ctx: Context) -> None:
        if ctx.day == dt.date(2026, 1, 26):
            ctx.order(JAN, np.full(ctx.n_paths, 10.0))

    def on_end(self, ctx: Context) -> None:
        CallWatcher.ends.append(ctx.margin.call.tolist())


def _expiry_run(spec: Any, deadline_days: int = 1) -> Result:
    """January's last trading day is Fri 30 Jan; it settles 1.900 there (from 2.000).

    Each path has 2,000 of cash, all of it deposited as initial margin (10 × 1,000 × 2.0
    × 10 %); the VM of −1,000 leaves 1,000 < maintenance 1,727 → a call for 1,900 − 1,000
    = 900 that cannot be paid, due the next exchange day, Mon 2 Feb. The index is 2.000
    every January day on path 0 and 1.700 on path 1: those are the final settlement
    prices (delivery average, settled on 2 Feb; or last-day fixing, settled on 30 Jan).
    """
    spot = spot_rows(days("2026-01-01", "2026-01-31"), 2.0, (0,))
    spot += spot_rows(days("2026-01-01", "2026-01-31"), 1.7, (1,))
    spot += spot_rows(days("2026-02-01", "2026-02-04"), 2.0, (0, 1))
    jan = {d: (2.0, 2.0) for d in days("2026-01-26", "2026-01-29", business=True)}
    jan["2026-01-30"] = (2.0, 1.9)
    feb = {d: (2.0, 2.0) for d in days("2026-01-26", "2026-02-04", business=True)}
    source = make_market(spot, fut_rows(JAN, jan, (0, 1)) + fut_rows(FEB, feb, (0, 1)), spec=spec)
    ledger = LedgerConfig(funding="limited", initial_cash=2000.0, call_deadline_days=deadline_days)
    result = backtest(source, CallWatcher(), config={"broker": FRICTIONLESS, "ledger": ledger})
    assert_money_conserved(result)
    return result


@pytest.mark.parametrize(
    ("spec", "settled"), [(TPI_MONTH, "2026-02-02"), (preset("tpi_month_fixing"), "2026-01-30")]
)
def test_a_call_issued_on_the_last_trading_day_ends_with_the_final_settlement(
    spec: Any, settled: str
) -> None:
    result = _expiry_run(spec)
    events = result.events.to_pandas()
    calls = events[events.event == "margin_call"].round({"amount": 6})
    assert calls[["ts", "path", "amount", "detail"]].values.tolist() == [
        [event("2026-01-30"), 0, 900.0, "due 2026-02-02"],
        [event("2026-01-30"), 1, 900.0, "due 2026-02-02"],
    ]
    # the contract stopped trading on 30 Jan: no liquidation, whatever the deadline —
    # the final settlement closes the position
    assert events.query("event == 'liquidation'").empty
    assert journal_rows(result, "final_settlement") == [
        (event(settled), 0, "final_settlement", -10.0, 2.0, 1000.0),  # 10 × 1,000 × 0.1
        (event(settled), 1, "final_settlement", -10.0, 1.7, -2000.0),  # 10 × 1,000 × −0.2
    ]
    # path 0's account (2,000) covers its (now empty) book: the call is cancelled at once;
    # path 1's is 1,000 − 2,000 = −1,000 short: its call stays outstanding
    cancelled = events[events.event == "margin_call_cancelled"]
    assert cancelled[["ts", "path", "detail"]].values.tolist() == [
        [event(settled), 0, "covered after final settlement"]
    ]
    paths = result.paths.to_pandas()
    assert paths["final_settlement"].tolist() == pytest.approx([1000.0, -2000.0])
    assert paths["roll_pnl"].tolist() == pytest.approx([0.0, 0.0])  # delivered, not rolled
    assert paths["liquidations"].tolist() == [0, 0]


def test_a_call_left_unpaid_after_expiry_stays_outstanding_without_liquidation() -> None:
    result = _expiry_run(TPI_MONTH)
    # path 1 cannot pay (no cash) and holds nothing left to liquidate: its call stays
    # outstanding, collected at every settlement, never re-issued nor escalated
    assert CallWatcher.ends[-1] == pytest.approx([0.0, 900.0])
    events = result.events.to_pandas()
    assert events.query("event == 'margin_call'").path.tolist() == [0, 1]
    assert events.query("event == 'liquidation'").empty
    equity = result.paths.to_pandas()["equity_change"].tolist()
    assert equity == pytest.approx([0.0, -1000.0 - 2000.0])  # −VM − final settlement loss


def test_a_call_due_at_once_on_the_last_trading_day_liquidates_at_its_settlement() -> None:
    # deadline 0: unpaid on 30 Jan, when January still trades → closed at 1.900 there
    result = _expiry_run(TPI_MONTH, deadline_days=0)
    assert journal_rows(result, "liquidation") == [
        (event("2026-01-30"), 0, "liquidation", -10.0, 1.9, 0.0),
        (event("2026-01-30"), 1, "liquidation", -10.0, 1.9, 0.0),
    ]
    assert journal_rows(result, "final_settlement") == []
    assert result.paths.to_pandas()["roll_pnl"].tolist() == pytest.approx([-1000.0, -1000.0])


# -- 5. prices at the tick floor ---------------------------------------------------------------


def test_a_sell_at_the_tick_floor_fills_at_one_tick_whatever_its_spread() -> None:
    # March trades at 0.001 (one tick). Spread 2 ticks (1 + 0.5 × 2 months) + slippage 2:
    # a sell would be 0.001 − 0.004 < 0 — it fills at the floor, 0.001; the buy back
    # pays 0.001 + 0.004 = 0.005
    source = make_market(
        spot_rows(days("2026-01-05", "2026-01-09"), 0.001),
        fut_rows(MAR, {d: (TICK, TICK) for d in BUS[:5]}),
    )
    orders = Orders({"2026-01-05": [(MAR, -3.0)], "2026-01-07": [(MAR, 3.0)]})
    result = backtest(source, orders, config={"broker": BrokerConfig(slippage_ticks=2)})
    assert_money_conserved(result)
    assert journal_rows(result, "fill", "variation_margin") == [
        (event("2026-01-06"), 0, "fill", -3.0, 0.001, 0.0),
        (event("2026-01-08"), 0, "fill", 3.0, 0.005, 0.0),
        (event("2026-01-08"), 0, "variation_margin", None, 0.001, -12.0),  # 3 × 1,000 × −0.004
    ]


def test_a_final_settlement_below_half_a_tick_settles_at_one_tick() -> None:
    # the January index averages 0.0004 < tick / 2: rounded it would be 0
    spot = spot_rows(days("2026-01-01", "2026-02-02"), 0.0004)
    bars = {d: (TICK, TICK) for d in days("2026-01-26", "2026-02-02", business=True)}
    source = make_market(
        spot,
        fut_rows(JAN, {d: v for d, v in bars.items() if d < "2026-01-31"}) + fut_rows(FEB, bars),
    )
    result = backtest(source, Orders({"2026-01-26": [(JAN, 2.0)]}), config={"broker": FRICTIONLESS})
    assert_money_conserved(result)
    assert journal_rows(result, "final_settlement") == [
        (event("2026-02-02"), 0, "final_settlement", -2.0, 0.001, 0.0)
    ]
    assert TPI_MONTH.final_settlement_price([0.0004] * 31) == TICK


@pytest.mark.parametrize("runner", ["python", "compiled"])
def test_a_final_settlement_without_an_index_day_names_the_missing_days(runner: str) -> None:
    # January settles on the average of its daily index; 14 and 15 Jan have no spot bar,
    # so the average cannot be formed: a DataError naming the days, on either engine
    gaps = {"2026-01-14", "2026-01-15"}
    spot = spot_rows([d for d in days("2026-01-01", "2026-02-02") if d not in gaps], 2.0)
    bars = {d: (2.0, 2.0) for d in days("2026-01-26", "2026-02-02", business=True)}
    source = make_market(
        spot,
        fut_rows(JAN, {d: v for d, v in bars.items() if d < "2026-01-31"}) + fut_rows(FEB, bars),
    )
    config = {"broker": FRICTIONLESS, "runner": runner}
    message = r"market 'edge': final settlement at .* needs the daily index on 2026-01-14, "
    with pytest.raises(DataError, match=message + r"2026-01-15, which has no spot bar"):
        backtest(source, StaticKernel, params={"contracts": 1.0}, config=config)


@pytest.fixture(scope="module")
def floor_market() -> SimMarket:
    """8 paths over 120 days from 0.004 (four ticks) falling 95 % a year, σ 90 %: the index
    ends well below one tick."""
    sim = SimulateMarket(
        paths=8,
        horizon_days=120,
        seed=3,
        overrides={"spot.s0": 0.004, "spot.trend": -3.0, "spot.sigma": 0.9},
    )
    plan = build_plan(sim)
    return SimMarket(plan, simulate_paths(plan, range(sim.paths)))


def test_a_simulated_market_at_the_tick_floor_keeps_its_prices_on_the_grid(
    floor_market: SimMarket,
) -> None:
    bars = market_arrays(floor_market)
    assert np.nanmin(bars["spot.close"]) < TICK  # the index itself went below one tick
    at = bars["settlement"]
    settle, locked = bars["futures.settle"][at], bars["locked"][at]
    listed = settle[np.isfinite(settle)]
    assert listed.min() == TICK  # settlements stop at one tick, never at 0
    np.testing.assert_allclose(listed / TICK, np.round(listed / TICK), rtol=0, atol=1e-9)
    # every settlement lies in the limit band of the contract's previous one — a band of
    # at least one tick each way, so the floor never locks the market for good — and a
    # limit-locked settlement sits on the band's edge
    prev, now = settle[:-1], settle[1:]
    both = np.isfinite(prev) & np.isfinite(now)
    low, high = limit_band(prev[both], TPI_MONTH.price_limit, TICK)
    assert (low >= TICK).all()
    assert (high > low).all()
    assert (now[both] >= low - 1e-12).all()
    assert (now[both] <= high + 1e-12).all()
    edge = np.isclose(now[both], low) | np.isclose(now[both], high)
    shut = locked[1:][both]
    assert shut.any()
    assert edge[shut].all()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("min_variance", {"start": 20, "months": 2, "window": 15, "min_obs": 5}),
        ("ewma", {"start": 20, "months": 2, "min_obs": 5}),
        ("rolling", {"start": 20, "months": 2, "window": 15, "min_obs": 5}),
    ],
)
def test_estimating_hedges_at_the_tick_floor_trade_whole_contracts_at_positive_prices(
    floor_market: SimMarket, name: str, params: dict[str, Any], numpy_warnings_fail: None
) -> None:
    result = backtest(floor_market, name, params=params)
    assert_money_conserved(result)
    fills = result.journal.to_pandas().query("kind == 'fill'")
    assert len(fills) > 0
    assert (fills.price >= TICK).all()
    assert np.isfinite(fills.qty).all()
    assert (fills.qty == np.round(fills.qty)).all()
    assert np.isfinite(result.final_positions).all()


class LogReturnRatio:
    """h = Cov(log ΔS, log ΔF) / Var(log ΔF) over the last 3 events; buys h × 10 contracts.
    On a market whose futures never move, Var = 0 and h is NaN."""

    def on_bar(self, ctx: Context) -> None:
        s, f = np.log(ctx.spot("close", 4)), np.log(ctx.futures(MAR, "settle", 4))
        rs, rf = np.diff(s, axis=0), np.diff(f, axis=0)
        if np.isfinite(rf).all():
            with np.errstate(invalid="ignore", divide="ignore"):
                h = (rs * rf).mean(axis=0) / (rf * rf).mean(axis=0)
            ctx.target(MAR, np.round(h * 10))


def test_a_nan_target_from_an_estimator_is_refused_naming_the_strategy() -> None:
    on = days("2026-01-05", "2026-01-16", business=True)
    source = make_market(spot_rows(on, 0.002), fut_rows(MAR, {d: (TICK, TICK) for d in on}))
    with pytest.raises(StrategyError) as info:
        backtest(source, LogReturnRatio())
    assert str(info.value) == (
        "strategy 'LogReturnRatio' raised in on_bar at 2026-01-09T00:00:00.000000: "
        "ValueError: order in TPI-2026-03: quantity nan is not finite on paths [0]"
    )
    assert isinstance(info.value.__cause__, ValueError)


# -- 6. short horizons ------------------------------------------------------------------------


def _one_day(paths: int) -> CompareConfig:
    return CompareConfig.model_validate(
        {
            "market": {"simulate": {"paths": paths, "horizon_days": 1, "seed": 2}},
            "policies": [
                {"name": "no_hedge"},
                {"name": "min_variance", "params": {"start": 0, "months": 1, "window": 60}},
            ],
            "bootstrap": {"resamples": 50},
        }
    )


@pytest.mark.parametrize("paths", [1, 3])
def test_a_one_day_horizon_is_compared_and_its_monthly_statistics_are_nan(
    paths: int, numpy_warnings_fail: None, tmp_path: Path
) -> None:
    ev = compare(_one_day(paths)).evaluation
    # Monte Carlo chunks of the same paths give the same summary
    mc_config = McConfig.model_validate(_one_day(paths).model_dump(mode="json"))
    chunked = monte_carlo(mc_config, tmp_path, executor=LocalExecutor(workers=1)).evaluation
    pd.testing.assert_frame_equal(chunked.summary, ev.summary)
    frame = ev.paths
    assert (frame.tokens > 0).all()
    # the one exchange day's orders would fill at the next open, which never comes
    np.testing.assert_allclose(frame.hedged_cost, frame.unhedged_cost)
    np.testing.assert_allclose(frame.unit_cost_hedged, frame.hedged_cost / frame.tokens)
    summary = ev.summary.set_index(["policy", "metric"])
    for policy in ("no_hedge", "min_variance"):
        values = summary.loc[policy, "value"]
        costs = frame[frame.policy == policy].hedged_cost
        assert values["mean_cost"] == pytest.approx(costs.mean())
        # one month: no variance over months (documented: NaN with fewer than two)
        assert np.isnan(values[["vr_std_monthly", "he_var_monthly"]]).all()
        if paths == 1:  # one path: no spread across paths and no interval
            assert np.isnan(values["sd_cost"])
            assert summary.loc[policy, ["lo", "hi"]].isna().all(axis=None)


def test_a_window_longer_than_the_run_falls_back_or_fails_as_documented() -> None:
    # two weeks of February futures (flat 2.000) and a plan of 100 M tokens a day into
    # February: min_variance starts at once with a 60-day window it cannot fill, so its
    # ratio is the fallback 1 → 1 × 2,800 M tokens / 1,000 = 2.8 → 3 contracts
    on = days("2026-01-05", "2026-01-16")
    source = make_market(
        spot_rows(on),
        fut_rows(FEB, {d: (2.0, 2.0) for d in days("2026-01-05", "2026-01-16", business=True)}),
        cons_rows(days("2026-01-05", "2026-02-28"), 10.0),
    )
    params = {"start": 0, "months": 1, "window": 60}
    result = backtest(source, "min_variance", params=params)
    assert_money_conserved(result)
    assert result.contracts == (FEB,)
    np.testing.assert_array_equal(result.final_positions, [[3.0]])
    # a full history (5 events) too short to ever hold the window is an error, not a
    # silently shorter window
    late = params | {"start": 6}
    with pytest.raises(StrategyError, match=r"'min_variance' .* on_bar .* raise engine.history"):
        backtest(source, "min_variance", params=late, config={"engine": {"history": 5}})


def test_a_single_exchange_day_ending_on_a_weekend(numpy_warnings_fail: None) -> None:
    # Fri 9 Jan is the only exchange day; spot and consumption (10 M tokens at 2.000) run
    # to Sun 11 Jan. The order decided on Friday never finds a later bar: no fill.
    on = days("2026-01-09", "2026-01-11")
    source = make_market(
        spot_rows(on), fut_rows(MAR, {"2026-01-09": (2.0, 2.0)}), cons_rows(on, 10.0)
    )
    result = backtest(source, Orders({"2026-01-09": [(MAR, 1.0)]}))
    assert_money_conserved(result)
    assert set(result.journal.to_pandas().kind) == {"consumption"}
    assert result.metrics is not None
    m = {k: v[0] for k, v in result.metrics.columns.items()}
    assert (m["tokens"], m["unhedged_cost"], m["hedged_cost"]) == (30.0, 60.0, 60.0)
    assert m["unit_cost_hedged"] == 2.0
    assert m["overrun"] == 60.0 - 300 * 2.0  # budget: the plan priced at the first price
    assert np.isnan(m["unit_cost_var_hedged"])
    summary = result.evaluation(resamples=50).summary.set_index("metric")["value"]
    assert summary["mean_unit_cost"] == 2.0
    assert np.isnan(summary["vr_std_monthly"])


# -- 7. a strategy raising --------------------------------------------------------------------

HOOKS = {
    "on_start": "before the first event",
    "on_bar": "at 2026-01-06T00:00:00.000000",
    "on_settle": "at 2026-01-06T00:00:00.000000",
    "on_margin_call": "at 2026-01-08T00:00:00.000000",
    "on_end": "at 2026-01-08T00:00:00.000000",
}


class Raises:
    """Buys 1 March contract on 5 Jan; raises ``RuntimeError("boom")`` in hook ``hook``."""

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def _maybe(self, hook: str) -> None:
        if hook == self.hook:
            raise RuntimeError("boom")

    def on_start(self, ctx: Context) -> None:
        self._maybe("on_start")

    def on_bar(self, ctx: Context) -> None:
        self._maybe("on_bar")
        if ctx.day == dt.date(2026, 1, 5):
            ctx.order(MAR, 1.0)

    def on_settle(self, ctx: Context) -> None:
        self._maybe("on_settle")

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        self._maybe("on_margin_call")

    def on_end(self, ctx: Context) -> None:
        self._maybe("on_end")


def _falling_market() -> Any:
    """March 2.000 on 5 and 6 Jan, settles 1.800 on 7 Jan: the position bought on 6 Jan
    (margin 200) loses 200 → a margin call at the 7 Jan settlement (event 8 Jan)."""
    bars = {"2026-01-05": (2.0, 2.0), "2026-01-06": (2.0, 2.0), "2026-01-07": (2.0, 1.8)}
    return make_market(spot_rows(days("2026-01-05", "2026-01-07")), fut_rows(MAR, bars))


@pytest.mark.parametrize("hook", list(HOOKS))
def test_a_raising_hook_is_a_strategy_error_naming_strategy_hook_and_event(
    hook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out"
    config = {"broker": FRICTIONLESS}
    with pytest.raises(StrategyError) as info:
        backtest(_falling_market(), Raises(hook), config=config, out=out)
    expected = f"strategy 'Raises' raised in {hook} {HOOKS[hook]}: RuntimeError: boom"
    assert str(info.value) == expected
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not out.exists()  # no partial output
    assert list(scratch.iterdir()) == []  # and no scratch files left behind


def test_a_registered_strategy_is_named_by_its_registered_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Any, ctx: Context) -> None:
        raise KeyError("TPI-2099-01")

    monkeypatch.setattr(Static, "on_settle", broken)
    with pytest.raises(
        StrategyError, match=r"^strategy 'static' raised in on_settle at 2026-01-06"
    ):
        backtest(_falling_market(), "static", params={"months": 1})


BOOM = '''
from tokbt.strategy import Strategy


class Boom(Strategy):
    """Raises at its third daily settlement."""

    def on_start(self, ctx):
        self.settled = 0

    def on_settle(self, ctx):
        self.settled += 1
        if self.settled == 3:
            raise ZeroDivisionError("h* blew up")
'''
BOOM_MESSAGE = (
    "strategy 'Boom' raised in on_settle at 2026-01-06T00:00:00.000000: "
    "ZeroDivisionError: h* blew up"
)
SIM = {"paths": 4, "horizon_days": 10, "seed": 1}


@pytest.fixture
def boom(tmp_path: Path) -> str:
    """A strategy plugin file that raises on 5 Jan (the third exchange day from 1 Jan)."""
    (tmp_path / "boom.py").write_text(BOOM)
    return f"{tmp_path / 'boom.py'}:Boom"


def test_compare_and_monte_carlo_report_a_failing_policy_and_return_nothing(
    boom: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = [{"name": "no_hedge"}, {"name": boom, "label": "boom"}]
    with pytest.raises(StrategyError, match="^" + re.escape(f"policy 'boom': {BOOM_MESSAGE}")):
        compare(CompareConfig.model_validate({"market": {"simulate": SIM}, "policies": policies}))
    attempts: list[int] = []
    run_job: Callable[[Job], str] = mc.run_job

    def counted(job: Job) -> str:
        attempts.append(job.lo)
        return run_job(job)

    monkeypatch.setattr(mc, "run_job", counted)
    config = McConfig.model_validate(
        {"market": {"simulate": SIM}, "policies": policies, "retries": 1}
    )
    out = tmp_path / "mc"
    with pytest.raises(ChunkError) as info:
        monte_carlo(config, out, executor=LocalExecutor(workers=1, retries=1))
    assert str(info.value) == (
        "chunk of cell 0, paths 0-3, failed after retries: "
        f"StrategyError: policy 'boom': {BOOM_MESSAGE}"
    )
    assert isinstance(info.value.__cause__, StrategyError)
    assert attempts == [0, 0]  # tried, retried once, then given up
    assert list(out.glob("cell-*/*")) == []  # no chunk file, no report
    assert not (out / "report.html").exists()


FUSSY = """
from tokbt.strategy import Strategy


class Fussy(Strategy):
    \"\"\"Raises at its second daily settlement when told to.\"\"\"

    class Params(Strategy.Params):
        fail: bool = False

    def on_start(self, ctx):
        self.settled = 0

    def on_settle(self, ctx):
        self.settled += 1
        if self.params.fail and self.settled == 2:
            raise ValueError("no quote")
"""


def test_a_failing_policy_is_named_by_its_label_among_policies_of_one_strategy(
    tmp_path: Path,
) -> None:
    # two policies of one strategy differ only by label and params: the error says which
    (tmp_path / "fussy.py").write_text(FUSSY)
    fussy = f"{tmp_path / 'fussy.py'}:Fussy"
    policies = [
        {"name": fussy, "label": "calm"},
        {"name": fussy, "label": "fussy", "params": {"fail": True}},
    ]
    config = CompareConfig.model_validate({"market": {"simulate": SIM}, "policies": policies})
    with pytest.raises(
        StrategyError, match=r"^policy 'fussy': strategy 'Fussy' raised in on_settle at "
    ):
        compare(config)


def test_the_cli_fails_cleanly_and_leaves_the_run_store_unchanged(
    boom: str, tmp_path: Path
) -> None:
    store = tmp_path / "runs.duckdb"
    runner = CliRunner()

    def toml(name: str, text: str) -> str:
        (tmp_path / name).write_text(text)
        return str(tmp_path / name)

    market = "[market.simulate]\npaths = 4\nhorizon_days = 10\nseed = 1\n"
    ok = runner.invoke(
        app,
        ["backtest", toml("ok.toml", market + '[strategy]\nname = "no_hedge"\n'),
         "--out", str(tmp_path / "ok"), "--store", str(store)],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    with RunStore(store, read_only=True) as rs:
        before = rs.runs()["run_id"].tolist()
    assert len(before) == 1
    policies = f'[[policies]]\nname = "no_hedge"\n[[policies]]\nname = "{boom}"\n'
    commands = {
        "backtest": [toml("bt.toml", market + f'[strategy]\nname = "{boom}"\n')],
        "compare": [toml("cmp.toml", market + policies)],
        "mc": [toml("mc.toml", "retries = 1\n" + market + policies), "--workers", "1"],
    }
    for command, args in commands.items():
        out = tmp_path / f"out-{command}"
        result = runner.invoke(app, [command, *args, "--out", str(out), "--store", str(store)])
        assert result.exit_code == 1, result.output
        assert BOOM_MESSAGE in result.output
        assert "saved as run" not in result.output
        reports = [out / name for name in ("report.html", "summary.md", "summary.json")]
        assert not any(p.exists() for p in reports), command
        assert not (out / "journal.parquet").exists()
    with RunStore(store, read_only=True) as rs:
        assert rs.runs()["run_id"].tolist() == before
