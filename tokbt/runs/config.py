"""Backtest configs: what to replay, which strategy, and how the broker and ledger behave.

A config is a TOML file (documented in the README; example in
``examples/backtest/backtest.toml``)::

    [market]                 # exactly one of: dataset = "NAME"  or  [market.simulate]
    dataset = "de2k"         # a dataset in the store (``store =`` or --store / TOKBT_STORE)
    paths = 100              # the first N paths, or a list of path ids (default: all)

    [strategy]
    name = "examples/backtest/strip_hedge.py:StripHedge"   # or "package.module:Class"
    params = { ratio = 1.0 }

    [broker]                 # tokbt.engine.BrokerConfig
    [ledger]                 # tokbt.ledger.LedgerConfig
    [engine]                 # tokbt.engine.EngineConfig

Every table rejects unknown keys; errors name the file and the field.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tokbt.engine import BrokerConfig, EngineConfig
from tokbt.errors import TokbtError
from tokbt.ledger import LedgerConfig
from tokbt.market.config_errors import describe
from tokbt.metrics.path import metric_sets
from tokbt.strategy import PluginError, Strategy, resolve


class ConfigError(TokbtError):
    """A config file or value is invalid; the message names the file and field."""


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordedStart(_Config):
    """Start the simulation from a recorded index on a hedge date (``tokbt.sim.anchor``):
    every path starts from the recorded level and the fitted state on ``at``."""

    dataset: str = Field(description="Dataset in the store whose spot closes are the index.")
    at: dt.date = Field(description="The hedge date: the last recorded day used.")
    path: int = Field(0, ge=0, description="Path of the dataset to read.")
    store: str | None = Field(
        None, description="Store path (default: TOKBT_STORE or ./tokbt.duckdb)."
    )
    dynamics: Literal["scenario", "fitted"] = Field(
        "scenario",
        description="Spot dynamics after the start: the scenario's, or the process fitted to "
        "the record (kappa, sigma, trend, jumps; no permanent cuts).",
    )


class SimulateMarket(_Config):
    """Simulate the market in memory (no store): a scenario, paths, horizon and seed."""

    scenario: str = Field("baseline", description="Scenario name or TOML file.")
    paths: int = Field(100, ge=1, le=10_000_000, description="Number of paths.")
    horizon_days: int = Field(1095, ge=1, le=36_500, description="Calendar days.")
    seed: int = Field(0, ge=0, description="Run seed.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Scenario fields to change, e.g. {"spot.kappa" = 12}.'
    )
    start: RecordedStart | None = Field(
        None,
        description="Start from a recorded index on a hedge date: "
        '{ dataset = "tpi_gpt4_class", at = "2025-11-24" } (default: the scenario\'s start).',
    )
    contract_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='Contract spec fields to change, e.g. {"listing.months" = 36}.',
    )
    steps_per_day: int = Field(1, ge=1, le=1440, description="Simulation steps per day.")
    bars_per_day: int = Field(1, ge=1, le=1440, description="Spot bars per day.")
    branch_day: int = Field(
        0,
        ge=0,
        description="The hedge date in exchange days (where a policy with start = N hedges): "
        "every path shares one simulated history up to and including it and diverges after "
        "it. 0: the unconditional simulation, every path its own world from the start.",
    )

    @model_validator(mode="after")
    def _branch_inside(self) -> Self:
        if self.branch_day >= self.horizon_days:
            raise ValueError(
                f"branch_day ({self.branch_day}) must fall inside the horizon "
                f"({self.horizon_days} days)"
            )
        return self


class MarketConfig(_Config):
    """What the backtest replays: a stored dataset or a simulation."""

    dataset: str | None = Field(None, description="Dataset name in the store.")
    store: str | None = Field(
        None, description="Store path (default: TOKBT_STORE or ./tokbt.duckdb)."
    )
    paths: int | list[int] | None = Field(
        None, description="First N paths, or the path ids to replay (default: all)."
    )
    simulate: SimulateMarket | None = Field(None, description="Simulate instead of reading.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dataset is None) == (self.simulate is None):
            raise ValueError("give exactly one of market.dataset and [market.simulate]")
        if self.simulate is not None and self.paths is not None:
            raise ValueError("market.paths applies to datasets; use market.simulate.paths")
        return self


class StrategyConfig(_Config):
    """The strategy: ``module:Class`` or ``path/to/file.py:Class``, and its parameters."""

    name: str = Field(description="module:Class or file.py:Class.")
    params: dict[str, Any] = Field(default_factory=dict, description="Constructor parameters.")


class RunSettings(_Config):
    """The broker, ledger and engine settings of a run."""

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    chunk_paths: int = Field(
        1000,
        ge=1,
        description="Paths replayed at once (memory bound; results do not depend on it).",
    )
    journal: Literal["rows", "totals"] = Field(
        "rows", description="Keep every journal row, or only per-path totals (large runs)."
    )
    positions: bool = Field(
        True, description="Keep the daily position log (one row per path, contract and day)."
    )
    metrics: str | None = Field(
        "default",
        description="Metric set measured on every path (tokbt.metrics.metric_sets()); "
        "None measures nothing.",
    )
    runner: Literal["auto", "python", "compiled"] = Field(
        "auto",
        description="Which engine replays: python; compiled (a KernelStrategy on a supported "
        "config, else an error); auto = compiled when it can, else python.",
    )

    @field_validator("metrics")
    @classmethod
    def _known_set(cls, value: str | None) -> str | None:
        if value is not None and value not in metric_sets():
            raise ValueError(f"no metric set {value!r}; known: {', '.join(metric_sets())}")
        return value


class BacktestConfig(RunSettings):
    """A complete backtest: market, strategy and settings."""

    market: MarketConfig
    strategy: StrategyConfig


M = TypeVar("M", bound=BaseModel)


def load_toml(path: str | Path, model: type[M]) -> M:
    """Read a TOML file into ``model``; ``ConfigError`` names the file, the field and the rule."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{p}: {describe(exc, model)}") from None


def check_params(path: str | Path, where: str, name: str, params: dict[str, Any]) -> None:
    """Validate the parameters of strategy ``name`` given at ``where`` (``strategy``,
    ``policies.0``) of config file ``path``; ``ConfigError`` names the file, the field
    (``where.params.ratio``) and the rule. A strategy that does not resolve is left for
    the run to report."""
    try:
        cls = resolve(name)
    except PluginError:
        return
    if isinstance(cls, type) and issubclass(cls, Strategy):
        try:
            cls.Params.model_validate(params)
        except ValidationError as exc:
            problems = describe(exc, cls.Params, prefix=f"{where}.params")
            raise ConfigError(f"{path}: {problems}") from None


def load_config(path: str | Path) -> BacktestConfig:
    """Read and validate a backtest TOML file, strategy parameters included;
    ``ConfigError`` names the file and field."""
    config = load_toml(path, BacktestConfig)
    check_params(path, "strategy", config.strategy.name, config.strategy.params)
    return config
