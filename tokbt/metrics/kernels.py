"""The built-in metrics' passes over a batch of journal rows, compiled.

Each function adds one batch of rows (``JournalRows``' arrays) into a metric's
accumulators in one loop, in row order: a cell's sum is the same however the
rows were cut into batches, and no temporary mask or ``(days × paths)`` grid is
made per batch. ``kind`` codes are positions in ``tokbt.ledger.journal.KINDS``;
a quantity or price a row does not carry is NaN and counts as 0
(``np.nan_to_num``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tokbt.core.layout import (
    CONSUMPTION,
    CREDIT,
    DEPOSIT,
    FEE,
    FILL,
    FINAL_SETTLEMENT,
    INTEREST,
    J_ACCOUNT,
    J_AMOUNT,
    J_CONTRACT,
    J_KIND,
    J_PATH,
    LIQUIDATION,
    MARGIN,
    MARGIN_CALL,
    VARIATION_MARGIN,
    WITHDRAWAL,
    Floats,
    Ints,
)
from tokbt.metrics.rows import core_row
from tokbt.numba_cache import njit_without_refcounts, refresh
from tokbt.numeric import column_sums

refresh(__file__, "core/layout.py", "metrics/rows.py", "numeric.py")  # numba's cache follows these

_BIG = np.finfo(np.float64).max


@njit_without_refcounts(cache=True, inline="always")
def _num(x: float) -> float:  # pragma: no cover - compiled
    """``np.nan_to_num``: NaN → 0, ±inf → ± the largest float."""
    if x != x:
        return 0.0
    if x == np.inf:
        return float(_BIG)
    if x == -np.inf:
        return float(-_BIG)
    return x


@njit_without_refcounts(cache=True, inline="always")
def _hedge_kind(kind: int) -> bool:  # pragma: no cover - compiled
    """Variation margin, final settlement, fees and interest: the hedge's own flows."""
    return kind in (VARIATION_MARGIN, FINAL_SETTLEMENT, FEE, INTEREST)


@njit_without_refcounts(cache=True, inline="always")
def _spend_row(
    d: int, p: int, k: int, q: float, price: float, a: float,
    sums: Floats, tokens: Floats, first_day: Ints, first_price: Floats,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    if k == CONSUMPTION or _hedge_kind(k):
        sums[k, p] += a
    if k == CONSUMPTION:
        tokens[p] += _num(q)
        if q > 0 and d < first_day[p]:
            first_day[p] = d
            first_price[p] = price


@njit_without_refcounts(cache=True)
def spend_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    qty: Floats,
    price: Floats,
    amount: Floats,
    sums: Floats,
    tokens: Floats,
    first_day: Ints,
    first_price: Floats,
) -> None:  # pragma: no cover - compiled
    """``Spend``: per path, the amounts of each kind (``sums[kind, path]``), tokens
    consumed, and the price of the first purchase (the earliest day's first row)."""
    for r in range(day.shape[0]):
        _spend_row(
            day[r], path[r], kind[r], qty[r], price[r], amount[r],
            sums, tokens, first_day, first_price,
        )  # fmt: skip


@njit_without_refcounts(cache=True, inline="always")
def _attribution_row(
    d: int, p: int, k: int, c: int, q_raw: float, price: float, a: float, n_contracts: int,
    vm: Floats, final: Floats, delivered: Floats, traded: Floats, touched: np.ndarray,
    last_trade: Ints, final_price: Floats, spend: Floats, tokens: Floats,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    if c >= 0:
        cell = p * n_contracts + c
        q = _num(q_raw)
        is_trade = k in (FILL, LIQUIDATION)
        if k == VARIATION_MARGIN:
            vm[cell] += a
        elif k == FINAL_SETTLEMENT:
            final[cell] += a
            delivered[cell] += -q
            if q != 0:
                final_price[cell] = price
        elif is_trade:
            traded[cell] += q
            if d > last_trade[cell]:
                last_trade[cell] = d
        if is_trade or k in (VARIATION_MARGIN, FINAL_SETTLEMENT):
            touched[cell] = True
    if k == CONSUMPTION:
        spend[d, p] += -a
        tokens[d, p] += _num(q_raw)


@njit_without_refcounts(cache=True)
def attribution_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    contract: Ints,
    qty: Floats,
    price: Floats,
    amount: Floats,
    n_contracts: int,
    vm: Floats,
    final: Floats,
    delivered: Floats,
    traded: Floats,
    touched: np.ndarray,
    last_trade: Ints,
    final_price: Floats,
    spend: Floats,
    tokens: Floats,
) -> None:  # pragma: no cover - compiled
    """``Attribution``: per path and contract, variation margin, final settlement,
    contracts delivered and traded, whether touched, the last trading day and the final
    settlement price; per day and path, spend and tokens consumed."""
    for r in range(day.shape[0]):
        _attribution_row(
            day[r], path[r], kind[r], contract[r], qty[r], price[r], amount[r], n_contracts,
            vm, final, delivered, traded, touched, last_trade, final_price, spend, tokens,
        )  # fmt: skip


@njit_without_refcounts(cache=True, inline="always")
def _inception_row(
    d: int, p: int, k: int, c: int, q_raw: float, a: float, t0: int, n_contracts: int,
    amounts: Floats, pnl: Floats, delivered: Floats, spend: Floats, tokens: Floats,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    if k == CONSUMPTION:
        spend[d, p] += -a
        tokens[d, p] += _num(q_raw)
    if d <= t0:
        return
    amounts[k, p] += a
    if c >= 0 and k in (VARIATION_MARGIN, FINAL_SETTLEMENT):
        cell = p * n_contracts + c
        pnl[cell] += a
        if k == FINAL_SETTLEMENT:
            delivered[cell] += -_num(q_raw)


@njit_without_refcounts(cache=True)
def inception_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    contract: Ints,
    qty: Floats,
    amount: Floats,
    t0: int,
    n_contracts: int,
    amounts: Floats,
    pnl: Floats,
    delivered: Floats,
    spend: Floats,
    tokens: Floats,
) -> None:  # pragma: no cover - compiled
    """``Inception``: per path, the amounts of each kind on days after the hedge date
    ``t0`` (``amounts[kind, path]``); per path and contract, their futures flows
    (variation margin and final settlement) and the contracts finally settled; per day
    and path, spend and tokens consumed (every day)."""
    for r in range(day.shape[0]):
        _inception_row(
            day[r], path[r], kind[r], contract[r], qty[r], amount[r], t0, n_contracts,
            amounts, pnl, delivered, spend, tokens,
        )  # fmt: skip


@njit_without_refcounts(cache=True, inline="always")
def _funding_row(
    d: int, p: int, k: int, account: int, a: float,
    margin: Floats, funding: Floats, credit: Floats, hedge: Floats,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    if account == MARGIN:
        margin[d, p] += a
        if k in (DEPOSIT, MARGIN_CALL, WITHDRAWAL):
            funding[d, p] += a
    elif account == CREDIT:
        credit[d, p] += a
    if _hedge_kind(k):
        hedge[d, p] += a


@njit_without_refcounts(cache=True)
def funding_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    account: Ints,
    amount: Floats,
    margin: Floats,
    funding: Floats,
    credit: Floats,
    hedge: Floats,
) -> None:  # pragma: no cover - compiled
    """``Funding``: per day and path, the margin account's flows, the transfers into it
    (deposits, calls, minus withdrawals), the credit account's flows, the hedge's flows."""
    for r in range(day.shape[0]):
        _funding_row(
            day[r], path[r], kind[r], account[r], amount[r], margin, funding, credit, hedge
        )


@njit_without_refcounts(cache=True, inline="always")
def _hedge_ratio_row(
    d: int, p: int, k: int, c: int, q: float, held: Floats, tokens: Floats
) -> None:  # pragma: no cover - compiled
    if c >= 0 and (k in (FILL, LIQUIDATION, FINAL_SETTLEMENT)):
        held[d, p] += _num(q)
    if k == CONSUMPTION:
        tokens[d, p] += _num(q)


@njit_without_refcounts(cache=True)
def hedge_ratio_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    contract: Ints,
    qty: Floats,
    held: Floats,
    tokens: Floats,
) -> None:  # pragma: no cover - compiled
    """``HedgeRatio``: per day and path, contracts bought (fills, liquidations, final
    settlements of a contract) and tokens consumed."""
    for r in range(day.shape[0]):
        _hedge_ratio_row(day[r], path[r], kind[r], contract[r], qty[r], held, tokens)


@njit_without_refcounts(cache=True, inline="always")
def _monthly_row(
    d: int, p: int, k: int, c: int, q: float, a: float,
    day_month: Ints, contract_month: Ints, tokens: Floats, spend: Floats, flows: Floats,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    m = contract_month[c] if c >= 0 else day_month[d]
    if k == CONSUMPTION:
        tokens[p, m] += _num(q)
        spend[p, m] += -a
    elif _hedge_kind(k):
        flows[p, m] += a


@njit_without_refcounts(cache=True)
def monthly_pass(
    day: Ints,
    path: Ints,
    kind: Ints,
    contract: Ints,
    qty: Floats,
    amount: Floats,
    day_month: Ints,
    contract_month: Ints,
    tokens: Floats,
    spend: Floats,
    flows: Floats,
) -> None:  # pragma: no cover - compiled
    """``MonthlyCost``: per path and month — a contract's month is its delivery start,
    any other row's the month it happens — tokens, spend and the hedge's flows."""
    for r in range(day.shape[0]):
        _monthly_row(
            day[r], path[r], kind[r], contract[r], qty[r], amount[r], day_month,
            contract_month, tokens, spend, flows,
        )  # fmt: skip


@njit_without_refcounts(cache=True)
def core_pass(
    ints: Ints,
    floats: Floats,
    day0: int,
    n_days: int,
    n_contracts: int,
    use: tuple[bool, ...],
    t0: int,
    spend: tuple[np.ndarray, ...],
    attribution: tuple[np.ndarray, ...],
    funding: tuple[np.ndarray, ...],
    ratio: tuple[np.ndarray, ...],
    monthly: tuple[np.ndarray, ...],
    inception: tuple[np.ndarray, ...],
) -> int:  # pragma: no cover - compiled
    """Every built-in pass (``use``: spend, attribution, funding, hedge ratio, monthly,
    inception from day ``t0``) over
    the core's journal buffers at once, each row read once and decoded in place
    (``core_row``): the same sums, row by row, as the passes over decoded rows. The
    first row outside ``[0, n_days)`` stops it and is returned (the accumulators are then
    partly updated and must not be used); -1 when every row was taken."""
    for r in range(ints.shape[0]):
        d, q, price = core_row(ints, floats, r, day0)
        if d < 0 or d >= n_days:
            return r
        p, k = ints[r, J_PATH], ints[r, J_KIND]
        c, a = ints[r, J_CONTRACT], floats[r, J_AMOUNT]
        if use[0]:
            _spend_row(d, p, k, q, price, a, spend[0], spend[1], spend[2], spend[3])
        if use[1]:
            a0, a1, a2, a3, a4, a5, a6, a7, a8 = attribution
            _attribution_row(
                d, p, k, c, q, price, a, n_contracts, a0, a1, a2, a3, a4, a5, a6, a7, a8
            )
        if use[2]:
            _funding_row(
                d, p, k, ints[r, J_ACCOUNT], a, funding[0], funding[1], funding[2], funding[3]
            )
        if use[3]:
            _hedge_ratio_row(d, p, k, c, q, ratio[0], ratio[1])
        if use[4]:
            _monthly_row(
                d, p, k, c, q, a, monthly[0], monthly[1], monthly[2], monthly[3], monthly[4]
            )
        if use[5]:
            _inception_row(
                d, p, k, c, q, a, t0, n_contracts,
                inception[0], inception[1], inception[2], inception[3], inception[4],
            )  # fmt: skip
    return -1


@njit_without_refcounts(cache=True, inline="always")
def _maximum(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.maximum(a, b)``: ``a`` when it is NaN or above ``b``, else ``b`` (so NaN wins,
    and of two equal zeros the second)."""
    return a if (a > b or a != a) else b


@njit_without_refcounts(cache=True, inline="always")
def _minimum(a: float, b: float) -> float:  # pragma: no cover - compiled
    """``np.minimum(a, b)``: ``a`` when it is NaN or below ``b``, else ``b``."""
    return a if (a < b or a != a) else b


@njit(cache=True)
def funding_series(
    margin: Floats,
    funding: Floats,
    credit: Floats,
    hedge: Floats,
    posted: Floats,
    need: Floats,
    pnl: Floats,
    peaks: Floats,
) -> None:  # pragma: no cover - compiled
    """``Funding``'s series and peaks in one pass down the days: the running sums of the
    margin account's flows (``posted``), of the transfers into it (``need``) and of the
    hedge's flows (``pnl``), as ``np.cumsum``; ``peaks`` rows: the largest posted, the
    largest need, minus the lowest credit balance (each against 0), the largest fall of
    ``pnl`` from its running peak (from 0) — numpy's maximum and minimum, NaN kept."""
    n_days, n_paths = margin.shape
    for j in range(n_paths):
        peaks[0, j], peaks[1, j], peaks[2, j], peaks[3, j] = 0.0, 0.0, 0.0, 0.0
    for d in range(n_days):
        for j in range(n_paths):
            if d == 0:
                posted[d, j], need[d, j], pnl[d, j] = margin[d, j], funding[d, j], hedge[d, j]
            else:
                posted[d, j] = posted[d - 1, j] + margin[d, j]
                need[d, j] = need[d - 1, j] + funding[d, j]
                pnl[d, j] = pnl[d - 1, j] + hedge[d, j]
    lowest, running, high = np.zeros(n_paths), np.zeros(n_paths), np.zeros(n_paths)
    drawdown = np.zeros(n_paths)
    for d in range(n_days):
        for j in range(n_paths):
            running[j] = credit[d, j] if d == 0 else running[j] + credit[d, j]
            peaks[0, j] = _maximum(peaks[0, j], posted[d, j])
            peaks[1, j] = _maximum(peaks[1, j], need[d, j])
            lowest[j] = _minimum(lowest[j], running[j])
            high[j] = _maximum(high[j], pnl[d, j])
            drawdown[j] = _maximum(drawdown[j], high[j] - pnl[d, j])
    for j in range(n_paths):
        peaks[2, j] = -lowest[j]
        peaks[3, j] = drawdown[j]


@njit(cache=True)
def hedge_ratio_series(
    held: Floats, tokens: Floats, multiplier: float, ratio: Floats
) -> None:  # pragma: no cover - compiled
    """``HedgeRatio``'s series: tokens held at each day's end (the running sum of contracts
    bought, times ``multiplier``) over the tokens consumed after it (the run's total, as
    ``np.sum``, minus the running sum), NaN once no more than 1e-9 is left."""
    n_days, n_paths = held.shape
    total = column_sums(tokens)
    bought, used = np.zeros(n_paths), np.zeros(n_paths)
    for d in range(n_days):
        for j in range(n_paths):
            bought[j] = held[d, j] if d == 0 else bought[j] + held[d, j]
            used[j] = tokens[d, j] if d == 0 else used[j] + tokens[d, j]
            remaining = total[j] - used[j]
            ratio[d, j] = bought[j] * multiplier / remaining if remaining > 1e-9 else np.nan
