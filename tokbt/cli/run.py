"""``tokbt backtest``, ``compare``, ``mc``, ``paper``, ``demo`` and ``report``: running and
reporting."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tokbt.cli.common import StoreOpt, _fail, _progress, app, console, err_console
from tokbt.cli.runs import _print_headline, _print_warnings
from tokbt.data import default_store_path
from tokbt.errors import TokbtError


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
