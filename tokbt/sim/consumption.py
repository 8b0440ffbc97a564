"""The hedger's exposure: daily token consumption, and the plan it hedges against."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from tokbt.sim.params import DT_DAY, ConsumptionParams, DailyParams
from tokbt.sim.rng import Stream, history_rng, path_rng, splice


@dataclass(frozen=True)
class Consumption:
    """Realised ``tokens`` ``(n_paths, n_days)`` and the ``plan`` ``(n_days,)``, millions a day."""

    tokens: np.ndarray
    plan: np.ndarray


def simulate_consumption(
    params: ConsumptionParams,
    daily: DailyParams,
    log_s0: float,
    log_index: np.ndarray,
    paths: np.ndarray,
    seed: int,
    shared_days: int = 0,
) -> Consumption:
    """Daily consumption of each path (the noise of the first ``shared_days`` days from the
    shared history's stream: with the shared spot, consumption is then the same on
    every path before the branch).

    ``ln Q_d = ln q0 + Σ_{j≤d} g_Q,j Δ + Σ_{j≤d} β_j (dev_j − dev_{j−1}) + ε_d``
    where ``dev_d = ln S_d − m_d`` is the price shock — the log index minus
    its expected path ``m_d = ln s0 + Σ_{j≤d} (trend_j + cut_rate_j·E[ln(1−u)]) Δ``
    (the regime's own trend is expected, so it is not counted twice) — and β
    the ``price_link``: while it is on, consumption moves with each price
    shock (a demand surge lifts both); the response accumulates and stays
    when β switches off, so consumption has no jump at a regime's edges. ε
    is a stationary AR(1). The plan is ``q0·exp(growth·t_d)`` (``plan =
    "trend"``: base growth, no regime, no noise — what the treasury forecast at
    the start), or with ``plan = "expected"`` the expected path
    ``q0·exp(Σ g_Q,j Δ)``: every regime's demand growth, no price response, no noise
    — a treasury that saw the demand explosion coming.
    """
    n_days = log_index.shape[1]
    t = (np.arange(n_days) + 1) * DT_DAY
    log_trend = np.log(params.q0) + np.cumsum(daily.demand_growth[:n_days]) * DT_DAY
    expected = log_s0 + np.cumsum(daily.log_drift[:n_days]) * DT_DAY
    shocks = np.diff(log_index - expected, axis=1, prepend=0.0)
    response = np.cumsum(daily.price_link[:n_days] * shocks, axis=1)
    noise = _ar1(params.noise_sigma, params.noise_phi, paths, n_days, seed, shared_days)
    tokens = np.exp(log_trend + response + noise)
    trend = params.q0 * np.exp(params.growth * t)
    return Consumption(tokens, np.exp(log_trend) if params.plan == "expected" else trend)


def _ar1(
    sigma: float, phi: float, paths: np.ndarray, n: int, seed: int, shared_days: int = 0
) -> np.ndarray:
    """Stationary AR(1) ``ε_d = φ ε_{d−1} + σ η_d`` per path, from the consumption stream
    (the shared history's for the first ``shared_days`` days)."""
    out = np.zeros((len(paths), n))
    if sigma == 0:
        return out
    shocks = np.stack(
        [path_rng(seed, int(p), Stream.CONSUMPTION).standard_normal(n) for p in paths]
    )
    if shared_days:
        shared = history_rng(seed, Stream.CONSUMPTION).standard_normal(n)
        shocks = splice(shocks, np.broadcast_to(shared, shocks.shape), shared_days)
    return ar1_filter(shocks, sigma, phi)


def ar1_filter(shocks: np.ndarray, sigma: float, phi: float) -> np.ndarray:
    """Stationary AR(1) paths from standard-normal ``shocks`` ``(n_paths, n)``.

    The first value is drawn from the stationary law ``N(0, σ²/(1−φ²))``.
    """
    scaled = shocks * sigma
    scaled[:, 0] /= np.sqrt(1.0 - phi**2)
    out = np.empty_like(scaled)
    _recursion(np.ascontiguousarray(scaled), float(phi), out)
    return out


@njit(cache=True)
def _recursion(x: np.ndarray, phi: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[:, t] = x[:, t] + φ · out[:, t−1]`` (``out[:, 0] = x[:, 0]``): the filter
    ``scipy.signal.lfilter([1], [1, −φ], x)`` computes, term for term, without importing
    scipy.signal (a second of every worker's start)."""
    for p in range(x.shape[0]):
        prev = 0.0
        for t in range(x.shape[1]):
            prev = x[p, t] + phi * prev
            out[p, t] = prev
