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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tokbt.data.schemas import SCHEMAS, Kind, KindSchema, schema_for
from tokbt.data.validate import (
    TYPED,
    RowsCallback,
    ValidationReport,
    _Source,
    check_staged,
    check_unchanged,
    configure,
    stage,
    stage_arrow,
    unstage,
)
from tokbt.errors import StoreError
from tokbt.market import TPI_MONTH, ContractSpec

SCHEMA_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


StepCallback = Callable[[str], None]


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
    """One kind of bars in a dataset."""

    kind: Kind
    rows: int
    n_paths: int
    n_contracts: int
    start: dt.datetime
    end: dt.datetime
    source: str
    source_sha256: str
    imported_at: dt.datetime


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


def table_sha256(table: pa.Table) -> str:
    """SHA-256 of an Arrow table's IPC stream: a content hash for generated data."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


class BarStore:
    """Named datasets of spot, futures and consumption bars in a DuckDB file.

    Use as a context manager or call ``close()``. ``read_only=True`` lets
    several processes read one store at once.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self.path = default_store_path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"store {self.path} does not exist")
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        configure(self.con, temp_dir=str(self.path) + ".tmp")
        if not read_only:
            self._create_schema()

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def __enter__(self) -> BarStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            "PRIMARY KEY (dataset, kind))"
        )
        for ks in SCHEMAS.values():
            cols = ", ".join(f'"{c}" {ks.duckdb_type(c)}' for c in ks.columns)
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {ks.table} (dataset VARCHAR NOT NULL, {cols})"
            )
        self.con.execute("COMMIT")

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
            "imported_at FROM dataset_parts WHERE dataset = ? ORDER BY kind",
            [name],
        ).fetchall():
            parts[Kind(r[0])] = PartInfo(Kind(r[0]), *r[1:])
        return DatasetInfo(
            name, ContractSpec.model_validate_json(row[0]), row[1] or "", row[2], parts
        )

    def spec(self, name: str) -> ContractSpec:
        """The contract spec of dataset ``name``."""
        return self.info(name).spec

    # -- writing ---------------------------------------------------------------------

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
    ) -> ImportResult:
        """Validate a CSV or Parquet file and add it to dataset ``name`` as ``kind``.

        ``kind`` is inferred from the columns when omitted. A kind the dataset
        already holds is replaced only with ``replace=True``. Invalid data
        raises ``DataValidationError`` and changes nothing. ``on_rows(n)``
        reports progress as batches of ``n`` rows are read; ``on_step(name)``
        is called as each step starts (``stage``, each rule, ``insert``, ``done``).
        """
        source = Path(path)
        t0 = time.perf_counter()
        spec = self._spec_for_write(check_name(name), spec)
        if kind is not None:
            self._refuse_overwrite(name, Kind(kind), replace)
        step = on_step or _no_step
        step("stage")
        ks, src, rows = stage(self.con, source, kind, on_rows)
        sha256 = file_sha256(source)
        return self._commit_staged(
            name, ks, src, rows, spec, replace, description, str(source), sha256, t0, step
        )

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
        spec = self._spec_for_write(check_name(name), spec)
        self._refuse_overwrite(name, Kind(kind), replace)
        ks, src, rows = stage_arrow(self.con, table, schema_for(kind), label=f"<{source}>")
        return self._commit_staged(
            name,
            ks,
            src,
            rows,
            spec,
            replace,
            description,
            source,
            table_sha256(table),
            t0,
            _no_step,
        )

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

    def _commit_staged(
        self,
        name: str,
        ks: KindSchema,
        src: _Source,
        rows: int,
        spec: ContractSpec,
        replace: bool,
        description: str,
        source: str,
        sha256: str,
        t0: float,
        step: StepCallback,
    ) -> ImportResult:
        try:
            report = check_staged(self.con, ks, src, rows, spec, step)
            report.raise_for_errors()
            self._refuse_overwrite(name, ks.kind, replace)
            step("insert")
            self._insert_staged(name, ks, spec, description, source, sha256, src)
        finally:
            unstage(self.con)
            step("done")
        return ImportResult(name, ks.kind, rows, time.perf_counter() - t0, report)

    def _refuse_overwrite(self, name: str, kind: Kind, replace: bool) -> None:
        exists = self.con.execute(
            "SELECT 1 FROM dataset_parts WHERE dataset = ? AND kind = ?", [name, kind.value]
        ).fetchone()
        if exists and not replace:
            raise StoreError(
                f"dataset {name!r} already has {kind} bars; use --replace (replace=True) "
                "to overwrite them"
            )

    def _insert_staged(
        self,
        name: str,
        ks: KindSchema,
        spec: ContractSpec,
        description: str,
        source: str,
        sha256: str,
        src: _Source,
    ) -> None:
        cols = ", ".join("CAST(path AS INTEGER)" if c == "path" else f'"{c}"' for c in ks.columns)
        n_contracts = "count(DISTINCT contract)" if ks.kind is Kind.FUTURES else "0"
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "INSERT INTO datasets VALUES (?, ?, ?, now()) ON CONFLICT DO NOTHING",
                [name, spec.model_dump_json(), description],
            )
            self.con.execute(f"DELETE FROM {ks.table} WHERE dataset = ?", [name])
            self.con.execute(f"INSERT INTO {ks.table} SELECT ?, {cols} FROM {TYPED}", [name])
            self.con.execute(
                "DELETE FROM dataset_parts WHERE dataset = ? AND kind = ?", [name, ks.kind.value]
            )
            self.con.execute(
                f"INSERT INTO dataset_parts SELECT ?, ?, count(*), count(DISTINCT path), "
                f"{n_contracts}, min(ts), max(ts), ?, ?, now() FROM {TYPED}",
                [name, ks.kind.value, source, sha256],
            )
            check_unchanged(src)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def delete(self, name: str) -> None:
        """Remove dataset ``name`` and all its bars (one transaction)."""
        self.info(name)
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

    # -- reading ---------------------------------------------------------------------

    def _select(
        self,
        name: str,
        kind: Kind | str,
        columns: Sequence[str] | None,
        paths: Sequence[int] | None,
        start: Any,
        end: Any,
    ) -> tuple[str, list[Any], KindSchema]:
        ks = schema_for(kind)
        info = self.info(name)
        if ks.kind not in info.parts:
            raise StoreError(f"dataset {name!r} has no {ks.kind} bars")
        cols = list(columns) if columns is not None else list(ks.columns)
        bad = [c for c in cols if c not in ks.columns]
        if bad:
            raise StoreError(f"{ks.kind} bars have no column(s) {bad}; columns: {ks.columns}")
        where, params = ["dataset = ?"], [name]
        if paths is not None:
            where.append("path IN (SELECT unnest(?))")
            params.append([int(p) for p in paths])  # type: ignore[arg-type]
        if start is not None:
            where.append("ts >= ?")
            params.append(start)
        if end is not None:
            where.append("ts < ?")
            params.append(end)
        order = ", ".join(["ts", *ks.key])
        select = ", ".join(f'"{c}"' for c in cols)
        sql = f"SELECT {select} FROM {ks.table} WHERE {' AND '.join(where)} ORDER BY {order}"
        return sql, params, ks

    def read(
        self,
        name: str,
        kind: Kind | str,
        *,
        columns: Sequence[str] | None = None,
        paths: Sequence[int] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pa.Table:
        """Bars of one kind as an Arrow table ordered by ``ts``, then ``path`` (and contract).

        ``paths`` selects paths; ``start`` (inclusive) and ``end`` (exclusive)
        select a time window.
        """
        sql, params, ks = self._select(name, kind, columns, paths, start, end)
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
        wanted = [Kind(k) for k in kinds] if kinds is not None else list(info.parts)
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
