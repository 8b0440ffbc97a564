"""Every broker and ledger rule, once, as numba functions over ``tokbt.core.layout``'s state.

The Python facades call these functions once per engine step with arrays over all
paths; the compiled driver calls them from inside its loop. Each rule is written
as loops over paths in a fixed order, so a run's numbers do not depend on who
calls it.

**Ledger.** Money is conserved: every change of a balance writes a journal row
(``_post`` and ``_transfer`` are the only writers of balances), so per path
``Σ journal amounts = Σ balances − Σ opening balances``.

* Initial margin (``_initial``): spec model ``IM = rate · Σ_c |pos_c|·mult·mark_c``;
  SPAN ``IM = Σ_c z·max(σ̂_c, floor)·√h·add_on · |pos_c|·mult·mark_c`` with
  ``σ̂_c`` an EWMA of the contract's daily log settlement returns
  (``observe_settlement``); maintenance ``MM = IM / ratio``. Sums run over
  contracts in delivery order from zero, so they do not depend on which
  contracts a block carries.
* Fills (``fill``): a trade of ``qty`` at ``price`` marks a new position at the
  fill price and accrues ``qty·mult·(mark − price)`` until the day's settlement;
  fees leave the margin account.
* Variation margin (``variation_margin``): ``pos·mult·(settle − mark) + accrued``
  per contract that settles, then the mark moves to the settlement price; a
  contract without a settlement price keeps its mark and moves no money.
* Top-ups (``top_up``): deposit what the margin account lacks of
  ``IM·(1 + buffer)`` (``_top_up_level``), from operating cash (treasury) or
  operating cash then the credit line (``limited``, ``fund_margin``).
* Margin calls, in LEAN's shape (``assess_calls``, then ``apply_liquidation``): the
  model collects outstanding calls, issues a call for ``IM·(1 + buffer) − equity``
  where equity < MM and collects it at once, and *proposes* liquidation orders for
  the paths whose call is unpaid at its deadline (only contracts still trading;
  all of each position, or the share that restores IM: ``propose_liquidation``).
  The strategy's ``on_margin_call`` may amend the orders; then they execute at the
  settlement price, and a path whose call ended is checked again.
* Final settlement (``final_settlement``): ``pos·mult·(price − mark) + accrued``
  at the price the settlement model fixed; after it, calls the account now
  covers are cancelled (``clear_covered_calls``).
* Cascades (``cascade``): a quarter or year becomes its components at its last
  trading day, position for position, at its settlement price.
* Sweep and repayment (``sweep_and_repay``), interest (``accrue_interest``) and
  consumption (``consume``).

**Broker.** ``place`` and ``cancel`` log decisions with their time; ``execute``
fills exactly the decisions made at or before a bar's start (``next_open``) or
all of them (``close``), checks listing, locked bars, the position limit and
(``limited`` funding) the initial margin, prices the fill (``fill_prices``:
slippage, spread and square-root impact, rounded to the tick against the order
and never below one tick) and tops up the paths that traded.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from tokbt.core.layout import (
    C_ANY_RATE,
    C_AT_CLOSE,
    C_CALL_MODEL,
    C_CANCEL_LOCKED,
    C_LIMITED,
    C_LIQUIDITY,
    C_LOG_POSITIONS,
    C_SPAN,
    C_SWEEP,
    C_WHOLE,
    CALL_CANCELLED,
    CALLED,
    CALLS_PARTIAL,
    CONSUMPTION,
    CREDIT,
    D_AT,
    D_CONTRACT,
    D_COVERED,
    D_DUE,
    D_EXPIRED,
    D_FUNDS,
    D_LIMIT,
    D_LOCKED,
    D_NONE,
    D_NOT_LISTED,
    D_UNMET,
    D_VERB,
    DEPOSIT,
    E_AMOUNT,
    E_AUX,
    E_CONTRACT,
    E_DETAIL,
    E_FLAGS,
    E_KIND,
    E_PATH,
    E_QTY,
    E_TS,
    F_BASIS,
    F_BUFFER,
    F_CASH_RATE,
    F_CREDIT_LINE,
    F_CREDIT_RATE,
    F_DEPTH,
    F_DEPTH_DECAY,
    F_FEE,
    F_FUNDING_RATE,
    F_HALF_SPREAD,
    F_IM_RATE,
    F_IMPACT_BPS,
    F_MARGIN_RATE,
    F_MARKUP,
    F_MM_RATIO,
    F_MULT,
    F_POSITION_LIMIT,
    F_SCALE,
    F_SLIPPAGE,
    F_SPAN_ADD_ON,
    F_SPAN_FLOOR,
    F_SPAN_HOLDING,
    F_SPAN_LAM,
    F_SPAN_Z,
    F_SPREAD_PER_MONTH,
    F_TICK,
    FEE,
    FILL,
    FINAL_SETTLEMENT,
    HAS_AMOUNT,
    HAS_PRICE,
    HAS_QTY,
    INTEREST,
    J_ACCOUNT,
    J_AMOUNT,
    J_CONTRACT,
    J_FLAGS,
    J_KIND,
    J_PATH,
    J_PRICE,
    J_QTY,
    J_TS,
    LIQUIDATED,
    LIQUIDATION,
    M_BLOCKED,
    M_COVERED,
    M_ISSUED,
    M_OPEN_CALLS,
    M_OVER,
    M_SHORT,
    M_TRADABLE,
    M_TRADED,
    M_WANT,
    MARGIN,
    MARGIN_CALL,
    MISSING_CHILD,
    MISSING_CHILD_CONTRACT,
    MISSING_FIXINGS,
    NAN_PRICE,
    NAN_SPEND,
    NO_CONTRACT,
    NO_DAY,
    NO_DEADLINE,
    NO_ROOM,
    O_ACTIVE,
    O_DECISIONS,
    OK,
    OPERATING,
    P_CONTRACT,
    P_PATH,
    P_QTY,
    P_SETTLE,
    P_TS,
    R_CALLED,
    R_DUE,
    R_ITEM,
    REJECTED,
    REPAYMENT,
    V_ADD,
    V_CANCEL,
    V_TARGET,
    VARIATION_MARGIN,
    W_CALL_PAID,
    W_CALLED,
    W_CANCEL,
    W_CASH,
    W_CHANGE,
    W_CREDIT,
    W_EXCESS,
    W_FEES,
    W_FILL_FEE,
    W_FILL_PRICE,
    W_HELD,
    W_INTEREST,
    W_MARK,
    W_NO_FEE,
    W_PRICE_PAID,
    W_QTY,
    W_RAW_PRICE,
    W_REPAY,
    W_SPEND,
    W_TOP_UP,
    W_TOP_UP_PAID,
    WITHDRAWAL,
    Book,
    Bools,
    Floats,
    Int,
    Ints,
    Orders,
    Rows,
    Terms,
)
from tokbt.market import ticks
from tokbt.market.ticks import DOWN, UP
from tokbt.numba_cache import refresh

refresh(__file__, "core/layout.py", "market/ticks.py")  # numba's cache follows these too

_jit = functools.partial(njit, cache=True, error_model="numpy")
"""Every rule compiles once per signature, cached; float division follows numpy (no
ZeroDivisionError checks)."""
_on_grid = njit(cache=True, inline="always", error_model="numpy")(ticks.on_grid)
"""The tick-rounding rule of ``tokbt.market.ticks``, compiled into the core."""
_ALL = np.int64(-1)
"""No particular contract."""
_EPS = 1e-9
"""The ledger's tolerance for 'covered' and 'short' (USD)."""
_DAYS_PER_YEAR = 365.0


# -- numpy's semantics for scalars ------------------------------------------------------------


@_jit(inline="always")
def _sign(x: float) -> float:  # pragma: no cover - compiled
    """``np.sign``: +1, -1, 0 (also for -0.0) or NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return x


@_jit(inline="always")
def _maximum(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.maximum``: NaN propagates."""
    if a > b or a != a:
        return a
    return b


@_jit(inline="always")
def _minimum(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.minimum``: NaN propagates."""
    if a < b or a != a:
        return a
    return b


@_jit(inline="always")
def whole(x: float) -> float:  # pragma: no cover - compiled
    """Round to whole contracts, halves away from zero."""
    return float(_sign(x) * np.floor(np.abs(x) + 0.5))


@_jit(inline="always")
def against(
    raw: float, side: float, tick: float, scale: float
) -> float:  # pragma: no cover - compiled
    """``raw`` on the tick grid rounded against the order — buys (side > 0) up, sells
    down — never below one tick (``tokbt.market.ticks.on_grid``); side 0 keeps it."""
    if side == 0.0:
        return raw
    return float(_on_grid(raw, tick, scale, UP if side > 0.0 else DOWN, True))


# -- rows ---------------------------------------------------------------------------------------


@_jit(inline="always")
def _journal(
    rows: Rows,
    ts: Int,
    kind: Int,
    account: Int,
    p: Int,
    c: Int,
    qty: float,
    price: float,
    amount: float,
    flags: Int,
) -> None:  # pragma: no cover - compiled
    r = rows.jn[0]
    ji, jf = rows.ji, rows.jf
    ji[r, J_TS] = ts
    ji[r, J_KIND] = kind
    ji[r, J_ACCOUNT] = account
    ji[r, J_PATH] = p
    ji[r, J_CONTRACT] = c
    ji[r, J_FLAGS] = flags
    jf[r, J_QTY] = qty
    jf[r, J_PRICE] = price
    jf[r, J_AMOUNT] = amount
    rows.jn[0] = r + 1


@_jit(inline="always")
def _event(
    rows: Rows,
    ts: Int,
    kind: Int,
    p: Int,
    c: Int,
    detail: Int,
    aux: Int,
    qty: float,
    amount: float,
    flags: Int,
) -> None:  # pragma: no cover - compiled
    r = rows.en[0]
    ei, ef = rows.ei, rows.ef
    ei[r, E_TS] = ts
    ei[r, E_KIND] = kind
    ei[r, E_PATH] = p
    ei[r, E_CONTRACT] = c
    ei[r, E_DETAIL] = detail
    ei[r, E_AUX] = aux
    ei[r, E_FLAGS] = flags
    ef[r, E_QTY] = qty
    ef[r, E_AMOUNT] = amount
    rows.en[0] = r + 1


@_jit()
def note_event(
    rows: Rows,
    ts: Int,
    kind: Int,
    paths: Bools,
    c: Int,
    detail: Int,
    aux: Int,
    qty: Floats,
    has_qty: bool,
    amount: Floats,
    has_amount: bool,
) -> None:  # pragma: no cover - compiled
    """An event row for every path in ``paths`` (``qty``/``amount`` per path, carried
    where ``has_qty``/``has_amount``)."""
    flags = (HAS_QTY if has_qty else 0) | (HAS_AMOUNT if has_amount else 0)
    for p in range(paths.shape[0]):
        if paths[p]:
            _event(rows, ts, kind, p, c, detail, aux, qty[p], amount[p], flags)


@_jit(inline="always")
def _post(
    book: Book, rows: Rows, ts: Int, kind: Int, account: Int, amount: Floats, c: Int
) -> None:  # pragma: no cover - compiled
    """``post`` of a bare amount: a row where it is not 0."""
    n = amount.shape[0]
    for p in range(n):
        book.balances[account, p] += amount[p]
    for p in range(n):
        if amount[p] != 0.0:
            _journal(rows, ts, kind, account, p, c, np.nan, np.nan, amount[p], 0)


@_jit(inline="always")
def transfer(
    book: Book, rows: Rows, ts: Int, kind: Int, source: Int, target: Int, amount: Floats
) -> None:  # pragma: no cover - compiled
    """Move ``amount`` (≥ 0 per path) between two of the enterprise's accounts: the
    source rows of every path, then the target rows (two rows netting to 0 per path)."""
    n = amount.shape[0]
    for p in range(n):
        book.balances[source, p] -= amount[p]
        book.balances[target, p] += amount[p]
    for p in range(n):
        if amount[p] != 0.0:
            _journal(rows, ts, kind, source, p, NO_CONTRACT, np.nan, np.nan, -amount[p], 0)
    for p in range(n):
        if amount[p] != 0.0:
            _journal(rows, ts, kind, target, p, NO_CONTRACT, np.nan, np.nan, amount[p], 0)


# -- positions ----------------------------------------------------------------------------------


@_jit(inline="always")
def set_position(book: Book, p: Int, c: Int, qty: float) -> None:  # pragma: no cover - compiled
    """Path ``p`` now holds ``qty`` contracts of ``c``: the one writer of
    ``book.positions``, which keeps ``book.holders`` and the held range ``book.held``."""
    was = book.positions[p, c] != 0.0
    book.positions[p, c] = qty
    if was == (qty != 0.0):
        return
    book.holders[c] += 1 if qty != 0.0 else -1
    lo, hi = book.held[0], book.held[1]
    if qty != 0.0:
        lo, hi = (c, c + 1) if lo == hi else (min(lo, c), max(hi, c + 1))
    else:
        while lo < hi and book.holders[lo] == 0:
            lo += 1
        while hi > lo and book.holders[hi - 1] == 0:
            hi -= 1
    book.held[0], book.held[1] = lo, hi


# -- margin -------------------------------------------------------------------------------------


@_jit(inline="always")
def _contract_margin(
    cf: Floats, span: bool, var: float, q: float, mark: float
) -> float:  # pragma: no cover - compiled
    """Path ``p``'s margin term of ``q`` contracts at ``mark``: the notional
    ``|q|·mult·mark`` (spec: the rate applies to the sum, ``_margin_total``) or, under
    SPAN, ``z·max(√var, floor)·√h·add_on`` times it."""
    notional = float(np.abs(q) * cf[F_MULT] * mark)
    if not span:
        return notional
    vol = _maximum(np.sqrt(var), cf[F_SPAN_FLOOR])
    return float(cf[F_SPAN_Z] * vol * np.sqrt(cf[F_SPAN_HOLDING]) * cf[F_SPAN_ADD_ON] * notional)


@_jit(inline="always")
def _margin_total(cf: Floats, span: bool, total: float) -> float:  # pragma: no cover - compiled
    """Initial margin from the sum of ``_contract_margin`` over contracts (in order, from 0)."""
    return total if span else cf[F_IM_RATE] * total


@_jit(inline="always")
def _initial(
    book: Book, terms: Terms, p: Int, c: Int, extra: float, unmarked_price: float
) -> float:  # pragma: no cover - compiled
    """Initial margin of path ``p``'s positions (with ``extra`` more contracts of ``c``,
    marked at ``unmarked_price`` if ``c`` has no mark yet; ``c = -1``: as held)."""
    span = terms.ci[C_SPAN] != 0
    total = 0.0
    lo, hi = book.held[0], book.held[1]
    if c >= 0:
        lo, hi = (c, c + 1) if lo == hi else (min(lo, c), max(hi, c + 1))
    for j in range(lo, hi):
        q = book.positions[p, j]
        mark = book.marks[p, j]
        if j == c:
            q = q + extra
            if mark != mark:
                mark = unmarked_price
        if q != 0.0:
            total += _contract_margin(terms.cf, span, book.span_var[p, j], q, mark)
    return _margin_total(terms.cf, span, total)


@_jit(inline="always")
def _with_buffer(terms: Terms, initial: float) -> float:  # pragma: no cover - compiled
    """The level deposits top the margin account up to: ``IM·(1 + buffer)``."""
    return float(initial * (1.0 + terms.cf[F_BUFFER]))


@_jit(inline="always")
def _top_up_level(book: Book, terms: Terms, p: Int) -> float:  # pragma: no cover - compiled
    """What path ``p``'s margin account should hold after a deposit: ``IM·(1 + buffer)``."""
    return _with_buffer(terms, _initial(book, terms, p, _ALL, 0.0, np.nan))


@_jit()
def requirement_of(
    cf: Floats,
    ci: Ints,
    span_var: Floats,
    positions: Floats,
    prices: Floats,
    initial: Floats,
    maintenance: Floats,
) -> None:  # pragma: no cover - compiled
    """Initial and maintenance margin per path of ``positions`` at ``prices`` (``cf``/``ci``
    as ``Terms``'; ``span_var`` SPAN's variances, same shape)."""
    span = ci[C_SPAN] != 0
    for p in range(positions.shape[0]):
        total = 0.0
        for j in range(positions.shape[1]):
            q = positions[p, j]
            if q != 0.0:
                total += _contract_margin(cf, span, span_var[p, j], q, prices[p, j])
        initial[p] = _margin_total(cf, span, total)
        maintenance[p] = initial[p] / cf[F_MM_RATIO]


@_jit()
def observe_settlement(
    cf: Floats, ci: Ints, span_var: Floats, span_last: Floats, gidx: Ints, settle: Floats
) -> None:  # pragma: no cover - compiled
    """SPAN learns from a settlement: the EWMA of each contract's daily log return
    (``σ̂² ← λ·σ̂² + (1 − λ)·r²``, where the contract settled twice); nothing under spec."""
    if ci[C_SPAN] == 0:
        return
    lam = cf[F_SPAN_LAM]
    for p in range(settle.shape[0]):
        for j in range(gidx.shape[0]):
            c = gidx[j]
            s = settle[p, j]
            r = np.log(s / span_last[p, c])
            if np.isfinite(r):
                span_var[p, c] = lam * span_var[p, c] + (1 - lam) * (r * r)
            if np.isfinite(s):
                span_last[p, c] = s


# -- funding ------------------------------------------------------------------------------------


@_jit(inline="always")
def _headroom(book: Book, terms: Terms, p: Int) -> float:  # pragma: no cover - compiled
    """Undrawn credit of path ``p``."""
    return _maximum(float(terms.cf[F_CREDIT_LINE] + book.balances[CREDIT, p]), 0.0)


@_jit(inline="always")
def _liquidity(book: Book, terms: Terms, p: Int) -> float:  # pragma: no cover - compiled
    """What path ``p`` can pay into its margin account now (inf for a treasury)."""
    if terms.ci[C_LIMITED] == 0:
        return np.inf
    return _maximum(book.balances[OPERATING, p], 0.0) + _headroom(book, terms, p)


@_jit()
def liquidity(book: Book, terms: Terms, out: Floats) -> None:  # pragma: no cover - compiled
    """``_liquidity`` of every path into ``out``."""
    for p in range(out.shape[0]):
        out[p] = _liquidity(book, terms, p)


@_jit(inline="always")
def fund_margin(
    book: Book, terms: Terms, rows: Rows, ts: Int, kind: Int, wanted: Floats, paid: Floats
) -> None:  # pragma: no cover - compiled
    """Pay up to ``wanted`` (floored at 0, in place) into the margin account: all of it
    from operating cash (treasury), or operating cash first, then the credit line
    (``limited``); what was paid per path goes to ``paid``."""
    n = wanted.shape[0]
    for p in range(n):
        wanted[p] = _maximum(wanted[p], 0.0)
    if terms.ci[C_LIMITED] == 0:
        transfer(book, rows, ts, kind, OPERATING, MARGIN, wanted)
        for p in range(n):
            paid[p] = wanted[p]
        return
    cash = book.work[W_CASH]
    for p in range(n):
        cash[p] = _minimum(wanted[p], _maximum(book.balances[OPERATING, p], 0.0))
    transfer(book, rows, ts, kind, OPERATING, MARGIN, cash)
    credit = book.work[W_CREDIT]
    for p in range(n):
        credit[p] = _minimum(wanted[p] - cash[p], _headroom(book, terms, p))
    transfer(book, rows, ts, kind, CREDIT, MARGIN, credit)
    for p in range(n):
        paid[p] = cash[p] + credit[p]


@_jit(inline="always")
def top_up(
    book: Book, terms: Terms, rows: Rows, ts: Int, paths: Bools
) -> None:  # pragma: no cover - compiled
    """Deposit what the margin account of ``paths`` lacks of ``IM·(1 + buffer)``."""
    n = paths.shape[0]
    wanted = book.work[W_TOP_UP]
    wanted[:] = 0.0
    short = False
    for p in range(n):
        if paths[p]:
            wanted[p] = _top_up_level(book, terms, p) - book.balances[MARGIN, p]
        if wanted[p] > _EPS:
            short = True
    if not short:
        return
    for p in range(n):
        wanted[p] = wanted[p] if wanted[p] > _EPS else 0.0
    fund_margin(book, terms, rows, ts, DEPOSIT, wanted, book.work[W_TOP_UP_PAID])


# -- trading ------------------------------------------------------------------------------------


@_jit(inline="always")
def fill(
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    c: Int,
    qty: Floats,
    price: Floats,
    fee: Floats,
    kind: Int,
) -> int:  # pragma: no cover - compiled
    """Book trades of ``qty`` contracts of ``c`` at ``price`` (paths with ``qty == 0`` are
    untouched) and their fees; ``NAN_PRICE`` (nothing booked) if a trade has no finite
    price."""
    n = qty.shape[0]
    traded = False
    for p in range(n):
        if qty[p] != 0.0:
            traded = True
            if not np.isfinite(price[p]):
                return NAN_PRICE
    if not traded:
        return OK
    mult = terms.cf[F_MULT]
    for p in range(n):
        if qty[p] != 0.0:
            if np.isnan(book.marks[p, c]):
                book.marks[p, c] = price[p]
            book.accrued[p, c] += qty[p] * mult * (book.marks[p, c] - price[p])
            set_position(book, p, c, book.positions[p, c] + qty[p])
    for p in range(n):
        if qty[p] != 0.0:
            _journal(rows, ts, kind, MARGIN, p, c, qty[p], price[p], 0.0, HAS_QTY | HAS_PRICE)
            if kind == FILL:
                book.fills[p] += 1
    fees = book.work[W_FEES]
    fees[:] = 0.0
    charged = False
    for p in range(n):
        if qty[p] != 0.0 and fee[p] != 0.0:
            fees[p] = -fee[p]
            charged = True
    if charged:
        _post(book, rows, ts, FEE, MARGIN, fees, c)
    return OK


@_jit()
def consume(
    book: Book, terms: Terms, rows: Rows, ts: Int, tokens: Floats, index: Floats
) -> int:  # pragma: no cover - compiled
    """Pay for ``tokens`` (millions) at the provider price ``index·(1 + markup) + basis``;
    ``NAN_SPEND`` (nothing booked) if tokens are consumed without a price."""
    n = tokens.shape[0]
    price = book.work[W_PRICE_PAID]
    spend = book.work[W_SPEND]
    for p in range(n):
        price[p] = index[p] * (1.0 + terms.cf[F_MARKUP]) + terms.cf[F_BASIS]
        spend[p] = tokens[p] * price[p] if tokens[p] > 0.0 else 0.0
        if np.isnan(spend[p]):
            return NAN_SPEND
    for p in range(n):
        book.balances[OPERATING, p] += -spend[p]
    for p in range(n):
        if spend[p] != 0.0 or tokens[p] != 0.0:
            _journal(
                rows, ts, CONSUMPTION, OPERATING, p, NO_CONTRACT, tokens[p], price[p],
                -spend[p], HAS_QTY | HAS_PRICE,
            )  # fmt: skip
    for p in range(n):
        book.spent[p] += spend[p]
    return OK


@_jit(inline="always")
def _trading(terms: Terms, c: Int, day: Int) -> bool:  # pragma: no cover - compiled
    """Contract ``c`` can still be traded on ``day`` (not past its last trading day)."""
    return bool(terms.last_trade[c] >= day)


@_jit()
def liquidatable(
    book: Book, terms: Terms, day: Int, out: Bools
) -> None:  # pragma: no cover - compiled
    """Paths holding a position in a contract still trading on ``day``."""
    for p in range(out.shape[0]):
        out[p] = _holds_tradable(book, terms, p, day)


@_jit(inline="always")
def _holds_tradable(book: Book, terms: Terms, p: Int, day: Int) -> bool:  # pragma: no cover
    """Path ``p`` holds a position in a contract still trading on ``day``."""
    for c in range(book.held[0], book.held[1]):
        if book.positions[p, c] != 0.0 and _trading(terms, c, day):
            return True
    return False


@_jit(inline="always")
def _liquidation_fill(
    book: Book, rows: Rows, ts: Int, p: Int, c: Int, qty: float
) -> None:  # pragma: no cover - compiled
    """Trade ``qty`` contracts of ``c`` on path ``p`` at its mark (the settlement price just
    booked: no variation margin, no fee) and journal it as a liquidation."""
    _journal(rows, ts, LIQUIDATION, MARGIN, p, c, qty, book.marks[p, c], 0.0, HAS_QTY | HAS_PRICE)
    set_position(book, p, c, book.positions[p, c] + qty)


@_jit()
def liquidate(
    book: Book, terms: Terms, rows: Rows, ts: Int, paths: Bools, day: Int, detail: Int
) -> None:  # pragma: no cover - compiled
    """Close every position of ``paths`` in the contracts still trading on ``day`` at its
    mark (the settlement price just booked), then log a ``liquidation`` event per path;
    a position past its last trading day waits for its final settlement."""
    n = book.positions.shape[0]
    for c in range(book.held[0], book.held[1]):
        if not _trading(terms, c, day):
            continue
        for p in range(n):
            held = book.positions[p, c] if paths[p] else 0.0
            if held != 0.0:
                _liquidation_fill(book, rows, ts, p, c, -held)
    for p in range(n):
        if paths[p]:
            _event(rows, ts, LIQUIDATED, p, NO_CONTRACT, detail, 0, np.nan, np.nan, 0)


# -- the end of an exchange day ----------------------------------------------------------------


@_jit()
def accrue_interest(
    book: Book, terms: Terms, rows: Rows, ts: Int, day: Int
) -> None:  # pragma: no cover - compiled
    """Interest on each account for the calendar days since the last accrual: operating
    cash (excluding cumulative consumption spend, which the business pays hedged or not)
    earns ``cash_rate`` or costs ``funding_rate``; margin cash earns ``margin_rate``; the
    credit drawn costs ``credit_rate``."""
    last = book.clock[0]
    book.clock[0] = day
    if last == NO_DAY or day <= last or terms.ci[C_ANY_RATE] == 0:
        return
    cf = terms.cf
    years = (day - last) / _DAYS_PER_YEAR
    n = book.spent.shape[0]
    amount = book.work[W_INTEREST]
    for p in range(n):
        op = book.balances[OPERATING, p] + book.spent[p]
        rate = cf[F_CASH_RATE] if op >= 0 else cf[F_FUNDING_RATE]
        amount[p] = op * rate * years
    _post(book, rows, ts, INTEREST, OPERATING, amount, NO_CONTRACT)
    for p in range(n):
        amount[p] = _maximum(book.balances[MARGIN, p], 0.0) * cf[F_MARGIN_RATE] * years
    _post(book, rows, ts, INTEREST, MARGIN, amount, NO_CONTRACT)
    for p in range(n):
        amount[p] = book.balances[CREDIT, p] * cf[F_CREDIT_RATE] * years
    _post(book, rows, ts, INTEREST, CREDIT, amount, NO_CONTRACT)


@_jit(inline="always")
def _vm(
    held: float, mark: float, accrued: float, settle: float, mult: float
) -> float:  # pragma: no cover - compiled
    """Variation margin of one position at a settlement: ``pos·mult·(settle − mark) +
    accrued`` (a flat position moves only its accrued term)."""
    move = settle - mark if held != 0.0 else 0.0
    return held * mult * move + accrued


@_jit()
def variation_margin_of(
    mult: float, positions: Floats, marks: Floats, accrued: Floats, settle: Floats, out: Floats
) -> None:  # pragma: no cover - compiled
    """``_vm`` of every entry where ``settle`` is finite (0 elsewhere), into ``out``."""
    for p in range(settle.shape[0]):
        for j in range(settle.shape[1]):
            s = settle[p, j]
            ok = np.isfinite(s)
            out[p, j] = _vm(positions[p, j], marks[p, j], accrued[p, j], s, mult) if ok else 0.0


@_jit()
def variation_margin(
    book: Book, terms: Terms, rows: Rows, ts: Int, gidx: Ints, settle: Floats
) -> None:  # pragma: no cover - compiled
    """Book ``pos·mult·(settle − mark) + accrued`` of the contracts ``gidx`` (columns of
    ``settle``, NaN: no settlement today), path-major rows; marks move to the settlement."""
    mult = terms.cf[F_MULT]
    for p in range(book.positions.shape[0]):
        total = 0.0
        for j in range(gidx.shape[0]):
            c = gidx[j]
            s = settle[p, j]
            if not np.isfinite(s):
                continue
            vm = _vm(book.positions[p, c], book.marks[p, c], book.accrued[p, c], s, mult)
            total += vm
            book.pnl[p, c] += vm
            if vm != 0.0:
                _journal(rows, ts, VARIATION_MARGIN, MARGIN, p, c, np.nan, s, vm, HAS_PRICE)
            book.marks[p, c] = s
            book.accrued[p, c] = 0.0
        book.balances[MARGIN, p] += total


@_jit(inline="always")
def _clear_call(book: Book, p: Int) -> None:  # pragma: no cover - compiled
    book.outstanding[p] = 0.0
    book.deadline[p] = NO_DEADLINE


@_jit()
def _collect(
    book: Book, terms: Terms, rows: Rows, ts: Int, paths: Bools
) -> None:  # pragma: no cover - compiled
    """Collect the outstanding calls of ``paths``: a call the account covers again is
    cleared; the rest is paid as far as funding allows."""
    n = paths.shape[0]
    wanted = book.work[W_CALLED]
    wanted[:] = 0.0
    for p in range(n):
        if not paths[p]:
            continue
        if book.balances[MARGIN, p] >= _initial(book, terms, p, _ALL, 0.0, np.nan) - _EPS:
            _clear_call(book, p)
        else:
            wanted[p] = book.outstanding[p]
    paid = book.work[W_CALL_PAID]
    fund_margin(book, terms, rows, ts, MARGIN_CALL, wanted, paid)
    for p in range(n):
        if paths[p]:
            book.outstanding[p] = _maximum(book.outstanding[p] - paid[p], 0.0)
            if book.outstanding[p] <= _EPS:
                _clear_call(book, p)


@_jit()
def _issue_calls(
    book: Book, terms: Terms, rows: Rows, ts: Int, deadline: Int, everyone: bool, paths: Bools
) -> bool:  # pragma: no cover - compiled
    """Issue a call for ``IM·(1 + buffer) − equity`` to each path (of ``paths`` unless
    ``everyone``) without a call whose margin account is below maintenance, due by
    ``deadline``; record it in ``book.call`` and collect it at once. Whether any was issued."""
    n = book.outstanding.shape[0]
    issued = book.flags[M_ISSUED]
    anyone = False
    call = book.call
    for p in range(n):
        issued[p] = False
        if not (everyone or paths[p]):
            continue
        initial = _initial(book, terms, p, _ALL, 0.0, np.nan)
        maintenance = initial / terms.cf[F_MM_RATIO]
        equity = book.balances[MARGIN, p]
        issued[p] = equity < maintenance - _EPS and book.outstanding[p] == 0
        anyone = anyone or issued[p]
        call[0, p] = 1.0 if issued[p] else 0.0
        call[1, p] = _with_buffer(terms, initial) - equity if issued[p] else 0.0
        call[2, p], call[3, p], call[4, p] = equity, initial, maintenance
    if not anyone:
        return False
    for p in range(n):
        if issued[p]:
            book.outstanding[p] = call[1, p]
            book.deadline[p] = deadline
    for p in range(n):
        if issued[p]:
            _event(
                rows, ts, CALLED, p, NO_CONTRACT, D_DUE, deadline, np.nan, call[1, p], HAS_AMOUNT
            )
    _collect(book, terms, rows, ts, issued)
    return True


@_jit(inline="always")
def _liquidation_share(
    book: Book, terms: Terms, p: Int, day: Int
) -> float:  # pragma: no cover - compiled
    """The share of each tradable position of path ``p`` whose sale restores
    ``equity ≥ IM·(1 + buffer)`` (1: all). Initial margin is proportional to each
    position under both margin models, so ``IM(rest) = IM_held − share·IM_tradable``."""
    span = terms.ci[C_SPAN] != 0
    tradable = 0.0
    held = 0.0
    for c in range(book.held[0], book.held[1]):
        q = book.positions[p, c]
        if q != 0.0:
            m = _contract_margin(terms.cf, span, book.span_var[p, c], q, book.marks[p, c])
            held += m
            if _trading(terms, c, day):
                tradable += m
    if tradable <= 0.0:
        return 1.0
    affordable = book.balances[MARGIN, p] / (1.0 + terms.cf[F_BUFFER])
    excess = _margin_total(terms.cf, span, held) - affordable
    share = excess / _margin_total(terms.cf, span, tradable)
    return _minimum(_maximum(share, 0.0), 1.0)


@_jit()
def propose_liquidation(book: Book, terms: Terms, day: Int) -> bool:  # pragma: no cover - compiled
    """The margin-call model's liquidation orders for the ``book.due`` paths, into
    ``book.liquidation``: every tradable position (``CALLS_FULL``) or the share of each
    that restores the initial requirement, rounded up to whole contracts when trading is
    in whole contracts (``CALLS_PARTIAL``). Whether any path is due. (The orders are all
    zero after a settlement that proposed none, so such a settlement writes nothing.)"""
    n, k = book.positions.shape
    anyone = False
    for p in range(n):
        anyone = anyone or book.due[p]
    if not anyone and not book.report[R_DUE]:
        return False
    partial = terms.ci[C_CALL_MODEL] == CALLS_PARTIAL
    whole_only = terms.ci[C_WHOLE] != 0
    for p in range(n):
        share = _liquidation_share(book, terms, p, day) if book.due[p] and partial else 1.0
        for c in range(k):
            held = book.positions[p, c]
            q = 0.0
            if book.due[p] and held != 0.0 and _trading(terms, c, day):
                size = np.abs(held) * share
                if whole_only and share < 1.0:
                    size = _minimum(np.ceil(size - _EPS), np.abs(held))
                q = -_sign(held) * size
            book.liquidation[p, c] = q
    return anyone


@_jit()
def assess_calls(
    book: Book, terms: Terms, rows: Rows, ts: Int, day: Int, deadline: Int
) -> None:  # pragma: no cover - compiled
    """The margin-call model's step of a settlement, before the strategy's
    ``on_margin_call``: collect outstanding calls; issue a call to every path below
    maintenance without one (``_issue_calls``, due by ``deadline``) and collect it; mark
    ``book.due`` the paths whose call is unpaid at its deadline and that hold something
    tradable, and propose their liquidation orders (``propose_liquidation``).
    ``report[R_CALLED]`` / ``report[R_DUE]``: whether any call was issued / falls due."""
    n = book.outstanding.shape[0]
    open_calls = book.flags[M_OPEN_CALLS]
    anyone = False
    for p in range(n):
        book.liquidated[p] = False
        open_calls[p] = book.outstanding[p] > 0
        anyone = anyone or open_calls[p]
    if anyone:
        _collect(book, terms, rows, ts, open_calls)
    book.report[R_CALLED] = _issue_calls(book, terms, rows, ts, deadline, True, open_calls)
    for p in range(n):
        late = book.outstanding[p] > 0 and book.deadline[p] <= day
        book.due[p] = late and _holds_tradable(book, terms, p, day)
    book.report[R_DUE] = propose_liquidation(book, terms, day)


@_jit()
def apply_liquidation(
    book: Book, terms: Terms, rows: Rows, ts: Int, day: Int, deadline: Int
) -> None:  # pragma: no cover - compiled
    """Execute the (possibly amended) ``book.liquidation`` orders of the ``book.due``
    paths at their marks (event ``liquidated`` per path that sold anything). A due
    path's call ends once it holds nothing tradable or its account covers the initial
    requirement of what it still holds; such a path is then checked again like any
    other (``_issue_calls``: a fresh call if the account is still short)."""
    if not book.report[R_DUE]:
        return
    n, k = book.positions.shape
    for c in range(k):
        for p in range(n):
            q = book.liquidation[p, c] if book.due[p] else 0.0
            if q != 0.0:
                _liquidation_fill(book, rows, ts, p, c, q)
                book.liquidated[p] = True
    for p in range(n):
        if book.liquidated[p]:
            _event(rows, ts, LIQUIDATED, p, NO_CONTRACT, D_UNMET, 0, np.nan, np.nan, 0)
    ended = book.flags[M_COVERED]
    tradable = book.flags[M_TRADABLE]
    liquidatable(book, terms, day, tradable)
    anyone = False
    for p in range(n):
        covered = book.balances[MARGIN, p] >= _initial(book, terms, p, _ALL, 0.0, np.nan) - _EPS
        ended[p] = book.due[p] and (not tradable[p] or covered)
        if ended[p]:
            _clear_call(book, p)
            anyone = True
    if anyone and _issue_calls(book, terms, rows, ts, deadline, False, ended):
        book.report[R_CALLED] = True


@_jit()
def final_settlement(
    book: Book, terms: Terms, rows: Rows, ts: Int, fs_contract: Ints, fs_price: Floats, fs_ok: Bools
) -> int:  # pragma: no cover - compiled
    """Cash-settle the contracts ``fs_contract`` at ``fs_price`` (per path) against their
    marks, with their accrued variation margin; ``MISSING_FIXINGS`` (item: the entry) if
    a contract with something to settle has no price (``fs_ok`` False)."""
    n = book.positions.shape[0]
    mult = terms.cf[F_MULT]
    for e in range(fs_contract.shape[0]):
        c = fs_contract[e]
        something = False
        for p in range(n):
            if book.positions[p, c] != 0.0 or book.accrued[p, c] != 0.0:
                something = True
        if not something:
            continue
        if not fs_ok[e]:
            book.report[R_ITEM] = e
            return MISSING_FIXINGS
        for p in range(n):
            held = book.positions[p, c]
            price = fs_price[e, p]
            is_open = held != 0.0
            amount = (held * mult * (price - book.marks[p, c]) if is_open else 0.0) + book.accrued[
                p, c
            ]
            book.balances[MARGIN, p] += amount
            book.pnl[p, c] += amount
            book.delivered[p, c] = book.delivered[p, c] or is_open
            if is_open or amount != 0.0:
                _journal(
                    rows, ts, FINAL_SETTLEMENT, MARGIN, p, c, -held, price, amount,
                    HAS_QTY | HAS_PRICE,
                )  # fmt: skip
            set_position(book, p, c, 0.0)
            if is_open:
                book.marks[p, c] = price
            book.accrued[p, c] = 0.0
    return OK


@_jit()
def clear_covered_calls(
    book: Book, terms: Terms, rows: Rows, ts: Int
) -> None:  # pragma: no cover - compiled
    """After a final settlement, cancel the calls whose margin account now covers the
    initial requirement of what is still held (event ``margin_call_cancelled``)."""
    n = book.outstanding.shape[0]
    covered = book.flags[M_COVERED]
    covered[:] = False
    for p in range(n):
        if book.outstanding[p] > 0:
            initial = _initial(book, terms, p, _ALL, 0.0, np.nan)
            covered[p] = book.balances[MARGIN, p] >= initial - _EPS
    for p in range(n):
        if covered[p]:
            _clear_call(book, p)
    for p in range(n):
        if covered[p]:
            _event(rows, ts, CALL_CANCELLED, p, NO_CONTRACT, D_COVERED, 0, np.nan, np.nan, 0)


@_jit()
def cascade(
    book: Book, terms: Terms, rows: Rows, ts: Int, day: Int
) -> int:  # pragma: no cover - compiled
    """Quarters and years whose last trading day has come become their components,
    position for position, at the parent's settlement price (EEX cascading);
    ``MISSING_CHILD_CONTRACT`` (item: the parent) if a component has no bars."""
    n, k = book.positions.shape
    held = book.work[W_HELD]
    price = book.work[W_MARK]
    none = book.work[W_NO_FEE]
    none[:] = 0.0
    for c in range(k):
        if terms.children[c, 0] == -1 or book.settled[c] or terms.last_trade[c] > day:
            continue
        book.settled[c] = True
        anyone = False
        for p in range(n):
            held[p] = book.positions[p, c]
            price[p] = book.marks[p, c]
            anyone = anyone or held[p] != 0.0
        if not anyone:
            continue
        for p in range(n):
            book.delivered[p, c] = book.delivered[p, c] or held[p] != 0.0
            held[p] = -held[p]
        status = fill(book, terms, rows, ts, c, held, price, none, FILL)
        if status != OK:
            return status
        for p in range(n):
            held[p] = -held[p]
        for m in range(terms.children.shape[1]):
            child = terms.children[c, m]
            if child == -1:
                break
            if child == MISSING_CHILD:
                book.report[R_ITEM] = c
                return MISSING_CHILD_CONTRACT
            status = fill(book, terms, rows, ts, child, held, price, none, FILL)
            if status != OK:
                return status
    return OK


@_jit()
def sweep_and_repay(
    book: Book, terms: Terms, rows: Rows, ts: Int
) -> None:  # pragma: no cover - compiled
    """Withdraw margin cash above ``IM·(1 + buffer)`` on paths without a call (if set), then
    repay the credit line from positive operating cash (``limited`` funding)."""
    n = book.outstanding.shape[0]
    if terms.ci[C_SWEEP] != 0:
        excess = book.work[W_EXCESS]
        excess[:] = 0.0
        for p in range(n):
            if book.outstanding[p] == 0:
                excess[p] = _maximum(book.balances[MARGIN, p] - _top_up_level(book, terms, p), 0.0)
        transfer(book, rows, ts, WITHDRAWAL, MARGIN, OPERATING, excess)
    if terms.ci[C_LIMITED] == 0:
        return
    drawn = False
    for p in range(n):
        drawn = drawn or -book.balances[CREDIT, p] > 0
    if drawn:
        repay = book.work[W_REPAY]
        for p in range(n):
            repay[p] = _minimum(
                -book.balances[CREDIT, p], _maximum(book.balances[OPERATING, p], 0.0)
            )
        transfer(book, rows, ts, REPAYMENT, OPERATING, CREDIT, repay)


@_jit()
def log_positions(
    book: Book, terms: Terms, rows: Rows, ts: Int
) -> None:  # pragma: no cover - compiled
    """A position-log row per path and contract held (if the log is kept)."""
    if terms.ci[C_LOG_POSITIONS] == 0:
        return
    for p in range(book.positions.shape[0]):
        for c in range(book.held[0], book.held[1]):
            if book.positions[p, c] != 0.0:
                r = rows.pn[0]
                rows.pi[r, P_TS] = ts
                rows.pi[r, P_PATH] = p
                rows.pi[r, P_CONTRACT] = c
                rows.pf[r, P_QTY] = book.positions[p, c]
                rows.pf[r, P_SETTLE] = book.marks[p, c]
                rows.pn[0] = r + 1


@_jit()
def settle_assess(
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day: Int,
    deadline: Int,
    gidx: Ints,
    settle: Floats,
) -> None:  # pragma: no cover - compiled
    """The day's settlement up to the strategy's ``on_margin_call``: interest (unless
    accrued already today), variation margin, SPAN's estimates, the margin-call model's
    calls and proposed liquidations (``assess_calls``)."""
    accrue_interest(book, terms, rows, ts, day)
    variation_margin(book, terms, rows, ts, gidx, settle)
    observe_settlement(terms.cf, terms.ci, book.span_var, book.span_last, gidx, settle)
    assess_calls(book, terms, rows, ts, day, deadline)


@_jit()
def settle_apply(
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day: Int,
    deadline: Int,
    fs_contract: Ints,
    fs_price: Floats,
    fs_ok: Bools,
) -> int:  # pragma: no cover - compiled
    """The rest of the day's settlement, after ``on_margin_call``: the liquidation orders
    (``apply_liquidation``), final settlement of ``fs_contract``, cancelling covered
    calls, cascades, sweep and repayment, the position log. Returns a status (``OK``,
    ``MISSING_FIXINGS``, ``MISSING_CHILD_CONTRACT``)."""
    apply_liquidation(book, terms, rows, ts, day, deadline)
    status = final_settlement(book, terms, rows, ts, fs_contract, fs_price, fs_ok)
    if status != OK:
        return status
    if fs_contract.shape[0]:
        clear_covered_calls(book, terms, rows, ts)
    status = cascade(book, terms, rows, ts, day)
    if status != OK:
        return status
    sweep_and_repay(book, terms, rows, ts)
    log_positions(book, terms, rows, ts)
    return OK


@_jit()
def settle_day(
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day: Int,
    deadline: Int,
    gidx: Ints,
    settle: Floats,
    fs_contract: Ints,
    fs_price: Floats,
    fs_ok: Bools,
) -> int:  # pragma: no cover - compiled
    """The day's settlement in the house plan's order, with the margin-call model's
    proposals applied as they stand: ``settle_assess`` then ``settle_apply``."""
    settle_assess(book, terms, rows, ts, day, deadline, gidx, settle)
    return settle_apply(book, terms, rows, ts, day, deadline, fs_contract, fs_price, fs_ok)


# -- the broker ---------------------------------------------------------------------------------


@_jit(inline="always")
def _unlisted(terms: Terms, c: Int, day: Int) -> Int:  # pragma: no cover - compiled
    """Why contract ``c`` cannot be traded on ``day`` (a detail code), or ``D_NONE``."""
    if day > terms.last_trade[c]:
        return D_EXPIRED
    if day < terms.listing[c]:
        return D_NOT_LISTED
    return D_NONE


@_jit(inline="always")
def _apply(
    orders: Orders, book: Book, terms: Terms, d: Int, target_orders: Floats
) -> None:  # pragma: no cover - compiled
    """Apply decision ``d`` to ``target_orders`` (a target against the positions now)."""
    verb = orders.dec_i[d, D_VERB]
    c = orders.dec_i[d, D_CONTRACT]
    q = orders.dec_q[d]
    n, k = target_orders.shape
    if verb == V_CANCEL:
        for p in range(n):
            if q[p] != 0.0:
                if c < 0:
                    for j in range(k):
                        target_orders[p, j] = 0.0
                else:
                    target_orders[p, c] = 0.0
        return
    if verb == V_ADD:
        for p in range(n):
            target_orders[p, c] += q[p]
        return
    rounding = terms.ci[C_WHOLE] != 0
    for p in range(n):
        change = q[p] - book.positions[p, c]
        target_orders[p, c] = whole(change) if rounding else change


@_jit(inline="always")
def _decide(
    orders: Orders, book: Book, terms: Terms, at: Int, verb: Int, c: Int, q: Floats
) -> int:  # pragma: no cover - compiled
    """Log a decision and apply it to the pending orders; ``NO_ROOM`` if the log is full."""
    d = orders.ostate[O_DECISIONS]
    if d == orders.dec_i.shape[0]:
        return NO_ROOM
    orders.dec_i[d, D_AT] = at
    orders.dec_i[d, D_VERB] = verb
    orders.dec_i[d, D_CONTRACT] = c
    for p in range(q.shape[0]):
        orders.dec_q[d, p] = q[p]
    orders.ostate[O_DECISIONS] = d + 1
    _apply(orders, book, terms, d, orders.pending)
    orders.ostate[O_ACTIVE] = 1
    return OK


@_jit(inline="always")
def place(
    orders: Orders,
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day: Int,
    c: Int,
    qty: Floats,
    target: bool,
) -> int:  # pragma: no cover - compiled
    """Add ``qty`` to the pending order in ``c`` (``target``: order what it takes to hold
    ``qty``, replacing the pending order); an order in a contract not listed on ``day`` is
    rejected. ``NO_ROOM`` (nothing done) if the decision log is full."""
    n = qty.shape[0]
    rounding = terms.ci[C_WHOLE] != 0
    reason = _unlisted(terms, c, day)
    if reason != D_NONE:
        for p in range(n):
            change = qty[p] - book.positions[p, c] if target else qty[p]
            change = whole(change) if rounding else change
            if change != 0.0:
                _event(rows, ts, REJECTED, p, c, reason, 0, change, np.nan, HAS_QTY)
        return OK
    if target:  # a target keeps the position wanted: it is netted against the position when due
        return _decide(orders, book, terms, ts, V_TARGET, c, qty)
    change = book.work[W_CHANGE]
    for p in range(n):
        change[p] = whole(qty[p]) if rounding else qty[p]
    return _decide(orders, book, terms, ts, V_ADD, c, change)


@_jit()
def cancel(
    orders: Orders, book: Book, terms: Terms, ts: Int, c: Int, paths: Bools
) -> int:  # pragma: no cover - compiled
    """Cancel the pending orders of ``paths`` in ``c`` (-1: every contract); ``NO_ROOM`` if
    the decision log is full."""
    waiting = orders.ostate[O_DECISIONS] > 0
    if not waiting:
        for p in range(orders.due.shape[0]):
            for j in range(orders.due.shape[1]):
                waiting = waiting or orders.due[p, j] != 0.0
    if not waiting:
        return OK
    mask = book.work[W_CANCEL]
    for p in range(paths.shape[0]):
        mask[p] = 1.0 if paths[p] else 0.0
    return _decide(orders, book, terms, ts, V_CANCEL, c, mask)


@_jit(inline="always")
def fill_prices(
    terms: Terms, c: Int, day_month: Int, base: float, side: float, qty: float
) -> tuple[float, float]:  # pragma: no cover - compiled
    """``(raw, price)`` of a fill of ``qty`` (side ``side``) at ``base``: ``raw`` is ``base``
    moved against the order by the slippage ticks and, under the liquidity model, the
    half-spread of a contract ``m = max(delivery month − this month, 0)`` months out
    (``half_spread + per_month·m`` ticks) and the square-root impact beyond the depth
    ``depth·decay^m`` (``impact_bps·10⁻⁴·base·√((|q| − depth)/depth)``); ``price`` is
    ``raw`` on the tick grid against the order, never below one tick."""
    raw = _costed(terms, c, day_month, base, side, qty)
    return raw, float(against(raw, side, terms.cf[F_TICK], terms.cf[F_SCALE]))


@_jit(inline="always")
def _costed(
    terms: Terms, c: Int, day_month: Int, base: float, side: float, qty: float
) -> float:  # pragma: no cover - compiled
    """``fill_prices``' raw price: ``base`` moved by slippage, spread and impact."""
    cf = terms.cf
    ticks = cf[F_SLIPPAGE]
    impact = 0.0
    if terms.ci[C_LIQUIDITY] != 0:
        months = max(terms.delivery_month[c] - day_month, 0)
        ticks = ticks + cf[F_HALF_SPREAD] + cf[F_SPREAD_PER_MONTH] * months
        depth = cf[F_DEPTH] * cf[F_DEPTH_DECAY] ** float(months)
        excess = _maximum(np.abs(qty) - depth, 0.0)
        impact = cf[F_IMPACT_BPS] * 1e-4 * base * np.sqrt(excess / depth)
    return float(base + side * (ticks * cf[F_TICK] + impact))


@_jit(inline="always")
def _book_fill_costs(
    book: Book, terms: Terms, qty: Floats, price: Floats, raw: Floats, base: Floats
) -> None:  # pragma: no cover - compiled
    """Add what each fill of ``qty`` gave up against its ``base`` price to
    ``book.fill_costs``: to the tick grid (``price`` vs ``raw``) and to slippage and the
    liquidity model (``raw`` vs ``base``)."""
    mult = terms.cf[F_MULT]
    for p in range(qty.shape[0]):
        if qty[p] != 0.0:
            size = np.abs(qty[p]) * mult
            book.fill_costs[0, p] += size * np.abs(price[p] - raw[p])
            book.fill_costs[1, p] += size * np.abs(raw[p] - base[p])


@_jit(inline="always")
def _reject(
    rows: Rows, ts: Int, c: Int, paths: Bools, qty: Floats, detail: Int
) -> None:  # pragma: no cover - compiled
    for p in range(paths.shape[0]):
        if paths[p]:
            _event(rows, ts, REJECTED, p, c, detail, 0, qty[p], np.nan, HAS_QTY)


@_jit(inline="always")
def _fill_contract(
    orders: Orders,
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day_month: Int,
    c: Int,
    due: Floats,
    base: Floats,
    locked: Bools,
    traded: Bools,
) -> int:  # pragma: no cover - compiled
    """Fill ``due[:, c]`` at ``base`` moved by the costs where the bar is not locked, the
    position limit holds and (limited funding) the initial margin can be paid; clear what
    filled or was rejected; mark the paths that traded."""
    n = due.shape[0]
    cf = terms.cf
    qty = book.work[W_QTY]
    for p in range(n):
        qty[p] = due[p, c]
    want = book.flags[M_WANT]
    blocked = book.flags[M_BLOCKED]
    any_blocked = False
    for p in range(n):
        want[p] = qty[p] != 0.0 and np.isfinite(base[p])
        blocked[p] = want[p] and locked[p]
        any_blocked = any_blocked or blocked[p]
        want[p] = want[p] and not locked[p]
    if any_blocked and terms.ci[C_CANCEL_LOCKED] != 0:
        _reject(rows, ts, c, blocked, qty, D_LOCKED)
        for p in range(n):
            if blocked[p]:
                due[p, c] = 0.0
    limit = cf[F_POSITION_LIMIT]
    if np.isfinite(limit):
        over = book.flags[M_OVER]
        for p in range(n):
            over[p] = want[p] and np.abs(book.positions[p, c] + qty[p]) > limit + 1e-9
        _reject(rows, ts, c, over, qty, D_LIMIT)
        for p in range(n):
            if over[p]:
                due[p, c] = 0.0
                want[p] = False
    anyone = False
    for p in range(n):
        anyone = anyone or want[p]
    if not anyone:
        return OK
    price = book.work[W_FILL_PRICE]
    raw = book.work[W_RAW_PRICE]
    for p in range(n):
        side = _sign(qty[p]) if want[p] else 0.0
        b = base[p] if want[p] else 0.0
        raw[p], price[p] = fill_prices(terms, c, day_month, b, side, qty[p] if want[p] else 0.0)
    if terms.ci[C_LIMITED] != 0:
        short = book.flags[M_SHORT]
        for p in range(n):
            extra = qty[p] if want[p] else 0.0
            unmarked = price[p] if want[p] else np.nan
            needed = (
                _with_buffer(terms, _initial(book, terms, p, c, extra, unmarked))
                - book.balances[MARGIN, p]
            )
            short[p] = want[p] and not needed <= _liquidity(book, terms, p) + 1e-9
        _reject(rows, ts, c, short, qty, D_FUNDS)
        for p in range(n):
            if short[p]:
                due[p, c] = 0.0
                want[p] = False
    fee = book.work[W_FILL_FEE]
    for p in range(n):
        if not want[p]:
            qty[p] = 0.0
            price[p] = 0.0
        fee[p] = cf[F_FEE] * np.abs(qty[p])
    status = fill(book, terms, rows, ts, c, qty, price, fee, FILL)
    if status == OK:
        _book_fill_costs(book, terms, qty, price, raw, base)
    for p in range(n):
        if want[p]:
            due[p, c] = 0.0
            traded[p] = True
    return status


@_jit(inline="always")
def execute(
    orders: Orders,
    book: Book,
    terms: Terms,
    rows: Rows,
    ts: Int,
    day: Int,
    day_month: Int,
    bar_start: Int,
    prices: Floats,
    locked: Bools,
    colmap: Ints,
) -> int:  # pragma: no cover - compiled
    """Fill what can be filled on the bars of this event: the decisions made at or before
    the bars started (every decision when filling at the close), the fills, then the
    later decisions; finally top up the paths that traded. ``prices`` and ``locked`` are
    ``(n_paths, columns)``; ``colmap[c]`` is contract ``c``'s column (-1: no bar)."""
    due = orders.due
    n, k = due.shape
    n_dec = orders.ostate[O_DECISIONS]
    cut = n_dec
    if terms.ci[C_AT_CLOSE] == 0:
        cut = 0
        while cut < n_dec and orders.dec_i[cut, D_AT] <= bar_start:
            cut += 1
    for d in range(cut):
        _apply(orders, book, terms, d, due)
    wanted = book.wanted
    wanted[:] = False
    for p in range(n):
        for c in range(k):
            if due[p, c] != 0.0:
                wanted[c] = True
    traded = book.flags[M_TRADED]
    traded[:] = False
    for c in range(k):
        if not wanted[c]:
            continue
        reason = _unlisted(terms, c, day)
        if reason != D_NONE:
            for p in range(n):
                if due[p, c] != 0.0:
                    _event(rows, ts, REJECTED, p, c, reason, 0, due[p, c], np.nan, HAS_QTY)
            for p in range(n):
                due[p, c] = 0.0
            continue
        j = colmap[c]
        if j >= 0:
            status = _fill_contract(
                orders, book, terms, rows, ts, day_month, c, due, prices[:, j], locked[:, j],
                traded,
            )  # fmt: skip
            if status != OK:
                return status
    for d in range(cut, n_dec):
        _apply(orders, book, terms, d, due)
    orders.ostate[O_DECISIONS] = 0
    active = 0
    for p in range(n):
        for c in range(k):
            orders.pending[p, c] = due[p, c]
            if due[p, c] != 0.0:
                active = 1
    orders.ostate[O_ACTIVE] = active
    anyone = False
    for p in range(n):
        anyone = anyone or traded[p]
    if anyone:
        top_up(book, terms, rows, ts, traded)
    return OK
