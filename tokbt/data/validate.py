"""Validation of bar files, with errors that name the file, row, column and rule.

A file is *staged* into a DuckDB temporary table (streamed through Arrow, so
no per-row Python objects and memory bounded by DuckDB's ``memory_limit``),
each row numbered in file order. Every rule is then one SQL query over the
staged rows. Rules, by id:

=========================  =============================================================
``file_format``            the file is readable CSV or Parquet with a header
``missing_columns``        a required column is absent
``extra_columns``          a column the kind does not define is present
``column_type``            a Parquet column has an incompatible type
``type``                   a CSV value does not parse as the column's type
``naive_utc``              a CSV ``ts`` carries a UTC offset or time zone (``ts`` is naive UTC)
``required``               a required value is empty
``integer``                ``path`` is not a non-negative integer
``finite``                 a number is NaN or infinite
``ts_range``               ``ts`` is not between 1900-01-01 and 2262-01-01 (exclusive)
``whole_second``           ``ts`` has a fraction of a second (bar lengths are whole seconds)
``positive_price``         a price is <= 0
``non_negative``           volume, open interest or tokens < 0
``high_ge_low``            ``high < low``
``open_in_range``          ``open`` outside ``[low, high]``
``close_in_range``         ``close`` outside ``[low, high]``
``sorted``                 ``ts`` decreases within a path (and contract)
``unique``                 ``ts`` repeats within a path (and contract)
``unknown_contract``       a contract code the contract spec does not list
``before_listing``         a futures bar before its contract's listing date
``after_last_trading_day`` a futures bar after its contract's last trading day
``settle_in_band``         (warning) a settlement outside the daily price-limit band
=========================  =============================================================

Row numbers are 1-based data rows; for CSV the line number (header = line 1)
is given too.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tokbt.data.schemas import Kind, KindSchema, infer_kind, schema_for
from tokbt.errors import DataError
from tokbt.market import ContractSpec, UnknownContractError

STAGE = "_tokbt_stage"
TYPED = "_tokbt_typed"
_SOURCE = "_tokbt_source"
_ORDER = "_tokbt_order"
_EXAMPLES_PER_RULE = 3
_BATCH_ROWS = 1 << 17
TS_MIN = dt.datetime(1900, 1, 1)
TS_MAX = dt.datetime(2262, 1, 1)
"""Timestamps must lie in ``[TS_MIN, TS_MAX)``: inside what numpy, pandas (ns) and
Python ``datetime`` all hold, so a stored bar can be read back by every consumer."""
_TS_IN_RANGE = f"ts >= TIMESTAMP '{TS_MIN}' AND ts < TIMESTAMP '{TS_MAX}'"
_DISTRUST = "statistics_propagation,filter_pushdown"
"""Optimizers off while a Parquet file is read in place: both trust the footer's min/max
statistics, and a file whose statistics lie would pass the rules (a filter proven always
false by the statistics is dropped, a row group they exclude is skipped)."""


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place in a file."""

    file: str
    rule: str
    message: str
    row: int | None = None
    column: str | None = None
    is_csv: bool = False
    count: int = 1
    severity: str = "error"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.row + 1})" if self.is_csv else ""))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        more = f" (and {self.count - 1} more rows)" if self.count > 1 else ""
        return f"{', '.join(where)}: {self.message}{more} [rule: {self.rule}]"


class DataValidationError(DataError):
    """A file that breaks one or more validation rules; ``violations`` lists them."""

    def __init__(self, file: str, violations: list[Violation]) -> None:
        self.file = file
        self.violations = violations
        lines = [str(v) for v in violations[:20]]
        if len(violations) > 20:
            lines.append(f"... {len(violations) - 20} more problems")
        noun = "problem" if len(violations) == 1 else "problems"
        super().__init__(f"{file}: {len(violations)} {noun}\n  " + "\n  ".join(lines))


@dataclass
class ValidationReport:
    """What validation found in one file."""

    file: str
    kind: Kind
    rows: int
    errors: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise ``DataValidationError`` if any rule (not warning) is broken."""
        if self.errors:
            raise DataValidationError(self.file, self.errors)


# -- reading files -----------------------------------------------------------------------


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in {".parquet", ".pq"}:
        return True
    if path.suffix.lower() in {".csv", ".txt"}:
        return False
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # Excel writes a BOM
            header = next(csv.reader(fh))
    except StopIteration:
        raise DataError(f"{path}: empty file, expected a CSV header [rule: file_format]") from None
    except (csv.Error, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}) [rule: file_format]") from None
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        raise DataError(
            f"{path}: the header is one column {header[0]!r}: tokbt reads comma-separated "
            "files [rule: file_format]"
        )
    return [h.strip() for h in header]


@dataclass
class _Source:
    path: Path
    is_csv: bool
    columns: list[str]
    arrow_schema: pa.Schema
    table: pa.Table | None = None
    staged_as: str = ""  # "table" (CSV, copied) or "view" (Parquet file / Arrow table, streamed)
    file_stat: tuple[int, int] | None = None  # (size, mtime_ns) of a streamed file
    select: dict[str, str] = field(default_factory=dict)
    """Schema column → the source column it is read from (``resolve_columns``)."""
    filled: dict[str, str] = field(default_factory=dict)
    """Schema column → the SQL it is filled with when the file has no such column."""

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.table is not None:
            yield from self.table.to_batches(max_chunksize=_BATCH_ROWS)
        elif self.is_csv:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=1 << 22),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in self.columns},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
            yield from reader
        else:
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=_BATCH_ROWS)


def _open_source(path: Path) -> _Source:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file (a CSV or Parquet file of bars is expected)")
    try:
        if _is_parquet(path):
            schema = pq.ParquetFile(path).schema_arrow
            return _Source(path, False, list(schema.names), schema)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: not a readable Parquet file ({exc}) [rule: file_format]"
        ) from None
    columns = _csv_header(path)
    schema = pa.schema([(c, pa.string()) for c in columns])
    return _Source(path, True, columns, schema)


RowsCallback = Callable[[int], None]


def _numbered(source: _Source, on_rows: RowsCallback | None = None) -> pa.RecordBatchReader:
    schema = source.arrow_schema.append(pa.field("_row", pa.int64()))

    def gen() -> Iterator[pa.RecordBatch]:
        offset = 0
        try:
            for batch in source.batches():
                rows = pa.array(np.arange(offset + 1, offset + 1 + batch.num_rows), pa.int64())
                offset += batch.num_rows
                if on_rows is not None:
                    on_rows(batch.num_rows)
                yield pa.RecordBatch.from_arrays([*batch.columns, rows], schema=schema)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise DataError(
                f"{source.path}: unreadable after data row {offset} ({exc}) [rule: file_format]"
            ) from None

    return pa.RecordBatchReader.from_batches(schema, gen())


# -- staging -----------------------------------------------------------------------------


def configure(con: duckdb.DuckDBPyConnection, temp_dir: str | None = None) -> None:
    """Session settings every tokbt connection uses: UTC, bounded memory, a spill directory."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{os.environ.get('TOKBT_MEMORY_LIMIT', '2GB')}'")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{_sql_str(temp_dir)}'")


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _column_type_violations(src: _Source, ks: KindSchema) -> list[Violation]:
    if src.is_csv:
        return []
    found = []
    for name in ks.columns:
        if name not in src.select:
            continue
        actual = src.arrow_schema.field(src.select[name]).type
        expected = ks.schema.field(name).type
        if not _compatible(actual, expected):
            found.append(
                Violation(
                    str(src.path),
                    "column_type",
                    f"has type {actual}; expected {expected}",
                    column=name,
                )
            )
    return found


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    return bool(_compatible_types(actual, expected))


def _compatible_types(actual: pa.DataType, expected: pa.DataType) -> object:
    if pa.types.is_boolean(expected):
        return pa.types.is_boolean(actual) or pa.types.is_null(actual)
    if pa.types.is_timestamp(expected):
        return pa.types.is_timestamp(actual) or pa.types.is_date(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(expected):
        return (
            pa.types.is_integer(actual)
            or pa.types.is_floating(actual)
            or pa.types.is_decimal(actual)
            or pa.types.is_null(actual)
        )
    return (
        pa.types.is_string(actual)
        or pa.types.is_large_string(actual)
        or pa.types.is_dictionary(actual)
    )


def stage(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    kind: Kind | str | None = None,
    on_rows: RowsCallback | None = None,
    columns: Mapping[str, str] | None = None,
) -> tuple[KindSchema, _Source, int]:
    """Stream ``path`` into the temporary table ``STAGE`` and define the typed view ``TYPED``.

    ``columns`` maps schema columns to the file's (``{"ts": "date"}``); see
    ``resolve_columns`` for the names read without a mapping and the columns filled.
    Returns the kind's schema, the source description and the number of rows.
    Raises ``DataValidationError`` for column-level problems (missing, extra,
    incompatible Parquet types) and ``DataError`` for unreadable files.
    ``on_rows(n)`` is called after each batch of ``n`` rows is read (progress).
    """
    src = _open_source(Path(path))
    given = dict(columns or {})
    names = [c for c in src.columns if c not in given.values()] + list(given)
    ks = schema_for(kind) if kind is not None else schema_for(infer_kind(_aliased(names)))
    src.select, src.filled, problems = resolve_columns(ks, src.columns, given, str(src.path))
    return _stage_source(con, src, ks, on_rows, problems)


def filled_note(src: _Source) -> str:
    """What staging filled in, as a note for the catalog's source (empty: nothing)."""
    if not src.filled:
        return ""
    parts = [f"{c} = {'0' if v == '0' else 'close'}" for c, v in src.filled.items()]
    renamed = [f"{c} from '{f}'" for c, f in src.select.items() if c != f]
    return f" [filled: {', '.join(parts + renamed)}]"


ALIASES = {"date": "ts", "time": "ts", "timestamp": "ts", "price": "close", "value": "close"}
"""File columns read as a schema column when the file has no column of that name (a daily
index exported as ``date,close`` or ``date,value``)."""


def _aliased(columns: list[str]) -> list[str]:
    return [c if c in ALIASES.values() else ALIASES.get(c, c) for c in columns]


def resolve_columns(
    ks: KindSchema, columns: list[str], mapping: Mapping[str, str], label: str
) -> tuple[dict[str, str], dict[str, str], list[Violation]]:
    """Which file column each schema column is read from, which are filled, and the
    mapping's problems: ``mapping`` first (schema column → file column), then a column of
    the schema's name, then an alias (``ALIASES``); a missing ``path`` is path 0, and a
    spot file with only a close gets ``open``, ``high`` and ``low`` equal to it (a daily
    index has no intraday range). A file column read as none of them is an extra column
    (reported when the file is staged). Returns ``(select, filled, problems)``."""
    problems = [
        Violation(
            label, "unknown_column", f"--column {k}={v}: no column '{v}' in the file", column=v
        )
        for k, v in mapping.items()
        if v not in columns
    ]
    problems += [
        Violation(
            label,
            "extra_columns",
            f"--column {k}=...: '{k}' is not part of the {ks.kind} schema",
            column=k,
        )
        for k in mapping
        if k not in ks.columns
    ]
    select = {k: v for k, v in mapping.items() if k in ks.columns and v in columns}
    for c in columns:
        if c in ks.columns and c not in select and c not in mapping.values():
            select[c] = c
    for c in columns:
        target = ALIASES.get(c)
        if target in ks.columns and target not in select and c not in mapping.values():
            select[target] = c
    filled: dict[str, str] = {}
    if "path" not in select:
        filled["path"] = "0"
    if ks.kind == Kind.SPOT and "close" in select:
        for c in ("open", "high", "low"):
            if c not in select:
                filled[c] = f'"{select["close"]}"'
    return select, filled, problems


def stage_arrow(
    con: duckdb.DuckDBPyConnection, table: pa.Table, ks: KindSchema, label: str
) -> tuple[KindSchema, _Source, int]:
    """As ``stage``, for an in-memory Arrow table; ``label`` names it in messages."""
    for i, column in enumerate(table.schema):
        if pa.types.is_float16(column.type):  # DuckDB cannot scan half floats; float32 is exact
            table = table.set_column(i, column.name, table.column(i).cast(pa.float32()))
    src = _Source(Path(label), False, list(table.column_names), table.schema, table)
    return _stage_source(con, src, ks)


def _stage_source(
    con: duckdb.DuckDBPyConnection,
    src: _Source,
    ks: KindSchema,
    on_rows: RowsCallback | None = None,
    found: list[Violation] | None = None,
) -> tuple[KindSchema, _Source, int]:
    if not src.select and not src.filled:  # an Arrow table, or a file staged directly
        src.select = {c: c for c in src.columns if c in ks.columns}
    problems = list(found or [])
    problems += [
        Violation(str(src.path), "missing_columns", f"required column '{c}' is missing", column=c)
        for c in ks.required
        if c not in src.select and c not in src.filled
    ]
    problems += [
        Violation(
            str(src.path),
            "extra_columns",
            f"column '{c}' is not part of the {ks.kind} schema ({', '.join(ks.columns)})",
            column=c,
        )
        for c in src.columns
        if c not in src.select.values()
    ]
    if len(set(src.columns)) != len(src.columns):
        dupes = sorted({c for c in src.columns if src.columns.count(c) > 1})
        problems.append(
            Violation(str(src.path), "extra_columns", f"duplicate column names {dupes}")
        )
    else:  # a duplicated name has no single type to check
        problems += _column_type_violations(src, ks)
    if problems:
        raise DataValidationError(str(src.path), problems)

    unstage(con)
    with reading(src):
        _materialise(con, src, on_rows)
        con.execute(f"CREATE TEMP VIEW {TYPED} AS SELECT {_typed_columns(ks, src)} FROM {STAGE}")
        counted = con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()
    rows = int(counted[0]) if counted else 0
    if on_rows is not None and src.staged_as == "view":
        on_rows(rows)
    return ks, src, rows


def _materialise(
    con: duckdb.DuckDBPyConnection, src: _Source, on_rows: RowsCallback | None
) -> None:
    """Make ``STAGE``: the source's rows with a 1-based ``_row``, in file order.

    Parquet files and Arrow tables are *views* (DuckDB streams them; nothing
    is copied). CSV text is parsed once into a temporary table, because every
    rule would otherwise re-parse it. A Parquet file is first decoded once in a
    throwaway database (``_check_decodes``), and read without trusting its
    statistics (``_DISTRUST``) until ``unstage``.
    """
    if src.table is not None:
        rows = pa.array(np.arange(1, src.table.num_rows + 1, dtype=np.int64))
        con.register(_SOURCE, src.table.append_column("_row", rows))
        con.execute(f"CREATE TEMP VIEW {STAGE} AS SELECT * FROM {_SOURCE}")
        src.staged_as = "view"
        return
    if not src.is_csv:
        _check_decodes(src.path)
        stat = src.path.stat()
        src.file_stat = (stat.st_size, stat.st_mtime_ns)
        con.execute(f"SET disabled_optimizers = '{_DISTRUST}'")
        con.execute(
            f"CREATE TEMP VIEW {STAGE} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number + 1 AS _row FROM read_parquet('{_sql_str(str(src.path))}', "
            "file_row_number = true)"
        )
        src.staged_as = "view"
        return
    con.register(_SOURCE, _numbered(src, on_rows))
    try:
        con.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT * FROM {_SOURCE}")
    except duckdb.Error as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, DataError):
            raise cause from None
        raise DataError(f"{src.path}: could not be read ({exc}) [rule: file_format]") from None
    finally:
        con.unregister(_SOURCE)
    src.staged_as = "table"


def _check_decodes(path: Path) -> None:
    """Decode every page of a Parquet file in a throwaway DuckDB first: a corrupt page can
    fail DuckDB's reader with an internal error, which invalidates the whole database
    (here the throwaway one, not the store); ``DataError`` names the file."""
    probe = duckdb.connect(":memory:")
    try:
        configure(probe)
        probe.execute(f"SET disabled_optimizers = '{_DISTRUST}'")
        probe.execute(f"SELECT max(hash(COLUMNS(*))) FROM read_parquet('{_sql_str(str(path))}')")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path}: not a readable Parquet file ({first}) [rule: file_format]"
        ) from None
    finally:
        probe.close()


def unstage(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every temporary object staging created (safe to call at any time).

    In an aborted transaction it does nothing: the caller rolls back, then unstages.
    """
    try:
        con.execute(f"DROP TABLE IF EXISTS {_ORDER}")
    except duckdb.TransactionException:
        return
    con.execute("RESET disabled_optimizers")
    con.execute(f"DROP VIEW IF EXISTS {TYPED}")
    kinds = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [STAGE]
    ).fetchall()
    for (table_type,) in kinds:
        con.execute(f"DROP {'VIEW' if table_type == 'VIEW' else 'TABLE'} IF EXISTS {STAGE}")
    with contextlib.suppress(duckdb.Error):
        con.unregister(_SOURCE)


@contextlib.contextmanager
def reading(src: _Source) -> Iterator[None]:
    """Turn a DuckDB error while a Parquet file is streamed into a ``DataError`` naming it.

    A staged Parquet file is read by every later query (rules, the insert): a file whose
    footer is sound but whose pages are corrupt fails only there.
    """
    try:
        yield
    except duckdb.Error as exc:
        if src.is_csv or src.table is not None or isinstance(exc, duckdb.TransactionException):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{src.path}: not a readable Parquet file ({first}) [rule: file_format]"
        ) from None


def check_unchanged(src: _Source) -> None:
    """Raise ``DataError`` if a streamed file changed since it was staged (it is read twice)."""
    if src.file_stat is None:
        return
    stat = src.path.stat()
    if (stat.st_size, stat.st_mtime_ns) != src.file_stat:
        raise DataError(f"{src.path}: the file changed during the import; nothing was written")


def _typed_columns(ks: KindSchema, src: _Source) -> str:
    parts = ["_row"]
    for c in ks.columns:
        sql_type = "DOUBLE" if c == "path" else ks.duckdb_type(c)
        if c in src.select:
            parts.append(f'TRY_CAST("{src.select[c]}" AS {sql_type}) AS "{c}"')
        elif c in src.filled:
            parts.append(f'TRY_CAST({src.filled[c]} AS {sql_type}) AS "{c}"')
        else:
            parts.append(f'CAST(NULL AS {sql_type}) AS "{c}"')
    return ", ".join(parts)


# -- rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    rule: str
    column: str | None
    where: str
    message: str  # a DuckDB expression giving the message
    source: str = TYPED
    severity: str = "error"


def _rules(ks: KindSchema, src: _Source) -> list[_Rule]:
    present = [c for c in ks.columns if c in src.select]
    rules: list[_Rule] = []
    for c in present:
        sql_type = "DOUBLE" if c == "path" else ks.duckdb_type(c)
        raw = f'"{src.select[c]}"'  # the file's column, in the staged rows
        if src.is_csv and sql_type != "VARCHAR":
            rules.append(
                _Rule(
                    "type",
                    c,
                    f"{raw} IS NOT NULL AND TRY_CAST({raw} AS {sql_type}) IS NULL",
                    f"format('value ''{{}}'' is not a valid {sql_type.lower()}', {raw})",
                    source=STAGE,
                )
            )
        if c in ks.required:
            rules.append(_Rule("required", c, f"{raw} IS NULL", "'value is missing'", source=STAGE))
    if src.is_csv and "ts" in present:
        ts = f'"{src.select["ts"]}"'
        rules.append(
            _Rule(
                "naive_utc",
                "ts",
                # the regexp (a sign or letter after the date) spares most rows the slow cast
                f"regexp_matches(substr({ts}, 11), '[-+A-SU-Ya-z]') "
                f"AND TRY_CAST({ts} AS TIMESTAMPTZ) <> TRY_CAST({ts} AS TIMESTAMP)",
                "format('value ''{}'' has a UTC offset or time zone; write ts as naive UTC "
                f"(here {{}})', {ts}, CAST(TRY_CAST({ts} AS TIMESTAMPTZ) AS TIMESTAMP))",
                source=STAGE,
            )
        )
    rules += [
        _Rule(
            "ts_range",
            "ts",
            f"ts IS NOT NULL AND NOT ({_TS_IN_RANGE})",
            f"format('ts {{}} is outside [{TS_MIN:%Y-%m-%d}, {TS_MAX:%Y-%m-%d})', ts)",
        ),
        _Rule(
            "whole_second",
            "ts",
            f"({_TS_IN_RANGE}) AND epoch_us(ts) % 1000000 <> 0",
            "format('ts {} is not on a whole second (bar lengths are whole seconds)', ts)",
        ),
    ]
    rules.append(
        _Rule(
            "integer",
            "path",
            "path IS NOT NULL AND (NOT isfinite(path) OR path < 0 OR path <> floor(path) "
            "OR path > 2147483647)",
            "format('path {} is not a non-negative integer', path)",
        )
    )
    for c in (*ks.prices, *ks.non_negative):
        if c in present:
            rules.append(
                _Rule("finite", c, f'NOT isfinite("{c}")', f"format('{c} is {{}}', \"{c}\")")
            )
    for c in ks.prices:
        if c in present:
            rules.append(
                _Rule("positive_price", c, f'"{c}" <= 0', f"format('{c} {{}} is not > 0', \"{c}\")")
            )
    for c in ks.non_negative:
        if c in present:
            rules.append(
                _Rule("non_negative", c, f'"{c}" < 0', f"format('{c} {{}} is negative', \"{c}\")")
            )
    if "high" in ks.prices:
        rules.append(
            _Rule("high_ge_low", "high", "high < low", "format('high {} < low {}', high, low)")
        )
        for c in ("open", "close"):
            rules.append(
                _Rule(
                    f"{c}_in_range",
                    c,
                    f'high >= low AND ("{c}" < low OR "{c}" > high)',
                    f"format('{c} {{}} outside [low {{}}, high {{}}]', \"{c}\", low, high)",
                )
            )
    return rules


def _band_sql(prev: str, spec: ContractSpec) -> tuple[str, str]:
    """SQL for the limit band around ``prev``: as ``tokbt.market.ticks.limit_band``."""
    limit, tick = spec.price_limit, spec.tick_size
    lo = f"ceil({prev} * (1 - {limit}) / {tick} - 1e-9) * {tick}"
    hi = f"floor({prev} * (1 + {limit}) / {tick} + 1e-9) * {tick}"
    return f"greatest(least({lo}, {prev} - {tick}), {tick})", f"greatest({hi}, {prev} + {tick})"


def _order_pass(con: duckdb.DuckDBPyConnection, ks: KindSchema, spec: ContractSpec) -> bool:
    """One window pass over each series in file order, keeping only rows that break a rule.

    Fills ``_ORDER`` with rows whose ``ts`` does not increase (``sorted``,
    ``unique``), or whose ``settle`` leaves the limit band of the previous
    bar's settle (``settle_in_band``, meaningful for daily bars), and returns
    whether any series has several bars on one day (intraday bars), in which
    case the band is checked on daily settlements instead.
    """
    key = ", ".join(ks.key)
    band = "FALSE"
    settle_cols = ""
    if ks.kind is Kind.FUTURES and spec.price_limit is not None:
        lo, hi = _band_sql("prev_settle", spec)
        settle_cols = f", settle, prev_settle, {lo} AS lo, {hi} AS hi"
        band = f"(settle < {lo} - 1e-9 OR settle > {hi} + 1e-9)"
        lag_settle = ", lag(settle) OVER w AS prev_settle"
    else:
        lag_settle = ""
    con.execute(
        f"CREATE TEMP TABLE {_ORDER} AS SELECT _row, ts, prev_ts, {key}{settle_cols}, "
        f"CAST(ts AS DATE) = CAST(prev_ts AS DATE) AS same_day, {band} AS band_bad "
        f"FROM (SELECT *, lag(ts) OVER w AS prev_ts{lag_settle} FROM {TYPED} "
        f"WINDOW w AS (PARTITION BY {key} ORDER BY _row)) "
        f"WHERE ts <= prev_ts OR CAST(ts AS DATE) = CAST(prev_ts AS DATE) OR {band}"
    )
    intraday = con.execute(f"SELECT bool_or(same_day AND ts > prev_ts) FROM {_ORDER}").fetchone()
    return bool(intraday and intraday[0])


def _order_rules(ks: KindSchema) -> list[_Rule]:
    within = " and ".join(f"{k} {{}}" for k in ks.key)
    args = ", ".join(ks.key)
    return [
        _Rule(
            "sorted",
            "ts",
            "ts < prev_ts",
            f"format('ts {{}} is before the previous ts {{}} of {within}', ts, prev_ts, {args})",
            source=_ORDER,
        ),
        _Rule(
            "unique",
            "ts",
            "ts = prev_ts",
            f"format('ts {{}} repeats for {within}', ts, {args})",
            source=_ORDER,
        ),
    ]


def _contract_rules(
    con: duckdb.DuckDBPyConnection, spec: ContractSpec, file: str, is_csv: bool
) -> tuple[list[_Rule], list[Violation]]:
    """Unknown codes, and rules for bars outside a contract's listing window.

    One aggregate per contract (first and last bar date) finds the contracts
    that break ``before_listing`` or ``after_last_trading_day``; only those
    get a row-level rule, so a valid file costs one scan.
    """
    spans = con.execute(
        f"SELECT contract, min(_row), count(*), min(CAST(ts AS DATE)), max(CAST(ts AS DATE)) "
        f"FROM {TYPED} WHERE contract IS NOT NULL AND {_TS_IN_RANGE} GROUP BY contract"
    ).fetchall()
    violations, early, late = [], [], []
    for code, first_row, count, first_day, last_day in spans:
        try:
            c = spec.contract(code)
        except UnknownContractError as exc:
            violations.append(
                Violation(
                    file,
                    "unknown_contract",
                    str(exc),
                    row=int(first_row),
                    is_csv=is_csv,
                    column="contract",
                    count=int(count),
                )
            )
            continue
        if first_day is not None and first_day < c.listing_date:
            early.append((code, c.listing_date))
        if last_day is not None and last_day > c.last_trading_day:
            late.append((code, c.last_trading_day))
    rules = []
    if early:
        rules.append(
            _Rule(
                "before_listing",
                "ts",
                f"CAST(ts AS DATE) < {_date_case(early)}",
                f"format('bar of {{}} on {{}} is before its listing date {{}}', contract, ts, "
                f"{_date_case(early)})",
            )
        )
    if late:
        rules.append(
            _Rule(
                "after_last_trading_day",
                "ts",
                f"CAST(ts AS DATE) > {_date_case(late)}",
                f"format('bar of {{}} on {{}} is after its last trading day {{}}', contract, ts, "
                f"{_date_case(late)})",
            )
        )
    return rules, violations


def _date_case(limits: list[tuple[str, dt.date]]) -> str:
    """SQL: the date limit of each listed contract (NULL for any other contract)."""
    whens = " ".join(f"WHEN '{_sql_str(code)}' THEN DATE '{day}'" for code, day in limits)
    return f"(CASE contract {whens} END)"


def _settle_band_rule(spec: ContractSpec, intraday: bool) -> _Rule:
    limit = spec.price_limit
    message = (
        f"format('settle {{}} of {{}} outside the ±{limit:.0%} band [{{}}, {{}}] "
        "around the previous settlement {}', settle, contract, round(lo, 9), round(hi, 9), prev)"
    )
    if not intraday:
        return _Rule(
            "settle_in_band",
            "settle",
            "band_bad",
            message.replace(", prev)", ", prev_settle)"),
            source=_ORDER,
            severity="warning",
        )
    daily = (
        f"(SELECT path, contract, CAST(ts AS DATE) AS day, arg_max(settle, ts) AS settle, "
        f"arg_max(_row, ts) AS _row FROM {TYPED} GROUP BY ALL)"
    )
    lo, hi = _band_sql("prev", spec)
    banded = (
        f"(SELECT *, {lo} AS lo, {hi} AS hi FROM "
        f"(SELECT *, lag(settle) OVER (PARTITION BY path, contract ORDER BY day) AS prev "
        f"FROM {daily})) "
    )
    return _Rule(
        "settle_in_band",
        "settle",
        "settle < lo - 1e-9 OR settle > hi + 1e-9",
        message,
        source=banded,
        severity="warning",
    )


def _run_rule(con: duckdb.DuckDBPyConnection, r: _Rule, file: str, is_csv: bool) -> list[Violation]:
    sql = (
        f"SELECT _row, {r.message} AS msg, count(*) OVER () AS n FROM {r.source} AS src "
        f"WHERE {r.where} ORDER BY _row LIMIT {_EXAMPLES_PER_RULE}"
    )
    rows = con.execute(sql).fetchall()
    if not rows:
        return []
    total = int(rows[0][2])
    return [
        Violation(
            file,
            r.rule,
            msg,
            row=int(row),
            column=r.column,
            is_csv=is_csv,
            # The last example carries the count of rows beyond the examples shown.
            count=total - len(rows) + 1 if i == len(rows) - 1 else 1,
            severity=r.severity,
        )
        for i, (row, msg, _) in enumerate(rows)
    ]


def check_staged(
    con: duckdb.DuckDBPyConnection,
    ks: KindSchema,
    src: _Source,
    rows: int,
    spec: ContractSpec,
    on_step: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Run every rule of ``ks`` over the staged file; return errors and warnings.

    ``on_step(name)`` is called as each step starts (a rule id, ``contracts``,
    ``order``): a hook for progress and profiling.
    """
    file = str(src.path)
    report = ValidationReport(file=file, kind=ks.kind, rows=rows)
    step = on_step or (lambda _name: None)
    rules = _rules(ks, src)
    if ks.kind is Kind.FUTURES:
        step("contracts")
        contract_rules, unknown = _contract_rules(con, spec, file, src.is_csv)
        rules += contract_rules
        report.errors += unknown
    step("order")
    intraday = _order_pass(con, ks, spec)
    rules += _order_rules(ks)
    if ks.kind is Kind.FUTURES and spec.price_limit is not None:
        rules.append(_settle_band_rule(spec, intraday))
    for r in rules:
        step(f"{r.rule} ({r.column})" if r.column else r.rule)
        found = _run_rule(con, r, file, src.is_csv)
        (report.warnings if r.severity == "warning" else report.errors).extend(found)
    report.errors.sort(key=lambda v: (v.row or 0, v.rule))
    return report


def validate_file(
    path: Path | str,
    kind: Kind | str | None = None,
    spec: ContractSpec | None = None,
    on_rows: RowsCallback | None = None,
    columns: Mapping[str, str] | None = None,
) -> ValidationReport:
    """Validate a bar file without importing it (``columns`` as for
    ``BarStore.import_file``).

    ``kind`` defaults to the one inferred from the columns; ``spec`` (default
    ``tpi_month``) lists the valid futures contracts. Column-level problems
    raise ``DataValidationError``; row-level ones are returned in the report
    (call ``raise_for_errors()`` to raise).
    """
    from tokbt.market import TPI_MONTH

    with tempfile.TemporaryDirectory(prefix="tokbt-validate-") as tmp:
        con = duckdb.connect(":memory:")
        try:
            configure(con, temp_dir=tmp)
            ks, src, rows = stage(con, path, kind, on_rows, columns)
            with reading(src):
                return check_staged(con, ks, src, rows, spec or TPI_MONTH)
        finally:
            con.close()
