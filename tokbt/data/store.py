"""``BarStore``: named datasets of bars in one embedded DuckDB file.

Layout (SQL-queryable by users; ``SELECT * FROM datasets`` to start):

* ``datasets(name, spec, description, created_at)`` — one row per dataset;
  ``spec`` is the JSON of the dataset's ``ContractSpec``.
* ``dataset_parts(dataset, kind, rows, n_paths, n_contracts, start_ts, end_ts,
  source, source_sha256, imported_at)`` — one row per kind a dataset holds.
* ``spot_bars``, ``futures_bars``, ``consumption`` — the bars of every dataset,
  with a leading ``dataset`` column and the columns of ``tokbt.data.schemas``.

Every write is one transaction: a failed import leaves the store as it was.
The store file is ``./tokbt.duckdb`` unless ``--store`` or ``TOKBT_STORE``
says otherwise.

A dataset part is stored in one of two ways (``dataset_parts.storage``):

* ``duckdb`` — rows in the tables above (the default; imports and recorded data);
* ``parquet`` — Parquet files in ``<store>.parquet/<dataset>/<kind>-<id>/``
  (``dataset_parts.location``, relative to the store's folder), which the
  catalog points to. Large simulations use it: writing Parquet is several
  times faster than inserting rows, and DuckDB reads the files in place.

Either way a write is atomic: Parquet files are written to a fresh folder
that the catalog references only once the transaction commits; rows bound
for DuckDB tables wait in a temporary table until one final transaction
moves them. A failed write leaves nothing; a write killed before its commit
leaves only its unreferenced Parquet folder, which the next writable open
removes. (Chunks are never held inside a long transaction: DuckDB keeps every
Arrow table scanned in an open transaction alive until it ends, which made
memory grow with the run.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tokbt.closing import Closing
from tokbt.data.schemas import SCHEMAS, Kind, KindSchema, schema_for
from tokbt.data.validate import (
    TYPED,
    RowsCallback,
    ValidationReport,
    _Source,
    check_staged,
    check_unchanged,
    configure,
    filled_note,
    reading,
    stage,
    stage_arrow,
    unstage,
)
from tokbt.errors import StoreError
from tokbt.market import TPI_MONTH, ContractSpec

SCHEMA_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


StepCallback = Callable[[str], None]
_WRITING: set[Path] = set()
"""Parquet part folders a ``DatasetWriter`` of this process is writing (not yet in a catalog)."""


def _no_step(_name: str) -> None:
    pass


def default_store_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The store file: ``explicit``, else ``$TOKBT_STORE``, else ``./tokbt.duckdb``."""
    return Path(explicit or os.environ.get("TOKBT_STORE") or "tokbt.duckdb")


def check_name(name: str) -> str:
    """``name`` if it is a valid dataset name (letters, digits, ``_.-``; at most 64)."""
    if not _NAME_RE.match(name):
        raise StoreError(
            f"dataset name {name!r} is invalid: use letters, digits, '_', '.', '-' "
            "(not starting with '.' or '-'), at most 64 characters"
        )
    return name


@dataclass(frozen=True)
class PartInfo:
    """One kind of bars in a dataset.

    ``bar_seconds`` is the bar length: the smallest gap between timestamps
    (86,400 for daily bars; a bar's values are known at ``ts + bar_seconds``).
    """

    kind: Kind
    rows: int
    n_paths: int
    n_contracts: int
    start: dt.datetime
    end: dt.datetime
    source: str
    source_sha256: str
    imported_at: dt.datetime
    storage: str
    location: str | None
    bar_seconds: int


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset: its contract spec and the kinds of bars it holds."""

    name: str
    spec: ContractSpec
    description: str
    created_at: dt.datetime
    parts: dict[Kind, PartInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    dataset: str
    kind: Kind
    rows: int
    seconds: float
    report: ValidationReport


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _HashSink:
    """A write-only file object that feeds whatever is written to it to a SHA-256 digest."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.closed = False
        self._written = 0

    def write(self, data: Any) -> int:
        """Hash ``data`` (any buffer); return its length in bytes."""
        view = memoryview(data)
        self.digest.update(view)
        self._written += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        """Bytes written so far."""
        return self._written

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Mark the file closed (the digest stays readable)."""
        self.closed = True


def table_sha256(table: pa.Table) -> str:
    """SHA-256 of an Arrow table's IPC stream: a content hash for generated data.

    The stream is hashed as the IPC writer emits it, buffer by buffer: the same
    digest as hashing the whole serialised stream, without ever holding a copy of it.
    """
    sink = _HashSink()
    with pa.PythonFile(sink, mode="w") as out, pa.ipc.new_stream(out, table.schema) as writer:
        writer.write_table(table)
    return sink.digest.hexdigest()


class BarStore(Closing):
    """Named datasets of spot, futures and consumption bars in a DuckDB file.

    Use as a context manager or call ``close()``. ``read_only=True`` lets
    several processes read one store at once.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.path = default_store_path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"store {self.path} does not exist")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        configure(self.con, temp_dir=str(self.path) + ".tmp")
        if not read_only:
            self._create_schema()
        self._check_version()
        if not read_only:
            self._sweep_orphans()

    @property
    def parquet_root(self) -> Path:
        """Folder of Parquet-backed parts: ``<store>.parquet`` beside the store file."""
        return self.path.with_name(self.path.name + ".parquet")

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def _create_schema(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS tokbt_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
        )
        self.con.execute(
            "INSERT INTO tokbt_meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION)],
        )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS datasets (name VARCHAR PRIMARY KEY, spec VARCHAR NOT NULL,"
            " description VARCHAR, created_at TIMESTAMP NOT NULL)"
        )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS dataset_parts (dataset VARCHAR NOT NULL, kind VARCHAR NOT "
            "NULL, rows BIGINT, n_paths INTEGER, n_contracts INTEGER, start_ts TIMESTAMP, end_ts "
            "TIMESTAMP, source VARCHAR, source_sha256 VARCHAR, imported_at TIMESTAMP, "
            "storage VARCHAR NOT NULL, location VARCHAR, bar_seconds BIGINT, "
            "PRIMARY KEY (dataset, kind))"
        )
        for ks in SCHEMAS.values():
            cols = ", ".join(f'"{c}" {ks.duckdb_type(c)}' for c in ks.columns)
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {ks.table} (dataset VARCHAR NOT NULL, {cols})"
            )
        self.con.execute("COMMIT")

    def _check_version(self) -> None:
        try:
            row = self.con.execute(
                "SELECT value FROM tokbt_meta WHERE key = 'schema_version'"
            ).fetchone()
        except duckdb.CatalogException:
            raise StoreError(f"{self.path} is not a tokbt store (no tokbt_meta table)") from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise StoreError(
                f"store {self.path} has schema version {found}; this tokbt reads version "
                f"{SCHEMA_VERSION}: export its datasets with the tokbt that wrote it, or start a "
                "new store"
            )

    def _sweep_orphans(self) -> None:
        """Remove Parquet part folders no dataset references: a write killed before its
        commit leaves its folder behind. Safe on a writable open: DuckDB lets one process
        at a time open a store for writing, and this process's writers are skipped."""
        root = self.parquet_root
        if not root.is_dir():
            return
        rows = self.con.execute(
            "SELECT location FROM dataset_parts WHERE storage = 'parquet'"
        ).fetchall()
        keep = {(self.path.parent / r[0]).resolve() for r in rows} | _WRITING
        for folder in root.glob("*/*"):
            if folder.is_dir() and folder.resolve() not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    # -- catalog ---------------------------------------------------------------------

    def names(self) -> list[str]:
        """Dataset names, sorted."""
        return [
            r[0] for r in self.con.execute("SELECT name FROM datasets ORDER BY name").fetchall()
        ]

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its parts, sorted by name."""
        return [self.info(n) for n in self.names()]

    def info(self, name: str) -> DatasetInfo:
        """The dataset ``name``; ``StoreError`` if there is none."""
        row = self.con.execute(
            "SELECT spec, description, created_at FROM datasets WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            known = ", ".join(self.names()) or "none"
            raise StoreError(f"no dataset {name!r} in store {self.path} (datasets: {known})")
        parts = {}
        for r in self.con.execute(
            "SELECT kind, rows, n_paths, n_contracts, start_ts, end_ts, source, source_sha256, "
            "imported_at, storage, location, bar_seconds FROM dataset_parts WHERE dataset = ? "
            "ORDER BY kind",
            [name],
        ).fetchall():
            parts[Kind(r[0])] = PartInfo(Kind(r[0]), *r[1:])
        return DatasetInfo(
            name, ContractSpec.model_validate_json(row[0]), row[1] or "", row[2], parts
        )

    def spec(self, name: str) -> ContractSpec:
        """The contract spec of dataset ``name``."""
        return self.info(name).spec

    def source(self, name: str, kind: Kind | str) -> str:
        """A SQL ``FROM`` clause (with its ``WHERE`` start) selecting one part's rows.

        ``SELECT ... FROM {store.source(name, kind)} AND ts >= ...`` works for
        both storages; the clause always ends inside a ``WHERE``.
        """
        ks = schema_for(kind)
        part = self.info(name).parts.get(ks.kind)
        if part is None:
            raise StoreError(f"dataset {name!r} has no {ks.kind} bars")
        if part.storage == "parquet":
            assert part.location is not None
            folder = self.path.parent / part.location
            return f"read_parquet('{_sql_str(str(folder))}/*.parquet') WHERE TRUE"
        return f"{ks.table} WHERE dataset = '{_sql_str(name)}'"

    # -- writing ---------------------------------------------------------------------

    def writer(
        self,
        name: str,
        *,
        spec: ContractSpec | None = None,
        replace: bool = False,
        description: str = "",
        storage: str = "duckdb",
        single: bool = False,
    ) -> DatasetWriter:
        """A transaction that adds kinds of bars to dataset ``name``, chunk by chunk.

        ``with store.writer("sim", storage="parquet") as w: w.append_table(...)``.
        Everything appended becomes visible at once when the block ends
        without error; on any error nothing is written. ``storage`` is
        ``duckdb`` or ``parquet`` (see the module docstring).
        """
        if storage not in {"duckdb", "parquet"}:
            raise StoreError(f"storage must be 'duckdb' or 'parquet', not {storage!r}")
        spec = self._spec_for_write(check_name(name), spec)
        return DatasetWriter(self, name, spec, replace, description, storage, single)

    def import_file(
        self,
        path: str | os.PathLike[str],
        name: str,
        kind: Kind | str | None = None,
        *,
        spec: ContractSpec | None = None,
        replace: bool = False,
        description: str = "",
        on_rows: RowsCallback | None = None,
        on_step: StepCallback | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> ImportResult:
        """Validate a CSV or Parquet file and add it to dataset ``name`` as ``kind``.

        ``kind`` is inferred from the columns when omitted. ``columns`` maps schema
        columns to the file's (``{"ts": "day"}``); a ``date,close`` index needs none
        (``tokbt.data.validate.resolve_columns``: aliases, path 0, OHLC from the close —
        the filled columns are named in the catalog's source). A kind the dataset
        already holds is replaced only with ``replace=True``. Invalid data
        raises ``DataValidationError`` and changes nothing. ``on_rows(n)``
        reports progress as batches of ``n`` rows are read; ``on_step(name)``
        is called as each step starts (``stage``, each rule, ``insert``, ``done``).
        """
        t0 = time.perf_counter()
        with self.writer(
            name, spec=spec, replace=replace, description=description, single=True
        ) as w:
            report = w.append_file(path, kind, on_rows=on_rows, on_step=on_step, columns=columns)
        return ImportResult(name, report.kind, report.rows, time.perf_counter() - t0, report)

    def write_table(
        self,
        table: pa.Table,
        name: str,
        kind: Kind | str,
        *,
        spec: ContractSpec | None = None,
        replace: bool = False,
        description: str = "",
        source: str = "generated",
    ) -> ImportResult:
        """Validate an Arrow table of bars and add it to dataset ``name`` (as ``import_file``)."""
        t0 = time.perf_counter()
        with self.writer(
            name, spec=spec, replace=replace, description=description, single=True
        ) as w:
            report = w.append_table(kind, table, source=source)
        return ImportResult(name, report.kind, report.rows, time.perf_counter() - t0, report)

    def _spec_for_write(self, name: str, spec: ContractSpec | None) -> ContractSpec:
        row = self.con.execute("SELECT spec FROM datasets WHERE name = ?", [name]).fetchone()
        if row is None:
            return spec or TPI_MONTH
        stored = ContractSpec.model_validate_json(row[0])
        if spec is not None and spec != stored:
            raise StoreError(
                f"dataset {name!r} was created with contract spec {stored.root} "
                f"({stored.name}); a write with a different spec would mix products"
            )
        return stored

    def _refuse_overwrite(self, name: str, kind: Kind, replace: bool, source: str = "") -> None:
        exists = self.con.execute(
            "SELECT 1 FROM dataset_parts WHERE dataset = ? AND kind = ?", [name, kind.value]
        ).fetchone()
        if exists and not replace:
            raise StoreError(
                f"{source + ': ' if source else ''}dataset {name!r} already has {kind} bars; "
                "use --replace (replace=True) to overwrite them"
            )

    def _part_locations(self, name: str) -> list[Path]:
        rows = self.con.execute(
            "SELECT location FROM dataset_parts WHERE dataset = ? AND storage = 'parquet'", [name]
        ).fetchall()
        return [self.path.parent / r[0] for r in rows]

    def delete(self, name: str) -> None:
        """Remove dataset ``name`` and all its bars (one transaction; files after commit)."""
        self.info(name)
        folders = self._part_locations(name)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for ks in SCHEMAS.values():
                self.con.execute(f"DELETE FROM {ks.table} WHERE dataset = ?", [name])
            self.con.execute("DELETE FROM dataset_parts WHERE dataset = ?", [name])
            self.con.execute("DELETE FROM datasets WHERE name = ?", [name])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------

    def _select(
        self,
        name: str,
        kind: Kind | str,
        columns: Sequence[str] | None,
        paths: Sequence[int] | None,
        start: Any,
        end: Any,
        ordered: bool = True,
    ) -> tuple[str, list[Any], KindSchema]:
        ks = schema_for(kind)
        source = self.source(name, kind)
        cols = list(columns) if columns is not None else list(ks.columns)
        bad = [c for c in cols if c not in ks.columns]
        if bad:
            raise StoreError(f"{ks.kind} bars have no column(s) {bad}; columns: {ks.columns}")
        where: list[str] = []
        params: list[Any] = []
        if paths is not None:
            where.append("path IN (SELECT unnest(?))")
            params.append([int(p) for p in paths])
        if start is not None:
            where.append("ts >= ?")
            params.append(start)
        if end is not None:
            where.append("ts < ?")
            params.append(end)
        order = " ORDER BY " + ", ".join(["ts", *ks.key]) if ordered else ""
        select = ", ".join(f'"{c}"' for c in cols)
        extra = "".join(f" AND {w}" for w in where)
        return f"SELECT {select} FROM {source}{extra}{order}", params, ks

    def read(
        self,
        name: str,
        kind: Kind | str,
        *,
        columns: Sequence[str] | None = None,
        paths: Sequence[int] | None = None,
        start: Any = None,
        end: Any = None,
        ordered: bool = True,
    ) -> pa.Table:
        """Bars of one kind as an Arrow table ordered by ``ts``, then ``path`` (and contract).

        ``paths`` selects paths; ``start`` (inclusive) and ``end`` (exclusive)
        select a time window; ``ordered=False`` skips the sort (rows then come
        in storage order — for callers that place rows by their keys).
        """
        sql, params, ks = self._select(name, kind, columns, paths, start, end, ordered)
        table = self.con.sql(sql, params=params).to_arrow_table()
        target = pa.schema([ks.schema.field(c) for c in table.column_names])
        return table.cast(target.remove_metadata(), safe=False)

    def read_numpy(
        self,
        name: str,
        kind: Kind | str,
        *,
        columns: Sequence[str] | None = None,
        paths: Sequence[int] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> dict[str, np.ndarray]:
        """As ``read``, as a dict of numpy arrays (``ts`` as ``datetime64[us]``)."""
        sql, params, _ = self._select(name, kind, columns, paths, start, end)
        raw = self.con.execute(sql, params).fetchnumpy()
        return {k: np.asarray(v) for k, v in raw.items()}

    def export(
        self,
        name: str,
        out_dir: str | os.PathLike[str],
        kinds: Sequence[Kind | str] | None = None,
    ) -> list[Path]:
        """Write each kind of dataset ``name`` to ``out_dir/dataset=NAME/kind=KIND/part-0.parquet``.

        The layout is hive-partitioned, so ``read_parquet('out/*/*/*.parquet',
        hive_partitioning=true)`` in DuckDB or ``pyarrow.dataset`` read it back.
        """
        info = self.info(name)
        wanted = [schema_for(k).kind for k in kinds] if kinds is not None else list(info.parts)
        written = []
        for kind in wanted:
            sql, params, _ = self._select(name, kind, None, None, None, None)
            target = Path(out_dir) / f"dataset={name}" / f"kind={kind.value}" / "part-0.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            rel = self.con.sql(sql, params=params)
            with pq.ParquetWriter(target, schema_for(kind).schema, compression="zstd") as w:
                for batch in rel.to_arrow_reader(1 << 17):
                    w.write_batch(batch.cast(schema_for(kind).schema, safe=False))
            written.append(target)
        return written


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _conform(table: pa.Table, ks: KindSchema) -> pa.Table:
    """``table`` with exactly the kind's columns, in order and type (absent ones NULL).

    Dictionary-encoded strings stay dictionary-encoded (Parquet stores them so).
    """
    columns = []
    for want in ks.schema:
        if want.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, want.type))
            continue
        column = table[want.name]
        keep = pa.types.is_dictionary(column.type) and pa.types.is_string(want.type)
        columns.append(column if keep or column.type == want.type else column.cast(want.type))
    return pa.table(columns, names=list(ks.columns))


@dataclass
class _PartStats:
    """Running totals of one kind written by a ``DatasetWriter``."""

    rows: int = 0
    paths: set[int] = field(default_factory=set)
    contracts: set[str] = field(default_factory=set)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    bar_seconds: int | None = None
    sources: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    files: int = 0

    def add_typed(self, con: duckdb.DuckDBPyConnection, has_contract: bool) -> set[int]:
        """Add the staged rows' totals (read with SQL from ``TYPED``); return their paths."""
        row = con.execute(f"SELECT count(*), min(ts), max(ts) FROM {TYPED}").fetchone()
        assert row is not None
        rows, lo, hi = row
        paths = {int(r[0]) for r in con.execute(f"SELECT DISTINCT path FROM {TYPED}").fetchall()}
        if has_contract:
            self.contracts.update(
                r[0] for r in con.execute(f"SELECT DISTINCT contract FROM {TYPED}").fetchall()
            )
        gap = con.execute(
            f"SELECT epoch(min(d)) FROM (SELECT ts - lag(ts) OVER (ORDER BY ts) AS d "
            f"FROM (SELECT DISTINCT ts FROM {TYPED}))"
        ).fetchone()
        if gap is not None and gap[0] is not None:
            g = int(gap[0])
            self.bar_seconds = g if self.bar_seconds is None else min(self.bar_seconds, g)
        self.rows += int(rows)
        if lo is not None:
            self.start = lo if self.start is None else min(self.start, lo)
            self.end = hi if self.end is None else max(self.end, hi)
        return paths

    def record(self, source: str, sha256: str, paths: set[int]) -> None:
        self.paths |= paths
        if source not in self.sources:
            self.sources.append(source)
        self.hashes.append(sha256)

    @property
    def digest(self) -> str:
        """The input's SHA-256, or for several chunks the SHA-256 of their hashes in order."""
        if len(self.hashes) == 1:
            return self.hashes[0]
        return hashlib.sha256("".join(self.hashes).encode()).hexdigest()


class DatasetWriter:
    """One atomic write of bars into a dataset; made by ``BarStore.writer``.

    Each ``append_*`` validates its input completely (every rule of
    ``tokbt.data.validate``) before storing it; chunks of one kind must hold
    disjoint paths. Nothing is visible to readers until the ``with`` block
    ends without error.

    Chunks go to Parquet files in a fresh folder (``parquet`` storage) or to a
    temporary table (``duckdb`` storage); the end of the block commits the
    catalog (and moves the rows) in one transaction. ``single=True`` (one
    append, as ``import_file`` does) inserts straight into the table inside
    that transaction instead, saving a copy.
    """

    def __init__(
        self,
        store: BarStore,
        name: str,
        spec: ContractSpec,
        replace: bool,
        description: str,
        storage: str,
        single: bool = False,
    ) -> None:
        self.store, self.name, self.spec = store, name, spec
        self.replace, self.description, self.storage = replace, description, storage
        self.single = single
        self._stats: dict[Kind, _PartStats] = {}
        self._folders: dict[Kind, Path] = {}
        self._old_folders: list[Path] = []
        self._in_transaction = False

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.store.con

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                self._abort()
                return
            try:
                unstage(self.con)
                self._commit()
            except BaseException:
                self._abort()
                raise
            for folder in self._old_folders:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            unstage(self.con)  # again: a rollback restores what was dropped inside it
            self._drop_pending()
            for folder in self._folders.values():
                _WRITING.discard(folder.resolve())

    def _pending(self, kind: Kind) -> str:
        return f"_tokbt_pending_{kind.value}"

    def _drop_pending(self) -> None:
        for kind in self._stats:
            self.con.execute(f"DROP TABLE IF EXISTS {self._pending(kind)}")

    def _begin(self) -> None:
        if not self._in_transaction:
            self.con.execute("BEGIN TRANSACTION")
            self._in_transaction = True

    def _abort(self) -> None:
        if self._in_transaction:
            self.con.execute("ROLLBACK")
            self._in_transaction = False
        for folder in self._folders.values():
            shutil.rmtree(folder, ignore_errors=True)

    def _commit(self) -> None:
        """Point the catalog at what was appended (moving pending rows) in one transaction."""
        self._begin()
        self.con.execute(
            "INSERT INTO datasets VALUES (?, ?, ?, now()) ON CONFLICT DO NOTHING",
            [self.name, self.spec.model_dump_json(), self.description],
        )
        for kind in self._stats:
            ks = SCHEMAS[kind]
            old = self.con.execute(
                "SELECT location FROM dataset_parts WHERE dataset = ? AND kind = ? AND "
                "storage = 'parquet'",
                [self.name, kind.value],
            ).fetchall()
            self._old_folders += [self.store.path.parent / r[0] for r in old]
            self.con.execute(
                "DELETE FROM dataset_parts WHERE dataset = ? AND kind = ?", [self.name, kind.value]
            )
            if not (self.single and self.storage == "duckdb"):  # single: replaced on insert
                self.con.execute(f"DELETE FROM {ks.table} WHERE dataset = ?", [self.name])
            if self.storage == "duckdb" and not self.single:
                self.con.execute(
                    f"INSERT INTO {ks.table} SELECT ?, * FROM {self._pending(kind)}", [self.name]
                )
        self._finish()
        self.con.execute("COMMIT")
        self._in_transaction = False

    def _begin_kind(self, kind: Kind, source: str = "") -> _PartStats:
        if kind in self._stats:
            if self.single:
                raise StoreError("a single-append writer got a second append")
            return self._stats[kind]
        self.store._refuse_overwrite(self.name, kind, self.replace, source)
        if self.storage == "parquet":
            folder = self.store.parquet_root / self.name / f"{kind.value}-{uuid.uuid4().hex[:12]}"
            _WRITING.add(folder.resolve())
            folder.mkdir(parents=True)
            self._folders[kind] = folder
        elif not self.single:
            ks = SCHEMAS[kind]
            cols = ", ".join(f'"{c}" {ks.duckdb_type(c)}' for c in ks.columns)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {self._pending(kind)} ({cols})")
        self._stats[kind] = _PartStats()
        return self._stats[kind]

    def append_file(
        self,
        path: str | os.PathLike[str],
        kind: Kind | str | None = None,
        *,
        on_rows: RowsCallback | None = None,
        on_step: StepCallback | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> ValidationReport:
        """Validate a CSV or Parquet file and add its rows as ``kind`` (inferred if omitted;
        ``columns`` as for ``BarStore.import_file``)."""
        source = Path(path)
        step = on_step or _no_step
        if kind is not None:  # fail before reading a large file
            self.store._refuse_overwrite(
                self.name, schema_for(kind).kind, self.replace, str(source)
            )
        step("stage")
        ks, src, rows = stage(self.con, source, kind, on_rows, columns)
        sha256 = file_sha256(source)
        label = str(source) + filled_note(src)
        try:
            with reading(src):
                report = check_staged(self.con, ks, src, rows, self.spec, step)
                report.raise_for_errors()
                stats = self._begin_kind(ks.kind, label)
                step("insert")
                self._store_staged(ks, src, stats, label, sha256)
        finally:
            unstage(self.con)
            step("done")
        return report

    def append_table(
        self,
        kind: Kind | str,
        table: pa.Table,
        *,
        source: str = "generated",
        validate: bool = True,
        content_id: str | None = None,
    ) -> ValidationReport:
        """Validate an Arrow table of bars and add its rows as ``kind``.

        ``validate=False`` skips the row rules (for data tokbt generated itself
        and checks in its own tests); columns are still checked.
        ``content_id`` identifies the content when the caller can (a
        simulation: its config, seed and paths) instead of hashing the table.
        """
        ks = schema_for(kind)
        stats = self._begin_kind(ks.kind, f"<{source}>")
        _, src, rows = stage_arrow(self.con, table, ks, label=f"<{source}>")
        try:
            report = ValidationReport(str(src.path), ks.kind, rows)
            if validate:
                report = check_staged(self.con, ks, src, rows, self.spec)
            report.raise_for_errors()
            self._store_staged(ks, src, stats, source, content_id or table_sha256(table))
        finally:
            unstage(self.con)
        return report

    def _store_staged(
        self, ks: KindSchema, src: _Source, stats: _PartStats, source: str, sha256: str
    ) -> None:
        paths = stats.add_typed(self.con, "contract" in ks.columns)
        repeated = paths & stats.paths
        if repeated:
            raise StoreError(
                f"{ks.kind} rows of {source} repeat path(s) {sorted(repeated)[:5]} already "
                f"written to {self.name!r} in this write"
            )
        cols = ", ".join(
            f'CAST(path AS INTEGER) AS "{c}"' if c == "path" else f'"{c}"' for c in ks.columns
        )
        if self.storage == "duckdb" and self.single:
            self._begin()
            self.con.execute(f"DELETE FROM {ks.table} WHERE dataset = ?", [self.name])
            self.con.execute(f"INSERT INTO {ks.table} SELECT ?, {cols} FROM {TYPED}", [self.name])
        elif self.storage == "duckdb":
            self.con.execute(f"INSERT INTO {self._pending(ks.kind)} SELECT {cols} FROM {TYPED}")
        else:
            target = self._folders[ks.kind] / f"part-{stats.files:05d}.parquet"
            if src.table is not None:  # pyarrow writes Arrow 3-4x faster than COPY
                pq.write_table(
                    _conform(src.table, ks), target, compression="zstd", row_group_size=1 << 20
                )
            else:
                self.con.execute(
                    f"COPY (SELECT {cols} FROM {TYPED}) TO '{_sql_str(str(target))}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
                )
            stats.files += 1
        check_unchanged(src)
        stats.record(source, sha256, paths)

    def _finish(self) -> None:
        for kind, stats in self._stats.items():
            folder = self._folders.get(kind)
            location = str(folder.relative_to(self.store.path.parent)) if folder else None
            self.con.execute(
                "INSERT INTO dataset_parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)",
                [
                    self.name,
                    kind.value,
                    stats.rows,
                    len(stats.paths),
                    len(stats.contracts),
                    stats.start,
                    stats.end,
                    " + ".join(stats.sources[:3]) + (" + ..." if len(stats.sources) > 3 else ""),
                    stats.digest,
                    self.storage,
                    location,
                    stats.bar_seconds or 86_400,
                ],
            )
