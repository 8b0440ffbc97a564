"""The core's state: named tuples of arrays over paths and contracts, and their codes.

Four tuples carry everything the rules of ``tokbt.core.rules`` read and write:

* ``Book`` — the ledger's state: positions, marks, accrued variation margin,
  P&L, the three accounts, outstanding margin calls, the SPAN estimates;
* ``Orders`` — the broker's state: pending orders and the decisions made since
  the last execution;
* ``Terms`` — what does not change during a run: the contracts' calendar
  (listing, last trading day, final settlement day, delivery month, cascade
  children) and the settings as numbers (``cf``, floats; ``ci``, integers);
* ``Rows`` — preallocated row buffers for the journal, the event log and the
  position log, with their fill counts. The caller keeps room for what one step
  writes (``rows_per_event``) and turns filled rows into Arrow.

Times in rows are microseconds since the epoch (``datetime64[us]`` as int64);
days are days since the epoch (``datetime64[D]`` as int64).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Int = int | np.integer[Any]
"""An integer argument of the core's rules (codes are numpy integers)."""

# -- codes shared with the journal (tokbt.ledger.journal checks they agree) -------------------

KIND_NAMES = (
    "fill",
    "fee",
    "variation_margin",
    "final_settlement",
    "consumption",
    "margin_call",
    "deposit",
    "withdrawal",
    "liquidation",
    "interest",
    "repayment",
)
"""Journal row kinds by their code."""
# numpy integers, not Python ints: numba would compile a helper once per literal argument
(
    FILL,
    FEE,
    VARIATION_MARGIN,
    FINAL_SETTLEMENT,
    CONSUMPTION,
    MARGIN_CALL,
    DEPOSIT,
    WITHDRAWAL,
    LIQUIDATION,
    INTEREST,
    REPAYMENT,
) = map(np.int64, range(len(KIND_NAMES)))

ACCOUNT_NAMES = ("operating", "margin", "credit")
"""Accounts by their code: rows of ``Book.balances``."""
OPERATING, MARGIN, CREDIT = map(np.int64, range(3))

EVENT_NAMES = ("order_rejected", "margin_call", "liquidation", "margin_call_cancelled")
"""Event-log kinds the core writes, by their code (a facade may add more after them)."""
REJECTED, CALLED, LIQUIDATED, CALL_CANCELLED = map(np.int64, range(4))

DETAILS = (
    "expired",
    "not yet listed",
    "limit locked: cancelled",
    "insufficient funds for initial margin",
    "margin call unmet by its deadline",
    "covered after final settlement",
)
"""Event-log details the core writes, by their code; ``D_LIMIT`` is the position limit's
text (it names the limit, so the facade registers it), ``D_DUE`` a margin call's
``due <deadline>`` (the deadline day is the row's ``aux``)."""
D_EXPIRED, D_NOT_LISTED, D_LOCKED, D_FUNDS, D_UNMET, D_COVERED, D_LIMIT = map(np.int64, range(7))
D_NONE, D_DUE = np.int64(-1), np.int64(-2)

NO_CONTRACT = np.int64(-1)
NO_DAY = np.int64(np.iinfo(np.int64).min)
"""A day that has not happened (before the first accrual)."""
NO_DEADLINE = np.int64(np.iinfo(np.int64).max)
"""The deadline of a path without a call: never due."""
MISSING_CHILD = np.int64(-2)
"""In ``Terms.children``: a cascade component the market has no bars for."""

# -- row layouts ---------------------------------------------------------------------------------

J_TS, J_KIND, J_ACCOUNT, J_PATH, J_CONTRACT, J_FLAGS = range(6)
J_QTY, J_PRICE, J_AMOUNT = range(3)
"""Journal rows: ints (time, kind, account, path row, contract or -1, flags) and floats
(qty, price, amount); ``flags`` says which of qty and price the row carries."""
HAS_QTY, HAS_PRICE = np.int64(1), np.int64(2)
E_TS, E_KIND, E_PATH, E_CONTRACT, E_DETAIL, E_AUX, E_FLAGS = range(7)
E_QTY, E_AMOUNT = range(2)
"""Event rows: ints (time, kind, path row, contract or -1, detail code, aux, flags) and
floats (qty, amount); ``flags`` says which of qty (``HAS_QTY``) and amount
(``HAS_AMOUNT``) the row carries."""
HAS_AMOUNT = np.int64(2)
P_TS, P_PATH, P_CONTRACT = range(3)
P_QTY, P_SETTLE = range(2)
"""Position rows: ints (time, path row, contract) and floats (qty, settlement price)."""

# -- settings as numbers -------------------------------------------------------------------------

(
    F_MULT,
    F_TICK,
    F_SCALE,
    F_SLIPPAGE,
    F_FEE,
    F_IM_RATE,
    F_MM_RATIO,
    F_BUFFER,
    F_CASH_RATE,
    F_FUNDING_RATE,
    F_MARGIN_RATE,
    F_CREDIT_RATE,
    F_MARKUP,
    F_BASIS,
    F_CREDIT_LINE,
    F_POSITION_LIMIT,
    F_HALF_SPREAD,
    F_SPREAD_PER_MONTH,
    F_DEPTH,
    F_DEPTH_DECAY,
    F_IMPACT_BPS,
    F_SPAN_Z,
    F_SPAN_HOLDING,
    F_SPAN_ADD_ON,
    F_SPAN_LAM,
    F_SPAN_FLOOR,
) = range(26)
"""``Terms.cf``: multiplier, tick, 10**tick decimals, slippage ticks, fee per contract,
initial margin rate (spec model), IM/MM ratio, margin buffer, the four interest rates,
consumption markup and basis, credit line, position limit (inf: none), the liquidity
model (half-spread ticks, extra per month, depth, depth decay, impact bps), SPAN (z,
holding days, add-on, EWMA decay, volatility floor)."""
N_CF = 26

(
    C_AT_CLOSE,
    C_CANCEL_LOCKED,
    C_WHOLE,
    C_SWEEP,
    C_LOG_POSITIONS,
    C_LIMITED,
    C_SPAN,
    C_LIQUIDITY,
    C_DEADLINE_DAYS,
    C_ANY_RATE,
    C_CALL_MODEL,
) = range(11)
"""``Terms.ci``: fill at the close, cancel on a locked bar, whole contracts, sweep excess
margin, keep the position log, limited funding, SPAN margin, the liquidity model, exchange
days to meet a call, any interest rate set, the margin-call model (``CALLS_FULL``...)."""
N_CI = 11
CALLS_FULL, CALLS_PARTIAL = range(2)
"""Margin-call models (``Terms.ci[C_CALL_MODEL]``): a call that falls due liquidates every
tradable position of its path, or only the share of each that restores the initial
requirement."""

# -- decisions -------------------------------------------------------------------------------------

V_ADD, V_TARGET, V_CANCEL = map(np.int64, range(3))
"""Order verbs of the decision log: add contracts, target a position, cancel."""
D_AT, D_VERB, D_CONTRACT = range(3)
"""Columns of ``Orders.dec_i``: decision time (us), verb, contract (-1: all)."""
O_DECISIONS, O_ACTIVE = range(2)
"""``Orders.ostate``: decisions logged, whether any order is pending."""

# -- statuses ------------------------------------------------------------------------------------

OK, NAN_PRICE, NAN_SPEND, MISSING_FIXINGS, MISSING_CHILD_CONTRACT, NO_ROOM = range(6)
"""What a core step reports: done; a trade without a finite price; consumption priced at
NaN; a final settlement without its fixings; a cascade into a contract without bars;
a decision log without room. ``Book.report`` says which item."""
(
    W_CASH,
    W_CREDIT,
    W_TOP_UP,
    W_TOP_UP_PAID,
    W_FEES,
    W_PRICE_PAID,
    W_SPEND,
    W_INTEREST,
    W_CALLED,
    W_CALL_PAID,
    W_HELD,
    W_MARK,
    W_NO_FEE,
    W_EXCESS,
    W_REPAY,
    W_CHANGE,
    W_CANCEL,
    W_QTY,
    W_FILL_PRICE,
    W_FILL_FEE,
    W_RAW_PRICE,
) = range(21)
"""Rows of ``Book.work``: the per-path scratch each rule uses (one row per use, so that a
rule and the rules it calls never share one); the rules allocate nothing per call."""
N_WORK = 21
(
    M_TRADABLE,
    M_OPEN_CALLS,
    M_ISSUED,
    M_COVERED,
    M_WANT,
    M_BLOCKED,
    M_OVER,
    M_SHORT,
    M_TRADED,
) = range(9)
"""Rows of ``Book.flags``: per-path boolean scratch, as ``Book.work``."""
N_FLAGS = 9
R_STATUS, R_ITEM, R_CALLED, R_DUE = range(4)
"""``Book.report``: the last step's status, the item it concerns, whether the last
settlement issued calls, whether it proposed liquidations."""


class Book(NamedTuple):
    """The ledger's state over ``n`` paths and ``k`` contracts."""

    positions: Floats
    """(n, k) contracts held (long > 0)."""
    marks: Floats
    """(n, k) the price each position was last settled at (NaN before its first fill)."""
    accrued: Floats
    """(n, k) variation margin of today's trades not yet booked, ``Σ qty·mult·(mark − fill)``."""
    pnl: Floats
    """(n, k) futures P&L to date: variation margin and final settlement."""
    delivered: Bools
    """(n, k) a position was held at the contract's final settlement or cascade."""
    balances: Floats
    """(3, n) operating, margin and credit cash (credit = minus the amount drawn)."""
    spent: Floats
    """(n,) cumulative consumption spend (not financed)."""
    settled: Bools
    """(k,) the contract's final settlement or cascade is done."""
    outstanding: Floats
    """(n,) margin call still to be paid (0: none)."""
    deadline: Ints
    """(n,) exchange day by whose settlement the call must be met (``NO_DEADLINE``)."""
    span_var: Floats
    """(n, k) SPAN's EWMA variance of daily log settlement returns."""
    span_last: Floats
    """(n, k) SPAN's last settlement price seen (NaN before the first)."""
    call: Floats
    """(5, n) the calls of the last settlement: issued (1/0), amount, equity, initial and
    maintenance margin."""
    liquidated: Bools
    """(n,) paths liquidated at the last settlement."""
    due: Bools
    """(n,) paths whose call fell due at the last settlement and hold something tradable."""
    liquidation: Floats
    """(n, k) the liquidation orders proposed for the ``due`` paths (amendable until they
    are applied)."""
    clock: Ints
    """(1,) the day of the last interest accrual (``NO_DAY`` before the first)."""
    report: Ints
    """(4,) see ``R_STATUS``."""
    work: Floats
    """(N_WORK, n) scratch (see ``W_CASH``)."""
    flags: Bools
    """(N_FLAGS, n) scratch (see ``M_TRADABLE``)."""
    wanted: Bools
    """(k,) scratch over contracts: those with an order due (``execute``), those the
    decision kernel targeted (the compiled driver)."""
    holders: Ints
    """(k,) how many paths hold a position in each contract (``set_position`` keeps it)."""
    held: Ints
    """(2,) ``[lo, hi)``: the contracts some path holds lie in this range (empty: ``lo ==
    hi``). Rules that sum or scan a path's positions run over it, not over every contract
    listed in the run."""
    fills: Ints
    """(n,) orders filled on each path (a cascade's bookings count; liquidations do not)."""
    fill_costs: Floats
    """(2, n) what each path's fills gave up against their base price, ``Σ |qty|·mult·
    |Δprice|``: row 0 to rounding on the tick (against the order), row 1 to slippage and
    the liquidity model (spread, impact)."""


class Orders(NamedTuple):
    """The broker's state: orders over ``n`` paths and ``k`` contracts, and the decisions
    (``add`` / ``target`` / ``cancel``) made since the last execution, in time order."""

    pending: Floats
    """(n, k) orders as the strategy sees them now."""
    due: Floats
    """(n, k) orders left after the last execution."""
    dec_i: Ints
    """(m, 3) decision time, verb and contract (``D_AT``...)."""
    dec_q: Floats
    """(m, n) the decision's quantity per path (a cancel: 1 where it applies)."""
    ostate: Ints
    """(2,) see ``O_DECISIONS``."""


class Terms(NamedTuple):
    """The run's constants: the contracts' calendar (days since the epoch) and settings."""

    listing: Ints
    last_trade: Ints
    final_day: Ints
    delivery_month: Ints
    """(k,) months since 1970-01 of the delivery start."""
    children: Ints
    """(k, m) the components a quarter or year cascades into (-1: none; ``MISSING_CHILD``)."""
    cf: Floats
    ci: Ints


class Rows(NamedTuple):
    """Row buffers and their fill counts (``jn[0]``, ``en[0]``, ``pn[0]``)."""

    ji: Ints
    jf: Floats
    jn: Ints
    ei: Ints
    ef: Floats
    en: Ints
    pi: Ints
    pf: Floats
    pn: Ints


def rows_per_event(n_paths: int, n_contracts: int, max_children: int = 0) -> tuple[int, int, int]:
    """At most how many journal, event-log and position-log rows one event writes (a fill
    step, consumption, a decision step, a second fill step and a settlement)."""
    k = n_contracts
    journal = n_paths * (6 * k + 2 * k * (max_children + 1) + 16)
    events = n_paths * (3 * k + 6)
    return journal, events, n_paths * k


def new_book(n_paths: int, n_contracts: int, initial_cash: float, initial_vol: float) -> Book:
    """A book with no positions, ``initial_cash`` in each path's operating account."""
    n, k = n_paths, n_contracts
    balances = np.zeros((3, n))
    balances[OPERATING] = initial_cash
    return Book(
        positions=np.zeros((n, k)),
        marks=np.full((n, k), np.nan),
        accrued=np.zeros((n, k)),
        pnl=np.zeros((n, k)),
        delivered=np.zeros((n, k), dtype=np.bool_),
        balances=balances,
        spent=np.zeros(n),
        settled=np.zeros(k, dtype=np.bool_),
        outstanding=np.zeros(n),
        deadline=np.full(n, NO_DEADLINE, dtype=np.int64),
        span_var=np.full((n, k), initial_vol**2),
        span_last=np.full((n, k), np.nan),
        call=np.zeros((5, n)),
        liquidated=np.zeros(n, dtype=np.bool_),
        due=np.zeros(n, dtype=np.bool_),
        liquidation=np.zeros((n, k)),
        clock=np.array([NO_DAY], dtype=np.int64),
        report=np.zeros(4, dtype=np.int64),
        work=np.zeros((N_WORK, n)),
        flags=np.zeros((N_FLAGS, n), dtype=np.bool_),
        wanted=np.zeros(k, dtype=np.bool_),
        holders=np.zeros(k, dtype=np.int64),
        held=np.zeros(2, dtype=np.int64),
        fills=np.zeros(n, dtype=np.int64),
        fill_costs=np.zeros((2, n)),
    )


def new_orders(n_paths: int, n_contracts: int, decisions: int = 16) -> Orders:
    """An empty order book with room for ``decisions`` decisions."""
    m = max(decisions, n_contracts, 1)
    return Orders(
        pending=np.zeros((n_paths, n_contracts)),
        due=np.zeros((n_paths, n_contracts)),
        dec_i=np.zeros((m, 3), dtype=np.int64),
        dec_q=np.zeros((m, n_paths)),
        ostate=np.zeros(2, dtype=np.int64),
    )


def grow_decisions(orders: Orders) -> Orders:
    """The same orders with twice the room for decisions."""
    return orders._replace(
        dec_i=np.concatenate([orders.dec_i, np.zeros_like(orders.dec_i)]),
        dec_q=np.concatenate([orders.dec_q, np.zeros_like(orders.dec_q)]),
    )


def new_rows(journal: int, events: int, positions: int) -> Rows:
    """Row buffers with room for the given numbers of rows."""
    return Rows(
        ji=np.zeros((journal, 6), dtype=np.int64),
        jf=np.zeros((journal, 3)),
        jn=np.zeros(1, dtype=np.int64),
        ei=np.zeros((events, 7), dtype=np.int64),
        ef=np.zeros((events, 2)),
        en=np.zeros(1, dtype=np.int64),
        pi=np.zeros((positions, 3), dtype=np.int64),
        pf=np.zeros((positions, 2)),
        pn=np.zeros(1, dtype=np.int64),
    )
