"""Benchmark: Monte Carlo runs at scale — throughput and bounded memory.

    python bench/mc_bench.py                          # 1k serial, 10k and 100k on all cores
    python bench/mc_bench.py --jobs serial-1k,local-10k --json out.json
    python bench/mc_bench.py --jobs local-10k,local-100k --days 365   # the memory bound, sooner
    python bench/mc_bench.py --trace bench/out/soak   # the soak: RSS over time, CSV + plot

The run is ``tokbt demo``'s: demand_explosion, 1,095 days (``--days``), 5 policies (none, static,
minimum-variance, rolling, layered), chunks of 500 paths (the demo config's ``chunk_paths``),
1,000 bootstrap resamples.
Jobs, each in a fresh child process:

* ``serial-1k`` — the baseline: 1,000 paths on one worker (in-process);
* ``local-10k`` — 10,000 paths on every core (``LocalExecutor``);
* ``local-100k`` — 100,000 paths on every core.

Each job then does what ``tokbt mc`` does with the run: saves it in a run store, loads it
back and writes its HTML report. Reported: wall seconds of the run (simulate, replay,
measure, evaluate) and of save + report, path·days·policies per second, the parent's peak
RSS (it reads the chunk files, evaluates, saves and reports) and the largest worker's peak
RSS. Memory is bounded when the 100k run's peaks stay within 2× of the 10k run's.

With ``--trace DIR`` each job also samples, every ``--trace-every`` seconds, the RSS of the
parent and of each worker process, the chunks written so far and the phase (run, save,
report). The samples go to ``DIR/trace-JOB.csv`` and one figure, ``DIR/trace.png``; the report
adds each job's growth: the process tree's peak RSS over the last half of the chunks against
the first half. A run whose memory grew with the paths it has done shows it there.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

JOBS = ("serial-1k", "local-10k", "local-100k")
PATHS = {"serial-1k": 1_000, "local-10k": 10_000, "local-100k": 100_000}
DAYS, POLICIES = 1095, 5
TRACE_FIELDS = ("seconds", "phase", "chunks", "parent_mb", "worker_max_mb", "tree_mb")


class MemoryTrace:
    """Samples the RSS of this process and its descendants on a daemon thread.

    Each sample is a dict of ``TRACE_FIELDS``: seconds since ``start``, the phase
    the job set last (``set_phase``), chunk files written under ``chunks`` so far,
    the parent's RSS, the largest descendant's and the whole tree's (MiB).
    """

    def __init__(self, chunks: Path, every: float) -> None:
        import psutil

        self._me = psutil.Process()
        self._chunks = chunks
        self._every = every
        self._phase = "run"
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.samples: list[dict[str, Any]] = []

    def start(self) -> MemoryTrace:
        """Start sampling (one sample at once) and return ``self``."""
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def set_phase(self, phase: str) -> None:
        """Label the samples from now on with ``phase``."""
        self._phase = phase
        self._sample()

    def stop(self) -> list[dict[str, Any]]:
        """Stop sampling, take a last sample and return every sample."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.samples

    def _loop(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self._every):
                return

    def _sample(self) -> None:
        workers = []
        for proc in self._me.children(recursive=True):
            try:
                workers.append(proc.memory_info().rss / common.MB)
            except Exception:  # the process ended between listing and reading it
                continue
        parent = self._me.memory_info().rss / common.MB
        self.samples.append(
            {
                "seconds": round(time.perf_counter() - self._t0, 2),
                "phase": self._phase,
                "chunks": sum(1 for _ in self._chunks.glob("cell-*/paths-*.parquet")),
                "parent_mb": round(parent, 1),
                "worker_max_mb": round(max(workers, default=0.0), 1),
                "tree_mb": round(parent + sum(workers), 1),
            }
        )


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
    trace = MemoryTrace(out, args.trace_every).start() if args.trace else None
    t0 = time.perf_counter()
    run = monte_carlo(config, out, executor=LocalExecutor(workers=workers))
    seconds = time.perf_counter() - t0
    if trace:
        trace.set_phase("save")
    with RunStore(Path(args.store)) as store:  # then what `tokbt mc` does with the run
        run = store.save(run)
    if trace:
        trace.set_phase("report")
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
            "trace": trace.stop() if trace else None,
        }
    )


def growth(samples: list[dict[str, Any]]) -> dict[str, float] | None:
    """Peak tree RSS over the first and the last half of the chunks written, and their ratio.

    Only samples of the run phase with at least one chunk written count (before
    the first chunk the workers are still importing). None with fewer than two
    such chunk counts.
    """
    run = [s for s in samples if s["phase"] == "run" and s["chunks"] > 0]
    if len({s["chunks"] for s in run}) < 2:
        return None
    middle = (run[0]["chunks"] + run[-1]["chunks"]) / 2
    first = max(s["tree_mb"] for s in run if s["chunks"] <= middle)
    last = max(s["tree_mb"] for s in run if s["chunks"] > middle)
    return {"first_half_mb": first, "last_half_mb": last, "ratio": last / first}


def write_traces(rows: list[dict[str, Any]], folder: Path) -> None:
    """``trace-JOB.csv`` for every traced job and ``trace.png``: RSS against minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    traced = [r for r in rows if r.get("trace")]
    fig, axes = plt.subplots(len(traced), 1, figsize=(9, 3 * len(traced)), squeeze=False)
    for row, ax in zip(traced, axes[:, 0], strict=True):
        samples = row["trace"]
        with open(folder / f"trace-{row['job']}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=TRACE_FIELDS)
            writer.writeheader()
            writer.writerows(samples)
        minutes = [s["seconds"] / 60 for s in samples]
        for field, label in (
            ("tree_mb", "parent + workers"),
            ("parent_mb", "parent"),
            ("worker_max_mb", "largest worker"),
        ):
            ax.plot(minutes, [s[field] for s in samples], label=label, linewidth=1)
        end = next((s["seconds"] / 60 for s in samples if s["phase"] != "run"), None)
        if end is not None:
            ax.axvline(end, color="grey", linestyle=":", linewidth=1, label="save + report")
        ax.set_title(f"{row['job']}: {row['paths']:,} paths × {row['days']:,} days", fontsize=10)
        ax.set_ylabel("RSS (MiB)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("minutes")
    axes[0, 0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "trace.png", dpi=110)
    plt.close(fig)


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
    lines = [
        common.machine_line(out["machine"]),
        f"demand_explosion, {out['days']} days, {POLICIES} policies; "
        + common.repeats_line(out["repeat"]),
        common.format_table([*head, "throughput / serial-1k"], rows),
    ]
    for r in out["rows"]:
        if r.get("growth"):
            g = r["growth"]
            lines.append(
                f"{r['job']}: tree peak {g['first_half_mb']:.0f} MB over the first half of the "
                f"chunks, {g['last_half_mb']:.0f} MB over the last ({g['ratio']:.2f}×)"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=DAYS, help="simulated days per path")
    p.add_argument("--trace", metavar="DIR", help="sample RSS over time; CSVs and a plot here")
    p.add_argument("--trace-every", type=float, default=5.0, help="seconds between samples")
    common.add_repeat_argument(p)
    common.add_output_arguments(p, JOBS)
    common.add_job_arguments(p, JOBS)
    args = p.parse_args()
    if args.job:
        child(args)
        return
    common.check_arguments(p, args, JOBS)

    def run_one(job: str, folder: Path) -> common.Result:
        extra = ["--days", str(args.days), "--trace-every", str(args.trace_every)]
        if args.trace:
            extra += ["--trace", str(args.trace)]
        return common.run_job_child(__file__, job, folder, args.timeout, extra)

    with tempfile.TemporaryDirectory(prefix="tokbt-mc-bench-") as work:
        runs = common.run_interleaved(args.jobs, args.repeat, Path(work), run_one)
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
                "days": args.days,
                "trace": res[-1].get("trace"),
                "growth": growth(res[-1]["trace"]) if res[-1].get("trace") else None,
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
    if args.trace:
        write_traces(rows, Path(args.trace))
    common.finish(out, report, args.json)


if __name__ == "__main__":
    main()
