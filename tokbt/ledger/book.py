"""The ledger: positions, marks and the enterprise's three accounts, for every path at once.

The ledger is a facade over the compiled core (``tokbt.core``): it owns the
core's state (``Book``, ``Terms``, row buffers), chooses the models and turns
the rows the core writes into Arrow — the journal, the event log and the
position log. Every rule (fills, fees, top-ups, variation margin, margin
calls, final settlement, cascades, funding, interest, consumption, sweeps) is
``tokbt.core.rules``'; the three replaceable models of LEAN's shape — margin
(requirements), settlement (variation margin, final prices) and margin call
(calls, collection, liquidation) — choose and parameterise those rules. The
engine drives it in the fixed order of the house plan: fills, consumption,
then at the end of an exchange day ``settle``.

State, as arrays over paths (``n_paths``) and the run's contracts (``n_c``),
views of the core's ``Book``:

* ``positions`` — contracts held (long > 0);
* ``marks`` — the price each position was last settled at (NaN before its
  first fill);
* ``accrued`` — variation margin of today's trades not yet booked,
  ``Σ qty × mult × (mark − fill)``;
* ``balances`` — operating, margin and credit cash (credit = minus drawn).

Money is conserved: every change of a balance is a journal row, so per path
``Σ journal amounts = Σ balances − Σ opening balances``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tokbt.core import layout, rules
from tokbt.core.entry import Entries
from tokbt.core.layout import Book, Rows, Terms
from tokbt.core.strings import string_column
from tokbt.ledger.config import LedgerConfig
from tokbt.ledger.journal import (
    ACCOUNTS,
    EVENT_SCHEMA,
    KINDS,
    Account,
    EntryKind,
    Journal,
    RowLog,
)
from tokbt.ledger.margin import MarginModel, SpanMargin, SpecMargin, ordered_sum
from tokbt.ledger.margin_call import (
    MARGIN_CALL_MODELS,
    CallOutcome,
    MarginCall,
    MarginCallModel,
)
from tokbt.ledger.settlement import SETTLEMENT_MODELS, IndexLookup, SettlementModel
from tokbt.market import Contract, ContractSpec
from tokbt.market.ticks import tick_decimals

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_MIN_ROWS = 1 << 16
"""Rows each row buffer holds at least..."""
_BUFFER_EVENTS = 4
"""... and at least the rows this many events could write."""


@dataclass(frozen=True)
class SettleOutcome:
    """What one daily settlement did: margin calls issued (``None`` if none),
    paths liquidated, and the contracts that expired (global indexes)."""

    call: CallOutcome
    expired: tuple[int, ...]


_US: dict[int, tuple[object, int]] = {}
"""Recent values converted by ``as_us``, by identity (the value is kept, so its id is not
reused while cached): an engine step converts its event's time and its bars' start for
every core call it makes."""
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def as_us(ts: np.datetime64 | dt.datetime) -> int:
    """A time as microseconds since the epoch (the core's row times)."""
    entry = _US.get(id(ts))
    if entry is not None and entry[0] is ts:
        return entry[1]
    if len(_US) >= 8:
        _US.clear()
    value = int(np.asarray(ts, dtype="datetime64[us]").astype(np.int64))
    _US[id(ts)] = (ts, value)
    return value


_NONE_FIXED = np.ones(0, np.bool_)
_NONE_FIXED.flags.writeable = False


def as_day(day: dt.date | np.datetime64) -> int:
    """A day as days since the epoch (the core's days)."""
    if type(day) is dt.date:
        return day.toordinal() - _EPOCH_ORDINAL
    return int(np.asarray(day, dtype="datetime64[D]").astype(np.int64))


def as_month(day: dt.date) -> int:
    """The month of ``day`` as months since 1970-01 (``datetime64[M]`` as int)."""
    return (day.year - 1970) * 12 + day.month - 1


def _day_numbers(dates: Sequence[dt.date]) -> npt.NDArray[np.int64]:
    return np.array([as_day(d) for d in dates], dtype=np.int64)


def _as_mask(paths: npt.ArrayLike | None, n: int) -> Mask:
    if paths is None:
        return np.ones(n, dtype=np.bool_)
    return np.ascontiguousarray(np.broadcast_to(np.asarray(paths, dtype=np.bool_), (n,)))


def _over_paths(value: npt.ArrayLike | None, n: int) -> Floats:
    """``value`` as a contiguous float array over ``n`` paths (a scalar broadcast)."""
    if value is None:
        return np.full(n, np.nan)
    if (
        type(value) is np.ndarray
        and value.shape == (n,)
        and value.dtype == np.float64
        and value.flags.c_contiguous
    ):
        return value
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, np.float64), (n,)))


class Ledger:
    """Positions and accounts of ``n_paths`` paths over the contracts ``contracts``.

    Args:
        spec: the futures product.
        contracts: codes of every contract the run can trade, in delivery order.
        journal: where money movements go (its ``n_paths`` must match).
        config: funding, interest and margin settings.
        events: log of non-monetary events (``EVENT_SCHEMA``).
        positions_log: daily positions after each settlement (``POSITION_SCHEMA``);
            ``None`` keeps none.
        margin, settlement, calls: the models (defaults from ``config``'s
            ``margin_model``, ``settlement_model`` and ``margin_call_model``): a
            ``SpecMargin`` or ``SpanMargin``, a ``DailySettlement``, a
            ``StandardMarginCalls`` or ``PartialMarginCalls`` — each selects and
            parameterises the core's rules.
    """

    def __init__(
        self,
        spec: ContractSpec,
        contracts: Sequence[str],
        journal: Journal,
        config: LedgerConfig | None = None,
        *,
        events: RowLog | None = None,
        positions_log: RowLog | None = None,
        margin: MarginModel | None = None,
        settlement: SettlementModel | None = None,
        calls: MarginCallModel | None = None,
    ) -> None:
        self.spec = spec
        self.calendar = spec.calendar
        self.config = cfg = config or LedgerConfig()
        self.codes = tuple(contracts)
        self.contracts: tuple[Contract, ...] = tuple(spec.contract(c) for c in self.codes)
        self.journal = journal
        n, k = journal.n_paths, len(self.codes)
        self.n_paths = n
        self._events = events or RowLog(EVENT_SCHEMA)
        self._positions_log = positions_log
        self.margin = margin or self._default_margin(n, k)
        self.settlement = settlement or SETTLEMENT_MODELS[cfg.settlement_model](spec)
        self.calls = calls or MARGIN_CALL_MODELS[cfg.margin_call_model](
            n, cfg.call_deadline_days, cfg.margin_buffer
        )
        self.book: Book = self._new_book(n, k)
        self.terms: Terms = self._new_terms()
        self.final_settlement_day = np.array(
            [np.datetime64(c.final_settlement_date, "D") for c in self.contracts],
            dtype="datetime64[D]",
        )
        self.last_trading_day = np.array(
            [np.datetime64(c.last_trading_day, "D") for c in self.contracts], dtype="datetime64[D]"
        )
        self.opening = self.book.balances.copy()
        self._cascading = np.array([bool(c.cascades_into) for c in self.contracts], np.bool_)
        self._next_final_day = as_day(self._first_final_day())
        self._no_prices = np.zeros((0, self.n_paths))
        self._event_names = list(layout.EVENT_NAMES)
        self._details = list(layout.DETAILS)
        self._event_contracts = list(self.codes)
        self.rows_per_event = layout.rows_per_event(n, k, self.terms.children.shape[1])
        """At most how many journal, event and position rows one event writes."""
        self.rows: Rows = self._new_rows()
        self._rules = Entries()
        """The core rules called at every engine step, through their entry points."""
        self._draining = False
        journal.pull_from(self.drain)
        self._events.pull_from(self.drain)
        if positions_log is not None:
            positions_log.pull_from(self.drain)
        self.calls.bind(self.book)

    # -- construction ---------------------------------------------------------------------

    def _default_margin(self, n: int, k: int) -> MarginModel:
        cfg = self.config
        if cfg.margin_model == "span":
            return SpanMargin(self.spec, n, k, cfg.span)
        return SpecMargin(self.spec)

    def _new_book(self, n: int, k: int) -> Book:
        book = layout.new_book(n, k, self.config.initial_cash, self.config.span.initial_vol)
        if isinstance(self.margin, SpanMargin):  # the model's estimates are the book's
            self.margin.bind(book.span_var, book.span_last)
        return book

    def _new_terms(self) -> Terms:
        cfg, spec = self.config, self.spec
        cf = np.zeros(layout.N_CF)
        ci = np.zeros(layout.N_CI, dtype=np.int64)
        cf[layout.F_MULT] = spec.multiplier
        cf[layout.F_TICK] = spec.tick_size
        cf[layout.F_SCALE] = 10.0 ** tick_decimals(spec.tick_size)
        cf[layout.F_BUFFER] = cfg.margin_buffer
        cf[layout.F_CASH_RATE] = cfg.cash_rate
        cf[layout.F_FUNDING_RATE] = cfg.funding_rate
        cf[layout.F_MARGIN_RATE] = cfg.margin_rate
        cf[layout.F_CREDIT_RATE] = cfg.credit_rate
        cf[layout.F_MARKUP] = cfg.consumption_markup
        cf[layout.F_BASIS] = cfg.consumption_basis
        cf[layout.F_CREDIT_LINE] = cfg.credit_line
        cf[layout.F_POSITION_LIMIT] = np.inf
        ci[layout.C_WHOLE] = 1
        ci[layout.C_SWEEP] = cfg.sweep_excess
        ci[layout.C_LOG_POSITIONS] = self._positions_log is not None
        ci[layout.C_LIMITED] = cfg.funding == "limited"
        ci[layout.C_ANY_RATE] = bool(
            cfg.cash_rate or cfg.funding_rate or cfg.margin_rate or cfg.credit_rate
        )
        self.margin.configure(cf, ci)
        self.calls.configure(cf, ci)
        return Terms(
            listing=_day_numbers([c.listing_date for c in self.contracts]),
            last_trade=_day_numbers([c.last_trading_day for c in self.contracts]),
            final_day=_day_numbers([c.final_settlement_date for c in self.contracts]),
            delivery_month=np.array(
                [
                    (c.delivery_start.year - 1970) * 12 + c.delivery_start.month - 1
                    for c in self.contracts
                ],
                dtype=np.int64,
            ),
            children=self._children(),
            cf=cf,
            ci=ci,
        )

    def _children(self) -> npt.NDArray[np.int64]:
        """``Terms.children``: each contract's cascade components as indexes."""
        widest = max([len(c.cascades_into) for c in self.contracts] + [1])
        out = np.full((len(self.contracts), widest), -1, dtype=np.int64)
        where = {code: i for i, code in enumerate(self.codes)}
        for i, contract in enumerate(self.contracts):
            for m, code in enumerate(contract.cascades_into):
                out[i, m] = where.get(code, layout.MISSING_CHILD)
        return out

    def _new_rows(self) -> Rows:
        journal, events, positions = self.rows_per_event
        return layout.new_rows(
            max(_BUFFER_EVENTS * journal, _MIN_ROWS),
            max(_BUFFER_EVENTS * events, _MIN_ROWS),
            max(_BUFFER_EVENTS * positions, _MIN_ROWS),
        )

    def detail_code(self, text: str) -> int:
        """The event-log detail code of ``text`` (registered on first use)."""
        try:
            return self._details.index(text)
        except ValueError:
            self._details.append(text)
            return len(self._details) - 1

    def _event_code(self, name: str) -> int:
        try:
            return self._event_names.index(name)
        except ValueError:
            self._event_names.append(name)
            return len(self._event_names) - 1

    # -- state ----------------------------------------------------------------------------

    @property
    def positions(self) -> Floats:
        """Contracts held ``(n_paths, n_c)`` (long > 0)."""
        return self.book.positions

    @property
    def marks(self) -> Floats:
        """The price each position was last settled at (NaN before its first fill)."""
        return self.book.marks

    @property
    def accrued(self) -> Floats:
        """Variation margin of today's trades not yet booked."""
        return self.book.accrued

    @property
    def pnl(self) -> Floats:
        """Futures P&L to date per path and contract: variation margin + final settlement."""
        return self.book.pnl

    @property
    def delivered(self) -> Mask:
        """Whether a position was still held in the contract at its final settlement
        (or, for quarters and years, at its cascade)."""
        return self.book.delivered

    @property
    def balances(self) -> Floats:
        """Operating, margin and credit cash ``(3, n_paths)`` (credit = minus drawn)."""
        return self.book.balances

    @property
    def spent(self) -> Floats:
        """Cumulative consumption spend per path (not financed: see ``accrue_interest``)."""
        return self.book.spent

    @property
    def settled(self) -> Mask:
        """Contracts whose final settlement (or cascade) is done."""
        return self.book.settled

    @property
    def last_accrual(self) -> dt.date | None:
        """The day interest was last accrued to (``None`` before the first)."""
        day = int(self.book.clock[0])
        if day == layout.NO_DAY:
            return None
        return (np.datetime64(0, "D") + np.timedelta64(day, "D")).astype(dt.date)  # type: ignore[no-any-return]

    @property
    def _last_accrual(self) -> dt.date | None:
        return self.last_accrual

    @property
    def events(self) -> RowLog:
        """Non-monetary events: rejections, margin calls, liquidations."""
        self.drain()
        return self._events

    @property
    def positions_log(self) -> RowLog | None:
        """Daily positions after each settlement (``None``: not kept)."""
        self.drain()
        return self._positions_log

    @property
    def operating(self) -> Floats:
        """Operating cash per path."""
        return np.asarray(self.book.balances[layout.OPERATING])

    @property
    def margin_balance(self) -> Floats:
        """Cash in the margin account per path: the account's equity."""
        return np.asarray(self.book.balances[layout.MARGIN])

    @property
    def credit_drawn(self) -> Floats:
        """Credit line drawn per path (≥ 0)."""
        return np.asarray(-self.book.balances[layout.CREDIT])

    @property
    def equity(self) -> Floats:
        """Total cash of the enterprise per path (credit drawn counts as debt)."""
        return np.asarray(self.book.balances.sum(axis=0))

    @property
    def fills(self) -> npt.NDArray[np.int64]:
        """Orders filled per path (a cascade's bookings count; liquidations do not)."""
        return self.book.fills.copy()

    @property
    def fill_costs(self) -> Floats:
        """``(2, n_paths)`` what the fills gave up against their base price (USD): to the
        tick grid (row 0) and to slippage and the liquidity model (row 1)."""
        return self.book.fill_costs.copy()

    @property
    def roll_pnl(self) -> Floats:
        """Futures P&L per path of the contracts closed out before their final
        settlement — rolled, rebalanced away or liquidated (a contract still held at
        its final settlement counts as delivered, whatever was traded before)."""
        closed = ~self.delivered & (self.positions == 0)
        return ordered_sum(np.where(closed, self.pnl, 0.0))

    # -- rows -----------------------------------------------------------------------------

    def room(self) -> Rows:
        """The row buffers, with room for what one event can write (drained first if not)."""
        journal, events, positions = self.rows_per_event
        rows = self.rows
        if (
            rows.jn[0] + journal > len(rows.ji)
            or rows.en[0] + events > len(rows.ei)
            or rows.pn[0] + positions > len(rows.pi)
        ):
            self.drain()
        return self.rows

    def drain(self) -> None:
        """Hand the rows the core has written to the journal, the event log and the
        position log (as Arrow), and empty the buffers."""
        if self._draining:
            return
        self._draining = True
        try:
            rows = self.rows
            m = int(rows.jn[0])
            if m:
                rows.jn[0] = 0
                self.journal.append_core(rows.ji[:m], rows.jf[:m], self.codes)
            m = int(rows.en[0])
            if m:
                rows.en[0] = 0
                self._append_events(rows.ei[:m], rows.ef[:m])
            m = int(rows.pn[0])
            if m and self._positions_log is not None:
                rows.pn[0] = 0
                self._append_positions(rows.pi[:m], rows.pf[:m])
        finally:
            self._draining = False

    def _append_events(self, ints: npt.NDArray[np.int64], floats: Floats) -> None:
        details = ints[:, layout.E_DETAIL].copy()
        texts = list(self._details)
        due = np.flatnonzero(details == layout.D_DUE)
        if len(due):
            days, where = np.unique(ints[due, layout.E_AUX], return_inverse=True)
            details[due] = len(texts) + where.reshape(-1)
            texts += [f"due {d}" for d in days.astype("datetime64[D]").astype(dt.date).tolist()]
        flags = ints[:, layout.E_FLAGS]
        self._events.append(
            [
                pa.array(ints[:, layout.E_TS].astype("datetime64[us]")),
                pa.array(self.journal.path_ids[ints[:, layout.E_PATH]]),
                string_column(self._event_names, ints[:, layout.E_KIND]),
                string_column(self._event_contracts, ints[:, layout.E_CONTRACT]),
                pa.array(floats[:, layout.E_QTY].copy(), mask=(flags & layout.HAS_QTY) == 0),
                pa.array(floats[:, layout.E_AMOUNT].copy(), mask=(flags & layout.HAS_AMOUNT) == 0),
                string_column(texts, details),
            ]
        )

    def _append_positions(self, ints: npt.NDArray[np.int64], floats: Floats) -> None:
        assert self._positions_log is not None
        self._positions_log.append(
            [
                pa.array(ints[:, layout.P_TS].astype("datetime64[us]")),
                pa.array(self.journal.path_ids[ints[:, layout.P_PATH]]),
                string_column(self.codes, ints[:, layout.P_CONTRACT]),
                pa.array(floats[:, layout.P_QTY].copy()),
                pa.array(floats[:, layout.P_SETTLE].copy()),
            ]
        )

    def check(self, status: int, what: str) -> None:
        """Raise for a core step's failure status (``OK`` passes)."""
        if status == layout.OK:
            return
        if status == layout.NAN_PRICE:
            raise ValueError(f"{what}: a traded quantity has no finite price")
        if status == layout.NAN_SPEND:
            raise ValueError(f"{what}: tokens consumed but no spot index price")
        if status == layout.MISSING_CHILD_CONTRACT:
            parent = self.contracts[int(self.book.report[layout.R_ITEM])]
            missing = [c for c in parent.cascades_into if c not in self.codes]
            raise ValueError(
                f"{parent.code} cascades into {missing[0]}, which has no bars in this market"
            )
        raise RuntimeError(f"{what}: core status {status}")  # pragma: no cover

    # -- booking --------------------------------------------------------------------------

    def move(
        self, ts: np.datetime64, kind: EntryKind, source: Account, target: Account, amount: Floats
    ) -> None:
        """Transfer ``amount`` (≥ 0 per path) between two of the enterprise's accounts."""
        amounts = _over_paths(amount, self.n_paths)
        if (amounts < 0).any():
            raise ValueError("journal: a transfer amount must be >= 0")
        rules.transfer(
            self.book, self.room(), as_us(ts), KINDS.index(EntryKind(kind)),
            ACCOUNTS.index(Account(source)), ACCOUNTS.index(Account(target)), amounts,
        )  # fmt: skip

    def note_event(
        self,
        ts: np.datetime64,
        event: str,
        paths: Mask,
        *,
        contract: str | None = None,
        qty: Floats | None = None,
        amount: Floats | None = None,
        detail: str | None = None,
    ) -> None:
        """Log a non-monetary event (a rejection, a call) for the paths in ``paths``."""
        n = self.n_paths
        c = layout.NO_CONTRACT if contract is None else self._contract_or_new(contract)
        rules.note_event(
            self.room(), as_us(ts), self._event_code(event), _as_mask(paths, n), c,
            layout.D_NONE if detail is None else self.detail_code(detail), 0,
            _over_paths(qty, n), qty is not None, _over_paths(amount, n), amount is not None,
        )  # fmt: skip

    def _contract_or_new(self, code: str) -> int:
        """The event-log index of ``code`` (an event may name a contract the run does not
        trade: those are numbered after the run's)."""
        try:
            return self._event_contracts.index(code)
        except ValueError:
            self._event_contracts.append(code)
            return len(self._event_contracts) - 1

    # -- funding --------------------------------------------------------------------------

    def requirement(self, positions: Floats | None = None) -> tuple[Floats, Floats]:
        """``(initial, maintenance)`` margin per path of ``positions`` (default: held)
        at the current marks."""
        held = self.positions if positions is None else positions
        return self.margin.requirement(held, self.marks)

    def liquidity(self) -> Floats:
        """What can be paid into the margin account now, per path (inf for a treasury)."""
        out = np.empty(self.n_paths)
        rules.liquidity(self.book, self.terms, out)
        return out

    def fund_margin(self, ts: np.datetime64, kind: EntryKind, wanted: Floats) -> Floats:
        """Pay up to ``wanted`` into the margin account (operating cash first, then
        the credit line); return what was paid per path."""
        paid = np.empty(self.n_paths)
        rules.fund_margin(
            self.book, self.terms, self.room(), as_us(ts), KINDS.index(EntryKind(kind)),
            _over_paths(wanted, self.n_paths).copy(), paid,
        )  # fmt: skip
        return paid

    def top_up(self, ts: np.datetime64, paths: Mask | None = None) -> None:
        """Deposit what the margin account of ``paths`` (default: all) lacks of
        ``IM × (1 + margin_buffer)``."""
        rules.top_up(self.book, self.terms, self.room(), as_us(ts), _as_mask(paths, self.n_paths))

    # -- trading --------------------------------------------------------------------------

    def fill(
        self,
        ts: np.datetime64,
        c: int,
        qty: Floats,
        price: Floats,
        *,
        fee: Floats | float = 0.0,
        kind: EntryKind = EntryKind.FILL,
    ) -> None:
        """Book trades of ``qty`` contracts of contract ``c`` at ``price`` (per path;
        paths with ``qty == 0`` are untouched) and their fees."""
        n = self.n_paths
        status = rules.fill(
            self.book, self.terms, self.room(), as_us(ts), c, _over_paths(qty, n),
            _over_paths(price, n), _over_paths(fee, n), KINDS.index(EntryKind(kind)),
        )  # fmt: skip
        self.check(status, f"fill of {self.codes[c]} at {ts}")

    def consume(self, ts: np.datetime64, tokens: Floats, index: Floats) -> None:
        """Pay for ``tokens`` (millions) at the provider price derived from ``index``."""
        n = self.n_paths
        status = self._rules(
            rules.consume, self.book, self.terms, self.room(), as_us(ts), _over_paths(tokens, n),
            _over_paths(index, n),
        )  # fmt: skip
        self.check(status, f"consumption at {ts}")

    def liquidatable(self, day: dt.date) -> Mask:
        """Paths holding a position in a contract still trading on ``day``: a contract
        past its last trading day cannot be traded, only cash-settled."""
        out = np.empty(self.n_paths, dtype=np.bool_)
        rules.liquidatable(self.book, self.terms, as_day(day), out)
        return out

    def liquidate(self, ts: np.datetime64, paths: Mask, *, day: dt.date, reason: str) -> None:
        """Close every position of ``paths`` in the contracts still trading on ``day`` at
        its current mark (the settlement price just booked), and log why; a position
        past its last trading day is left to its final settlement."""
        rules.liquidate(
            self.book, self.terms, self.room(), as_us(ts), _as_mask(paths, self.n_paths),
            as_day(day), self.detail_code(reason),
        )  # fmt: skip

    # -- the end of an exchange day --------------------------------------------------------

    def settle(
        self,
        ts: np.datetime64,
        day: dt.date,
        contracts: npt.NDArray[np.intp],
        settle: Floats,
        index: IndexLookup,
    ) -> SettleOutcome:
        """The day's settlement, in the house plan's order, with the margin-call model's
        proposals applied as they stand: ``assess`` then ``apply``.

        ``contracts`` are global indexes of the contracts with a settlement
        price ``settle`` ``(n_paths, len(contracts))`` (NaN: none today).
        """
        self.assess(ts, day, contracts, settle)
        return self.apply(ts, day, index)

    def assess(
        self, ts: np.datetime64, day: dt.date, contracts: npt.NDArray[np.intp], settle: Floats
    ) -> MarginCall | None:
        """The day's settlement up to the strategy's ``on_margin_call``: interest (if the
        engine has not accrued it already at the start of the event), variation margin,
        then the margin-call model's calls and proposed liquidation orders — returned
        (``None``: no call issued, none due) for the strategy to amend before ``apply``."""
        self._rules(
            rules.settle_assess, self.book, self.terms, self.room(), as_us(ts), as_day(day),
            as_day(self.call_deadline(day)), np.ascontiguousarray(contracts, np.int64),
            np.ascontiguousarray(settle, np.float64),
        )  # fmt: skip
        return self.call_outcome(ts, day).call

    def apply(
        self,
        ts: np.datetime64,
        day: dt.date,
        index: IndexLookup,
        amended: MarginCall | None = None,
    ) -> SettleOutcome:
        """The rest of the day's settlement after ``assess``: the liquidation orders
        (``amended``'s, checked by ``amend``, or as proposed), final settlement of the
        expiring contracts at the settlement model's prices, cancelling covered calls,
        cascades, sweep and repayment, the position log."""
        if amended is not None:
            self.amend(amended.liquidation, day)
        expired, prices, ok, errors = self.final_prices(day, index)
        status = self._rules(
            rules.settle_apply, self.book, self.terms, self.room(), as_us(ts), as_day(day),
            as_day(self.call_deadline(day)), np.array(expired, np.int64), prices, ok,
        )  # fmt: skip
        if status == layout.MISSING_FIXINGS:
            error = errors[int(self.book.report[layout.R_ITEM])]
            assert error is not None
            raise error
        self.check(status, f"settlement at {ts}")
        return SettleOutcome(self.call_outcome(ts, day), tuple(expired))

    def amend(self, liquidation: npt.ArrayLike, day: dt.date) -> None:
        """Replace the proposed liquidation orders by ``liquidation`` ``(n_paths,
        n_contracts)``, after checking that each order is a finite number that only
        reduces a position of a path whose call fell due, in a contract still trading on
        ``day`` (whole contracts when the broker trades whole contracts)."""
        orders = np.asarray(liquidation, dtype=np.float64)
        book = self.book
        if orders.shape == book.liquidation.shape and np.array_equal(orders, book.liquidation):
            return  # as proposed (the usual case): checked when proposed
        if orders.shape != book.liquidation.shape:
            raise ValueError(
                f"on_margin_call: liquidation orders must have shape {book.liquidation.shape} "
                f"(paths x contracts), not {orders.shape}"
            )
        held = book.positions
        allowed = book.due[:, None] & (self.terms.last_trade >= as_day(day))[None, :]
        with np.errstate(invalid="ignore"):
            rules_broken = (
                (~np.isfinite(orders), "is not a finite number"),
                ((orders * held > 0) | (np.abs(orders) > np.abs(held)), "may only reduce it"),
                ((orders != 0) & ~allowed, "is for a path whose call did not fall due or a "
                 "contract no longer trading"),
                ((orders != np.round(orders)) & bool(self.terms.ci[layout.C_WHOLE]),
                 "must be in whole contracts"),
            )  # fmt: skip
        for wrong, rule in rules_broken:
            if wrong.any():
                p, c = (int(i) for i in np.argwhere(wrong)[0])
                raise ValueError(
                    f"on_margin_call: the liquidation order of path {p} in {self.codes[c]} "
                    f"({float(orders[p, c])!r}, with {float(held[p, c])!r} held) {rule}"
                )
        book.liquidation[...] = orders

    def final_prices(
        self, day: dt.date, index: IndexLookup
    ) -> tuple[list[int], Floats, npt.NDArray[np.bool_], list[Exception | None]]:
        """The month contracts whose final settlement is due on ``day`` (marked settled),
        their prices per path from the settlement model, whether each price could be
        fixed, and the error of each that could not (raised only if the contract has
        something to settle)."""
        if as_day(day) < self._next_final_day:  # nothing due: the common case, kept cheap
            return [], self._no_prices, _NONE_FIXED, []
        today = np.datetime64(day, "D")
        due = (self.final_settlement_day <= today) & ~self.settled
        expired = [int(c) for c in np.flatnonzero(due) if not self.contracts[c].cascades_into]
        prices = np.zeros((len(expired), self.n_paths))
        ok = np.ones(len(expired), dtype=np.bool_)
        errors: list[Exception | None] = []
        for e, c in enumerate(expired):
            self.settled[c] = True
            try:
                prices[e] = self.settlement.final_price(self.contracts[c], index)
                errors.append(None)
            except Exception as exc:  # raised only if the contract has something to settle
                ok[e] = False
                errors.append(exc)
        self._next_final_day = as_day(self._first_final_day())
        return expired, prices, ok, errors

    def _first_final_day(self) -> np.datetime64:
        """The earliest final settlement day of a month contract not settled yet."""
        waiting = ~self.settled & ~self._cascading
        if not waiting.any():
            return np.datetime64("9999-12-31", "D")
        return self.final_settlement_day[waiting].min()  # type: ignore[no-any-return]

    def call_deadline(self, day: dt.date) -> dt.date:
        """The exchange day by whose settlement a call issued on ``day`` must be met (the
        calendar remembers its answers)."""
        return self.calendar.offset(day, int(self.terms.ci[layout.C_DEADLINE_DAYS]))

    def call_outcome(self, ts: np.datetime64, day: dt.date) -> CallOutcome:
        """The calls the last settlement issued or found due, with the liquidation orders
        proposed (a copy, for the strategy to amend), and the paths it liquidated."""
        book = self.book
        liquidated = book.liquidated.copy()
        if not (book.report[layout.R_CALLED] or book.report[layout.R_DUE]):
            return CallOutcome(None, liquidated)
        issued, amount, equity, initial, maintenance = book.call.copy()
        call = MarginCall(
            ts, day, self.call_deadline(day), issued.astype(bool), amount, equity, initial,
            maintenance, book.due.copy(), book.liquidation.copy(), self.codes,
        )  # fmt: skip
        return CallOutcome(call, liquidated)

    def accrue_interest(self, ts: np.datetime64, day: dt.date) -> None:
        """Interest on each account for the calendar days since the last accrual.

        Operating cash earns ``cash_rate`` or costs ``funding_rate`` on its
        balance *excluding* cumulative consumption spend: token bills are paid
        by the business whether it hedges or not, so only the cash the hedge
        ties up or releases (margin deposits, withdrawals, calls) is financed.
        """
        self._rules(
            rules.accrue_interest, self.book, self.terms, self.room(), as_us(ts), as_day(day)
        )
