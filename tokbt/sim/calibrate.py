"""Calibrating the spot model to a price series: AR(1) OLS, 3σ jump filtering and MLE.

The model (DOMAIN.md §4): ``ln S_t = f(t) + Y_t`` with the trend line
``f(t) = α + g t``, ``dY = −κ Y dt + σ dW + J dN``, ``N`` Poisson with rate
``λ`` per year and ``J ~ N(μ_J, σ_J²)``. Observations are ``Δ`` years apart
(``dt``, one day by default); time ``t`` is in years from each path's first
observation, so ``α = f(0)`` is the trend line at the first observation.

**The regression.** With ``x = ln S``, ``b = e^{−κΔ}`` and ``u_t = x_t − f(t)``
the exact discretisation (no jumps) is the AR(1) ``u_t = b u_{t−Δ} + η_t``,
``η_t ~ N(0, σ²(1 − b²)/(2κ))``. Substituting ``f`` gives

    x_t = a + b x_{t−Δ} + c t + ε_t,   c = g (1 − b),   a = α (1 − b) + b g Δ,

so ``κ = −ln b / Δ``, ``σ = sd(ε) √(2κ/(1 − b²))``, ``g = c/(1 − b)`` and
``α = (a − b g Δ)/(1 − b)``. Without a trend (``trend=False``, ``c = 0``)
``α = θ = a/(1 − b)`` is the long-run mean of ``ln S``.

**Jumps within a step.** A jump arriving at ``U ~ U(0, Δ)`` has decayed by
``d = e^{−κ(Δ − U)}`` at the next observation; ``E d = m₁ = (1 − b)/(κΔ)`` and
``E d² = m₂ = (1 − b²)/(2κΔ)``. The filter and the likelihood match the first
two moments of ``J d`` (mean ``μ_J m₁``, variance ``(σ_J² + μ_J²) m₂ − μ_J² m₁²``)
instead of the exact, non-normal law; as ``κΔ → 0`` this is the undecayed
approximation ``J`` (for κ = 12/yr and daily data ``m₁ = 0.984``).

**Several paths.** A 2-D input ``(n_paths, n_obs)`` holds independent paths
sharing every parameter (including ``α``); transitions are pooled and never
cross a path boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, special, stats

from tokbt.sim.params import DAYS_PER_YEAR, DT_DAY, SpotParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Method = Literal["ols", "filter", "mle"]

METHODS: tuple[Method, ...] = ("ols", "filter", "mle")
MIN_OBS = 10
"""Fewest observations per path that :func:`calibrate` accepts."""
JUMP_THRESHOLD = 3.0
"""The filter flags a residual as a jump when ``|ε| > JUMP_THRESHOLD · sd(ε)``."""
MAX_FILTER_ITERATIONS = 50
ZERO_SD = 1e-12
"""A residual sd (log units per step) at or below this is no diffusion at all."""
POISSON_TAIL = 1e-12
"""The likelihood sums ``n = 0..N`` jumps per step, N the smallest ``>= 3`` leaving less mass."""
MIN_JUMP_TERMS = 3
PIECEWISE_CONSTANT_SHARE = 0.5
"""Warn when more than this share of the steps leaves the price unchanged."""

PARAMETERS: tuple[str, ...] = (
    "kappa",
    "half_life_days",
    "sigma",
    "trend",
    "level",
    "jump_rate",
    "jump_mean",
    "jump_std",
)
"""Keys of :attr:`Calibration.std_errors`, in table order."""

_LABELS = {
    "kappa": "kappa (1/yr)",
    "half_life_days": "half-life (days)",
    "sigma": "sigma (1/sqrt yr)",
    "trend": "trend g (1/yr)",
    "level": "level alpha (ln S)",
    "jump_rate": "jump rate (1/yr)",
    "jump_mean": "jump mean (log)",
    "jump_std": "jump std (log)",
}


class Calibration(BaseModel):
    """Estimates of the spot model from one price series (or several independent paths).

    ``std_errors`` maps every name of :data:`PARAMETERS` to a standard error,
    ``None`` where the method gives none; ``NaN`` where it should but cannot
    (e.g. a Hessian that is not positive definite).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field(description="'ols', 'filter' or 'mle'.")
    kappa: float = Field(
        description="Mean reversion per year; 0 when the AR slope b >= 1 (no mean reversion, "
        "refit as a random walk with drift), inf when b <= 0 (reversion within a step)."
    )
    half_life_days: float = Field(description="ln 2 / κ in calendar days (365 a year).")
    sigma: float = Field(description="OU volatility per sqrt(year); NaN when b <= 0.")
    trend: float = Field(description="g: drift of the trend line f per year (0 if not fitted).")
    level: float = Field(
        description="α = f at the first observation (log price); θ = a/(1−b) without a trend. "
        "In 'ols' it absorbs the mean jump contribution λ μ_J / κ."
    )
    jump_rate: float = Field(description="λ: jumps per year (0 for 'ols').")
    jump_mean: float = Field(description="μ_J: mean log jump size (0 for 'ols').")
    jump_std: float = Field(description="σ_J: std of the log jump size (0 for 'ols').")
    std_errors: dict[str, float | None] = Field(description="Standard error per parameter.")
    n_obs: int = Field(description="Observations, all paths together.")
    n_paths: int = Field(description="Independent paths pooled.")
    dt: float = Field(description="Years between observations.")
    loglik: float | None = Field(None, description="Maximised log-likelihood ('mle' only).")
    converged: bool = Field(
        description="'ols': True; 'filter': no new jumps before the iteration cap; "
        "'mle': the optimiser reported success."
    )
    n_jumps: int | None = Field(None, description="Steps flagged as jumps ('filter' only).")
    warnings: tuple[str, ...] = Field((), description="What the estimates cannot be trusted for.")

    def to_spot_params(self, s0: float | None = None) -> SpotParams:
        """Simulation parameters: ``s0`` (default ``exp(level)``), ``y0 = 0``, ``cut_rate = 0``.

        Permanent cuts are not identified apart from jumps and trend, so they
        are off; the fitted drift is ``trend``. Raises ``ValueError`` when κ is
        not finite and positive or σ is not finite (no OU to simulate).
        """
        if not (math.isfinite(self.kappa) and self.kappa > 0 and math.isfinite(self.sigma)):
            raise ValueError(
                f"cannot simulate calibration ({self.method}): kappa={self.kappa}, "
                f"sigma={self.sigma} (need 0 < kappa < inf and a finite sigma)"
            )
        return SpotParams(
            s0=math.exp(self.level) if s0 is None else s0,
            trend=self.trend,
            kappa=self.kappa,
            sigma=self.sigma,
            jump_rate=self.jump_rate,
            jump_mean=self.jump_mean,
            jump_std=self.jump_std,
            cut_rate=0.0,
            y0=0.0,
        )

    def summary_rows(self) -> list[tuple[str, str, str]]:
        """``(name, estimate, standard error)`` rows for a table; ``-`` where there is no SE."""
        rows: list[tuple[str, str, str]] = [("method", self.method, "")]
        for name in PARAMETERS:
            se = self.std_errors.get(name)
            rows.append((_LABELS[name], _fmt(getattr(self, name)), "-" if se is None else _fmt(se)))
        if self.loglik is not None:
            rows.append(("log-likelihood", f"{self.loglik:.2f}", ""))
        if self.n_jumps is not None:
            rows.append(("jumps flagged", str(self.n_jumps), ""))
        rows.append(("observations", f"{self.n_obs} ({self.n_paths} path(s))", ""))
        rows.append(("converged", "yes" if self.converged else "no", ""))
        return rows


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def calibrate(
    series: npt.ArrayLike | pd.Series,
    dt: float = DT_DAY,
    method: Method = "mle",
    *,
    trend: bool = True,
) -> Calibration:
    """Estimate the spot model from a positive price series.

    ``series``: prices ``(n_obs,)`` (array or pandas Series) or independent
    paths ``(n_paths, n_obs)``, ``dt`` years apart. Methods:

    - ``"ols"``: the AR(1) regression of the module docstring; jumps are treated
      as diffusion. Standard errors: the OLS covariance, by the delta method
      for κ, σ, g and α (``sd(ε)`` taken as independent of the coefficients
      with ``Var sd(ε) = sd(ε)²/(2 dof)``).
    - ``"filter"``: 3σ recursive filtering (Clewlow & Strickland): fit OLS,
      flag steps with ``|ε| > 3 sd(ε)`` as jumps, refit on the rest and repeat
      until no new step is flagged (at most 50 rounds); κ, g, α come from the
      last fit. Two asymptotic corrections for what the rule does to pure
      diffusion steps: the kept residuals are a normal trimmed at ``±3 sd``
      of themselves, so σ is scaled up by ``1/r`` (``r ≈ 0.985`` solves
      ``r² = Var(Z | |Z| <= 3r)``); and about ``q = 2Φ(−3r) ≈ 0.31 %`` of them
      are flagged anyway, so ``n_jumps = n_flagged − q/(1 − q)·n_kept``.
      ``λ = n_jumps / T`` (T = transitions × Δ), ``μ_J`` and ``σ_J`` from the
      flagged residuals (see :func:`_jump_sizes`), ``σ_J²`` net of the
      diffusion variance and floored at 0. Jumps smaller than about 3 sd are
      missed. SEs: the OLS ones for κ, σ, g, α (conditional on the flagged
      set); for the jumps the delta method on the flagged count and sums
      (see :func:`_jump_sizes`). The realised number of false alarms
      scatters more than Poisson, so in simulation μ_J and σ_J scatter up to
      ~1.5× their SEs, and ``σ_J`` (a difference of close second moments) is
      often floored at 0: the filter is a starting point, the MLE the estimate.
    - ``"mle"``: maximum likelihood on the Poisson mixture ``x_t | x_{t−Δ} ~
      Σ_n Poisson(n; λΔ) N(f(t) + b (x_{t−Δ} − f(t−Δ)) + n μ_J m₁, s² + n v_J)``,
      ``s² = σ²(1 − b²)/(2κ)``, ``v_J = (σ_J² + μ_J²) m₂ − μ_J² m₁²``, summed to
      the smallest ``N >= 3`` leaving Poisson mass ``< 1e-12``. L-BFGS-B with
      the analytic gradient over ``(ln κ, ln σ, ln λ, μ_J, ln σ_J, α, g)``
      within wide bounds, started at the filter's estimates. SEs: the inverse
      Hessian of the negative log-likelihood in those coordinates (central
      differences of the analytic gradient), mapped to the natural parameters
      by the delta method. A coordinate on a bound has SE ``None`` and is held
      fixed in the Hessian (as are μ_J and σ_J when λ is on its lower bound,
      and α's SE is ``None`` when κ is).

    When the AR slope ``b >= 1`` (no mean reversion at this step) κ is set
    to 0, the boundary of ``κ >= 0``, and σ, g, α come from a random walk with
    drift (the κ → 0 limit); when ``b <= 0`` κ is ``inf``, σ is ``NaN`` (only
    ``σ²/2κ`` is identified) and g, α come from the formulas above. Both cases
    add a warning instead of raising.

    ``trend=False`` fixes ``g = 0``. Raises ``ValueError`` for a NaN, infinite
    or non-positive price (naming the first), fewer than 10 observations per
    path, a bad ``dt`` or an unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; use one of {METHODS}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of years, got {dt}")
    panel = _panel(series, dt)
    notes = _data_warnings(panel)
    if method == "ols":
        return _calibrate_ols(panel, trend, notes)
    filtered = _calibrate_filter(panel, trend, notes)
    if method == "filter":
        return filtered
    return _calibrate_mle(panel, trend, filtered, notes)


# -- input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    """Log prices and their transitions, pooled over paths (never across a path boundary)."""

    x: FloatArray
    """Log prices ``(n_paths, n_obs)``."""
    dt: float

    @property
    def n_paths(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_obs(self) -> int:
        return int(self.x.size)

    @cached_property
    def x_prev(self) -> FloatArray:
        return np.ascontiguousarray(self.x[:, :-1]).ravel()

    @cached_property
    def x_cur(self) -> FloatArray:
        return np.ascontiguousarray(self.x[:, 1:]).ravel()

    @cached_property
    def t_prev(self) -> FloatArray:
        return np.tile(np.arange(self.x.shape[1] - 1) * self.dt, self.n_paths)

    @cached_property
    def t_cur(self) -> FloatArray:
        return self.t_prev + self.dt

    @property
    def years(self) -> float:
        """Observed time, all paths together: transitions × Δ."""
        return float(self.x_cur.size * self.dt)

    @property
    def span_days(self) -> float:
        """Calendar days covered by one path."""
        return float((self.x.shape[1] - 1) * self.dt * DAYS_PER_YEAR)


def _panel(series: npt.ArrayLike | pd.Series, dt: float) -> _Panel:
    labels = series.index if isinstance(series, pd.Series) else None
    values = np.asarray(series, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2:
        raise ValueError(f"series must be 1-D or (n_paths, n_obs), got shape {values.shape}")
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        path, pos = (int(i) for i in np.argwhere(bad)[0])
        where = f"position {pos}" if values.shape[0] == 1 else f"path {path}, position {pos}"
        if labels is not None:
            where += f" (index {labels[pos]})"
        raise ValueError(
            f"prices must be finite and > 0: {where} holds {values[path, pos]} "
            f"({int(bad.sum())} bad value(s) in all)"
        )
    if values.shape[1] < MIN_OBS:
        raise ValueError(
            f"series too short: {values.shape[1]} observations per path, need >= {MIN_OBS}"
        )
    return _Panel(np.log(values), dt)


def _data_warnings(panel: _Panel) -> list[str]:
    unchanged = float(np.mean(panel.x_cur == panel.x_prev))
    if unchanged <= PIECEWISE_CONSTANT_SHARE:
        return []
    return [
        f"{unchanged:.0%} of the steps leave the price unchanged: the series is piecewise "
        "constant (list prices), not a diffusion; sigma measures the steps, not daily noise"
    ]


def _kappa_warnings(kappa: float, panel: _Panel) -> list[str]:
    if not (math.isfinite(kappa) and kappa > 0):
        return []
    half_life = math.log(2) / kappa * DAYS_PER_YEAR
    if half_life > panel.span_days:
        return [
            f"half-life {half_life:.0f} days exceeds the {panel.span_days:.0f}-day sample: "
            "mean reversion is not identified in this sample"
        ]
    if kappa * panel.dt > math.log(2):
        return [
            f"half-life {half_life:.2g} days is shorter than the "
            f"{panel.dt * DAYS_PER_YEAR:.3g}-day step: kappa is poorly identified; "
            "sample more often"
        ]
    return []


# -- the AR(1) regression --------------------------------------------------------------------


@dataclass(frozen=True)
class _ARFit:
    """OLS of ``x_t`` on ``(1, x_{t−Δ}[, t])`` over the kept transitions."""

    beta: FloatArray
    cov: FloatArray
    s: float
    """Residual sd (``dof`` = kept transitions − regressors)."""
    dof: int
    resid: FloatArray
    """Residuals of every transition, kept or not."""
    full_rank: bool


def _ar_fit(panel: _Panel, keep: BoolArray, trend: bool) -> _ARFit:
    columns = [np.ones_like(panel.x_prev), panel.x_prev]
    if trend:
        columns.append(panel.t_cur)
    X = np.column_stack(columns)
    y = panel.x_cur
    beta, _, rank, _ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
    resid = y - X @ beta
    dof = max(int(keep.sum()) - X.shape[1], 1)
    s = math.sqrt(float(np.sum(resid[keep] ** 2)) / dof)
    cov = s**2 * np.linalg.pinv(X[keep].T @ X[keep])
    return _ARFit(np.asarray(beta, np.float64), cov, s, dof, resid, int(rank) == X.shape[1])


@dataclass(frozen=True)
class _Diffusion:
    """κ, σ, g, α of a fit, their SEs, one step's noise sd and every transition's residual."""

    kappa: float
    sigma: float
    trend: float
    level: float
    se: dict[str, float | None]
    step_sd: float
    resid: FloatArray
    warnings: tuple[str, ...]


def _diffusion(panel: _Panel, keep: BoolArray, fit: _ARFit, trend: bool) -> _Diffusion:
    """Natural parameters of an AR fit, with the ``b >= 1`` and ``b <= 0`` fallbacks."""
    b = float(fit.beta[1])
    if not fit.full_rank or fit.s <= ZERO_SD:
        reason = "the kept steps are fitted exactly (no diffusion noise)"
        return _random_walk(panel, keep, trend, reason)
    if b >= 1:
        return _random_walk(panel, keep, trend, f"AR slope b = {b:.6f} >= 1")
    return _from_ar(panel, fit, trend)


def _from_ar(panel: _Panel, fit: _ARFit, trend: bool) -> _Diffusion:
    dt = panel.dt
    a, b = float(fit.beta[0]), float(fit.beta[1])
    c = float(fit.beta[2]) if trend else 0.0
    g = c / (1 - b)
    alpha = (a - b * g * dt) / (1 - b)
    # Gradients of g and α with respect to (a, b[, c]).
    grad_g = np.array([0.0, c / (1 - b) ** 2, 1 / (1 - b)])
    grad_alpha = np.array(
        [1 / (1 - b), a / (1 - b) ** 2 - c * dt * (1 + b) / (1 - b) ** 3, -b * dt / (1 - b) ** 2]
    )
    p = fit.beta.size
    var_b = float(fit.cov[1, 1])
    se: dict[str, float | None] = {
        "trend": _sd(grad_g[:p] @ fit.cov @ grad_g[:p]) if trend else None,
        "level": _sd(grad_alpha[:p] @ fit.cov @ grad_alpha[:p]),
    }
    if b <= 0:
        warning = (
            f"AR slope b = {b:.4f} <= 0: the deviations look independent from step to step, "
            "reversion is faster than the step; kappa = inf and sigma is not identified"
        )
        se |= {"kappa": None, "half_life_days": None, "sigma": None}
        return _Diffusion(math.inf, math.nan, g, alpha, se, fit.s, fit.resid, (warning,))
    kappa = -math.log(b) / dt
    sigma = fit.s * math.sqrt(2 * kappa / (1 - b * b))
    dkappa_db = -1 / (b * dt)
    dlnsigma_db = 0.5 * dkappa_db / kappa + b / (1 - b * b)
    se_kappa = abs(dkappa_db) * _sd(var_b)
    se |= {
        "kappa": se_kappa,
        "half_life_days": math.log(2) / kappa * DAYS_PER_YEAR * se_kappa / kappa,
        "sigma": sigma * math.sqrt(dlnsigma_db**2 * var_b + 1 / (2 * fit.dof)),
    }
    return _Diffusion(kappa, sigma, g, alpha, se, fit.s, fit.resid, ())


def _random_walk(panel: _Panel, keep: BoolArray, trend: bool, reason: str) -> _Diffusion:
    """The κ → 0 limit: ``Δx = g Δ + σ √Δ Z`` on the kept steps, α = mean first observation."""
    steps = (panel.x_cur - panel.x_prev)[keep]
    n = max(steps.size, 2)
    drift = float(np.mean(steps)) if trend else 0.0
    step_sd = math.sqrt(float(np.sum((steps - drift) ** 2)) / max(n - int(trend), 1))
    sigma = step_sd / math.sqrt(panel.dt)
    se: dict[str, float | None] = {
        "kappa": None,
        "half_life_days": None,
        "sigma": sigma / math.sqrt(2 * n),
        "trend": step_sd / (panel.dt * math.sqrt(n)) if trend else None,
        "level": None,
    }
    warning = (
        f"{reason}: no mean reversion at this step; kappa = 0 and sigma, trend come from "
        "a random walk with drift"
    )
    resid = panel.x_cur - panel.x_prev - drift
    level = float(np.mean(panel.x[:, 0]))
    return _Diffusion(0.0, sigma, drift / panel.dt, level, se, step_sd, resid, (warning,))


def _sd(variance: float) -> float:
    return math.sqrt(variance) if variance >= 0 else math.nan


def _result(
    method: Method,
    panel: _Panel,
    diffusion: _Diffusion,
    jumps: tuple[float, float, float],
    se: dict[str, float | None],
    warnings: list[str],
    **extra: float | int | bool | None,
) -> Calibration:
    kappa = diffusion.kappa
    half_life = math.log(2) / kappa * DAYS_PER_YEAR if kappa > 0 else math.inf
    all_warnings = [*warnings, *diffusion.warnings, *_kappa_warnings(kappa, panel)]
    return Calibration.model_validate(
        {
            "method": method,
            "kappa": kappa,
            "half_life_days": half_life,
            "sigma": diffusion.sigma,
            "trend": diffusion.trend,
            "level": diffusion.level,
            "jump_rate": jumps[0],
            "jump_mean": jumps[1],
            "jump_std": jumps[2],
            "std_errors": {name: se.get(name) for name in PARAMETERS},
            "n_obs": panel.n_obs,
            "n_paths": panel.n_paths,
            "dt": panel.dt,
            "converged": True,
            **extra,
            "warnings": tuple(all_warnings),
        }
    )


# -- OLS -------------------------------------------------------------------------------------


def _calibrate_ols(panel: _Panel, trend: bool, notes: list[str]) -> Calibration:
    keep = np.ones(panel.x_cur.size, dtype=bool)
    fit = _ar_fit(panel, keep, trend)
    diffusion = _diffusion(panel, keep, fit, trend)
    warnings = [*notes, *_tail_warnings(diffusion.resid)]
    none: dict[str, float | None] = {"jump_rate": None, "jump_mean": None, "jump_std": None}
    return _result("ols", panel, diffusion, (0.0, 0.0, 0.0), diffusion.se | none, warnings)


def _tail_warnings(resid: FloatArray) -> list[str]:
    """Warn when the residuals' excess kurtosis is far beyond a normal's sampling error."""
    z = resid - resid.mean()
    var = float(np.mean(z**2))
    if var <= ZERO_SD**2:
        return []
    kurt = float(np.mean(z**4)) / var**2 - 3
    if kurt <= max(1.0, 5 * math.sqrt(24 / z.size)):
        return []
    return [
        f"residuals are heavy-tailed (excess kurtosis {kurt:.1f}): there are jumps, which "
        "'ols' counts as diffusion (sigma too high); use method='filter' or 'mle'"
    ]


# -- 3σ filter -------------------------------------------------------------------------------


def _flag_jumps(panel: _Panel, trend: bool) -> tuple[BoolArray, _ARFit, list[str]]:
    """Kept (non-jump) transitions, the final fit on them, and what stopped the iteration."""
    keep = np.ones(panel.x_cur.size, dtype=bool)
    for _ in range(MAX_FILTER_ITERATIONS):
        fit = _ar_fit(panel, keep, trend)
        if fit.s <= ZERO_SD or not fit.full_rank:
            return keep, fit, []
        new = keep & (np.abs(fit.resid) > JUMP_THRESHOLD * fit.s)
        if not new.any():
            return keep, fit, []
        if int((keep & ~new).sum()) < MIN_OBS:
            return keep, fit, ["the filter would leave fewer than 10 steps; stopped early"]
        keep = keep & ~new
    capped = f"the filter still flagged new jumps after {MAX_FILTER_ITERATIONS} rounds"
    return keep, _ar_fit(panel, keep, trend), [capped]


def _decay_moments(kappa: float, dt: float) -> tuple[float, float]:
    """``(E d, E d²)`` of a jump's decay ``d = e^{−κ(Δ − U)}`` by the next observation."""
    if not (math.isfinite(kappa) and kappa > 0):
        return 1.0, 1.0
    k = kappa * dt
    return -math.expm1(-k) / k, -math.expm1(-2 * k) / (2 * k)


def _calibrate_filter(panel: _Panel, trend: bool, notes: list[str]) -> Calibration:
    keep, fit, stop = _flag_jumps(panel, trend)
    raw = _diffusion(panel, keep, fit, trend)
    inflate, false_alarms = _false_alarms(int(keep.sum()), raw.step_sd)
    diffusion = _untruncate(raw, inflate)
    moments = _decay_moments(diffusion.kappa, panel.dt)
    flagged = np.where(keep, 0.0, diffusion.resid)
    jumps, jump_se, jump_warnings = _jump_sizes(
        flagged, ~keep, false_alarms, diffusion.step_sd, moments, panel.years
    )
    return _result(
        "filter",
        panel,
        diffusion,
        jumps,
        diffusion.se | jump_se,
        [*notes, *stop, *jump_warnings],
        converged=not stop,
        n_jumps=int((~keep).sum()),
    )


@cache
def _truncation() -> tuple[float, float]:
    """``(r, c)`` at the filter's fixed point: kept residuals are N(0, s²) cut at ``±c s``.

    When no new step is flagged the kept residuals satisfy ``|ε| <= 3 ŝ`` with
    ``ŝ = r s`` their own sd, so ``r² = Var(Z | |Z| <= 3r)``: ``r ≈ 0.985``,
    ``c = 3r ≈ 2.95``.
    """

    def gap(r: float) -> float:
        c = JUMP_THRESHOLD * r
        inside = 2 * stats.norm.cdf(c) - 1
        return float(r * r - (1 - 2 * c * stats.norm.pdf(c) / inside))

    r = float(optimize.brentq(gap, 0.5, 1.0))
    return r, JUMP_THRESHOLD * r


def _false_alarms(n_kept: int, step_sd: float) -> tuple[float, float]:
    """``(1/r, expected diffusion steps flagged)``; ``(1, 0)`` when there is no diffusion."""
    if step_sd <= ZERO_SD:
        return 1.0, 0.0
    r, c = _truncation()
    q = float(2 * stats.norm.sf(c))
    return 1 / r, q / (1 - q) * n_kept


def _untruncate(d: _Diffusion, inflate: float) -> _Diffusion:
    """Scale σ (and its SE) and the step sd up by ``1/r`` to undo the filter's trimming."""
    se = dict(d.se)
    sigma_se = se.get("sigma")
    if sigma_se is not None:
        se["sigma"] = sigma_se * inflate
    return _Diffusion(
        d.kappa,
        d.sigma * inflate,
        d.trend,
        d.level,
        se,
        d.step_sd * inflate,
        d.resid,
        d.warnings,
    )


def _jump_sizes(
    flagged: FloatArray,
    is_jump: BoolArray,
    false_alarms: float,
    step_sd: float,
    moments: tuple[float, float],
    years: float,
) -> tuple[tuple[float, float, float], dict[str, float | None], list[str]]:
    """``(λ, μ_J, σ_J)``, their SEs and warnings from the flagged residuals.

    ``flagged`` holds every transition's residual where ``is_jump`` and 0
    elsewhere. From ``N`` flagged steps, ``S₁ = Σε`` and ``S₂ = Σε²``:
    ``n = N − false_alarms`` jumps; false alarms are symmetric (they add ~0 to
    ``S₁``) and add ``false_alarms · s² E[Z² | |Z| > c]`` to ``S₂``. A true
    jump's residual is ``J d + η``, so ``λ = n/T``, ``μ_J = S₁/(n m₁)`` and
    ``σ_J² = (M₂ − s²)/m₂ − μ_J²`` with ``M₂`` the per-jump mean square of the
    jumps. SEs by the delta method on ``(N, S₁, S₂)``, whose covariance is
    the sample covariance of the per-transition terms ``(1, ε, ε²)·1[jump]``
    times their count: it counts the Poisson scatter of both the jumps and
    the false alarms (``false_alarms``, ``s`` and ``c`` taken as known).
    """
    m1, m2 = moments
    terms = np.stack([is_jump.astype(np.float64), flagged, flagged**2])
    count, s1, s2 = terms.sum(axis=1).tolist()
    n = count - false_alarms
    none: dict[str, float | None] = {"jump_mean": None, "jump_std": None}
    if n < 1:
        warning = (
            f"{count:.0f} steps flagged, about as many as the diffusion alone gives "
            f"({false_alarms:.1f}): no jumps found; the jump size is not identified"
        )
        return (0.0, 0.0, 0.0), {"jump_rate": math.sqrt(count) / years, **none}, [warning]
    _, c = _truncation()
    excess = s2 - false_alarms * step_sd**2 * (1 + c * float(stats.norm.pdf(c) / stats.norm.sf(c)))
    mean = s1 / (n * m1)
    net = (excess / n - step_sd**2) / m2 - mean**2
    std = math.sqrt(max(net, 0.0))
    warnings = []
    if net <= 0:
        warnings.append("jump sizes vary no more than the diffusion: jump std floored at 0")
    if n < 10:
        warnings.append(f"only about {n:.0f} jumps: jump size estimates are rough")
    cov = np.cov(terms) * terms.shape[1]
    grad_mean = np.array([-s1 / (n * n * m1), 1 / (n * m1), 0.0])
    grad_var = np.array([-excess / (n * n * m2), 0.0, 1 / (n * m2)]) - 2 * mean * grad_mean
    se: dict[str, float | None] = {
        "jump_rate": _sd(float(cov[0, 0])) / years,
        "jump_mean": _sd(float(grad_mean @ cov @ grad_mean)),
        "jump_std": _sd(float(grad_var @ cov @ grad_var)) / (2 * std) if std > 0 else None,
    }
    return (n / years, mean, std), se, warnings


# -- maximum likelihood ----------------------------------------------------------------------

_NAMES = ("log_kappa", "log_sigma", "log_jump_rate", "jump_mean", "log_jump_std", "level", "trend")


@dataclass(frozen=True)
class _Likelihood:
    """The Poisson-mixture negative log-likelihood over the coordinates ``_NAMES``."""

    panel: _Panel
    trend: bool

    @property
    def names(self) -> tuple[str, ...]:
        return _NAMES if self.trend else _NAMES[:-1]

    def bounds(self) -> list[tuple[float | None, float | None]]:
        """Search box: κ in [1e-3, 20/Δ], σ in [1e-6, 100], λ in [1e-3, 0.5/Δ],
        μ_J in [−5, 5], σ_J in [1e-4, 5]; α and g free."""
        dt, log = self.panel.dt, math.log
        box: list[tuple[float | None, float | None]] = [
            (log(1e-3), log(20 / dt)),
            (log(1e-6), log(1e2)),
            (log(1e-3), log(0.5 / dt)),
            (-5.0, 5.0),
            (log(1e-4), log(5.0)),
            (None, None),
            (None, None),
        ]
        return box[: len(self.names)]

    def nll(self, theta: FloatArray) -> float:
        """Minus the log-likelihood of every transition at ``theta``."""
        return self.nll_grad(theta)[0]

    def nll_grad(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Minus the log-likelihood and its analytic gradient in the coordinates ``theta``.

        With component log-densities ``ℓ_n`` and responsibilities
        ``r_n = softmax(ℓ)``: ``∂ log p / ∂θ = Σ_n r_n [∂ log w_n − (z_n/V_n) ∂z_n
        + ½ (z_n²/V_n² − 1/V_n) ∂V_n]``, ``z_n = u − M_n``.
        """
        p, dt = self.panel, self.panel.dt
        kappa, sigma, rate, mu, sd_j = (
            math.exp(theta[0]),
            math.exp(theta[1]),
            math.exp(theta[2]),
            float(theta[3]),
            math.exp(theta[4]),
        )
        alpha, g = float(theta[5]), float(theta[6]) if self.trend else 0.0
        k = kappa * dt
        b = math.exp(-k)
        m1, m2 = _decay_moments(kappa, dt)
        dm1, dm2 = b - m1, b * b - m2  # d/d ln κ
        s2 = sigma**2 * -math.expm1(-2 * k) / (2 * kappa)
        ds2 = sigma**2 * dt * b * b - s2  # d/d ln κ
        vj = sd_j**2 * m2 + mu**2 * (m2 - m1**2)
        dvj = sd_j**2 * dm2 + mu**2 * (dm2 - 2 * m1 * dm1)  # d/d ln κ

        y_prev = p.x_prev - alpha - g * p.t_prev
        u = p.x_cur - alpha - g * p.t_cur - b * y_prev
        n = np.arange(_jump_terms(rate * dt) + 1, dtype=np.float64)
        col = n[:, None]  # components along axis 0: reductions over them stay fast
        var = s2 + col * vj
        z = u[None, :] - col * mu * m1
        log_w = col * math.log(rate * dt) - rate * dt - special.gammaln(col + 1)
        ell = (log_w - 0.5 * np.log(2 * math.pi * var)) - 0.5 * z * z / var
        top = ell.max(axis=0)
        e = np.exp(ell - top)
        total = e.sum(axis=0)
        loglik = float(np.sum(top) + np.sum(np.log(total)))

        r = e / total
        w = z / var
        dz = -r * w  # ∂ log p / ∂z_n, per component and transition
        dv = 0.5 * r * (w * w - 1 / var)  # ∂ log p / ∂V_n
        du = dz.sum(axis=0)
        cz, cv, cr = dz.sum(axis=1), dv.sum(axis=1), r.sum(axis=1)
        grad = [
            k * b * float(du @ y_prev) + float(cv @ (ds2 + n * dvj)) - float(cz @ n) * mu * dm1,
            2 * s2 * float(cv.sum()),
            float(cr @ (n - rate * dt)),
            float(cv @ n) * 2 * mu * (m2 - m1**2) - float(cz @ n) * m1,
            float(cv @ n) * 2 * sd_j**2 * m2,
            (b - 1) * float(du.sum()),
            float(du @ (b * p.t_prev - p.t_cur)),
        ]
        return -loglik, -np.array(grad[: len(self.names)])


def _jump_terms(mean: float) -> int:
    """Smallest ``N >= 3`` with ``P(Poisson(mean) > N) < 1e-12``."""
    n = np.arange(MIN_JUMP_TERMS, 200)
    return int(n[np.argmax(stats.poisson.sf(n, mean) < POISSON_TAIL)])


def _start(lik: _Likelihood, filtered: Calibration) -> FloatArray:
    """Filter estimates in optimiser coordinates, defaulted when unusable, inside the bounds."""
    p = lik.panel
    step_sd = float(np.std(p.x_cur - p.x_prev))
    positive = [
        (filtered.kappa, 1.0),
        (filtered.sigma, max(step_sd, 1e-3) / math.sqrt(p.dt)),
        (filtered.jump_rate, 1.0 / p.years),
        (filtered.jump_std, max(3 * step_sd, 1e-2)),
    ]
    logs = [math.log(v if math.isfinite(v) and v > 0 else d) for v, d in positive]
    level = filtered.level if math.isfinite(filtered.level) else float(np.mean(p.x[:, 0]))
    trend = filtered.trend if math.isfinite(filtered.trend) else 0.0
    theta = np.array([*logs[:3], filtered.jump_mean, logs[3], level, trend][: len(lik.names)])
    for i, (lo, hi) in enumerate(lik.bounds()):
        if lo is not None and hi is not None:
            theta[i] = min(max(theta[i], lo + 0.1), hi - 0.1)
    return theta


def _hessian(grad: Callable[[FloatArray], FloatArray], x: FloatArray, step: float) -> FloatArray:
    """Central differences of the analytic gradient, symmetrised."""
    eye = np.eye(x.size) * step
    cols = [(grad(x + e) - grad(x - e)) / (2 * step) for e in eye]
    h = np.column_stack(cols)
    return np.asarray((h + h.T) / 2)


def _at_bounds(lik: _Likelihood, theta: FloatArray) -> tuple[BoolArray, BoolArray]:
    """Coordinates within 1e-4 of their lower and of their upper bound."""
    lo = np.array([-np.inf if b[0] is None else b[0] for b in lik.bounds()])
    hi = np.array([np.inf if b[1] is None else b[1] for b in lik.bounds()])
    return np.asarray(theta - lo < 1e-4), np.asarray(hi - theta < 1e-4)


_BOUND_NOTES = {
    ("log_sigma", "lower"): ": no diffusion noise between jumps (a piecewise-constant series?)",
    ("log_jump_rate", "lower"): ": no jumps found; the jump size is not identified",
    ("log_kappa", "lower"): ": no mean reversion in this sample, and the level, which enters "
    "only as (1 − e^{−κΔ})·α, is not identified",
    ("log_kappa", "upper"): ": reversion within one step; kappa and sigma are not identified",
}


def _bound_warning(name: str, value: float, side: str) -> str:
    shown = math.exp(value) if name.startswith("log_") else value
    note = _BOUND_NOTES.get((name, side), "")
    return f"{name.removeprefix('log_')} = {shown:.3g} is on its {side} search bound{note}"


def _standard_errors(
    lik: _Likelihood, theta: FloatArray, fixed: BoolArray
) -> tuple[dict[str, float | None], list[str]]:
    """Delta-method SEs of the natural parameters from the Hessian over the free coordinates."""
    free = np.flatnonzero(~fixed)
    se_theta = np.full(theta.size, np.nan)
    warnings: list[str] = []

    def grad(v: FloatArray) -> FloatArray:
        full = theta.copy()
        full[free] = v
        return lik.nll_grad(full)[1][free]

    if free.size:
        hess = _hessian(grad, theta[free], 1e-5)
        if np.all(np.linalg.eigvalsh(hess) > 0):
            se_theta[free] = np.sqrt(np.diag(np.linalg.inv(hess)))
        else:
            warnings.append(
                "the Hessian of the negative log-likelihood is not positive definite: "
                "standard errors are NaN"
            )
    logs = np.array([n.startswith("log_") for n in lik.names])
    scale = np.ones_like(theta)
    scale[logs] = np.exp(theta[logs])
    natural = scale * se_theta
    se: dict[str, float | None] = {
        name.removeprefix("log_"): None if fixed[i] else float(natural[i])
        for i, name in enumerate(lik.names)
    }
    half_life = math.log(2) / math.exp(theta[0]) * DAYS_PER_YEAR
    se["half_life_days"] = None if fixed[0] else half_life * float(se_theta[0])
    return se, warnings


def _calibrate_mle(
    panel: _Panel, trend: bool, filtered: Calibration, notes: list[str]
) -> Calibration:
    lik = _Likelihood(panel, trend)
    m = panel.x_cur.size

    def objective(th: FloatArray) -> tuple[float, FloatArray]:
        value, grad = lik.nll_grad(th)
        return value / m, grad / m

    res = optimize.minimize(
        objective,
        _start(lik, filtered),
        method="L-BFGS-B",
        jac=True,
        bounds=lik.bounds(),
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    low, high = _at_bounds(lik, theta)
    warnings = [*notes]
    for side, hits in (("lower", low), ("upper", high)):
        warnings += [_bound_warning(lik.names[i], theta[i], side) for i in np.flatnonzero(hits)]
    fixed = low | high
    if low[2]:  # no jumps: their size is not identified either
        fixed[[3, 4]] = True
    if not res.success:
        warnings.append(f"the optimiser did not converge: {res.message}")
    se, se_warnings = _standard_errors(lik, theta, fixed)
    if low[0]:
        se["level"] = None
    g = float(theta[6]) if trend else 0.0
    diffusion = _Diffusion(
        math.exp(theta[0]), math.exp(theta[1]), g, float(theta[5]), {}, math.nan, np.empty(0), ()
    )
    jumps = (math.exp(theta[2]), float(theta[3]), math.exp(theta[4]))
    return _result(
        "mle",
        panel,
        diffusion,
        jumps,
        se,
        [*warnings, *se_warnings],
        loglik=-lik.nll(theta),
        converged=bool(res.success),
    )
