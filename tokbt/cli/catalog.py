"""``tokbt strategies`` and ``tokbt contracts``: what can be hedged with, and with what."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tokbt.cli.common import SpecOpt, _fail, _spec, app, console
from tokbt.market import as_date

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
