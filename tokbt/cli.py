"""The ``tokbt`` command line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import tokbt
from tokbt.data import BarStore, Kind, default_store_path, validate_file
from tokbt.data.recorded import price_points_path, recipe_path, spot_bars_from_series
from tokbt.errors import DataError, StoreError, TokbtError
from tokbt.market import ContractSpec, as_date, load_spec
from tokbt.market.tpi import build_tpi, load_price_points, load_recipe
from tokbt.sim import (
    Scenario,
    SimPlan,
    load_scenario,
    parse_overrides,
    scenario_names,
    simulate_paths,
    to_toml,
    write_simulation,
)
from tokbt.sim.implied import implied_market

app = typer.Typer(
    help="Backtest hedges of AI-inference compute costs with token futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Import, validate, list and export datasets of bars.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
sim_app = typer.Typer(
    help="Simulated token markets: scenarios and calibration.", no_args_is_help=True
)
app.add_typer(sim_app, name="sim")

# Tables need ~120 columns; pipes and CI logs report 80, which would squash them.
_WIDTH = max(shutil.get_terminal_size((120, 24)).columns, 120)
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="TOKBT_STORE",
        help="DuckDB store file [default: ./tokbt.duckdb].",
        show_default=False,
    ),
]
SpecOpt = Annotated[
    str, typer.Option("--spec", help="Contract preset (tpi_month, scu_month) or a TOML file.")
]


def _fail(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _spec(value: str) -> ContractSpec:
    try:
        return load_spec(value)
    except ValueError as exc:
        raise _fail(exc) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"tokbt {tokbt.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """tokbt: event-driven backtesting of compute-cost hedges with token futures."""


def _progress(label: str, counter: str = "{task.completed:,.0f} rows") -> Progress:
    """A transient progress bar on stderr: ``label``, a bar, a ``counter``, elapsed time."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        TextColumn(counter),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


# -- data ------------------------------------------------------------------------------


ColumnOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="SCHEMA=FILE: read schema column SCHEMA from the file's column FILE "
        "(repeatable), e.g. --column ts=day --column close=usd_per_hour.",
    ),
]


def _column_mapping(items: list[str] | None) -> dict[str, str]:
    """``["ts=day"]`` → ``{"ts": "day"}``; a malformed item is a ``DataError``."""
    mapping: dict[str, str] = {}
    for item in items or []:
        schema, sep, source = item.partition("=")
        if not sep or not schema.strip() or not source.strip():
            raise DataError(f"--column {item!r}: write SCHEMA=FILE, e.g. --column ts=day")
        mapping[schema.strip()] = source.strip()
    return mapping


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")],
    kind: Annotated[
        Kind | None, typer.Option("--kind", "-k", help="Kind of bars [default: from columns].")
    ] = None,
    spec: SpecOpt = "tpi_month",
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite this kind.")] = False,
    description: Annotated[str, typer.Option(help="Free text stored with the dataset.")] = "",
    column: ColumnOpt = None,
    store: StoreOpt = None,
) -> None:
    """Validate FILE and import it into the store as one kind of a dataset (all or nothing).

    A daily index as `date,close` (or `date,price`, `date,value`) imports as spot bars of
    path 0 with open, high and low equal to the close; `--column ts=day` maps any other
    name. What was filled is named in the catalog's source (`tokbt data show`).
    """
    try:
        mapping = _column_mapping(column)
        with BarStore(store) as bs, _progress(f"importing {file.name}") as progress:
            task = progress.add_task("import", total=None)
            result = bs.import_file(
                file,
                name,
                kind,
                spec=_spec(spec),
                replace=replace,
                description=description,
                on_rows=lambda n: progress.advance(task, n),
                columns=mapping,
            )
    except TokbtError as exc:
        raise _fail(exc) from None
    for w in result.report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False, soft_wrap=True)
    rate = result.rows / result.seconds if result.seconds else float("inf")
    console.print(
        f"imported {result.rows:,} {result.kind} rows into [bold]{name}[/] "
        f"in {result.seconds:.2f} s ({rate:,.0f} rows/s) — store {default_store_path(store)}"
    )


@data_app.command("validate")
def data_validate(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file of bars.")],
    kind: Annotated[
        Kind | None, typer.Option("--kind", "-k", help="Kind of bars [default: from columns].")
    ] = None,
    spec: SpecOpt = "tpi_month",
    column: ColumnOpt = None,
) -> None:
    """Check FILE against the schema and rules without importing it; exit 1 on errors."""
    try:
        mapping = _column_mapping(column)
        with _progress(f"validating {file.name}") as progress:
            task = progress.add_task("validate", total=None)
            report = validate_file(
                file, kind, _spec(spec), lambda n: progress.advance(task, n), mapping
            )
    except TokbtError as exc:
        raise _fail(exc) from None
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False, soft_wrap=True)
    for e in report.errors:
        err_console.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(code=1)
    console.print(f"{file}: {report.rows:,} {report.kind} rows, valid")


@data_app.command("ls")
def data_ls(store: StoreOpt = None) -> None:
    """List the datasets in the store, one row per kind of bars."""
    path = default_store_path(store)
    if not path.exists():
        console.print(f"no store at {path} yet: import a dataset first")
        return
    try:
        with BarStore(path, read_only=True) as bs:
            infos = bs.datasets()
    except TokbtError as exc:
        raise _fail(exc) from None
    table = Table(title=f"datasets in {path}", box=box.SIMPLE_HEAD)
    for col in (
        "dataset",
        "product",
        "kind",
        "rows",
        "paths",
        "contracts",
        "from",
        "to",
        "bar",
        "storage",
    ):
        table.add_column(
            col, justify="right" if col in {"rows", "paths", "contracts"} else "left", no_wrap=True
        )
    for info in infos:
        for part in info.parts.values():
            table.add_row(
                info.name,
                info.spec.root,
                part.kind.value,
                f"{part.rows:,}",
                f"{part.n_paths:,}",
                f"{part.n_contracts:,}" if part.kind is Kind.FUTURES else "",
                f"{part.start:%Y-%m-%d}",
                f"{part.end:%Y-%m-%d}",
                _bar_length(part.bar_seconds),
                part.storage,
            )
    console.print(table if infos else f"store {path} holds no datasets")
    if infos:
        console.print("tokbt data show NAME: sources, content hashes and the contract spec")


@data_app.command("show")
def data_show(
    name: Annotated[str, typer.Argument(help="Dataset name.")], store: StoreOpt = None
) -> None:
    """Everything the catalog records about a dataset: parts, sources, hashes, contract spec."""
    try:
        with BarStore(store, read_only=True) as bs:
            info = bs.info(name)
    except TokbtError as exc:
        raise _fail(exc) from None
    console.print(f"[bold]{info.name}[/]: {info.description or '(no description)'}")
    console.print(f"created {info.created_at:%Y-%m-%d %H:%M} UTC; product {info.spec.name}")
    for part in info.parts.values():
        where = f"{part.storage}" + (f" at {part.location}" if part.location else "")
        console.print(
            f"  {part.kind.value}: {part.rows:,} rows, {part.n_paths:,} paths, "
            f"{part.start:%Y-%m-%d} → {part.end:%Y-%m-%d}, bars of "
            f"{_bar_length(part.bar_seconds)}, {where}\n"
            f"    source {escape(part.source)}\n    sha256 {part.source_sha256}",
            highlight=False,
        )
    console.print("contract spec:")
    print(info.spec.model_dump_json(indent=2))


def _bar_length(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@data_app.command("export")
def data_export(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    out_dir: Annotated[Path, typer.Argument(help="Output folder (hive layout).")],
    kind: Annotated[
        list[Kind] | None, typer.Option("--kind", "-k", help="Kinds to export.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Export a dataset to Parquet as OUT_DIR/dataset=NAME/kind=KIND/part-0.parquet."""
    try:
        with BarStore(store, read_only=True) as bs:
            written = bs.export(name, out_dir, kind)
    except TokbtError as exc:
        raise _fail(exc) from None
    for path in written:
        console.print(f"wrote {path}")


@data_app.command("rm")
def data_rm(
    name: Annotated[str, typer.Argument(help="Dataset name.")], store: StoreOpt = None
) -> None:
    """Delete a dataset and all its bars."""
    try:
        with BarStore(store) as bs:
            bs.delete(name)
    except TokbtError as exc:
        raise _fail(exc) from None
    console.print(f"deleted {name}")


@data_app.command("build-tpi")
def data_build_tpi(
    recipe: Annotated[
        str, typer.Option(help="Index recipe: gpt4_class, market_basket, or a TOML file.")
    ] = "gpt4_class",
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Dataset name [default: tpi_<recipe>].")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="Price-point CSV [default: the shipped one].")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite the dataset.")] = False,
    store: StoreOpt = None,
) -> None:
    """Build the daily Token Price Index from recorded LLM list prices and import it as spot."""
    try:
        recipe_file = recipe_path(recipe)
        rec = load_recipe(recipe_file)
        points_file = prices or price_points_path()
        series = build_tpi(
            load_price_points(points_file),
            rec,
            start=as_date(start) if start else None,
            end=as_date(end) if end else None,
        )
        dataset = name or f"tpi_{rec.name}"
        with BarStore(store) as bs:
            bs.write_table(
                spot_bars_from_series(series),
                dataset,
                Kind.SPOT,
                replace=replace,
                description=f"Token Price Index '{rec.name}' from {points_file.name}: "
                f"{rec.description}",
                source=f"{points_file.name} + {recipe_file.name}",
            )
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    first, last = series.iloc[0], series.iloc[-1]
    console.print(
        f"built [bold]{dataset}[/]: {len(series):,} daily values "
        f"{series.index[0]:%Y-%m-%d} → {series.index[-1]:%Y-%m-%d}, "
        f"${first:,.3f} → ${last:,.3f} per 1M SIT tokens ({first / last:,.1f}x cheaper)"
    )


# -- simulation ------------------------------------------------------------------------


def _scenario(name: str, overrides: list[str] | None) -> Scenario:
    try:
        return load_scenario(name, parse_overrides(overrides or []))
    except ValueError as exc:
        raise _fail(exc) from None


@sim_app.command("scenarios")
def sim_scenarios() -> None:
    """List the preset scenarios and their key parameters."""
    table = Table(title="scenarios (tokbt sim show NAME for every parameter)", box=box.SIMPLE_HEAD)
    for col in ("name", "trend", "κ (half-life)", "σ", "jumps/yr", "cuts/yr", "regimes"):
        table.add_column(col, no_wrap=True)
    for name in scenario_names():
        sc = load_scenario(name)
        sp = sc.spot
        regimes = ", ".join(f"{r.name} (days {r.start_day}-{r.end_day})" for r in sc.regimes)
        table.add_row(
            name,
            f"{sp.trend:+.0%}/yr",
            f"{sp.kappa:g} ({np.log(2) / sp.kappa * 365:.0f} d)",
            f"{sp.sigma:.0%}",
            f"{sp.jump_rate:g} × {np.expm1(sp.jump_mean):+.0%}",
            f"{sp.cut_rate:g}",
            regimes or "—",
        )
    console.print(table)
    for name in scenario_names():
        console.print(f"[bold]{name}[/]: {load_scenario(name).description}", highlight=False)


@sim_app.command("show")
def sim_show(
    scenario: Annotated[str, typer.Argument(help="Scenario name or TOML file.")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a field, e.g. spot.kappa=12.")
    ] = None,
) -> None:
    """Print a scenario as TOML (edit it and pass the file to --scenario)."""
    print(to_toml(_scenario(scenario, set_)), end="")


@sim_app.command("calibrate")
def sim_calibrate(
    source: Annotated[
        str, typer.Argument(help="Dataset in the store, or a CSV/Parquet file with 'close'.")
    ],
    method: Annotated[str, typer.Option(help="ols, filter (3σ) or mle.")] = "mle",
    path: Annotated[int, typer.Option(help="Path of the dataset to fit.")] = 0,
    trend: Annotated[bool, typer.Option(help="Fit a log-linear trend g.")] = True,
    toml: Annotated[
        Path | None, typer.Option(help="Write a scenario TOML with the fitted spot process.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Fit κ, σ, the trend and the jumps of the spot model to a daily series."""
    from tokbt.sim.calibrate import METHODS, calibrate  # scipy: only for this command

    if method not in METHODS:
        raise _fail(ValueError(f"--method must be one of {', '.join(METHODS)}"))
    try:
        close = _daily_close(source, path, store)
        cal = calibrate(close, method=method, trend=trend)
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    table = Table(
        title=f"{method.upper()} fit of {source}, path {path}",
        box=box.SIMPLE_HEAD,
    )
    for col in ("parameter", "estimate", "std. error"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for row in cal.summary_rows():
        table.add_row(*row)
    console.print(table)
    for warning in cal.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if toml is not None:
        try:
            spot = cal.to_spot_params(s0=float(close[-1]))
        except ValueError as exc:
            raise _fail(exc) from None
        sc = Scenario(
            name=f"calibrated_{Path(source).stem}",
            description=f"spot process fitted by {method} to {source}",
            spot=spot,
        )
        toml.write_text(to_toml(sc), encoding="utf-8")
        console.print(f"wrote {toml} (simulate with --scenario {toml})")


def _daily_close(source: str, path: int, store: Path | None) -> np.ndarray:
    file = Path(source)
    if file.suffix.lower() in {".csv", ".parquet", ".pq"} and file.is_file():
        frame = pd.read_parquet(file) if file.suffix != ".csv" else pd.read_csv(file)
        if "close" not in frame.columns:
            raise ValueError(f"{file}: no 'close' column to calibrate on")
        if "path" in frame.columns:
            frame = frame[frame["path"] == path]
        return frame["close"].to_numpy(dtype=np.float64)
    with BarStore(store, read_only=True) as bs:
        data = bs.read_numpy(source, Kind.SPOT, columns=["close"], paths=[path])
    if len(data["close"]) == 0:
        raise ValueError(f"dataset {source!r} has no spot bars on path {path}")
    return data["close"]


IMPLIED_BASE = "baseline"
"""The preset that gives ``sim implied`` its curve, consumption and contract by default."""


@sim_app.command("implied")
def sim_implied(
    source: Annotated[str, typer.Argument(help="Dataset with a daily index (spot, path 0).")],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name to write.")],
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario name or TOML file (default: the spot process fitted by MLE to "
            f"SOURCE; curve, consumption and contract from '{IMPLIED_BASE}').",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the consumption noise.")] = 0,
    trend: Annotated[
        bool,
        typer.Option(
            help="Default scenario: also fit a log-linear trend g. Off by default: on a "
            "list-price index the fitted g pairs with an unidentified level, and the declines "
            "are fitted as jumps."
        ),
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite the dataset.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write SOURCE's index with model-implied futures and consumption as a new dataset.

    No token futures trade: each exchange day's settlement is the scenario's fair
    value given the index up to that day (an assumption, not a recorded price).
    """
    try:
        if name == source:
            raise StoreError(f"--name must differ from SOURCE: {source!r} would be overwritten")
        with BarStore(store) as bs:
            if name in bs.names() and not replace:
                raise StoreError(f"dataset {name!r} exists; use --replace to overwrite it")
            data = bs.read_numpy(source, Kind.SPOT, columns=["ts", "close"], paths=[0])
            if len(data["close"]) == 0:
                raise DataError(f"dataset {source!r} has no spot bars on path 0")
            series = pd.Series(data["close"], index=pd.DatetimeIndex(data["ts"]))
            sc = (
                _scenario(scenario, None)
                if scenario
                else _implied_scenario(source, series, trend=trend)
            )
            spec = load_spec(sc.contract)
            tables = implied_market(series, sc, seed=seed, spec=spec)
            description = (
                f"'{source}' (path 0) with model-implied futures and consumption: scenario "
                f"'{sc.name}', seed {seed}. Futures settlements are the model's fair value "
                "given the index to date, not recorded prices."
            )
            with bs.writer(name, spec=spec, replace=replace, description=description) as w:
                for kind, table in tables.items():
                    w.append_table(kind, table, source=f"implied:{source}:{sc.name}")
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    futures = tables[Kind.FUTURES]
    ts = futures["ts"].to_pylist()
    first, last = 0, ts.index(ts[-1])  # rows by ts, then delivery order: the front first
    codes, settle = futures["contract"].to_pylist(), futures["settle"].to_numpy()
    console.print(
        f"implied [bold]{name}[/] from {source}: {len(series):,} days "
        f"{series.index[0]:%Y-%m-%d} → {series.index[-1]:%Y-%m-%d}, "
        f"{len(set(codes))} contracts ({futures.num_rows:,} futures bars), scenario {sc.name}; "
        f"front settlement ${settle[first]:,.3f} ({codes[first]}, {ts[first]:%Y-%m-%d}) → "
        f"${settle[last]:,.3f} ({codes[last]}, {ts[last]:%Y-%m-%d})",
        highlight=False,
        soft_wrap=True,
    )


def _implied_scenario(source: str, series: pd.Series, *, trend: bool) -> Scenario:
    """The default of ``sim implied``: the MLE spot fit, the rest from ``IMPLIED_BASE``."""
    from tokbt.sim.calibrate import calibrate  # scipy: only for this command

    cal = calibrate(series.to_numpy(dtype=np.float64), method="mle", trend=trend)
    for warning in cal.warnings:
        err_console.print(
            f"[yellow]warning:[/] calibration: {escape(warning)}", highlight=False, soft_wrap=True
        )
    spot = cal.to_spot_params(s0=float(series.iloc[0]))
    err_console.print(
        f"spot process fitted by MLE to the whole of {source}: κ {spot.kappa:.4g}/yr, "
        f"σ {spot.sigma:.3g}, trend {spot.trend:+.3g}/yr, jumps {spot.jump_rate:.3g}/yr of "
        f"log size {spot.jump_mean:+.3g} ± {spot.jump_std:.3g}",
        highlight=False,
        soft_wrap=True,
    )
    return load_scenario(IMPLIED_BASE).model_copy(
        update={
            "name": f"calibrated_{source}",
            "description": f"spot process fitted by mle ({'with' if trend else 'no'} trend) to "
            f"{source}; curve, consumption and contract from '{IMPLIED_BASE}'",
            "spot": spot,
        }
    )


@app.command("simulate")
def simulate(
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name to write.")],
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario name or TOML file.")
    ] = "baseline",
    paths: Annotated[int, typer.Option("--paths", min=1, help="Number of paths.")] = 1000,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Calendar days to simulate.")
    ] = 1095,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Run seed.")] = 0,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a field, e.g. spot.kappa=12.")
    ] = None,
    steps_per_day: Annotated[int, typer.Option(min=1, help="Simulation steps per day.")] = 1,
    bars_per_day: Annotated[int, typer.Option(min=1, help="Spot bars per day (OHLC).")] = 1,
    chunk_paths: Annotated[int, typer.Option(min=1, help="Paths per chunk.")] = 500,
    storage: Annotated[
        str, typer.Option(help="auto (Parquet above 1M futures rows), duckdb or parquet.")
    ] = "auto",
    validate: Annotated[
        bool, typer.Option(help="Also check every data rule on each chunk (slower).")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite the dataset.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Also draw a fan chart of the paths to this PNG.")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Simulate spot, futures and consumption bars of a scenario into the store."""
    sc = _scenario(scenario, set_)
    try:
        plan = SimPlan.build(
            sc, horizon_days, seed, steps_per_day=steps_per_day, bars_per_day=bars_per_day
        )
        progress = _progress(
            f"simulating {sc.name}", "{task.completed:,.0f}/{task.total:,.0f} paths"
        )
        with BarStore(store) as bs, progress:
            task = progress.add_task("paths", total=paths)
            summary = write_simulation(
                bs, name, plan, paths, chunk_paths=chunk_paths, storage=storage,
                replace=replace, validate=validate,
                on_chunk=lambda n: progress.advance(task, n),
            )  # fmt: skip
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    rows = ", ".join(f"{n:,} {k.value}" for k, n in summary.rows.items())
    console.print(
        f"simulated [bold]{name}[/]: scenario {sc.name}, {summary.paths:,} paths × "
        f"{summary.days:,} days, {summary.contracts} contracts; {rows} rows; "
        f"{summary.bytes / 1e6:,.1f} MB ({summary.storage}); {summary.seconds:.1f} s "
        f"({summary.paths * summary.days / summary.seconds:,.0f} path·days/s)"
    )
    if plot is not None:
        from tokbt.sim.plot import plot_simulation  # matplotlib: only with --plot

        sample = simulate_paths(plan, range(min(paths, 500)))
        console.print(f"plot: {plot_simulation(plan, sample, plot)}")


# -- contracts -------------------------------------------------------------------------


@app.command("backtest")
def backtest_cmd(
    config: Annotated[Path, typer.Argument(help="Backtest config (TOML; see the README).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the run's outputs.")],
    store: StoreOpt = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Save the run in the run store.")
    ] = True,
) -> None:
    """Replay a dataset or simulation through a strategy; write journal, positions, record.

    The run and its metrics are also saved in the run store ('tokbt runs ls').
    """
    from tokbt.runs import load_config, run_config

    try:
        cfg = load_config(config)
        with _progress("backtesting", "{task.completed:,.0f}/{task.total:,.0f} path-events") as bar:
            task = bar.add_task("run", total=1)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_config(cfg, store=store, out=out, progress=progress)
        run_id = _save(result.stored(), store) if record and result.metrics is not None else None
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    _print_backtest(result)
    if run_id:
        console.print(f"saved as run [bold]{run_id}[/] — 'tokbt report {run_id} --out FILE.html'")


def _save(run: Any, store: Path | None) -> str:
    """Save ``run`` in the run store; its id."""
    from tokbt.runs.store import RunStore

    with RunStore(store) as rs:
        return str(rs.save(run).run_id)


@app.command("compare")
def compare_cmd(
    config: Annotated[Path, typer.Argument(help="Comparison config (TOML; see the README).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the reports.")],
    store: StoreOpt = None,
) -> None:
    """Run several hedge policies on the same paths; save the run and write its reports.

    Writes OUT/report.html (self-contained), OUT/summary.md and OUT/summary.json.
    """
    from tokbt.runs.compare import compare, load_compare_config

    try:
        cfg = load_compare_config(config)
        label = "{task.completed:,.0f}/{task.total:,.0f} policy-path-events"
        with _progress("comparing", label) as bar:
            task = bar.add_task("run", total=1)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            run = compare(cfg, store=store, progress=progress)
        run, written = _save_and_report(run, out, store)
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    _print_headline(run.evaluation, run.run_id, run.record)
    console.print(f"saved as run [bold]{run.run_id}[/]; reports: {', '.join(map(str, written))}")


_REPORTS = ("report.html", "summary.md", "summary.json")


def _save_and_report(run: Any, out: Path, store: Path | None) -> tuple[Any, list[Path]]:
    """Save ``run`` in the run store, then write its ``_REPORTS`` into ``out``."""
    from tokbt.report import write_report

    run = dataclasses.replace(run, run_id=_save(run, store))
    return run, [write_report(run, out / name) for name in _REPORTS]


ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="local (processes on this machine) or dask.")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes [default: every core].", show_default=False),
]


def _executor(name: str, address: str | None, workers: int | None, retries: int) -> Any:
    if name == "local":
        from tokbt.runs.mc import LocalExecutor

        return LocalExecutor(workers=workers, retries=retries)
    if name == "dask":
        from tokbt.runs.dask import DaskExecutor

        return DaskExecutor(address=address, workers=workers, retries=retries)
    raise ValueError(f"--executor {name!r}: use local or dask")


def _run_mc(cfg: Any, out: Path, executor: Any, resume: bool, store: Path | None) -> Any:
    """Run a Monte Carlo config with a progress bar, save it, write its reports."""
    from tokbt.runs.mc import monte_carlo

    with _progress(
        "simulating and replaying", "{task.completed:,.0f}/{task.total:,.0f} chunks"
    ) as bar:
        task = bar.add_task("run", total=1)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        run = monte_carlo(cfg, out, executor=executor, resume=resume, progress=progress)
    return _save_and_report(run, out, store)


@app.command("mc")
def mc_cmd(
    config: Annotated[Path, typer.Argument(help="Monte Carlo config (TOML; see the README).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for chunks and reports.")],
    paths: Annotated[
        int | None,
        typer.Option("--paths", help="Paths (overrides the config).", show_default=False),
    ] = None,
    executor: ExecutorOpt = "local",
    address: Annotated[
        str | None, typer.Option("--address", help="Dask scheduler, tcp://host:port.")
    ] = None,
    workers: WorkersOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume/--fresh", help="Keep chunks an interrupted run wrote.")
    ] = True,
    store: StoreOpt = None,
) -> None:
    """Monte Carlo in seeded path chunks on local processes or Dask; resumable.

    Writes per-path metrics to OUT/cell-*/paths-*.parquet, then OUT/report.html,
    summary.md and summary.json, and saves the run in the run store.
    """
    from tokbt.runs.mc import load_mc_config, with_paths

    try:
        cfg = load_mc_config(config)
        if paths is not None:
            cfg = with_paths(cfg, paths)
        run, written = _run_mc(
            cfg, out, _executor(executor, address, workers, cfg.retries), resume, store
        )
    except (TokbtError, ValueError, RuntimeError) as exc:
        raise _fail(exc) from None
    _print_headline(run.evaluation, run.run_id, run.record)
    _print_failures(run.record)
    console.print(f"saved as run [bold]{run.run_id}[/]; reports: {', '.join(map(str, written))}")


def _print_failures(record: dict[str, Any]) -> None:
    """The chunks that failed an attempt (and were retried), if any."""
    for failure in record.get("chunks", {}).get("failures", []):
        lo, hi = failure["paths"]
        err_console.print(
            f"[yellow]retried:[/] cell {failure['cell']}, paths {lo}-{hi - 1}: "
            f"{escape(failure['error'])}",
            highlight=False,
        )


def _clear_demo(out: Path) -> None:
    """The demo starts afresh: remove the chunks and manifest an earlier demo left in ``out``."""
    for cell in out.glob("cell-*"):
        shutil.rmtree(cell)
    (out / "manifest.json").unlink(missing_ok=True)


@app.command("paper")
def paper_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")] = Path(
        "docs/paper"
    ),
    paths: Annotated[int, typer.Option("--paths", help="Paths per scenario.")] = 10_000,
    sensitivity_paths: Annotated[
        int, typer.Option("--sensitivity-paths", help="Paths per sensitivity level.")
    ] = 2_000,
    work: Annotated[
        Path, typer.Option("--work", help="Folder for the chunk files (resumable).")
    ] = Path("tokbt-paper"),
    workers: WorkersOpt = None,
) -> None:
    """The paper's experiment: scenarios × policies on 10,000 paths, and its sensitivity.

    Writes OUT/results.md (the tables, the paper's facts and tokbt's assumptions),
    OUT/results.json and OUT/sensitivity.png. Interrupted, it resumes from WORK.
    """
    from tokbt.runs.mc import LocalExecutor
    from tokbt.runs.paper import run_paper, write_paper

    try:
        with _progress(
            "{task.description}", "{task.completed:,.0f}/{task.total:,.0f} chunks"
        ) as bar:
            task = bar.add_task("run", total=1)

            def progress(step: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=step)

            result = run_paper(
                work,
                paths=paths,
                sensitivity_paths=sensitivity_paths,
                executor=LocalExecutor(workers=workers),
                progress=progress,
            )
        written = write_paper(result, out)
    except (TokbtError, ValueError, RuntimeError) as exc:
        raise _fail(exc) from None
    console.print(f"written: {', '.join(map(str, written))}")


@app.command("demo")
def demo_cmd(
    paths: Annotated[int, typer.Option("--paths", help="Simulated paths.")] = 2000,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the run.")] = Path(
        "tokbt-demo"
    ),
    workers: WorkersOpt = None,
    store: StoreOpt = None,
) -> None:
    """The main job: simulate the demand explosion, hedge it five ways, report.

    Runs none / static 1:1 / minimum-variance / rolling / layered on the same
    simulated paths (36 months), saves the run in the DuckDB store and writes
    OUT/report.html.
    """
    from tokbt.runs.mc import LocalExecutor, demo_config, with_paths

    started = time.perf_counter()
    _clear_demo(out)
    try:
        cfg = with_paths(demo_config(), paths)
        run, written = _run_mc(cfg, out, LocalExecutor(workers=workers), False, store)
    except (TokbtError, ValueError, RuntimeError) as exc:
        raise _fail(exc) from None
    _print_headline(run.evaluation, run.run_id, run.record)
    console.print(
        f"{paths:,} paths × 5 policies in {time.perf_counter() - started:.0f} s; saved as run "
        f"[bold]{run.run_id}[/] in {default_store_path(store)}; open {written[0]}"
    )


@app.command("report")
def report_cmd(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix (4+ characters).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Report file: .html, .md or .json.")
    ] = Path("report.html"),
    fmt: Annotated[
        str | None, typer.Option("--format", help="html, md or json [default: from --out].")
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Write the report of a saved run: self-contained HTML, Markdown or JSON."""
    from tokbt.report import report_format, write_report
    from tokbt.runs.store import RunStore

    try:
        with RunStore(store, read_only=True) as rs:
            run = rs.load(run_id)
        path = write_report(run, out, report_format(out, fmt))
    except (TokbtError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(f"report of run {run.run_id} written to {path}")


def _print_backtest(result: Any) -> None:
    rec = result.record
    console.print(
        f"[bold]{escape(rec['strategy'])}[/] on {rec['paths']:,} path(s) "
        f"in {rec['seconds']:.1f} s — outputs in {result.out}"
    )
    table = Table(box=box.SIMPLE_HEAD, title="per-path totals across paths (USD)")
    table.add_column("total")
    for col in ("mean", "std", "5%", "95%"):
        table.add_column(col, justify="right")
    for name, row in result.summary().iterrows():
        table.add_row(str(name), *(f"{row[c]:,.2f}" for c in ("mean", "std", "5%", "95%")))
    console.print(table)
    _print_warnings(rec.get("warnings", []))
    paths = result.paths.to_pandas()
    unhedged, hedged = paths["unhedged_cost"].std(), paths["hedged_cost"].std()
    if len(paths) > 1 and unhedged > 0:
        console.print(
            f"cost std across paths: unhedged {unhedged:,.0f}, hedged {hedged:,.0f} "
            f"(1 - ratio = {1 - hedged / unhedged:.1%})"
        )


def _print_warnings(warnings: list[str]) -> None:
    """What the run's settings did to its results (``tokbt.runs.warnings``), one line each."""
    for text in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


strategies_app = typer.Typer(help="Hedge strategy plugins.", no_args_is_help=True)
app.add_typer(strategies_app, name="strategies")


@strategies_app.command("ls")
def strategies_ls() -> None:
    """List the registered strategies: name, origin, summary, parameters and defaults."""
    from tokbt.strategy import discover

    table = Table(box=box.SIMPLE_HEAD)
    for col in ("name", "origin", "summary", "parameters (default)"):
        table.add_column(col)
    for info in discover():
        params = ", ".join(f"{n}: {t} = {d!r}" for n, t, d in info.params) or "-"
        summary = info.summary if info.cls is not None else f"[red]{escape(info.summary)}[/]"
        table.add_row(info.name, info.origin, summary, escape(params))
    console.print(table)


@app.command("contracts")
def contracts(
    date: Annotated[str | None, typer.Option(help="Date (YYYY-MM-DD) [default: today].")] = None,
    spec: SpecOpt = "tpi_month",
    roll_offset: Annotated[
        int | None, typer.Option(help="Roll k business days before last trading day.")
    ] = None,
) -> None:
    """List the contracts live on a date with their delivery period and key dates."""
    product = _spec(spec)
    try:
        day = as_date(date) if date else dt.date.today()
    except ValueError as exc:
        raise _fail(ValueError(f"--date {date!r} is not a date (YYYY-MM-DD): {exc}")) from None
    table = Table(
        title=f"{product.name} ({product.root}) live on {day:%Y-%m-%d}", box=box.SIMPLE_HEAD
    )
    for col in (
        "contract",
        "tenor",
        "delivery",
        "listed",
        "last trading",
        "final settle",
        "roll",
        "bdays to LTD",
    ):
        table.add_column(col, no_wrap=True)
    for c in product.contracts_live(day):
        row: list[Any] = [
            c.code,
            c.tenor.value,
            f"{c.delivery_start:%Y-%m-%d} → {c.delivery_end:%Y-%m-%d}",
            f"{c.listing_date:%Y-%m-%d}",
            f"{c.last_trading_day:%Y-%m-%d}",
            f"{c.final_settlement_date:%Y-%m-%d}" if not c.cascades_into else "cascades",
            f"{product.roll_date(c, roll_offset):%Y-%m-%d}",
            str(product.calendar.count(day, c.last_trading_day)),
        ]
        table.add_row(*row)
    console.print(table)
    console.print(
        f"multiplier {product.multiplier:g} ({product.contract_unit}), tick {product.tick_size:g} "
        f"{product.currency}, limit ±{(product.price_limit or 0):.0%}, initial margin "
        f"{product.initial_margin:.0%}, maintenance = initial / {product.maintenance_ratio:g}, "
        f"final settlement: {product.final_settlement.value}"
    )


# -- runs ------------------------------------------------------------------------------

runs_app = typer.Typer(help="Saved runs: list, show and delete them.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

RunIdArg = Annotated[str, typer.Argument(help="Run id or a unique prefix (4+ characters).")]


@runs_app.command("ls")
def runs_ls(store: StoreOpt = None) -> None:
    """List the saved runs, newest first, with the policy of the best VR_std.

    'tokbt runs show ID' gives the rest of a run's record (tokbt version, inputs, params).
    """
    from tokbt.runs.store import RunStore

    path = default_store_path(store)
    if not path.exists():
        console.print(f"no store at {path} yet: save a run first")
        return
    try:
        with RunStore(path, read_only=True) as rs:
            listing = rs.runs()
    except TokbtError as exc:
        raise _fail(exc) from None
    if listing.empty:
        console.print(f"store {path} holds no runs")
        return
    table = Table(title=f"runs in {path}", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    table.add_column("run", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("market", width=16, overflow="fold")
    table.add_column("policies", width=16, overflow="fold")
    for col in ("paths", "seed", "seconds"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("best", max_width=12, overflow="fold")
    table.add_column("VR_std", justify="right", no_wrap=True)
    for row in listing.to_dict("records"):
        table.add_row(
            escape(str(row["run_id"])),
            f"{row['created']:%Y-%m-%d %H:%M}",
            _text_or_dash(row["kind"]),
            _text_or_dash(row["market"]),
            escape(_policy_list(str(row["policies"]))),
            _text_or_dash(row["n_paths"], "{:,.0f}"),
            _text_or_dash(row["seed"], "{:.0f}"),
            _text_or_dash(row["seconds"], "{:,.1f}"),
            _text_or_dash(row["best"]),
            _text_or_dash(row["best_vr_std"], "{:.1%}"),
        )
    console.print(table)


def _policy_list(joined: str, limit: int = 36) -> str:
    """``joined`` (comma-joined labels), cut to about ``limit`` characters with a count."""
    labels = joined.split(", ")
    shown: list[str] = []
    for label in labels:
        if shown and len(", ".join([*shown, label])) > limit:
            return f"{', '.join(shown)} … ({len(labels)} in all)"
        shown.append(label)
    return joined


def _text_or_dash(value: Any, fmt: str = "{}") -> str:
    """``value`` formatted, or the reports' mark for a missing value."""
    from tokbt.report.values import MISSING

    if value is None or pd.isna(value):
        return MISSING
    return escape(fmt.format(value))


@runs_app.command("show")
def runs_show(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """The run's record, its summary metrics with confidence intervals and the comparisons."""
    from tokbt.runs.store import RunStore

    try:
        with RunStore(store, read_only=True) as rs:
            run = rs.load(run_id)
    except TokbtError as exc:
        raise _fail(exc) from None
    _print_record(run.run_id, run.record, run.evaluation)
    _print_summary(run.evaluation)
    _print_comparisons(run.evaluation)


def _print_record(run_id: str, rec: dict[str, Any], ev: Any) -> None:
    import json

    from tokbt.runs.store import market_name

    def show(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True, markup=False)

    show(
        f"run {run_id} · {rec.get('kind', '?')} · created {rec.get('created', '?')} · "
        f"tokbt {rec.get('tokbt', '?')}"
    )
    market = rec.get("market")
    show(
        f"seed {rec.get('seed')} · {rec.get('paths', '?')} paths · market "
        f"{market_name(market) or '?'} {json.dumps(market, separators=(', ', ': '))}"
    )
    inputs = rec.get("inputs")
    if isinstance(inputs, dict) and all(not isinstance(v, dict | list) for v in inputs.values()):
        show("inputs: " + ", ".join(f"{k} {v}" for k, v in inputs.items()))
    elif isinstance(inputs, list):
        show("inputs:")
        for part in inputs:
            show(f"  {json.dumps(part)}")
    elif inputs:
        show(f"inputs: {json.dumps(inputs)}")
    show(f"policies (baseline {ev.baseline}):")
    policies = rec.get("policies")
    if isinstance(policies, list):
        for p in policies:
            if isinstance(p, dict):
                params = json.dumps(p.get("params", {}))
                show(f"  {p.get('label', '?')}: {p.get('strategy', '?')} {params}")
    elif "strategy" in rec:
        show(f"  {rec['strategy']} {json.dumps(rec.get('params', {}))}")
    seconds = rec.get("seconds")
    if isinstance(seconds, dict):
        show("seconds: " + ", ".join(f"{k} {v:,.2f}" for k, v in seconds.items()))
    elif seconds is not None:
        show(f"seconds: {seconds}")
    show(f"intervals: {ev.confidence:.0%} bootstrap, {ev.resamples:,} resamples, seed {ev.seed}")


def _metric_text(value: float, lo: float, hi: float, unit: str, *, signed: bool = False) -> str:
    """A summary (or, ``signed``, comparison) cell, written as the reports write it."""
    from tokbt.report.values import fmt_cell

    return fmt_cell(value, lo, hi, unit, diff=signed)


def _metric_rows(frame: pd.DataFrame) -> list[tuple[str, str]]:
    from tokbt.metrics.evaluation import SUMMARY_METRICS

    metrics = [str(m) for m in dict.fromkeys(frame["metric"])]
    return [(m, SUMMARY_METRICS[m].label if m in SUMMARY_METRICS else m) for m in metrics]


def _print_summary(ev: Any) -> None:
    from rich.text import Text

    from tokbt.metrics.evaluation import SUMMARY_METRICS

    summary: pd.DataFrame = ev.summary
    cells = {(r["policy"], r["metric"]): r for r in summary.to_dict("records")}
    rows = _metric_rows(summary)
    columns = []
    for policy in ev.policies:
        texts = []
        for metric, _ in rows:
            unit = SUMMARY_METRICS[metric].unit if metric in SUMMARY_METRICS else ""
            r = cells.get((policy, metric))
            texts.append(
                Text("" if r is None else _metric_text(r["value"], r["lo"], r["hi"], unit))
            )
        columns.append((str(policy), texts))
    title = f"summary: value [lo, hi] ({ev.confidence:.0%} interval)"
    _print_grid(title, [label for _, label in rows], columns)


HEADLINE_FROM_HEDGE_DATE = (
    ("vr_std_after", "VR_std [CI]"),
    ("he_var_after", "HE_var"),
    ("share_quantity", "quantity"),
    ("share_timing", "timing"),
    ("cvar95_cost", "CVaR95 cost"),
    ("p95_peak_funding", "p95 funding"),
    ("mean_margin_calls", "calls/path"),
)
"""The headline of a run whose paths share their history up to a hedge date: VR_std and
HE_var of the cost after it, and the variance shares of the two parts a price hedge
cannot remove (quantity, months not listed yet)."""

HEADLINE = (
    ("vr_std", "VR_std [CI]"),
    ("he_var", "HE_var"),
    ("vr_std_unit", "VR unit cost"),
    ("vr_std_monthly", "VR monthly"),
    ("cvar95_cost", "CVaR95 cost"),
    ("p95_peak_funding", "p95 funding"),
    ("mean_margin_calls", "calls/path"),
)
"""The metrics (and short headers) of the one-screen table of ``compare``, ``mc``, ``demo``."""


def _headline_cell(value: float, lo: float, hi: float, unit: str) -> str:
    from tokbt.report.values import fmt_millions

    if unit == "USD":
        return fmt_millions(value, unit)
    return _metric_text(value, lo, hi, unit)


def _print_headline(ev: Any, run_id: str, record: dict[str, Any]) -> None:
    """What the figures measure, then policies × the headline metrics (the first with its
    interval); where the rest is."""
    from tokbt.metrics.evaluation import SUMMARY_METRICS
    from tokbt.report.values import MISSING, measure_note, shares_history

    console.print(measure_note(record), highlight=False)
    headline = HEADLINE_FROM_HEDGE_DATE if shares_history(record) else HEADLINE
    first = headline[0][0]
    cells = {(r["policy"], r["metric"]): r for r in ev.summary.to_dict("records")}
    title = f"per policy ({ev.confidence:.0%} interval; every metric: tokbt runs show {run_id})"
    if headline is HEADLINE_FROM_HEDGE_DATE:
        title += "\nVR_std, HE_var: of the cost after the hedge date; quantity, timing: their "
        title += "shares of its variance"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("policy", no_wrap=True)
    for _, header in headline:
        table.add_column(header, justify="right", no_wrap=True)
    for policy in ev.policies:
        row = [escape(str(policy))]
        for metric, _ in headline:
            r = cells.get((policy, metric))
            if r is None:
                row.append(MISSING)
                continue
            lo, hi = (r["lo"], r["hi"]) if metric == first else (np.nan, np.nan)
            row.append(_headline_cell(r["value"], lo, hi, SUMMARY_METRICS[metric].unit))
        table.add_row(*row)
    console.print(table)
    _print_warnings(record.get("warnings", []))


def _print_comparisons(ev: Any) -> None:
    from rich.text import Text

    from tokbt.metrics.evaluation import SUMMARY_METRICS

    comparisons: pd.DataFrame = ev.comparisons
    if comparisons.empty:
        return
    cells = {(r["policy"], r["metric"]): r for r in comparisons.to_dict("records")}
    rows = _metric_rows(comparisons)
    colour = {"better": "green", "worse": "red"}
    columns = []
    for policy in dict.fromkeys(comparisons["policy"]):
        texts = []
        for metric, _ in rows:
            unit = SUMMARY_METRICS[metric].unit if metric in SUMMARY_METRICS else ""
            r = cells.get((policy, metric))
            if r is None:
                texts.append(Text(""))
                continue
            text = Text(_metric_text(r["diff"], r["lo"], r["hi"], unit, signed=True))
            verdict = "" if pd.isna(r["verdict"]) else str(r["verdict"])
            if verdict:
                text.append(f" {verdict}", style=colour.get(verdict, ""))
            texts.append(text)
        columns.append((str(policy), texts))
    title = f"paired differences policy − {ev.baseline}: diff [lo, hi] verdict"
    _print_grid(title, [label for _, label in rows], columns)


def _print_grid(title: str, labels: list[str], columns: list[tuple[str, list[Any]]]) -> None:
    """Rows ``labels`` × ``columns`` (of ``rich.text.Text`` cells), in tables that fit the width."""
    from rich.text import Text

    label_width = max(len(x) for x in ["metric", *labels])
    budget = max(console.width - label_width - 4, 1)
    groups: list[list[tuple[str, list[Any]]]] = []
    used = 0
    for header, texts in columns:
        width = max(len(header), *(t.cell_len for t in texts)) + 2
        if not groups or used + width > budget:
            groups.append([])
            used = 0
        groups[-1].append((header, texts))
        used += width
    for k, group in enumerate(groups):
        table = Table(title=Text(title) if k == 0 else None, box=box.SIMPLE_HEAD)
        table.add_column("metric", no_wrap=True)
        for header, _ in group:
            table.add_column(Text(header), justify="right", no_wrap=True)
        for i, label in enumerate(labels):
            table.add_row(Text(label), *(texts[i] for _, texts in group))
        console.print(table)


@runs_app.command("rm")
def runs_rm(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """Delete a saved run from every run table."""
    from tokbt.runs.store import RunStore

    try:
        with RunStore(store) as rs:
            deleted = rs.delete(run_id)
    except TokbtError as exc:
        raise _fail(exc) from None
    console.print(f"deleted run {deleted}")


if __name__ == "__main__":  # pragma: no cover
    app()
