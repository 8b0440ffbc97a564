"""``min_variance_kernel``: a rolling minimum-variance hedge decided in a numba kernel."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit, uint64
from pydantic import Field, model_validator

from tokbt.engine import StrategyError
from tokbt.kernel_strategy import KernelStrategy, kernel_jit, whole_contracts
from tokbt.market import ContractSpec

_WINDOW, _EXPOSURE, _CONTRACT, _ROLL_DAYS = range(4)
"""``params``: window, exposure, fixed contract column (-1: the front month), roll days."""
ORDERS, CONTRACT, LAST = 0, 1, 2
"""``state``: orders placed so far, the contract hedged (-1: none yet), then each path's
last target (NaN: none yet), then ``4 × n_paths`` of scratch for the window sums."""
_MANY = 8
"""From this many paths on, the window sums run over all paths at once (``_window_sums``)."""


@kernel_jit
def rolling_min_variance(
    event: int,
    day: int,
    settling: bool,
    spot: np.ndarray,
    futures: np.ndarray,
    positions: np.ndarray,
    expiry: np.ndarray,
    planned: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    target: np.ndarray,
) -> None:
    """At every event, per path, ``h = Cov(ΔS, ΔF) / Var(ΔF)`` over the last ``window``
    moves between events where both the spot and the hedge contract have a close
    (means first, then sums, each in time order) and a target of ``round(h ×
    exposure)`` contracts — an order only when that target changes. The contract is
    a fixed one, or the front month (the first listed at least ``roll_days`` exchange
    days from its last trading day); when the front rolls, the old contract is
    closed and the new one estimated afresh."""
    window = int(params[_WINDOW])
    n, k = target.shape
    c = int(params[_CONTRACT])
    if c < 0:
        for j in range(k):
            if expiry[j] >= params[_ROLL_DAYS]:
                c = j
                break
    if c < 0:
        return
    held = int(state[CONTRACT])
    if held != c:
        if held >= 0:
            for p in range(n):
                target[p, held] = 0.0
        state[CONTRACT] = c
        for p in range(n):
            state[LAST + p] = np.nan
    rows = spot.shape[0]
    many = n >= _MANY
    if many:
        sums = state[LAST + n : LAST + 5 * n].reshape((4, n))
        _window_sums(spot, futures, c, rows, window, sums)
    for p in range(n):
        if many:
            cov, var = sums[2, p], sums[3, p]
        else:
            cov, var = _window_moments(spot, futures, p, c, rows, window)
        if not np.isfinite(var):  # a close missing in the last window + 1 rows: skip them
            s, f = spot[:, p], futures[:, p, c]
            first = _first_of_window(s, f, rows, window)
            if first < 0:
                continue
            cov, var = _moments(s, f, first, rows, window)
        if var > 0.0:
            x = cov / var * params[_EXPOSURE]
            wanted = whole_contracts(x)
            if wanted != state[LAST + p]:  # also when there is no target yet (NaN)
                state[LAST + p] = wanted
                state[ORDERS] += 1.0
                target[p, c] = wanted


@njit(cache=True, inline="always")
def _window_moments(
    spot: np.ndarray, futures: np.ndarray, p: int, c: int, rows: int, window: int
) -> tuple[float, float]:
    """``_moments`` of path ``p`` over the last ``window`` moves, between consecutive rows
    (a missing close makes the sums NaN). Row indices are unsigned: numba then adds no
    wrap-around of negative indices to each read, which halves the loop's time."""
    lo = uint64(rows - window)
    hi = uint64(rows)
    one = uint64(1)
    ms = 0.0
    mf = 0.0
    for j in range(lo, hi):
        ms += spot[j, p] - spot[j - one, p]
        mf += futures[j, p, c] - futures[j - one, p, c]
    ms /= window
    mf /= window
    cov = 0.0
    var = 0.0
    for j in range(lo, hi):
        a = spot[j, p] - spot[j - one, p] - ms
        b = futures[j, p, c] - futures[j - one, p, c] - mf
        cov += a * b
        var += b * b
    return cov, var


@njit(cache=True, inline="always")
def _window_sums(
    spot: np.ndarray, futures: np.ndarray, c: int, rows: int, window: int, sums: np.ndarray
) -> None:
    """``_window_moments`` of every path at once into ``sums`` (the two means, then cov and
    var): paths innermost, so one row's moves of many paths are added side by side, each
    path's sums in the same order as ``_window_moments``."""
    n = spot.shape[1]
    ms, mf, cv, vr = sums[0], sums[1], sums[2], sums[3]
    lo = uint64(rows - window)
    hi = uint64(rows)
    one = uint64(1)
    for p in range(n):
        ms[p] = 0.0
        mf[p] = 0.0
        cv[p] = 0.0
        vr[p] = 0.0
    for j in range(lo, hi):
        for p in range(n):
            ms[p] += spot[j, p] - spot[j - one, p]
            mf[p] += futures[j, p, c] - futures[j - one, p, c]
    for p in range(n):
        ms[p] /= window
        mf[p] /= window
    for j in range(lo, hi):
        for p in range(n):
            a = spot[j, p] - spot[j - one, p] - ms[p]
            b = futures[j, p, c] - futures[j - one, p, c] - mf[p]
            cv[p] += a * b
            vr[p] += b * b


@njit(cache=True, inline="always")
def _first_of_window(s: np.ndarray, f: np.ndarray, rows: int, window: int) -> int:
    """The earliest of the last ``window + 1`` rows where both closes exist (-1: too few)."""
    seen = 0
    for j in range(rows - 1, -1, -1):
        if np.isfinite(s[j]) and np.isfinite(f[j]):
            seen += 1
            if seen == window + 1:
                return j
    return -1


@njit(cache=True, inline="always")
def _moments(
    s: np.ndarray, f: np.ndarray, first: int, rows: int, window: int
) -> tuple[float, float]:
    """``Σ (ΔS − mean)(ΔF − mean)`` and ``Σ (ΔF − mean)²`` over the ``window`` moves
    between the rows of ``[first, rows)`` where both closes exist."""
    ms = 0.0
    mf = 0.0
    prev = first
    for j in range(first + 1, rows):
        if np.isfinite(s[j]) and np.isfinite(f[j]):
            ms += s[j] - s[prev]
            mf += f[j] - f[prev]
            prev = j
    ms /= window
    mf /= window
    cov = 0.0
    var = 0.0
    prev = first
    for j in range(first + 1, rows):
        if np.isfinite(s[j]) and np.isfinite(f[j]):
            a = s[j] - s[prev] - ms
            b = f[j] - f[prev] - mf
            cov += a * b
            var += b * b
            prev = j
    return cov, var


class MinVarianceKernelParams(KernelStrategy.Params):
    """Parameters of ``min_variance_kernel``."""

    window: int = Field(60, ge=2, description="Price moves in the estimate.")
    lookback: int | None = Field(
        None,
        ge=3,
        description="Events of history searched for the window's moves (default window + 1: "
        "every event has both closes, as intraday bars of one series).",
    )
    exposure: float = Field(100.0, description="Contracts held at a hedge ratio of 1.")
    contract: str | None = Field(None, description="The contract to hedge with (default: front).")
    roll_days: int = Field(
        5,
        ge=0,
        description="The front month is the first at least this many exchange days "
        "from its last trading day.",
    )
    series: Literal["front"] = Field(
        "front",
        description="Futures changes h is fitted on: those of the contract hedged now "
        "(the only series the kernel has; 'rolled', min_variance's default, needs the "
        "day of each history row, which a kernel is not given).",
    )

    @model_validator(mode="after")
    def _lookback_holds_window(self) -> MinVarianceKernelParams:
        if self.lookback is not None and self.lookback < self.window + 1:
            raise ValueError(
                f"lookback {self.lookback} cannot hold window + 1 = {self.window + 1} events"
            )
        return self


class MinVarianceKernel(KernelStrategy):
    """A rolling minimum-variance hedge: round(h × exposure) contracts, h re-estimated every event.

    At every event, per path, h = Cov(ΔS, ΔF) / Var(ΔF) over the last ``window``
    moves of the spot and futures closes (between events that have both, searched
    over the last ``lookback`` events); the target is round(h × ``exposure``)
    contracts of ``contract`` (or of the front month, rolled ``roll_days``
    exchange days before its last trading day), ordered only when it changes.
    The decision is a numba kernel: the strategy runs on the compiled engine.

    The moves are those of the contract hedged now, whatever it was in the window
    (``series = "front"``, the only value): unlike ``min_variance``'s default it does
    not estimate on the rolled front-month series — a kernel's history rows are
    events without their days, and its default window reads consecutive events as
    intraday bars of one series, so the front of each row is not known to it.
    """

    Params = MinVarianceKernelParams
    kernel = rolling_min_variance

    def history_events(self) -> int:
        lookback = self.params.lookback
        return int(self.params.window) + 1 if lookback is None else int(lookback)

    def kernel_params(self, spec: ContractSpec, contracts: tuple[str, ...]) -> np.ndarray:
        p = self.params
        column = -1
        if p.contract is not None:
            if p.contract not in contracts:
                raise StrategyError(
                    f"strategy {self.label()!r}: contract {p.contract!r} has no bars in this "
                    f"market ({', '.join(contracts) or 'no contracts'})"
                )
            column = contracts.index(p.contract)
        return np.array([p.window, p.exposure, column, p.roll_days], dtype=np.float64)

    def initial_state(self, n_paths: int, n_contracts: int) -> np.ndarray:
        state = np.full(LAST + 5 * n_paths, np.nan)
        state[ORDERS], state[CONTRACT] = 0.0, -1.0
        return state
