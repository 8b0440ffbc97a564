"""What users hold: a daily index as ``date,close`` (or any names, mapped) imports as spot bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import tokbt
from tokbt.cli import app
from tokbt.data import BarStore, DataValidationError, Kind, validate_file


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_date_close_index_imports_as_spot_of_path_0_and_backtests(tmp_path: Path) -> None:
    days = np.arange("2026-01-01", "2026-03-01", dtype="datetime64[D]")
    closes = np.linspace(2.5, 2.0, len(days))
    lines = "\n".join(f"{d},{c:.6f}" for d, c in zip(days, closes, strict=True))
    index = _write(tmp_path / "index.csv", "date,close\n" + lines + "\n")
    with BarStore(tmp_path / "s.duckdb") as store:
        result = store.import_file(index, "idx")
        assert (result.kind, result.rows) == (Kind.SPOT, len(days))
        bars = store.read("idx", Kind.SPOT).to_pandas()
        source = store.info("idx").parts[Kind.SPOT].source
    assert (bars["path"] == 0).all()
    for field in ("open", "high", "low"):
        np.testing.assert_array_equal(bars[field], bars["close"])
    assert "open = close" in source
    assert "path = 0" in source
    # and it replays: the index alone, a strategy that does nothing
    market = tokbt.market_from_arrays(days, closes)
    assert tokbt.backtest(market, object()).paths.num_rows == 1


def test_any_column_names_map_onto_the_schema(tmp_path: Path) -> None:
    gpu = _write(tmp_path / "gpu.csv", "day,usd_per_hour\n2026-01-01,2.10\n2026-01-02,2.05\n")
    report = validate_file(gpu, columns={"ts": "day", "close": "usd_per_hour"})
    assert report.ok
    assert report.rows == 2
    with pytest.raises(DataValidationError) as err:
        validate_file(gpu)  # without the mapping: no ts, no close, two unknown columns
    rules = {v.rule for v in err.value.violations}
    assert rules == {"missing_columns", "extra_columns"}
    with pytest.raises(DataValidationError, match="no column 'hour'"):
        validate_file(gpu, columns={"ts": "day", "close": "hour"})


def test_a_bad_value_is_named_by_row_and_column_and_nothing_is_imported(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", "date,price\n2026-01-01,2.1\n2026-01-02,x\n")
    runner = CliRunner()
    store = str(tmp_path / "s.duckdb")
    out = runner.invoke(app, ["data", "import", str(bad), "--name", "b", "--store", store])
    assert out.exit_code == 1
    assert "row 2 (line 3), column 'close'" in out.output
    assert "not a valid double" in out.output
    with BarStore(store) as s:
        assert "b" not in s.names()
    good = _write(tmp_path / "good.csv", "when,usd\n2026-01-01,2.1\n")
    args = ["data", "import", str(good), "--name", "g", "--store", store]
    mapped = runner.invoke(app, [*args, "--column", "ts=when", "--column", "close=usd"])
    assert mapped.exit_code == 0, mapped.output
    assert runner.invoke(app, [*args, "--column", "ts"]).exit_code == 1


def test_the_synthetic_gpu_rental_sample_imports_for_the_compute_future(tmp_path: Path) -> None:
    from tokbt.market import preset

    sample = Path(__file__).resolve().parents[1] / "examples/data/gpu_rental_synthetic.csv"
    with BarStore(tmp_path / "s.duckdb") as store:
        result = store.import_file(
            sample,
            "h100",
            spec=preset("scu_month"),
            columns={"ts": "day", "close": "usd_per_gpu_hour"},
        )
        assert result.rows == 61
        assert store.info("h100").spec.root == "SCU"
