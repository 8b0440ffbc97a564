"""Hedging from today on a recorded index: the simulation starts where the record ends."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tokbt.data import BarStore, Kind
from tokbt.data.recorded import spot_bars_from_series
from tokbt.runs.backtest import anchored_plan, recorded_index, simulation_facts
from tokbt.runs.config import MarketConfig, SimulateMarket
from tokbt.sim import load_scenario, simulate_paths
from tokbt.sim.anchor import anchor_scenario
from tokbt.sim.params import DT_DAY

FIRST = pd.Timestamp("2024-01-01")
KAPPA, SIGMA, TREND, LEVEL = 12.0, 0.05, -0.3, 3.0
SHOCK_DAY, SHOCK = 395, 0.6  # a large deviation shortly before the hedge date
AT = dt.date(2025, 2, 1)  # day 397


def _ou_record(n: int = 450) -> pd.Series:
    """A mean-reverting record, ``ln S = ln 3 − 0.3 t + Y``, with a +0.6 jump of ``Y`` two
    days before ``AT`` (seeded)."""
    rng = np.random.default_rng(5)
    decay = math.exp(-KAPPA * DT_DAY)
    step = SIGMA * math.sqrt((1 - decay**2) / (2 * KAPPA))
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = y[t - 1] * decay + step * rng.standard_normal() + (SHOCK if t == SHOCK_DAY else 0)
    trend = math.log(LEVEL) + TREND * np.arange(n) * DT_DAY
    return pd.Series(np.exp(trend + y), index=pd.date_range(FIRST, periods=n, freq="D"))


def _y_at(record: pd.Series) -> float:
    day = (pd.Timestamp(AT) - FIRST).days
    return float(np.log(record.iloc[day]) - (math.log(LEVEL) + TREND * day * DT_DAY))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    steps = pd.Series(
        np.repeat([4.0, 3.0, 2.5, 2.0], 100), index=pd.date_range(FIRST, periods=400, freq="D")
    )
    with BarStore(path) as bars:
        bars.write_table(spot_bars_from_series(_ou_record()), "ou", Kind.SPOT)
        bars.write_table(spot_bars_from_series(steps), "steps", Kind.SPOT)
    return path


def test_the_start_is_the_recorded_level_and_the_fitted_deviation(store: Path) -> None:
    record = _ou_record()
    close = recorded_index("ou", AT, store=store)
    assert len(close) == (pd.Timestamp(AT) - FIRST).days + 1
    assert close[-1] == record[str(AT)]
    scenario, anchor = anchor_scenario(load_scenario("baseline"), close, AT)
    spot = scenario.spot
    assert spot.s0 * math.exp(spot.y0) == pytest.approx(record[str(AT)], rel=1e-12)
    assert scenario.start == AT + dt.timedelta(days=1)
    # the fit sees the deviation the jump left (about 0.6 · e^{−2κΔ} ≈ 0.56) and the trend line
    assert anchor.y0 == pytest.approx(_y_at(record), abs=0.08)
    assert anchor.y0 > 0.4
    line = math.exp(math.log(LEVEL) + TREND * (len(close) - 1) * DT_DAY)
    assert spot.s0 == pytest.approx(line, rel=0.08)
    assert anchor.kappa > 0
    assert anchor.dynamics == "scenario"
    assert spot.kappa == load_scenario("baseline").spot.kappa  # the scenario's dynamics


def test_fitted_dynamics_replace_the_scenarios(store: Path) -> None:
    close = recorded_index("ou", AT, store=store)
    scenario, anchor = anchor_scenario(load_scenario("baseline"), close, AT, dynamics="fitted")
    assert scenario.spot.kappa == pytest.approx(anchor.kappa)
    assert scenario.spot.cut_rate == 0.0
    assert scenario.spot.s0 * math.exp(scenario.spot.y0) == pytest.approx(close[-1], rel=1e-12)


def test_a_record_without_mean_reversion_starts_at_its_level(store: Path) -> None:
    at = dt.date(2024, 12, 1)
    close = recorded_index("steps", at, store=store)
    scenario, anchor = anchor_scenario(load_scenario("baseline"), close, at)
    assert (scenario.spot.s0, scenario.spot.y0) == (2.0, 0.0)
    assert any("no mean reversion" in note for note in anchor.notes)


def test_every_path_starts_from_the_record_and_the_run_says_so(store: Path) -> None:
    sim = SimulateMarket(
        scenario="baseline", paths=6, horizon_days=120, seed=3,
        start={"dataset": "ou", "at": AT, "store": str(store)},
    )  # fmt: skip
    plan, anchor = anchored_plan(sim)
    assert anchor is not None
    chunk = simulate_paths(plan, range(6))
    first_step = np.log(chunk.index[:, 0] / anchor.level)
    assert np.abs(first_step).max() < 0.5  # one day's move from the recorded level
    assert plan.days[0] == np.datetime64(AT + dt.timedelta(days=1))
    described = simulation_facts(MarketConfig(simulate=sim))["anchor"]
    assert described is not None
    assert described["at"] == AT.isoformat()
    assert described["level"] == anchor.level


def test_a_start_the_record_cannot_give_is_refused(store: Path) -> None:
    with pytest.raises(ValueError, match="recorded only up to 2025-03-25"):
        recorded_index("ou", dt.date(2026, 1, 1), store=store)
    with pytest.raises(ValueError, match="at least 30 recorded days"):
        anchor_scenario(
            load_scenario("baseline"),
            recorded_index("ou", dt.date(2024, 1, 10), store=store),
            dt.date(2024, 1, 10),
        )


def test_the_from_today_example_loads() -> None:
    from tokbt.runs.mc import load_mc_config

    config = load_mc_config(Path(__file__).resolve().parents[1] / "examples/mc/from_today.toml")
    sim = config.market.simulate
    assert sim is not None
    assert sim.start is not None
    assert (sim.start.dataset, sim.start.at) == ("tpi_gpt4_class", dt.date(2025, 11, 24))
