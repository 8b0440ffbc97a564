"""What every command group of the ``tokbt`` command line shares: the app, the
consoles, the options and the error handling."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import tokbt
from tokbt.errors import DataError
from tokbt.market import ContractSpec, load_spec

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
