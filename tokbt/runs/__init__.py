"""Runs: configs, ``backtest``, run records. May import every room below it."""

from tokbt.data import market_from_arrays
from tokbt.runs.backtest import Result, backtest, run_config
from tokbt.runs.config import (
    BacktestConfig,
    ConfigError,
    MarketConfig,
    RunSettings,
    SimulateMarket,
    StrategyConfig,
    load_config,
)
from tokbt.runs.store import RunStore
from tokbt.runs.stored import StoredRun

__all__ = [
    "BacktestConfig",
    "ConfigError",
    "MarketConfig",
    "Result",
    "RunSettings",
    "RunStore",
    "SimulateMarket",
    "StoredRun",
    "StrategyConfig",
    "backtest",
    "load_config",
    "market_from_arrays",
    "run_config",
]
