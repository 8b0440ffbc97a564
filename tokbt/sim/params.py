"""Parameters of a simulated token market, as typed, TOML-serialisable configs.

All rates are annual (per year of 365 days); time runs in calendar days from
the scenario's start. Values the paper does not state are marked
**[assumption]** in the field descriptions and documented in
``tokbt.sim.scenarios``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

DAYS_PER_YEAR = 365.0
DT_DAY = 1.0 / DAYS_PER_YEAR
"""One calendar day in years: the default simulation step."""


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CutSizes(_Config):
    """Permanent list-price cuts: each scales the price level by ``1 - u``, ``u ~ U(low, high)``."""

    low: float = Field(0.25, gt=0, lt=1, description="Smallest cut (fraction of the price).")
    high: float = Field(0.60, gt=0, lt=1, description="Largest cut (fraction of the price).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            raise ValueError(f"cut sizes: low {self.low} > high {self.high}")
        return self

    @property
    def mean_factor(self) -> float:
        """``E[1 - u]``: the expected price factor of one cut."""
        return 1.0 - (self.low + self.high) / 2.0

    @property
    def mean_log(self) -> float:
        """``E[ln(1 - u)]`` for ``u ~ U(low, high)``."""
        a, b = 1.0 - self.high, 1.0 - self.low
        return (b * np.log(b) - b - (a * np.log(a) - a)) / (b - a) if b > a else float(np.log(a))


class Regime(_Config):
    """A window of days in which some dynamics change (e.g. a demand explosion).

    Any field left ``None`` keeps the base value. Days are counted from the
    scenario start; the window is ``[start_day, end_day)``.
    """

    name: str = Field("regime", description="Label shown in reports.")
    start_day: int = Field(ge=0, description="First day of the regime.")
    end_day: int = Field(gt=0, description="First day after the regime.")
    trend: float | None = Field(None, description="Log-price drift per year inside the regime.")
    sigma: float | None = Field(None, ge=0, description="OU volatility per sqrt(year).")
    jump_rate: float | None = Field(None, ge=0, description="Jumps per year.")
    jump_mean: float | None = Field(None, description="Mean log jump size.")
    jump_std: float | None = Field(None, ge=0, description="Std of the log jump size.")
    cut_rate: float | None = Field(None, ge=0, description="Permanent price cuts per year.")
    demand_growth: float | None = Field(None, description="Log consumption growth per year.")
    price_link: float | None = Field(
        None, description="Elasticity of consumption to the price's deviation from its base path."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_day <= self.start_day:
            raise ValueError(f"regime {self.name!r}: end_day must be after start_day")
        return self


class SpotParams(_Config):
    """``ln S_t = f(t) + Y_t``; ``dY = -κ Y dt + σ dW + J dN``; ``f`` a trend plus permanent cuts.

    Cartea & Figueroa (2005) log-OU with compound-Poisson jumps (DOMAIN.md §4).
    """

    s0: float = Field(2.34, gt=0, description="Index level at the start, USD per 1M SIT tokens.")
    trend: float = Field(
        -0.20, description="g: log-price drift of f per year [assumption; see scenarios]."
    )
    kappa: float = Field(
        18.0, gt=0, description="Mean reversion per year (half-life ln2/κ = 14 days) [assumption]."
    )
    sigma: float = Field(0.45, ge=0, description="OU volatility per sqrt(year) [assumption].")
    jump_rate: float = Field(4.0, ge=0, description="Demand-shock jumps per year [assumption].")
    jump_mean: float = Field(0.18, description="Mean log jump size (+20 %) [assumption].")
    jump_std: float = Field(0.08, ge=0, description="Std of the log jump size [assumption].")
    cut_rate: float = Field(
        1.5, ge=0, description="Permanent list-price cuts per year [assumption]."
    )
    cut_sizes: CutSizes = Field(default_factory=CutSizes, description="Size of a cut.")
    y0: float = Field(0.0, description="Initial OU deviation Y_0.")


class CurveParams(_Config):
    """How futures prices relate to the model's fair value.

    ``expectations`` says what the market knows about regimes:
    ``persistent`` (default **[assumption]**) — futures are priced with the
    dynamics in force today, held constant: a regime is a surprise, learnt
    when it starts, and its end is a surprise too; ``schedule`` — the market
    knows the regime calendar in advance (rational expectations: the curve is
    then the conditional mean of the simulated index).
    """

    risk_premium: float = Field(
        0.0,
        description="Constant premium per year on every unfixed delivery day: > 0 contango, "
        "< 0 backwardation [assumption: 0].",
    )
    basis_sigma: float = Field(
        0.0,
        ge=0,
        description="Std of the AR(1) log basis noise shock per exchange day (0 = none).",
    )
    basis_phi: float = Field(0.9, ge=0, lt=1, description="AR(1) persistence of the basis noise.")
    expectations: Literal["persistent", "schedule"] = Field(
        "persistent", description="What the curve knows of future regimes (see the class doc)."
    )


class ConsumptionParams(_Config):
    """The enterprise's daily token consumption (millions of tokens per day).

    ``ln Q_d = ln q0 + Σ g_Q Δ + Σ_{j≤d} β_j Δdev_j + ε_d``: growth, the
    response to price *shocks* (``dev`` = log price minus its expected path)
    while ``price_link`` β is on, and AR(1) noise ε. The plan (the forecast
    hedged against) is ``q0 · exp(growth · t)``.
    """

    q0: float = Field(
        1000.0, gt=0, description="Tokens per day at the start, millions [assumption: 1bn/day]."
    )
    growth: float = Field(0.5, description="Log consumption growth per year [assumption].")
    noise_sigma: float = Field(0.05, ge=0, description="Std of the daily AR(1) noise shock.")
    noise_phi: float = Field(0.8, ge=0, lt=1, description="AR(1) persistence of the noise.")
    price_link: float = Field(
        0.0, description="β: elasticity to the price's deviation from its base path."
    )
    plan: Literal["trend", "expected"] = Field(
        "trend",
        description="The forecast hedged against: the base growth only (trend), or the "
        "expected path with every regime's demand growth (expected) [assumption].",
    )


class Scenario(_Config):
    """A named, fully specified world: spot, futures curve, consumption and regimes."""

    name: str = Field("custom", description="Scenario name.")
    description: str = Field("", description="What the scenario represents.")
    start: dt.date = Field(dt.date(2026, 1, 1), description="First simulated day.")
    contract: str = Field("tpi_month", description="Contract preset or spec file.")
    spot: SpotParams = Field(default_factory=SpotParams)
    curve: CurveParams = Field(default_factory=CurveParams)
    consumption: ConsumptionParams = Field(default_factory=ConsumptionParams)
    regimes: tuple[Regime, ...] = Field((), description="Windows of changed dynamics.")

    def daily(self, n_days: int) -> DailyParams:
        """Per-day parameter arrays for days ``0..n_days-1`` (regimes applied)."""
        return DailyParams.build(self, n_days)


@dataclass(frozen=True)
class DailyParams:
    """Piecewise-constant dynamics: one value per calendar day (arrays of ``n_days``)."""

    kappa: float
    trend: np.ndarray
    sigma: np.ndarray
    jump_rate: np.ndarray
    jump_mean: np.ndarray
    jump_std: np.ndarray
    cut_rate: np.ndarray
    cut_low: float
    cut_high: float
    demand_growth: np.ndarray
    price_link: np.ndarray

    @property
    def log_drift(self) -> np.ndarray:
        """Per-day drift (per year) of the expected log price: ``trend + cut_rate·E[ln(1−u)]``."""
        mean_log = CutSizes(low=self.cut_low, high=self.cut_high).mean_log
        return np.asarray(self.trend + self.cut_rate * mean_log)

    @classmethod
    def build(cls, sc: Scenario, n_days: int) -> DailyParams:
        sp, cp = sc.spot, sc.consumption
        arrays = {
            "trend": np.full(n_days, sp.trend),
            "sigma": np.full(n_days, sp.sigma),
            "jump_rate": np.full(n_days, sp.jump_rate),
            "jump_mean": np.full(n_days, sp.jump_mean),
            "jump_std": np.full(n_days, sp.jump_std),
            "cut_rate": np.full(n_days, sp.cut_rate),
            "demand_growth": np.full(n_days, cp.growth),
            "price_link": np.full(n_days, cp.price_link),
        }
        for regime in sc.regimes:
            window = slice(min(regime.start_day, n_days), min(regime.end_day, n_days))
            for name, values in arrays.items():
                override = getattr(regime, name)
                if override is not None:
                    values[window] = override
        return cls(
            kappa=sp.kappa,
            cut_low=sp.cut_sizes.low,
            cut_high=sp.cut_sizes.high,
            **arrays,
        )

    @property
    def n_days(self) -> int:
        return len(self.trend)

    @property
    def cut_mean_factor(self) -> float:
        return 1.0 - (self.cut_low + self.cut_high) / 2.0
