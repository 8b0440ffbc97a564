"""What the benchmark scripts of this folder share: measuring, child processes, reporting.

``import_bench.py``, ``sim_bench.py`` and ``engine_bench.py`` measure different
workloads the same way. Every job runs in a fresh child process (the script itself, run with
``--job NAME --store PATH``) that prints its result as one JSON line; the
parent runs the jobs interleaved ``--repeat`` times, summarises the repeats
(median seconds, max peak RSS, ratios to a baseline job measured in the same
run), prints a plain text report and, with ``--json``, writes everything as
JSON. This module holds those parts; each script keeps its workload, its jobs
and its report.

The scripts import it as the top-level module ``common``: they are run as
``python bench/NAME.py`` (and run themselves that way as children), so
``bench/`` is ``sys.path[0]``. ``bench`` is a plain folder of scripts, not a
package; mypy, given the folder, resolves ``common`` the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

MB = 1024 * 1024
STORE_FILE = "store.duckdb"
"""Name of a child's store in its work folder (passed to the child as ``--store``)."""

Result = dict[str, Any]
"""One job's result: what its child printed, plus what the parent adds."""


# -- memory and CPU of this process --------------------------------------------------------


def bars_from_closes(close: Any) -> dict[str, Any]:
    """One-minute bars made of a close series (a numpy array): ``open`` is the previous
    close (the first bar opens at its own close), ``high``/``low`` the larger/smaller of
    open and close. Every benchmark that builds bars from closes uses this."""
    import numpy as np

    opened = np.concatenate([close[:1], close[:-1]])
    return {
        "open": opened,
        "high": np.maximum(opened, close),
        "low": np.minimum(opened, close),
        "close": close,
    }


def proc_status_mb(field: str) -> float | None:
    """Field ``field`` (a ``kB`` value) of ``/proc/self/status`` in MiB; None without it."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak RSS in MiB: ``VmHWM`` from ``/proc/self/status``.

    Not ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts at its parent's
    peak RSS when it was forked (the peak survives ``fork`` and ``exec``), so
    after, say, generating a file in the parent every child would report at
    least the generator's peak. ``VmHWM`` belongs to the child's own address
    space. Falls back to ``ru_maxrss`` where ``/proc`` is missing.
    """
    hwm = proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs`` 5); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """This process's current RSS in MiB (``VmRSS``), 0 without ``/proc``."""
    return proc_status_mb("VmRSS") or 0.0


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_limit() -> str:
    """DuckDB ``memory_limit`` as tokbt sets it: ``$TOKBT_MEMORY_LIMIT``, default ``2GB``."""
    return os.environ.get("TOKBT_MEMORY_LIMIT", "2GB")


# -- the machine -----------------------------------------------------------------------------


def _cpuinfo_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_state() -> str:
    """``HEAD`` of the repository holding tokbt, and how many files under tokbt/ differ."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "tokbt"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (f" + {len(dirty)} changed file(s) under tokbt/" if dirty else "")


def describe_machine(
    libraries: Sequence[str], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """CPU, memory, OS and Python of this run, then each of ``libraries``' version, then ``extra``.

    ``libraries`` are distribution names (``"numpy"``, ``"tokbt"``): each gives
    a key of that name with its installed version, or ``"not installed"``.
    """
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 0
    return {
        "nproc": affinity,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpuinfo_model(),
        "ram_gb": round(_mem_total_gb(), 1),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        **{dist: _version(dist) for dist in libraries},
        **(extra or {}),
    }


def machine_line(machine: Mapping[str, Any]) -> str:
    """The report's ``machine:`` line, from a ``describe_machine`` dict."""
    m = machine
    return (
        f"machine: {m['nproc']} cpus ({m['cpu_model']}), {m['ram_gb']} GB RAM, {m['os']}, "
        f"load avg {' '.join(map(str, m['load_avg']))}"
    )


def command_line() -> list[str]:
    """How this run was started (``python`` and its arguments), for the JSON output."""
    return [Path(sys.executable).name, *sys.argv]


# -- jobs in child processes ---------------------------------------------------------------


def run_job_child(
    script: str | os.PathLike[str],
    name: str,
    work: Path,
    timeout: float | None,
    args: Sequence[str] = (),
) -> Result:
    """Run job ``name`` as ``python script --job name --store work/STORE_FILE *args``.

    ``work`` is created first and removed afterwards, whatever happens. The
    child must print its result as JSON on the last line of its stdout
    (``print_result``); the parent adds ``process_seconds``, the child's wall
    time including interpreter start-up and imports. A failing child raises
    ``RuntimeError`` with the end of its stderr.
    """
    work.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        str(Path(script).resolve()),
        "--job",
        name,
        "--store",
        str(work / STORE_FILE),
        *args,
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"job {name} failed (exit {proc.returncode}):\n{proc.stderr.strip()[-4000:]}"
        )
    result: Result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


def print_result(result: Result) -> None:
    """In a child: print its result as the one JSON line ``run_job_child`` reads."""
    print(json.dumps(result))


def run_interleaved(
    jobs: Sequence[str], repeat: int, work: Path, run_one: Callable[[str, Path], Result]
) -> dict[str, list[Result]]:
    """Run every job ``repeat`` times, interleaved; the results of each job, in run order.

    ``run_one(job, folder)`` runs one job with ``folder`` (under ``work``, a
    fresh one per run) as its work folder. Interleaving makes drift in the
    machine's load hit every job alike. Progress goes to stderr.
    """
    runs: dict[str, list[Result]] = {job: [] for job in jobs}
    for i in range(repeat):
        for job in jobs:
            print(f"run {i + 1}/{repeat}: {job} ...", file=sys.stderr)
            result = run_one(job, work / f"{job}-{i}")
            print(
                f"  {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB",
                file=sys.stderr,
            )
            runs[job].append(result)
    return runs


# -- summaries of the repeats ----------------------------------------------------------------


def seconds_summary(results: Sequence[Result]) -> dict[str, Any]:
    """``runs``, ``seconds`` (the median) and ``seconds_min``/``seconds_max`` of one job."""
    seconds = [r["seconds"] for r in results]
    return {
        "runs": len(results),
        "seconds": statistics.median(seconds),
        "seconds_min": min(seconds),
        "seconds_max": max(seconds),
    }


def rss_summary(results: Sequence[Result]) -> dict[str, float]:
    """``peak_rss_mb`` and ``start_rss_mb`` of one job: the max over its runs."""
    return {
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "start_rss_mb": max(r["start_rss_mb"] for r in results),
    }


def per_second(amount: float, seconds: float) -> float:
    """``amount / seconds``; infinite for a zero time."""
    return amount / seconds if seconds > 0 else float("inf")


def add_baseline_ratios(rows: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """Add ``seconds_ratio`` and ``rss_ratio`` to each row: time and peak RSS over the baseline's.

    Both are None when no row is the job ``baseline`` (it was not run).
    Returns ``rows``, changed in place.
    """
    base = next((r for r in rows if r["job"] == baseline), None)
    for r in rows:
        r["seconds_ratio"] = r["seconds"] / base["seconds"] if base else None
        r["rss_ratio"] = r["peak_rss_mb"] / base["peak_rss_mb"] if base else None
    return rows


# -- plain text report -------------------------------------------------------------------------


RSS_HEADERS = ("peak RSS MB", "start RSS MB")
"""Table headers of ``rss_cells``."""
RATIO_HEADERS = ("s / baseline", "RSS / baseline")
"""Table headers of ``ratio_cells``."""


def repeats_line(repeat: int) -> str:
    """The report's ``repeats:`` line."""
    return f"repeats: {repeat} (seconds: median; peak RSS: max over repeats)"


def fmt(value: Any, spec: str) -> str:
    """``format(value, spec)``, or ``-`` for None."""
    if value is None:
        return "-"
    return format(value, spec)


def si(value: float) -> str:
    """``value`` with a k, M or G suffix and two decimals, or as a whole number below 1000."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f}"


def seconds_cell(row: Mapping[str, Any]) -> str:
    """A summary row's median seconds, with ``[min-max]`` when the job ran more than once."""
    cell = f"{row['seconds']:.2f}"
    if row["runs"] > 1:
        cell += f" [{row['seconds_min']:.2f}-{row['seconds_max']:.2f}]"
    return cell


def rss_cells(row: Mapping[str, Any]) -> list[str]:
    """A summary row's peak and start RSS (``RSS_HEADERS``)."""
    return [f"{row['peak_rss_mb']:,.0f}", f"{row['start_rss_mb']:,.0f}"]


def ratio_cells(row: Mapping[str, Any]) -> list[str]:
    """A summary row's ratios to the baseline (``RATIO_HEADERS``), ``-`` without one."""
    return [fmt(row["seconds_ratio"], ".2f"), fmt(row["rss_ratio"], ".2f")]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def finish(
    out: dict[str, Any], report: Callable[[dict[str, Any]], str], json_out: str | None
) -> None:
    """Print ``report(out)``; with ``json_out``, also write ``out`` there as JSON."""
    print(report(out))
    if json_out:
        Path(json_out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


# -- the command line ------------------------------------------------------------------------
# Each adds options that both scripts have, in the place they have them in ``--help``.


def add_repeat_argument(p: argparse.ArgumentParser) -> None:
    """``--repeat N``: runs per job."""
    p.add_argument("--repeat", type=int, default=1, help="runs per job; seconds are the median")


def add_output_arguments(p: argparse.ArgumentParser, jobs: Sequence[str]) -> None:
    """``--json OUT`` and ``--jobs a,b`` (a subset of ``jobs``; ``check_arguments`` checks it)."""
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON here")
    p.add_argument(
        "--jobs",
        type=lambda s: [j.strip() for j in s.split(",") if j.strip()],
        default=list(jobs),
        help=f"comma-separated subset of {','.join(jobs)}",
    )


def add_resource_arguments(
    p: argparse.ArgumentParser, *, memory_limit_help: str, tmp_dir_help: str
) -> None:
    """``--memory-limit X`` (default ``memory_limit()``) and ``--tmp-dir DIR``."""
    p.add_argument("--memory-limit", default=memory_limit(), help=memory_limit_help)
    p.add_argument("--tmp-dir", help=tmp_dir_help)


def add_job_arguments(p: argparse.ArgumentParser, job_names: Iterable[str]) -> None:
    """``--timeout S``, and the hidden ``--job NAME`` and ``--store PATH`` of a child."""
    p.add_argument("--timeout", type=float, help="seconds before a job is killed")
    p.add_argument("--job", choices=sorted(job_names), help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)


def check_arguments(
    p: argparse.ArgumentParser, args: argparse.Namespace, jobs: Sequence[str]
) -> None:
    """Exit with a usage error if ``--jobs`` names an unknown job or ``--repeat`` is below 1."""
    unknown = [j for j in args.jobs if j not in jobs]
    if unknown:
        p.error(f"unknown job(s) {unknown}; choose from {', '.join(jobs)}")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
