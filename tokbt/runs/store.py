"""``RunStore``: saved runs — their record, metrics and journal — in the DuckDB store file.

Runs live in the same file as the datasets (``./tokbt.duckdb`` unless
``--store`` or ``TOKBT_STORE`` says otherwise), in tables users can query
with SQL; ``docs/run-store.md`` documents every table and column:

* ``runs`` — one row per run: id, when it was created and saved, kind,
  versions, seed, paths, policies, market, timings, the bootstrap's settings,
  the full record (JSON) and the layout of the metric frames (JSON);
* ``run_metrics`` ← ``Evaluation.summary``; ``run_paths`` ← ``Evaluation.paths``
  (long: one row per policy, path and metric); ``run_monthly``, ``run_series``,
  ``run_comparisons``, ``run_sweep`` ← the frames of the same names;
* ``run_journal`` — the journal, for runs saved with one.

Every row carries ``run_id``; ``position`` is the row's place in its frame,
so ``ORDER BY position`` gives the order documented in
``tokbt.metrics.evaluation`` and ``load`` returns frames equal to those saved
(values, dtypes, column and row order). NaN is stored as NULL.

A save or delete is one transaction: an error leaves the store as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from tokbt.closing import Closing
from tokbt.data.store import BarStore
from tokbt.errors import StoreError
from tokbt.ledger import JOURNAL_SCHEMA
from tokbt.metrics.evaluation import QUANTILE_COLUMNS, Evaluation
from tokbt.runs.stored import StoredRun

RUNS_SCHEMA_VERSION = 1
"""Version of the run tables, kept in ``tokbt_meta`` under ``runs_schema_version``."""

RUN_JOURNAL_SCHEMA = pa.schema([pa.field("policy", pa.string()), *JOURNAL_SCHEMA])
"""The journal of a ``StoredRun``: ``policy`` then the columns of ``JOURNAL_SCHEMA``."""

RUN_COLUMNS = (
    "run_id",
    "created",
    "kind",
    "market",
    "policies",
    "n_paths",
    "seed",
    "seconds",
    "tokbt_version",
    "best",
    "best_vr_std",
)
"""Columns of ``RunStore.runs()``."""

MIN_PREFIX = 4
"""Shortest run-id prefix ``load``, ``delete`` and the CLI accept."""

_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{4,64}$")
_SOURCE = "_tokbt_run_source"

_DDL: dict[str, str] = {
    "runs": (
        "run_id VARCHAR PRIMARY KEY, created TIMESTAMP NOT NULL, saved TIMESTAMP NOT NULL, "
        "kind VARCHAR, tokbt_version VARCHAR, seed BIGINT, n_paths BIGINT, "
        "policies VARCHAR[] NOT NULL, baseline VARCHAR NOT NULL, market VARCHAR, "
        "seconds DOUBLE, confidence DOUBLE, resamples BIGINT, bootstrap_seed BIGINT, "
        "journal_rows BIGINT, record JSON NOT NULL, frames JSON NOT NULL"
    ),
    "run_metrics": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, metric VARCHAR, value DOUBLE, lo DOUBLE, "
        "hi DOUBLE, position INTEGER NOT NULL"
    ),
    "run_paths": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, path BIGINT, metric VARCHAR, value DOUBLE, "
        "position INTEGER NOT NULL"
    ),
    "run_monthly": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, path BIGINT, month TIMESTAMP, tokens DOUBLE, "
        "unhedged_cost DOUBLE, hedged_cost DOUBLE, position INTEGER NOT NULL"
    ),
    "run_series": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, series VARCHAR, day TIMESTAMP, "
        + ", ".join(f"{c} DOUBLE" for c in QUANTILE_COLUMNS)
        + ", position INTEGER NOT NULL"
    ),
    "run_comparisons": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, baseline VARCHAR, metric VARCHAR, "
        "diff DOUBLE, lo DOUBLE, hi DOUBLE, verdict VARCHAR, position INTEGER NOT NULL"
    ),
    "run_sweep": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, param VARCHAR, value DOUBLE, "
        "position INTEGER NOT NULL"
    ),
    "run_journal": (
        "run_id VARCHAR NOT NULL, policy VARCHAR, ts TIMESTAMP, path INTEGER, account VARCHAR, "
        "contract VARCHAR, kind VARCHAR, qty DOUBLE, price DOUBLE, amount DOUBLE, "
        "position BIGINT NOT NULL"
    ),
}
"""Every run table and its columns (in order). ``docs/run-store.md`` documents them."""

RUN_TABLES = tuple(_DDL)
"""The run tables, ``runs`` first."""

_FIXED_FRAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "summary": ("run_metrics", ("policy", "metric", "value", "lo", "hi")),
    "monthly": (
        "run_monthly",
        ("policy", "path", "month", "tokens", "unhedged_cost", "hedged_cost"),
    ),
    "series": ("run_series", ("policy", "series", "day", *QUANTILE_COLUMNS)),
    "comparisons": (
        "run_comparisons",
        ("policy", "baseline", "metric", "diff", "lo", "hi", "verdict"),
    ),
    "sweep": ("run_sweep", ("policy", "param", "value")),
}
"""Frames stored column for column: frame → (table, columns)."""

_FRAME_ORDER = ("summary", "paths", "monthly", "series", "comparisons", "sweep")
"""The order in which ``save`` inserts the frames (after the ``runs`` row)."""


class RunStore(Closing):
    """Saved runs in a DuckDB store file (the same file ``BarStore`` keeps datasets in).

    ``RunStore(path)`` opens (or creates) ``path``, by default
    ``default_store_path(None)``: ``$TOKBT_STORE`` or ``./tokbt.duckdb``. The
    file is opened through ``BarStore``, so a file the run store creates is a
    valid bar store and vice versa. Use as a context manager or call
    ``close()``. ``read_only=True`` lets several processes read one store; a
    read-only store that never held runs lists none and ``load`` raises
    ``StoreError``.

    Attributes:
        path: the store file.
        con: the DuckDB connection (shared with the ``BarStore`` that opened it).
        read_only: whether the store was opened read-only (``save`` and
            ``delete`` then raise ``StoreError``).

    Raises:
        StoreError: the file cannot be opened, is not a tokbt store, or its
            run tables have a schema version this tokbt does not read.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False):
        self._bars = BarStore(path, read_only=read_only)
        self.path: Path = self._bars.path
        self.con: duckdb.DuckDBPyConnection = self._bars.con
        self.read_only = read_only
        try:
            found = self._version()
            if found is not None and found != str(RUNS_SCHEMA_VERSION):
                raise StoreError(
                    f"store {self.path} has run tables of schema version {found}; this tokbt "
                    f"reads version {RUNS_SCHEMA_VERSION}: use the tokbt that wrote them, or "
                    "start a new store"
                )
            if not read_only:
                self._create_schema()
            self._ready = self._version() is not None
        except BaseException:
            self._bars.close()
            raise

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._bars.close()

    def _version(self) -> str | None:
        row = self.con.execute(
            "SELECT value FROM tokbt_meta WHERE key = 'runs_schema_version'"
        ).fetchone()
        return None if row is None else str(row[0])

    def _create_schema(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, columns in _DDL.items():
                self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            self.con.execute(
                "INSERT INTO tokbt_meta VALUES ('runs_schema_version', ?) ON CONFLICT DO NOTHING",
                [str(RUNS_SCHEMA_VERSION)],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.path} is open read-only")

    # -- reading ---------------------------------------------------------------------

    def runs(self) -> pd.DataFrame:
        """One row per saved run, newest first (by ``created``, then by time saved).

        Columns (``RUN_COLUMNS``): ``run_id``, ``created`` (UTC), ``kind``,
        ``market`` (scenario or dataset name), ``policies`` (comma-joined, in
        display order), ``n_paths``, ``seed``, ``seconds`` (total wall time),
        ``tokbt_version``, ``best`` (the policy with the highest ``vr_std``;
        NaN values are ignored, ties go to the policy listed first) and
        ``best_vr_std`` (its value). A store without runs gives an empty frame
        with these columns.
        """
        if not self._ready:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in RUN_COLUMNS})
        return self.con.execute(
            """
            WITH ranked AS (
                SELECT run_id, policy, value,
                       row_number() OVER (PARTITION BY run_id ORDER BY value DESC, position)
                           AS rank
                FROM run_metrics
                WHERE metric = 'vr_std' AND value IS NOT NULL AND NOT isnan(value)
            )
            SELECT r.run_id, r.created, r.kind, r.market,
                   array_to_string(r.policies, ', ') AS policies, r.n_paths, r.seed,
                   r.seconds, r.tokbt_version, b.policy AS best, b.value AS best_vr_std
            FROM runs r LEFT JOIN ranked b ON b.run_id = r.run_id AND b.rank = 1
            ORDER BY r.created DESC, r.saved DESC, r.run_id
            """
        ).df()

    def resolve(self, run_id: str) -> str:
        """The full id of the run ``run_id`` names: the id itself or a unique prefix.

        Raises:
            StoreError: the prefix is shorter than ``MIN_PREFIX`` characters, or
                names no run or several (the message names the store file and
                lists the candidates).
        """
        if not self._ready:
            raise StoreError(f"no run {run_id!r} in store {self.path}: it holds no runs")
        exact = self.con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if exact is not None:
            return run_id
        if len(run_id) < MIN_PREFIX:
            raise StoreError(
                f"run id {run_id!r} is too short: give at least {MIN_PREFIX} characters"
            )
        found = [
            str(r[0])
            for r in self.con.execute(
                "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id", [run_id]
            ).fetchall()
        ]
        if not found:
            raise StoreError(f"no run {run_id!r} in store {self.path}")
        if len(found) > 1:
            raise StoreError(
                f"run id {run_id!r} is ambiguous in store {self.path}: it could be "
                + ", ".join(found)
            )
        return found[0]

    def load(self, run_id: str, *, journal: bool = False) -> StoredRun:
        """The run ``run_id`` (its id or a unique prefix of at least 4 characters).

        The evaluation equals the one saved (``Evaluation.equals``: values,
        dtypes, column and row order). The record is the saved record after a
        JSON round trip: tuples come back as lists, NaN and ±inf as ``None``,
        numpy scalars as Python numbers. ``journal=True`` also loads the
        journal (``RUN_JOURNAL_SCHEMA``, rows in the order saved), ``None`` if
        the run was saved without one; it is off by default because a journal
        can be large.

        Raises:
            StoreError: no run or several match ``run_id`` (see ``resolve``).
        """
        full = self.resolve(run_id)
        row = self.con.execute(
            "SELECT record, frames, policies, baseline, confidence, resamples, bootstrap_seed, "
            "journal_rows FROM runs WHERE run_id = ?",
            [full],
        ).fetchone()
        assert row is not None
        record_text, frames_text, policies, baseline, confidence, resamples, seed, rows = row
        layout: dict[str, list[list[str]]] = json.loads(frames_text)
        frames = {name: self._load_frame(full, name, layout[name]) for name in _FRAME_ORDER}
        evaluation = Evaluation(
            policies=tuple(policies),
            baseline=baseline,
            confidence=float(confidence),
            resamples=int(resamples),
            seed=int(seed),
            **frames,
        )
        table = self._load_journal(full) if journal and rows is not None else None
        return StoredRun(
            run_id=full, record=json.loads(record_text), evaluation=evaluation, journal=table
        )

    def _load_frame(self, run_id: str, name: str, layout: list[list[str]]) -> pd.DataFrame:
        columns = [c for c, _ in layout]
        if name == "paths":
            frame = self._load_paths(run_id, columns)
        else:
            table, _ = _FIXED_FRAMES[name]
            select = ", ".join(f'"{c}"' for c in columns)
            frame = self.con.execute(
                f"SELECT {select} FROM {table} WHERE run_id = ? ORDER BY position", [run_id]
            ).df()
        return _restore_dtypes(frame, layout)

    def _load_paths(self, run_id: str, columns: list[str]) -> pd.DataFrame:
        """The wide ``paths`` frame from its long rows, one metric at a time (a sort of
        every row at once would hold the whole run in DuckDB's memory)."""
        metrics = columns[2:]
        keys = self.con.execute(
            "SELECT policy, path FROM run_paths WHERE run_id = ? AND metric = ? ORDER BY position",
            [run_id, metrics[0]],
        ).df()
        frame = {"policy": keys["policy"].to_numpy(dtype=object), "path": keys["path"].to_numpy()}
        for metric in metrics:
            values = self.con.execute(
                "SELECT value FROM run_paths WHERE run_id = ? AND metric = ? ORDER BY position",
                [run_id, metric],
            ).fetchnumpy()["value"]
            frame[metric] = np.ma.filled(np.ma.asarray(values, np.float64), np.nan)
        return pd.DataFrame(frame, copy=False)

    def _load_journal(self, run_id: str) -> pa.Table:
        select = ", ".join(f'"{c}"' for c in RUN_JOURNAL_SCHEMA.names)
        table = self.con.sql(
            f"SELECT {select} FROM run_journal WHERE run_id = ? ORDER BY position",
            params=[run_id],
        ).to_arrow_table()
        return table.cast(RUN_JOURNAL_SCHEMA)

    # -- writing ---------------------------------------------------------------------

    def save(self, run: StoredRun) -> StoredRun:
        """Save ``run`` and return it with its ``run_id`` set.

        A new id is 12 lowercase hex characters (SHA-256 of the record's
        canonical JSON and a random nonce). A ``run.run_id`` already set is
        kept unless the store holds a run of that id, in which case the run is
        saved under a new one. Everything is written in one transaction: on any
        error nothing is written.

        Raises:
            StoreError: the record is not JSON-serialisable (the message names
                the key), a frame lacks the documented columns, the journal's
                columns are not ``RUN_JOURNAL_SCHEMA``'s, the store is read-only,
                or DuckDB refuses the data.
        """
        self._writable()
        record = _json_ready(run.record, "record")
        if not isinstance(record, dict):
            raise StoreError("record must be a dict")
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
        ev = run.evaluation
        layout = _layout(ev)
        sources = {name: _frame_source(ev, name) for name in _FRAME_ORDER}
        journal = None if run.journal is None else _journal_source(run.journal)
        if run.run_id and not _ID_RE.match(run.run_id):
            raise StoreError(
                f"run id {run.run_id!r} is invalid: use 4 to 64 letters, digits, '_', '.', '-'"
            )
        self.con.execute("BEGIN TRANSACTION")
        try:
            run_id = self._new_id(run.run_id, canonical)
            self._insert_run(run_id, record, canonical, ev, layout, journal)
            for name in _FRAME_ORDER:
                table = "run_paths" if name == "paths" else _FIXED_FRAMES[name][0]
                self._insert(table, run_id, sources[name])
            if journal is not None:
                self._insert("run_journal", run_id, journal)
            self.con.execute("COMMIT")
        except BaseException as exc:
            self.con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"cannot save the run to store {self.path}: {exc}") from exc
            raise
        return dataclasses.replace(run, run_id=run_id)

    def delete(self, run_id: str) -> str:
        """Remove the run ``run_id`` (id or unique prefix) from every table; return its id.

        One transaction: on any error nothing is removed.

        Raises:
            StoreError: no run or several match (see ``resolve``), or the store
                is read-only.
        """
        self._writable()
        full = self.resolve(run_id)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in reversed(RUN_TABLES):
                self.con.execute(f"DELETE FROM {table} WHERE run_id = ?", [full])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return full

    def _new_id(self, wanted: str, canonical: str) -> str:
        if wanted and not self._exists(wanted):
            return wanted
        while True:
            nonce = secrets.token_hex(16)
            run_id = hashlib.sha256(f"{canonical}\n{nonce}".encode()).hexdigest()[:12]
            if not self._exists(run_id):
                return run_id

    def _exists(self, run_id: str) -> bool:
        return (
            self.con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is not None
        )

    def _insert_run(
        self,
        run_id: str,
        record: dict[str, Any],
        canonical: str,
        ev: Evaluation,
        layout: dict[str, list[list[str]]],
        journal: pa.Table | None,
    ) -> None:
        saved = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                _created(record) or saved,
                saved,
                _text(record.get("kind")),
                _text(record.get("tokbt")),
                _integer(record.get("seed")),
                _n_paths(record, ev),
                list(ev.policies),
                ev.baseline,
                market_name(record.get("market")),
                _seconds(record.get("seconds")),
                float(ev.confidence),
                int(ev.resamples),
                int(ev.seed),
                None if journal is None else journal.num_rows,
                json.dumps(record, ensure_ascii=False, allow_nan=False),
                json.dumps(layout),
            ],
        )

    def _insert(self, table: str, run_id: str, source: pa.Table) -> None:
        """Append ``source`` (the table's columns but ``run_id``) to ``table`` for ``run_id``;
        ``run_paths`` takes the wide ``paths`` rows and stores one row per metric."""
        self.con.register(_SOURCE, source)
        select = f"SELECT CAST(? AS VARCHAR) AS run_id, * FROM {_SOURCE}"
        if table == "run_paths":
            select = (
                "SELECT CAST(? AS VARCHAR) AS run_id, policy, path, metric, value, position "
                f"FROM {_SOURCE} UNPIVOT INCLUDE NULLS "
                "(value FOR metric IN (COLUMNS(* EXCLUDE (policy, path, position))))"
            )
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME {select}", [run_id])
        finally:
            self.con.unregister(_SOURCE)


# -- helpers ---------------------------------------------------------------------------


def market_name(market: Any) -> str | None:
    """A short name for a record's ``market``: the scenario or dataset name.

    Understands ``{"simulate": {"scenario": ...}}``, ``{"dataset": ...}``,
    ``{"market": ...}`` (either of those, or a name) and a plain string;
    ``None`` for anything else.
    """
    if isinstance(market, str):
        return market
    if not isinstance(market, Mapping):
        return None
    simulate = market.get("simulate")
    if isinstance(simulate, Mapping) and isinstance(simulate.get("scenario"), str):
        return str(simulate["scenario"])
    if isinstance(market.get("dataset"), str):
        return str(market["dataset"])
    if "market" in market:
        return market_name(market["market"])
    return None


def _json_ready(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (NaN, ±inf → None); ``StoreError`` naming ``where`` if not."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise StoreError(
                    f"{where} has a key {key!r} of type {type(key).__name__}: the run record "
                    "must be JSON, whose keys are strings"
                )
            out[key] = _json_ready(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, bytes | bytearray):
        return [_json_ready(item, f"{where}[{k}]") for k, item in enumerate(value)]
    raise StoreError(
        f"{where} is a {type(value).__name__} ({value!r:.60}): the run record must be "
        "JSON-serialisable (str, int, float, bool, None, lists and dicts)"
    )


def _layout(ev: Evaluation) -> dict[str, list[list[str]]]:
    """Column names and pandas dtypes of every frame, checked against the contract."""
    layout: dict[str, list[list[str]]] = {}
    for name in _FRAME_ORDER:
        frame: pd.DataFrame = getattr(ev, name)
        columns = [str(c) for c in frame.columns]
        if name == "paths":
            if columns[:2] != ["policy", "path"] or len(columns) < 3:
                raise StoreError(
                    f"evaluation.paths has columns {columns}: the store expects 'policy', "
                    "'path' and at least one metric"
                )
            if len(set(columns)) != len(columns):
                raise StoreError(f"evaluation.paths has duplicate columns: {columns}")
        elif columns != list(_FIXED_FRAMES[name][1]):
            raise StoreError(
                f"evaluation.{name} has columns {columns}: the store expects "
                f"{list(_FIXED_FRAMES[name][1])}"
            )
        layout[name] = [[c, str(d)] for c, d in zip(columns, frame.dtypes, strict=True)]
    return layout


def _frame_source(ev: Evaluation, name: str) -> pa.Table:
    """The rows of frame ``name`` with ``position`` (``paths`` wide: ``_insert`` unpivots it)."""
    frame: pd.DataFrame = getattr(ev, name)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("position", pa.array(np.arange(len(frame), dtype=np.int32)))


def _journal_source(journal: pa.Table) -> pa.Table:
    if journal.schema.names != RUN_JOURNAL_SCHEMA.names:
        raise StoreError(
            f"the journal has columns {journal.schema.names}: the store expects "
            f"{RUN_JOURNAL_SCHEMA.names}"
        )
    try:
        table = journal.cast(RUN_JOURNAL_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"the journal does not fit RUN_JOURNAL_SCHEMA: {exc}") from None
    position = pa.array(np.arange(table.num_rows, dtype=np.int64))
    return table.append_column("position", position)


def _restore_dtypes(frame: pd.DataFrame, layout: list[list[str]]) -> pd.DataFrame:
    """``frame`` with the saved dtypes (DuckDB gives e.g. ``datetime64[us]`` and ``str``)."""
    out = frame.reset_index(drop=True)
    for column, dtype in layout:
        if str(out[column].dtype) != dtype:
            out[column] = out[column].astype(pd.api.types.pandas_dtype(dtype))
    return out


def _created(record: dict[str, Any]) -> dt.datetime | None:
    """The record's ``created`` as a naive UTC datetime (``None`` when absent)."""
    value = record.get("created")
    if value is None:
        return None
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise StoreError(
            f"record['created'] is {value!r}: expected an ISO 8601 timestamp"
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _n_paths(record: dict[str, Any], ev: Evaluation) -> int:
    if len(ev.paths):
        return int(ev.paths["path"].nunique())
    return _integer(record.get("paths")) or 0


def _seconds(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("total")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
