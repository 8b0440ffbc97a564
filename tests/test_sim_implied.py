"""Model-implied futures on a given index: the simulator's prices, no look-ahead, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.data import BarStore, Feed, Kind
from tokbt.errors import DataError
from tokbt.market import load_spec
from tokbt.sim import Scenario, SimPlan, load_scenario, simulate_paths
from tokbt.sim.implied import implied_market

runner = CliRunner()

N_DAYS = 400
SEED = 7


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """A regime scenario whose trend f is deterministic: no random cuts, no basis noise."""
    return load_scenario(
        "demand_explosion",
        {
            "curve.basis_sigma": 0.0,
            "spot.cut_rate": 0.0,
            "regimes.0.cut_rate": 0.0,
            "consumption.price_link": 0.5,  # consumption follows the price from day 0
        },
    )


@pytest.fixture(scope="module")
def simulated(scenario: Scenario) -> tuple[SimPlan, dict[Kind, pa.Table], pd.Series]:
    plan = SimPlan.build(scenario, N_DAYS, SEED)
    chunk = simulate_paths(plan, [0])
    series = pd.Series(chunk.index[0], index=pd.date_range(scenario.start, periods=N_DAYS))
    return plan, chunk.tables(plan), series


def test_futures_equal_the_simulators_on_a_simulated_path(
    scenario: Scenario, simulated: tuple[SimPlan, dict[Kind, pa.Table], pd.Series]
) -> None:
    plan, sim, series = simulated
    implied = implied_market(series, scenario, seed=SEED, s0=scenario.spot.s0)
    got, want = implied[Kind.FUTURES], sim[Kind.FUTURES]
    assert got.num_rows == want.num_rows > 10 * len(plan.exchange_days)
    assert got.equals(want)  # every contract, every day, bit for bit (and in the same order)
    assert got["limit_locked"].to_numpy().any()  # the price-limit path is exercised too
    spot = implied[Kind.SPOT]
    assert np.array_equal(spot["close"].to_numpy(), sim[Kind.SPOT]["close"].to_numpy())
    assert spot["ts"].equals(sim[Kind.SPOT]["ts"])
    cons, sim_cons = implied[Kind.CONSUMPTION], sim[Kind.CONSUMPTION]
    assert cons["ts"].equals(sim_cons["ts"])
    assert cons["plan"].equals(sim_cons["plan"])
    np.testing.assert_allclose(cons["tokens"].to_numpy(), sim_cons["tokens"].to_numpy(), rtol=1e-12)


def test_the_trend_starts_from_the_first_value_by_default(
    scenario: Scenario, simulated: tuple[SimPlan, dict[Kind, pa.Table], pd.Series]
) -> None:
    series = simulated[2].iloc[:120]
    default = implied_market(series, scenario)[Kind.FUTURES]
    assert default.equals(implied_market(series, scenario, s0=float(series.iloc[0]))[Kind.FUTURES])
    assert not default.equals(implied_market(series, scenario, s0=scenario.spot.s0)[Kind.FUTURES])


@pytest.mark.parametrize("t", [0, 47, 200])
def test_no_look_ahead(
    t: int, scenario: Scenario, simulated: tuple[SimPlan, dict[Kind, pa.Table], pd.Series]
) -> None:
    series = simulated[2].iloc[:260]
    shocked = series.copy()
    shocked.iloc[t + 1 :] *= np.exp(np.random.default_rng(t).normal(0.0, 0.3, len(series) - t - 1))
    cutoff = series.index[t]
    for kind in (Kind.FUTURES, Kind.CONSUMPTION):
        base = implied_market(series, scenario, seed=1)[kind].to_pandas()
        moved = implied_market(shocked, scenario, seed=1)[kind].to_pandas()
        assert len(base) == len(moved)
        known = (base["ts"] <= cutoff).to_numpy()
        assert known.any()
        assert (~known).any()
        pd.testing.assert_frame_equal(base[known], moved[known])
        value = "settle" if kind is Kind.FUTURES else "tokens"
        assert (base.loc[~known, value] != moved.loc[~known, value]).any()


def _days(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([2.0], index=_days(1)), "at least 2 daily values, got 1"),
        (pd.Series([2.0, 1.9, 1.8], index=_days(4).delete(2)), r"2024-01-04 follows .* gap of 1"),
        (pd.Series([2.0, 1.9, 1.8], index=_days(3)[[0, 1, 1]]), "a repeated date"),
        (pd.Series([2.0, 1.9, 1.8], index=_days(3)[[0, 2, 1]]), "gap of 1 day"),
        (pd.Series([2.0, 1.9, 1.8], index=_days(3)[[1, 0, 2]]), "out of order"),
        (
            pd.Series([2.0, 1.9], index=pd.date_range("2024-01-01", periods=2, freq="12h")),
            "not daily: 2024-01-01 12:00:00 has a time of day",
        ),
        (pd.Series([2.0, 0.0, 1.8], index=_days(3)), r"positive and finite: 0.0 on 2024-01-02"),
        (pd.Series([2.0, -1.0, 1.8], index=_days(3)), r"positive and finite: -1.0 on 2024-01-02"),
        (pd.Series([2.0, 1.9, np.nan], index=_days(3)), r"nan on 2024-01-03"),
        (pd.Series([2.0, 1.9], index=["a", "b"]), "labels are not dates"),
        (
            pd.Series([2.0, 1.9], index=pd.date_range("2024-01-06", periods=2)),  # Sat, Sun
            "holds no exchange day",
        ),
    ],
)
def test_bad_series_are_refused_with_the_problem(series: pd.Series, message: str) -> None:
    with pytest.raises(DataError, match=message):
        implied_market(series, load_scenario("baseline"))


def test_cli_writes_spot_futures_and_consumption_a_feed_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKBT_STORE", str(tmp_path / "store.duckdb"))
    assert runner.invoke(app, ["data", "build-tpi"]).exit_code == 0
    args = ["sim", "implied", "tpi_gpt4_class", "--name", "tpi_market"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "987 days 2023-03-14 → 2025-11-24" in result.output
    assert "front settlement $" in result.output
    assert "TPI-2023-03" in result.output

    with BarStore(tmp_path / "store.duckdb", read_only=True) as bs:
        assert bs.spec("tpi_market") == load_spec("tpi_month")
        assert "model-implied" in bs.info("tpi_market").description
        feed = Feed(bs, "tpi_market")
        assert feed.kinds == (Kind.SPOT, Kind.FUTURES, Kind.CONSUMPTION)
        assert feed.contracts[0] == "TPI-2023-03"
        assert len(feed.contracts) > 30
        block = feed.load(0, len(feed.events))
        assert np.isfinite(block.spot["close"]).sum() == 987
        assert (
            np.isfinite(block.futures["settle"]).sum()
            == bs.info("tpi_market").parts[Kind.FUTURES].rows
        )
        assert np.isfinite(block.consumption["tokens"]).sum() == 987
        recorded = bs.read_numpy("tpi_gpt4_class", Kind.SPOT, columns=["close"])["close"]
        copied = bs.read_numpy("tpi_market", Kind.SPOT, columns=["close"])["close"]
        assert np.array_equal(recorded, copied)

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "exists; use --replace" in again.output
    assert runner.invoke(app, [*args, "--replace", "--scenario", "baseline"]).exit_code == 0
    same = runner.invoke(app, ["sim", "implied", "tpi_gpt4_class", "--name", "tpi_gpt4_class"])
    assert same.exit_code == 1
    assert "must differ from SOURCE" in same.output
    missing = runner.invoke(app, ["sim", "implied", "nope", "--name", "x"])
    assert missing.exit_code == 1
    assert "no dataset 'nope'" in missing.output
