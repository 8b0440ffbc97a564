"""``tokbt compare``, ``tokbt report`` and recorded backtests: the run store round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.runs.store import RunStore

CONFIG = """
baseline = "static"
[market.simulate]
scenario = "demand_explosion"
paths = 30
horizon_days = 240
seed = 3
[[policies]]
name = "no_hedge"
[[policies]]
name = "static"
params = { start = 20, months = 5 }
[[policies]]
name = "layered"
params = { start = 20, months = 5 }
[sweep]
policy = "static"
params = { ratio = [0.5, 1.0], tailing_rate = [0.0, 0.1] }
[bootstrap]
resamples = 100
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    work = tmp_path_factory.mktemp("compare")
    (work / "cmp.toml").write_text(CONFIG)
    store = work / "runs.duckdb"
    out = work / "out"
    result = CliRunner().invoke(
        app, ["compare", str(work / "cmp.toml"), "--out", str(out), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    with RunStore(store, read_only=True) as rs:
        (run_id,) = rs.runs()["run_id"]
    assert f"saved as run {run_id}" in result.output
    return store, out, run_id


def test_compare_writes_three_reports(compared: tuple[Path, Path, str]) -> None:
    _, out, run_id = compared
    html = (out / "report.html").read_text()
    assert f"run {run_id}" in html
    for figure in ("fig-fan", "fig-distribution", "fig-margin", "fig-hedge-ratio", "fig-sweep"):
        assert f'id="{figure}"' in html
    assert "| VR_std" in (out / "summary.md").read_text()
    assert f'"run_id": "{run_id}"' in (out / "summary.json").read_text()


@pytest.mark.parametrize("name", ["report.html", "summary.md", "summary.json"])
def test_a_saved_run_reports_again_identically(
    compared: tuple[Path, Path, str], tmp_path: Path, name: str
) -> None:
    store, out, run_id = compared
    again = tmp_path / name
    result = CliRunner().invoke(
        app, ["report", run_id[:6], "--out", str(again), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == (out / name).read_bytes()


def test_runs_show_and_ls_list_the_comparison(compared: tuple[Path, Path, str]) -> None:
    store, _, run_id = compared
    shown = CliRunner().invoke(app, ["runs", "show", run_id, "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    assert "layered" in shown.output
    assert "VR_std" in shown.output
    listed = CliRunner().invoke(app, ["runs", "ls", "--store", str(store)])
    assert run_id in listed.output


def test_report_of_an_unknown_run_fails_clearly(tmp_path: Path) -> None:
    store = tmp_path / "empty.duckdb"
    with RunStore(store):
        pass
    result = CliRunner().invoke(app, ["report", "abcd", "--store", str(store)])
    assert result.exit_code == 1
    assert "abcd" in result.output


def test_a_backtest_is_recorded_in_the_store(tmp_path: Path) -> None:
    cfg = tmp_path / "bt.toml"
    cfg.write_text(
        """
journal = "totals"
[market.simulate]
scenario = "baseline"
paths = 8
horizon_days = 120
seed = 1
[strategy]
name = "static"
params = { start = 10, months = 3 }
"""
    )
    store = tmp_path / "s.duckdb"
    result = CliRunner().invoke(
        app, ["backtest", str(cfg), "--out", str(tmp_path / "out"), "--store", str(store)]
    )
    assert result.exit_code == 0, result.output
    with RunStore(store, read_only=True) as rs:
        listing = rs.runs()
        run = rs.load(listing["run_id"][0])
    assert listing["kind"].tolist() == ["backtest"]
    assert run.evaluation.policies == ("static",)
    assert run.record["inputs"]  # the content hash of the simulation
    report = tmp_path / "r.html"
    shown = CliRunner().invoke(
        app, ["report", run.run_id, "--out", str(report), "--store", str(store)]
    )
    assert shown.exit_code == 0, shown.output
    assert "static" in report.read_text()
