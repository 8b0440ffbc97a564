"""Benchmark: Monte Carlo runs at scale — throughput and bounded memory.

    python bench/mc_bench.py                          # 1k serial, 10k and 100k on all cores
    python bench/mc_bench.py --jobs serial-1k,local-10k --json out.json
    python bench/mc_bench.py --jobs local-10k,local-100k --days 365   # the memory bound, sooner

The run is ``tokbt demo``'s: demand_explosion, 1,095 days (``--days``), 5 policies (none, static,
minimum-variance, rolling, layered), chunks of 250 paths, 1,000 bootstrap resamples.
Jobs, each in a fresh child process:

* ``serial-1k`` — the baseline: 1,000 paths on one worker (in-process);
* ``local-10k`` — 10,000 paths on every core (``LocalExecutor``);
* ``local-100k`` — 100,000 paths on every core.

Each job then does what ``tokbt mc`` does with the run: saves it in a run store, loads it
back and writes its HTML report. Reported: wall seconds of the run (simulate, replay,
measure, evaluate) and of save + report, path·days·policies per second, the parent's peak
RSS (it reads the chunk files, evaluates, saves and reports) and the largest worker's peak
RSS. Memory is bounded when the 100k run's peaks stay within 2× of the 10k run's.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

JOBS = ("serial-1k", "local-10k", "local-100k")
PATHS = {"serial-1k": 1_000, "local-10k": 10_000, "local-100k": 100_000}
DAYS, POLICIES = 1095, 5


def child(args: argparse.Namespace) -> None:
    """Run one job in this process and print its result."""
    from tokbt.report import write_report
    from tokbt.runs.mc import LocalExecutor, demo_config, monte_carlo, with_paths
    from tokbt.runs.store import RunStore

    common.reset_peak_rss()
    start_rss = common.rss_mb()
    paths = PATHS[args.job]
    workers = 1 if args.job == "serial-1k" else None
    out = Path(args.store).parent / "chunks"
    config = with_paths(demo_config(), paths)
    data = config.model_dump(mode="json")
    data["market"]["simulate"]["horizon_days"] = args.days
    config = type(config).model_validate(data)
    t0 = time.perf_counter()
    run = monte_carlo(config, out, executor=LocalExecutor(workers=workers))
    seconds = time.perf_counter() - t0
    with RunStore(Path(args.store)) as store:  # then what `tokbt mc` does with the run
        run = store.save(run)
    with RunStore(Path(args.store), read_only=True) as store:
        write_report(store.load(run.run_id), out.parent / "report.html")
    total = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    common.print_result(
        {
            "job": args.job,
            "paths": paths,
            "seconds": seconds,
            "save_report_seconds": total - seconds,
            "days": args.days,
            "path_days_policies_per_s": paths * args.days * POLICIES / seconds,
            "peak_rss_mb": common.peak_rss_mb(),
            "start_rss_mb": start_rss,
            "worker_peak_rss_mb": children,
        }
    )


def report(out: dict[str, Any]) -> str:
    """The plain-text table of the results."""
    rows = [
        [
            r["job"],
            f"{r['paths']:,}",
            common.seconds_cell(r),
            f"{r['save_report_seconds']:.1f}",
            common.si(r["path_days_policies_per_s"]),
            f"{r['peak_rss_mb']:.0f}",
            f"{r['worker_peak_rss_mb']:.0f}",
            common.fmt(r.get("throughput_ratio"), ".2f"),
        ]
        for r in out["rows"]
    ]
    head = ["job", "paths", "seconds", "save+report s", "path·days·policies/s", "parent RSS MB"]
    head.append("worker RSS MB")
    return "\n".join(
        [
            common.machine_line(out["machine"]),
            f"demand_explosion, {out['days']} days, {POLICIES} policies; "
            + common.repeats_line(out["repeat"]),
            common.format_table([*head, "throughput / serial-1k"], rows),
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=DAYS, help="simulated days per path")
    common.add_repeat_argument(p)
    common.add_output_arguments(p, JOBS)
    common.add_job_arguments(p, JOBS)
    args = p.parse_args()
    if args.job:
        child(args)
        return
    common.check_arguments(p, args, JOBS)
    work = Path(tempfile.mkdtemp(prefix="tokbt-mc-bench-"))

    def run_one(job: str, folder: Path) -> common.Result:
        return common.run_job_child(__file__, job, folder, args.timeout, ["--days", str(args.days)])

    runs = common.run_interleaved(args.jobs, args.repeat, work, run_one)
    rows = []
    for job, res in runs.items():
        best = res[0]
        rows.append(
            {
                "job": job,
                "paths": best["paths"],
                **common.seconds_summary(res),
                "save_report_seconds": min(r["save_report_seconds"] for r in res),
                "path_days_policies_per_s": max(r["path_days_policies_per_s"] for r in res),
                **common.rss_summary(res),
                "worker_peak_rss_mb": max(r["worker_peak_rss_mb"] for r in res),
            }
        )
    base = next((r for r in rows if r["job"] == "serial-1k"), None)
    for r in rows:
        r["throughput_ratio"] = (
            r["path_days_policies_per_s"] / base["path_days_policies_per_s"] if base else None
        )
    out = {
        "machine": common.describe_machine(["tokbt", "numpy", "numba"]),
        "repeat": args.repeat,
        "days": args.days,
        "rows": common.add_baseline_ratios(rows, "serial-1k"),
        "command": common.command_line(),
    }
    common.finish(out, report, args.json)


if __name__ == "__main__":
    main()
