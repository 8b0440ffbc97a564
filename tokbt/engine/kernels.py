"""The compiled engine's numba code: a market block's events run by one compiled loop.

``run_block`` replays events of one ``MarketBlock`` the way ``Engine._run_block``
does — the same phases in the same order, the same arithmetic in the same
order — with the broker (``Broker.place`` / ``execute`` / ``_fill`` /
``_price``), the ledger (``Ledger.fill`` / ``consume`` / ``top_up`` /
``accrue_interest`` / ``settle``) and ``StandardMarginCalls`` written out as
loops over paths. Each vectorised numpy step of the Python engine is one loop
over paths here, in the same order of steps, so every value and every journal
row comes out bit for bit as the Python engine makes them. Only the
configurations ``tokbt.engine.compiled`` accepts are mirrored (treasury
funding, spec margin, no liquidity model, no position limit, month contracts).

At every event the strategy's *decision kernel* is called (``KERNEL_SIGNATURE``)
through a first-class function pointer, so one compiled (and cached) loop
serves every kernel. Rows of the journal, the event log and the position log
are written into preallocated buffers; when one might not hold the next event's
rows, or the decision log is full, the loop returns at that event boundary and
the caller drains or grows the buffers and resumes (all state is in arrays).

Integer state and row layouts are indexed by the constants below; the caller
(``tokbt.engine.compiled``) owns the buffers and turns rows into Arrow.

The helpers on the order path (place, execute, fill, top-up and the row
writers) are inlined into the loop (``inline="always"``): called as functions
they passed ~30 arrays each and cost several times the work they do. Fills run
from one call site (the loop's two steps) so that they are inlined once;
settlement, consumption and interest, once a day or per event, stay calls to
keep the compile time down (numba caches the result).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit, types

from tokbt.ledger import Account, EntryKind

# -- the decision kernel ---------------------------------------------------------------------

_F1R = types.Array(types.float64, 1, "A", readonly=True)
_F2R = types.Array(types.float64, 2, "A", readonly=True)
_F3R = types.Array(types.float64, 3, "A", readonly=True)
_I1R = types.Array(types.int64, 1, "A", readonly=True)
_F1 = types.Array(types.float64, 1, "C")
_F2 = types.Array(types.float64, 2, "C")

KERNEL_SIGNATURE = types.void(
    types.int64,  # event: position of the event in the timeline
    types.int64,  # day: the event's calendar day, days since 1970-01-01
    types.boolean,  # settling: an exchange day ends at this event
    _F2R,  # spot closes (history, n_paths)
    _F3R,  # futures closes (history, n_paths, n_contracts)
    _F2R,  # positions (n_paths, n_contracts)
    _I1R,  # expiry (n_contracts,): exchange days to the last trading day, -1 if not tradable
    _F2R,  # planned tokens (n_paths, n_contracts) over each contract's delivery period
    _F1R,  # params
    _F1,  # state (persistent, writable)
    _F2,  # target (n_paths, n_contracts), NaN on entry: write target positions
)
"""The decision kernel's signature; see ``tokbt.kernel_strategy.KernelStrategy``."""

KernelFunction = types.FunctionType(KERNEL_SIGNATURE)


# -- layouts -----------------------------------------------------------------------------------

ROW_KINDS = (
    EntryKind.FILL,
    EntryKind.FEE,
    EntryKind.VARIATION_MARGIN,
    EntryKind.FINAL_SETTLEMENT,
    EntryKind.CONSUMPTION,
    EntryKind.MARGIN_CALL,
    EntryKind.DEPOSIT,
    EntryKind.WITHDRAWAL,
    EntryKind.INTEREST,
)
"""Journal row kinds by their code in ``journal_ints[:, KIND]``."""
# numpy integers, not Python ints: numba would compile a helper once per literal argument
FILL, FEE, VM, FINAL, CONSUMPTION, MARGIN_CALL, DEPOSIT, WITHDRAWAL, INTEREST = map(
    np.int64, range(9)
)
ROW_HAS_QTY = (True, False, False, True, True, False, False, False, False)
ROW_HAS_PRICE = (True, False, True, True, True, False, False, False, False)
"""Whether rows of each kind carry a quantity / a price (else null), as the ledger books them."""

ROW_ACCOUNTS = (Account.OPERATING, Account.MARGIN, Account.CREDIT)
"""Accounts by their code: rows of ``balances`` and ``journal_ints[:, ACCOUNT]``."""
OPERATING, MARGIN, CREDIT = map(np.int64, range(3))

J_EVENT, J_KIND, J_ACCOUNT, J_PATH, J_CONTRACT = range(5)
J_QTY, J_PRICE, J_AMOUNT = range(3)
"""Columns of a journal row: ints (event in block, kind, account, path row, contract or
-1) and floats (qty, price, amount)."""

REJECTED, CALLED = map(np.int64, range(2))
"""Event-log kinds: an order rejected, a margin call issued."""
EXPIRED, NOT_LISTED, LOCKED, DUE = map(np.int64, range(4))
NO_CONTRACT = LISTED = np.int64(-1)
"""Event-log details: expired, not yet listed, limit locked: cancelled, due <deadline>."""
E_EVENT, E_KIND, E_PATH, E_CONTRACT, E_DETAIL = range(5)
E_QTY, E_AMOUNT = range(2)
P_EVENT, P_PATH, P_CONTRACT = range(3)
P_QTY, P_SETTLE = range(2)

C_AT_CLOSE, C_CANCEL_LOCKED, C_WHOLE, C_HISTORY, C_SWEEP, C_LOG_POSITIONS = range(6)
"""``config_ints``: fill at the close, cancel on a locked bar, whole contracts, history
events, sweep excess margin, keep the position log."""
(
    F_MULT,
    F_TICK,
    F_SCALE,
    F_SLIPPAGE,
    F_FEE,
    F_IM,
    F_MM_RATIO,
    F_BUFFER,
    F_CASH_RATE,
    F_FUNDING_RATE,
    F_MARGIN_RATE,
    F_CREDIT_RATE,
    F_MARKUP,
    F_BASIS,
    F_GRID_EPS,
) = range(15)
"""``config_floats``: multiplier, tick, 10**tick decimals, slippage ticks, fee per contract,
initial margin rate, maintenance ratio, margin buffer, the four interest rates,
consumption markup and basis, and the tick grid's tolerance (``GRID_EPS``)."""
N_CONFIG_INTS, N_CONFIG_FLOATS = 6, 15

(
    S_DECISIONS,
    S_ACTIVE,
    S_LAST_ACCRUAL,
    S_HISTORY_ROW,
    S_HISTORY_SHIFTS,
    S_ERROR_EVENT,
    S_ERROR_ITEM,
) = range(7)
"""``int_state``: decisions logged, broker active, day of the last interest accrual
(``NO_DAY`` before the first), the current history row, how often the history buffer
shifted, and where an error stopped."""
N_INT_STATE = 7
NO_DAY = np.iinfo(np.int64).min

DONE, FLUSH, GROW_DECISIONS, NAN_CONSUMPTION, MISSING_FIXINGS = range(5)
"""``run_block`` statuses: the block is done; stopped to drain the row buffers; stopped to
grow the decision log; consumption priced at NaN; final settlement without fixings."""

_DAYS_PER_YEAR = 365.0  # as Ledger.accrue_interest
_EPS = 1e-9  # the ledger's and margin-call model's tolerance
_BIG = np.finfo(np.float64).max

Int = int | np.int64
"""An integer argument of the compiled helpers (codes are numpy integers)."""


def rows_per_event(n_paths: int, n_contracts: int) -> tuple[int, int, int]:
    """At most how many journal, event-log and position-log rows one event writes."""
    journal = n_paths * (4 * n_contracts + 11)
    events = n_paths * (3 * n_contracts + 1)
    return journal, events, n_paths * n_contracts


# -- scalar helpers, numpy's semantics ----------------------------------------------------------


@njit(cache=True, inline="always")
def _sign(x: float) -> float:  # pragma: no cover - compiled
    """``np.sign``: +1, -1, 0 (also for -0.0) or NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return x


@njit(cache=True, inline="always")
def _whole(x: float) -> float:  # pragma: no cover - compiled
    """``Broker.whole``: round to whole contracts, halves away from zero."""
    return float(_sign(x) * np.floor(np.abs(x) + 0.5))


@njit(cache=True, inline="always")
def _maximum(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.maximum``: NaN propagates; ties give ``b``."""
    if a > b or a != a:
        return a
    return b


@njit(cache=True, inline="always")
def _nan_to_num(x: float) -> float:  # pragma: no cover - compiled
    if x != x:
        return 0.0
    if x == np.inf:
        return _BIG
    if x == -np.inf:
        return -_BIG
    return x


@njit(cache=True, inline="always")
def _against(raw: float, side: float, cf: np.ndarray) -> float:  # pragma: no cover - compiled
    """``broker.against``: on the tick grid, buys up, sells down, at least one tick
    (``np.round(x, d)`` is ``rint(x · 10^d) / 10^d``)."""
    if side == 0.0:
        return raw
    tick, eps = cf[F_TICK], cf[F_GRID_EPS]
    units = raw / tick
    n = np.ceil(units - eps) if side > 0.0 else np.floor(units + eps)
    n = _maximum(n, 1.0)
    return float(np.rint(n * tick * cf[F_SCALE]) / cf[F_SCALE])


@njit(cache=True, inline="always")
def _initial(
    positions: np.ndarray, marks: np.ndarray, p: int, cf: np.ndarray
) -> float:  # pragma: no cover - compiled
    """``SpecMargin.requirement``'s initial margin of path ``p``: notional added column by
    column from zero (``ordered_sum``)."""
    total = 0.0
    for c in range(positions.shape[1]):
        q = positions[p, c]
        total += np.abs(q) * cf[F_MULT] * marks[p, c] if q != 0.0 else 0.0
    return float(cf[F_IM] * total)


# -- rows ---------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _journal(
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
    event: Int,
    kind: Int,
    account: Int,
    path: Int,
    contract: Int,
    qty: float,
    price: float,
    amount: float,
) -> None:  # pragma: no cover - compiled
    r = counts[0]
    ji[r, J_EVENT] = event
    ji[r, J_KIND] = kind
    ji[r, J_ACCOUNT] = account
    ji[r, J_PATH] = path
    ji[r, J_CONTRACT] = contract
    jf[r, J_QTY] = qty
    jf[r, J_PRICE] = price
    jf[r, J_AMOUNT] = amount
    counts[0] = r + 1


@njit(cache=True, inline="always")
def _note(
    ei: np.ndarray,
    ef: np.ndarray,
    counts: np.ndarray,
    event: Int,
    kind: Int,
    path: Int,
    contract: Int,
    detail: Int,
    qty: float,
    amount: float,
) -> None:  # pragma: no cover - compiled
    r = counts[1]
    ei[r, E_EVENT] = event
    ei[r, E_KIND] = kind
    ei[r, E_PATH] = path
    ei[r, E_CONTRACT] = contract
    ei[r, E_DETAIL] = detail
    ef[r, E_QTY] = qty
    ef[r, E_AMOUNT] = amount
    counts[1] = r + 1


@njit(cache=True, inline="always")
def _book(
    balances: np.ndarray,
    amounts: np.ndarray,
    account: Int,
    kind: Int,
    event: Int,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.book`` without contract, qty or price: a row where the amount is not 0."""
    n = amounts.shape[0]
    for p in range(n):
        balances[account, p] += amounts[p]
    for p in range(n):
        if amounts[p] != 0.0:
            _journal(
                ji, jf, counts, event, kind, account, p, NO_CONTRACT, np.nan, np.nan, amounts[p]
            )


@njit(cache=True, inline="always")
def _move(
    balances: np.ndarray,
    amounts: np.ndarray,
    source: Int,
    target: Int,
    kind: Int,
    event: Int,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.move``: the transfer's source rows for every path, then its target rows."""
    n = amounts.shape[0]
    for p in range(n):
        balances[source, p] -= amounts[p]
        balances[target, p] += amounts[p]
    for p in range(n):
        if amounts[p] != 0.0:
            _journal(
                ji, jf, counts, event, kind, source, p, NO_CONTRACT, np.nan, np.nan, -amounts[p]
            )
    for p in range(n):
        if amounts[p] != 0.0:
            _journal(
                ji, jf, counts, event, kind, target, p, NO_CONTRACT, np.nan, np.nan, amounts[p]
            )


@njit(cache=True, inline="always")
def _fund_margin(
    balances: np.ndarray,
    wanted: np.ndarray,
    kind: Int,
    event: Int,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.fund_margin`` under treasury funding: everything, from operating cash."""
    for p in range(wanted.shape[0]):
        wanted[p] = _maximum(wanted[p], 0.0)
    _move(balances, wanted, OPERATING, MARGIN, kind, event, ji, jf, counts)


# -- the broker ---------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _unlisted(
    c: Int, day: Int, listing: np.ndarray, last_trade: np.ndarray
) -> Int:  # pragma: no cover - compiled
    if day > last_trade[c]:
        return EXPIRED
    if day < listing[c]:
        return NOT_LISTED
    return LISTED


@njit(cache=True, inline="always")
def _apply(
    d: Int,
    orders: np.ndarray,
    positions: np.ndarray,
    dec_i: np.ndarray,
    dec_q: np.ndarray,
    whole: bool,
) -> None:  # pragma: no cover - compiled
    """``Broker._apply`` of a target decision: order what the position lacks."""
    c = dec_i[d, 1]
    for p in range(orders.shape[0]):
        change = dec_q[d, p] - positions[p, c]
        orders[p, c] = _whole(change) if whole else change


@njit(cache=True, inline="always")
def _place(
    i: Int,
    c: Int,
    qty: np.ndarray,
    now: Int,
    day: Int,
    positions: np.ndarray,
    pending: np.ndarray,
    dec_i: np.ndarray,
    dec_q: np.ndarray,
    istate: np.ndarray,
    listing: np.ndarray,
    last_trade: np.ndarray,
    whole: bool,
    ei: np.ndarray,
    ef: np.ndarray,
    counts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Broker.place(..., target=True)``: reject an unlisted contract, else log the decision."""
    n = qty.shape[0]
    reason = _unlisted(c, day, listing, last_trade)
    if reason >= 0:
        for p in range(n):
            change = qty[p] - positions[p, c]
            if whole:
                change = _whole(change)
            if change != 0.0:
                _note(ei, ef, counts, i, REJECTED, p, c, reason, change, np.nan)
        return
    d = istate[S_DECISIONS]
    dec_i[d, 0] = now
    dec_i[d, 1] = c
    for p in range(n):
        dec_q[d, p] = qty[p]
    istate[S_DECISIONS] = d + 1
    _apply(d, pending, positions, dec_i, dec_q, whole)
    istate[S_ACTIVE] = 1


@njit(cache=True, inline="always")
def _ledger_fill(
    i: Int,
    c: Int,
    qty: np.ndarray,
    price: np.ndarray,
    fee: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    accrued: np.ndarray,
    balances: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.fill``: marks, the day's accrued variation margin, positions, rows, fees."""
    n = qty.shape[0]
    traded = False
    for p in range(n):
        if qty[p] != 0.0:
            traded = True
    if not traded:
        return
    mult = cf[F_MULT]
    for p in range(n):
        if qty[p] != 0.0 and np.isnan(marks[p, c]):
            marks[p, c] = price[p]
    for p in range(n):
        accrued[p, c] += qty[p] * mult * (marks[p, c] - price[p]) if qty[p] != 0.0 else 0.0
    for p in range(n):
        positions[p, c] += qty[p]
    for p in range(n):
        if qty[p] != 0.0:
            _journal(ji, jf, counts, i, FILL, MARGIN, p, c, qty[p], price[p], 0.0)
    fees = scratch
    any_fee = False
    for p in range(n):
        fees[p] = fee[p] if qty[p] != 0.0 else 0.0
        if fees[p] != 0.0:
            any_fee = True
    if any_fee:
        for p in range(n):
            balances[MARGIN, p] += -fees[p]
        for p in range(n):
            if -fees[p] != 0.0:
                _journal(ji, jf, counts, i, FEE, MARGIN, p, c, np.nan, np.nan, -fees[p])


@njit(cache=True, inline="always")
def _top_up(
    i: Int,
    paths: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    balances: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
    wanted: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.top_up(paths)``: deposit what the margin account lacks of IM × (1 + buffer)."""
    n = paths.shape[0]
    short = False
    for p in range(n):
        w = _initial(positions, marks, p, cf) * (1.0 + cf[F_BUFFER]) - balances[MARGIN, p]
        wanted[p] = w if paths[p] else 0.0
        if wanted[p] > _EPS:
            short = True
    if short:
        for p in range(n):
            wanted[p] = wanted[p] if wanted[p] > _EPS else 0.0
        _fund_margin(balances, wanted, DEPOSIT, i, ji, jf, counts)


@njit(cache=True, inline="always")
def _fill(
    i: Int,
    c: Int,
    base: np.ndarray,
    locked: np.ndarray,
    orders: np.ndarray,
    traded: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    accrued: np.ndarray,
    balances: np.ndarray,
    ci: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    ei: np.ndarray,
    ef: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
    want: np.ndarray,
    blocked: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Broker._fill``: fill ``orders[:, c]`` at ``base`` moved by the costs, where the
    bar is not locked; clear what filled or was cancelled; mark the paths that traded."""
    n = orders.shape[0]
    qty, price, fee, tmp = scratch[0], scratch[1], scratch[2], scratch[3]
    any_blocked = False
    for p in range(n):
        qty[p] = orders[p, c]
        want[p] = qty[p] != 0.0 and np.isfinite(base[p])
        blocked[p] = want[p] and locked[p]
        if blocked[p]:
            any_blocked = True
    if any_blocked:
        for p in range(n):
            want[p] = want[p] and not locked[p]
        if ci[C_CANCEL_LOCKED]:
            for p in range(n):
                if blocked[p]:
                    _note(ei, ef, counts, i, REJECTED, p, c, LOCKED, qty[p], np.nan)
            for p in range(n):
                if blocked[p]:
                    orders[p, c] = 0.0
    anyone = False
    for p in range(n):
        if want[p]:
            anyone = True
    if not anyone:
        return
    tick, slip = cf[F_TICK], cf[F_SLIPPAGE]
    for p in range(n):
        b = base[p] if want[p] else 0.0
        side = _sign(qty[p] if want[p] else 0.0)
        raw = b + side * (slip * tick + 0.0)
        price[p] = _against(raw, side, cf) if want[p] else 0.0
        qty[p] = qty[p] if want[p] else 0.0
        fee[p] = cf[F_FEE] * np.abs(qty[p])
    _ledger_fill(
        i, c, qty, price, fee, positions, marks, accrued, balances, cf, ji, jf, counts, tmp
    )
    for p in range(n):
        if want[p]:
            orders[p, c] = 0.0
            traded[p] = True


@njit(cache=True, inline="always")
def _execute(
    i: Int,
    at_close: bool,
    bar_start: Int,
    day: Int,
    prices: np.ndarray,
    locked: np.ndarray,
    colmap: np.ndarray,
    due: np.ndarray,
    pending: np.ndarray,
    dec_i: np.ndarray,
    dec_q: np.ndarray,
    istate: np.ndarray,
    listing: np.ndarray,
    last_trade: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    accrued: np.ndarray,
    balances: np.ndarray,
    ci: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    ei: np.ndarray,
    ef: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
    masks: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Broker.execute``: the decisions due by the bar's start, fills, later decisions,
    then top-ups of the paths that traded."""
    n, k = due.shape
    whole = ci[C_WHOLE] != 0
    n_dec = istate[S_DECISIONS]
    cut = n_dec
    if not at_close:
        cut = 0
        while cut < n_dec and dec_i[cut, 0] <= bar_start:
            cut += 1
    for d in range(cut):
        _apply(d, due, positions, dec_i, dec_q, whole)
    for c in range(k):
        flags[c] = False
        for p in range(n):
            if due[p, c] != 0.0:
                flags[c] = True
    traded = masks[0]
    for p in range(n):
        traded[p] = False
    for c in range(k):
        if not flags[c]:
            continue
        reason = _unlisted(c, day, listing, last_trade)
        if reason >= 0:
            for p in range(n):
                if due[p, c] != 0.0:
                    _note(ei, ef, counts, i, REJECTED, p, c, reason, due[p, c], np.nan)
            for p in range(n):
                due[p, c] = 0.0
            continue
        j = colmap[c]
        if j >= 0:
            _fill(
                i, c, prices[:, j], locked[:, j], due, traded, positions, marks, accrued,
                balances, ci, cf, ji, jf, ei, ef, counts, scratch, masks[1], masks[2],
            )  # fmt: skip
    for d in range(cut, n_dec):
        _apply(d, due, positions, dec_i, dec_q, whole)
    istate[S_DECISIONS] = 0
    active = 0
    for p in range(n):
        for c in range(k):
            pending[p, c] = due[p, c]
            if due[p, c] != 0.0:
                active = 1
    istate[S_ACTIVE] = active
    anyone = False
    for p in range(n):
        if traded[p]:
            anyone = True
    if anyone:
        _top_up(i, traded, positions, marks, balances, cf, ji, jf, counts, scratch[0])


# -- consumption, interest, settlement ----------------------------------------------------------


@njit(cache=True)
def _consume(
    i: Int,
    tokens: np.ndarray,
    last_close: np.ndarray,
    balances: np.ndarray,
    spent: np.ndarray,
    consumed: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """``Ledger.consume`` of the event's tokens at the last spot close; False if a spend is
    NaN (nothing booked)."""
    n = tokens.shape[0]
    qty, price, spend = scratch[0], scratch[1], scratch[2]
    for p in range(n):
        qty[p] = _nan_to_num(tokens[p])
        price[p] = last_close[p] * (1.0 + cf[F_MARKUP]) + cf[F_BASIS]
        spend[p] = qty[p] * price[p] if qty[p] > 0.0 else 0.0
        if np.isnan(spend[p]):
            return False
    for p in range(n):
        balances[OPERATING, p] += -spend[p]
    for p in range(n):
        if -spend[p] != 0.0 or qty[p] != 0.0:
            _journal(
                ji,
                jf,
                counts,
                i,
                CONSUMPTION,
                OPERATING,
                p,
                NO_CONTRACT,
                qty[p],
                price[p],
                -spend[p],
            )
    for p in range(n):
        spent[p] += spend[p]
        consumed[p] += qty[p]
    return True


@njit(cache=True)
def _accrue(
    i: Int,
    day: Int,
    istate: np.ndarray,
    balances: np.ndarray,
    spent: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    counts: np.ndarray,
    amounts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``Ledger.accrue_interest`` for the calendar days since the last accrual."""
    last = istate[S_LAST_ACCRUAL]
    istate[S_LAST_ACCRUAL] = day
    if last == NO_DAY or day <= last:
        return
    rates = (cf[F_CASH_RATE], cf[F_FUNDING_RATE], cf[F_MARGIN_RATE], cf[F_CREDIT_RATE])
    if rates[0] == 0.0 and rates[1] == 0.0 and rates[2] == 0.0 and rates[3] == 0.0:
        return
    years = np.float64(day - last) / _DAYS_PER_YEAR
    n = spent.shape[0]
    for p in range(n):
        op = balances[OPERATING, p] + spent[p]
        amounts[p] = op * (rates[0] if op >= 0.0 else rates[1]) * years
    _book(balances, amounts, OPERATING, INTEREST, i, ji, jf, counts)
    for p in range(n):
        amounts[p] = _maximum(balances[MARGIN, p], 0.0) * rates[2] * years
    _book(balances, amounts, MARGIN, INTEREST, i, ji, jf, counts)
    for p in range(n):
        amounts[p] = balances[CREDIT, p] * rates[3] * years  # −credit_drawn: −(−balance)
    _book(balances, amounts, CREDIT, INTEREST, i, ji, jf, counts)


@njit(cache=True)
def _margin_calls(
    i: Int,
    positions: np.ndarray,
    marks: np.ndarray,
    balances: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    ei: np.ndarray,
    ef: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
    issued: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``StandardMarginCalls.process`` under treasury funding: a call below maintenance,
    for what restores IM × (1 + buffer), paid at once (no call stays outstanding)."""
    n = issued.shape[0]
    amount, wanted = scratch[0], scratch[1]
    anyone = False
    for p in range(n):
        initial = _initial(positions, marks, p, cf)
        equity = balances[MARGIN, p]
        issued[p] = equity < initial / cf[F_MM_RATIO] - _EPS
        amount[p] = initial * (1.0 + cf[F_BUFFER]) - equity if issued[p] else 0.0
        if issued[p]:
            anyone = True
    if not anyone:
        return
    for p in range(n):
        if issued[p]:
            _note(ei, ef, counts, i, CALLED, p, NO_CONTRACT, DUE, np.nan, amount[p])
    for p in range(n):
        covered = issued[p] and balances[MARGIN, p] >= _initial(positions, marks, p, cf) - _EPS
        wanted[p] = amount[p] if issued[p] and not covered else 0.0
    _fund_margin(balances, wanted, MARGIN_CALL, i, ji, jf, counts)


@njit(cache=True)
def _settle(
    i: Int,
    settle: np.ndarray,
    gidx: np.ndarray,
    fs_event: np.ndarray,
    fs_contract: np.ndarray,
    fs_price: np.ndarray,
    fs_ok: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    accrued: np.ndarray,
    pnl: np.ndarray,
    delivered: np.ndarray,
    balances: np.ndarray,
    istate: np.ndarray,
    ci: np.ndarray,
    cf: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    ei: np.ndarray,
    ef: np.ndarray,
    pi: np.ndarray,
    pf: np.ndarray,
    counts: np.ndarray,
    scratch: np.ndarray,
    mask: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """``Ledger.settle``: variation margin, margin calls, final settlement, sweep, the
    position log. False if a final settlement lacks its fixings."""
    n, k = positions.shape
    mult = cf[F_MULT]
    for p in range(n):  # variation margin, path-major rows as Journal.record_many
        total = 0.0
        for j in range(gidx.shape[0]):
            c = gidx[j]
            s = settle[p, j]
            settles = np.isfinite(s)
            move = s - marks[p, c] if settles and positions[p, c] != 0.0 else 0.0
            vm = positions[p, c] * mult * move + accrued[p, c]
            vm = vm if settles else 0.0
            total += vm
            pnl[p, c] += vm
            if vm != 0.0:
                _journal(ji, jf, counts, i, VM, MARGIN, p, c, np.nan, s, vm)
            if settles:
                marks[p, c] = s
                accrued[p, c] = 0.0
        balances[MARGIN, p] += total
    _margin_calls(i, positions, marks, balances, cf, ji, jf, ei, ef, counts, scratch, mask)
    for e in range(fs_event.shape[0]):
        if fs_event[e] != i:
            continue
        c = fs_contract[e]
        open_any = False
        for p in range(n):
            if positions[p, c] != 0.0 or accrued[p, c] != 0.0:
                open_any = True
        if not open_any:
            continue
        if not fs_ok[e]:
            istate[S_ERROR_EVENT] = i
            istate[S_ERROR_ITEM] = e
            return False
        for p in range(n):
            held = positions[p, c]
            price = fs_price[e, p]
            is_open = held != 0.0
            amount = (held * mult * (price - marks[p, c]) if is_open else 0.0) + accrued[p, c]
            balances[MARGIN, p] += amount
            pnl[p, c] += amount
            delivered[p, c] = delivered[p, c] or is_open
            if is_open or amount != 0.0:
                _journal(ji, jf, counts, i, FINAL, MARGIN, p, c, -held, price, amount)
            positions[p, c] = 0.0
            marks[p, c] = price if is_open else marks[p, c]
            accrued[p, c] = 0.0
    if ci[C_SWEEP]:
        excess = scratch[0]
        for p in range(n):
            level = _initial(positions, marks, p, cf) * (1.0 + cf[F_BUFFER])
            excess[p] = _maximum(balances[MARGIN, p] - level, 0.0)
        _move(balances, excess, MARGIN, OPERATING, WITHDRAWAL, i, ji, jf, counts)
    if ci[C_LOG_POSITIONS]:
        for p in range(n):
            for c in range(k):
                if positions[p, c] != 0.0:
                    r = counts[2]
                    pi[r, P_EVENT] = i
                    pi[r, P_PATH] = p
                    pi[r, P_CONTRACT] = c
                    pf[r, P_QTY] = positions[p, c]
                    pf[r, P_SETTLE] = marks[p, c]
                    counts[2] = r + 1
    return True


# -- the strategy's turn -----------------------------------------------------------------------


@njit(cache=True)
def _see(
    i: Int,
    spot_close: np.ndarray,
    fut_close: np.ndarray,
    gidx: np.ndarray,
    hist_spot: np.ndarray,
    hist_fut: np.ndarray,
    istate: np.ndarray,
    history: Int,
) -> int:  # pragma: no cover - compiled
    """Write the event's closes into the history buffers; return the current row.

    Rows of the buffers are events; when the last row is used, the newest
    ``history - 1`` rows move to the front and the rest is reset to NaN, so a
    window ending at the current row is always one slice — and nothing after
    the current event has been written yet.
    """
    r = istate[S_HISTORY_ROW] + 1
    rows = hist_spot.shape[0]
    n, k = hist_fut.shape[1], hist_fut.shape[2]
    if r == rows:
        keep = history - 1
        for row in range(rows):
            old = rows - keep + row
            for p in range(n):
                hist_spot[row, p] = hist_spot[old, p] if row < keep else np.nan
                for c in range(k):
                    hist_fut[row, p, c] = hist_fut[old, p, c] if row < keep else np.nan
        r = keep
        istate[S_HISTORY_SHIFTS] += 1
    for p in range(n):
        hist_spot[r, p] = spot_close[i, p]
        for j in range(gidx.shape[0]):
            hist_fut[r, p, gidx[j]] = fut_close[i, p, j]
    istate[S_HISTORY_ROW] = r
    return int(r)


# -- the loop ----------------------------------------------------------------------------------

_C: Literal["C"] = "C"
_DRIVER_ARGS: tuple[tuple[str, Any], ...] = (
    ("kernel", KernelFunction),
    ("first", types.int64),
    ("block_start", types.int64),
    ("now", types.Array(types.int64, 1, _C, readonly=True)),
    ("day", types.Array(types.int64, 1, _C, readonly=True)),
    ("bar_start", types.Array(types.int64, 1, _C, readonly=True)),
    ("has_spot", types.Array(types.boolean, 1, _C, readonly=True)),
    ("has_futures", types.Array(types.boolean, 1, _C, readonly=True)),
    ("has_consumption", types.Array(types.boolean, 1, _C, readonly=True)),
    ("settling", types.Array(types.boolean, 1, _C, readonly=True)),
    ("spot_close", types.Array(types.float64, 2, _C, readonly=True)),
    ("tokens", types.Array(types.float64, 2, _C, readonly=True)),
    ("fut_open", types.Array(types.float64, 3, _C, readonly=True)),
    ("fut_close", types.Array(types.float64, 3, _C, readonly=True)),
    ("fut_settle", types.Array(types.float64, 3, _C, readonly=True)),
    ("locked", types.Array(types.boolean, 3, _C, readonly=True)),
    ("gidx", types.Array(types.int64, 1, _C, readonly=True)),
    ("colmap", types.Array(types.int64, 1, _C, readonly=True)),
    ("expiry", types.Array(types.int64, 2, _C, readonly=True)),
    ("fs_event", types.Array(types.int64, 1, _C, readonly=True)),
    ("fs_contract", types.Array(types.int64, 1, _C, readonly=True)),
    ("fs_price", types.Array(types.float64, 2, _C, readonly=True)),
    ("fs_ok", types.Array(types.boolean, 1, _C, readonly=True)),
    ("listing", types.Array(types.int64, 1, _C, readonly=True)),
    ("last_trade", types.Array(types.int64, 1, _C, readonly=True)),
    ("planned", types.Array(types.float64, 2, _C, readonly=True)),
    ("params", types.Array(types.float64, 1, _C, readonly=True)),
    ("ci", types.Array(types.int64, 1, _C, readonly=True)),
    ("cf", types.Array(types.float64, 1, _C, readonly=True)),
    ("positions", types.Array(types.float64, 2, _C)),
    ("marks", types.Array(types.float64, 2, _C)),
    ("accrued", types.Array(types.float64, 2, _C)),
    ("pnl", types.Array(types.float64, 2, _C)),
    ("delivered", types.Array(types.boolean, 2, _C)),
    ("balances", types.Array(types.float64, 2, _C)),
    ("spent", types.Array(types.float64, 1, _C)),
    ("consumed", types.Array(types.float64, 1, _C)),
    ("last_close", types.Array(types.float64, 1, _C)),
    ("due", types.Array(types.float64, 2, _C)),
    ("pending", types.Array(types.float64, 2, _C)),
    ("dec_i", types.Array(types.int64, 2, _C)),
    ("dec_q", types.Array(types.float64, 2, _C)),
    ("hist_spot", types.Array(types.float64, 2, _C)),
    ("hist_fut", types.Array(types.float64, 3, _C)),
    ("state", types.Array(types.float64, 1, _C)),
    ("target", types.Array(types.float64, 2, _C)),
    ("istate", types.Array(types.int64, 1, _C)),
    ("ji", types.Array(types.int64, 2, _C)),
    ("jf", types.Array(types.float64, 2, _C)),
    ("ei", types.Array(types.int64, 2, _C)),
    ("ef", types.Array(types.float64, 2, _C)),
    ("pi", types.Array(types.int64, 2, _C)),
    ("pf", types.Array(types.float64, 2, _C)),
    ("counts", types.Array(types.int64, 1, _C)),
)
DRIVER_ARGUMENTS = tuple(name for name, _ in _DRIVER_ARGS)
"""``run_block``'s parameters, in order."""


def _run_block(
    kernel: Any,
    first: Int,
    block_start: Int,
    now: np.ndarray,
    day: np.ndarray,
    bar_start: np.ndarray,
    has_spot: np.ndarray,
    has_futures: np.ndarray,
    has_consumption: np.ndarray,
    settling: np.ndarray,
    spot_close: np.ndarray,
    tokens: np.ndarray,
    fut_open: np.ndarray,
    fut_close: np.ndarray,
    fut_settle: np.ndarray,
    locked: np.ndarray,
    gidx: np.ndarray,
    colmap: np.ndarray,
    expiry: np.ndarray,
    fs_event: np.ndarray,
    fs_contract: np.ndarray,
    fs_price: np.ndarray,
    fs_ok: np.ndarray,
    listing: np.ndarray,
    last_trade: np.ndarray,
    planned: np.ndarray,
    params: np.ndarray,
    ci: np.ndarray,
    cf: np.ndarray,
    positions: np.ndarray,
    marks: np.ndarray,
    accrued: np.ndarray,
    pnl: np.ndarray,
    delivered: np.ndarray,
    balances: np.ndarray,
    spent: np.ndarray,
    consumed: np.ndarray,
    last_close: np.ndarray,
    due: np.ndarray,
    pending: np.ndarray,
    dec_i: np.ndarray,
    dec_q: np.ndarray,
    hist_spot: np.ndarray,
    hist_fut: np.ndarray,
    state: np.ndarray,
    target: np.ndarray,
    istate: np.ndarray,
    ji: np.ndarray,
    jf: np.ndarray,
    ei: np.ndarray,
    ef: np.ndarray,
    pi: np.ndarray,
    pf: np.ndarray,
    counts: np.ndarray,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Run events ``first ..`` of a block; return ``(status, next event)`` (see ``DONE``)."""
    n, k = positions.shape
    at_close = ci[C_AT_CLOSE] != 0
    whole = ci[C_WHOLE] != 0
    history = ci[C_HISTORY]
    rows_j = n * (4 * k + 11)
    rows_e = n * (3 * k + 1)
    scratch = np.empty((4, n))
    masks = np.empty((3, n), dtype=np.bool_)
    flags = np.empty(k, dtype=np.bool_)
    qty = np.empty(n)
    prices = fut_close if at_close else fut_open
    for i in range(first, now.shape[0]):
        if (
            counts[0] + rows_j > ji.shape[0]
            or counts[1] + rows_e > ei.shape[0]
            or counts[2] + n * k > pi.shape[0]
        ):
            return FLUSH, i
        if istate[S_DECISIONS] + k > dec_i.shape[0]:
            return GROW_DECISIONS, i
        # DATA: the spot bar, then interest at the end of an exchange day
        if has_spot[i]:
            for p in range(n):
                if not np.isnan(spot_close[i, p]):
                    last_close[p] = spot_close[i, p]
        if settling[i]:
            _accrue(i, day[i], istate, balances, spent, cf, ji, jf, counts, scratch[0])
        for step in range(2):  # FILLS at the open; CONSUMPTION, ON_BAR; CLOSE_FILLS
            if step == 1:
                if has_consumption[i] and not _consume(
                    i, tokens[i], last_close, balances, spent, consumed, cf, ji, jf, counts, scratch
                ):
                    istate[S_ERROR_EVENT] = i
                    return NAN_CONSUMPTION, i
                r = _see(i, spot_close, fut_close, gidx, hist_spot, hist_fut, istate, history)
                target[:, :] = np.nan
                kernel(
                    block_start + i,
                    day[i],
                    settling[i],
                    hist_spot[r - history + 1 : r + 1],
                    hist_fut[r - history + 1 : r + 1],
                    positions,
                    expiry[i],
                    planned,
                    params,
                    state,
                    target,
                )
                for c in range(k):
                    decided = False
                    for p in range(n):
                        if np.isfinite(target[p, c]):
                            decided = True
                    if not decided:
                        continue
                    for p in range(n):
                        t = target[p, c]
                        qty[p] = t if np.isfinite(t) else positions[p, c] + pending[p, c]
                    _place(
                        i, c, qty, now[i], day[i], positions, pending, dec_i, dec_q, istate,
                        listing, last_trade, whole, ei, ef, counts,
                    )  # fmt: skip
            if has_futures[i] and istate[S_ACTIVE] != 0 and at_close == (step == 1):
                _execute(
                    i, at_close, bar_start[i], day[i], prices[i], locked[i], colmap, due,
                    pending, dec_i, dec_q, istate, listing, last_trade, positions, marks, accrued,
                    balances, ci, cf, ji, jf, ei, ef, counts, scratch, masks, flags,
                )  # fmt: skip
        # SETTLEMENT
        if settling[i] and not _settle(
            i, fut_settle[i], gidx, fs_event, fs_contract, fs_price, fs_ok, positions, marks,
            accrued, pnl, delivered, balances, istate, ci, cf, ji, jf, ei, ef, pi, pf, counts,
            scratch, masks[0],
        ):  # fmt: skip
            return MISSING_FIXINGS, i
    return DONE, now.shape[0]


_RESULT = types.UniTuple(types.int64, 2)  # type: ignore[no-untyped-call]
run_block = njit(_RESULT(*(t for _, t in _DRIVER_ARGS)), cache=True)(_run_block)
"""The compiled loop over a block's events (compiled or loaded from numba's cache on import)."""


@njit(cache=True)
def gather_strings(
    codes: np.ndarray, offsets: np.ndarray, blob: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The Arrow buffers (int32 offsets, utf-8 bytes) of a string array whose row ``r`` is
    string ``codes[r]`` of a table of strings (``blob[offsets[s]:offsets[s + 1]]``);
    a negative code gives an empty string (the caller marks it null)."""
    n = codes.shape[0]
    out = np.empty(n + 1, np.int32)
    out[0] = 0
    total = 0
    for r in range(n):
        c = codes[r]
        if c >= 0:
            total += offsets[c + 1] - offsets[c]
        out[r + 1] = total
    data = np.empty(total, np.uint8)
    for r in range(n):
        c = codes[r]
        if c >= 0:
            start, first = out[r], offsets[c]
            for b in range(offsets[c + 1] - first):
                data[start + b] = blob[first + b]
    return out, data
