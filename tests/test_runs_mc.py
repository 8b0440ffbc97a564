"""``tokbt mc``: seeded chunks, executors, grids, retries, resume, and ``tokbt demo``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.runs.config import ConfigError
from tokbt.runs.mc import (
    ChunkError,
    Job,
    LocalExecutor,
    McConfig,
    cells,
    jobs,
    monte_carlo,
    run_job,
)

SIM = {"scenario": "demand_explosion", "paths": 48, "horizon_days": 240, "seed": 5}
PARAMS = {"start": 20, "months": 5}


def _config(**extra: Any) -> McConfig:
    data: dict[str, Any] = {
        "chunk_paths": 16,
        "market": {"simulate": SIM},
        "policies": [{"name": "no_hedge"}, {"name": "static", "params": PARAMS}],
        "grid": {"ledger.margin_buffer": [0.0, 0.25]},
        "bootstrap": {"resamples": 100},
    }
    return McConfig.model_validate(data | extra)


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return monte_carlo(
        _config(), tmp_path_factory.mktemp("serial"), executor=LocalExecutor(workers=1)
    )


def test_processes_and_chunk_sizes_give_identical_results(serial: Any, tmp_path: Path) -> None:
    pooled = monte_carlo(_config(chunk_paths=20), tmp_path, executor=LocalExecutor(workers=2))
    assert pooled.evaluation.equals(serial.evaluation)
    assert len(list(tmp_path.glob("cell-*/paths-*.parquet"))) == 2 * 3  # 48 paths / 20


def test_the_grid_makes_cells_of_every_policy(serial: Any) -> None:
    ev = serial.evaluation
    assert ev.policies == (
        "no_hedge [margin_buffer=0.0]",
        "static [margin_buffer=0.0]",
        "no_hedge [margin_buffer=0.25]",
        "static [margin_buffer=0.25]",
    )
    assert ev.baseline == "no_hedge [margin_buffer=0.0]"
    buffer = ev.sweep.set_index("policy")["value"]
    assert buffer["static [margin_buffer=0.25]"] == 0.25
    vr = ev.summary.query("metric == 'vr_std'").set_index("policy")["value"]
    # a margin buffer changes the funding, not the hedge
    assert vr["static [margin_buffer=0.0]"] == vr["static [margin_buffer=0.25]"]
    funding = ev.summary.query("metric == 'p95_peak_funding'").set_index("policy")["value"]
    assert funding["static [margin_buffer=0.25]"] > funding["static [margin_buffer=0.0]"]
    assert serial.record["kind"] == "mc"
    assert serial.record["chunks"] == {"total": 6, "resumed": 0, "failures": []}


def test_a_policy_parameter_and_a_scenario_field_can_be_swept() -> None:
    config = _config(
        grid={
            "policies.static.params.ratio": [0.5, 1.0],
            "market.simulate.overrides.spot.kappa": [12.0],
        }
    )
    grid = cells(config)
    assert [c.label for c in grid] == ["ratio=0.5,kappa=12.0", "ratio=1.0,kappa=12.0"]
    static = next(p for p in grid[0].config.policies if p.key == "static")
    assert static.params == PARAMS | {"ratio": 0.5}
    assert grid[1].config.market.simulate is not None
    assert grid[1].config.market.simulate.overrides == {"spot.kappa": 12.0}
    with pytest.raises(ConfigError, match="no policy labelled 'nope'"):
        cells(_config(grid={"policies.nope.params.ratio": [1.0]}))
    with pytest.raises(ConfigError, match="grid point"):
        cells(_config(grid={"chunk_paths": [0]}))


def test_a_dataset_market_is_refused() -> None:
    with pytest.raises(ValueError, match=r"needs \[market.simulate\]"):
        McConfig.model_validate({"market": {"dataset": "x"}, "policies": [{"name": "no_hedge"}]})


def test_a_failed_chunk_is_retried_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tokbt.runs.mc as mc

    failures: dict[int, int] = {}

    def flaky(job: Job) -> str:
        failures[job.lo] = failures.get(job.lo, 0) + 1
        if job.lo == 16 and failures[job.lo] == 1:
            raise OSError("disk hiccup")
        return run_job(job)

    monkeypatch.setattr(mc, "run_job", flaky)
    run = monte_carlo(_config(grid={}), tmp_path, executor=LocalExecutor(workers=1))
    assert run.record["chunks"]["failures"] == [
        {"cell": 0, "paths": [16, 32], "error": "OSError: disk hiccup"}
    ]
    assert failures == {0: 1, 16: 2, 32: 1}

    def broken(job: Job) -> str:
        raise ValueError("always")

    monkeypatch.setattr(mc, "run_job", broken)
    with pytest.raises(ChunkError, match=r"cell 0, paths 0-15, failed after retries"):
        monte_carlo(_config(grid={}), tmp_path / "b", executor=LocalExecutor(workers=1, retries=2))


def test_another_config_is_refused_in_the_same_folder(serial: Any, tmp_path: Path) -> None:
    monte_carlo(_config(grid={}), tmp_path, executor=LocalExecutor(workers=1))
    with pytest.raises(ConfigError, match="another Monte Carlo config"):
        monte_carlo(_config(grid={}, chunk_paths=8), tmp_path, executor=LocalExecutor(workers=1))


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path: Path) -> None:
    """Kill ``tokbt mc`` after some chunks, resume it, compare with an uninterrupted run."""
    config = tmp_path / "mc.toml"
    config.write_text(
        'chunk_paths = 6\n[market.simulate]\nscenario = "demand_explosion"\npaths = 48\n'
        "horizon_days = 240\nseed = 5\n"
        '[[policies]]\nname = "no_hedge"\n[[policies]]\nname = "static"\n'
        "params = { start = 20, months = 5 }\n[bootstrap]\nresamples = 100\n"
    )
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tokbt.cli", "mc", str(config), "--out", str(out)]
    command += ["--workers", "1", "--store", str(tmp_path / "s.duckdb")]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(out.glob("cell-*/paths-*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    written = len(list(out.glob("cell-*/paths-*.parquet")))
    assert 2 <= written < 8, "the run was to be killed midway"
    from tokbt.runs.mc import load_mc_config

    resumed = monte_carlo(load_mc_config(config), out, executor=LocalExecutor(workers=1))
    assert resumed.record["chunks"]["resumed"] == written
    whole = monte_carlo(load_mc_config(config), tmp_path / "whole", executor=LocalExecutor(1))
    assert resumed.evaluation.equals(whole.evaluation)
    assert not list(out.glob("**/*.partial"))


def test_jobs_cover_every_path_once() -> None:
    listed = jobs(_config(), Path("out"))
    assert [(j.cell, j.lo, j.hi) for j in listed] == [
        (c, lo, min(lo + 16, 48)) for c in (0, 1) for lo in (0, 16, 32)
    ]


def test_cli_mc_and_demo(tmp_path: Path) -> None:
    config = tmp_path / "mc.toml"
    config.write_text(
        'chunk_paths = 10\n[market.simulate]\nscenario = "baseline"\npaths = 10\n'
        'horizon_days = 120\n[[policies]]\nname = "no_hedge"\n[[policies]]\nname = "static"\n'
        "params = { start = 10, months = 3 }\n[bootstrap]\nresamples = 50\n"
    )
    store = str(tmp_path / "s.duckdb")
    out = tmp_path / "mc"
    args = ["mc", str(config), "--out", str(out), "--paths", "20", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--store", store])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists()
    assert len(list(out.glob("cell-000/paths-*.parquet"))) == 2  # --paths 20, chunks of 10
    demo = tmp_path / "demo"
    args = ["demo", "--paths", "12", "--workers", "1", "--out", str(demo), "--store", store]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "12 paths × 5 policies" in result.output
    assert (demo / "report.html").exists()
    again = CliRunner().invoke(app, args)  # a second demo starts afresh in the same folder
    assert again.exit_code == 0, again.output


def test_a_monte_carlo_run_measures_like_a_comparison(tmp_path: Path) -> None:
    """Same config, same paths: per-path metrics, summaries and comparisons are equal; the
    series are the comparison's daily series sampled at month ends."""
    from tokbt.runs.compare import CompareConfig, compare

    config = _config(grid={})
    mc = monte_carlo(config, tmp_path, executor=LocalExecutor(workers=1)).evaluation
    cmp = compare(CompareConfig.model_validate(config.model_dump(exclude={"grid", "retries"})))
    ev = cmp.evaluation
    assert mc.paths.equals(ev.paths)
    assert mc.summary.equals(ev.summary)
    assert mc.comparisons.equals(ev.comparisons)
    assert mc.monthly.reset_index(drop=True).equals(ev.monthly)
    ends = mc.series["day"].unique()
    daily = ev.series[ev.series["day"].isin(ends)].reset_index(drop=True)
    assert len(ends) == 8  # 240 days from 1 Jan
    assert mc.series.drop(columns="day").equals(daily.drop(columns="day"))


def test_the_example_config_is_valid() -> None:
    from tokbt.runs.mc import load_mc_config

    root = Path(__file__).resolve().parents[1]
    config = load_mc_config(root / "examples/mc/demand_explosion.toml")
    assert [c.label for c in cells(config)] == [
        "margin_buffer=0.0,basis_sigma=0.01",
        "margin_buffer=0.0,basis_sigma=0.05",
        "margin_buffer=0.25,basis_sigma=0.01",
        "margin_buffer=0.25,basis_sigma=0.05",
    ]
