"""numba kernels: the exact log-OU jump-diffusion step and the futures settlement loop.

Kernels take pre-drawn random numbers (drawn per path from its own stream, see
``tokbt.sim.rng``) and do the arithmetic over ``(n_paths, n_steps)`` arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def ou_jump_paths(
    log_s0: float,
    y0: float,
    kappa: float,
    h: float,
    step_day: np.ndarray,
    trend: np.ndarray,
    sigma: np.ndarray,
    jump_mean: np.ndarray,
    jump_std: np.ndarray,
    z: np.ndarray,
    n_jumps: np.ndarray,
    jump_z: np.ndarray,
    jump_u: np.ndarray,
    jump_start: np.ndarray,
    n_cuts: np.ndarray,
    cut_log: np.ndarray,
    cut_start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``f`` and ``Y`` on the step grid, shape ``(n_paths, n_steps + 1)``.

    Exact transition over a step of length ``h`` (DOMAIN.md §4):
    ``Y' = Y e^{-κh} + σ sqrt((1-e^{-2κh})/(2κ)) Z + Σ J_i e^{-κ(h-U_i)}`` with
    ``J_i = μ_J + σ_J ξ_i`` and ``U_i ~ U(0, h)``; ``f' = f + g h + Σ ln(1-u)``.
    Day-level parameters are indexed by ``step_day[s]``. Jump draws of path
    ``p`` are ``jump_z/jump_u[jump_start[p]:]`` in order; cuts likewise.
    """
    n_paths, n_steps = z.shape
    f = np.empty((n_paths, n_steps + 1))
    y = np.empty((n_paths, n_steps + 1))
    decay = math.exp(-kappa * h)
    scale = math.sqrt((1.0 - math.exp(-2.0 * kappa * h)) / (2.0 * kappa))
    for p in range(n_paths):
        fp, yp = log_s0, y0
        f[p, 0], y[p, 0] = fp, yp
        j, c = jump_start[p], cut_start[p]
        for s in range(n_steps):
            d = step_day[s]
            yp = yp * decay + sigma[d] * scale * z[p, s]
            for _ in range(n_jumps[p, s]):
                size = jump_mean[d] + jump_std[d] * jump_z[j]
                yp += size * math.exp(-kappa * h * (1.0 - jump_u[j]))
                j += 1
            fp += trend[d] * h
            for _ in range(n_cuts[p, s]):
                fp += cut_log[c]
                c += 1
            f[p, s + 1], y[p, s + 1] = fp, yp
    return f, y


SERIES_TERMS = 40
"""Terms of the power series of ``exp(Y·a)`` used for the unfixed part of a contract."""
SERIES_MAX_Y = 5.0
"""Beyond ``|Y| > 5`` (a 150x deviation) the kernel falls back to direct exponentials."""


@njit(cache=True)
def unfixed_coefficients(
    growth: np.ndarray,
    by_delivery: bool,
    row_of_day: np.ndarray,
    decay_by_gap: np.ndarray,
    settle_day: np.ndarray,
    contract_first: np.ndarray,
    contract_last: np.ndarray,
    listed: np.ndarray,
) -> np.ndarray:
    """Power-series coefficients of the unfixed part of each listed contract, per day.

    ``Σ_{d unfixed} exp(growth[d, g]) · exp(Y · decay[g])`` with ``g = d − k``
    equals ``Σ_n Y^n · coef[e, slot, n]`` where
    ``coef[n] = Σ_d exp(growth[d, g]) decay[g]^n / n!`` — path-independent, so
    each path needs one polynomial per contract instead of one exponential
    per delivery day. 40 terms are exact to double precision for ``|Y| <= 5``.
    The row of ``growth`` is ``d`` when ``by_delivery`` else ``row_of_day[k]``
    (see ``tokbt.sim.curve.CurveModel``).
    """
    n_ex, n_slots = listed.shape
    coef = np.zeros((n_ex, n_slots, SERIES_TERMS))
    for e in range(n_ex):
        k = settle_day[e]
        for slot in range(n_slots):
            c = listed[e, slot]
            if c < 0:
                continue
            for d in range(max(contract_first[c], k + 1), contract_last[c] + 1):
                gap = d - k
                term = math.exp(growth[d if by_delivery else row_of_day[k], gap])
                a = decay_by_gap[gap]
                for n in range(SERIES_TERMS):
                    coef[e, slot, n] += term
                    term *= a / (n + 1)
    return coef


@njit(cache=True, parallel=True)
def futures_settles(
    index: np.ndarray,
    f_day: np.ndarray,
    y_day: np.ndarray,
    s0: float,
    decay_by_gap: np.ndarray,
    growth: np.ndarray,
    by_delivery: bool,
    row_of_day: np.ndarray,
    coef: np.ndarray,
    basis: np.ndarray,
    settle_day: np.ndarray,
    contract_first: np.ndarray,
    contract_last: np.ndarray,
    listed: np.ndarray,
    tick: float,
    limit: float,
    tick_decimals: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily settlement prices of every listed contract on every exchange day, per path.

    For contract ``c`` (delivery days ``contract_first[c]..contract_last[c]``,
    day 0 = the start, negative = before it) settled at the end of day
    ``k = settle_day[e]``, the fair price is the mean over its delivery days of
    the index already fixed (``d <= k``; days before the start count as
    ``s0``) and, for ``d > k``, of ``exp(f_k + Y_k·decay[d-k] + growth[d, d-k])``
    (via ``coef``, see ``unfixed_coefficients``) times the path's basis factor
    ``exp(basis[p, e])`` on the unfixed part. The price is rounded to the tick
    and clipped to ±``limit`` of the contract's previous settlement
    (``limit <= 0``: none); a clipped day is ``locked``.

    Returns ``(fair, settle, open, locked)``, each ``(n_exchange_days,
    n_paths, n_slots)`` (the order rows are stored in) aligned with ``listed`` (slot ``-1`` = empty,
    NaN); ``open`` is the contract's previous settlement (its own settlement
    on its first day).
    """
    n_paths = index.shape[0]
    n_ex, n_slots = listed.shape
    n_contracts = contract_first.shape[0]
    fair = np.full((n_ex, n_paths, n_slots), np.nan)
    settle = np.full((n_ex, n_paths, n_slots), np.nan)
    opened = np.full((n_ex, n_paths, n_slots), np.nan)
    locked = np.zeros((n_ex, n_paths, n_slots), dtype=np.bool_)
    pow10 = 10.0**tick_decimals
    for p in prange(n_paths):
        prev = np.full(n_contracts, np.nan)
        series_sum = np.empty(n_slots)
        for e in range(n_ex):
            k = settle_day[e]
            fk, yk = f_day[p, k], y_day[p, k]
            level = math.exp(fk + basis[p, e])
            series = abs(yk) <= SERIES_MAX_Y
            if series:  # every slot's Horner chain side by side: the same sums, in parallel
                series_sum[:] = 0.0
                for n in range(SERIES_TERMS - 1, -1, -1):
                    for slot in range(n_slots):
                        series_sum[slot] = series_sum[slot] * yk + coef[e, slot, n]
            for slot in range(n_slots):
                c = listed[e, slot]
                if c < 0:
                    continue
                d0, d1 = contract_first[c], contract_last[c]
                fixed = 0.0
                for d in range(d0, min(d1, k) + 1):
                    fixed += s0 if d < 0 else index[p, d]
                unfixed = 0.0
                if series:
                    unfixed = series_sum[slot]
                else:
                    for d in range(max(d0, k + 1), d1 + 1):
                        gap = d - k
                        row = d if by_delivery else row_of_day[k]
                        unfixed += math.exp(yk * decay_by_gap[gap] + growth[row, gap])
                value = (fixed + unfixed * level) / (d1 - d0 + 1)
                fair[e, p, slot] = value
                price = math.floor(value / tick + 0.5 + 1e-9) * tick
                pc = prev[c]
                if limit > 0.0 and not math.isnan(pc):
                    lo = math.ceil(pc * (1.0 - limit) / tick - 1e-9) * tick
                    hi = math.floor(pc * (1.0 + limit) / tick + 1e-9) * tick
                    lo = max(min(lo, pc - tick), tick)  # at least one tick each way,
                    hi = max(hi, pc + tick)  # as tokbt.market.ticks.limit_band
                    if price < lo:
                        price, locked[e, p, slot] = lo, True
                    elif price > hi:
                        price, locked[e, p, slot] = hi, True
                price = max(price, tick)
                price = round(price * pow10) / pow10
                settle[e, p, slot] = price
                opened[e, p, slot] = price if math.isnan(pc) else pc
                prev[c] = price
    return fair, settle, opened, locked


@njit(cache=True)
def futures_rows(
    settle: np.ndarray,
    opened: np.ndarray,
    locked: np.ndarray,
    listed: np.ndarray,
    day_us: np.ndarray,
    path_ids: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Flatten ``(n_ex, n_paths, n_slots)`` bars to rows ordered by (day, path, slot).

    Returns ``(ts_us, path, contract, open, high, low, settle, locked)`` with
    ``ts_us = day_us[e]`` and ``path = path_ids[p]``.
    """
    n_ex, n_paths, n_slots = settle.shape
    n = 0
    for e in range(n_ex):
        for slot in range(n_slots):
            if listed[e, slot] >= 0:
                n += n_paths
    ts = np.empty(n, np.int64)
    path = np.empty(n, np.int32)
    contract = np.empty(n, np.int32)
    o, h, lo, s = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    lk = np.empty(n, np.bool_)
    i = 0
    for e in range(n_ex):
        for p in range(n_paths):
            for slot in range(n_slots):
                c = listed[e, slot]
                if c < 0:
                    continue
                op, st = opened[e, p, slot], settle[e, p, slot]
                ts[i], path[i], contract[i] = day_us[e], path_ids[p], c
                o[i], s[i], lk[i] = op, st, locked[e, p, slot]
                h[i], lo[i] = max(op, st), min(op, st)
                i += 1
    return ts, path, contract, o, h, lo, s, lk


@njit(cache=True)
def block_futures(
    event_row: np.ndarray,
    first: int,
    slot_of: np.ndarray,
    opened: np.ndarray,
    settle: np.ndarray,
    locked: np.ndarray,
    out_open: np.ndarray,
    out_settle: np.ndarray,
    out_locked: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """A block's futures fields ``(events, n_paths, n_codes)``, each cell written once: at
    event ``t`` with row ``r = event_row[t]`` of ``slot_of`` (-1: no futures bars), code
    column ``c`` holds the chunk's ``[first + r, path, slot_of[r, c]]`` (slot -1: not
    listed that day); NaN and unlocked where there is no bar."""
    n_events, n_paths, n_codes = out_open.shape
    for t in range(n_events):
        r = event_row[t]
        for p in range(n_paths):
            for c in range(n_codes):
                slot = slot_of[r, c] if r >= 0 else -1
                if slot >= 0:
                    out_open[t, p, c] = opened[first + r, p, slot]
                    out_settle[t, p, c] = settle[first + r, p, slot]
                    out_locked[t, p, c] = locked[first + r, p, slot]
                else:
                    out_open[t, p, c] = np.nan
                    out_settle[t, p, c] = np.nan
                    out_locked[t, p, c] = False
