"""The order of events within one timestamp is fixed (house plan); this pins it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from engine_strategies import Recorder
from test_engine_ledger_hand import JAN, SETTINGS, _market

from tokbt.engine import BrokerConfig, Context, Engine, Phase
from tokbt.ledger import Account

P = Phase


def _engine(fill: str, act: object) -> tuple[Engine, Recorder, list[tuple[int, Phase]]]:
    trace: list[tuple[int, Phase]] = []
    strategy = Recorder(act)  # type: ignore[arg-type]
    broker = BrokerConfig(fee_per_contract=1.0, liquidity=None, fill=fill)  # type: ignore[arg-type]
    engine = Engine(_market(), strategy, broker=broker, ledger=SETTINGS["ledger"], trace=trace)
    return engine.run(), strategy, trace


def _phases(engine: Engine, trace: list[tuple[int, Phase]], day: str) -> list[Phase]:
    """The phases run at the event of the daily bars of ``day``."""
    event = np.datetime64(day, "D") + np.timedelta64(1, "D")
    pos = int(np.searchsorted(engine.source.events, event.astype("datetime64[us]")))
    return [phase for i, phase in trace if i == pos]


def _buy_on(days: set[dt.date]):  # type: ignore[no-untyped-def]
    def act(ctx: Context) -> None:
        if ctx.day in days:
            ctx.order(JAN, 10.0)

    return act


def test_order_of_every_step_at_one_timestamp() -> None:
    engine, _, trace = _engine("next_open", _buy_on({dt.date(2026, 1, 12), dt.date(2026, 1, 14)}))
    # 15 Jan: yesterday's order fills, consumption, on_bar, settlement, a call, on_settle
    assert _phases(engine, trace, "2026-01-15") == [
        P.DATA, P.FILLS, P.CONSUMPTION, P.ON_BAR, P.SETTLEMENT, P.ON_MARGIN_CALL, P.ON_SETTLE
    ]  # fmt: skip
    # a weekend day: spot and consumption only, no futures → no fills, no settlement
    assert _phases(engine, trace, "2026-01-17") == [P.DATA, P.CONSUMPTION, P.ON_BAR]


def test_close_fills_come_right_after_on_bar() -> None:
    engine, _, trace = _engine("close", _buy_on({dt.date(2026, 1, 13)}))
    assert _phases(engine, trace, "2026-01-13") == [
        P.DATA, P.CONSUMPTION, P.ON_BAR, P.CLOSE_FILLS, P.SETTLEMENT, P.ON_SETTLE
    ]  # fmt: skip
    fills = engine.ledger.journal.to_arrow().to_pandas().query("kind == 'fill'")
    assert fills.price.tolist() == [2.010, 2.010]  # the 13 Jan close


def test_what_each_step_sees() -> None:
    seen: dict[str, object] = {}

    def act(ctx: Context) -> None:
        if ctx.day == dt.date(2026, 1, 12):
            ctx.order(JAN, 10.0)
        if ctx.day == dt.date(2026, 1, 13):  # the fill happened before on_bar
            seen["position"] = ctx.position(JAN).tolist()
        if ctx.day == dt.date(2026, 1, 14):  # this event's consumption is booked before on_bar
            seen["consumed"] = ctx.consumed.tolist()
            seen["margin_before_settle"] = ctx.cash(Account.MARGIN).tolist()
            seen["settling"] = ctx.is_settlement

    _, strategy, _ = _engine("next_open", act)
    assert seen["position"] == [10.0, 10.0]
    assert seen["consumed"] == [0.0, 1500.0]
    assert seen["settling"] is True
    # hooks: on_start first, on_end last; on_settle after on_bar of the same event
    names = [name for name, _ in strategy.log]
    assert names[0] == "on_start"
    assert names[-1] == "on_end"
    jan15 = np.datetime64("2026-01-16T00:00", "us")
    assert [n for n, t in strategy.log if t == jan15] == ["on_bar", "on_margin_call", "on_settle"]


def test_a_strategy_cannot_read_past_now() -> None:
    from tokbt.engine import LookAheadError

    def act(ctx: Context) -> None:
        ctx.spot("close", lag=-1)

    with pytest.raises(LookAheadError, match="future"):
        _engine("next_open", act)
