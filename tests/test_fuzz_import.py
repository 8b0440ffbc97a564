"""Fuzzing every way bars enter a store: bad input gives a clear tokbt error, never corruption.

Inputs are random CSV text (right, wrong, missing and repeated columns, odd cells and
numbers, BOMs, other delimiters and line ends, unsorted and repeated timestamps), random
Parquet tables (random column types, nulls, nested types, zero rows), Arrow tables handed
to ``write_table``, and raw random bytes under ``.csv`` and ``.parquet`` names. Each way in
(``import_file``, a DuckDB-backed and a Parquet-backed ``writer``, ``write_table``) must
either succeed with data that passes validation, or raise a ``TokbtError`` naming the file
(and the rule, row and column of a problem in the data). Either way the datasets committed
before read back identical, and a failed write leaves no dataset, no temporary table and
no Parquet part behind.

``bench/fuzz_bench.py`` runs the same strategies and ``check_write`` on many more examples.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import tokbt.data.validate as validate_module
from tokbt.cli import app
from tokbt.data import BarStore, DataValidationError, Kind, schema_for, validate_file
from tokbt.data.recorded import price_points_path
from tokbt.data.store import table_sha256
from tokbt.errors import DataError, StoreError, TokbtError
from tokbt.market import load_spec
from tokbt.market.tpi import load_price_points, load_recipe
from tokbt.runs.compare import load_compare_config
from tokbt.runs.config import ConfigError, load_config
from tokbt.runs.mc import load_mc_config
from tokbt.sim.scenarios import SCENARIOS, load_scenario

CI = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RULES = frozenset(re.findall(r"^``(\w+)``", validate_module.__doc__ or "", flags=re.MULTILINE))
"""Every rule id ``tokbt.data.validate`` documents."""
FILE_RULES = frozenset({"file_format", "missing_columns", "extra_columns", "column_type"})
DAYS = [dt.datetime(2026, 1, 5) + dt.timedelta(days=i) for i in range(8)]
CONTRACT = "TPI-2026-03"
TARGETS = ("fuzz", "base", "base_pq")
"""A new dataset, a committed DuckDB-backed one and a committed Parquet-backed one."""
ALL_COLUMNS = sorted({c for k in Kind for c in schema_for(k).columns})
WRONG_NAMES = ["Ts", "TS", " ts", "ts ", "timestamp", "date", "price", "", "ts\n", "é", "_row"]
ODD_CELLS = [
    "", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e-400", "1,5",
    "1_000", "0x10", "1.0.0", "１", "true", "NULL", "null", '"', "'", "-0", "+1", "2147483648",
    "-2147483649", "99999999999999999999999", "2026-02-30", "2026-13-01", "2026-01-05T00:00:00Z",
    "2026-01-05T00:00:00+05:00", "2026-01-05 10:00 Europe/Berlin", "2026-01-05 00:00:00.5",
    "infinity", "-infinity", "294247-01-10", "0001-01-01", "9999-12-31", "1899-12-31",
    "2262-04-12", "1", "1700000000", CONTRACT, "TPI-2026-13", "TPI-2025-12", "TPI-2027-06",
    "XYZ-2026-03", "TPI-2026-Q2", "TPI-2027", "\x00", "é", "a\nb", "a,b", " 2026-01-06 ",
]  # fmt: skip
ARROW_TYPES = [
    pa.int8(), pa.int32(), pa.int64(), pa.uint64(), pa.float16(), pa.float32(), pa.float64(),
    pa.decimal128(12, 3), pa.decimal256(40, 0), pa.string(), pa.large_string(), pa.binary(),
    pa.bool_(), pa.date32(), pa.date64(), pa.timestamp("s"), pa.timestamp("ms"),
    pa.timestamp("ns"), pa.timestamp("us", tz="UTC"), pa.timestamp("ns", tz="Asia/Kolkata"),
    pa.duration("s"), pa.time64("us"), pa.null(), pa.list_(pa.float64()),
    pa.struct([("x", pa.float64())]), pa.dictionary(pa.int32(), pa.string()),
    pa.map_(pa.string(), pa.float64()),
]  # fmt: skip


# -- the store under test ------------------------------------------------------------------


def valid_bars(kind: Kind, days: int = 4, paths: int = 2) -> pa.Table:
    """Valid bars of ``kind``: ``days`` daily bars of ``paths`` paths (futures: one contract)."""
    n = days * paths
    columns: dict[str, Any] = {
        "ts": pa.array([d for d in DAYS[:days] for _ in range(paths)], pa.timestamp("us")),
        "path": pa.array([p for _ in range(days) for p in range(paths)], pa.int32()),
    }
    level = np.round(2.0 + np.arange(n) / 1000, 3)
    if kind is Kind.CONSUMPTION:
        columns |= {"tokens": 1000.0 + level, "plan": np.full(n, 1000.0)}
        return pa.table(columns, schema=schema_for(kind).schema)
    if kind is Kind.FUTURES:
        columns["contract"] = pa.array([CONTRACT] * n)
    columns |= {"open": level, "high": level + 0.01, "low": level - 0.01, "close": level}
    if kind is Kind.FUTURES:
        columns |= {"settle": level, "volume": np.full(n, 10.0), "open_interest": np.full(n, 5.0)}
        columns["limit_locked"] = pa.array([False] * n)
    else:
        columns["volume"] = np.full(n, 100.0)
    return pa.table(columns, schema=schema_for(kind).schema)


@dataclass
class Fixture:
    """A store holding committed datasets ``base`` (DuckDB) and ``base_pq`` (Parquet), each
    with every kind, and a scratch folder for input files."""

    store: BarStore
    folder: Path


def make_fixture(folder: Path) -> Fixture:
    """The store and committed datasets every fuzzed write runs against."""
    store = BarStore(folder / "store.duckdb")
    for kind in Kind:
        store.write_table(valid_bars(kind), "base", kind)
    with store.writer("base_pq", storage="parquet") as w:
        for kind in Kind:
            w.append_table(kind, valid_bars(kind, days=3, paths=1))
    return Fixture(store, folder)


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    fixture = make_fixture(tmp_path_factory.mktemp("fuzz"))
    yield fixture
    fixture.store.close()


def content_hash(store: BarStore) -> str:
    """SHA-256 of every dataset's name, kinds and bars as ``store.read`` returns them."""
    digest = hashlib.sha256()
    for name in store.names():
        for kind in sorted(store.info(name).parts):
            digest.update(f"{name}/{kind}:".encode())
            digest.update(table_sha256(store.read(name, kind)).encode())
    return digest.hexdigest()


def leftovers(store: BarStore) -> list[str]:
    """Temporary tables and views, and Parquet part folders the catalog does not reference."""
    temp = store.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    referenced = {
        (store.path.parent / r[0]).resolve()
        for r in store.con.execute(
            "SELECT location FROM dataset_parts WHERE storage = 'parquet'"
        ).fetchall()
    }
    parts = store.parquet_root.glob("*/*") if store.parquet_root.exists() else iter(())
    return [r[0] for r in temp] + [str(p) for p in parts if p.resolve() not in referenced]


def _restore(store: BarStore, name: str, kind: Kind) -> None:
    """Undo a successful fuzzed write: drop the new dataset, or rewrite the committed part."""
    if name == "fuzz":
        store.delete(name)
    elif name == "base":
        store.write_table(valid_bars(kind), name, kind, replace=True)
    else:
        with store.writer(name, storage="parquet", replace=True) as w:
            w.append_table(kind, valid_bars(kind, days=3, paths=1))


def check_error(exc: TokbtError, label: str) -> None:
    """``exc`` names the input; a validation error names each broken rule, row and column."""
    assert label in str(exc), f"{type(exc).__name__} does not name {label}: {exc}"
    if isinstance(exc, DataValidationError):
        assert exc.violations
        for v in exc.violations:
            assert v.rule in RULES, v
            assert v.file == label
            assert f"[rule: {v.rule}]" in str(v)
            if v.rule not in FILE_RULES:
                assert v.row is not None, v
                assert v.row >= 1, v
                assert v.column is not None, v


def check_write(fx: Fixture, label: str, target: str, write: Callable[[], Kind]) -> str:
    """Run ``write`` (a write into dataset ``target`` of the input ``label``) and check the
    properties of the module docstring; ``"ok"`` or ``"error"``."""
    store = fx.store
    before, names = content_hash(store), store.names()
    try:
        kind = write()
    except TokbtError as exc:
        check_error(exc, label)
        outcome = "error"
    else:
        readback = fx.folder / "readback.parquet"
        pq.write_table(store.read(target, kind), readback)
        report = validate_file(readback, kind)
        assert report.ok, report.errors
        assert report.rows == store.info(target).parts[kind].rows
        _restore(store, target, kind)
        outcome = "ok"
    assert store.names() == names
    assert content_hash(store) == before, "a committed dataset changed"
    assert not leftovers(store)
    return outcome


def file_writer(store: BarStore, path: Path, target: str, kind: Kind | None, way: str,
                replace: bool) -> Callable[[], Kind]:  # fmt: skip
    """One of the ways a file enters a store, as a call returning the kind written."""

    def write() -> Kind:
        if way == "import_file":
            return store.import_file(path, target, kind, replace=replace).kind
        storage = "parquet" if way == "writer_parquet" else "duckdb"
        with store.writer(target, replace=replace, storage=storage) as w:
            return w.append_file(path, kind).kind

    return write


def table_writer(store: BarStore, table: pa.Table, target: str, kind: Kind, way: str,
                 replace: bool) -> Callable[[], Kind]:  # fmt: skip
    """One of the ways an Arrow table enters a store, as a call returning the kind written."""

    def write() -> Kind:
        if way == "write_table":
            return store.write_table(table, target, kind, replace=replace, source="fuzz").kind
        storage = "parquet" if way == "writer_parquet" else "duckdb"
        with store.writer(target, replace=replace, storage=storage) as w:
            return w.append_table(kind, table, source="fuzz").kind

    return write


# -- strategies ----------------------------------------------------------------------------

KINDS = st.sampled_from(list(Kind))
MAYBE_KIND = st.one_of(st.none(), KINDS)
FILE_WAYS = st.sampled_from(["import_file", "writer_duckdb", "writer_parquet"])
TABLE_WAYS = st.sampled_from(["write_table", "writer_duckdb", "writer_parquet"])
WRITES = st.tuples(st.sampled_from(TARGETS), st.booleans())
"""The target dataset and ``replace``."""
CELLS = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.floats().map(repr),
    st.floats().map(lambda x: f"{x:.3e}"),
    st.integers(-(2**70), 2**70).map(str),
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)).map(str),
    st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)).map(lambda d: d.isoformat()),
    st.text(max_size=8),
)
COLUMN_NAMES = st.one_of(st.sampled_from(ALL_COLUMNS + WRONG_NAMES), st.text(max_size=6))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _index(draw: st.DrawFn, seq: list[Any]) -> int:
    return draw(st.integers(0, len(seq) - 1))


def _mutate_grid(draw: st.DrawFn, header: list[str], rows: list[list[str]]) -> None:
    """One random change to a CSV's header and rows, in place."""
    op = draw(st.sampled_from(["cell", "cell", "swap", "repeat", "drop_column", "rename",
                               "duplicate_column", "ragged", "truncate"]))  # fmt: skip
    if (op in {"cell", "swap", "repeat", "ragged"} and not rows) or not header:
        return
    if op == "cell":
        row = rows[_index(draw, rows)]
        if row:  # rows may be ragged by now
            row[_index(draw, row)] = draw(CELLS)
    elif op == "swap":
        i, j = _index(draw, rows), _index(draw, rows)
        rows[i], rows[j] = rows[j], rows[i]
    elif op == "repeat":
        i = _index(draw, rows)
        rows.insert(_index(draw, rows), list(rows[i]))
    elif op == "drop_column":
        j = _index(draw, header)
        del header[j]
        for row in rows:
            del row[j : j + 1]
    elif op == "rename":
        header[_index(draw, header)] = draw(COLUMN_NAMES)
    elif op == "duplicate_column":
        j = _index(draw, header)
        header.append(header[j])
        for row in rows:
            row.append(row[j] if j < len(row) else "")
    elif op == "ragged":
        row = rows[_index(draw, rows)]
        cut = draw(st.integers(0, len(row) + 2))
        row[:] = row[:cut] if cut <= len(row) else row + ["1"] * (cut - len(row))
    else:
        del rows[draw(st.integers(0, len(rows))) :]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """CSV bytes: valid bars of a random kind, randomly changed, written in a random dialect."""
    table = valid_bars(draw(KINDS), days=draw(st.integers(0, 5)), paths=draw(st.integers(1, 2)))
    header = list(table.column_names)
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    if draw(st.booleans()):  # optional columns are optional
        keep = [j for j, c in enumerate(header) if draw(st.booleans()) or c in ("ts", "path")]
        header = [header[j] for j in keep]
        rows = [[row[j] for j in keep] for row in rows]
    for _ in range(draw(st.integers(0, 3))):
        _mutate_grid(draw, header, rows)
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    quote = draw(st.booleans())
    lines = [sep.join(f'"{c}"' if quote else c for c in line) for line in [header, *rows]]
    text = end.join(lines) + draw(st.sampled_from([end, ""]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


def _retyped(column: pa.ChunkedArray, to: pa.DataType) -> pa.Array | None:
    """``column`` as type ``to`` (nested: each value wrapped), or None if it does not convert."""
    values = column.to_pylist()
    try:
        if pa.types.is_list(to):
            return pa.array([[v] for v in values], pa.list_(column.type))
        if pa.types.is_struct(to):
            return pa.array([{"x": v} for v in values])
        if pa.types.is_map(to):
            return pa.array([[("k", 1.0)] for _ in values], to)
        if pa.types.is_null(to):
            return pa.nulls(len(values))
        if pa.types.is_dictionary(to):
            return column.combine_chunks().cast(pa.string()).dictionary_encode()
        return column.combine_chunks().cast(to, safe=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None


def _odd_value(draw: st.DrawFn, column: pa.ChunkedArray) -> Any:
    t = column.type
    if pa.types.is_floating(t):
        return draw(st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e308, 5e-324]))
    if pa.types.is_integer(t):
        return draw(st.sampled_from([-1, 0, 2**31 - 1, 7]))
    if pa.types.is_timestamp(t):
        return draw(st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)))
    if pa.types.is_boolean(t):
        return draw(st.booleans())
    return draw(st.sampled_from(ODD_CELLS))


def _mutate_table(draw: st.DrawFn, table: pa.Table) -> pa.Table:
    """One random change to an Arrow table: a column's type, nulls, a value, names, rows."""
    op = draw(st.sampled_from(["retype", "retype", "nulls", "value", "drop", "rename",
                               "duplicate", "shuffle", "empty"]))  # fmt: skip
    if table.num_columns == 0:
        return table
    j = _index(draw, table.column_names)
    column = table.column(j)
    if op == "retype":
        changed = _retyped(column, draw(st.sampled_from(ARROW_TYPES)))
        return table if changed is None else table.set_column(j, table.field(j).name, changed)
    if op in {"nulls", "value"} and table.num_rows:
        values = column.to_pylist()
        i = draw(st.integers(0, len(values) - 1))
        values[i] = None if op == "nulls" else _odd_value(draw, column)
        try:
            changed = pa.array(values, column.type)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return table
        return table.set_column(j, table.field(j).name, changed)
    if op == "drop":
        return table.remove_column(j)
    if op == "rename":
        return table.rename_columns(
            [draw(COLUMN_NAMES) if k == j else n for k, n in enumerate(table.column_names)]
        )
    if op == "duplicate":
        return table.append_column(table.field(j), column)
    if op == "shuffle" and table.num_rows:
        order = draw(st.permutations(range(table.num_rows)))
        return table.take(pa.array(order, pa.int64()))
    return table.slice(0, 0) if op == "empty" else table


@st.composite
def arrow_tables(draw: st.DrawFn) -> pa.Table:
    """Valid bars of a random kind with random changes to types, values, names and rows."""
    table = valid_bars(draw(KINDS), days=draw(st.integers(0, 5)), paths=draw(st.integers(1, 2)))
    for _ in range(draw(st.integers(0, 3))):
        table = _mutate_table(draw, table)
    return table


@st.composite
def parquet_files(draw: st.DrawFn) -> bytes:
    """Parquet bytes of an ``arrow_tables`` table, in random row groups."""
    table = draw(arrow_tables())
    sink = io.BytesIO()
    try:
        pq.write_table(table, sink, row_group_size=draw(st.integers(1, 8)))
    except (pa.ArrowException, ValueError):  # a type Parquet cannot hold
        assume(False)
    return sink.getvalue()


@st.composite
def broken_parquet(draw: st.DrawFn) -> bytes:
    """A valid Parquet file cut short or with bytes overwritten."""
    sink = io.BytesIO()
    pq.write_table(valid_bars(draw(KINDS)), sink)
    data = bytearray(sink.getvalue())
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        data[_index(draw, list(range(len(data))))] = draw(st.integers(0, 255))
    return bytes(data)


RAW_BYTES = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda b: b"PAR1" + b + b"PAR1"),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", errors="replace")),
    broken_parquet(),
)


# -- properties ----------------------------------------------------------------------------


@CI
@given(data=csv_files(), kind=MAYBE_KIND, way=FILE_WAYS, write=WRITES)
def test_random_csv_imports_cleanly_or_fails_cleanly(
    fx: Fixture, data: bytes, kind: Kind | None, way: str, write: tuple[str, bool]
) -> None:
    path = fx.folder / "input.csv"
    path.write_bytes(data)
    check_write(fx, str(path), write[0], file_writer(fx.store, path, write[0], kind, way, write[1]))


@CI
@given(data=parquet_files(), kind=MAYBE_KIND, way=FILE_WAYS, write=WRITES)
def test_random_parquet_imports_cleanly_or_fails_cleanly(
    fx: Fixture, data: bytes, kind: Kind | None, way: str, write: tuple[str, bool]
) -> None:
    path = fx.folder / "input.parquet"
    path.write_bytes(data)
    check_write(fx, str(path), write[0], file_writer(fx.store, path, write[0], kind, way, write[1]))


@CI
@given(table=arrow_tables(), kind=KINDS, way=TABLE_WAYS, write=WRITES)
def test_random_arrow_tables_write_cleanly_or_fail_cleanly(
    fx: Fixture, table: pa.Table, kind: Kind, way: str, write: tuple[str, bool]
) -> None:
    write_table = table_writer(fx.store, table, write[0], kind, way, write[1])
    check_write(fx, "<fuzz>", write[0], write_table)


@CI
@given(data=RAW_BYTES, suffix=st.sampled_from([".csv", ".parquet", ".txt", ""]), kind=MAYBE_KIND)
def test_random_bytes_fail_cleanly(
    fx: Fixture, data: bytes, suffix: str, kind: Kind | None
) -> None:
    path = fx.folder / f"input{suffix}"
    path.write_bytes(data)
    check_write(
        fx, str(path), "fuzz", file_writer(fx.store, path, "fuzz", kind, "import_file", True)
    )


# -- the bugs fuzzing found, pinned --------------------------------------------------------

SPOT_HEADER = "ts,path,open,high,low,close\n"
FOUND: dict[str, tuple[bytes, str]] = {
    "tz_offset": (SPOT_HEADER.encode() + b"2026-01-05T00:00:00+05:00,0,1,1,1,1\n", "naive_utc"),
    "far_future": (SPOT_HEADER.encode() + b"294247-01-10,0,1,1,1,1\n", "ts_range"),
    "infinity": (SPOT_HEADER.encode() + b"infinity,0,1,1,1,1\n", "ts_range"),
    "fraction": (SPOT_HEADER.encode() + b"2026-01-05 00:00:00.5,0,1,1,1,1\n", "whole_second"),
    "semicolons": (SPOT_HEADER.replace(",", ";").encode() + b"1;0;1;1;1;1\n", "file_format"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found_csv_bugs_give_their_rule(tmp_path: Path, case: str) -> None:
    data, rule = FOUND[case]
    path = tmp_path / "bars.csv"
    path.write_bytes(data)
    with BarStore(tmp_path / "s.duckdb") as store, pytest.raises(DataError) as caught:
        store.import_file(path, "x")
    assert str(path) in str(caught.value)
    assert f"[rule: {rule}]" in str(caught.value)


def test_a_bom_is_read_as_excel_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SPOT_HEADER.encode() + b"2026-01-05,0,1,1,1,1\n")
    with BarStore(tmp_path / "s.duckdb") as store:
        assert store.import_file(path, "x").rows == 1


def test_duplicate_parquet_columns_and_unknown_kinds_are_data_errors(tmp_path: Path) -> None:
    table = valid_bars(Kind.SPOT)
    path = tmp_path / "bars.parquet"
    pq.write_table(table.append_column(table.field("path"), table.column("path")), path)
    with BarStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(DataValidationError, match=r"duplicate column names \['path'\]"):
            store.import_file(path, "x")
        with pytest.raises(DataError, match="unknown kind 'bars'"):
            store.import_file(path, "x", "bars")
        assert store.names() == []


def test_an_overwrite_refusal_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    pq.write_table(valid_bars(Kind.SPOT), path)
    with BarStore(tmp_path / "s.duckdb") as store:
        store.import_file(path, "x")
        with pytest.raises(StoreError, match=f"{re.escape(str(path))}: dataset 'x' already has"):
            store.import_file(path, "x")


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xfe\x00garbage", b"PAR1\x00\x00PAR1", b"ts;path\n1;2\n", b"a,a\n1,2\n"]
)
def test_cli_import_of_bad_bytes_is_one_error_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes(data)
    store = str(tmp_path / "s.duckdb")
    result = CliRunner().invoke(app, ["data", "import", str(path), "-n", "x", "--store", store])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.output
    assert "error:" in result.output
    assert "bars.csv" in result.output


# -- the other files tokbt reads: configs, contract specs, scenarios, TPI inputs -----------

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "backtest": ROOT / "examples/backtest/backtest.toml",
    "compare": ROOT / "examples/compare/demand_explosion.toml",
    "mc": ROOT / "examples/mc/demand_explosion.toml",
    "spec": ROOT / "examples/custom_contract.toml",
    "scenario": None,  # ``tokbt sim show NAME`` prints one
    "recipe": ROOT / "datasets/llm_prices/recipes/gpt4_class.toml",
}
LOADERS: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
    "backtest": (load_config, ConfigError),
    "compare": (load_compare_config, ConfigError),
    "mc": (load_mc_config, ConfigError),
    "spec": (load_spec, ValueError),  # the market and sim rooms raise ValueError (layering)
    "scenario": (load_scenario, ValueError),
    "recipe": (load_recipe, ValueError),
}


def _example(kind: str) -> dict[str, Any]:
    path = EXAMPLES[kind]
    if path is None:
        return SCENARIOS["demand_explosion"].model_dump(mode="json", exclude_none=True)
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _paths(doc: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every key path of a parsed TOML document (list elements by index)."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    )
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


KEYS = st.one_of(
    st.sampled_from(sorted({str(p[-1]) for k in EXAMPLES for p in _paths(_example(k))})),
    st.text("abcdefghijklmnopqrstuvwxyz_.0", min_size=1, max_size=8),
)
TOML_VALUES = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.booleans(),
        st.sampled_from([*ODD_CELLS, "static", "no_hedge", "baseline", "tpi_month", "none"]),
        st.dates(),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def config_files(draw: st.DrawFn, kind: str) -> bytes:
    """A TOML file of config ``kind``: its example with keys changed, added or removed;
    or a random document; or random bytes."""
    shape = draw(st.sampled_from(["example", "example", "random", "bytes"]))
    if shape == "bytes":
        return draw(st.binary(max_size=200))
    doc = _example(kind) if shape == "example" else draw(st.dictionaries(KEYS, TOML_VALUES))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node: Any = doc
        for part in parents:
            node = node[part]
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "delete":
            del node[last]
        elif action == "add" and isinstance(node, dict):
            node[draw(KEYS)] = draw(TOML_VALUES)
        else:
            node[last] = draw(TOML_VALUES)
    return tomli_w.dumps(doc).encode()


@CI
@given(data=st.data(), kind=st.sampled_from(sorted(LOADERS)))
def test_random_config_files_load_or_fail_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, kind: str
) -> None:
    path = tmp_path_factory.mktemp("config") / f"{kind}.toml"
    path.write_bytes(data.draw(config_files(kind)))
    load, error = LOADERS[kind]
    _loads_or_names_the_file(path, load, error)


def _loads_or_names_the_file(
    path: Path, load: Callable[[Path], object], error: type[Exception]
) -> None:
    """``load(path)`` succeeds, or raises ``error`` whose message names ``path``."""
    try:
        load(path)
    except error as exc:
        failure = exc
    else:
        return
    assert str(path) in str(failure), repr(failure)


@st.composite
def price_point_files(draw: st.DrawFn) -> bytes:
    """The shipped price points' first rows, randomly changed, as CSV bytes."""
    lines = price_points_path().read_text(encoding="utf-8").splitlines()[:6]
    header, *rows = [line.split(",") for line in lines]
    for _ in range(draw(st.integers(0, 4))):
        _mutate_grid(draw, header, rows)
    return "\n".join(",".join(r) for r in [header, *rows]).encode()


@CI
@given(data=st.one_of(price_point_files(), st.binary(max_size=200)))
def test_random_price_points_load_or_fail_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("prices") / "price_points.csv"
    path.write_bytes(data)
    _loads_or_names_the_file(path, load_price_points, ValueError)  # PricePointError


def test_a_parquet_file_whose_statistics_lie_is_still_checked_row_by_row(tmp_path: Path) -> None:
    """The close of row 4 (2.003) overwritten in its data page by 9.5: the footer still says
    close ≤ 2.007 < 2.01 ≤ high, from which DuckDB would prove ``close > high`` impossible."""
    path = tmp_path / "lying.parquet"
    table = valid_bars(Kind.SPOT)
    pq.write_table(table, path, use_dictionary=False, compression="none")
    data = path.read_bytes()
    honest = struct.pack("<d", table["close"][3].as_py())
    assert data.count(honest) == 2  # in the open page, then in the close page
    at = data.index(honest, data.index(honest) + 1)
    path.write_bytes(data[:at] + struct.pack("<d", 9.5) + data[at + 8 :])
    with BarStore(tmp_path / "s.duckdb") as store:
        with pytest.raises(DataValidationError, match=r"close_in_range") as caught:
            store.import_file(path, "x")
        assert "row 4" in str(caught.value)
        assert store.names() == []


def test_a_half_float_column_is_read_as_a_number(tmp_path: Path) -> None:
    table = valid_bars(Kind.SPOT)
    halves = table.set_column(2, "open", table["open"].cast(pa.float16()))
    with BarStore(tmp_path / "s.duckdb") as store:
        store.write_table(halves, "x", Kind.SPOT)
        assert store.read("x", Kind.SPOT)["open"].to_pylist() == halves["open"].to_pylist()
