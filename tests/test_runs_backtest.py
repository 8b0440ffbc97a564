"""``tokbt.runs.backtest`` and ``tokbt backtest``: configs, outputs, records, chunking."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from engine_markets import market, random_tables
from engine_strategies import Script
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.data import BarStore
from tokbt.engine import Context
from tokbt.runs import BacktestConfig, ConfigError, backtest, load_config, run_config
from tokbt.sim import SimMarket, SimPlan, load_scenario, simulate_paths, write_simulation
from tokbt.strategy import PluginError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "backtest" / "backtest.toml"
STRIP = f"{ROOT / 'examples' / 'backtest' / 'strip_hedge.py'}:StripHedge"


def _config(**market: object) -> BacktestConfig:
    data = {
        "market": market or {"simulate": {"scenario": "baseline", "paths": 6, "horizon_days": 90}},
        "strategy": {"name": STRIP, "params": {"months": 3}},
        "chunk_paths": 4,
    }
    return BacktestConfig.model_validate(data)


def test_example_config_is_valid_and_documented() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.market.simulate is not None
    assert cfg.strategy.name.endswith("strip_hedge.py:StripHedge")
    readme = (ROOT / "README.md").read_text()
    assert "tokbt backtest examples/backtest/backtest.toml" in readme


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[market]\ndataset='x'\n[strategy]\nname='a:B'\n[broker]\nfil='close'", "broker.fil"),
        ("[market]\n[strategy]\nname='a:B'", "exactly one of market.dataset"),
        (
            "[market]\ndataset='x'\n[strategy]\nname='a:B'\n[ledger]\ncredit_line=-1",
            "ledger.credit_line",
        ),
        ("[market]\ndataset='x'\n[strategy]\nname='a:B'\n[broker]\nfill='later'", "broker.fill"),
        ("[market\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.toml") as info:
        load_config(path)
    assert message in str(info.value)


def test_strategy_references_are_checked(tmp_path: Path) -> None:
    cfg = _config()
    for ref, message in [
        ("nonexistent_module_xyz:X", "importing it failed"),
        (f"{tmp_path}/missing.py:X", "no such file"),
        (f"{STRIP.rsplit(':', 1)[0]}:Nope", "has no 'Nope'"),
        ("no-colon", "not a registered name"),
    ]:
        bad = cfg.model_copy(update={"strategy": cfg.strategy.model_copy(update={"name": ref})})
        with pytest.raises(PluginError, match=message):
            run_config(bad)


def test_tokbt_backtest_is_the_runs_api() -> None:
    import tokbt
    import tokbt.runs

    assert tokbt.backtest is tokbt.runs.backtest
    with pytest.raises(AttributeError, match="no attribute"):
        _ = tokbt.nonexistent  # type: ignore[attr-defined]


def test_outputs_and_record(tmp_path: Path) -> None:
    result = run_config(_config(), out=tmp_path / "run")
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == [
        "events.parquet",
        "journal.parquet",
        "paths.parquet",
        "positions.parquet",
        "record.json",
    ]
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["seed"] == 0
    assert record["paths"] == 6
    assert record["config"]["chunk_paths"] == 4
    assert len(record["inputs"]) == 2  # two chunks, each with its simulation digest
    assert all(len(i["simulation"]) == 64 for i in record["inputs"])
    journal = pq.read_table(tmp_path / "run" / "journal.parquet")
    assert journal.num_rows > 0
    # money is conserved per path in the written journal too
    sums = journal.group_by("path").aggregate([("amount", "sum")]).sort_by("path")
    np.testing.assert_allclose(
        sums["amount_sum"].to_numpy(), result.paths["equity_change"].to_numpy(), atol=1e-6
    )
    positions = pq.read_table(tmp_path / "run" / "positions.parquet").to_pandas()
    assert set(positions.path) == set(range(6))


def test_chunking_does_not_change_results() -> None:
    a = run_config(_config())
    b = run_config(_config().model_copy(update={"chunk_paths": 100}))
    assert a.journal.sort_by([("path", "ascending")]).equals(
        b.journal.sort_by([("path", "ascending")])
    )
    assert a.paths.equals(b.paths)


def test_totals_only_keeps_no_rows_but_the_same_totals() -> None:
    rows = run_config(_config())
    totals = run_config(_config().model_copy(update={"journal": "totals", "positions": False}))
    assert totals.journal.num_rows == 0
    assert totals.positions.num_rows == 0
    assert rows.positions.num_rows > 0
    assert rows.paths.equals(totals.paths)


def test_metrics_measured_live_equal_metrics_measured_from_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metrics measure the ledger's rows as they are made (no Arrow round trip, no scratch
    file): the same numbers as measuring the journal the run keeps, read back as Arrow."""
    import importlib

    from tokbt.metrics.path import measure

    backtest_module = importlib.import_module("tokbt.runs.backtest")

    def no_scratch(*args: object, **kwargs: object) -> str:
        raise AssertionError("a scratch folder was made")

    monkeypatch.setattr(backtest_module.tempfile, "mkdtemp", no_scratch)
    config = _config().model_copy(update={"journal": "rows"})
    plan = backtest_module.build_plan(config.market.simulate)  # type: ignore[arg-type]
    source = SimMarket(plan, simulate_paths(plan, range(6)))
    live = backtest(source, STRIP, params={"months": 3}, config={"journal": "rows"})
    assert live.metrics is not None
    again = measure(backtest_module.run_frame(source), live.journal, live.events)
    assert live.metrics.columns.keys() == again.columns.keys()
    for name, values in again.columns.items():
        np.testing.assert_allclose(live.metrics.columns[name], values, rtol=1e-12, atol=1e-9)
    for name, values in again.monthly.items():
        np.testing.assert_allclose(live.metrics.monthly[name], values, rtol=1e-12, atol=1e-9)
    totals = backtest(source, STRIP, params={"months": 3}, config={"journal": "totals"})
    assert totals.journal.num_rows == 0
    assert totals.metrics is not None
    for name, values in live.metrics.columns.items():
        np.testing.assert_array_equal(totals.metrics.columns[name], values)


def test_a_stored_simulation_replays_like_the_simulator(tmp_path: Path) -> None:
    plan = SimPlan.build(load_scenario("baseline"), 90, 0)
    with BarStore(tmp_path / "s.duckdb") as store:
        write_simulation(store, "base", plan, 6)
    stored = run_config(_config(dataset="base", store=str(tmp_path / "s.duckdb")))
    simulated = run_config(_config())
    assert stored.journal.equals(simulated.journal)
    direct = backtest(SimMarket(plan, simulate_paths(plan, range(6))), STRIP, params={"months": 3})
    by_path = [("path", "ascending")]  # chunks of 4 paths vs one of 6: rows grouped differently
    assert direct.journal.sort_by(by_path).equals(simulated.journal.sort_by(by_path))


def test_cli_backtest(tmp_path: Path) -> None:
    cfg = tmp_path / "bt.toml"
    text = (
        EXAMPLE.read_text()
        .replace("paths = 200", "paths = 5")
        .replace("horizon_days = 730", "horizon_days = 60")
    )
    cfg.write_text(
        text.replace(
            '"examples/backtest/strip_hedge.py', f'"{ROOT}/examples/backtest/strip_hedge.py'
        )
    )
    result = CliRunner().invoke(app, ["backtest", str(cfg), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "per-path totals" in result.output
    assert "variation_margin" in result.output
    assert (tmp_path / "out" / "journal.parquet").exists()
    bad = CliRunner().invoke(app, ["backtest", str(tmp_path / "nope.toml"), "--out", str(tmp_path)])
    assert bad.exit_code == 1
    assert "no such config file" in bad.output


def test_example_runs_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's command, at a reduced size (its paths are relative to the repo root)."""
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", work / "examples")
    text = (
        EXAMPLE.read_text()
        .replace("paths = 200", "paths = 3")
        .replace("horizon_days = 730", "horizon_days = 45")
    )
    (work / "examples" / "backtest" / "backtest.toml").write_text(text)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(
        app, ["backtest", "examples/backtest/backtest.toml", "--out", "runs/strip"]
    )
    assert result.exit_code == 0, result.output
    assert (work / "runs" / "strip" / "record.json").exists()


def test_roll_pnl_is_the_pnl_of_contracts_closed_before_delivery() -> None:
    """Buy Feb and Mar on the first day, sell Feb before it expires, hold Mar through
    its final settlement: ``roll_pnl`` is Feb's variation margin and nothing of Mar's,
    and ``Context.pnl`` agrees with the journal contract by contract."""
    tables = random_tables(11, 2, 120, p_locked=0.0)
    first, exit_day = dt.date(2026, 1, 2), dt.date(2026, 2, 10)
    seen: dict[str, np.ndarray] = {}

    class Probe(Script):
        def on_end(self, ctx: Context) -> None:
            seen.update({c: ctx.pnl(c).copy() for c in ("TPI-2026-02", "TPI-2026-03")})

    strategy = Probe(
        orders={first: [("TPI-2026-02", 3), ("TPI-2026-03", 2)]},
        targets={exit_day: [("TPI-2026-02", 0)]},
    )
    result = backtest(market(tables), strategy)
    j = result.journal.to_pandas()
    flows = j[j.kind.isin(["variation_margin", "final_settlement"])]
    by = flows.groupby(["contract", "path"])["amount"].sum()
    assert (j[(j.contract == "TPI-2026-03")].kind == "final_settlement").any()
    assert (j[(j.contract == "TPI-2026-02")].kind != "final_settlement").all()
    feb, mar = by["TPI-2026-02"].to_numpy(), by["TPI-2026-03"].to_numpy()
    assert np.abs(feb).min() > 0
    assert np.abs(mar).min() > 0
    np.testing.assert_allclose(result.paths["roll_pnl"].to_numpy(), feb, rtol=1e-12)
    np.testing.assert_allclose(seen["TPI-2026-02"], feb, rtol=1e-12)
    np.testing.assert_allclose(seen["TPI-2026-03"], mar, rtol=1e-12)
