"""The command line, end to end, on a temporary store."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokbt.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("TOKBT_STORE", str(path))
    return path


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("data", "contracts"):
        assert command in result.output
    sub = runner.invoke(app, ["data", "--help"])
    for command in ("import", "validate", "ls", "show", "export", "build-tpi", "rm"):
        assert command in sub.output
    assert "tokbt 0.1.0" in runner.invoke(app, ["--version"]).output


def test_build_tpi_then_ls(store_env: Path) -> None:
    result = runner.invoke(app, ["data", "build-tpi"])
    assert result.exit_code == 0, result.output
    assert "tpi_gpt4_class" in result.output
    assert "2023-03-14" in result.output
    again = runner.invoke(app, ["data", "build-tpi"])
    assert again.exit_code == 1
    assert "--replace" in again.output
    assert runner.invoke(app, ["data", "build-tpi", "--replace"]).exit_code == 0
    listing = runner.invoke(app, ["data", "ls"])
    assert "tpi_gpt4_class" in listing.output
    assert "spot" in listing.output
    shown = runner.invoke(app, ["data", "show", "tpi_gpt4_class"])
    assert shown.exit_code == 0
    assert "price_points.csv + gpt4_class.toml" in shown.output
    assert '"multiplier": 1000.0' in shown.output


def test_import_validate_export_rm(store_env: Path, tmp_path: Path) -> None:
    sample = EXAMPLES / "data" / "futures_sample.csv"
    ok = runner.invoke(app, ["data", "validate", str(sample)])
    assert ok.exit_code == 0
    assert "20 futures rows, valid" in ok.output
    imported = runner.invoke(app, ["data", "import", str(sample), "--name", "ex"])
    assert imported.exit_code == 0, imported.output
    assert "imported 20 futures rows into ex" in imported.output
    exported = runner.invoke(app, ["data", "export", "ex", str(tmp_path / "out")])
    assert exported.exit_code == 0
    assert (tmp_path / "out/dataset=ex/kind=futures/part-0.parquet").is_file()
    assert runner.invoke(app, ["data", "rm", "ex"]).exit_code == 0
    assert "holds no datasets" in runner.invoke(app, ["data", "ls"]).output


def test_bad_file_fails_with_the_row_and_rule_and_writes_nothing(
    store_env: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    lines = (EXAMPLES / "data" / "spot_sample.csv").read_text().splitlines()
    lines[3] = "2026-01-07,0,2.02,1.0,2.0,2.02,100.0"  # high < low on data row 3
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["data", "import", str(bad), "--name", "x"])
    assert result.exit_code == 1
    assert "row 3 (line 4)" in result.output
    assert "high_ge_low" in result.output
    validated = runner.invoke(app, ["data", "validate", str(bad)])
    assert validated.exit_code == 1
    assert "high_ge_low" in validated.output
    assert "holds no datasets" in runner.invoke(app, ["data", "ls"]).output


def test_unknown_dataset_and_spec_errors(store_env: Path) -> None:
    runner.invoke(app, ["data", "build-tpi"])
    missing = runner.invoke(app, ["data", "export", "nope", "out"])
    assert missing.exit_code == 1
    assert "no dataset 'nope'" in missing.output
    bad_spec = runner.invoke(app, ["contracts", "--spec", "nope"])
    assert bad_spec.exit_code == 1
    assert "neither a contract preset" in bad_spec.output


def test_contracts_on_a_date() -> None:
    result = runner.invoke(app, ["contracts", "--date", "2026-03-15"])
    assert result.exit_code == 0
    assert "TPI-2026-03" in result.output
    assert "TPI-2027-02" in result.output
    assert "2026-03-24" in result.output  # roll date of the front month
    custom = runner.invoke(
        app, ["contracts", "--spec", str(EXAMPLES / "custom_contract.toml"), "--date", "2026-06-15"]
    )
    assert custom.exit_code == 0, custom.output
    assert "TPI-2026-Q3" in custom.output
    assert "cascades" in custom.output
    assert runner.invoke(app, ["contracts", "--date", "15/03/2026"]).exit_code == 1


def test_example_script_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = sys.argv
    sys.argv = ["recorded_tpi.py", str(tmp_path / "ex.duckdb")]
    try:
        runpy.run_path(str(EXAMPLES / "recorded_tpi.py"), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert "replayed 987 daily bars on 1 path" in out
    assert "TPI-2025-11" in out
