"""Benchmark: what a ``TableMarket`` costs around the engine loop — timeline, blocks, fingerprint.

    python bench/market_bench.py                         # both workloads, one run each
    python bench/market_bench.py --repeat 3 --json out.json
    python bench/market_bench.py --frames /tmp/frames_before.py   # time another frames.py

Not a test: nothing here asserts on time. Shared machines are noisy, so every
figure is printed beside a baseline measured in the same run on the same data,
and beside the 1-minute load average (what ``uptime`` shows) when it was taken.

Two workloads, each built as in-memory Arrow tables before any timer starts:

* **long** — one path, ``--bars`` one-minute bars (default 1,000,000), spot
  and one futures contract (OHLC, futures also ``settle``).
* **wide** — ``--paths`` × ``--days`` daily bars on weekdays (default 10,000 ×
  252), spot and 12 month contracts with a bar on every path and day (30 M
  futures rows at the defaults), 1 % of them limit-locked.

Jobs (each in a fresh child process, interleaved over ``--repeat`` runs):

* ``long_tokbt``, ``wide_tokbt`` — ``TableMarket(spec, tables)`` (*market*: the
  timeline, paths, contracts, every row located); iterating every
  ``market_blocks()`` (*blocks*); ``fingerprint()`` (*fingerprint*) and again
  (*fingerprint again*: cached); for ``wide`` also every block of every
  ``path_chunks(--chunk-paths)`` chunk (*chunked blocks*: what a backtest with
  ``chunk_paths`` does).
* ``long_baseline``, ``wide_baseline`` — over the same tables: ``np.sort`` and an
  adjacent-difference mask of every bar's event time (*market*); the rows
  scattered into the same dense arrays by numpy with their integer coordinates
  already known (*blocks*: the floor of any conversion); a pandas pivot of the
  rows into the same arrays, from Arrow (*pandas pivot*; ``wide`` only with
  ``--pandas-wide``: it took 30 s and 12.6 GB at the defaults); SHA-256 of the
  tables' column buffers with ``hashlib`` (*fingerprint*: the hash's own speed).

``--frames FILE`` takes ``TableMarket`` from another copy of
``tokbt/data/frames.py`` (say, a previous version saved to /tmp) to time it on
the same workloads. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common

if TYPE_CHECKING:  # imported where used, so the parent process stays light
    import numpy as np
    import pyarrow as pa

    from tokbt.data import Kind
    from tokbt.market import ContractSpec

    Tables = dict[Kind, pa.Table]

WORKLOADS = ("long", "wide")
JOBS = ("long_baseline", "long_tokbt", "wide_baseline", "wide_tokbt")
"""The jobs, in the order they run: each workload's baseline, then tokbt."""
N_CONTRACTS = 12
START = dt.date(2026, 1, 5)
ROWS = (
    ("market", "market", "np.sort + mask"),
    ("blocks", "blocks", "numpy scatter"),
    ("blocks", "pandas_pivot", "pandas pivot"),
    ("chunked_blocks", "blocks", "numpy scatter"),
    ("fingerprint", "fingerprint", "sha256 of buffers"),
    ("fingerprint_again", "fingerprint", "sha256 of buffers"),
)
"""Report rows: tokbt's step, the baseline step it is compared with, and its label."""
TOKBT_ONLY = ("chunked_blocks", "fingerprint_again")
"""Steps without a baseline of their own: their rows are printed only when tokbt ran."""
STEP_LABELS = {
    "market": "market (timeline)",
    "blocks": "blocks",
    "chunked_blocks": "blocks, chunks of paths",
    "fingerprint": "fingerprint",
    "fingerprint_again": "fingerprint again",
}


# -- the workloads ---------------------------------------------------------------------------


def long_spec(bars: int) -> tuple[ContractSpec, str]:
    """A 24/7 product listing enough months that one contract spans ``bars`` minutes."""
    from tokbt.market import ContractSpec, ExchangeCalendar, ListingRule

    months = -(-bars // 1440) // 28 + 2
    spec = ContractSpec(
        multiplier=1.0,
        contract_unit="1 x 1M SIT tokens",
        tick_size=1e-4,
        price_limit=None,
        calendar=ExchangeCalendar(kind="always"),
        listing=ListingRule(months=months),
    )
    return spec, spec.contracts_live(START)[-1].code


def long_tables(bars: int, seed: int) -> tuple[ContractSpec, Tables, dict[Kind, int]]:
    """One path of ``bars`` one-minute spot and futures bars (seeded random walks)."""
    import numpy as np
    import pyarrow as pa

    from tokbt.data import Kind

    spec, code = long_spec(bars)
    rng = np.random.default_rng(seed)
    ts = np.datetime64(START, "us") + np.arange(bars) * np.timedelta64(60_000_000, "us")
    path = np.zeros(bars, np.int64)
    spot = 2.0 * np.exp(np.cumsum(rng.normal(0, 4e-4, bars)))
    fut = np.round(2.05 * np.exp(np.cumsum(rng.normal(0, 4e-4, bars))), 4)
    contract = pa.DictionaryArray.from_arrays(pa.array(np.zeros(bars, np.int32)), [code])
    tables = {
        Kind.SPOT: pa.table({"ts": ts, "path": path, **common.bars_from_closes(spot)}),
        Kind.FUTURES: pa.table(
            {
                "ts": ts,
                "path": path,
                "contract": contract,
                **common.bars_from_closes(fut),
                "settle": fut,
            }
        ),
    }
    return spec, tables, {Kind.SPOT: 60, Kind.FUTURES: 60}


def wide_tables(paths: int, days: int, seed: int) -> tuple[ContractSpec, Tables, dict[Kind, int]]:
    """``paths`` × ``days`` weekday bars: spot, and 12 month contracts on every bar,
    rows ordered by day, path and contract (as a simulation writes them)."""
    import numpy as np
    import pyarrow as pa

    from tokbt.data import Kind
    from tokbt.market import TPI_MONTH

    rng = np.random.default_rng(seed)
    day = np.busday_offset(np.datetime64(START, "D"), np.arange(days), roll="forward")
    ts = np.repeat(day.astype("datetime64[us]"), paths)
    path = np.tile(np.arange(paths, dtype=np.int64), days)
    spot = np.round(2.0 + rng.random(len(ts)), 3)
    codes = [c.code for c in TPI_MONTH.contracts_live(START)][:N_CONTRACTS]
    f_ts, f_path = np.repeat(ts, N_CONTRACTS), np.repeat(path, N_CONTRACTS)
    which = np.tile(np.arange(N_CONTRACTS, dtype=np.int32), len(ts))
    settle = np.round(2.1 + rng.random(len(f_ts)), 3)
    futures = {
        "ts": f_ts,
        "path": f_path,
        "contract": pa.DictionaryArray.from_arrays(pa.array(which), codes),
        **dict.fromkeys(("open", "high", "low", "close", "settle"), settle),
        "limit_locked": rng.random(len(f_ts)) < 0.01,
    }
    tables = {
        Kind.SPOT: pa.table({"ts": ts, "path": path, **common.bars_from_closes(spot)}),
        Kind.FUTURES: pa.table(futures),
    }
    return TPI_MONTH, tables, {Kind.SPOT: 86_400, Kind.FUTURES: 86_400}


def workload(args: argparse.Namespace, name: str) -> tuple[ContractSpec, Tables, dict[Kind, int]]:
    """The spec, tables and bar lengths of workload ``name``."""
    if name == "long":
        return long_tables(args.bars, args.seed)
    return wide_tables(args.paths, args.days, args.seed)


# -- timing ------------------------------------------------------------------------------------


class Steps:
    """Times named steps; keeps each one's seconds and the 1-minute load average after it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.load: dict[str, float] = {}

    def time(self, name: str, work: Callable[[], Any]) -> Any:
        """Run ``work()`` as step ``name``; return what it returns."""
        t0 = time.perf_counter()
        out = work()
        self.seconds[name] = time.perf_counter() - t0
        self.load[name] = os.getloadavg()[0]
        return out


def table_market_class(frames_file: str | None) -> Any:
    """``TableMarket`` from ``tokbt.data.frames``, or from the copy ``frames_file``."""
    if frames_file is None:
        from tokbt.data import TableMarket

        return TableMarket
    spec = importlib.util.spec_from_file_location("frames_under_test", frames_file)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {frames_file} as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.TableMarket


def drain(blocks: Any) -> int:
    """Iterate every block, keeping none; the number of blocks."""
    return sum(1 for _ in blocks)


def tokbt_job(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Build the ``TableMarket`` of workload ``name``, iterate its blocks, fingerprint it."""
    spec, tables, bar_seconds = workload(args, name)
    cls = table_market_class(args.frames)
    steps = Steps()
    market = steps.time("market", lambda: cls(spec, tables, bar_seconds=bar_seconds))
    blocks = steps.time("blocks", lambda: drain(market.market_blocks()))
    if name == "wide" and hasattr(market, "path_chunks"):
        chunks = market.path_chunks(args.chunk_paths)
        steps.time("chunked_blocks", lambda: sum(drain(c.market_blocks()) for c in chunks))
    first = steps.time("fingerprint", market.fingerprint)
    again = steps.time("fingerprint_again", market.fingerprint)
    assert first == again
    return {"steps": steps, "blocks": blocks, "events": len(market.events)}


# -- the baselines -------------------------------------------------------------------------------


def event_times(tables: Tables, bar_seconds: dict[Kind, int]) -> list[np.ndarray]:
    """Each table's event times (``ts + bar``), as ``datetime64[us]``."""
    import numpy as np

    return [
        np.asarray(t["ts"].to_numpy(), "datetime64[us]")
        + np.timedelta64(bar_seconds[k] * 1_000_000, "us")
        for k, t in tables.items()
    ]


def sort_mask(times: list[np.ndarray]) -> np.ndarray:
    """The distinct times, by ``np.sort`` and an adjacent-difference mask."""
    import numpy as np

    s = np.sort(np.concatenate(times))
    return s[np.r_[True, s[1:] != s[:-1]]]


def coordinates(table: pa.Table, ends: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each row's event, path and (futures) contract index: the scatter's coordinates."""
    import numpy as np

    index = [np.searchsorted(events, ends), table["path"].to_numpy()]
    if "contract" in table.column_names:
        index.append(np.asarray(table["contract"].combine_chunks().indices.to_numpy(), np.intp))
    return tuple(index)


def numpy_scatter(tables: Tables, where: dict[Kind, tuple[np.ndarray, ...]], shape: Any) -> int:
    """Every float field (and ``limit_locked``) of every table scattered into dense
    NaN-filled arrays at known coordinates; the cells written."""
    import numpy as np

    cells = 0
    for kind, table in tables.items():
        dims = shape(kind)
        for name in table.column_names:
            if name in ("ts", "path", "contract"):
                continue
            values = table[name].to_numpy()
            fill = False if values.dtype == bool else np.nan
            out = np.full(dims, fill, dtype=values.dtype)
            out[where[kind]] = values
            cells += out.size
    return cells


def pandas_pivot(tables: Tables, bar_seconds: dict[Kind, int]) -> int:
    """Every table pivoted by pandas to event × path (× contract) columns; the cells."""
    import pandas as pd

    cells = 0
    for kind, table in tables.items():
        frame = table.to_pandas()
        frame["event"] = frame["ts"] + pd.Timedelta(seconds=bar_seconds[kind])
        keys = ["path", "contract"] if "contract" in frame else ["path"]
        values = [c for c in frame.columns if c not in ("ts", "event", *keys)]
        wide = frame.pivot(index="event", columns=keys, values=values)
        cells += wide.to_numpy().size
    return cells


def sha256_buffers(tables: Tables) -> list[str]:
    """SHA-256 of each table's column buffers, fed to ``hashlib`` one by one."""
    digests = []
    for table in tables.values():
        digest = hashlib.sha256()
        for column in table.columns:
            for chunk in column.chunks:
                for buf in chunk.buffers():
                    if buf is not None:
                        digest.update(memoryview(buf))
        digests.append(digest.hexdigest())
    return digests


def baseline_job(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """The baselines of workload ``name`` on the same tables."""
    import numpy as np

    from tokbt.data import Kind

    _spec, tables, bar_seconds = workload(args, name)
    steps = Steps()
    times = event_times(tables, bar_seconds)
    events = steps.time("market", lambda: sort_mask(times))
    where = {k: coordinates(t, e, events) for (k, t), e in zip(tables.items(), times, strict=True)}
    n_paths = int(np.max([t["path"].to_numpy().max() for t in tables.values()])) + 1

    def shape(kind: Kind) -> tuple[int, ...]:
        extra = (N_CONTRACTS if name == "wide" else 1,) if kind is Kind.FUTURES else ()
        return (len(events), n_paths, *extra)

    steps.time("blocks", lambda: numpy_scatter(tables, where, shape))
    if name == "long" or args.pandas_wide:
        steps.time("pandas_pivot", lambda: pandas_pivot(tables, bar_seconds))
    steps.time("fingerprint", lambda: sha256_buffers(tables))
    return {"steps": steps, "events": len(events)}


def child(args: argparse.Namespace) -> None:
    """Run one job in this process and print its result."""
    import numpy as np  # noqa: F401  (imported before any timer)
    import pandas as pd  # noqa: F401
    import pyarrow as pa  # noqa: F401

    import tokbt.data  # noqa: F401

    common.reset_peak_rss()
    start_rss = common.rss_mb()
    name, kind = args.job.split("_")
    result = (tokbt_job if kind == "tokbt" else baseline_job)(args, name)
    steps: Steps = result.pop("steps")
    common.print_result(
        {
            "job": args.job,
            "seconds": sum(steps.seconds.values()),
            "steps": steps.seconds,
            "load": steps.load,
            **result,
            "peak_rss_mb": common.peak_rss_mb(),
            "start_rss_mb": start_rss,
        }
    )


# -- the report ------------------------------------------------------------------------------------


def summarise(runs: dict[str, list[common.Result]]) -> dict[str, dict[str, Any]]:
    """Per job and step: the median, min and max seconds and the median load over the runs."""
    out: dict[str, dict[str, Any]] = {}
    for job, results in runs.items():
        steps: dict[str, Any] = {}
        for step in results[0]["steps"]:
            seconds = [r["steps"][step] for r in results]
            steps[step] = {
                "seconds": statistics.median(seconds),
                "seconds_min": min(seconds),
                "seconds_max": max(seconds),
                "runs": len(seconds),
                "load": statistics.median(r["load"][step] for r in results),
            }
        out[job] = {"steps": steps, **common.rss_summary(results)}
    return out


def table_rows(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One report row per workload and ``ROWS`` entry measured: tokbt's figure, the
    baseline's, and their ratio."""
    rows = []
    for name in WORKLOADS:
        mine = summary.get(f"{name}_tokbt", {}).get("steps", {})
        base = summary.get(f"{name}_baseline", {}).get("steps", {})
        for step, base_step, label in ROWS:
            a, b = mine.get(step), base.get(base_step)
            if a is None and (b is None or step in TOKBT_ONLY):
                continue
            ratio = a["seconds"] / b["seconds"] if a and b and b["seconds"] > 0 else None
            row = {"workload": name, "step": step, "tokbt": a, "baseline": label, "base": b}
            rows.append({**row, "ratio": ratio})
    return rows


def _seconds(x: float) -> str:
    """Seconds with three decimals, or in scientific notation below a millisecond."""
    return f"{x:.3f}" if x >= 1e-3 else f"{x:.1e}"


def _cell(step: dict[str, Any] | None) -> list[str]:
    """A step's median seconds (``[min-max]`` over several runs) and load; ``-`` if not run."""
    if step is None:
        return ["-", "-"]
    cell = _seconds(step["seconds"])
    if step["runs"] > 1:
        cell += f" [{_seconds(step['seconds_min'])}-{_seconds(step['seconds_max'])}]"
    return [cell, f"{step['load']:.2f}"]


def report(out: dict[str, Any]) -> str:
    """The plain-text table of the results."""
    head = [
        "workload",
        "step",
        "tokbt s",
        "load",
        "baseline",
        "baseline s",
        "load",
        "tokbt / baseline",
    ]
    rows = [
        [
            r["workload"],
            STEP_LABELS[r["step"]],
            *_cell(r["tokbt"]),
            r["baseline"],
            *_cell(r["base"]),
            common.fmt(r["ratio"], ".2f"),
        ]
        for r in out["rows"]
    ]
    c = out["config"]
    memory = [f"{job}: peak RSS {s['peak_rss_mb']:,.0f} MB" for job, s in out["summary"].items()]
    return "\n".join(
        [
            common.machine_line(out["machine"]),
            f"long: 1 path x {c['bars']:,} one-minute bars, spot + 1 futures contract; "
            f"wide: {c['paths']:,} paths x {c['days']} days, spot + {N_CONTRACTS} contracts "
            f"on every bar; chunks of {c['chunk_paths']:,} paths; frames: {c['frames'] or 'tokbt'}",
            common.repeats_line(out["repeat"]) + "; load: 1-minute load average after the step",
            common.format_table(head, rows),
            "; ".join(memory),
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bars", type=int, default=1_000_000, help="long: one-minute bars")
    p.add_argument("--paths", type=int, default=10_000, help="wide: paths")
    p.add_argument("--days", type=int, default=252, help="wide: weekdays")
    p.add_argument("--chunk-paths", type=int, default=1000, help="wide: paths per chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--pandas-wide", action="store_true", help="also pivot the wide workload with pandas"
    )
    p.add_argument("--frames", help="time TableMarket from this copy of tokbt/data/frames.py")
    common.add_repeat_argument(p)
    common.add_output_arguments(p, JOBS)
    common.add_job_arguments(p, JOBS)
    args = p.parse_args()
    if args.job:
        child(args)
        return
    common.check_arguments(p, args, JOBS)
    if min(args.bars, args.paths, args.days, args.chunk_paths) < 1:
        p.error("--bars, --paths, --days and --chunk-paths must be >= 1")
    config = {
        k: getattr(args, k)
        for k in ("bars", "paths", "days", "chunk_paths", "seed", "pandas_wide", "frames")
    }
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in config.items() if k != "pandas_wide"]
    extra = [e for e in extra if e != "--frames=None"]
    extra += ["--pandas-wide"] if args.pandas_wide else []

    def run_one(job: str, folder: Path) -> common.Result:
        return common.run_job_child(__file__, job, folder, args.timeout, extra)

    with tempfile.TemporaryDirectory(prefix="tokbt-market-bench-") as work:
        runs = common.run_interleaved(args.jobs, args.repeat, Path(work), run_one)
    summary = summarise(runs)
    out = {
        "machine": common.describe_machine(["numpy", "pyarrow", "pandas", "tokbt"]),
        "git": common.git_state(),
        "command": common.command_line(),
        "repeat": args.repeat,
        "config": config,
        "summary": summary,
        "rows": table_rows(summary),
        "runs": runs,
    }
    common.finish(out, report, args.json)


if __name__ == "__main__":
    main()
