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

from tokbt.core.cache import refresh
from tokbt.core.layout import (
    CONSUMPTION,
    CREDIT,
    DEPOSIT,
    FEE,
    FILL,
    FINAL_SETTLEMENT,
    INTEREST,
    LIQUIDATION,
    MARGIN,
    MARGIN_CALL,
    VARIATION_MARGIN,
    WITHDRAWAL,
    Floats,
    Ints,
)

refresh(__file__, "core/layout.py")  # numba's cache follows the codes

_BIG = np.finfo(np.float64).max


@njit(cache=True, inline="always")
def _num(x: float) -> float:  # pragma: no cover - compiled
    """``np.nan_to_num``: NaN → 0, ±inf → ± the largest float."""
    if x != x:
        return 0.0
    if x == np.inf:
        return float(_BIG)
    if x == -np.inf:
        return float(-_BIG)
    return x


@njit(cache=True, inline="always")
def _hedge_kind(kind: int) -> bool:  # pragma: no cover - compiled
    """Variation margin, final settlement, fees and interest: the hedge's own flows."""
    return kind in (VARIATION_MARGIN, FINAL_SETTLEMENT, FEE, INTEREST)


@njit(cache=True)
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
        k = kind[r]
        p = path[r]
        if k == CONSUMPTION or _hedge_kind(k):
            sums[k, p] += amount[r]
        if k == CONSUMPTION:
            tokens[p] += _num(qty[r])
            if qty[r] > 0 and day[r] < first_day[p]:
                first_day[p] = day[r]
                first_price[p] = price[r]


@njit(cache=True)
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
        k = kind[r]
        c = contract[r]
        if c >= 0:
            cell = path[r] * n_contracts + c
            q = _num(qty[r])
            is_trade = k in (FILL, LIQUIDATION)
            if k == VARIATION_MARGIN:
                vm[cell] += amount[r]
            elif k == FINAL_SETTLEMENT:
                final[cell] += amount[r]
                delivered[cell] += -q
                if q != 0:
                    final_price[cell] = price[r]
            elif is_trade:
                traded[cell] += q
                if day[r] > last_trade[cell]:
                    last_trade[cell] = day[r]
            if is_trade or k in (VARIATION_MARGIN, FINAL_SETTLEMENT):
                touched[cell] = True
        if k == CONSUMPTION:
            spend[day[r], path[r]] += -amount[r]
            tokens[day[r], path[r]] += _num(qty[r])


@njit(cache=True)
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
        d, p, k, a = day[r], path[r], kind[r], account[r]
        if a == MARGIN:
            margin[d, p] += amount[r]
            if k in (DEPOSIT, MARGIN_CALL, WITHDRAWAL):
                funding[d, p] += amount[r]
        elif a == CREDIT:
            credit[d, p] += amount[r]
        if _hedge_kind(k):
            hedge[d, p] += amount[r]


@njit(cache=True)
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
        k = kind[r]
        if contract[r] >= 0 and (k in (FILL, LIQUIDATION, FINAL_SETTLEMENT)):
            held[day[r], path[r]] += _num(qty[r])
        if k == CONSUMPTION:
            tokens[day[r], path[r]] += _num(qty[r])


@njit(cache=True)
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
        k = kind[r]
        c = contract[r]
        m = contract_month[c] if c >= 0 else day_month[day[r]]
        p = path[r]
        if k == CONSUMPTION:
            tokens[p, m] += _num(qty[r])
            spend[p, m] += -amount[r]
        elif _hedge_kind(k):
            flows[p, m] += amount[r]
