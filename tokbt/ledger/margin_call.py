"""Margin-call models: when a call is issued, how it is met, and when it escalates.

``StandardMarginCalls`` (LEAN's margin-call model, exchange practice): after
each daily settlement, a path whose margin-account equity is below the
maintenance requirement gets a call for the amount that restores the initial
requirement (``IM × (1 + margin_buffer) − equity``). The call is paid at once
from what the funding policy allows; whatever is unpaid stays outstanding and
is retried at each settlement; a call still unpaid at the settlement
``call_deadline_days`` exchange days after issue ends in liquidation of every
position of the path at that settlement's prices. A call is cleared when
paid, or when the account again covers the initial requirement (for instance
after the strategy reduced its positions in ``on_margin_call``).

Calls and expiry: a contract past its last trading day cannot be traded, so a
liquidation leaves its positions to their final settlement; a call that falls
due on a path holding nothing tradable stays outstanding (no liquidation) and
is collected at each settlement. Right after a final settlement, a call whose
margin account now covers the initial requirement of what is still held is
cancelled (event ``margin_call_cancelled``) — the usual end of a call issued on
a last trading day, whose deadline falls after expiry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from tokbt.ledger.journal import EntryKind

if TYPE_CHECKING:
    from tokbt.ledger.book import Ledger

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MarginCall:
    """Margin calls issued at one settlement, as arrays over paths.

    Attributes:
        ts: the settlement's event time.
        day: the exchange day.
        deadline: the exchange day by whose settlement the call must be met.
        issued: paths that received a call.
        amount: the call per path (0 where none).
        equity, initial, maintenance: the margin account and requirements that
            triggered it.
    """

    ts: np.datetime64
    day: dt.date
    deadline: dt.date
    issued: Mask
    amount: Floats
    equity: Floats
    initial: Floats
    maintenance: Floats


@dataclass(frozen=True)
class CallOutcome:
    """What a settlement's margin-call step did: calls issued (or ``None``) and
    the paths liquidated (all False when none)."""

    call: MarginCall | None
    liquidated: Mask


class MarginCallModel(Protocol):
    """Checks the margin account after settlement; issues, collects and escalates calls."""

    def process(self, ledger: Ledger, ts: np.datetime64, day: dt.date) -> CallOutcome:
        """Run after variation margin is booked at ``day``'s settlement."""
        ...


class StandardMarginCalls:
    """See the module docstring."""

    def __init__(self, n_paths: int, deadline_days: int, buffer: float) -> None:
        self.deadline_days = deadline_days
        self.buffer = buffer
        self.outstanding = np.zeros(n_paths)
        self.deadline = np.full(n_paths, np.datetime64("NaT"), dtype="datetime64[D]")

    def process(self, ledger: Ledger, ts: np.datetime64, day: dt.date) -> CallOutcome:
        today = np.datetime64(day, "D")
        open_calls = self.outstanding > 0
        if open_calls.any():
            self._collect(ledger, ts, open_calls)
        due = (self.outstanding > 0) & (self.deadline <= today) & ledger.liquidatable(day)
        if due.any():
            ledger.liquidate(ts, due, day=day, reason="margin call unmet by its deadline")
            self._clear(due)
        initial, maintenance = ledger.requirement()
        equity = ledger.margin_balance
        issued = (equity < maintenance - 1e-9) & (self.outstanding == 0)
        if not issued.any():
            return CallOutcome(None, due)
        amount = np.where(issued, initial * (1 + self.buffer) - equity, 0.0)
        deadline = ledger.calendar.offset(day, self.deadline_days)
        self.outstanding = np.where(issued, amount, self.outstanding)
        self.deadline = np.where(issued, np.datetime64(deadline, "D"), self.deadline)
        ledger.note_event(ts, "margin_call", issued, amount=amount, detail=f"due {deadline}")
        call = MarginCall(ts, day, deadline, issued, amount, equity, initial, maintenance)
        self._collect(ledger, ts, issued)
        if self.deadline_days == 0:
            unpaid = issued & (self.outstanding > 0) & ledger.liquidatable(day)
            if unpaid.any():
                ledger.liquidate(ts, unpaid, day=day, reason="margin call unmet by its deadline")
                self._clear(unpaid)
                due = due | unpaid
        return CallOutcome(call, due)

    def _collect(self, ledger: Ledger, ts: np.datetime64, paths: Mask) -> None:
        initial, _ = ledger.requirement()
        covered = paths & (ledger.margin_balance >= initial - 1e-9)
        self._clear(covered)
        wanted = np.where(paths & ~covered, self.outstanding, 0.0)
        paid = ledger.fund_margin(ts, EntryKind.MARGIN_CALL, wanted)
        self.outstanding = np.where(
            paths, np.maximum(self.outstanding - paid, 0.0), self.outstanding
        )
        settled = paths & (self.outstanding <= 1e-9)
        if settled.any():
            self._clear(settled)

    def _clear(self, paths: Mask) -> None:
        self.outstanding[paths] = 0.0
        self.deadline[paths] = np.datetime64("NaT")

    def cancel(self, paths: Mask) -> None:
        """Forget the calls of ``paths`` (the book was closed)."""
        self._clear(paths)
