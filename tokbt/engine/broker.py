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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tokbt.engine.config import BrokerConfig
from tokbt.ledger import Ledger
from tokbt.market.ticks import GRID_EPS, tick_decimals

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Decision:
    """An order verb decided at ``at``: ``add`` contracts, ``target`` a position, or
    ``cancel`` (contract ``c``, or all when ``None``; ``paths``, or all when ``None``)."""

    at: np.datetime64
    verb: Literal["add", "target", "cancel"]
    c: int | None
    qty: Floats | None = None
    paths: Mask | None = None


def against(price: Floats, side: Floats, tick: float, decimals: int) -> Floats:
    """``price`` on the tick grid, rounded against the order: buys (side > 0) up,
    sells (side < 0) down, never below one tick (prices are positive: a sell at the
    tick floor fills at one tick whatever its spread); side 0 keeps the price. Same
    grid as ``round_to_tick``."""
    units = price / tick
    n = np.where(side > 0, np.ceil(units - GRID_EPS), np.floor(units + GRID_EPS))
    n = np.maximum(n, 1.0)
    return np.asarray(np.where(side != 0, np.round(n * tick, decimals), price))


def whole(qty: Floats) -> Floats:
    """Round to whole contracts, halves away from zero."""
    return np.asarray(np.sign(qty) * np.floor(np.abs(qty) + 0.5))


class Broker:
    """Pending orders and their execution against a ``Ledger``."""

    def __init__(self, ledger: Ledger, config: BrokerConfig) -> None:
        self.ledger = ledger
        self.config = config
        n, k = ledger.positions.shape
        self.pending = np.zeros((n, k))
        self._decimals = tick_decimals(ledger.spec.tick_size)
        self.due = np.zeros((n, k))  # orders left after the last execution
        self.decisions: list[_Decision] = []  # decided since then, in time order
        self.active = False
        contracts = ledger.contracts
        self.listing_day = np.array([np.datetime64(c.listing_date, "D") for c in contracts])
        # months since 1970-01, as numpy's datetime64[M] counts them
        self.delivery_month = np.array(
            [(c.delivery_start.year - 1970) * 12 + c.delivery_start.month - 1 for c in contracts]
        )

    # -- order intake ------------------------------------------------------------------

    def place(
        self, now: np.datetime64, day: dt.date, c: int, qty: Floats, *, target: bool = False
    ) -> None:
        """Add ``qty`` to the pending order in contract ``c``; with ``target``, order what
        it takes to hold ``qty`` (replacing the pending order)."""
        change = qty - self.ledger.positions[:, c] if target else qty
        if self.config.whole_contracts:
            change = whole(change)
        reason = self._unlisted(c, np.datetime64(day, "D"))
        if reason is not None:
            self._reject(now, c, change != 0, change, reason)
            return
        # a target keeps the position wanted: it is netted against the position when due
        self._decide(_Decision(now, "target" if target else "add", c, qty if target else change))

    def cancel(self, now: np.datetime64, c: int | None = None, paths: Mask | None = None) -> None:
        """Cancel pending orders (one contract or all; some paths or all)."""
        if self.decisions or self.due.any():
            self._decide(_Decision(now, "cancel", c, None, None if paths is None else paths.copy()))

    def _decide(self, decision: _Decision) -> None:
        self._apply(decision, self.pending)
        self.decisions.append(decision)
        self.active = True

    def _apply(self, d: _Decision, orders: Floats) -> None:
        """Apply a decision to ``orders`` (a target against the positions held now)."""
        if d.verb == "cancel":
            rows = slice(None) if d.paths is None else d.paths
            if d.c is None:
                orders[rows] = 0.0
            else:
                orders[rows, d.c] = 0.0
            return
        assert d.c is not None
        assert d.qty is not None
        if d.verb == "add":
            orders[:, d.c] += d.qty
            return
        change = d.qty - self.ledger.positions[:, d.c]
        orders[:, d.c] = whole(change) if self.config.whole_contracts else change

    def _unlisted(self, c: int, today: np.datetime64) -> str | None:
        if today > self.ledger.last_trading_day[c]:
            return "expired"
        if today < self.listing_day[c]:
            return "not yet listed"
        return None

    def _reject(self, now: np.datetime64, c: int, paths: Mask, qty: Floats, reason: str) -> None:
        self.ledger.note_event(
            now, "order_rejected", paths, contract=self.ledger.codes[c], qty=qty, detail=reason
        )

    # -- execution -----------------------------------------------------------------------

    def execute(
        self,
        now: np.datetime64,
        day: dt.date,
        bar_start: np.datetime64,
        columns: dict[int, int],
        prices: Floats,
        locked: npt.NDArray[np.bool_],
        *,
        at_close: bool,
    ) -> None:
        """Fill what can be filled on the bars of this event.

        ``columns`` maps global contract index → column of ``prices`` / ``locked``
        (``(n_paths, k)``: the open, or the close when ``at_close``).
        """
        # decisions made at or before the bar started are due now; later ones wait
        cut = len(self.decisions)
        if not at_close:
            cut = sum(1 for d in self.decisions if d.at <= bar_start)
        orders = self.due
        for d in self.decisions[:cut]:
            self._apply(d, orders)
        today = np.datetime64(day, "D")
        traded = np.zeros(len(orders), dtype=bool)
        for c in np.flatnonzero((orders != 0).any(axis=0)):
            reason = self._unlisted(int(c), today)
            if reason is not None:
                self._reject(now, int(c), orders[:, c] != 0, orders[:, c], reason)
                orders[:, c] = 0.0
                continue
            col = columns.get(int(c))
            if col is not None:
                traded |= self._fill(now, today, int(c), orders, prices[:, col], locked[:, col])
        for d in self.decisions[cut:]:
            self._apply(d, orders)  # a later target counts the fills just booked
        self.decisions = []
        self.pending = orders.copy()
        self.active = bool((orders != 0).any())
        if traded.any():  # only paths that traded: a path's funding must not depend on others
            self.ledger.top_up(now, traded)

    def _fill(
        self,
        now: np.datetime64,
        today: np.datetime64,
        c: int,
        orders: Floats,
        base: Floats,
        locked: Mask,
    ) -> Mask:
        """Fill ``orders[:, c]`` at ``base`` (moved by the costs); clear what filled
        or was rejected; return the paths that traded."""
        qty = orders[:, c].copy()
        want = (qty != 0) & np.isfinite(base)
        blocked = want & locked
        if blocked.any():
            want &= ~locked
            if self.config.on_locked == "cancel":
                self._reject(now, c, blocked, qty, "limit locked: cancelled")
                orders[blocked, c] = 0.0
        limit = self.config.position_limit
        if limit is not None:
            over = want & (np.abs(self.ledger.positions[:, c] + qty) > limit + 1e-9)
            if over.any():
                self._reject(now, c, over, qty, f"position limit {limit:g} exceeded")
                orders[over, c] = 0.0
                want &= ~over
        if not want.any():
            return np.asarray(want)
        price = self._price(today, c, np.where(want, base, 0.0), np.where(want, qty, 0.0))
        if self.ledger.config.funding == "limited":
            want &= self._fundable(now, c, orders, price, want)
        traded = np.where(want, qty, 0.0)
        self.ledger.fill(
            now,
            c,
            traded,
            np.where(want, price, 0.0),
            fee=self.config.fee_per_contract * np.abs(traded),
        )
        orders[want, c] = 0.0
        return np.asarray(want)

    def _price(self, today: np.datetime64, c: int, base: Floats, qty: Floats) -> Floats:
        cfg, spec = self.config, self.ledger.spec
        side = np.sign(qty)
        ticks = np.full(len(qty), cfg.slippage_ticks)
        impact = np.zeros(len(qty))
        liq = cfg.liquidity
        if liq is not None:
            this_month = today.astype("datetime64[M]").astype(np.int64)
            months = max(int(self.delivery_month[c] - this_month), 0)
            ticks = ticks + liq.half_spread_ticks + liq.half_spread_per_month * months
            depth = liq.depth * liq.depth_decay**months
            excess = np.maximum(np.abs(qty) - depth, 0.0)
            impact = liq.impact_bps * 1e-4 * base * np.sqrt(excess / depth)
        raw = base + side * (ticks * spec.tick_size + impact)
        return against(raw, side, spec.tick_size, self._decimals)

    def _fundable(
        self, now: np.datetime64, c: int, orders: Floats, price: Floats, want: Mask
    ) -> Mask:
        qty = orders[:, c].copy()
        after = self.ledger.positions.copy()
        after[:, c] += np.where(want, qty, 0.0)
        marks = self.ledger.marks.copy()
        marks[:, c] = np.where(np.isnan(marks[:, c]) & want, price, marks[:, c])
        initial, _ = self.ledger.margin.requirement(after, marks)
        needed = initial * (1 + self.ledger.config.margin_buffer) - self.ledger.margin_balance
        ok = needed <= self.ledger.liquidity() + 1e-9
        short = want & ~ok
        if short.any():
            self._reject(now, c, short, qty, "insufficient funds for initial margin")
            orders[short, c] = 0.0
        return np.asarray(ok)
