"""Margin-call models: when a call is issued, how it is met, and when it escalates.

Models follow LEAN's shape: at each daily settlement the model *proposes* — the
calls it issues and the liquidation orders of the calls that fell due — the
strategy's ``on_margin_call(ctx, call)`` may amend the orders
(``MarginCall.liquidation``), and the ledger applies them. No model touches the
ledger's state behind that protocol; the state of the calls is the ledger's
book.

``StandardMarginCalls`` (exchange practice): after each daily settlement, a
path whose margin-account equity is below the maintenance requirement gets a
call for the amount that restores the initial requirement
(``IM × (1 + margin_buffer) − equity``). The call is paid at once from what the
funding policy allows; whatever is unpaid stays outstanding and is retried at
each settlement; a call still unpaid at the settlement ``call_deadline_days``
exchange days after issue *falls due*: the model proposes to liquidate every
tradable position of the path at that settlement's prices. A call is cleared
when paid, or when the account again covers the initial requirement (for
instance after the strategy reduced its positions). After its liquidation, a
path is checked again like any other: an account still short (negative equity)
gets a fresh call.

``PartialMarginCalls`` (LEAN's default model, which sells only what restores
the margin): the same calls, but a call that falls due proposes to sell the same
share of every tradable position, the smallest that restores
``equity ≥ IM × (1 + margin_buffer)`` (rounded up to whole contracts).

The strategy may amend the proposal in ``on_margin_call``: reduce or drop an
order, or sell less of one contract and more of another, as long as every order
only reduces a position of a path whose call fell due, in a contract still
trading. A due call whose orders were cut keeps running: it is cleared when the
account covers what is still held, and otherwise falls due again at the next
settlement.

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
        due: paths whose call is unpaid at its deadline and that hold something
            tradable: they are liquidated after the hook.
        liquidation: the liquidation orders ``(n_paths, len(contracts))``, in
            contracts (negative: sell), 0 where none. ``on_margin_call`` may amend
            them in place; each must only reduce a position of a ``due`` path in a
            contract still trading.
        contracts: the contract codes of ``liquidation``'s columns.
    """

    ts: np.datetime64
    day: dt.date
    deadline: dt.date
    issued: Mask
    amount: Floats
    equity: Floats
    initial: Floats
    maintenance: Floats
    due: Mask
    liquidation: Floats
    contracts: tuple[str, ...]


@dataclass(frozen=True)
class CallOutcome:
    """What a settlement's margin-call step did: calls issued (or ``None``) and
    the paths liquidated (all False when none)."""

    call: MarginCall | None
    liquidated: Mask


class MarginCallModel(Protocol):
    """Checks the margin account after settlement; issues, collects and escalates calls."""

    name: str
    """The model's name in the config (``LedgerConfig.margin_call_model``)."""

    def configure(self, cf: Floats, ci: npt.NDArray[np.int64]) -> None:
        """Write the model's choice and parameters into the core's terms."""
        ...

    def process(self, ledger: Ledger, ts: np.datetime64, day: dt.date) -> CallOutcome:
        """Run after variation margin is booked at ``day``'s settlement, its proposals
        applied as they stand (no strategy hook)."""
        ...

    def bind(self, book: Book) -> None:
        """Keep the calls' state in ``book`` (the ledger's core state, where the core's
        margin-call rules work on it)."""
        ...


class StandardMarginCalls:
    """See the module docstring: the core's margin-call rules (``tokbt.core.rules``
    ``assess_calls``, ``apply_liquidation``) with a deadline of ``deadline_days`` exchange
    days, top-ups to ``IM × (1 + buffer)`` and, when a call falls due, every tradable
    position liquidated. Its state (``outstanding``, ``deadline``) lives in the ledger's
    book once bound."""

    name = "standard"
    _model = layout.CALLS_FULL

    def __init__(self, n_paths: int, deadline_days: int, buffer: float) -> None:
        self.deadline_days = deadline_days
        self.buffer = buffer
        self._outstanding = np.zeros(n_paths)
        self._deadline = np.full(n_paths, layout.NO_DEADLINE, dtype=np.int64)

    def configure(self, cf: Floats, ci: npt.NDArray[np.int64]) -> None:
        """Write the deadline, the buffer and the liquidation rule into the core's terms."""
        cf[layout.F_BUFFER] = self.buffer
        ci[layout.C_DEADLINE_DAYS] = self.deadline_days
        ci[layout.C_CALL_MODEL] = self._model

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
        """Run after variation margin is booked at ``day``'s settlement: collect, issue,
        propose and apply the liquidations as proposed."""
        from tokbt.ledger.book import as_day, as_us

        us, today = as_us(ts), as_day(day)
        deadline = as_day(ledger.call_deadline(day))
        rules.assess_calls(ledger.book, ledger.terms, ledger.room(), us, today, deadline)
        rules.apply_liquidation(ledger.book, ledger.terms, ledger.room(), us, today, deadline)
        return ledger.call_outcome(ts, day)

    def cancel(self, paths: Mask) -> None:
        """Forget the calls of ``paths`` (the book was closed)."""
        self._outstanding[paths] = 0.0
        self._deadline[paths] = layout.NO_DEADLINE


class PartialMarginCalls(StandardMarginCalls):
    """``StandardMarginCalls`` whose due calls sell only the share of each tradable
    position that restores ``equity ≥ IM × (1 + buffer)`` (LEAN's default margin-call
    model; see the module docstring)."""

    name = "partial"
    _model = layout.CALLS_PARTIAL


MARGIN_CALL_MODELS: dict[str, type[StandardMarginCalls]] = {
    StandardMarginCalls.name: StandardMarginCalls,
    PartialMarginCalls.name: PartialMarginCalls,
}
"""The margin-call models by their config name."""
