"""Benchmark: importing a large futures Parquet file into a ``BarStore``.

Not a test: nothing here asserts on time. Shared machines are noisy, so every
number is measured against a baseline taken in the same run, on the same file:

* ``baseline_duckdb`` — raw DuckDB ingest, no validation:
  ``CREATE TABLE t AS SELECT * FROM read_parquet(file)`` into a fresh file
  database, with the same ``memory_limit`` tokbt uses (``$TOKBT_MEMORY_LIMIT``,
  default ``2GB``).
* ``tokbt_import`` — ``BarStore(store).import_file(file, "bench", "futures")``:
  staging, every validation rule, then the transactional insert.
* ``pyarrow_read`` — ``pyarrow.parquet.read_table(file)``: the whole file in
  memory, the floor to compare peak RSS against.

Each job runs in a fresh subprocess (``import_bench.py --job NAME``) with a
fresh temporary store, so its peak RSS (``ru_maxrss``, printed by the child)
is its own. Each child imports only what its job needs; ``start RSS`` is the
RSS after those imports, before the timed work.

``--profile-steps`` adds one more child that replays ``import_file`` step by
step (staging, each validation rule, insert, checkpoint), with the time and
the peak RSS of each step. It calls tokbt's private helpers
(``tokbt.data.validate._rules`` ...) and must follow them if they change.

Run ``python bench/import_bench.py --help``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common

if TYPE_CHECKING:  # imported where used, so a child process loads only what its job needs
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

JOBS = ("baseline_duckdb", "tokbt_import", "pyarrow_read")
"""The benchmarked jobs, in the order they run (and are printed)."""
BASELINE = "baseline_duckdb"
STEPS_JOB = "tokbt_steps"

START_DAY = "2026-01-05"
"""First bar date of the generated file (a Monday)."""
MAX_DAYS = 252
"""Business days per path at most (one year); more rows means more paths."""
CHUNK_ROWS = 1 << 20
"""Rows per generated chunk, each written as one Parquet row group."""
TICKS_PER_UNIT = 1000
"""1 / tick size of ``TPI_MONTH`` (0.001)."""
DAILY_VOL_COMMON = 0.009
DAILY_VOL_CONTRACT = 0.004
MAX_DAILY_MOVE = 0.04
"""Daily log moves are clipped here, well inside the ±10 % settle band."""
META_KEY = b"tokbt_bench"
"""Parquet schema metadata key naming the generator parameters (to reuse a kept file)."""
GENERATOR_VERSION = 2
"""Bumped when the generated file changes (2: the ``limit_locked`` column)."""


# -- the generated file --------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which bars one path of the generated file holds, and how many paths there are.

    Attributes:
        days: the business days, ``datetime64[D]``.
        codes: every contract live on at least one day, in delivery order.
        contract_idx: per bar of one path, its contract (index into ``codes``).
        day_idx: per bar of one path, its day (index into ``days``); the bars
            are ordered by contract, then day.
        paths: number of paths.
    """

    days: npt.NDArray[np.datetime64]
    codes: list[str]
    contract_idx: npt.NDArray[np.intp]
    day_idx: npt.NDArray[np.intp]
    paths: int

    @property
    def rows_per_path(self) -> int:
        return int(self.contract_idx.size)

    @property
    def rows(self) -> int:
        return self.paths * self.rows_per_path


def futures_layout(rows: int) -> Layout:
    """The layout of a file of about ``rows`` bars: paths x days x the 12 live contracts.

    Days are weekday business days from ``START_DAY`` (at most ``MAX_DAYS``);
    the contracts of a day are ``TPI_MONTH.contracts_live(day)``.
    """
    import numpy as np

    from tokbt.market import TPI_MONTH

    if rows < 1:
        raise ValueError(f"rows must be >= 1, not {rows}")
    per_day = len(TPI_MONTH.contracts_live(START_DAY))
    n_days = min(MAX_DAYS, max(1, -(-rows // per_day)))
    days = np.busday_offset(np.datetime64(START_DAY, "D"), np.arange(n_days), roll="forward")
    live = [{c.code for c in TPI_MONTH.contracts_live(str(d))} for d in days]
    codes = sorted(set().union(*live))  # TPI-YYYY-MM sorts in delivery order
    mask = np.array([[code in day for day in live] for code in codes], dtype=bool)
    contract_idx, day_idx = np.nonzero(mask)  # row-major: by contract, then day
    paths = max(1, round(rows / contract_idx.size))
    return Layout(days, codes, contract_idx, day_idx, paths)


def _generator_meta(rows: int, seed: int) -> dict[str, int]:
    return {"rows": rows, "seed": seed, "version": GENERATOR_VERSION}


def _chunk(
    rng: np.random.Generator, layout: Layout, first_path: int, n_paths: int, schema: pa.Schema
) -> pa.Table:
    """Bars of the paths ``first_path ..`` (``n_paths`` of them), by (path, contract, ts).

    Each (path, contract) has a log-price random walk over all days (a common
    shock per path and day plus a contract shock, clipped to ±4 %); a bar's
    close is the walk on its day, its open the previous day's level with a
    small gap; high and low add wicks. Prices are integer ticks, so they are
    exact multiples of 0.001, positive, and ``low <= min(open, close)``,
    ``high >= max(open, close)``. ``settle`` is the close.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n_contracts, n_days = len(layout.codes), layout.days.size
    shocks = DAILY_VOL_COMMON * rng.standard_normal((n_paths, 1, n_days))
    shocks = shocks + DAILY_VOL_CONTRACT * rng.standard_normal((n_paths, n_contracts, n_days))
    np.clip(shocks, -MAX_DAILY_MOVE, MAX_DAILY_MOVE, out=shocks)
    start = (
        np.log(5.0)
        + 0.25 * rng.standard_normal((n_paths, 1, 1))
        + 0.01 * np.arange(n_contracts)[None, :, None]  # a gentle contango
    )
    log_close = start + np.cumsum(shocks, axis=2)
    log_prev = log_close - shocks
    del shocks

    ci, di = layout.contract_idx, layout.day_idx
    lc = log_close[:, ci, di].ravel()
    lp = log_prev[:, ci, di].ravel()
    del log_close, log_prev
    m = lc.size
    close = np.maximum(np.rint(np.exp(lc) * TICKS_PER_UNIT), 1.0)
    open_ = np.maximum(np.rint(np.exp(lp + 0.002 * rng.standard_normal(m)) * TICKS_PER_UNIT), 1.0)
    wick_up = np.floor(np.abs(rng.standard_normal(m)) * 0.004 * close)
    wick_down = np.floor(np.abs(rng.standard_normal(m)) * 0.004 * close)
    high = np.maximum(open_, close) + wick_up
    low = np.maximum(np.minimum(open_, close) - wick_down, 1.0)
    volume = np.floor(rng.exponential(250.0, m))
    open_interest = np.floor(rng.uniform(1_000.0, 20_000.0, m))

    ts = np.tile(layout.days[di], n_paths).astype("datetime64[us]")
    path = np.repeat(np.arange(first_path, first_path + n_paths, dtype=np.int32), ci.size)
    contract = pc.take(pa.array(layout.codes, pa.string()), pa.array(np.tile(ci, n_paths)))
    columns = {
        "ts": pa.array(ts, pa.timestamp("us")),
        "path": pa.array(path, pa.int32()),
        "contract": contract,
        "open": pa.array(open_ / TICKS_PER_UNIT),
        "high": pa.array(high / TICKS_PER_UNIT),
        "low": pa.array(low / TICKS_PER_UNIT),
        "close": pa.array(close / TICKS_PER_UNIT),
        "settle": pa.array(close / TICKS_PER_UNIT),
        "volume": pa.array(volume),
        "open_interest": pa.array(open_interest),
        "limit_locked": pa.array(np.zeros(m, dtype=np.bool_)),  # moves stay inside the band
    }
    return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def make_futures_parquet(
    path: str | os.PathLike[str], rows: int = 10_000_000, seed: int = 0
) -> int:
    """Write a valid ``futures`` Parquet file of about ``rows`` bars; return its row count.

    The file passes every rule of ``tokbt.data.validate`` for ``TPI_MONTH``
    (with no ``settle_in_band`` warning): paths x weekday business days from
    2026-01-05 x the 12 contracts live each day, ordered by (path, contract,
    ts). It is written in chunks of about ``CHUNK_ROWS`` rows (one row group
    each), so the generator's memory stays small whatever ``rows`` is. The
    same ``rows`` and ``seed`` give the same file.
    """
    import numpy as np
    import pyarrow.parquet as pq

    from tokbt.data.schemas import FUTURES

    layout = futures_layout(rows)
    meta = json.dumps(_generator_meta(rows, seed)).encode()
    schema = FUTURES.schema.with_metadata({META_KEY: meta})
    rng = np.random.default_rng(seed)
    paths_per_chunk = max(1, CHUNK_ROWS // layout.rows_per_path)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for first in range(0, layout.paths, paths_per_chunk):
            n = min(paths_per_chunk, layout.paths - first)
            table = _chunk(rng, layout, first, n, schema)
            writer.write_table(table, row_group_size=table.num_rows)
    return layout.rows


def kept_file_matches(path: Path, rows: int, seed: int) -> bool:
    """Whether ``path`` is a file this generator wrote with the same ``rows`` and ``seed``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return False
    try:
        return bool(json.loads(meta.get(META_KEY, b"{}")) == _generator_meta(rows, seed))
    except ValueError:
        return False


# -- jobs (each runs in its own child process) -----------------------------------------------


def _file_mb(path: Path) -> float:
    return path.stat().st_size / common.MB if path.exists() else 0.0


def job_baseline_duckdb(file: Path, store: Path) -> dict[str, Any]:
    """Raw DuckDB: ``CREATE TABLE t AS SELECT * FROM read_parquet(file)`` into ``store``."""
    import duckdb

    start_rss = common.peak_rss_mb()
    t0 = time.perf_counter()
    con = duckdb.connect(str(store))
    try:
        con.execute(f"SET memory_limit = '{common.memory_limit()}'")
        con.execute(f"SET temp_directory = '{_sql_str(str(store) + '.tmp')}'")
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{_sql_str(str(file))}')")
        row = con.execute("SELECT count(*) FROM t").fetchone()
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    return {
        "rows": int(row[0]) if row else 0,
        "seconds": seconds,
        "start_rss_mb": start_rss,
        "store_mb": _file_mb(store),
    }


def job_tokbt_import(file: Path, store: Path) -> dict[str, Any]:
    """``BarStore(store).import_file(file, "bench", "futures")``."""
    from tokbt.data.store import BarStore

    start_rss = common.peak_rss_mb()
    t0 = time.perf_counter()
    with BarStore(store) as bars:
        result = bars.import_file(file, "bench", "futures")
    seconds = time.perf_counter() - t0
    return {
        "rows": result.rows,
        "seconds": seconds,
        "start_rss_mb": start_rss,
        "store_mb": _file_mb(store),
        "errors": len(result.report.errors),
        "warnings": len(result.report.warnings),
    }


def job_pyarrow_read(file: Path, store: Path) -> dict[str, Any]:
    """``pyarrow.parquet.read_table(file)`` (``store`` is unused)."""
    import pyarrow.parquet as pq

    del store
    start_rss = common.peak_rss_mb()
    t0 = time.perf_counter()
    table = pq.read_table(file)
    seconds = time.perf_counter() - t0
    return {
        "rows": table.num_rows,
        "seconds": seconds,
        "start_rss_mb": start_rss,
        "arrow_mb": table.nbytes / common.MB,
    }


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def job_tokbt_steps(file: Path, store: Path) -> dict[str, Any]:
    """``BarStore.import_file`` step by step: seconds and peak RSS of each step.

    Uses the ``on_step`` hook of ``import_file`` (stage, each validation step,
    insert, done) plus the closing checkpoint. A step's peak RSS is measured
    after resetting the process's peak (``/proc/self/clear_refs``); where that
    is not allowed it is the running peak.
    """
    import duckdb

    from tokbt.data.store import BarStore

    steps: list[dict[str, Any]] = []
    resettable = common.reset_peak_rss()
    bars = BarStore(store)
    current: dict[str, Any] = {}

    def close_step() -> None:
        if not current:
            return
        entry = {
            "step": current["name"],
            "seconds": time.perf_counter() - current["t0"],
            "peak_rss_mb": common.peak_rss_mb(),
            "rss_after_mb": common.rss_mb(),
        }
        with contextlib.suppress(duckdb.Error):
            sql = "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) FROM "
            mem = bars.con.execute(sql + "duckdb_memory()").fetchone()
            if mem is not None:
                entry["duckdb_mb"] = int(mem[0] or 0) / common.MB
                entry["duckdb_spill_mb"] = int(mem[1] or 0) / common.MB
        steps.append(entry)

    def on_step(name: str) -> None:
        close_step()
        if resettable:
            common.reset_peak_rss()
        current.update(name=name, t0=time.perf_counter())

    t_all = time.perf_counter()
    result = bars.import_file(file, "bench", "futures", on_step=on_step)
    current.clear()
    on_step("close (checkpoint)")
    bars.close()
    close_step()
    steps = [s for s in steps if s["step"] != "done"]
    return {
        "rows": result.rows,
        "seconds": time.perf_counter() - t_all,
        "errors": len(result.report.errors),
        "warnings": len(result.report.warnings),
        "peak_reset": resettable,
        "steps": steps,
        "store_mb": _file_mb(store),
    }


JOB_FUNCS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "baseline_duckdb": job_baseline_duckdb,
    "tokbt_import": job_tokbt_import,
    "pyarrow_read": job_pyarrow_read,
    STEPS_JOB: job_tokbt_steps,
}


def run_job_here(name: str, file: Path, store: Path) -> dict[str, Any]:
    """Run job ``name`` in this process; add its peak RSS and name to its result."""
    result = JOB_FUNCS[name](file, store)
    if name != STEPS_JOB:
        result["peak_rss_mb"] = common.peak_rss_mb()
    result["job"] = name
    return result


def run_job_child(name: str, file: Path, work: Path, timeout: float | None) -> dict[str, Any]:
    """Run job ``name`` on ``file`` in a fresh Python process with a fresh store under ``work``."""
    return common.run_job_child(__file__, name, work, timeout, ["--file", str(file)])


# -- the run -------------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    """CPU, memory, OS and library versions of this run."""
    return common.describe_machine(
        ("duckdb", "pyarrow", "numpy", "tokbt"), {"memory_limit": common.memory_limit()}
    )


def summarise(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per job: median seconds, max peak RSS, rows/s and ratios to the baseline."""
    rows: list[dict[str, Any]] = []
    for name, results in runs.items():
        timing = common.seconds_summary(results)
        n = int(results[0]["rows"])
        rows.append(
            {
                "job": name,
                "rows": n,
                **timing,
                "rows_per_s": common.per_second(n, timing["seconds"]),
                **common.rss_summary(results),
                "store_mb": results[0].get("store_mb"),
            }
        )
    return common.add_baseline_ratios(rows, BASELINE)


def report(out: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    m, g = out["machine"], out["file"]
    lines = [
        common.machine_line(m),
        f"versions: python {m['python']}, duckdb {m['duckdb']}, pyarrow {m['pyarrow']}, "
        f"numpy {m['numpy']}, tokbt {m['tokbt']}; DuckDB memory_limit {m['memory_limit']}",
        f"file: {g['path']} ({g['rows']:,} rows, {g['mb']:.0f} MB, {g['row_groups']} row groups, "
        f"{g['paths']} paths x {g['days']} days x {g['contracts_per_day']} contracts; "
        + (
            "reused"
            if g["reused"]
            else f"generated in {g['seconds']:.1f} s, generator peak RSS {g['peak_rss_mb']:.0f} MB"
        )
        + ")",
        common.repeats_line(out["repeat"]),
        "",
    ]
    headers = [
        "job",
        "rows",
        "seconds",
        "rows/s",
        *common.RSS_HEADERS,
        "store MB",
        *common.RATIO_HEADERS,
    ]
    body = [
        [
            r["job"],
            f"{r['rows']:,}",
            common.seconds_cell(r),
            f"{r['rows_per_s']:,.0f}",
            *common.rss_cells(r),
            common.fmt(r["store_mb"], ",.0f"),
            *common.ratio_cells(r),
        ]
        for r in out["summary"]
    ]
    if body:
        lines.append(common.format_table(headers, body))
    tokbt = out["runs"].get("tokbt_import")
    if tokbt:
        lines.append(
            f"\ntokbt_import validation: {tokbt[0]['errors']} errors, "
            f"{tokbt[0]['warnings']} warnings"
        )
    steps = out.get("steps")
    if steps:
        total = sum(s["seconds"] for s in steps["steps"])
        lines += [
            "",
            f"tokbt import step by step ({steps['seconds']:.1f} s in all; peak RSS per step "
            + ("after resetting the peak" if steps["peak_reset"] else "is the running peak")
            + "; DuckDB MB = buffer manager memory after the step):",
        ]
        lines.append(
            common.format_table(
                ["step", "seconds", "% time", "peak RSS MB", "RSS after MB", "DuckDB MB"],
                [
                    [
                        s["step"],
                        f"{s['seconds']:.2f}",
                        f"{100 * s['seconds'] / total:.1f}" if total else "-",
                        f"{s['peak_rss_mb']:,.0f}",
                        f"{s['rss_after_mb']:,.0f}",
                        common.fmt(s.get("duckdb_mb"), ",.0f"),
                    ]
                    for s in steps["steps"]
                ],
            )
        )
    return "\n".join(lines)


def _warm_page_cache(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(1 << 23):
            pass


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate (or reuse) the file, run every job ``args.repeat`` times, summarise."""
    import pyarrow.parquet as pq

    os.environ["TOKBT_MEMORY_LIMIT"] = args.memory_limit  # children inherit it
    machine = describe_machine()
    jobs = [j for j in JOBS if j in args.jobs]
    with tempfile.TemporaryDirectory(prefix="tokbt-import-bench-", dir=args.tmp_dir) as tmp:
        work = Path(tmp)
        file = Path(args.keep_file) if args.keep_file else work / "futures.parquet"
        layout = futures_layout(args.rows)
        reused = bool(args.keep_file) and kept_file_matches(file, args.rows, args.seed)
        gen_seconds = 0.0
        if not reused:
            print(f"generating {layout.rows:,} rows into {file} ...", file=sys.stderr)
            file.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            make_futures_parquet(file, args.rows, args.seed)
            gen_seconds = time.perf_counter() - t0
        gen_peak = common.peak_rss_mb()
        _warm_page_cache(file)
        runs = common.run_interleaved(
            jobs,
            args.repeat,
            work,
            lambda job, folder: run_job_child(job, file, folder, args.timeout),
        )
        steps = None
        if args.profile_steps:
            print(f"{STEPS_JOB} ...", file=sys.stderr)
            steps = run_job_child(STEPS_JOB, file, work / STEPS_JOB, args.timeout)
        file_info = {
            "path": str(file) if args.keep_file else "<temporary>",
            "rows": layout.rows,
            "paths": layout.paths,
            "days": int(layout.days.size),
            "contracts_per_day": round(layout.rows_per_path / layout.days.size),
            "mb": _file_mb(file),
            "row_groups": pq.ParquetFile(file).num_row_groups,
            "seed": args.seed,
            "reused": reused,
            "seconds": gen_seconds,
            "peak_rss_mb": gen_peak,
        }
    return {
        "machine": machine,
        "file": file_info,
        "repeat": args.repeat,
        "summary": summarise(runs),
        "runs": runs,
        "steps": steps,
        "command": common.command_line(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(
        description="Benchmark importing a large futures Parquet file into a tokbt BarStore, "
        "against raw DuckDB ingest and a pyarrow read, each in a fresh subprocess.",
    )
    p.add_argument("--rows", type=int, default=10_000_000, help="rows to generate (about)")
    common.add_repeat_argument(p)
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument(
        "--keep-file",
        metavar="PATH",
        help="write the generated file here and keep it; reused if it already holds "
        "the same --rows and --seed",
    )
    common.add_output_arguments(p, JOBS)
    p.add_argument(
        "--profile-steps",
        action="store_true",
        help="also replay tokbt's import step by step (time and peak RSS per step)",
    )
    common.add_resource_arguments(
        p,
        memory_limit_help="DuckDB memory_limit for tokbt and the baseline "
        "(default: $TOKBT_MEMORY_LIMIT or 2GB)",
        tmp_dir_help="where stores and the file go (default: system temp)",
    )
    common.add_job_arguments(p, JOB_FUNCS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    common.check_arguments(p, args, JOBS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a child job (``--job``) or a whole benchmark run."""
    args = parse_args(argv)
    if args.job:
        if not (args.file and args.store):
            raise SystemExit("--job needs --file and --store")
        common.print_result(run_job_here(args.job, Path(args.file), Path(args.store)))
        return 0
    common.finish(run(args), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
