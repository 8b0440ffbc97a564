"""The ledger's models and the strategy's ``Context``, worked by hand.

Margin (``SpecMargin``, ``SpanMargin``), interest, the credit line, margin calls
and their deadlines, sweeps and buffers, the consumption price, final
settlement (last-day fixing, missing fixings), cascading quarters, and what a
strategy can see: the chain, history windows, look-ahead guards, the plan,
margin status, errors.

Markets are a few days of 2026 built by hand (pandas → Arrow → ``TableMarket``),
TPI month future (multiplier 1,000, tick $0.001, IM 10 % of notional,
MM = IM / 1.1) unless a test says otherwise, no spread. A daily bar of day ``d``
is known at ``d + 1`` 00:00; an order decided there fills at the open of the
bar of ``d + 1``, booked at ``d + 2`` 00:00. Prices in the margin-call stories
are binary-exact (4.000, 3.750) so every amount is exact.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from engine_markets import rows

from tokbt.data import Kind, TableMarket
from tokbt.engine import BrokerConfig, Context, Engine, LookAheadError, StrategyError
from tokbt.errors import DataError
from tokbt.ledger import LedgerConfig, MarginCall, SpanConfig, SpanMargin, SpecMargin
from tokbt.market import TPI_MONTH, ContractSpec, FinalSettlementRule, ListingRule
from tokbt.runs import Result, RunSettings, backtest

DEC25, JAN, FEB, MAR = "TPI-2025-12", "TPI-2026-01", "TPI-2026-02", "TPI-2026-03"
APR, MAY, JUN, Q2, FEB27 = "TPI-2026-04", "TPI-2026-05", "TPI-2026-06", "TPI-2026-Q2", "TPI-2027-02"
DAY = 86_400
FRICTIONLESS = BrokerConfig(liquidity=None)

# -- building markets ---------------------------------------------------------------------


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)


def days(start: str, end: str, *, business: bool = False) -> list[str]:
    index = pd.bdate_range(start, end) if business else pd.date_range(start, end)
    return [d.strftime("%Y-%m-%d") for d in index]


def spot_rows(
    prices: dict[str, float] | Iterable[str], paths: Iterable[int] = (0,), price: float = 2.0
) -> list[dict[str, Any]]:
    """Daily spot bars: day → close (or days at ``price``)."""
    closes = prices if isinstance(prices, dict) else dict.fromkeys(prices, price)
    return [
        {"ts": pd.Timestamp(d), "path": p, "open": v, "high": v, "low": v, "close": v}
        for d, v in closes.items() for p in paths
    ]  # fmt: skip


def fut_rows(
    code: str, bars: dict[str, tuple[float, float]], paths: Iterable[int] = (0,)
) -> list[dict[str, Any]]:
    """Daily futures bars: day → (open, settle); close = settle."""
    return [
        {"ts": pd.Timestamp(d), "path": p, "contract": code, "open": o, "high": max(o, s),
         "low": min(o, s), "close": s, "settle": s}
        for d, (o, s) in bars.items() for p in paths
    ]  # fmt: skip


def flat(on: Iterable[str], price: float) -> dict[str, tuple[float, float]]:
    return {d: (price, price) for d in on}


def make_market(
    spot: list[dict[str, Any]],
    futures: list[dict[str, Any]],
    *,
    consumption: list[dict[str, Any]] | None = None,
    spec: ContractSpec = TPI_MONTH,
    block_events: int = 4096,
) -> TableMarket:
    tables = {Kind.SPOT: _table(spot), Kind.FUTURES: _table(futures)}
    if consumption is not None:
        tables[Kind.CONSUMPTION] = _table(consumption)
    return TableMarket(
        spec,
        tables,
        name="models",
        bar_seconds=dict.fromkeys(tables, DAY),
        block_events=block_events,
    )


def _ts(day: str) -> pd.Timestamp:
    """Event time of a daily bar of ``day``: the next midnight."""
    return pd.Timestamp(day) + pd.Timedelta(days=1)


class Orders:
    """``order`` (or ``target``) contracts on given days (``ctx.day``); optional hooks."""

    def __init__(self, orders: dict[str, list[tuple[str, Any]]], *, verb: str = "order") -> None:
        self.orders = {dt.date.fromisoformat(k): v for k, v in orders.items()}
        self.verb = verb

    def on_bar(self, ctx: Context) -> None:
        for code, qty in self.orders.get(ctx.day, []):
            getattr(ctx, self.verb)(code, qty)


def run(
    market: TableMarket, strategy: object, ledger: LedgerConfig, broker: BrokerConfig = FRICTIONLESS
) -> Result:
    return backtest(market, strategy, config={"broker": broker, "ledger": ledger})


# -- margin models ------------------------------------------------------------------------


def test_spec_margin_is_a_fraction_of_notional() -> None:
    positions = np.array([[10.0, -5.0], [0.0, 0.0]])
    prices = np.array([[2.0, 3.0], [np.nan, np.nan]])
    # path 0: 0.10 × (10·1,000·2 + 5·1,000·3) = 0.10 × 35,000 = 3,500; MM = 3,500 / 1.1
    # path 1: no position (and no price) → nothing
    initial, maintenance = SpecMargin(TPI_MONTH).requirement(positions, prices)
    np.testing.assert_allclose(initial, [3500.0, 0.0])
    np.testing.assert_allclose(maintenance, [3500.0 / 1.1, 0.0])
    # a spec at 12 % and ratio 1.2: 0.12 × 35,000 = 4,200; MM 3,500
    custom = ContractSpec(initial_margin=0.12, maintenance_ratio=1.2)
    initial, maintenance = SpecMargin(custom).requirement(positions, prices)
    np.testing.assert_allclose(initial, [4200.0, 0.0])
    np.testing.assert_allclose(maintenance, [3500.0, 0.0])


def _ewma_vol(settles: list[float], cfg: SpanConfig) -> float:
    """σ̂ by numpy: EWMA of squared daily log settlement returns from initial_vol²."""
    var = cfg.initial_vol**2
    for r in np.diff(np.log(np.asarray(settles))):
        var = cfg.lam * var + (1 - cfg.lam) * r**2
    return float(np.sqrt(var))


def test_span_margin_scales_notional_by_the_ewma_volatility() -> None:
    cfg = SpanConfig(z=2.326, holding_days=2.0, add_on=1.25, lam=0.94, initial_vol=0.03)
    model = SpanMargin(TPI_MONTH, 2, 1, cfg)
    held = np.array([[4.0], [-4.0]])

    def im_at(price: float, vol: float) -> float:  # z · σ̂ · √h · |pos| · mult · F · add_on
        return 2.326 * vol * math.sqrt(2.0) * 4 * 1000 * price * 1.25

    price = np.array([[2.1], [2.1]])
    initial, maintenance = model.requirement(held, price)
    np.testing.assert_allclose(initial, [im_at(2.1, 0.03)] * 2)  # nothing observed yet
    np.testing.assert_allclose(maintenance, initial / 1.10)
    # path 0 settles every day; path 1 skips the second day (NaN: no settlement)
    path0 = [2.00, 2.10, 2.05, 2.20, 2.15]
    path1 = [2.00, np.nan, 1.90, 1.95, 2.00]
    for day, (a, b) in enumerate(zip(path0, path1, strict=True)):
        model.observe(np.array([0]), np.array([[a], [b]]))
        if day == 0:  # one settlement: still initial_vol
            np.testing.assert_allclose(model.requirement(held, price)[0], im_at(2.1, 0.03))
    initial, _ = model.requirement(held, price)
    expected = [
        im_at(2.1, _ewma_vol(path0, cfg)),
        im_at(2.1, _ewma_vol([2.00, 1.90, 1.95, 2.00], cfg)),  # the gap is one return
    ]
    np.testing.assert_allclose(initial, expected, rtol=1e-12)
    assert expected[0] != pytest.approx(im_at(2.1, 0.03))


def test_span_volatility_never_falls_below_floor_vol() -> None:
    # λ = 0.5, flat settlements: σ̂² = 0.25 × 0.03² after two zero returns → σ̂ = 0.015,
    # floored at 0.02: IM = 2.326 · 0.02 · √2 · 1 · 1,000 · 2.000 · 1.25
    cfg = SpanConfig(lam=0.5, initial_vol=0.03, floor_vol=0.02)
    model = SpanMargin(TPI_MONTH, 1, 1, cfg)
    for _ in range(3):
        model.observe(np.array([0]), np.array([[2.0]]))
    initial, _ = model.requirement(np.array([[1.0]]), np.array([[2.0]]))
    np.testing.assert_allclose(initial, [2.326 * 0.02 * math.sqrt(2) * 1000 * 2.0 * 1.25])


class MarginWatch(Orders):
    """Records ``ctx.margin`` after every settlement."""

    def __init__(self, orders: dict[str, list[tuple[str, Any]]], **kw: Any) -> None:
        super().__init__(orders, **kw)
        self.margins: list[tuple[dt.date, Any]] = []
        self.calls: list[tuple[dt.date, float]] = []

    def on_settle(self, ctx: Context) -> None:
        self.margins.append((ctx.day, ctx.margin))

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        self.calls.append((call.day, float(ctx.margin.call[0])))


def test_span_margin_in_a_run_follows_the_settlement_history() -> None:
    # MAR settles 2.000, 2.040, 1.990, 2.050, 2.010 on 5–9 Jan; 2 contracts bought at
    # the open of 6 Jan. After each settlement IM = z · σ̂ · √2 · 2 · 1,000 · settle · 1.25,
    # σ̂ the EWMA of the settlements so far (initial_vol until the second).
    settles = [2.000, 2.040, 1.990, 2.050, 2.010]
    on = days("2026-01-05", "2026-01-09")
    bars = {
        d: (settles[max(i - 1, 0)], s) for i, (d, s) in enumerate(zip(on, settles, strict=True))
    }
    market = make_market(spot_rows(on), fut_rows(MAR, bars))
    strategy = MarginWatch({"2026-01-05": [(MAR, 2.0)]})
    cfg = SpanConfig()
    engine = Engine(
        market, strategy, broker=FRICTIONLESS, ledger=LedgerConfig(margin_model="span")
    ).run()
    got = [float(m.initial[0]) for _, m in strategy.margins]
    held = [0, 2, 2, 2, 2]
    expected = [
        cfg.z * _ewma_vol(settles[: i + 1], cfg) * math.sqrt(2) * held[i] * 1000 * s * cfg.add_on
        for i, s in enumerate(settles)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the deposit at the fill: σ̂ = initial_vol (one settlement seen), F = fill price 2.000
    deposit = 2.326 * 0.03 * math.sqrt(2) * 2 * 1000 * 2.000 * 1.25
    journal = engine.ledger.journal.to_arrow()
    assert rows(journal, "deposit", "account", "amount") == [
        ("operating", round(-deposit, 9)),
        ("margin", round(deposit, 9)),
    ]


# -- interest -----------------------------------------------------------------------------

# Futures on Thu 8, Fri 9 and Mon 12 Jan; an order decided on Thursday's bar fills at
# Friday's open. Interest accrues at each settlement for the calendar days since the
# previous one (act/365): none at the first (8 Jan), 1 day on 9 Jan, 3 days on 12 Jan.
INTEREST_DAYS = ["2026-01-08", "2026-01-09", "2026-01-12"]


def test_interest_accrues_act_365_on_operating_and_margin_cash() -> None:
    # Treasury funding, $500 each. Path 0 buys 1 MAR at 2.000 (IM 200 → cash 300 > 0,
    # earns 5 %); path 1 buys 5 (IM 1,000 → cash −500 < 0, costs 8 %). Margin earns 2 %.
    market = make_market(
        spot_rows(days("2026-01-08", "2026-01-12"), paths=(0, 1)),
        fut_rows(MAR, flat(INTEREST_DAYS, 2.0), paths=(0, 1)),
    )
    ledger = LedgerConfig(initial_cash=500.0, cash_rate=0.05, funding_rate=0.08, margin_rate=0.02)
    result = run(market, Orders({"2026-01-08": [(MAR, np.array([1.0, 5.0]))]}), ledger)
    # 9 Jan, 1 day, accrued before that day's fill and deposit: both paths still hold
    # $500 of cash (5 %), nothing in margin
    op = 500 * 0.05 / 365
    # 12 Jan, 3 days (Fri → Mon), on the balances held over the weekend: cash 300 + op
    # (5 %) and −500 + op (8 %); margin 200 and 1,000 (2 %)
    op0b, op1b = (300 + op) * 0.05 * 3 / 365, (-500 + op) * 0.08 * 3 / 365
    mg0b, mg1b = 200 * 0.02 * 3 / 365, 1000 * 0.02 * 3 / 365
    fri, mon = _ts("2026-01-09"), _ts("2026-01-12")
    expected = [
        (fri, 0, "operating", op), (fri, 1, "operating", op),
        (mon, 0, "operating", op0b), (mon, 1, "operating", op1b),
        (mon, 0, "margin", mg0b), (mon, 1, "margin", mg1b),
    ]  # fmt: skip
    got = rows(result.journal, "interest", "ts", "path", "account", "amount")
    assert got == [(t, p, a, round(v, 9)) for t, p, a, v in expected]


def test_interest_is_charged_on_the_credit_line_drawn() -> None:
    # Limited funding, no cash, a $1,000 line at 10 %: the IM of 200 is drawn from the
    # line at the 9 Jan fill; interest accrues on what is drawn from then on.
    market = make_market(
        spot_rows(days("2026-01-08", "2026-01-12")), fut_rows(MAR, flat(INTEREST_DAYS, 2.0))
    )
    ledger = LedgerConfig(funding="limited", credit_line=1000.0, credit_rate=0.10)
    result = run(market, Orders({"2026-01-08": [(MAR, 1.0)]}), ledger)
    assert rows(result.journal, "deposit", "account", "amount") == [
        ("credit", -200.0),
        ("margin", 200.0),
    ]
    # drawn at the 9 Jan fill, after that day's accrual: 3 days of interest on Monday
    mon = -200 * 0.10 * 3 / 365
    assert rows(result.journal, "interest", "ts", "account", "amount") == [
        (_ts("2026-01-12"), "credit", round(mon, 9)),
    ]


# -- margin calls, credit, sweeps ---------------------------------------------------------

# 4 MAR bought at the open of 6 Jan at 4.000: IM 0.1 × 4 × 1,000 × 4 = 1,600.
# 7 Jan settles 3.750: VM 4 × 1,000 × −0.25 = −1,000 → margin 600 < MM 1,500 / 1.1
# → a call for IM 1,500 − 600 = 900, due 8 Jan (one exchange day).
CALL_DAYS = days("2026-01-05", "2026-01-09")


def call_market(day8: tuple[float, float]) -> TableMarket:
    bars = {
        "2026-01-05": (4.0, 4.0),
        "2026-01-06": (4.0, 4.0),
        "2026-01-07": (4.0, 3.75),
        "2026-01-08": day8,
    }
    return make_market(spot_rows(CALL_DAYS), fut_rows(MAR, bars))


BUY_4 = {"2026-01-05": [(MAR, 4.0)]}


def test_a_call_is_met_from_cash_then_the_credit_line_and_repaid_from_cash() -> None:
    # $1,800 cash → 200 left after the IM. The call of 900: 200 from cash, 700 drawn.
    # 8 Jan settles back at 4.000: VM +1,000 → margin 2,500 − IM 1,600 = 900 swept to
    # cash, which repays the 700 drawn.
    ledger = LedgerConfig(
        initial_cash=1800.0, funding="limited", credit_line=1000.0, sweep_excess=True
    )
    result = run(call_market((3.75, 4.0)), Orders(BUY_4), ledger)
    j = result.journal
    d6, d7, d8 = _ts("2026-01-06"), _ts("2026-01-07"), _ts("2026-01-08")
    assert rows(j, "variation_margin", "ts", "amount") == [(d7, -1000.0), (d8, 1000.0)]
    moves = [
        r
        for kind in ("deposit", "margin_call", "withdrawal", "repayment")
        for r in rows(j, kind, "ts", "kind", "account", "amount")
    ]
    assert moves == [
        (d6, "deposit", "operating", -1600.0),
        (d6, "deposit", "margin", 1600.0),
        (d7, "margin_call", "operating", -200.0),
        (d7, "margin_call", "margin", 200.0),
        (d7, "margin_call", "credit", -700.0),
        (d7, "margin_call", "margin", 700.0),
        (d8, "withdrawal", "margin", -900.0),
        (d8, "withdrawal", "operating", 900.0),
        (d8, "repayment", "operating", -700.0),
        (d8, "repayment", "credit", 700.0),
    ]
    assert rows(result.events, "margin_call", "ts", "amount", "detail") == [
        (d7, 900.0, "due 2026-01-08")
    ]
    assert rows(result.events, "liquidation", "ts") == []


@pytest.mark.parametrize(
    ("deadline", "liquidated_at"), [(0, "2026-01-07"), (1, "2026-01-08"), (2, "2026-01-09")]
)
def test_an_unpaid_call_liquidates_at_its_deadline(deadline: int, liquidated_at: str) -> None:
    # No money beyond the IM, no credit: the call of 900 stays unpaid. Deadline 0:
    # liquidated at once, at the 7 Jan settlement (3.750); 1 and 2: at the settlement that
    # many exchange days later (prices stay at 3.750; 9 Jan has no bar, settles 3.750 too).
    bars = {
        "2026-01-05": (4.0, 4.0),
        "2026-01-06": (4.0, 4.0),
        "2026-01-07": (4.0, 3.75),
        "2026-01-08": (3.75, 3.75),
        "2026-01-09": (3.75, 3.75),
    }
    market = make_market(spot_rows(days("2026-01-05", "2026-01-10")), fut_rows(MAR, bars))
    ledger = LedgerConfig(initial_cash=1600.0, funding="limited", call_deadline_days=deadline)
    result = run(market, Orders(BUY_4), ledger)
    due = (dt.date(2026, 1, 7) + dt.timedelta(days=deadline)).isoformat()
    assert rows(result.events, "margin_call", "ts", "detail") == [(_ts("2026-01-07"), f"due {due}")]
    assert rows(result.events, "liquidation", "ts", "detail") == [
        (_ts(liquidated_at), "margin call unmet by its deadline")
    ]
    assert rows(result.journal, "liquidation", "ts", "qty", "price") == [
        (_ts(liquidated_at), -4.0, 3.75)
    ]
    np.testing.assert_array_equal(result.final_positions, [[0.0]])


class CutOnCall(MarginWatch):
    """Closes the position when called."""

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        super().on_margin_call(ctx, call)
        ctx.target(MAR, 0.0)


def test_a_call_clears_when_the_strategy_cuts_its_position_before_the_deadline() -> None:
    # Called at the 7 Jan settlement (900, unpaid: no cash); the strategy targets 0 in
    # on_margin_call → sells 4 at the open of 8 Jan (3.750). At the 8 Jan settlement,
    # the deadline, IM is 0 ≤ the margin cash (600): the call clears, nothing is liquidated.
    ledger = LedgerConfig(initial_cash=1600.0, funding="limited")
    strategy = CutOnCall(BUY_4)
    engine = Engine(call_market((3.75, 3.75)), strategy, broker=FRICTIONLESS, ledger=ledger)
    engine.run()
    journal, events = engine.ledger.journal.to_arrow(), engine.ledger.events.to_arrow()
    assert rows(journal, "fill", "ts", "qty", "price") == [
        (_ts("2026-01-06"), 4.0, 4.0),
        (_ts("2026-01-08"), -4.0, 3.75),
    ]
    assert rows(events, "liquidation", "ts") == []
    assert strategy.calls == [(dt.date(2026, 1, 7), 900.0)]
    status = dict(strategy.margins)
    assert status[dt.date(2026, 1, 7)].call[0] == 900.0
    assert status[dt.date(2026, 1, 8)].call[0] == 0.0
    assert status[dt.date(2026, 1, 8)].balance[0] == 600.0


# -- margin calls as actions (LEAN's shape) ------------------------------------------------

# The unpaid call of 900 issued at the 7 Jan settlement (no cash beyond the IM, no credit)
# falls due at the 8 Jan settlement; prices stay at 3.750 through 9 Jan (no bar on 9 Jan:
# the mark stands). IM per contract at 3.750: 10 % × 1,000 × 3.750 = 375.
DUE_BARS = {
    "2026-01-05": (4.0, 4.0),
    "2026-01-06": (4.0, 4.0),
    "2026-01-07": (4.0, 3.75),
    "2026-01-08": (3.75, 3.75),
    "2026-01-09": (3.75, 3.75),
}
UNPAID = LedgerConfig(initial_cash=1600.0, funding="limited")


def due_market() -> TableMarket:
    return make_market(spot_rows(days("2026-01-05", "2026-01-10")), fut_rows(MAR, DUE_BARS))


def test_partial_calls_sell_only_the_share_that_restores_the_initial_margin() -> None:
    # 8 Jan: margin 600, IM 4 × 375 = 1,500. The share to sell: (1,500 − 600 / 1.0) / 1,500
    # = 0.6 of 4 contracts = 2.4 → 3 whole contracts. What is left, 1 contract, needs
    # 375 ≤ 600: the call ends, nothing else is liquidated, no fresh call.
    config = UNPAID.model_copy(update={"margin_call_model": "partial"})
    result = run(due_market(), Orders(BUY_4), config)
    assert rows(result.journal, "liquidation", "ts", "qty", "price") == [
        (_ts("2026-01-08"), -3.0, 3.75)
    ]
    assert rows(result.events, "liquidation", "ts") == [(_ts("2026-01-08"),)]
    assert rows(result.events, "margin_call", "ts") == [(_ts("2026-01-07"),)]
    np.testing.assert_array_equal(result.final_positions, [[1.0]])


class AmendOnce(MarginWatch):
    """Records each call's proposal (positions still held) and, the first time a call
    falls due, sells 2 contracts instead of what the model proposes."""

    def __init__(self, orders: dict[str, list[tuple[str, Any]]], sell: float = -2.0) -> None:
        super().__init__(orders)
        self.sell = sell
        self.proposals: list[tuple[dt.date, list[bool], list[list[float]], float]] = []

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        super().on_margin_call(ctx, call)
        held = float(ctx.position(MAR)[0])
        self.proposals.append((call.day, call.due.tolist(), call.liquidation.tolist(), held))
        if call.due.any() and len([p for p in self.proposals if any(p[1])]) == 1:
            call.liquidation[0, call.contracts.index(MAR)] = self.sell


def test_on_margin_call_amends_the_proposed_liquidation_before_it_executes() -> None:
    # 7 Jan: the call is issued (nothing due). 8 Jan: it falls due; the model proposes to
    # sell all 4, which the hook sees while the 4 are still held; it sells 2 instead.
    # IM of the 2 left: 750 > margin 600, so the call keeps running (900 outstanding) and
    # falls due again at the 9 Jan settlement, where the proposal (−2) stands.
    strategy = AmendOnce(BUY_4)
    engine = Engine(due_market(), strategy, broker=FRICTIONLESS, ledger=UNPAID).run()
    assert strategy.proposals == [
        (dt.date(2026, 1, 7), [False], [[0.0]], 4.0),
        (dt.date(2026, 1, 8), [True], [[-4.0]], 4.0),
        (dt.date(2026, 1, 9), [True], [[-2.0]], 2.0),
    ]
    journal, events = engine.ledger.journal.to_arrow(), engine.ledger.events.to_arrow()
    assert rows(journal, "liquidation", "ts", "qty", "price") == [
        (_ts("2026-01-08"), -2.0, 3.75),
        (_ts("2026-01-09"), -2.0, 3.75),
    ]
    assert rows(events, "liquidation", "ts") == [(_ts("2026-01-08"),), (_ts("2026-01-09"),)]
    status = dict(strategy.margins)
    assert status[dt.date(2026, 1, 8)].call[0] == 900.0
    assert status[dt.date(2026, 1, 9)].call[0] == 0.0
    np.testing.assert_array_equal(engine.ledger.positions, [[0.0]])


def test_dropping_every_liquidation_order_keeps_the_call_due() -> None:
    # Sell nothing on 8 Jan: the call stays, and the 9 Jan settlement liquidates all 4.
    strategy = AmendOnce(BUY_4, sell=0.0)
    engine = Engine(due_market(), strategy, broker=FRICTIONLESS, ledger=UNPAID).run()
    journal = engine.ledger.journal.to_arrow()
    assert rows(journal, "liquidation", "ts", "qty") == [(_ts("2026-01-09"), -4.0)]


@pytest.mark.parametrize(
    ("sell", "message"),
    [
        (1.0, r"\(1.0, with 4.0 held\) may only reduce it"),
        (-5.0, "may only reduce it"),
        (-1.5, "must be in whole contracts"),
        (np.nan, "is not a finite number"),
    ],
)
def test_an_amendment_that_does_not_reduce_a_due_position_is_the_strategys_error(
    sell: float, message: str
) -> None:
    strategy = AmendOnce(BUY_4, sell=sell)
    with pytest.raises(StrategyError) as raised:
        Engine(due_market(), strategy, broker=FRICTIONLESS, ledger=UNPAID).run()
    assert re.search(f"on_margin_call at 2026-01-09.*path 0 in {MAR}", str(raised.value))
    assert re.search(message, str(raised.value))


def test_the_three_models_are_chosen_in_the_config() -> None:
    settings = RunSettings.model_validate(
        tomllib.loads(
            '[ledger]\nmargin_model = "span"\nsettlement_model = "daily"\n'
            'margin_call_model = "partial"\n'
        )
    )
    engine = Engine(due_market(), Orders(BUY_4), broker=FRICTIONLESS, ledger=settings.ledger)
    assert type(engine.ledger.margin).__name__ == "SpanMargin"
    assert type(engine.ledger.settlement).__name__ == "DailySettlement"
    assert type(engine.ledger.calls).__name__ == "PartialMarginCalls"
    with pytest.raises(ValueError, match="margin_call_model"):
        LedgerConfig.model_validate({"margin_call_model": "lenient"})


def test_margin_status_fields() -> None:
    ledger = LedgerConfig(initial_cash=1600.0, funding="limited")
    strategy = MarginWatch(BUY_4)
    Engine(call_market((3.75, 3.75)), strategy, broker=FRICTIONLESS, ledger=ledger).run()
    status = dict(strategy.margins)
    # 6 Jan: 1,600 deposited, IM 1,600, MM 1,600 / 1.1, no excess, no call
    s6 = status[dt.date(2026, 1, 6)]
    np.testing.assert_allclose(
        [s6.balance[0], s6.initial[0], s6.maintenance[0], s6.excess[0], s6.call[0]],
        [1600.0, 1600.0, 1600.0 / 1.1, 0.0, 0.0],
    )
    # 7 Jan: margin 600, IM at 3.750 = 1,500, excess −900, a call of 900 outstanding
    s7 = status[dt.date(2026, 1, 7)]
    np.testing.assert_allclose(
        [s7.balance[0], s7.initial[0], s7.maintenance[0], s7.excess[0], s7.call[0]],
        [600.0, 1500.0, 1500.0 / 1.1, -900.0, 900.0],
    )


@pytest.mark.parametrize("sweep", [True, False])
def test_margin_buffer_tops_up_above_im_and_sweep_withdraws_the_excess(sweep: bool) -> None:
    # Buffer 25 %: the deposit for IM 1,600 is 2,000. 7 Jan settles 4.250: VM +1,000
    # → margin 3,000; IM 1,700 × 1.25 = 2,125 → 875 swept out (sweep on).
    # 8 Jan settles 4.000: VM −1,000 → 1,125 < MM 1,600 / 1.1 → a call back to
    # 1,600 × 1.25 = 2,000: 875. Without the sweep: 2,000 ≥ MM, no call.
    bars = {
        "2026-01-05": (4.0, 4.0),
        "2026-01-06": (4.0, 4.0),
        "2026-01-07": (4.0, 4.25),
        "2026-01-08": (4.25, 4.0),
    }
    market = make_market(spot_rows(CALL_DAYS), fut_rows(MAR, bars))
    ledger = LedgerConfig(margin_buffer=0.25, sweep_excess=sweep)
    result = run(market, Orders(BUY_4), ledger)
    j = result.journal
    d6, d7, d8 = _ts("2026-01-06"), _ts("2026-01-07"), _ts("2026-01-08")
    assert rows(j, "deposit", "ts", "account", "amount") == [
        (d6, "operating", -2000.0),
        (d6, "margin", 2000.0),
    ]
    if sweep:
        assert rows(j, "withdrawal", "ts", "account", "amount") == [
            (d7, "margin", -875.0),
            (d7, "operating", 875.0),
        ]
        assert rows(j, "margin_call", "ts", "account", "amount") == [
            (d8, "operating", -875.0),
            (d8, "margin", 875.0),
        ]
    else:
        assert rows(j, "withdrawal", "ts") == []
        assert rows(j, "margin_call", "ts") == []


@pytest.mark.parametrize(
    ("markup", "basis", "price"),
    [(0.0, 0.0, 2.0), (0.2, 0.0, 2.4), (0.2, 0.05, 2.45), (0.0, -0.1, 1.9)],
)
def test_consumption_price_is_index_times_markup_plus_basis(
    markup: float, basis: float, price: float
) -> None:
    # 100 M tokens on 5 Jan at the day's index 2.000 × (1 + markup) + basis
    on = days("2026-01-05", "2026-01-06")
    consumption = [{"ts": pd.Timestamp("2026-01-05"), "path": 0, "tokens": 100.0}]
    market = make_market(spot_rows(on), fut_rows(MAR, flat(on, 2.0)), consumption=consumption)
    ledger = LedgerConfig(consumption_markup=markup, consumption_basis=basis)
    result = run(market, Orders({}), ledger)
    assert rows(result.journal, "consumption", "ts", "account", "qty", "price", "amount") == [
        (_ts("2026-01-05"), "operating", 100.0, price, round(-100.0 * price, 9))
    ]


# -- final settlement ---------------------------------------------------------------------

FIXING = ContractSpec(final_settlement=FinalSettlementRule.LAST_DAY_FIXING)


def test_last_day_fixing_settles_at_the_index_on_the_last_trading_day() -> None:
    # JAN's last trading day is Fri 30 Jan; the index closes 2.123 that day. 2 JAN bought
    # at the open of 27 Jan (2.100), settling 2.100 daily: on 30 Jan, after variation
    # margin, the position is closed at 2.123: 2 × 1,000 × (2.123 − 2.100) = 46.
    index = dict.fromkeys(days("2026-01-26", "2026-02-02"), 2.0)
    index["2026-01-30"] = 2.123
    market = make_market(
        spot_rows(index),
        fut_rows(JAN, flat(days("2026-01-26", "2026-01-30", business=True), 2.1))
        + fut_rows(FEB, flat(days("2026-01-26", "2026-02-02", business=True), 2.2)),
        spec=FIXING,
    )
    assert FIXING.contract(JAN).final_settlement_date == dt.date(2026, 1, 30)
    result = run(market, Orders({"2026-01-26": [(JAN, 2.0)]}), LedgerConfig())
    assert rows(result.journal, "final_settlement", "ts", "contract", "qty", "price", "amount") == [
        (_ts("2026-01-30"), JAN, -2.0, 2.123, 46.0)
    ]
    np.testing.assert_array_equal(result.final_positions, [[0.0, 0.0]])


@pytest.mark.parametrize(
    ("spec", "gap", "message"),
    [
        (TPI_MONTH, ["2026-01-10", "2026-01-11"], "on 2026-01-10, 2026-01-11, which"),
        (FIXING, ["2026-01-30"], "on 2026-01-30, which"),
    ],
)
def test_a_final_settlement_without_its_fixings_raises_naming_the_dates(
    spec: ContractSpec, gap: list[str], message: str
) -> None:
    # the delivery average needs the index on every day of January; the last-day
    # fixing the index on 30 Jan. The spot bars of the ``gap`` days are missing.
    on = [d for d in days("2026-01-01", "2026-02-02") if d not in gap]
    market = make_market(
        spot_rows(on),
        fut_rows(JAN, flat(days("2026-01-26", "2026-01-30", business=True), 2.0))
        + fut_rows(FEB, flat(days("2026-01-26", "2026-02-02", business=True), 2.0)),
        spec=spec,
    )
    with pytest.raises(DataError, match=message):
        run(market, Orders({"2026-01-26": [(JAN, 1.0)]}), LedgerConfig())


# -- cascading ----------------------------------------------------------------------------

QUARTERS = ContractSpec(listing=ListingRule(months=3, quarters=1))


def cascade_market(months: tuple[str, ...] = (APR, MAY, JUN)) -> TableMarket:
    # Q2 2026 trades until Tue 31 Mar, the business day before its delivery starts;
    # it settles 2.200 until 30 Mar and 2.210 on 31 Mar. Its months settle flat at
    # 2.100, 2.200 and 2.300 from 26 Mar to 2 Apr.
    q2 = {"2026-03-26": (2.2, 2.2), "2026-03-27": (2.2, 2.2), "2026-03-30": (2.2, 2.2),
          "2026-03-31": (2.2, 2.21)}  # fmt: skip
    on = days("2026-03-26", "2026-04-02", business=True)
    months_rows = [
        row
        for code, price in zip((APR, MAY, JUN), (2.1, 2.2, 2.3), strict=True)
        if code in months
        for row in fut_rows(code, flat(on, price))
    ]
    return make_market(
        spot_rows(days("2026-03-26", "2026-04-02")), fut_rows(Q2, q2) + months_rows, spec=QUARTERS
    )


def test_a_quarter_cascades_into_its_three_months_at_its_last_trading_day() -> None:
    assert QUARTERS.contract(Q2).cascades_into == (APR, MAY, JUN)
    assert QUARTERS.contract(Q2).last_trading_day == dt.date(2026, 3, 31)
    # 3 Q2 bought at the open of 27 Mar (2.200). At the 31 Mar settlement (2.210): VM
    # 3 × 1,000 × 0.010 = 30, then the quarter becomes 3 of each month at 2.210.
    result = run(cascade_market(), Orders({"2026-03-26": [(Q2, 3.0)]}), LedgerConfig())
    end = _ts("2026-03-31")
    assert rows(result.journal, "fill", "ts", "contract", "qty", "price") == [
        (_ts("2026-03-27"), Q2, 3.0, 2.2),
        (end, Q2, -3.0, 2.21),
        (end, APR, 3.0, 2.21),
        (end, MAY, 3.0, 2.21),
        (end, JUN, 3.0, 2.21),
    ]
    # Next day the months are marked from 2.210 to their own settlements:
    # 3 × 1,000 × (2.100 − 2.210) = −330, (2.200 − 2.210) → −30, (2.300 − 2.210) → +270.
    assert rows(result.journal, "variation_margin", "ts", "contract", "amount") == [
        (end, Q2, 30.0),
        (_ts("2026-04-01"), APR, -330.0),
        (_ts("2026-04-01"), MAY, -30.0),
        (_ts("2026-04-01"), JUN, 270.0),
    ]
    positions = result.positions.to_pandas()
    after = positions[positions.ts == end].set_index("contract").qty.to_dict()
    assert after == {APR: 3.0, MAY: 3.0, JUN: 3.0}
    assert rows(result.journal, "final_settlement", "ts") == []  # quarters never settle


def test_a_cascade_into_a_month_without_bars_is_refused() -> None:
    market = cascade_market(months=(APR, MAY))
    with pytest.raises(ValueError, match=f"{Q2} cascades into {JUN}, which has no bars"):
        run(market, Orders({"2026-03-26": [(Q2, 3.0)]}), LedgerConfig())


# -- the context ----------------------------------------------------------------------------


class See:
    """Calls ``look(ctx)`` at every event and keeps what it returns, by ``ctx.day``
    (the last event of a day wins) — copies, not views."""

    def __init__(self, look: Any) -> None:
        self.look = look
        self.seen: dict[dt.date, Any] = {}

    def on_bar(self, ctx: Context) -> None:
        self.seen[ctx.day] = self.look(ctx)


def replay(market: TableMarket, look: Any, **kw: Any) -> dict[dt.date, Any]:
    strategy = See(look)
    Engine(market, strategy, broker=FRICTIONLESS, **kw).run()
    return strategy.seen


def test_chain_lists_live_months_in_delivery_order() -> None:
    # On Mon 26 Jan 2026: DEC25 expired (31 Dec), FEB27 lists only on 2 Mar; live with
    # bars: JAN, FEB, MAR, whose last trading days are Fri 30 Jan, Fri 27 Feb and
    # Tue 31 Mar: 4, 24 (5 + 19) and 46 (5 + 20 + 21) business days away.
    on = ["2026-01-26"]
    market = make_market(
        spot_rows(on),
        fut_rows(DEC25, flat(["2025-12-31"], 2.0))
        + [r for c in (JAN, FEB, MAR, FEB27) for r in fut_rows(c, flat(on, 2.0))],
    )
    seen = replay(market, lambda ctx: ctx.chain)
    chain = seen[dt.date(2026, 1, 26)]
    assert chain.codes == (JAN, FEB, MAR)
    assert chain.days_to_expiry == (4, 24, 46)
    assert (chain.front, chain.next) == (JAN, FEB)
    assert chain.delivering(2026, 2) == FEB
    assert chain.delivering(2026, 4) is None
    # nearby skips contracts fewer than roll_days business days from expiry
    assert chain.nearby(0, roll_days=4) == JAN
    assert chain.nearby(0, roll_days=5) == FEB
    assert chain.nearby(1, roll_days=5) == MAR
    assert chain.nearby(2, roll_days=5) is None


@pytest.mark.parametrize("block_events", [2, 4096])
def test_history_windows_pad_with_nan_and_are_read_only(block_events: int) -> None:
    # spot closes 2.001, 2.002, ... on 5, 6, ... Jan; windows of 3 events
    on = days("2026-01-05", "2026-01-09")
    market = make_market(
        spot_rows({d: 2.0 + (i + 1) / 1000 for i, d in enumerate(on)}),
        fut_rows(MAR, {d: (2.0, 2.0 + (i + 1) / 100) for i, d in enumerate(on)}),
        block_events=block_events,
    )
    arrays: list[np.ndarray] = []

    def look(ctx: Context) -> tuple[np.ndarray, ...]:
        windows = (
            ctx.spot("close", window=3),
            ctx.futures(MAR, "settle", window=2),
            ctx.nearby(0, "settle", window=2),
            ctx.spot("close", lag=1),
        )
        arrays.extend(windows)
        arrays.extend([ctx.positions, ctx.cash(), ctx.consumed])
        return tuple(np.array(w) for w in windows)

    seen = replay(market, look)
    spot3, mar2, near2, lag1 = seen[dt.date(2026, 1, 5)]
    np.testing.assert_array_equal(spot3, [[np.nan], [np.nan], [2.001]])
    np.testing.assert_array_equal(mar2, [[np.nan], [2.01]])
    np.testing.assert_array_equal(near2, [[np.nan], [2.01]])  # MAR is the only month
    np.testing.assert_array_equal(lag1, [np.nan])
    spot3, mar2, _, lag1 = seen[dt.date(2026, 1, 8)]
    np.testing.assert_array_equal(spot3, [[2.002], [2.003], [2.004]])
    np.testing.assert_array_equal(mar2, [[2.03], [2.04]])
    np.testing.assert_array_equal(lag1, [2.003])
    assert arrays
    assert not any(a.flags.writeable for a in arrays)


def test_nearby_switches_contract_on_the_roll_date() -> None:
    # JAN settles 1.0dd, FEB 2.0dd on 26–29 Jan (dd = the day). Rolling 2 business days
    # before JAN's last trading day (Fri 30 Jan): JAN counts through Wed 28 Jan.
    on = days("2026-01-26", "2026-01-29")
    market = make_market(
        spot_rows(on),
        fut_rows(JAN, {d: (1.0, 1.0 + int(d[-2:]) / 1000) for d in on})
        + fut_rows(FEB, {d: (2.0, 2.0 + int(d[-2:]) / 1000) for d in on}),
    )

    def look(ctx: Context) -> tuple[Any, ...]:
        return (
            np.array(ctx.nearby(0, window=4, roll_days=2)),
            np.array(ctx.nearby(0, window=4)),
            np.array(ctx.nearby(1, window=4, roll_days=2)),
            ctx.chain.nearby(0, roll_days=2),
        )

    rolled, unrolled, second, code = replay(market, look)[dt.date(2026, 1, 29)]
    np.testing.assert_array_equal(rolled, [[1.026], [1.027], [1.028], [2.029]])
    np.testing.assert_array_equal(unrolled, [[1.026], [1.027], [1.028], [1.029]])
    np.testing.assert_array_equal(second, [[2.026], [2.027], [2.028], [np.nan]])  # MAR: no bars
    assert code == FEB


@pytest.mark.parametrize("block_events", [1, 4096])
def test_futures_of_a_contract_without_bars_yet_is_nan(block_events: int) -> None:
    on = days("2026-01-05", "2026-01-07")
    market = make_market(
        spot_rows(on),
        fut_rows(FEB, flat(on, 2.0)) + fut_rows(MAR, flat(["2026-01-07"], 2.5)),
        block_events=block_events,
    )
    seen = replay(
        market, lambda ctx: (np.array(ctx.futures(MAR)), np.array(ctx.futures(MAR, window=2)))
    )
    now, window = seen[dt.date(2026, 1, 5)]
    np.testing.assert_array_equal(now, [np.nan])
    np.testing.assert_array_equal(window, [[np.nan], [np.nan]])
    now, window = seen[dt.date(2026, 1, 7)]
    np.testing.assert_array_equal(now, [2.5])
    np.testing.assert_array_equal(window, [[np.nan], [2.5]])


@pytest.mark.parametrize(
    "peek",
    [
        lambda ctx: ctx.spot(lag=-1),
        lambda ctx: ctx.futures(MAR, lag=-1),
        lambda ctx: ctx.nearby(0, lag=-1),
        lambda ctx: ctx.consumption(lag=-1),
        lambda ctx: ctx.index(ctx.day + dt.timedelta(days=1)),
    ],
)
def test_reading_the_future_raises_lookahead(peek: Any) -> None:
    on = days("2026-01-05", "2026-01-07")
    market = make_market(spot_rows(on), fut_rows(MAR, flat(on, 2.0)))
    with pytest.raises(LookAheadError):
        replay(market, peek)


def test_index_is_the_close_of_each_day_up_to_today() -> None:
    on = days("2026-01-05", "2026-01-07")
    market = make_market(
        spot_rows({d: 2.0 + i / 10 for i, d in enumerate(on)}), fut_rows(MAR, flat(on, 2.0))
    )

    def look(ctx: Context) -> tuple[float, float, float]:
        today, first = ctx.day, dt.date(2026, 1, 5)
        return float(ctx.index()[0]), float(ctx.index(today)[0]), float(ctx.index(first)[0])

    seen = replay(market, look)
    assert seen[dt.date(2026, 1, 5)] == (2.0, 2.0, 2.0)
    assert seen[dt.date(2026, 1, 7)] == (2.2, 2.2, 2.0)


def test_plan_sums_the_forecast_including_future_days() -> None:
    # planned tokens: 100, 200, 300, 400 on 5–8 Jan for path 0, twice that for path 1
    on = days("2026-01-05", "2026-01-08")
    consumption = [
        {"ts": pd.Timestamp(d), "path": p, "tokens": 0.0, "plan": 100.0 * (i + 1) * (p + 1)}
        for i, d in enumerate(on)
        for p in (0, 1)
    ]
    market = make_market(
        spot_rows(on, paths=(0, 1)),
        fut_rows(MAR, flat(on, 2.0), paths=(0, 1)),
        consumption=consumption,
    )
    D = dt.date

    def look(ctx: Context) -> list[list[float]]:
        return [
            ctx.plan(D(2026, 1, 5), D(2026, 1, 8)).tolist(),
            ctx.plan(D(2026, 1, 6), D(2026, 1, 7)).tolist(),
            ctx.plan(D(2026, 1, 8), D(2026, 1, 31)).tolist(),
            ctx.plan(D(2026, 2, 1), D(2026, 2, 28)).tolist(),
        ]

    seen = replay(market, look)
    assert seen[D(2026, 1, 5)] == [[1000.0, 2000.0], [500.0, 1000.0], [400.0, 800.0], [0.0, 0.0]]


class Boom:
    def on_bar(self, ctx: Context) -> None:
        if ctx.day == dt.date(2026, 1, 6):
            raise ValueError("no data for that")


def test_a_strategy_raising_gives_strategy_error_naming_it_and_the_time() -> None:
    on = days("2026-01-05", "2026-01-07")
    market = make_market(spot_rows(on), fut_rows(MAR, flat(on, 2.0)))
    with pytest.raises(StrategyError) as info:
        run(market, Boom(), LedgerConfig())
    message = str(info.value)
    assert "strategy 'Boom' raised in on_bar at 2026-01-07T00:00" in message
    assert "ValueError: no data for that" in message
    assert isinstance(info.value.__cause__, ValueError)


def test_the_metrics_count_a_cascaded_quarter_as_carried_not_rolled() -> None:
    result = run(cascade_market(), Orders({"2026-03-26": [(Q2, 3.0)]}), LedgerConfig())
    assert result.metrics is not None
    m = result.metrics.columns
    assert m["roll_pnl"].tolist() == result.paths["roll_pnl"].to_pylist() == [0.0]
    assert m["futures_pnl"] == pytest.approx([-60.0])
    assert m["variation_margin"] == pytest.approx([-60.0])
