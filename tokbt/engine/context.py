"""``Context``: what a strategy sees at an event, and the orders it may place.

Everything is an array over paths (``n_paths``); history windows are
``(window, n_paths)`` arrays whose last row is the current event, one row per
event of the timeline (NaN where an event carries no bar of that kind — spot
and futures bars may come at different times). Nothing after the current
event is reachable: asking for it raises ``LookAheadError``. Arrays handed out
are read-only views.

The consumption *plan* is the exception by design: it is the treasury's
forecast, made before the first event, so a strategy may read the plan of
future days (``plan``); realised consumption is visible only as it happens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tokbt.engine.history import frozen
from tokbt.ledger import Account
from tokbt.market import Contract, ContractSpec, Tenor

if TYPE_CHECKING:
    from tokbt.engine.loop import Engine

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MarginStatus:
    """The margin account per path: ``balance`` (its equity), the ``initial`` and
    ``maintenance`` requirements at the current marks, ``excess`` = balance −
    initial, and ``call`` — the margin call outstanding (0 where none)."""

    balance: Floats
    initial: Floats
    maintenance: Floats
    excess: Floats
    call: Floats


@dataclass(frozen=True)
class Chain:
    """The month contracts tradable today, in delivery order.

    Attributes:
        day: today.
        contracts: the live month contracts (listed, not past last trading day)
            that the market has bars for.
        days_to_expiry: exchange business days from today to each one's last
            trading day (0 on the day itself).
    """

    day: dt.date
    contracts: tuple[Contract, ...]
    days_to_expiry: tuple[int, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """The live contracts' codes."""
        return tuple(c.code for c in self.contracts)

    @property
    def front(self) -> str | None:
        """The nearest live month contract."""
        return self.contracts[0].code if self.contracts else None

    @property
    def next(self) -> str | None:
        """The second-nearest live month contract."""
        return self.contracts[1].code if len(self.contracts) > 1 else None

    def delivering(self, year: int, month: int) -> str | None:
        """The live contract delivering in ``year``-``month``, if any."""
        for c in self.contracts:
            if (c.delivery_start.year, c.delivery_start.month) == (year, month):
                return c.code
        return None

    def nearby(self, n: int, roll_days: int = 0) -> str | None:
        """The ``n``-th live contract (0 = front) counting only those at least
        ``roll_days`` business days from their last trading day (``days_to_expiry
        >= roll_days``: with 0, a contract counts through its last trading day)."""
        alive = [
            c for c, d in zip(self.contracts, self.days_to_expiry, strict=True) if d >= roll_days
        ]
        return alive[n].code if n < len(alive) else None


class Context:
    """The strategy's view of the engine at the current event; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- where we are ----------------------------------------------------------------------

    @property
    def now(self) -> np.datetime64:
        """The current event time (bars up to it are visible)."""
        return self._engine.now

    @property
    def day(self) -> dt.date:
        """The calendar day the current event's bars describe."""
        return self._engine.today

    @property
    def spec(self) -> ContractSpec:
        """The futures product."""
        return self._engine.ledger.spec

    @property
    def n_paths(self) -> int:
        """Number of paths run in lockstep."""
        return self._engine.ledger.n_paths

    @property
    def path_ids(self) -> np.ndarray:
        """Path id of each array position."""
        return frozen(self._engine.ledger.journal.path_ids)

    @property
    def contracts(self) -> tuple[str, ...]:
        """Every contract of the run (the columns of ``positions``), delivery order."""
        return self._engine.ledger.codes

    @property
    def is_settlement(self) -> bool:
        """Whether an exchange day ends at this event (settlement follows ``on_bar``)."""
        return self._engine.settling

    @property
    def history_size(self) -> int:
        """The longest window (events) a strategy may ask for (``engine.history``)."""
        return self._engine.history.size

    @property
    def chain(self) -> Chain:
        """The live month contracts today."""
        return self._engine.chain()

    # -- market data -----------------------------------------------------------------------

    def spot(self, field: str = "close", window: int | None = None, *, lag: int = 0) -> Floats:
        """Spot bar ``field``: ``(n_paths,)`` at ``lag`` events back, or the last
        ``window`` events ``(window, n_paths)``."""
        return self._engine.history.spot(field, window, lag)

    def futures(
        self, contract: str, field: str = "settle", window: int | None = None, *, lag: int = 0
    ) -> Floats:
        """Futures bar ``field`` of ``contract`` (NaN where it had no bar)."""
        return self._engine.history.futures(
            self._engine.contract_index(contract), field, window, lag
        )

    def nearby(
        self,
        n: int = 0,
        field: str = "settle",
        window: int | None = None,
        *,
        roll_days: int = 0,
        lag: int = 0,
    ) -> Floats:
        """The continuous ``n``-th nearby month series: at each past event, the
        ``n``-th month contract at least ``roll_days`` business days before its
        last trading day on that event's day (as ``Chain.nearby``)."""
        return self._engine.history.nearby(n, field, window, roll_days, lag)

    def index(self, day: dt.date | None = None) -> Floats:
        """The daily index value of ``day`` (default: the latest closed day)."""
        return self._engine.index_value(day)

    def consumption(self, window: int | None = None, *, lag: int = 0) -> Floats:
        """Realised tokens (millions) per event (NaN where none), up to now."""
        return self._engine.history.consumption("tokens", window, lag)

    @property
    def consumed(self) -> Floats:
        """Realised tokens consumed so far, per path."""
        return frozen(self._engine.consumed)

    def plan(self, start: dt.date, end: dt.date) -> Floats:
        """Planned tokens (millions) over the days ``[start, end]``, per path — the
        forecast known before the first event (zero outside the plan)."""
        return self._engine.planned(start, end)

    # -- the book ---------------------------------------------------------------------------

    def position(self, contract: str) -> Floats:
        """Contracts held in ``contract`` per path."""
        return frozen(self._engine.ledger.positions[:, self._engine.contract_index(contract)])

    def pnl(self, contract: str) -> Floats:
        """Futures P&L to date of ``contract`` per path (variation margin booked so far,
        including the trade day's, plus final settlement)."""
        return frozen(self._engine.ledger.pnl[:, self._engine.contract_index(contract)])

    @property
    def positions(self) -> Floats:
        """All positions ``(n_paths, len(contracts))``."""
        return frozen(self._engine.ledger.positions)

    def pending(self, contract: str) -> Floats:
        """The order waiting to fill in ``contract`` per path."""
        return frozen(self._engine.broker.pending[:, self._engine.contract_index(contract)])

    def cash(self, account: Account | str = Account.OPERATING) -> Floats:
        """Balance of an account per path (credit: minus the amount drawn)."""
        ledger = self._engine.ledger
        return frozen(ledger.balances[list(Account).index(Account(account))])

    @property
    def equity(self) -> Floats:
        """Total cash of the enterprise per path."""
        return self._engine.ledger.equity

    @property
    def margin(self) -> MarginStatus:
        """The margin account and its requirements."""
        ledger = self._engine.ledger
        initial, maintenance = ledger.requirement()
        balance = ledger.margin_balance.copy()
        call = ledger.book.outstanding.copy()  # the calls' state is the core's
        return MarginStatus(balance, initial, maintenance, balance - initial, call)

    # -- actions ------------------------------------------------------------------------------

    def order(self, contract: str, qty: npt.ArrayLike) -> None:
        """Buy (qty > 0) or sell ``qty`` contracts per path, on top of any pending order."""
        self._engine.place(contract, qty)

    def target(self, contract: str, qty: npt.ArrayLike) -> None:
        """Order what it takes to hold ``qty`` contracts per path (replaces pending orders;
        an order already due at a bar that has opened fills first and counts)."""
        self._engine.contract_index(contract)
        self._engine.place(contract, qty, target=True)

    def cancel(self, contract: str | None = None) -> None:
        """Cancel pending orders in ``contract`` (default: all)."""
        engine = self._engine
        c = None if contract is None else engine.contract_index(contract)
        engine.broker.cancel(engine.now, c)


def month_contracts(contracts: tuple[Contract, ...]) -> list[int]:
    """Positions of the month contracts in ``contracts``."""
    return [i for i, c in enumerate(contracts) if c.tenor is Tenor.MONTH]
