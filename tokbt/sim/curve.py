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


def _parameter_sets(daily: DailyParams) -> tuple[np.ndarray, np.ndarray]:
    """Distinct daily parameter sets ``(n_sets, 6)`` and each day's set index."""
    params = np.column_stack(
        [daily.trend, daily.sigma, daily.jump_rate, daily.jump_mean, daily.jump_std, daily.cut_rate]
    )
    unique, inverse = np.unique(params, axis=0, return_inverse=True)
    return unique, inverse.ravel()


def _set_pieces(daily: DailyParams, premium: float, max_gap: int) -> np.ndarray:
    """``piece[u, m]``: one day's contribution to ``ln E[S_T]`` under parameter set ``u``
    when ``T`` is ``m`` days after that day's end (``u = T − s ∈ [mΔ, (m+1)Δ)``).

    Regimes are few, so the work is ``O(distinct parameter sets × max_gap)``.
    """
    unique, _ = _parameter_sets(daily)
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
    return np.asarray(diffusion + jumps + cuts + drift)


@dataclass(frozen=True)
class CurveModel:
    """Deterministic parts of the forward curve, tabulated once per scenario.

    ``ln E_k[S_d] = f_k + Y_k·decay[d−k] + growth[row(k, d), d−k]`` for index
    day ``d`` seen at the end of day ``k`` (``k = −1``: at the start), with
    ``decay[n] = e^{−κ n Δ}``. Under ``schedule`` expectations the row is the
    delivery day ``d`` (the sum runs over the days' own parameters); under
    ``persistent`` expectations it is the parameter set in force on day
    ``k`` (``row_of_day[k]``), held constant to ``d``.
    """

    growth: np.ndarray
    decay: np.ndarray
    by_delivery: bool
    row_of_day: np.ndarray

    @classmethod
    def build(cls, daily: DailyParams, curve: CurveParams, max_gap: int) -> CurveModel:
        """Tabulate for index days ``0..daily.n_days-1`` and gaps ``0..max_gap``."""
        pieces = _set_pieces(daily, curve.risk_premium, max_gap)
        _, set_of_day = _parameter_sets(daily)
        decay = np.exp(-daily.kappa * np.arange(max_gap + 1) * DT_DAY)
        if curve.expectations == "persistent":
            growth = np.zeros((len(pieces), max_gap + 1))
            growth[:, 1:] = np.cumsum(pieces, axis=1)
            return cls(growth, decay, False, set_of_day.astype(np.int64))
        day_pieces = pieces[set_of_day]
        n_days = daily.n_days
        growth = np.zeros((n_days, max_gap + 1))
        d = np.arange(n_days)
        for gap in range(1, max_gap + 1):
            j = d - gap + 1  # the earliest day of the window ends `gap - 1` days before d
            ok = j >= 0
            growth[:, gap] = growth[:, gap - 1]
            growth[ok, gap] += day_pieces[j[ok], gap - 1]
            growth[~ok, gap] = np.nan  # the window would start before day 0
        return cls(growth, decay, True, np.arange(n_days, dtype=np.int64))

    def row(self, seen_after_day: int, day: int) -> int:
        """The row of ``growth`` for index day ``day`` seen at the end of ``seen_after_day``."""
        return day if self.by_delivery else int(self.row_of_day[max(seen_after_day, 0)])

    def expected_index(
        self, f: np.ndarray | float, y: np.ndarray | float, seen_after_day: int, day: int
    ) -> np.ndarray:
        """``E[S_day]`` seen at the end of day ``seen_after_day`` (-1: at the start)."""
        gap = day - seen_after_day
        if gap <= 0:
            raise ValueError(f"day {day} is not after day {seen_after_day}")
        row = self.row(seen_after_day, day)
        log_value = np.asarray(f) + np.asarray(y) * self.decay[gap] + self.growth[row, gap]
        return np.asarray(np.exp(log_value))
