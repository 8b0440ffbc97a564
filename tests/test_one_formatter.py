"""The terminal and the reports write a number the same way (``report.values``)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.metrics.evaluation import SUMMARY_METRICS
from tokbt.report import render_markdown
from tokbt.report.values import fmt_cell, summary_cells
from tokbt.runs.compare import CompareConfig, compare
from tokbt.runs.store import RunStore


def test_runs_show_writes_every_cell_as_the_markdown_report_does(tmp_path: Path) -> None:
    config = CompareConfig.model_validate(
        {
            "market": {"simulate": {"scenario": "baseline", "paths": 6, "horizon_days": 120}},
            "policies": [{"name": "no_hedge"}, {"name": "static", "params": {"months": 3}}],
            "bootstrap": {"resamples": 20},
        }
    )
    store = tmp_path / "s.duckdb"
    with RunStore(store) as runs:
        run = runs.save(compare(config))
    out = CliRunner().invoke(
        app, ["runs", "show", run.run_id, "--store", str(store)], env={"COLUMNS": "400"}
    )
    assert out.exit_code == 0, out.output
    markdown = render_markdown(run)
    cells = summary_cells(run.evaluation)
    checked = 0
    for (policy, metric), (value, lo, hi) in cells.items():
        text = fmt_cell(value, lo, hi, SUMMARY_METRICS[metric].unit)
        assert text in markdown, (policy, metric, text)
        assert text in out.output, (policy, metric, text)
        checked += 1
    assert checked == len(SUMMARY_METRICS) * 2
    assert "Unconditional simulation" in out.output  # what the costs measure
    assert "static: the liquidity model" in out.output  # and the run's warnings
