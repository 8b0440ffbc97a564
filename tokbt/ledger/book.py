"""The ledger: positions, marks and the enterprise's three accounts, for every path at once.

The ledger owns the state and books every money movement in the ``Journal``;
three replaceable models decide the economics (after LEAN): a margin model
(requirements), a settlement model (variation margin, final prices) and a
margin-call model (calls, collection, liquidation). The engine drives it in
the fixed order of the house plan: fills, consumption, then at the end of an
exchange day ``settle``.

State, as arrays over paths (``n_paths``) and the run's contracts (``n_c``):

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

from tokbt.ledger.config import LedgerConfig
from tokbt.ledger.journal import (
    ACCOUNTS,
    EVENT_SCHEMA,
    Account,
    EntryKind,
    Journal,
    RowLog,
)
from tokbt.ledger.margin import MarginModel, SpanMargin, SpecMargin, ordered_sum
from tokbt.ledger.margin_call import CallOutcome, MarginCallModel, StandardMarginCalls
from tokbt.ledger.settlement import DailySettlement, IndexLookup, SettlementModel
from tokbt.market import Contract, ContractSpec

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

_DAYS_PER_YEAR = 365.0
_OPERATING, _MARGIN, _CREDIT = (ACCOUNTS.index(a) for a in ACCOUNTS)


@dataclass(frozen=True)
class SettleOutcome:
    """What one daily settlement did: margin calls issued (``None`` if none),
    paths liquidated, and the contracts that expired (global indexes)."""

    call: CallOutcome
    expired: tuple[int, ...]


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
        margin, settlement, calls: replace the default models.
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
        self.events = events or RowLog(EVENT_SCHEMA)
        self.positions_log = positions_log
        self.positions = np.zeros((n, k))
        self.marks = np.full((n, k), np.nan)
        self.accrued = np.zeros((n, k))
        self.pnl = np.zeros((n, k))
        """Futures P&L to date per path and contract: variation margin + final settlement."""
        self.delivered = np.zeros((n, k), dtype=bool)
        """Whether a position was still held in the contract at its final settlement
        (or, for quarters and years, at its cascade)."""
        self.balances = np.zeros((len(ACCOUNTS), n))
        self.balances[_OPERATING] = cfg.initial_cash
        self.opening = self.balances.copy()
        self.spent = np.zeros(n)
        """Cumulative consumption spend per path (not financed: see ``accrue_interest``)."""
        if margin is None:
            margin = (
                SpanMargin(spec, n, k, cfg.span) if cfg.margin_model == "span" else SpecMargin(spec)
            )
        self.margin = margin
        self.settlement = settlement or DailySettlement(spec)
        self.calls = calls or StandardMarginCalls(n, cfg.call_deadline_days, cfg.margin_buffer)
        self.final_settlement_day = np.array(
            [np.datetime64(c.final_settlement_date, "D") for c in self.contracts],
            dtype="datetime64[D]",
        )
        self.last_trading_day = np.array(
            [np.datetime64(c.last_trading_day, "D") for c in self.contracts], dtype="datetime64[D]"
        )
        self.settled = np.zeros(k, dtype=bool)
        self._last_accrual: dt.date | None = None

    # -- balances ------------------------------------------------------------------------

    @property
    def operating(self) -> Floats:
        """Operating cash per path."""
        return np.asarray(self.balances[_OPERATING])

    @property
    def margin_balance(self) -> Floats:
        """Cash in the margin account per path: the account's equity."""
        return np.asarray(self.balances[_MARGIN])

    @property
    def credit_drawn(self) -> Floats:
        """Credit line drawn per path (≥ 0)."""
        return np.asarray(-self.balances[_CREDIT])

    @property
    def equity(self) -> Floats:
        """Total cash of the enterprise per path (credit drawn counts as debt)."""
        return np.asarray(self.balances.sum(axis=0))

    @property
    def roll_pnl(self) -> Floats:
        """Futures P&L per path of the contracts closed out before their final
        settlement — rolled, rebalanced away or liquidated (a contract still held at
        its final settlement counts as delivered, whatever was traded before)."""
        closed = ~self.delivered & (self.positions == 0)
        return ordered_sum(np.where(closed, self.pnl, 0.0))

    def book(
        self,
        ts: np.datetime64,
        kind: EntryKind,
        account: Account,
        amount: Floats,
        *,
        contract: str | None = None,
        qty: Floats | None = None,
        price: Floats | float | None = None,
    ) -> None:
        """Move ``amount`` (per path) into ``account`` from outside the enterprise."""
        self.balances[ACCOUNTS.index(account)] += amount
        self.journal.record(ts, kind, account, amount, contract=contract, qty=qty, price=price)

    def move(
        self, ts: np.datetime64, kind: EntryKind, source: Account, target: Account, amount: Floats
    ) -> None:
        """Transfer ``amount`` (≥ 0 per path) between two of the enterprise's accounts."""
        self.balances[ACCOUNTS.index(source)] -= amount
        self.balances[ACCOUNTS.index(target)] += amount
        self.journal.transfer(ts, kind, source, target, amount)

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
        rows = np.flatnonzero(paths)
        n = len(rows)
        if n == 0:
            return
        self.events.append(
            [
                pa.array(np.full(n, ts, dtype="datetime64[us]")),
                pa.array(self.journal.path_ids[rows]),
                pa.repeat(event, n),
                pa.repeat(pa.scalar(contract, pa.string()), n),
                pa.nulls(n, pa.float64()) if qty is None else pa.array(qty[rows]),
                pa.nulls(n, pa.float64()) if amount is None else pa.array(amount[rows]),
                pa.repeat(pa.scalar(detail, pa.string()), n),
            ]
        )

    # -- funding -------------------------------------------------------------------------

    def requirement(self, positions: Floats | None = None) -> tuple[Floats, Floats]:
        """``(initial, maintenance)`` margin per path of ``positions`` (default: held)
        at the current marks."""
        held = self.positions if positions is None else positions
        return self.margin.requirement(held, self.marks)

    def liquidity(self) -> Floats:
        """What can be paid into the margin account now, per path (inf for a treasury)."""
        if self.config.funding == "treasury":
            return np.full(self.n_paths, np.inf)
        headroom = self.config.credit_line - self.credit_drawn
        return np.maximum(self.operating, 0.0) + np.maximum(headroom, 0.0)

    def fund_margin(self, ts: np.datetime64, kind: EntryKind, wanted: Floats) -> Floats:
        """Pay up to ``wanted`` into the margin account (operating cash first, then
        the credit line); return what was paid per path."""
        wanted = np.maximum(wanted, 0.0)
        if self.config.funding == "treasury":
            self.move(ts, kind, Account.OPERATING, Account.MARGIN, wanted)
            return wanted
        from_cash = np.minimum(wanted, np.maximum(self.operating, 0.0))
        self.move(ts, kind, Account.OPERATING, Account.MARGIN, from_cash)
        headroom = np.maximum(self.config.credit_line - self.credit_drawn, 0.0)
        from_credit = np.minimum(wanted - from_cash, headroom)
        self.move(ts, kind, Account.CREDIT, Account.MARGIN, from_credit)
        return from_cash + from_credit

    def top_up(self, ts: np.datetime64, paths: Mask | None = None) -> None:
        """Deposit what the margin account of ``paths`` (default: all) lacks of
        ``IM × (1 + margin_buffer)``."""
        initial, _ = self.requirement()
        wanted = initial * (1 + self.config.margin_buffer) - self.margin_balance
        if paths is not None:
            wanted = np.where(paths, wanted, 0.0)
        if (wanted > 1e-9).any():
            self.fund_margin(ts, EntryKind.DEPOSIT, np.where(wanted > 1e-9, wanted, 0.0))

    # -- trading -------------------------------------------------------------------------

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
        traded = qty != 0
        if not traded.any():
            return
        code = self.codes[c]
        if not np.isfinite(price[traded]).all():
            raise ValueError(f"fill of {code} at {ts}: a traded quantity has no finite price")
        mark = self.marks[:, c]
        unmarked = traded & np.isnan(mark)
        mark[unmarked] = price[unmarked]
        self.accrued[:, c] += np.where(traded, qty * self.spec.multiplier * (mark - price), 0.0)
        self.positions[:, c] += qty
        self.journal.record(
            ts, kind, Account.MARGIN, 0.0, contract=code, qty=qty, price=price, where=traded
        )
        fees = np.where(traded, np.broadcast_to(fee, qty.shape), 0.0)
        if (fees != 0).any():
            self.book(ts, EntryKind.FEE, Account.MARGIN, -fees, contract=code)

    def consume(self, ts: np.datetime64, tokens: Floats, index: Floats) -> None:
        """Pay for ``tokens`` (millions) at the provider price derived from ``index``."""
        cfg = self.config
        price = index * (1 + cfg.consumption_markup) + cfg.consumption_basis
        spend = np.where(tokens > 0, tokens * price, 0.0)
        if np.isnan(spend).any():
            raise ValueError(f"consumption at {ts}: tokens consumed but no spot index price")
        self.book(ts, EntryKind.CONSUMPTION, Account.OPERATING, -spend, qty=tokens, price=price)
        self.spent += spend

    def liquidatable(self, day: dt.date) -> Mask:
        """Paths holding a position in a contract still trading on ``day``: a contract
        past its last trading day cannot be traded, only cash-settled."""
        trading = self.last_trading_day >= np.datetime64(day, "D")
        return np.asarray(((self.positions != 0) & trading).any(axis=1))

    def liquidate(self, ts: np.datetime64, paths: Mask, *, day: dt.date, reason: str) -> None:
        """Close every position of ``paths`` in the contracts still trading on ``day`` at
        its current mark (the settlement price just booked), and log why; a position
        past its last trading day is left to its final settlement."""
        trading = self.last_trading_day >= np.datetime64(day, "D")
        held = self.positions * paths[:, None] * trading[None, :]
        for c in np.flatnonzero((held != 0).any(axis=0)):
            qty = -held[:, c]
            self.journal.record(
                ts,
                EntryKind.LIQUIDATION,
                Account.MARGIN,
                0.0,
                contract=self.codes[c],
                qty=qty,
                price=self.marks[:, c],
                where=qty != 0,
            )
            self.positions[:, c] -= held[:, c]
        self.note_event(ts, "liquidation", paths, detail=reason)

    # -- the end of an exchange day --------------------------------------------------------

    def settle(
        self,
        ts: np.datetime64,
        day: dt.date,
        contracts: npt.NDArray[np.intp],
        settle: Floats,
        index: IndexLookup,
    ) -> SettleOutcome:
        """The day's settlement, in the house plan's order: interest (if the engine has
        not accrued it already at the start of the event), variation margin,
        margin calls (issue / collect / liquidate), final settlement of expiring
        contracts, cascades, sweep and repayment, the position log.

        ``contracts`` are global indexes of the contracts with a settlement
        price ``settle`` ``(n_paths, len(contracts))`` (NaN: none today).
        """
        self.accrue_interest(ts, day)
        self._variation_margin(ts, contracts, settle)
        self.margin.observe(contracts, settle)
        outcome = self.calls.process(self, ts, day)
        expired = self._final_settlement(ts, day, index)
        if expired:
            self._clear_covered_calls(ts)
        self._cascade(ts, day)
        self._sweep_and_repay(ts)
        self._log_positions(ts)
        return SettleOutcome(outcome, expired)

    def _variation_margin(
        self, ts: np.datetime64, contracts: npt.NDArray[np.intp], settle: Floats
    ) -> None:
        vm = self.settlement.variation_margin(
            self.positions[:, contracts],
            self.marks[:, contracts],
            self.accrued[:, contracts],
            settle,
        )
        self.balances[_MARGIN] += ordered_sum(vm)
        self.pnl[:, contracts] += vm
        self.journal.record_many(
            ts,
            EntryKind.VARIATION_MARGIN,
            Account.MARGIN,
            vm,
            [self.codes[c] for c in contracts],
            price=settle,
        )
        settles = np.isfinite(settle)
        self.marks[:, contracts] = np.where(settles, settle, self.marks[:, contracts])
        self.accrued[:, contracts] = np.where(settles, 0.0, self.accrued[:, contracts])

    def _final_settlement(
        self, ts: np.datetime64, day: dt.date, index: IndexLookup
    ) -> tuple[int, ...]:
        due = (self.final_settlement_day <= np.datetime64(day, "D")) & ~self.settled
        expired = []
        for c in np.flatnonzero(due):
            contract = self.contracts[c]
            if contract.cascades_into:
                continue
            self.settled[c] = True
            expired.append(int(c))
            held = self.positions[:, c]
            if not (held != 0).any() and not (self.accrued[:, c] != 0).any():
                continue
            price = self.settlement.final_price(contract, index)
            open_ = held != 0
            amount = (
                np.where(open_, held * self.spec.multiplier * (price - self.marks[:, c]), 0.0)
                + self.accrued[:, c]
            )
            self.balances[_MARGIN] += amount
            self.pnl[:, c] += amount
            self.delivered[:, c] |= open_
            self.journal.record(
                ts,
                EntryKind.FINAL_SETTLEMENT,
                Account.MARGIN,
                amount,
                contract=contract.code,
                qty=-held,
                price=price,
                where=open_ | (amount != 0),
            )
            self.positions[:, c] = 0.0
            self.marks[:, c] = np.where(open_, price, self.marks[:, c])
            self.accrued[:, c] = 0.0
        return tuple(expired)

    def _clear_covered_calls(self, ts: np.datetime64) -> None:
        """After a final settlement, cancel the outstanding calls whose margin account now
        covers the initial requirement of what is still held (a call issued on a last
        trading day ends with the book it was for, when that book has paid its way)."""
        outstanding = getattr(self.calls, "outstanding", None)
        cancel = getattr(self.calls, "cancel", None)
        if outstanding is None or cancel is None:
            return
        initial, _ = self.requirement()
        covered = (np.asarray(outstanding) > 0) & (self.margin_balance >= initial - 1e-9)
        if covered.any():
            cancel(covered)
            self.note_event(
                ts, "margin_call_cancelled", covered, detail="covered after final settlement"
            )

    def _cascade(self, ts: np.datetime64, day: dt.date) -> None:
        """Quarters and years become their component contracts at their last trading
        day, position for position, at the parent's settlement price (EEX cascading)."""
        due = (self.last_trading_day <= np.datetime64(day, "D")) & ~self.settled
        for c in np.flatnonzero(due):
            parent = self.contracts[c]
            if not parent.cascades_into:
                continue
            self.settled[c] = True
            held = self.positions[:, c].copy()
            if not (held != 0).any():
                continue
            self.delivered[:, c] |= held != 0
            price = self.marks[:, c].copy()
            self.fill(ts, int(c), -held, price)
            for code in parent.cascades_into:
                if code not in self.codes:
                    raise ValueError(
                        f"{parent.code} cascades into {code}, which has no bars in this market"
                    )
                self.fill(ts, self.codes.index(code), held, price)

    def _sweep_and_repay(self, ts: np.datetime64) -> None:
        cfg = self.config
        if cfg.sweep_excess:
            initial, _ = self.requirement()
            calm = np.asarray(getattr(self.calls, "outstanding", np.zeros(self.n_paths))) == 0
            excess = np.where(
                calm, np.maximum(self.margin_balance - initial * (1 + cfg.margin_buffer), 0.0), 0.0
            )
            self.move(ts, EntryKind.WITHDRAWAL, Account.MARGIN, Account.OPERATING, excess)
        if cfg.funding == "limited" and (self.credit_drawn > 0).any():
            repay = np.minimum(self.credit_drawn, np.maximum(self.operating, 0.0))
            self.move(ts, EntryKind.REPAYMENT, Account.OPERATING, Account.CREDIT, repay)

    def _log_positions(self, ts: np.datetime64) -> None:
        if self.positions_log is None:
            return
        rows, cols = np.nonzero(self.positions)
        n = len(rows)
        if n == 0:
            return
        self.positions_log.append(
            [
                pa.array(np.full(n, ts, dtype="datetime64[us]")),
                pa.array(self.journal.path_ids[rows]),
                pa.DictionaryArray.from_arrays(
                    pa.array(cols.astype(np.int32)), pa.array(self.codes, pa.string())
                ).cast(pa.string()),
                pa.array(self.positions[rows, cols]),
                pa.array(self.marks[rows, cols]),
            ]
        )

    def accrue_interest(self, ts: np.datetime64, day: dt.date) -> None:
        """Interest on each account for the calendar days since the last accrual.

        Operating cash earns ``cash_rate`` or costs ``funding_rate`` on its
        balance *excluding* cumulative consumption spend: token bills are paid
        by the business whether it hedges or not, so only the cash the hedge
        ties up or releases (margin deposits, withdrawals, calls) is financed.
        """
        last, self._last_accrual = self._last_accrual, day
        cfg = self.config
        if last is None or day <= last:
            return
        if not (cfg.cash_rate or cfg.funding_rate or cfg.margin_rate or cfg.credit_rate):
            return
        years = (day - last).days / _DAYS_PER_YEAR
        op = self.operating + self.spent
        rate = np.where(op >= 0, cfg.cash_rate, cfg.funding_rate)
        self.book(ts, EntryKind.INTEREST, Account.OPERATING, op * rate * years)
        margin = np.maximum(self.margin_balance, 0.0)
        self.book(ts, EntryKind.INTEREST, Account.MARGIN, margin * cfg.margin_rate * years)
        self.book(
            ts, EntryKind.INTEREST, Account.CREDIT, -self.credit_drawn * cfg.credit_rate * years
        )
