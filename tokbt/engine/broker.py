"""The broker: pending orders over paths, and how they become fills.

Orders are quantities per path and contract (``pending``, ``(n_paths, n_c)``),
set by a strategy through ``Context.order`` / ``target`` / ``cancel``. At each
event that carries futures bars the broker tries to fill them: an order fills
on the first bar of its contract that starts at or after the decision
(``next_open``) or at the close of the bar visible at the decision
(``close``).

Each ``order`` / ``target`` / ``cancel`` is kept with its decision time until
the next execution, so that a bar fills exactly the decisions made at or
before its start, whatever was decided later: an order due at a bar's open has
traded there (the fill is booked when the bar becomes known, at its event),
and a ``target`` or ``cancel`` decided after that open applies after the fill —
a ``target`` then orders only what the filled position still lacks.

Checks, in order, each a recorded rejection (``events`` table):

1. the contract has expired (past its last trading day) or is not listed yet;
2. the bar is limit-locked: no fill — the order waits or is cancelled;
3. the position would exceed the position limit;
4. under ``limited`` funding, the extra initial margin cannot be paid.

A path without a bar in the contract (not traded that bar) keeps waiting.

The rules are the compiled core's (``tokbt.core.rules``: ``place``, ``cancel``,
``execute``, ``fill_prices``); this class owns the order state and hands the
broker settings to the core. It calls ``place`` and ``execute`` — once per order
and per fill step — through their compiled entry points (``tokbt.core.entry``),
with arguments whose types it fixes, as the compiled engine calls its kernels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tokbt.core import layout, rules
from tokbt.core.entry import compiled_entry
from tokbt.core.layout import Orders
from tokbt.engine.config import BrokerConfig
from tokbt.ledger import Ledger
from tokbt.ledger.book import as_day, as_month, as_us

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_MIN_DECISIONS = 16
"""Decisions the decision log holds at first (it doubles when full)."""


def configure(ledger: Ledger, config: BrokerConfig) -> None:
    """Write the broker settings into the ledger's core terms."""
    cf, ci = ledger.terms.cf, ledger.terms.ci
    cf[layout.F_SLIPPAGE] = config.slippage_ticks
    cf[layout.F_FEE] = config.fee_per_contract
    ci[layout.C_AT_CLOSE] = config.fill == "close"
    ci[layout.C_CANCEL_LOCKED] = config.on_locked == "cancel"
    ci[layout.C_WHOLE] = config.whole_contracts
    limit = config.position_limit
    cf[layout.F_POSITION_LIMIT] = np.inf if limit is None else limit
    if limit is not None:
        code = ledger.detail_code(f"position limit {limit:g} exceeded")
        assert code == layout.D_LIMIT, "the position limit's detail must be the first added"
    liq = config.liquidity
    ci[layout.C_LIQUIDITY] = liq is not None
    if liq is not None:
        cf[layout.F_HALF_SPREAD] = liq.half_spread_ticks
        cf[layout.F_SPREAD_PER_MONTH] = liq.half_spread_per_month
        cf[layout.F_DEPTH] = liq.depth
        cf[layout.F_DEPTH_DECAY] = liq.depth_decay
        cf[layout.F_IMPACT_BPS] = liq.impact_bps


class Broker:
    """Pending orders and their execution against a ``Ledger``.

    ``place`` / ``execute`` take the decision time and day as the engine keeps them;
    ``place_at`` / ``execute_at`` take them as the core's integers (see
    ``tokbt.core.layout``), which the engine computes once per block.
    """

    def __init__(self, ledger: Ledger, config: BrokerConfig) -> None:
        self.ledger = ledger
        self.config = config
        configure(ledger, config)
        n, k = ledger.positions.shape
        self.orders: Orders = layout.new_orders(n, k, _MIN_DECISIONS)
        self._entries: dict[Any, tuple[Orders, Callable[..., int]]] = {}
        """Per core rule: the orders it was typed with, and its entry point."""

    @property
    def pending(self) -> Floats:
        """Orders per path and contract as the strategy sees them now."""
        return self.orders.pending

    @property
    def due(self) -> Floats:
        """Orders left after the last execution."""
        return self.orders.due

    @property
    def active(self) -> bool:
        """Whether any order is pending (or a decision waits for the next execution)."""
        return bool(self.orders.ostate[layout.O_ACTIVE])

    def _entry(self, rule: Any, args: tuple[Any, ...]) -> Callable[..., int]:
        """``compiled_entry(rule, args)``, kept while ``self.orders`` is the same object
        (the ledger's state tuples never change; the orders do when their decision log
        grows). The caller fixes the types of the other arguments."""
        kept = self._entries.get(rule)
        if kept is None or kept[0] is not self.orders:
            kept = (self.orders, compiled_entry(rule, args))
            self._entries[rule] = kept
        return kept[1]

    # -- order intake ------------------------------------------------------------------

    def place(
        self, now: np.datetime64, day: dt.date, c: int, qty: Floats, *, target: bool = False
    ) -> None:
        """Add ``qty`` to the pending order in contract ``c``; with ``target``, order what
        it takes to hold ``qty`` (replacing the pending order)."""
        self.place_at(as_us(now), as_day(day), c, qty, target)

    def place_at(self, ts: int, day: int, c: int, qty: Floats, target: bool = False) -> None:
        """``place`` at time ``ts`` (microseconds since the epoch) on ``day`` (days since
        the epoch); ``qty`` ``(n_paths,)`` is copied."""
        amounts = (
            qty
            if qty.dtype == np.float64 and qty.flags.c_contiguous
            else np.ascontiguousarray(qty, np.float64)
        )
        if amounts.shape != (self.ledger.n_paths,):
            raise ValueError(f"order of shape {amounts.shape}: one quantity per path expected")
        ledger = self.ledger
        while True:
            args = (self.orders, ledger.book, ledger.terms, ledger.room(), ts, day, int(c),
                    amounts, bool(target))  # fmt: skip
            if self._entry(rules.place, args)(*args) != layout.NO_ROOM:
                return
            self.orders = layout.grow_decisions(self.orders)

    def cancel(self, now: np.datetime64, c: int | None = None, paths: Mask | None = None) -> None:
        """Cancel pending orders (one contract or all; some paths or all)."""
        n = self.ledger.n_paths
        mask = np.ones(n, np.bool_) if paths is None else np.ascontiguousarray(paths, np.bool_)
        while True:
            status = rules.cancel(
                self.orders, self.ledger.book, self.ledger.terms, as_us(now),
                layout.NO_CONTRACT if c is None else c, mask,
            )  # fmt: skip
            if status != layout.NO_ROOM:
                return
            self.orders = layout.grow_decisions(self.orders)

    # -- execution -----------------------------------------------------------------------

    def execute(
        self,
        now: np.datetime64,
        day: dt.date,
        bar_start: np.datetime64,
        colmap: npt.NDArray[np.int64],
        prices: Floats,
        locked: npt.NDArray[np.bool_],
    ) -> None:
        """Fill what can be filled on the bars of this event.

        ``colmap[c]`` is the column of contract ``c`` in ``prices`` / ``locked``
        (``(n_paths, columns)``: the open, or the close when filling at the close;
        -1: no bar).
        """
        when = (as_us(now), as_day(day), as_month(day), as_us(bar_start))
        self.execute_at(*when, colmap, prices, locked)

    def execute_at(
        self,
        ts: int,
        day: int,
        month: int,
        bar_start: int,
        colmap: npt.NDArray[np.int64],
        prices: Floats,
        locked: npt.NDArray[np.bool_],
    ) -> None:
        """``execute`` at time ``ts`` and ``bar_start`` (microseconds since the epoch), on
        ``day`` (days since the epoch) of ``month`` (months since 1970-01)."""
        prices = np.ascontiguousarray(prices, np.float64)
        locked = np.ascontiguousarray(locked, np.bool_)
        colmap = np.ascontiguousarray(colmap, np.int64)
        if prices.ndim != 2 or locked.ndim != 2 or colmap.ndim != 1:
            raise ValueError("prices and locked are (n_paths, columns), colmap one per contract")
        ledger = self.ledger
        args = (self.orders, ledger.book, ledger.terms, ledger.room(), ts, day, month, bar_start,
                prices, locked, colmap)  # fmt: skip
        status = self._entry(rules.execute, args)(*args)
        if status != layout.OK:
            ledger.check(status, f"fill at {np.datetime64(ts, 'us')}")
