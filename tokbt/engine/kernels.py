"""The compiled driver of kernel strategies: a market block's events run by one numba loop.

``run_block`` replays events of one ``MarketBlock`` in the house plan's order —
the same phases as ``Engine._run_block`` — and calls the core's rules
(``tokbt.core.rules``) for every broker and ledger step, exactly as the Python
engine's ``Broker`` and ``Ledger`` facades do one step at a time. The driver
holds no broker or ledger arithmetic of its own: it walks the timeline, keeps
the strategy's history window (``_see``), calls the decision kernel and turns
its targets into orders.

At every event the strategy's *decision kernel* is called (``KERNEL_SIGNATURE``)
through a first-class function pointer, so one compiled (and cached) loop
serves every kernel. When the row buffers might not hold the next event's rows,
or the decision log is full, the loop returns at that event boundary and the
caller drains or grows the buffers and resumes (all state is in arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, typeof, types

from tokbt.core import layout, rules
from tokbt.core.layout import (
    C_AT_CLOSE,
    MISSING_FIXINGS,
    O_ACTIVE,
    O_DECISIONS,
    OK,
    R_CALLED,
    R_DUE,
    R_ITEM,
    Book,
    Bools,
    Floats,
    Ints,
    Orders,
    Rows,
    Terms,
)
from tokbt.numba_cache import NO_REFCOUNTS, refresh

refresh(__file__, "core/rules.py", "core/layout.py", "market/ticks.py")  # numba's cache

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

DONE, FLUSH, GROW_DECISIONS, NAN_SPEND, MISSING_FIXINGS_AT, CORE_ERROR, HOOK, CALL_HOOK = range(8)
"""``run_block`` statuses: the block is done; stopped to drain the row buffers; stopped to
grow the decision log; consumption priced at NaN; a final settlement without fixings
(``istate[S_ERROR_ITEM]``: the entry); another core failure (``Book.report``); stopped
after a settlement for the strategy's ``on_settle`` (the next event is returned);
stopped inside a settlement, calls assessed, for the strategy's ``on_margin_call`` (the
same event is returned: resume it with ``istate[S_RESUME] = 1`` to apply the calls)."""

S_HISTORY_ROW, S_HISTORY_SHIFTS, S_ERROR_ITEM, S_CORE_STATUS, S_RESUME = range(5)
"""``istate``: the current history row, how often the history buffer shifted, the entry
of a failed final settlement, the status of a failed core step, whether the first event
resumes its settlement after ``on_margin_call``."""
N_INT_STATE = 5


# -- the strategy's turn -----------------------------------------------------------------------


@njit(cache=True, inline="always")
def _see(
    i: int,
    spot_close: np.ndarray,
    fut_close: np.ndarray,
    gidx: np.ndarray,
    hist_spot: np.ndarray,
    hist_fut: np.ndarray,
    istate: np.ndarray,
    history: int,
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


@njit(cache=True, inline="always")
def _decide(
    i: int,
    kernel: Any,
    block_start: int,
    now: Ints,
    day: Ints,
    settling: Bools,
    positions_view: Floats,
    expiry: Ints,
    planned: Floats,
    params: Floats,
    state: Floats,
    target: Floats,
    hist_spot: Floats,
    hist_fut: Floats,
    r: int,
    history: int,
    orders: Orders,
    book: Book,
    terms: Terms,
    rows: Rows,
    qty: Floats,
) -> None:  # pragma: no cover - compiled
    """Call the kernel at event ``i`` and place its targets (contract by contract; a path
    without a target keeps heading where its pending order goes; ``qty`` is scratch)."""
    n, k = book.positions.shape
    target[:, :] = np.nan
    kernel(
        block_start + i, day[i], settling[i], hist_spot[r - history + 1 : r + 1],
        hist_fut[r - history + 1 : r + 1], positions_view, expiry[i], planned, params, state,
        target,
    )  # fmt: skip
    decided = book.wanted  # scratch over contracts, row by row: the buffer is path-major
    decided[:] = False
    for p in range(n):
        for c in range(k):
            if np.isfinite(target[p, c]):
                decided[c] = True
    for c in range(k):
        if not decided[c]:
            continue
        for p in range(n):
            t = target[p, c]
            qty[p] = t if np.isfinite(t) else book.positions[p, c] + orders.pending[p, c]
        rules.place(orders, book, terms, rows, now[i], day[i], c, qty, True)


@njit(cache=True)
def _final_entries(
    fs_event: Ints,
    i: int,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The range of final-settlement entries at event ``i`` (entries are in event order)."""
    lo = 0
    while lo < fs_event.shape[0] and fs_event[lo] < i:
        lo += 1
    hi = lo
    while hi < fs_event.shape[0] and fs_event[hi] == i:
        hi += 1
    return lo, hi


@njit(cache=True, inline="always")
def _room(
    rows: Rows,
    orders: Orders,
    need_j: int,
    need_e: int,
    need_p: int,
    k: int,
) -> int:  # pragma: no cover - compiled
    """``FLUSH`` / ``GROW_DECISIONS`` if the buffers might not hold one more event, else -1."""
    if (
        rows.jn[0] + need_j > rows.ji.shape[0]
        or rows.en[0] + need_e > rows.ei.shape[0]
        or rows.pn[0] + need_p > rows.pi.shape[0]
    ):
        return FLUSH
    if orders.ostate[O_DECISIONS] + k > orders.dec_i.shape[0]:
        return GROW_DECISIONS
    return -1


def _run_block(
    kernel: Any,
    first: int,
    block_start: int,
    now: Ints,
    day: Ints,
    month: Ints,
    bar_start: Ints,
    has_spot: Bools,
    has_futures: Bools,
    has_consumption: Bools,
    settling: Bools,
    deadline: Ints,
    spot_close: Floats,
    tokens: Floats,
    fut_open: Floats,
    fut_close: Floats,
    fut_settle: Floats,
    locked: Bools,
    gidx: Ints,
    colmap: Ints,
    expiry: Ints,
    fs_event: Ints,
    fs_contract: Ints,
    fs_price: Floats,
    fs_ok: Bools,
    planned: Floats,
    params: Floats,
    history: int,
    need: Ints,
    orders: Orders,
    book: Book,
    terms: Terms,
    rows: Rows,
    last_close: Floats,
    consumed: Floats,
    hist_spot: Floats,
    hist_fut: Floats,
    state: Floats,
    target: Floats,
    istate: Ints,
    positions_view: Floats,
    scratch: Floats,
    call_hook: bool,
    settle_hook: bool,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """Run events ``first ..`` of a block; return ``(status, next event)`` (see ``DONE``).
    ``scratch`` is ``(2, n_paths)`` of the driver's own (the loop allocates nothing)."""
    n, k = book.positions.shape
    at_close = terms.ci[C_AT_CLOSE] != 0
    prices = fut_close if at_close else fut_open
    spend = scratch[0]
    qty = scratch[1]
    for i in range(first, now.shape[0]):
        resuming = i == first and istate[S_RESUME] != 0  # back from on_margin_call
        istate[S_RESUME] = 0
        if not resuming:
            stop = _room(rows, orders, need[0], need[1], need[2], k)
            if stop >= 0:
                return stop, i
            # DATA: the spot bar, then interest at the end of an exchange day
            if has_spot[i]:
                for p in range(n):
                    if not np.isnan(spot_close[i, p]):
                        last_close[p] = spot_close[i, p]
            if settling[i]:
                rules.accrue_interest(book, terms, rows, now[i], day[i])
            for step in range(2):  # FILLS at the open; CONSUMPTION, ON_BAR; CLOSE_FILLS
                if step == 1:
                    if has_consumption[i]:
                        for p in range(n):
                            t = tokens[i, p]
                            spend[p] = 0.0 if np.isnan(t) else t
                        if rules.consume(book, terms, rows, now[i], spend, last_close) != OK:
                            return NAN_SPEND, i
                        for p in range(n):
                            consumed[p] += spend[p]
                    r = _see(i, spot_close, fut_close, gidx, hist_spot, hist_fut, istate, history)
                    _decide(
                        i, kernel, block_start, now, day, settling, positions_view, expiry,
                        planned, params, state, target, hist_spot, hist_fut, r, history, orders,
                        book, terms, rows, qty,
                    )  # fmt: skip
                if has_futures[i] and orders.ostate[O_ACTIVE] != 0 and at_close == (step == 1):
                    status = rules.execute(
                        orders, book, terms, rows, now[i], day[i], month[i], bar_start[i],
                        prices[i], locked[i], colmap,
                    )  # fmt: skip
                    if status != OK:
                        istate[S_CORE_STATUS] = status
                        return CORE_ERROR, i
            if settling[i]:  # SETTLEMENT up to the calls; a due path's orders are cancelled
                rules.settle_assess(
                    book, terms, rows, now[i], day[i], deadline[i], gidx, fut_settle[i]
                )
                if book.report[R_DUE]:
                    rules.cancel(orders, book, terms, now[i], -1, book.due)
                if call_hook and (book.report[R_CALLED] or book.report[R_DUE]):
                    return CALL_HOOK, i
        if settling[i]:
            lo, hi = _final_entries(fs_event, i)
            status = rules.settle_apply(
                book, terms, rows, now[i], day[i], deadline[i], fs_contract[lo:hi],
                fs_price[lo:hi], fs_ok[lo:hi],
            )  # fmt: skip
            if status == MISSING_FIXINGS:
                istate[S_ERROR_ITEM] = lo + book.report[R_ITEM]
                return MISSING_FIXINGS_AT, i
            if status != OK:
                istate[S_CORE_STATUS] = status
                return CORE_ERROR, i
            if settle_hook:
                return HOOK, i + 1
    return DONE, now.shape[0]


def _driver_signature() -> Any:
    """``_run_block``'s numba signature: the kernel as a first-class function (one compiled
    loop for every kernel), the core's tuples as ``tokbt.core.layout`` builds them."""
    i1, b1 = np.zeros(1, np.int64), np.zeros(1, np.bool_)
    f1, f2, f3 = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1, 1))
    i2, b3 = np.zeros((1, 1), np.int64), np.zeros((1, 1, 1), np.bool_)
    samples: dict[str, Any] = {
        "first": 0, "block_start": 0, "now": i1, "day": i1, "month": i1, "bar_start": i1,
        "has_spot": b1, "has_futures": b1, "has_consumption": b1, "settling": b1,
        "deadline": i1, "spot_close": f2, "tokens": f2, "fut_open": f3, "fut_close": f3,
        "fut_settle": f3, "locked": b3, "gidx": i1, "colmap": i1, "expiry": i2,
        "fs_event": i1, "fs_contract": i1, "fs_price": f2, "fs_ok": b1, "planned": f2,
        "params": f1, "history": 0, "need": i1, "orders": layout.new_orders(1, 1),
        "book": layout.new_book(1, 1, 0.0, 0.0), "terms": _sample_terms(),
        "rows": layout.new_rows(1, 1, 1), "last_close": f1, "consumed": f1, "hist_spot": f2,
        "hist_fut": f3, "state": f1, "target": f2, "istate": i1, "positions_view": f2,
        "scratch": f2, "call_hook": False, "settle_hook": False,
    }  # fmt: skip
    argtypes: list[Any] = [KernelFunction]
    for name in DRIVER_ARGUMENTS[1:]:
        sample = samples[name]
        if isinstance(sample, bool):
            argtypes.append(types.boolean)
        elif isinstance(sample, int):
            argtypes.append(types.int64)
        else:
            argtypes.append(typeof(sample))  # type: ignore[no-untyped-call]
    return types.UniTuple(types.int64, 2)(*argtypes)  # type: ignore[no-untyped-call]


def _sample_terms() -> layout.Terms:
    i1 = np.zeros(1, np.int64)
    return layout.Terms(
        i1, i1, i1, i1, np.zeros((1, 1), np.int64), np.zeros(layout.N_CF),
        np.zeros(layout.N_CI, np.int64),
    )  # fmt: skip


DRIVER_ARGUMENTS = _run_block.__code__.co_varnames[: _run_block.__code__.co_argcount]
"""``run_block``'s parameters, in order."""

run_block = njit(_driver_signature(), cache=True, **NO_REFCOUNTS)(_run_block)
"""The compiled loop over a block's events (compiled or loaded from numba's cache on import).

It is compiled without numba's reference counting (``NO_REFCOUNTS``): the loop and the
rules inlined into it allocate nothing, and the counts numba would otherwise keep on
every array view it takes were most of the loop's time (atomic increments at each
event). The rules it calls without inlining count as usual."""
