"""``tokbt sim`` and ``tokbt simulate``: scenarios, calibration, implied markets, simulations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tokbt.cli.common import StoreOpt, _fail, _progress, app, console, err_console, sim_app
from tokbt.data import BarStore, Kind
from tokbt.errors import DataError, StoreError, TokbtError
from tokbt.market import load_spec
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
