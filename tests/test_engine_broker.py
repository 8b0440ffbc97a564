"""The broker: prices (spread, depth, impact, slippage, ticks), fees, sizes, fill
rules, limit-locked bars, rejections, and the pending-order verbs.

Every market is a few days of January 2026 built by hand (pandas → Arrow →
``TableMarket``), TPI month future (multiplier 1,000, tick $0.001). A daily bar
of day ``d`` is known at ``d + 1`` 00:00 — the event that carries it — so an
order decided there (``ctx.day == d``) fills, by default, at the open of the
bar of ``d + 1``, booked at ``d + 2`` 00:00. Numbers are worked by hand in the
comments; assertions are exact on journal and event rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from engine_markets import rows

from tokbt.data import Kind, TableMarket
from tokbt.engine import BrokerConfig, Context, Engine, LiquidityConfig
from tokbt.ledger import LedgerConfig
from tokbt.market import TPI_MONTH
from tokbt.runs import Result, backtest

DEC25, JAN, FEB, MAR = "TPI-2025-12", "TPI-2026-01", "TPI-2026-02", "TPI-2026-03"
JUN, FEB27 = "TPI-2026-06", "TPI-2027-02"
DAY = 86_400
FRICTIONLESS = BrokerConfig(liquidity=None)

# -- building markets ---------------------------------------------------------------------


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)


def spot_rows(
    days: Iterable[str],
    price: float = 2.0,
    paths: Iterable[int] = (0,),
    hours: Iterable[int] = (0,),
) -> list[dict[str, Any]]:
    """Spot bars at ``price`` starting at each of ``hours`` of each day."""
    return [
        {"ts": pd.Timestamp(d) + pd.Timedelta(hours=h), "path": p, "open": price,
         "high": price, "low": price, "close": price}
        for d in days for h in hours for p in paths
    ]  # fmt: skip


def fut_rows(
    code: str,
    bars: dict[str, tuple[float, float]],
    paths: Iterable[int] = (0,),
    locked: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Daily futures bars: day → (open, settle); close = settle."""
    shut = set(locked)
    return [
        {"ts": pd.Timestamp(d), "path": p, "contract": code, "open": o, "high": max(o, s),
         "low": min(o, s), "close": s, "settle": s, "limit_locked": d in shut}
        for d, (o, s) in bars.items() for p in paths
    ]  # fmt: skip


def make_market(
    spot: list[dict[str, Any]], futures: list[dict[str, Any]], *, spot_seconds: int = DAY
) -> TableMarket:
    return TableMarket(
        TPI_MONTH,
        {Kind.SPOT: _table(spot), Kind.FUTURES: _table(futures)},
        name="broker",
        bar_seconds={Kind.SPOT: spot_seconds, Kind.FUTURES: DAY},
    )


def flat(days: Iterable[str], price: float = 2.0) -> dict[str, tuple[float, float]]:
    """Bars that open and settle at ``price`` every day."""
    return {d: (price, price) for d in days}


JAN_5_7 = ["2026-01-05", "2026-01-06", "2026-01-07"]


def _ts(day: str) -> pd.Timestamp:
    """Event time of a daily bar of ``day``: the next midnight."""
    return pd.Timestamp(day) + pd.Timedelta(days=1)


# -- strategies ---------------------------------------------------------------------------

Action = tuple[str, str | None, Any]  # (verb, contract, qty per path or a callable ctx -> qty)


class Timed:
    """At given event times (``ctx.now``), ``order`` / ``target`` / ``cancel``."""

    def __init__(self, actions: dict[str, list[Action]]) -> None:
        self.actions = {pd.Timestamp(k): v for k, v in actions.items()}

    def on_bar(self, ctx: Context) -> None:
        for verb, code, qty in self.actions.get(pd.Timestamp(ctx.now), []):
            if verb == "cancel":
                ctx.cancel(code)
            else:
                assert code is not None
                getattr(ctx, verb)(code, qty(ctx) if callable(qty) else qty)


class EveryEvent:
    """Calls ``act(ctx)`` at every event."""

    def __init__(self, act: Callable[[Context], None]) -> None:
        self.act = act

    def on_bar(self, ctx: Context) -> None:
        self.act(ctx)


def run(
    market: TableMarket,
    strategy: object,
    broker: BrokerConfig = FRICTIONLESS,
    ledger: LedgerConfig | None = None,
) -> Result:
    return backtest(market, strategy, config={"broker": broker, "ledger": ledger or LedgerConfig()})


def fills(result: Result) -> list[tuple[Any, ...]]:
    return rows(result.journal, "fill", "ts", "path", "contract", "qty", "price")


# -- prices -------------------------------------------------------------------------------


def test_half_spread_grows_with_months_to_delivery_and_rounds_against_the_order() -> None:
    # Fills on 6 Jan: JAN is the delivery month (m = 0), MAR is m = 2 months out.
    # Half-spread = 1 + 0.3·m ticks: JAN 1 tick → 2.001 / 1.999; MAR 1.6 ticks =
    # 0.0016 → 2.0016 rounds *up* to 2.002 for the buy, 1.9984 *down* to 1.998 for
    # the sell (rounding never favours the order).
    market = make_market(
        spot_rows(JAN_5_7, paths=(0, 1)),
        fut_rows(JAN, flat(JAN_5_7), (0, 1)) + fut_rows(MAR, flat(JAN_5_7), (0, 1)),
    )
    liquidity = LiquidityConfig(
        half_spread_ticks=1.0, half_spread_per_month=0.3, depth=1e6, impact_bps=0.0
    )
    side = np.array([1.0, -1.0])  # path 0 buys, path 1 sells
    strategy = Timed({"2026-01-06": [("order", JAN, side), ("order", MAR, side)]})
    result = run(market, strategy, BrokerConfig(liquidity=liquidity))
    t = _ts("2026-01-06")
    assert fills(result) == [
        (t, 0, JAN, 1.0, 2.001),
        (t, 1, JAN, -1.0, 1.999),
        (t, 0, MAR, 1.0, 2.002),
        (t, 1, MAR, -1.0, 1.998),
    ]
    # what the fills gave up, per path (× 1,000 tokens a contract): JAN 1 tick of spread,
    # on the grid already; MAR 1.6 ticks of spread (1.6 USD) and 0.4 of a tick to the grid
    paths = result.paths.to_pandas()
    assert paths["fills"].tolist() == [2, 2]
    np.testing.assert_allclose(paths["execution_cost"], [2.6, 2.6], rtol=1e-9)
    np.testing.assert_allclose(paths["tick_cost"], [0.4, 0.4], rtol=1e-9)


def test_orders_beyond_depth_pay_square_root_impact() -> None:
    # No spread; impact = 50 bps · 2.000 · √((|q| − depth) / depth).
    # JAN (m = 0, depth 10): ±40 → √3 → 0.01732051 → 2.01732 up to 2.018, 1.98268
    # down to 1.982; 10 contracts (= depth) pay nothing → 2.000.
    # MAR (m = 2, depth 10 · 0.5² = 2.5): ±5 → √1 → 0.010 → 2.010 / 1.990.
    paths = (0, 1, 2)
    market = make_market(
        spot_rows(JAN_5_7, paths=paths),
        fut_rows(JAN, flat(JAN_5_7), paths) + fut_rows(MAR, flat(JAN_5_7), paths),
    )
    liquidity = LiquidityConfig(
        half_spread_ticks=0.0, half_spread_per_month=0.0, depth=10.0, depth_decay=0.5,
        impact_bps=50.0,
    )  # fmt: skip
    strategy = Timed(
        {
            "2026-01-06": [
                ("order", JAN, np.array([40.0, -40.0, 10.0])),
                ("order", MAR, np.array([5.0, -5.0, 0.0])),
            ]
        }
    )
    result = run(market, strategy, BrokerConfig(liquidity=liquidity))
    t = _ts("2026-01-06")
    assert fills(result) == [
        (t, 0, JAN, 40.0, 2.018),
        (t, 1, JAN, -40.0, 1.982),
        (t, 2, JAN, 10.0, 2.0),
        (t, 0, MAR, 5.0, 2.01),
        (t, 1, MAR, -5.0, 1.99),
    ]
    # impact paid: 40,000 tokens × 0.01732051 + 5,000 × 0.010; the grid: 40,000 × (2.018 −
    # 2.01732051); 10 contracts at the depth pay nothing
    impact = 40_000 * 0.01 * np.sqrt(3) + 5_000 * 0.010
    grid = 40_000 * (0.018 - 0.01 * np.sqrt(3))
    paths = result.paths.to_pandas()
    assert paths["fills"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(paths["execution_cost"], [impact, impact, 0.0], atol=1e-6)
    np.testing.assert_allclose(paths["tick_cost"], [grid, grid, 0.0], atol=1e-6)


def test_slippage_ticks_add_and_fees_are_per_contract() -> None:
    # 2 ticks of slippage each way, no spread: buy 10 at 2.002, sell 4 at 1.998;
    # fees $1.50 per contract: −15 and −6 on the margin account.
    market = make_market(spot_rows(JAN_5_7, paths=(0, 1)), fut_rows(MAR, flat(JAN_5_7), (0, 1)))
    broker = BrokerConfig(liquidity=None, slippage_ticks=2.0, fee_per_contract=1.5)
    result = run(market, Timed({"2026-01-06": [("order", MAR, np.array([10.0, -4.0]))]}), broker)
    t = _ts("2026-01-06")
    assert fills(result) == [(t, 0, MAR, 10.0, 2.002), (t, 1, MAR, -4.0, 1.998)]
    assert rows(result.journal, "fee", "ts", "path", "account", "contract", "amount") == [
        (t, 0, "margin", MAR, -15.0),
        (t, 1, "margin", MAR, -6.0),
    ]


@pytest.mark.parametrize(
    ("whole", "expected"),
    [
        (True, [(0, 3.0), (1, -3.0), (2, 1.0)]),  # halves away from zero; 0.4 → nothing
        (False, [(0, 2.5), (1, -2.5), (2, 1.4), (3, 0.4)]),
    ],
)
def test_order_sizes_round_to_whole_contracts(
    whole: bool, expected: list[tuple[int, float]]
) -> None:
    paths = (0, 1, 2, 3)
    market = make_market(spot_rows(JAN_5_7, paths=paths), fut_rows(MAR, flat(JAN_5_7), paths))
    strategy = Timed({"2026-01-06": [("order", MAR, np.array([2.5, -2.5, 1.4, 0.4]))]})
    result = run(market, strategy, BrokerConfig(liquidity=None, whole_contracts=whole))
    assert [(p, q) for _, p, _, q, _ in fills(result)] == expected
    assert result.events.num_rows == 0


# -- fill rules ---------------------------------------------------------------------------

# MAR opens each day at the previous settlement: 5 Jan 2.000 → 2.010, 6 Jan 2.010 → 2.020,
# 7 Jan 2.020 → 2.030.
STEPS = {"2026-01-05": (2.000, 2.010), "2026-01-06": (2.010, 2.020), "2026-01-07": (2.020, 2.030)}


def test_next_open_fills_at_the_open_of_the_next_futures_bar() -> None:
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, STEPS))
    # decided at 6 Jan 00:00 on the bar of 5 Jan → the bar of 6 Jan opens at 2.010
    result = run(market, Timed({"2026-01-06": [("order", MAR, 1.0)]}))
    assert fills(result) == [(_ts("2026-01-06"), 0, MAR, 1.0, 2.010)]


def test_close_fills_at_the_close_of_the_bar_visible_at_the_decision() -> None:
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, STEPS))
    # decided at 6 Jan 00:00, when the bar of 5 Jan (close 2.010) is visible
    result = run(
        market,
        Timed({"2026-01-06": [("order", MAR, 1.0)]}),
        BrokerConfig(liquidity=None, fill="close"),
    )
    assert fills(result) == [(_ts("2026-01-05"), 0, MAR, 1.0, 2.010)]
    # the day's variation margin starts from the fill: settle 2.010 − fill 2.010 = 0,
    # then 1,000 × (2.020 − 2.010) = 10 on 6 Jan
    assert rows(result.journal, "variation_margin", "ts", "amount") == [
        (_ts("2026-01-06"), 10.0),
        (_ts("2026-01-07"), 10.0),
    ]


def test_an_intraday_decision_does_not_fill_on_the_futures_bar_already_started() -> None:
    # Two 12-hour spot bars a day, daily futures. Path 0 decides at 6 Jan 00:00 (the
    # futures bar of 6 Jan starts then): it fills at that bar's open, 2.010. Path 1
    # decides at 6 Jan 12:00, after the bar of 6 Jan opened: it fills at the open of
    # the bar of 7 Jan, 2.020, booked at 8 Jan 00:00.
    market = make_market(
        spot_rows(JAN_5_7, paths=(0, 1), hours=(0, 12)),
        fut_rows(MAR, STEPS, paths=(0, 1)),
        spot_seconds=DAY // 2,
    )
    strategy = Timed(
        {
            "2026-01-06 00:00": [("order", MAR, np.array([1.0, 0.0]))],
            "2026-01-06 12:00": [("order", MAR, np.array([0.0, 1.0]))],
        }
    )
    result = run(market, strategy)
    assert fills(result) == [
        (_ts("2026-01-06"), 0, MAR, 1.0, 2.010),
        (_ts("2026-01-07"), 1, MAR, 1.0, 2.020),
    ]


def test_a_later_order_does_not_delay_one_already_due() -> None:
    # One order per event, 12-hour spot bars, daily futures. Orders decided at or before
    # a futures bar's start fill at its open; those decided after wait for the next bar:
    # the bar of 6 Jan (booked 7 Jan 00:00) fills the orders of 5 Jan 12:00 and 6 Jan 00:00,
    # the bar of 7 Jan those of 6 Jan 12:00 and 7 Jan 00:00 — two contracts each time.
    days = [*JAN_5_7, "2026-01-08"]
    bars = {**STEPS, "2026-01-08": (2.030, 2.040)}
    market = make_market(spot_rows(days, hours=(0, 12)), fut_rows(MAR, bars), spot_seconds=DAY // 2)
    result = run(market, EveryEvent(lambda ctx: ctx.order(MAR, 1.0)))
    assert fills(result) == [
        (_ts("2026-01-06"), 0, MAR, 2.0, 2.010),
        (_ts("2026-01-07"), 0, MAR, 2.0, 2.020),
        (_ts("2026-01-08"), 0, MAR, 2.0, 2.030),
    ]


def test_a_target_repeated_at_every_intraday_event_fills_once() -> None:
    # The target of 6 Jan 00:00 executes at the open of the bar of 6 Jan; the same
    # target repeated at 6 Jan 12:00, after that bar opened, adds nothing once the
    # fill is booked: the position is 3, not 0 (never filled) nor 6.
    days = [*JAN_5_7, "2026-01-08"]
    bars = {**STEPS, "2026-01-08": (2.030, 2.040)}
    market = make_market(spot_rows(days, hours=(0, 12)), fut_rows(MAR, bars), spot_seconds=DAY // 2)
    result = run(market, EveryEvent(lambda ctx: ctx.target(MAR, 3.0)))
    assert fills(result) == [(_ts("2026-01-06"), 0, MAR, 3.0, 2.010)]
    np.testing.assert_array_equal(result.final_positions, [[3.0]])


# -- limit-locked bars --------------------------------------------------------------------


def test_a_locked_bar_gives_no_fill_and_the_order_waits_for_the_next_bar() -> None:
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, STEPS, locked=["2026-01-06"]))
    result = run(market, Timed({"2026-01-06": [("order", MAR, 1.0)]}))
    # 6 Jan is locked: nothing; 7 Jan opens at 2.020
    assert fills(result) == [(_ts("2026-01-07"), 0, MAR, 1.0, 2.020)]
    assert result.events.num_rows == 0


def test_a_locked_bar_cancels_the_order_when_asked_and_records_why() -> None:
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, STEPS, locked=["2026-01-06"]))
    result = run(
        market,
        Timed({"2026-01-06": [("order", MAR, 1.0)]}),
        BrokerConfig(liquidity=None, on_locked="cancel"),
    )
    assert fills(result) == []
    assert rows(result.events, "order_rejected", "ts", "path", "contract", "qty", "detail") == [
        (_ts("2026-01-06"), 0, MAR, 1.0, "limit locked: cancelled")
    ]


# -- rejections ---------------------------------------------------------------------------


def test_rejections_are_recorded_with_their_reasons() -> None:
    # Decisions at 6 Jan 00:00 (ctx.day = 5 Jan), two paths:
    # * DEC25 stopped trading on 31 Dec 2025 → expired;
    # * FEB27 lists on 2 Mar 2026 (the day after FEB's last trading day) → not yet listed;
    # * JUN has no bars in this market → not listed in this market;
    # * MAR: path 0 asks 7 contracts over the limit of 5; path 1 asks 4, within it.
    days = ["2025-12-31", *JAN_5_7]
    futures = (
        fut_rows(DEC25, flat(["2025-12-31"]), (0, 1))
        + fut_rows(MAR, flat(JAN_5_7), (0, 1))
        + fut_rows(FEB27, flat(["2026-02-02"]), (0, 1))
    )
    market = make_market(spot_rows(days, paths=(0, 1)), futures)
    both = np.array([2.0, 2.0])
    strategy = Timed(
        {
            "2026-01-06": [
                ("order", DEC25, both),
                ("order", FEB27, both),
                ("order", JUN, np.array([0.0, 3.0])),
                ("order", MAR, np.array([7.0, 4.0])),
            ]
        }
    )
    result = run(market, strategy, BrokerConfig(liquidity=None, position_limit=5))
    decided, filled = _ts("2026-01-05"), _ts("2026-01-06")
    got = rows(result.events, "order_rejected", "ts", "path", "contract", "qty", "detail")
    assert got == [
        (decided, 0, DEC25, 2.0, "expired"),
        (decided, 1, DEC25, 2.0, "expired"),
        (decided, 0, FEB27, 2.0, "not yet listed"),
        (decided, 1, FEB27, 2.0, "not yet listed"),
        (decided, 1, JUN, 3.0, "not listed in this market"),
        (filled, 0, MAR, 7.0, "position limit 5 exceeded"),
    ]
    assert fills(result) == [(filled, 1, MAR, 4.0, 2.0)]
    assert result.paths["rejections"].to_pylist() == [3, 3]


def test_limited_funding_rejects_orders_whose_initial_margin_cannot_be_paid() -> None:
    # $1,000 of cash, no credit: 10 contracts at 2.000 need IM 0.1 × 10 × 1,000 × 2 = 2,000
    # (rejected); 4 need 800 (filled, 800 deposited).
    market = make_market(spot_rows(JAN_5_7, paths=(0, 1)), fut_rows(MAR, flat(JAN_5_7), (0, 1)))
    ledger = LedgerConfig(initial_cash=1000.0, funding="limited")
    strategy = Timed({"2026-01-06": [("order", MAR, np.array([10.0, 4.0]))]})
    result = run(market, strategy, ledger=ledger)
    t = _ts("2026-01-06")
    assert rows(result.events, "order_rejected", "ts", "path", "qty", "detail") == [
        (t, 0, 10.0, "insufficient funds for initial margin")
    ]
    assert fills(result) == [(t, 1, MAR, 4.0, 2.0)]
    assert rows(result.journal, "deposit", "path", "account", "amount") == [
        (1, "operating", -800.0),
        (1, "margin", 800.0),
    ]


def test_an_order_pending_past_the_last_trading_day_is_rejected_as_expired() -> None:
    # Decided at 31 Jan 00:00 on the bar of Fri 30 Jan, JAN's last trading day; the next
    # JAN bar the broker sees is dated 2 Feb, when JAN has expired.
    days = ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
    market = make_market(spot_rows(days), fut_rows(JAN, flat(["2026-01-30", "2026-02-02"])))
    result = run(market, Timed({"2026-01-31": [("order", JAN, 1.0)]}))
    assert fills(result) == []
    assert rows(result.events, "order_rejected", "ts", "contract", "qty", "detail") == [
        (_ts("2026-02-02"), JAN, 1.0, "expired")
    ]


# -- pending orders -----------------------------------------------------------------------


def test_target_replaces_pending_orders_and_cancel_removes_them() -> None:
    # Orders decided at 5 Jan 12:00 wait for the bar of 6 Jan (the bar of 5 Jan had
    # started). At 6 Jan 00:00, before that bar opens: target MAR 2 replaces the
    # pending +5 (2, not 7) and cancel(JAN) drops +5 JAN; FEB's +3 is untouched.
    market = make_market(
        spot_rows(JAN_5_7, hours=(0, 12)),
        fut_rows(JAN, flat(JAN_5_7)) + fut_rows(FEB, flat(JAN_5_7)) + fut_rows(MAR, flat(JAN_5_7)),
        spot_seconds=DAY // 2,
    )
    strategy = Timed(
        {
            "2026-01-05 12:00": [("order", JAN, 5.0), ("order", FEB, 3.0), ("order", MAR, 5.0)],
            "2026-01-06 00:00": [("target", MAR, 2.0), ("cancel", JAN, None)],
        }
    )
    result = run(market, strategy)
    t = _ts("2026-01-06")
    assert fills(result) == [(t, 0, FEB, 3.0, 2.0), (t, 0, MAR, 2.0, 2.0)]
    assert result.events.num_rows == 0


def test_cancel_without_a_contract_removes_every_pending_order() -> None:
    market = make_market(
        spot_rows(JAN_5_7, hours=(0, 12)),
        fut_rows(FEB, flat(JAN_5_7)) + fut_rows(MAR, flat(JAN_5_7)),
        spot_seconds=DAY // 2,
    )
    strategy = Timed(
        {
            "2026-01-05 12:00": [("order", FEB, 3.0), ("order", MAR, 5.0)],
            "2026-01-06 00:00": [("cancel", None, None)],
        }
    )
    assert fills(run(market, strategy)) == []


def test_pending_shows_the_order_waiting_to_fill() -> None:
    market = make_market(
        spot_rows(JAN_5_7, hours=(0, 12)), fut_rows(MAR, flat(JAN_5_7)), spot_seconds=DAY // 2
    )
    seen: list[tuple[pd.Timestamp, float, float]] = []

    class Watch(Timed):
        def on_bar(self, ctx: Context) -> None:
            super().on_bar(ctx)
            seen.append(
                (pd.Timestamp(ctx.now), float(ctx.pending(MAR)[0]), float(ctx.position(MAR)[0]))
            )

    strategy = Watch(
        {"2026-01-05 12:00": [("order", MAR, 5.0)], "2026-01-06 00:00": [("target", MAR, 2.0)]}
    )
    Engine(market, strategy, broker=FRICTIONLESS).run()
    assert seen[:4] == [
        (pd.Timestamp("2026-01-05 12:00"), 5.0, 0.0),
        (pd.Timestamp("2026-01-06 00:00"), 2.0, 0.0),  # target 2 replaced +5
        (pd.Timestamp("2026-01-06 12:00"), 2.0, 0.0),  # waiting for the bar of 6 Jan
        (pd.Timestamp("2026-01-07 00:00"), 0.0, 2.0),  # filled at its open
    ]


def test_an_order_of_the_wrong_shape_is_refused_before_the_core_sees_it() -> None:
    """The broker calls the core's ``place`` through its compiled entry point, which does
    not check types: the broker checks the shape itself (one quantity per path) and
    converts other dtypes, so a bad order is an error, never a crash."""
    from tokbt.engine.broker import Broker
    from tokbt.ledger import Journal, Ledger

    ledger = Ledger(TPI_MONTH, ["TPI-2026-03"], Journal(3))
    broker = Broker(ledger, BrokerConfig(liquidity=None))
    day = int(np.datetime64("2026-01-05", "D").astype(np.int64))
    ts = day * 86_400_000_000
    for wrong in (np.ones(2), np.ones((3, 1)), np.ones(4)):
        with pytest.raises(ValueError, match="one quantity per path expected"):
            broker.place_at(ts, day, 0, wrong)
    broker.place_at(ts, day, 0, np.array([1, 2, 3]))  # integers: converted
    broker.place_at(ts, day, 0, np.array([0.5, 0.0, -1.0])[::1])
    np.testing.assert_array_equal(broker.pending[:, 0], [2.0, 2.0, 2.0])  # 0.5 rounds to 1
