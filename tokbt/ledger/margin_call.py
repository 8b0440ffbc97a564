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

from tokbt.core import layout, rules
from tokbt.core.layout import Book

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

    def bind(self, book: Book) -> None:
        """Keep the calls' state in ``book`` (the ledger's core state, where the core's
        margin-call rule works on it)."""
        ...


class StandardMarginCalls:
    """See the module docstring: the core's margin-call rule
    (``tokbt.core.rules.margin_calls``) with a deadline of ``deadline_days`` exchange days
    and top-ups to ``IM × (1 + buffer)``. Its state (``outstanding``, ``deadline``) lives
    in the ledger's book once bound."""

    def __init__(self, n_paths: int, deadline_days: int, buffer: float) -> None:
        self.deadline_days = deadline_days
        self.buffer = buffer
        self._outstanding = np.zeros(n_paths)
        self._deadline = np.full(n_paths, layout.NO_DEADLINE, dtype=np.int64)

    def bind(self, book: Book) -> None:
        """Keep the calls' state in ``book`` (the ledger's core state)."""
        book.outstanding[...] = self._outstanding
        book.deadline[...] = self._deadline
        self._outstanding, self._deadline = book.outstanding, book.deadline

    @property
    def outstanding(self) -> Floats:
        """The call still to be paid per path (0: none)."""
        return self._outstanding

    @property
    def deadline(self) -> npt.NDArray[np.datetime64]:
        """The exchange day by whose settlement each path's call must be met (NaT: none)."""
        days = self._deadline.astype("datetime64[D]")
        days[self._deadline == layout.NO_DEADLINE] = np.datetime64("NaT")
        return days

    def process(self, ledger: Ledger, ts: np.datetime64, day: dt.date) -> CallOutcome:
        """Run after variation margin is booked at ``day``'s settlement: collect, liquidate,
        issue (the core's ``margin_calls``)."""
        from tokbt.ledger.book import as_day, as_us

        rules.margin_calls(
            ledger.book, ledger.terms, ledger.room(), as_us(ts), as_day(day),
            as_day(ledger.call_deadline(day)),
        )  # fmt: skip
        return ledger.call_outcome(ts, day)

    def cancel(self, paths: Mask) -> None:
        """Forget the calls of ``paths`` (the book was closed)."""
        self._outstanding[paths] = 0.0
        self._deadline[paths] = layout.NO_DEADLINE
