"""Simulations written to the store: both storages, atomicity, and the Feed on top."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.data import BarStore, Feed, Kind
from tokbt.errors import StoreError
from tokbt.sim import SimPlan, load_scenario, simulate_paths, write_simulation


@pytest.fixture(scope="module")
def plan() -> SimPlan:
    return SimPlan.build(load_scenario("demand_explosion"), 120, seed=3)


@pytest.mark.parametrize("storage", ["duckdb", "parquet"])
def test_written_bars_replay_exactly_through_the_feed(
    tmp_path: Path, plan: SimPlan, storage: str
) -> None:
    with BarStore(tmp_path / "s.duckdb") as store:
        summary = write_simulation(
            store, "sim", plan, 7, chunk_paths=3, storage=storage, validate=True
        )
        assert summary.storage == storage
        info = store.info("sim")
        assert {k: p.rows for k, p in info.parts.items()} == summary.rows
        assert info.parts[Kind.FUTURES].n_paths == 7
        assert info.parts[Kind.FUTURES].bar_seconds == 86_400
        assert info.parts[Kind.SPOT].storage == storage
        feed = Feed(store, "sim")
        block = feed.load(0, len(feed.events))
    whole = simulate_paths(plan, range(7))
    np.testing.assert_array_equal(block.spot["close"].T, whole.index)
    np.testing.assert_array_equal(block.consumption["tokens"].T, whole.consumption.tokens)
    # futures: exchange day -> its event, contract column -> plan contract
    assert block.contracts == feed.contracts
    cols = [plan.contract_codes.index(c) for c in block.contracts]
    day_end = plan.days[plan.exchange_days] + np.timedelta64(1, "D")
    day_pos = np.searchsorted(feed.events, day_end.astype("datetime64[us]"))
    assert block.settlement[day_pos].all()
    for e, t in enumerate(day_pos):
        for slot, c in enumerate(plan.listed[e]):
            got = block.futures["settle"][t, :, cols.index(c)]
            np.testing.assert_array_equal(got, whole.settle[e, :, slot])
    if storage == "parquet":
        assert len(list((tmp_path / "s.duckdb.parquet" / "sim").rglob("*.parquet"))) == 9


def test_a_failed_simulation_writes_nothing(tmp_path: Path, plan: SimPlan) -> None:
    store_path = tmp_path / "s.duckdb"
    with BarStore(store_path) as store:
        write_simulation(store, "keep", plan, 2, storage="parquet")

        def boom(n: int) -> None:
            raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError, match="interrupted"):
            write_simulation(
                store, "lost", plan, 6, chunk_paths=3, storage="parquet", on_chunk=boom
            )
        assert store.names() == ["keep"]
        assert not (tmp_path / "s.duckdb.parquet" / "lost").exists() or not any(
            (tmp_path / "s.duckdb.parquet" / "lost").rglob("*.parquet")
        )
        with pytest.raises(StoreError, match="--replace"):
            write_simulation(store, "keep", plan, 2)
        old = store.info("keep").parts[Kind.SPOT].location
        write_simulation(store, "keep", plan, 3, storage="parquet", replace=True)
        assert store.info("keep").parts[Kind.SPOT].n_paths == 3
        assert old is not None
        assert not (tmp_path / old).exists()  # the replaced files are gone
        store.delete("keep")
        assert not any((tmp_path / "s.duckdb.parquet").rglob("*.parquet"))


def test_auto_storage_switches_to_parquet_for_large_runs(tmp_path: Path, plan: SimPlan) -> None:
    with BarStore(tmp_path / "s.duckdb") as store:
        small = write_simulation(store, "small", plan, 2)
        assert small.storage == "duckdb"
        rows_per_path = int((plan.listed >= 0).sum())
        big = write_simulation(
            store, "big", plan, 1_000_000 // rows_per_path + 1, chunk_paths=400, validate=False
        )
        assert big.storage == "parquet"


def test_cli_simulate_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKBT_STORE", str(tmp_path / "cli.duckdb"))
    runner = CliRunner()
    args = "simulate --scenario price_war --paths 4 --horizon-days 60 --seed 2 --name pw"
    result = runner.invoke(
        app, [*args.split(), "--set", "spot.kappa=10", "--plot", str(tmp_path / "f.png")]
    )
    assert result.exit_code == 0, result.output
    assert "simulated pw: scenario price_war, 4 paths × 60 days" in result.output
    assert (tmp_path / "f.png").stat().st_size > 10_000
    assert "pw" in runner.invoke(app, ["data", "ls"]).output
    shown = runner.invoke(app, ["sim", "show", "demand_explosion", "--set", "spot.sigma=0.3"])
    assert "sigma = 0.3" in shown.output
    assert "[[regimes]]" in shown.output
    toml = tmp_path / "my.toml"
    toml.write_text('base = "baseline"\nname = "mine"\n[spot]\njump_rate = 0.0\n')
    mine = runner.invoke(app, ["sim", "show", str(toml)])
    assert 'name = "mine"' in mine.output
    assert "jump_rate = 0.0" in mine.output
    bad = runner.invoke(app, ["simulate", "--name", "x", "--set", "spot.kappa=-1"])
    assert bad.exit_code == 1
    assert "spot.kappa" in bad.output
    listing = runner.invoke(app, ["sim", "scenarios"])
    for name in ("baseline", "demand_explosion", "supply_shock", "price_war"):
        assert name in listing.output


def test_cli_calibrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKBT_STORE", str(tmp_path / "cli.duckdb"))
    runner = CliRunner()
    args = "simulate --scenario baseline --set spot.cut_rate=0 --paths 1 --horizon-days 1500"
    assert runner.invoke(app, [*args.split(), "--name", "one", "--seed", "3"]).exit_code == 0
    out = tmp_path / "fit.toml"
    result = runner.invoke(app, ["sim", "calibrate", "one", "--toml", str(out)])
    assert result.exit_code == 0, result.output
    assert "kappa (1/yr)" in result.output
    fitted = load_scenario(str(out))
    assert 10 < fitted.spot.kappa < 30
    assert 0.35 < fitted.spot.sigma < 0.55
    recorded = runner.invoke(app, ["data", "build-tpi"])
    assert recorded.exit_code == 0
    flat = runner.invoke(app, ["sim", "calibrate", "tpi_gpt4_class", "--method", "filter"])
    assert flat.exit_code == 0
    assert "piecewise constant" in flat.output
    bad = runner.invoke(app, ["sim", "calibrate", "one", "--method", "magic"])
    assert bad.exit_code == 1


def test_example_script_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "simulate_and_calibrate.py"
    argv, sys.argv = sys.argv, [example.name, str(tmp_path)]
    try:
        runpy.run_path(str(example), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert "wrote 500 paths x 1095 days" in out
    assert (tmp_path / "demand_explosion.png").stat().st_size > 50_000
    assert "MLE on 10 years" in out
