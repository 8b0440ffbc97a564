"""Benchmark: what measuring the metrics costs a backtest, and what the bootstrap costs.

    python bench/metrics_bench.py                      # 500 paths × 1,095 days, static hedge
    python bench/metrics_bench.py --paths 1000 --repeat 3 --json out.json

Jobs (each in a fresh child process, interleaved over ``--repeat`` runs):

* ``totals`` — the baseline: the backtest with ``metrics = None`` and
  ``journal = "totals"`` (no journal rows are built at all);
* ``measured`` — the same backtest with the default metric set: journal rows
  are streamed to a scratch Parquet file per chunk and measured from it;
* ``evaluate`` — ``evaluate`` of 7 policies on the ``measured`` paths (the
  summaries, 1,000 bootstrap resamples and the paired comparisons), timed alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

JOBS = ("totals", "measured", "evaluate")


def _config(args: argparse.Namespace, metrics: str | None) -> Any:
    from tokbt.runs import BacktestConfig

    return BacktestConfig.model_validate(
        {
            "journal": "totals",
            "positions": False,
            "metrics": metrics,
            "chunk_paths": args.chunk,
            "market": {
                "simulate": {
                    "scenario": "demand_explosion",
                    "paths": args.paths,
                    "horizon_days": args.days,
                    "seed": 7,
                }
            },
            "strategy": {"name": "static", "params": {"start": 60, "months": 33}},
        }
    )


def child(args: argparse.Namespace) -> None:
    """Run one job in this process and print its result."""
    from tokbt.metrics.evaluate import evaluate
    from tokbt.runs import run_config

    common.reset_peak_rss()
    start_rss = common.rss_mb()
    if args.job == "evaluate":
        result = run_config(_config(args, "default"))
        assert result.metrics is not None
        t0 = time.perf_counter()
        evaluate({f"p{i}": result.metrics for i in range(7)}, resamples=1000)
    else:
        t0 = time.perf_counter()
        run_config(_config(args, None if args.job == "totals" else "default"))
    common.print_result(
        {
            "job": args.job,
            "seconds": time.perf_counter() - t0,
            "peak_rss_mb": common.peak_rss_mb(),
            "start_rss_mb": start_rss,
        }
    )


def report(out: dict[str, Any]) -> str:
    """The plain-text table of the results."""
    rows = [
        [r["job"], common.seconds_cell(r), *common.rss_cells(r), *common.ratio_cells(r)]
        for r in out["rows"]
    ]
    head = ["job", "seconds", *common.RSS_HEADERS, *common.RATIO_HEADERS]
    return "\n".join(
        [
            common.machine_line(out["machine"]),
            f"{out['paths']} paths × {out['days']} days, static hedge; "
            + common.repeats_line(out["repeat"]),
            common.format_table(head, rows),
            "evaluate is timed alone (7 policies, 1,000 resamples); its ratio is to totals.",
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paths", type=int, default=500)
    p.add_argument("--days", type=int, default=1095)
    p.add_argument("--chunk", type=int, default=250)
    common.add_repeat_argument(p)
    common.add_output_arguments(p, JOBS)
    common.add_job_arguments(p, JOBS)
    args = p.parse_args()
    if args.job:
        child(args)
        return
    common.check_arguments(p, args, JOBS)
    extra = ["--paths", str(args.paths), "--days", str(args.days), "--chunk", str(args.chunk)]

    def run_one(job: str, folder: Path) -> common.Result:
        return common.run_job_child(__file__, job, folder, args.timeout, extra)

    with tempfile.TemporaryDirectory(prefix="tokbt-metrics-bench-") as work:
        runs = common.run_interleaved(args.jobs, args.repeat, Path(work), run_one)
    rows = [
        {"job": job, **common.seconds_summary(res), **common.rss_summary(res)}
        for job, res in runs.items()
    ]
    out = {
        "machine": common.describe_machine(["tokbt", "numpy", "pyarrow"]),
        "paths": args.paths,
        "days": args.days,
        "repeat": args.repeat,
        "rows": common.add_baseline_ratios(rows, "totals"),
        "command": common.command_line(),
    }
    common.finish(out, report, args.json)


if __name__ == "__main__":
    main()
