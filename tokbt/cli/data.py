"""``tokbt data``: import, validate, list, show, export and delete datasets; build the TPI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tokbt.cli.common import (
    ColumnOpt,
    SpecOpt,
    StoreOpt,
    _column_mapping,
    _fail,
    _progress,
    _spec,
    console,
    data_app,
    err_console,
)
from tokbt.data import BarStore, Kind, default_store_path, validate_file
from tokbt.data.recorded import price_points_path, recipe_path, spot_bars_from_series
from tokbt.errors import TokbtError
from tokbt.market import as_date
from tokbt.market.tpi import build_tpi, load_price_points, load_recipe


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
