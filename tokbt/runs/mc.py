"""``tokbt mc``: Monte Carlo runs in seeded path chunks, on local processes or Dask, resumable.

A Monte Carlo config is a comparison config (``tokbt.runs.compare``) on a simulated
market, plus a ``[grid]`` over any config field, by dotted path::

    [grid]
    "ledger.margin_buffer" = [0.0, 0.25]
    "market.simulate.overrides.spot.kappa" = [12.0, 18.0]
    "policies.static.params.ratio" = [0.5, 1.0]      # policies.<label>.params.<name>

Every combination of the grid is a *cell*; every cell is cut into chunks of
``chunk_paths`` paths. A *job* is one chunk of one cell: it simulates its paths
(each path has its own seed, spawned from the run's seed, so a path is the same
whatever chunk it falls in), replays them through every policy, measures them and
writes one Parquet file of per-path metrics (``OUT/cell-NNN/paths-LO-HI.parquet``,
written atomically). Journals never outlive their job. The run is resumable: a job
whose file exists is not run again. Results are the per-path files read back in path
order, so they do not depend on the executor, the number of workers or the chunking.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import os
import platform
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, ValidationError, model_validator

import tokbt
from tokbt.errors import TokbtError
from tokbt.market.config_errors import describe
from tokbt.metrics.evaluate import evaluate, series_frame
from tokbt.metrics.evaluation import Evaluation
from tokbt.metrics.path import PathResults
from tokbt.metrics.rows import RunFrame
from tokbt.runs.backtest import build_plan, part_totals, simulation_facts, strategy_warnings
from tokbt.runs.compare import CompareConfig, Replay, check_policies, run_policy
from tokbt.runs.config import ConfigError, SimulateMarket, load_toml
from tokbt.runs.stored import StoredRun
from tokbt.runs.warnings import Totals
from tokbt.sim import SimMarket, SimPlan
from tokbt.sim.simulate import simulate_paths
from tokbt.strategy import create, resolve

MONTHLY = ("tokens", "unhedged_cost", "hedged_cost")
"""Monthly per-path arrays kept in a job's file (as list columns ``monthly_*``)."""
MONTHLY_PATHS = 1000
"""Paths whose monthly costs an evaluation keeps for the fan chart (all paths count in
the monthly metrics)."""


class McConfig(CompareConfig):
    """A Monte Carlo run: a comparison on a simulated market, a grid, and retries."""

    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="Dotted config path → the values to try."
    )
    retries: int = Field(2, ge=0, le=10, description="Times a failed chunk is retried.")

    @model_validator(mode="after")
    def _simulated(self) -> Self:
        if self.market.simulate is None:
            raise ValueError("a Monte Carlo run needs [market.simulate]")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key} has no values")
        return self


def load_mc_config(path: str | Path) -> McConfig:
    """Read and validate a Monte Carlo TOML file: every grid cell, and every policy's
    parameters in each; ``ConfigError`` names the file and field."""
    config = load_toml(path, McConfig)
    check_policies(path, config)
    try:
        grid = cells(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if config.grid:
        for cell in grid:
            check_policies(path, cell.config, where=f"grid point {cell.values}: ")
    return config


def demo_config() -> McConfig:
    """The config of ``tokbt demo`` (``tokbt/runs/demo.toml``)."""
    return load_mc_config(Path(__file__).with_name("demo.toml"))


def with_paths(config: McConfig, paths: int) -> McConfig:
    """``config`` simulating ``paths`` paths."""
    data = config.model_dump(mode="json")
    data["market"]["simulate"]["paths"] = paths
    return McConfig.model_validate(data)


# -- cells ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Cell:
    """One combination of the grid: its values and the comparison it runs."""

    index: int
    values: dict[str, Any]
    config: CompareConfig

    @property
    def label(self) -> str:
        """``key=value, ...`` of the grid values (short keys), or ``""`` without a grid."""
        return ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in self.values.items())


def _assign(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b]... = value`` for ``dotted = "a.b..."``; ``policies.<label>`` picks the
    policy with that label (or name); below ``overrides`` the rest stays one dotted key (the
    scenario's own override syntax, e.g. ``spot.kappa``)."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            matches = [p for p in node if (p.get("label") or p.get("name")) == part]
            if not matches:
                raise ConfigError(f"grid.{dotted}: no policy labelled {part!r}")
            node = matches[0]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"grid.{dotted}: {'.'.join(parts[:i])} is not a table")
        node = node.setdefault(part, {})
        if part == "overrides":
            node[".".join(parts[i + 1 :])] = value
            return
    if not isinstance(node, dict):
        raise ConfigError(f"grid.{dotted}: {'.'.join(parts[:-1])} is not a table")
    node[parts[-1]] = value


def cells(config: McConfig) -> list[Cell]:
    """The grid's cells in order (one cell without a grid); each cell is validated."""
    base = config.model_dump(mode="json", exclude={"grid", "retries"})
    keys = list(config.grid)
    out = []
    for index, values in enumerate(itertools.product(*config.grid.values())):
        data = json.loads(json.dumps(base))
        point = dict(zip(keys, values, strict=True))
        for key, value in point.items():
            _assign(data, key, value)
        try:
            cell = CompareConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"grid point {point}: {describe(exc, CompareConfig)}") from None
        out.append(Cell(index, point, cell))
    return out


# -- jobs -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    """One chunk ``[lo, hi)`` of the paths of one cell, and where its file goes."""

    cell: int
    lo: int
    hi: int
    config: str = dataclasses.field(repr=False)
    out: str = dataclasses.field(repr=False)

    @property
    def path(self) -> Path:
        """The job's Parquet file."""
        return (
            Path(self.out) / f"cell-{self.cell:03d}" / f"paths-{self.lo:09d}-{self.hi:09d}.parquet"
        )


def jobs(config: McConfig, out: Path) -> list[Job]:
    """Every job of the run, cell by cell, chunk by chunk."""
    listed = []
    for cell in cells(config):
        sim = cell.config.market.simulate
        assert sim is not None
        text = cell.config.model_dump_json()
        for lo in range(0, sim.paths, cell.config.chunk_paths):
            hi = min(lo + cell.config.chunk_paths, sim.paths)
            listed.append(Job(cell.index, lo, hi, text, str(out)))
    return listed


@lru_cache(maxsize=4)
def _plan(simulate: str) -> SimPlan:
    """``build_plan`` of a ``[market.simulate]`` table given as JSON, cached per process."""
    return build_plan(SimulateMarket.model_validate_json(simulate))


def run_job(job: Job) -> str:
    """Simulate, replay and measure one chunk; write its Parquet file; return its path.

    A top-level function of plain arguments, so that any executor can ship it to a
    worker process.
    """
    config = CompareConfig.model_validate_json(job.config)
    sim = config.market.simulate
    assert sim is not None
    plan = _plan(sim.model_dump_json())
    source = Replay(SimMarket(plan, simulate_paths(plan, range(job.lo, job.hi))))
    tables, totals = [], {}
    for policy, _ in config.expanded():
        chunk = run_policy(source, policy, resolve(policy.name), config)
        assert chunk.metrics is not None
        tables.append(_table(policy.key, chunk.metrics))
        totals[policy.key] = part_totals(chunk.part).to_json()
    table = pa.concat_tables(tables)
    metadata = (table.schema.metadata or {}) | {_TOTALS_KEY: json.dumps(totals).encode()}
    table = table.replace_schema_metadata(metadata)
    target = job.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.partial")
    # a row group per policy: reading one policy's rows (``_read``) skips the others' groups
    pq.write_table(table, partial, compression="zstd", row_group_size=tables[0].num_rows)
    partial.replace(target)
    return str(target)


_TOTALS_KEY = b"warning_totals"
"""A chunk file's metadata key: per policy, the ``tokbt.runs.warnings.Totals`` of its paths."""


def run_warnings_of(config: McConfig, out: Path) -> list[str]:
    """Every policy's warnings (``tokbt.runs.warnings``) of every cell, from the totals its
    chunk files carry, labelled ``policy`` (``cell: policy`` with a grid)."""
    out_: list[str] = []
    for cell in cells(config):
        parts: dict[str, list[Totals]] = {}
        for f in sorted((out / f"cell-{cell.index:03d}").glob("paths-*.parquet")):
            stored = (pq.read_schema(f).metadata or {}).get(_TOTALS_KEY)
            for label, data in json.loads(stored or b"{}").items():
                parts.setdefault(label, []).append(Totals.from_json(data))
        names = {p.key: p.name for p, _ in cell.config.expanded()}
        prefix = f"{cell.label}: " if cell.label else ""
        for label, chunks in parts.items():
            strategy = resolve(names.get(label, label))
            for text in strategy_warnings(chunks, cell.config, strategy, label):
                out_.append(f"{prefix}{label}: {text}")
    return out_


def _month_ends(frame: RunFrame) -> np.ndarray:
    """Positions in ``frame.days`` of the last day of each month."""
    months = frame.days.astype("datetime64[M]")
    return np.searchsorted(months, frame.months, side="right") - 1


def _table(label: str, result: PathResults) -> pa.Table:
    """One policy's per-path metrics, monthly arrays and month-end series as a table."""
    frame = result.frame
    n = frame.n_paths
    columns: dict[str, Any] = {
        "policy": pa.array([label] * n, pa.string()),
        "path": pa.array(frame.path_ids, pa.int64()),
    }
    for name, values in result.columns.items():
        columns[name] = pa.array(values, pa.float64())
    for name in MONTHLY:
        columns[f"monthly_{name}"] = _lists(result.monthly[name])
    ends = _month_ends(frame)
    for name, values in result.daily.items():
        columns[f"series_{name}"] = _lists(values[ends].T)
    metadata = {"days": json.dumps([str(d) for d in frame.days[ends]])}  # the month ends
    return pa.table(columns).replace_schema_metadata(metadata)


def _lists(values: np.ndarray) -> pa.Array:
    """Rows of a ``(n, k)`` array as a fixed-size list column."""
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float64).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


# -- executors ------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs jobs; calls ``done(job)`` as each finishes, ``failed(job, error)`` as one fails."""

    def run(
        self, jobs: Sequence[Job], done: Callable[[Job], None], failed: Callable[[Job, str], None]
    ) -> None:
        """Run every job, retrying failures; raise if a job still fails."""
        ...


@dataclasses.dataclass
class LocalExecutor:
    """Jobs on local worker processes (``workers``: default all cores; 1 runs in this process).

    Workers are spawned, not forked: DuckDB and Arrow thread pools do not survive a fork.
    """

    workers: int | None = None
    retries: int = 2

    def run(
        self, jobs: Sequence[Job], done: Callable[[Job], None], failed: Callable[[Job, str], None]
    ) -> None:
        """Run every job, each failure retried up to ``retries`` times."""
        workers = self.workers or os.cpu_count() or 1
        if workers == 1:
            for job in jobs:
                _serially(job, self.retries, failed)
                done(job)
            return
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            _drain(pool.submit, jobs, self.retries, done, failed, _first_done)


def _serially(job: Job, retries: int, failed: Callable[[Job, str], None]) -> None:
    for attempt in range(retries + 1):
        try:
            run_job(job)
            return
        except Exception as exc:
            failed(job, f"{type(exc).__name__}: {exc}")
            if attempt == retries:
                raise ChunkError(job, exc) from exc


class _Handle(Protocol):
    """A submitted job, as ``_drain`` uses it: a ``concurrent.futures`` or Dask future."""

    def exception(self) -> BaseException | None:
        """The job's error once it has finished (``None``: it succeeded)."""
        ...

    def cancel(self) -> Any:
        """Do not run the job if it has not started."""
        ...


H = TypeVar("H", bound=_Handle)


def _first_done(pending: Collection[Future[str]]) -> Future[str]:
    """The first of ``pending`` to finish (waits for one)."""
    return next(as_completed(pending))


def _drain(
    submit: Callable[..., H],
    jobs: Sequence[Job],
    retries: int,
    done: Callable[[Job], None],
    failed: Callable[[Job, str], None],
    first_done: Callable[[Collection[H]], H],
) -> None:
    """Submit ``jobs``, resubmit failures up to ``retries`` times, report each outcome.

    ``submit(run_job, job)`` starts a job; ``first_done(pending)`` waits for one of the
    pending futures to finish and returns it.
    """
    attempts = dict.fromkeys(range(len(jobs)), 0)
    pending = {submit(run_job, job): i for i, job in enumerate(jobs)}
    while pending:
        future = first_done(pending)
        i = pending.pop(future)
        error = future.exception()
        if error is None:
            done(jobs[i])
            continue
        failed(jobs[i], f"{type(error).__name__}: {error}")
        attempts[i] += 1
        if attempts[i] > retries:
            for other in pending:
                other.cancel()
            raise ChunkError(jobs[i], error) from error
        pending[submit(run_job, jobs[i])] = i


class ChunkError(TokbtError, RuntimeError):
    """A chunk failed on every attempt; the message names the cell and paths, and the
    last attempt's error (a ``StrategyError`` names the strategy, hook and event) is
    chained. The run is incomplete: no result is evaluated, saved or reported."""

    def __init__(self, job: Job, error: BaseException) -> None:
        super().__init__(
            f"chunk of cell {job.cell}, paths {job.lo}-{job.hi - 1}, failed after retries: "
            f"{type(error).__name__}: {error}"
        )
        self.job = job


# -- the run --------------------------------------------------------------------------------

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` in jobs."""


def _fingerprint(config: McConfig) -> str:
    text = config.model_dump_json(exclude={"retries"})
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest(config: McConfig, out: Path, resume: bool) -> None:
    """Write ``OUT/manifest.json``; refuse to mix the chunks of another config."""
    path = out / "manifest.json"
    fingerprint = _fingerprint(config)
    if path.exists():
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
        except (ValueError, AttributeError) as exc:
            raise ConfigError(
                f"{path} is not a tokbt manifest ({exc}); use a new --out folder"
            ) from None
        if found != fingerprint:
            raise ConfigError(
                f"{out} holds chunks of another Monte Carlo config; use a new --out folder"
            )
        if not resume:
            for old in out.glob("cell-*/paths-*.parquet"):
                old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for partial in out.glob("manifest.*.partial"):  # left by a killed run
        partial.unlink()
    data = {"fingerprint": fingerprint, "config": config.model_dump(mode="json")}
    written = path.with_suffix(f".{os.getpid()}.partial")  # a kill never leaves half a manifest
    written.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    written.replace(path)


def monte_carlo(
    config: McConfig,
    out: str | Path,
    *,
    executor: Executor | None = None,
    resume: bool = True,
    progress: Progress | None = None,
) -> StoredRun:
    """Run ``config`` chunk by chunk into ``out``; return the evaluated (unsaved) run.

    Args:
        config: the run (``paths`` in ``[market.simulate]``).
        out: the folder of the per-path chunk files (and the manifest).
        executor: ``LocalExecutor()`` (default) or ``tokbt.runs.dask.DaskExecutor``.
        resume: keep the chunks already written by an interrupted run of the same config.
        progress: called as ``progress(done, total)`` in jobs.
    """
    started = time.perf_counter()
    folder = Path(out)
    for p, _ in config.expanded():
        create(resolve(p.name), p.params)  # bad parameters fail before anything runs
    _manifest(config, folder, resume)
    for partial in folder.glob("cell-*/*.partial"):  # left by a killed worker
        partial.unlink()
    every = jobs(config, folder)
    todo = [job for job in every if not job.path.exists()]
    failures: list[dict[str, Any]] = []
    finished = len(every) - len(todo)
    if progress is not None:
        progress(finished, len(every))

    def done(_job: Job) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(finished, len(every))

    def failed(job: Job, error: str) -> None:
        failures.append({"cell": job.cell, "paths": [job.lo, job.hi], "error": error})

    (executor or LocalExecutor(retries=config.retries)).run(todo, done, failed)
    evaluation = evaluate_chunks(config, folder)
    record = _record(config, len(every), len(every) - len(todo), failures, started)
    record["warnings"] = run_warnings_of(config, folder)
    return StoredRun("", record, evaluation)


def _files(out: Path, cell: int) -> list[Path]:
    files = sorted((out / f"cell-{cell:03d}").glob("paths-*.parquet"))
    if not files:
        raise ConfigError(f"{out}: cell {cell} has no chunk files")
    return files


def _read(files: Sequence[Path], columns: Sequence[str], label: str | None = None) -> pa.Table:
    """``columns`` of every chunk file (of policy ``label`` only, if given), in path order;
    the files are read side by side on a thread per core (Parquet decoding releases the
    GIL; a file's read is mostly its fixed cost, and there is one file per chunk)."""
    where = None if label is None else [("policy", "==", label)]

    def read(f: Path) -> pa.Table:
        return pq.read_table(f, columns=list(columns), filters=where, use_threads=False)

    with ThreadPoolExecutor(max(1, min(len(files), os.cpu_count() or 1))) as pool:
        return pa.concat_tables(pool.map(read, files))


def read_cell(out: Path, cell: int, *, monthly_paths: int | None = None) -> dict[str, PathResults]:
    """The per-path results of one cell, per policy label, paths in order.

    Memory is bounded for large runs: the per-path columns of every path are read, the
    monthly arrays of the first ``monthly_paths`` paths only (default: all), and no
    series (``series_quantiles`` reads those one at a time).
    """
    files = _files(out, cell)
    schema = pq.read_schema(files[0])
    days = np.array(json.loads((schema.metadata or {})[b"days"]), dtype="datetime64[D]")
    scalars = [n for n in schema.names if not n.startswith(("monthly_", "series_"))]
    labels = list(dict.fromkeys(pq.read_table(files[0], columns=["policy"])["policy"].to_pylist()))
    head = _head(files, schema, monthly_paths)
    out_: dict[str, PathResults] = {}
    for label in labels:  # one policy at a time: the run's table is never held whole
        rows = _read(files, scalars, label)
        ids = rows.column("path").to_numpy()
        columns = {n: rows.column(n).to_numpy() for n in scalars if n not in ("policy", "path")}
        months = _of(head, label)
        monthly = {m: _matrix(months.column(f"monthly_{m}")) for m in MONTHLY}
        out_[label] = PathResults(_month_end_frame(ids, days), columns, {}, monthly)
    return out_


def _head(files: Sequence[Path], schema: pa.Schema, paths: int | None) -> pa.Table:
    """The monthly columns of the first ``paths`` paths (all when ``None``)."""
    names = ["policy", "path", *(f"monthly_{m}" for m in MONTHLY)]
    tables, seen = [], 0
    for f in files:
        if paths is not None and seen >= paths:
            break
        part = pq.read_table(f, columns=names)
        tables.append(part)
        seen += len(set(part.column("path").to_pylist()))
    table = pa.concat_tables(tables)
    if paths is None:
        return table
    keep = np.sort(np.unique(table.column("path").to_numpy()))[:paths]
    return table.filter(pa.array(np.isin(table.column("path").to_numpy(), keep)))


def _month_end_frame(ids: np.ndarray, days: np.ndarray) -> RunFrame:
    """A frame whose "days" are the month ends the series were sampled at."""
    empty = np.array([], "datetime64[D]")
    return RunFrame(ids, days, (), 1.0, empty, empty, np.full(len(ids), np.nan), empty)


def series_quantiles(out: Path, cell: int, label: str, key: str) -> pd.DataFrame:
    """The ``series`` rows of one cell's policy ``label`` (reported as ``key``), read one
    series at a time."""
    files = _files(out, cell)
    schema = pq.read_schema(files[0])
    days = np.array(json.loads((schema.metadata or {})[b"days"]), dtype="datetime64[D]")
    names = [n for n in schema.names if n.startswith("series_")]
    parts = []
    for name in names:
        values = _matrix(_read(files, [name], label).column(name)).T
        parts.append(series_frame(key, name.removeprefix("series_"), days, values))
    return pd.concat(parts, ignore_index=True)


def _of(table: pa.Table, label: str) -> pa.Table:
    """The rows of policy ``label``."""
    return table.filter(pa.array(table.column("policy").to_numpy(zero_copy_only=False) == label))


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size list column as a ``(rows, size)`` array."""
    if column.num_chunks == 0 or len(column) == 0:
        return np.empty((0, 0))
    flat = pa.concat_arrays([c.flatten() for c in column.chunks])
    return np.asarray(flat.to_numpy(), np.float64).reshape(len(column), -1)


def evaluate_chunks(config: McConfig, out: Path) -> Evaluation:
    """The evaluation of a finished run from its chunk files: every cell's policies,
    labelled ``policy [grid values]`` when there is a grid."""
    results: dict[str, PathResults] = {}
    sweep: dict[str, dict[str, float]] = {}
    origin: dict[str, tuple[int, str]] = {}
    base_sweep = {p.key: point for p, point in config.expanded() if point is not None}
    baseline = config.baseline or config.policies[0].key
    base_label = baseline
    for cell in cells(config):
        for label, result in read_cell(out, cell.index, monthly_paths=MONTHLY_PATHS).items():
            key = f"{label} [{cell.label}]" if cell.label else label
            results[key] = result
            origin[key] = (cell.index, label)
            numeric = {k.rsplit(".", 1)[-1]: float(v) for k, v in cell.values.items() if _number(v)}
            point = base_sweep.get(label, {}) | numeric
            if point:
                sweep[key] = point
            if cell.index == 0 and label == baseline:
                base_label = key
    boot = config.bootstrap
    evaluation = evaluate(
        results,
        baseline=base_label,
        confidence=boot.confidence,
        resamples=boot.resamples,
        seed=boot.seed,
        sweep=sweep,
        monthly_paths=MONTHLY_PATHS,
    )
    series = [series_quantiles(out, *origin[key], key) for key in results]
    return dataclasses.replace(evaluation, series=pd.concat(series, ignore_index=True))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _record(
    config: McConfig, n_jobs: int, resumed: int, failures: list[dict[str, Any]], started: float
) -> dict[str, Any]:
    sim = config.market.simulate
    assert sim is not None
    return {
        "kind": "mc",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tokbt": tokbt.__version__,
        "seed": sim.seed,
        "config": config.model_dump(mode="json"),
        "inputs": [
            {
                "cell": cell.label,
                "simulation": _plan(cell_sim.model_dump_json()).digest,
                "paths": f"0-{cell_sim.paths - 1}",
            }
            for cell in cells(config)
            if (cell_sim := cell.config.market.simulate) is not None
        ],
        "market": config.market.model_dump(mode="json", exclude_none=True),
        **simulation_facts(config.market),
        "policies": [
            {"label": p.key, "strategy": p.name, "params": p.params} for p, _ in config.expanded()
        ],
        "paths": sim.paths,
        "chunks": {"total": n_jobs, "resumed": resumed, "failures": failures},
        "seconds": {"total": round(time.perf_counter() - started, 3)},
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


__all__ = [
    "Cell",
    "ChunkError",
    "Executor",
    "Job",
    "LocalExecutor",
    "McConfig",
    "cells",
    "demo_config",
    "evaluate_chunks",
    "jobs",
    "load_mc_config",
    "monte_carlo",
    "read_cell",
    "run_job",
    "series_quantiles",
    "with_paths",
]
