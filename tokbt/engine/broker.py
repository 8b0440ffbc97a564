"""The broker: pending orders over paths, and how they become fills.

Orders are quantities per path and contract (``pending``, ``(n_paths, n_c)``),
set by a strategy through ``Context.order`` / ``target`` / ``cancel``. At each
event that carries futures bars the broker tries to fill them: an order fills
on the first bar of its contract that starts at or after the decision
(``next_open``) or at the close of the bar visible at the decision
(``close``). Checks, in order, each a recorded rejection (``events`` table):

1. the contract has expired (past its last trading day) or is not listed yet;
2. the bar is limit-locked: no fill — the order waits or is cancelled;
3. the position would exceed the position limit;
4. under ``limited`` funding, the extra initial margin cannot be paid.

A path without a bar in the contract (not traded that bar) keeps waiting.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from tokbt.engine.config import BrokerConfig
from tokbt.ledger import Ledger
from tokbt.market.ticks import round_to_tick

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
_NEVER = np.datetime64("NaT", "us")


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
        self.placed_at = np.full(k, _NEVER)
        self.active = False
        contracts = ledger.contracts
        self.listing_day = np.array([np.datetime64(c.listing_date, "D") for c in contracts])
        # months since 1970-01, as numpy's datetime64[M] counts them
        self.delivery_month = np.array(
            [(c.delivery_start.year - 1970) * 12 + c.delivery_start.month - 1 for c in contracts]
        )

    # -- order intake ------------------------------------------------------------------

    def place(
        self, now: np.datetime64, day: dt.date, c: int, qty: Floats, *, replace: bool
    ) -> None:
        """Add ``qty`` to (or, with ``replace``, set) the pending order in contract ``c``."""
        if self.config.whole_contracts:
            qty = whole(qty)
        reason = self._unlisted(c, np.datetime64(day, "D"))
        if reason is not None:
            self._reject(now, c, qty != 0, qty, reason)
            return
        self.pending[:, c] = qty if replace else self.pending[:, c] + qty
        self.placed_at[c] = now
        self.active = True

    def cancel(self, c: int | None = None, paths: Mask | None = None) -> None:
        """Cancel pending orders (one contract or all; some paths or all)."""
        cols = slice(None) if c is None else c
        rows = slice(None) if paths is None else paths
        if c is None:
            self.pending[rows] = 0.0
        else:
            self.pending[rows, cols] = 0.0

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
        wanted = np.flatnonzero((self.pending != 0).any(axis=0))
        today = np.datetime64(day, "D")
        for c in wanted:
            if not at_close and self.placed_at[c] > bar_start:
                continue  # decided after this bar opened: the next bar fills it
            reason = self._unlisted(int(c), today)
            if reason is not None:
                self._reject(now, int(c), self.pending[:, c] != 0, self.pending[:, c], reason)
                self.pending[:, c] = 0.0
                continue
            col = columns.get(int(c))
            if col is not None:
                self._fill(now, today, int(c), prices[:, col], locked[:, col])
        self.active = bool((self.pending != 0).any())
        self.ledger.top_up(now)

    def _fill(
        self, now: np.datetime64, today: np.datetime64, c: int, base: Floats, locked: Mask
    ) -> None:
        qty = self.pending[:, c].copy()
        want = (qty != 0) & np.isfinite(base)
        blocked = want & locked
        if blocked.any():
            want &= ~locked
            if self.config.on_locked == "cancel":
                self._reject(now, c, blocked, qty, "limit locked: cancelled")
                self.pending[blocked, c] = 0.0
        limit = self.config.position_limit
        if limit is not None:
            over = want & (np.abs(self.ledger.positions[:, c] + qty) > limit + 1e-9)
            if over.any():
                self._reject(now, c, over, qty, f"position limit {limit:g} exceeded")
                self.pending[over, c] = 0.0
                want &= ~over
        if not want.any():
            return
        price = self._price(today, c, np.where(want, base, 0.0), np.where(want, qty, 0.0))
        if self.ledger.config.funding == "limited":
            want &= self._fundable(now, c, qty, price, want)
        traded = np.where(want, qty, 0.0)
        self.ledger.fill(
            now,
            c,
            traded,
            np.where(want, price, 0.0),
            fee=self.config.fee_per_contract * np.abs(traded),
        )
        self.pending[want, c] = 0.0

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
        up = np.asarray(round_to_tick(raw, spec.tick_size, "up"))
        down = np.asarray(round_to_tick(raw, spec.tick_size, "down"))
        return np.asarray(np.where(side > 0, up, np.where(side < 0, down, base)))

    def _fundable(self, now: np.datetime64, c: int, qty: Floats, price: Floats, want: Mask) -> Mask:
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
            self.pending[short, c] = 0.0
        return np.asarray(ok)
