"""The futures curve: closed-form fair prices of delivery-averaged contracts.

With zero risk premium and ``τ = T − t`` (DOMAIN.md §4)::

    ln E_t[S_T] = f(t) + ∫_t^T g + Y_t e^{−κτ} + ½∫_t^T σ² e^{−2κ(T−s)} ds
                + ∫_t^T λ [exp(μ_J e^{−κ(T−s)} + ½σ_J² e^{−2κ(T−s)}) − 1] ds
                + ∫_t^T λ_cut (E[1 − u] − 1) ds

which for constant parameters is the formula of DOMAIN.md. Here every
parameter may change from day to day (regimes), so each integral is a sum of
one-day pieces: exact for the diffusion, trend and cuts, and Gauss-Legendre
quadrature (8 nodes, error far below Monte Carlo noise) for the jump term.
A month contract's fair price is the mean of ``E_t[S_d]`` over its delivery
days, the days already fixed replaced by the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokbt.sim.params import DT_DAY, CurveParams, DailyParams

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def _day_pieces(daily: DailyParams, premium: float, max_gap: int) -> np.ndarray:
    """``piece[j, m]``: day ``j``'s contribution to ``ln E[S_T]`` when ``T`` is ``m`` days
    after the end of day ``j`` (``u = T − s ∈ [mΔ, (m+1)Δ)``).

    Days share rows when their parameters are equal (regimes are few), so the
    work is ``O(distinct parameter sets × max_gap)``.
    """
    params = np.column_stack(
        [daily.trend, daily.sigma, daily.jump_rate, daily.jump_mean, daily.jump_std, daily.cut_rate]
    )
    unique, inverse = np.unique(params, axis=0, return_inverse=True)
    trend, sigma, rate, mu, sd, cut_rate = (unique[:, i : i + 1] for i in range(6))
    kappa = daily.kappa
    m = np.arange(max_gap)[None, :]
    a, b = m * DT_DAY, (m + 1) * DT_DAY
    diffusion = 0.5 * sigma**2 * (np.exp(-2 * kappa * a) - np.exp(-2 * kappa * b)) / (2 * kappa)
    u = (a + b)[..., None] / 2 + (b - a)[..., None] / 2 * _GL_NODES  # (1, M, 8)
    decay = np.exp(-kappa * u)
    integrand = np.expm1(mu[..., None] * decay + 0.5 * sd[..., None] ** 2 * decay**2)
    jumps = rate * (integrand @ _GL_WEIGHTS) * (DT_DAY / 2)
    cuts = cut_rate * DT_DAY * (daily.cut_mean_factor - 1.0)
    drift = (trend + premium) * DT_DAY
    return np.asarray(diffusion + jumps + cuts + drift)[inverse.ravel()]


@dataclass(frozen=True)
class CurveModel:
    """Deterministic parts of the forward curve, tabulated once per scenario.

    ``growth[d, n]``: ``ln E[S_d] − f − Y·decay[n]`` for an index day ``d``
    seen ``n`` days earlier (from the end of day ``d − n``; ``n = d + 1`` is
    the start); ``decay[n] = e^{−κ n Δ}``.
    """

    growth: np.ndarray
    decay: np.ndarray

    @classmethod
    def build(cls, daily: DailyParams, curve: CurveParams, max_gap: int) -> CurveModel:
        """Tabulate for index days ``0..daily.n_days-1`` and gaps ``0..max_gap``."""
        pieces = _day_pieces(daily, curve.risk_premium, max_gap)
        n_days = daily.n_days
        growth = np.zeros((n_days, max_gap + 1))
        d = np.arange(n_days)
        for gap in range(1, max_gap + 1):
            j = d - gap + 1  # the earliest day of the window ends `gap - 1` days before d
            ok = j >= 0
            growth[:, gap] = growth[:, gap - 1]
            growth[ok, gap] += pieces[j[ok], gap - 1]
            growth[~ok, gap] = np.nan  # window would start before day 0
        decay = np.exp(-daily.kappa * np.arange(max_gap + 1) * DT_DAY)
        return cls(growth, decay)

    def expected_index(
        self, f: np.ndarray | float, y: np.ndarray | float, seen_after_day: int, day: int
    ) -> np.ndarray:
        """``E[S_day]`` seen at the end of day ``seen_after_day`` (-1: at the start)."""
        gap = day - seen_after_day
        if gap <= 0:
            raise ValueError(f"day {day} is not after day {seen_after_day}")
        log_value = np.asarray(f) + np.asarray(y) * self.decay[gap] + self.growth[day, gap]
        return np.asarray(np.exp(log_value))
