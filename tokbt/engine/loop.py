"""The event loop: one shared timeline, every path in lockstep.

Order of events within one timestamp (fixed; pinned by a test; a change is a
breaking change — ``Phase`` lists them):

1. ``DATA`` — the bars whose period ends now become visible (spot, futures,
   consumption); the day's index value is fixed by its last spot bar; at the
   end of an exchange day, interest accrues for the calendar days since the
   last settlement on the balances held over them (before today's flows).
2. ``FILLS`` — orders placed at earlier events fill at the open of the
   futures bars that started at or after them (``next_open``).
3. ``CONSUMPTION`` — the period's tokens are paid at the spot price.
4. ``ON_BAR`` — ``strategy.on_bar(ctx)`` places orders or sets targets;
   under ``fill = "close"`` they fill right after it at the bar's close
   (``CLOSE_FILLS``).
5. At the end of an exchange day (``SETTLEMENT``): variation margin is booked
   at the settlement prices, margin is checked, and the margin-call model
   collects outstanding calls, issues new ones and proposes liquidation orders
   for the calls that fell due (their paths' pending orders are cancelled);
   ``strategy.on_margin_call(ctx, call)`` runs where a call was issued or fell
   due (``ON_MARGIN_CALL``) and may amend ``call.liquidation``; the ledger then
   applies the orders, cash-settles the expiring contracts, cascades
   quarters/years, sweeps; last ``strategy.on_settle(ctx)`` (``ON_SETTLE``).

A strategy is any object with some of the hooks ``on_start``, ``on_bar``,
``on_settle``, ``on_margin_call``, ``on_end``; the engine knows no strategy
by name.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from tokbt.data.frames import MarketBlock, MarketSource, event_day
from tokbt.engine.broker import Broker
from tokbt.engine.config import BrokerConfig, EngineConfig
from tokbt.engine.context import Chain, Context, month_contracts
from tokbt.engine.errors import LookAheadError, StrategyError
from tokbt.engine.history import History
from tokbt.errors import DataError
from tokbt.ledger import (
    EVENT_SCHEMA,
    POSITION_SCHEMA,
    Journal,
    Ledger,
    LedgerConfig,
    MarginCall,
    RowLog,
)
from tokbt.ledger.book import as_day, as_us
from tokbt.market import Contract, ContractSpec

Floats = npt.NDArray[np.float64]


def roll_dates(
    contracts: tuple[Contract, ...], months: np.ndarray, spec: ContractSpec, roll_days: int
) -> np.ndarray:
    """For each month contract (global indexes ``months``), the last day it is the
    live one when rolling ``roll_days`` business days before its last trading day."""
    return np.array(
        [
            np.datetime64(spec.calendar.offset(contracts[g].last_trading_day, -roll_days), "D")
            for g in months
        ],
        dtype="datetime64[D]",
    )


class Phase(StrEnum):
    """The steps of one event, in order."""

    DATA = "data"
    FILLS = "fills"
    CONSUMPTION = "consumption"
    ON_BAR = "on_bar"
    CLOSE_FILLS = "close_fills"
    SETTLEMENT = "settlement"
    ON_MARGIN_CALL = "on_margin_call"
    ON_SETTLE = "on_settle"


@dataclass(frozen=True)
class Outputs:
    """Where a run keeps its rows: in memory (``None``) or Parquet files;
    ``keep_journal_rows=False`` keeps only per-path totals of the journal."""

    journal: str | None = None
    positions: str | None = None
    events: str | None = None
    keep_journal_rows: bool = True
    keep_positions: bool = True


CoreTimes = tuple[int, int, int, int]
"""An event's time, day, month and futures bars' start as the core's integers."""


def core_times(block: MarketBlock) -> list[CoreTimes]:
    """Each event's ``CoreTimes`` (microseconds and days since the epoch, months since
    1970-01, microseconds; a NaT bar start is the smallest int64)."""
    day = block.day.astype("datetime64[D]")
    return list(
        zip(
            block.events.astype("datetime64[us]").astype(np.int64).tolist(),
            day.astype(np.int64).tolist(),
            day.astype("datetime64[M]").astype(np.int64).tolist(),
            block.futures_start.astype("datetime64[us]").astype(np.int64).tolist(),
            strict=True,
        )
    )


def require_fixings(values: Floats, days: np.ndarray, market: str, now: np.datetime64) -> Floats:
    """``values`` ``(len(days), n_paths)``, the index on each fixing day; a ``DataError``
    naming the days without a spot bar if any value is missing."""
    missing = ~np.isfinite(values).all(axis=1)
    if missing.any():
        gaps = ", ".join(str(d) for d in np.asarray(days)[missing][:5])
        raise DataError(
            f"market {market!r}: final settlement at {now} needs the daily "
            f"index on {gaps}{' ...' if missing.sum() > 5 else ''}, which has no spot bar"
        )
    return values


def make_ledger(source: MarketSource, config: LedgerConfig | None, outputs: Outputs) -> Ledger:
    """The ``Ledger`` of a run over ``source``: its journal, event log and (if kept)
    position log writing where ``outputs`` says."""
    journal = Journal(
        len(source.path_ids),
        path_ids=source.path_ids,
        sink=outputs.journal,
        keep_rows=outputs.keep_journal_rows,
    )
    positions = RowLog(POSITION_SCHEMA, sink=outputs.positions) if outputs.keep_positions else None
    return Ledger(
        source.spec,
        source.contracts,
        journal,
        config,
        events=RowLog(EVENT_SCHEMA, sink=outputs.events),
        positions_log=positions,
    )


class Engine:
    """Replays ``source`` through ``strategy`` with a broker and a ledger.

    Args:
        source: the market (stored, in-memory or simulated).
        strategy: an object with ``on_*`` hooks (see the module docstring).
        broker, ledger, engine: settings (defaults if omitted).
        outputs: where journal, positions and events go.
        trace: if given, ``(event_position, Phase)`` is appended for every step run.
    """

    def __init__(
        self,
        source: MarketSource,
        strategy: Any,
        *,
        broker: BrokerConfig | None = None,
        ledger: LedgerConfig | None = None,
        engine: EngineConfig | None = None,
        outputs: Outputs | None = None,
        trace: list[tuple[int, Phase]] | None = None,
    ) -> None:
        self.source = source
        self.strategy = strategy
        self.config = engine or EngineConfig()
        n = len(source.path_ids)
        self.ledger = make_ledger(source, ledger, outputs or Outputs())
        self.broker = Broker(self.ledger, broker or BrokerConfig())
        self.trace = trace
        self._codes = {code: i for i, code in enumerate(source.contracts)}
        self._months = np.array(month_contracts(self.ledger.contracts), dtype=np.int64)
        roll = functools.partial(roll_dates, self.ledger.contracts, self._months, source.spec)
        self.history = History(self.config.history, n, self._months, roll)
        days = event_day(source.events)
        self.first_day = days[0] if len(days) else np.datetime64("1970-01-01", "D")
        n_days = int((days[-1] - self.first_day).astype(np.int64)) + 1 if len(days) else 0
        self.index_days = np.full((n_days, n), np.nan)
        self.last_close = np.full(n, np.nan)
        self.consumed = np.zeros(n)
        self.now = np.datetime64("NaT", "us")
        self.today = dt.date.min
        self.settling = False
        self._last_closed_day: dt.date | None = None
        self._chain: Chain | None = None
        self._plan: tuple[np.ndarray, np.ndarray] | None = None
        self._planned: dict[tuple[dt.date, dt.date], Floats] = {}
        self._order_qty = np.zeros(n)
        self._event_clock: tuple[Any, Any, int, int] = (None, None, 0, 0)
        """``(now, today)`` and their core integers (``_clock``)."""
        self.ctx = Context(weakref.proxy(self))  # no reference cycle: freed when dropped
        self.events_run = 0

    # -- helpers the context uses -----------------------------------------------------------

    def contract_index(self, code: str) -> int:
        """Global index of ``code``; ``KeyError`` if the market has no bars for it."""
        try:
            return self._codes[code]
        except KeyError:
            raise KeyError(
                f"contract {code!r} has no bars in market {self.source.name!r}"
            ) from None

    def place(self, code: str, qty: npt.ArrayLike, *, target: bool = False) -> None:
        """Hand an order (``target``: a position to hold) to the broker; rejected with a
        reason if the market lacks the contract. A NaN or infinite quantity is a
        ``ValueError`` (a ``StrategyError`` once the hook that placed it is named)."""
        amounts = self._amounts(code, qty)
        c = self._codes.get(code)
        if c is None:
            self.ledger.spec.contract(code)  # a malformed code is a programming error: raise
            self.ledger.note_event(
                self.now,
                "order_rejected",
                amounts != 0,
                contract=code,
                qty=amounts,
                detail="not listed in this market",
            )
            return
        ts, day = self._clock()
        self.broker.place_at(ts, day, c, amounts, target)

    def _amounts(self, code: str, qty: npt.ArrayLike) -> Floats:
        """``qty`` over paths, in the engine's order buffer (the broker copies it); a
        ``ValueError`` naming the paths where it is not finite."""
        amounts = self._order_qty
        if isinstance(qty, float) and math.isfinite(qty):  # one number for every path
            amounts.fill(qty)
            return amounts
        np.copyto(amounts, np.broadcast_to(np.asarray(qty, np.float64), amounts.shape))
        bad = ~np.isfinite(amounts)
        if bad.any():
            paths = self.ledger.journal.path_ids[bad][:5].tolist()
            raise ValueError(
                f"order in {code}: quantity {amounts[bad][0]} is not finite on paths {paths}"
            )
        return amounts

    def _clock(self) -> tuple[int, int]:
        """The current event's time and day as the core's integers (computed with the
        block's events, or here when ``now`` / ``today`` were set otherwise)."""
        clock = self._event_clock
        if clock[0] is not self.now or clock[1] is not self.today:
            clock = (self.now, self.today, as_us(self.now), as_day(self.today))
            self._event_clock = clock
        return clock[2], clock[3]

    def chain(self) -> Chain:
        """The live month contracts today (cached per day)."""
        if self._chain is None or self._chain.day != self.today:
            cal = self.ledger.calendar
            live = [
                self.ledger.contracts[g]
                for g in self._months
                if self.ledger.contracts[g].is_listed(self.today)
            ]
            live.sort(key=lambda c: c.last_trading_day)
            to_expiry = tuple(cal.count(self.today, c.last_trading_day) for c in live)
            self._chain = Chain(self.today, tuple(live), to_expiry)
        return self._chain

    def index_value(self, day: dt.date | None) -> Floats:
        """The daily index of ``day`` (default: the latest closed day)."""
        if day is None:
            if self._last_closed_day is None:
                return np.full(self.ledger.n_paths, np.nan)
            day = self._last_closed_day
        if self._last_closed_day is None or day > self._last_closed_day:
            raise LookAheadError(f"the index of {day} is not known at {self.now}")
        pos = int((np.datetime64(day, "D") - self.first_day).astype(np.int64))
        if pos < 0:
            return np.full(self.ledger.n_paths, np.nan)
        return np.array(self.index_days[pos])

    def fixings(self, days: np.ndarray) -> Floats:
        """Index values ``(len(days), n_paths)`` for final settlement; every one must exist."""
        pos = (np.asarray(days, "datetime64[D]") - self.first_day).astype(np.int64)
        inside = (pos >= 0) & (pos < len(self.index_days))
        values = np.full((len(pos), self.ledger.n_paths), np.nan)
        values[inside] = self.index_days[pos[inside]]
        return require_fixings(values, days, self.source.name, self.now)

    def planned(self, start: dt.date, end: dt.date) -> Floats:
        """Planned tokens over ``[start, end]`` per path, from the source's plan."""
        if self._plan is None:
            getter = getattr(self.source, "consumption_plan", None)
            if getter is None:
                raise DataError(f"market {self.source.name!r} has no consumption plan")
            self._plan = getter()
        key = (start, end)
        if key not in self._planned:  # strategies ask for the same delivery periods daily
            days, plan = self._plan
            lo = np.searchsorted(days, np.datetime64(start, "D"))
            hi = np.searchsorted(days, np.datetime64(end, "D"), side="right")
            self._planned[key] = np.asarray(np.nansum(plan[lo:hi], axis=0))
        return self._planned[key].copy()

    # -- the loop -----------------------------------------------------------------------------

    def _hook(self, name: str) -> Callable[..., Any] | None:
        return getattr(self.strategy, name, None)

    def _call(self, name: str, hook: Callable[..., Any], *args: Any) -> None:
        """Run hook ``name``; anything it raises becomes a ``StrategyError`` naming the
        strategy, the hook and the event (the original exception chained)."""
        try:
            hook(self.ctx, *args)
        except (LookAheadError, StrategyError):
            raise
        except Exception as exc:
            label = getattr(self.strategy, "name", None) or type(self.strategy).__name__
            when = "before the first event" if np.isnat(self.now) else f"at {self.now}"
            raise StrategyError(
                f"strategy {label!r} raised in {name} {when}: {type(exc).__name__}: {exc}"
            ) from exc

    def _margin_call(self, on_call: Callable[..., Any], call: MarginCall) -> None:
        """Run ``on_margin_call`` and hand its amended liquidation orders to the ledger
        (an amendment the ledger refuses is the strategy's error, like one it raises)."""

        def hook(ctx: Context, call: MarginCall) -> None:
            on_call(ctx, call)
            self.ledger.amend(call.liquidation, self.today)

        self._call("on_margin_call", hook, call)

    def _mark(self, i: int, phase: Phase) -> None:
        if self.trace is not None:
            self.trace.append((i, phase))

    def run(self, progress: Callable[[int], None] | None = None) -> Engine:
        """Replay every event; return the engine (its ledger holds the results).

        ``progress`` is called after each block with the number of events run so far.
        """
        on_start, on_end = self._hook("on_start"), self._hook("on_end")
        if on_start is not None:
            self._call("on_start", on_start)
        for block in self.source.market_blocks():
            self._run_block(block)
            if progress is not None:
                progress(self.events_run)
        if on_end is not None:
            self._call("on_end", on_end)
        self.ledger.journal.flush()
        return self

    def _run_block(self, block: MarketBlock) -> None:
        gidx = np.array([self._codes[c] for c in block.contracts], dtype=np.intp)
        columns = np.full(len(self._codes), -1, dtype=np.int64)
        columns[gidx] = np.arange(len(gidx))
        self.history.extend(block, gidx)
        lead = self.history.lead
        days = block.day.astype(dt.date).tolist()
        events = list(block.events)
        has_spot = ~np.isnan(block.spot["close"]).all(axis=1)
        has_cons = ~np.isnan(block.consumption["tokens"]).all(axis=1)
        has_fut = ~np.isnat(block.futures_start)
        close = block.spot["close"]
        held = self._hold_spot(close)
        tokens_used = np.nan_to_num(block.consumption["tokens"])
        day_index = (block.day.astype("datetime64[D]") - self.first_day).astype(np.int64).tolist()
        times = core_times(block)
        on_bar = self._hook("on_bar")
        at_close = self.broker.config.fill == "close"
        fills = self._fills(block, times, columns, at_close)
        broker, ledger = self.broker, self.ledger
        flags = zip(
            has_spot.tolist(),
            block.day_close.tolist(),
            has_fut.tolist(),
            has_cons.tolist(),
            block.settlement.tolist(),
            strict=True,
        )
        for i, (spot, day_close, fut, cons, settle) in enumerate(flags):
            pos = block.start + i
            self.history.row = lead + i
            now = self.now = events[i]
            today = self.today = days[i]
            self._event_clock = (now, today, *times[i][:2])
            self.settling = settle
            self._mark(pos, Phase.DATA)
            if spot and day_close:
                self._close_day(day_index[i], close[i])
            if settle:  # interest since the last settlement, on the balances held over it
                ledger.accrue_interest(now, today)
            if fut and not at_close and broker.active:
                self._mark(pos, Phase.FILLS)
                fills(i)
            if cons:
                self._mark(pos, Phase.CONSUMPTION)
                tokens = tokens_used[i]
                ledger.consume(now, tokens, held[i])
                self.consumed += tokens
            if on_bar is not None:
                self._mark(pos, Phase.ON_BAR)
                self._call("on_bar", on_bar)
            if fut and at_close and broker.active:
                self._mark(pos, Phase.CLOSE_FILLS)
                fills(i)
            if settle:
                self._settle(pos, gidx, block.futures["settle"][i])
        if len(held):
            self.last_close[:] = held[-1]
        self.events_run = block.start + len(block)

    def _fills(
        self, block: MarketBlock, times: list[CoreTimes], columns: np.ndarray, at_close: bool
    ) -> Callable[[int], None]:
        """``fills(i)``: fill pending orders on the futures bars of event ``i`` of
        ``block`` (at their open, or their close ``at_close``); the block's prices and
        locked flags converted once."""
        prices = np.ascontiguousarray(block.futures["close" if at_close else "open"], np.float64)
        locked = np.ascontiguousarray(block.locked, np.bool_)
        execute = self.broker.execute_at

        def fills(i: int) -> None:
            execute(*times[i], columns, prices[i], locked[i])

        return fills

    def _hold_spot(self, close: Floats) -> Floats:
        """The spot price held at each event of a block ``(events, n_paths)``: its close,
        or the last close before it where it has none (from the blocks before:
        ``last_close``, which moves to the block's last row once the block has run)."""
        rows = np.arange(len(close))[:, None]
        last = np.maximum.accumulate(np.where(np.isnan(close), -1, rows), axis=0)
        paths = np.arange(close.shape[1])
        held: Floats = np.where(last >= 0, close[np.maximum(last, 0), paths], self.last_close)
        return held

    def _close_day(self, pos: int, close: Floats) -> None:
        """Today's index value (day ``pos`` of the run) is ``close``, the day's last spot
        bar (NaN: none)."""
        self.index_days[pos] = close
        self._last_closed_day = self.today

    def _settle(self, pos: int, gidx: np.ndarray, settle: Floats) -> None:
        self._mark(pos, Phase.SETTLEMENT)
        call = self.ledger.assess(self.now, self.today, gidx, settle)
        if call is not None and call.due.any():
            self.broker.cancel(self.now, paths=call.due)
        on_call = self._hook("on_margin_call")
        if call is not None and on_call is not None:
            self._mark(pos, Phase.ON_MARGIN_CALL)
            self._margin_call(on_call, call)
        self.ledger.apply(self.now, self.today, self.fixings)
        on_settle = self._hook("on_settle")
        if on_settle is not None:
            self._mark(pos, Phase.ON_SETTLE)
            self._call("on_settle", on_settle)
