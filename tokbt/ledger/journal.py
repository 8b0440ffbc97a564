"""The journal: every money movement of a backtest, one row per path, append-only.

Columns (Arrow, ``JOURNAL_SCHEMA``): ``ts, path, account, contract, kind, qty,
price, amount``. ``amount`` is the cash that flows *into* ``account`` (negative
= out). A transfer between the enterprise's own accounts (a deposit to the
margin account, a draw on the credit line) is two rows that sum to zero; a
trade (``fill``, ``liquidation``) moves no cash and carries ``qty`` and
``price`` with amount 0; variation margin, fees, consumption, interest and
final settlement move cash in or out of the enterprise. Hence, for every path,
the sum of a journal's amounts equals the change in the enterprise's total
equity — the invariant the ledger's tests hold.

The ``credit`` account's balance is minus what is drawn on the credit line:
a draw is a transfer *from* it, a repayment a transfer *to* it.

Rows are recorded for many paths at once (arrays over paths). Three ways to
keep them, for runs of every size:

* in memory (default), as Arrow batches — ``to_arrow()``;
* streamed to a Parquet file (``sink=``) whenever ``flush_rows`` rows are
  held — memory stays bounded however long the run;
* not at all (``keep_rows=False``): only running totals per path, account
  and kind (``net``), for Monte Carlo runs that need per-path aggregates.

Running totals are kept in every mode.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from tokbt.closing import Closing
from tokbt.core.layout import (
    ACCOUNT_NAMES,
    HAS_PRICE,
    HAS_QTY,
    J_ACCOUNT,
    J_AMOUNT,
    J_CONTRACT,
    J_FLAGS,
    J_KIND,
    J_PATH,
    J_PRICE,
    J_QTY,
    J_TS,
    KIND_NAMES,
)
from tokbt.core.strings import string_column


class Account(StrEnum):
    """The enterprise's accounts."""

    OPERATING = "operating"
    """Cash the enterprise runs its business from: it pays for tokens here."""
    MARGIN = "margin"
    """Its account at the clearing member: margin deposits, variation margin, fees."""
    CREDIT = "credit"
    """A credit line; its balance is minus the amount drawn."""


class EntryKind(StrEnum):
    """What a journal row records."""

    FILL = "fill"
    FEE = "fee"
    VARIATION_MARGIN = "variation_margin"
    FINAL_SETTLEMENT = "final_settlement"
    CONSUMPTION = "consumption"
    MARGIN_CALL = "margin_call"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    LIQUIDATION = "liquidation"
    INTEREST = "interest"
    REPAYMENT = "repayment"


JOURNAL_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us"), nullable=False),
        pa.field("path", pa.int32(), nullable=False),
        pa.field("account", pa.string(), nullable=False),
        pa.field("contract", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("qty", pa.float64()),
        pa.field("price", pa.float64()),
        pa.field("amount", pa.float64(), nullable=False),
    ]
)

EVENT_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us"), nullable=False),
        pa.field("path", pa.int32(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("contract", pa.string()),
        pa.field("qty", pa.float64()),
        pa.field("amount", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)
"""Non-monetary events: order rejections, margin calls issued and escalated."""

POSITION_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.timestamp("us"), nullable=False),
        pa.field("path", pa.int32(), nullable=False),
        pa.field("contract", pa.string(), nullable=False),
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("settle", pa.float64()),
    ]
)
"""Open positions at each daily settlement (after it), one row per path and contract."""

_BATCH_ROWS = 65_536
ACCOUNTS = tuple(Account)
KINDS = tuple(EntryKind)
if tuple(KINDS) != KIND_NAMES or tuple(ACCOUNTS) != ACCOUNT_NAMES:  # pragma: no cover
    raise ImportError("tokbt.ledger.journal: kinds and accounts must be in the core's code order")
_KIND_NAMES = list(KIND_NAMES)
_ACCOUNT_NAMES = list(ACCOUNT_NAMES)
_ACCOUNT_POS = {a: i for i, a in enumerate(ACCOUNTS)}
_KIND_POS = {k: i for i, k in enumerate(KINDS)}

Floats = npt.NDArray[np.float64]


class RowLog(Closing):
    """Append-only Arrow rows with one schema, in memory or streamed to Parquet.

    Args:
        schema: the rows' schema.
        sink: a Parquet file to stream rows to; ``None`` keeps them in memory.
        flush_rows: rows held in memory before they are written to ``sink``.
        keep_rows: ``False`` drops rows (only the count is kept).
    """

    def __init__(
        self,
        schema: pa.Schema,
        *,
        sink: str | Path | None = None,
        flush_rows: int = 1_000_000,
        keep_rows: bool = True,
    ) -> None:
        self.schema = schema
        self.sink = Path(sink) if sink is not None else None
        self.flush_rows = flush_rows
        self.keep_rows = keep_rows
        self.rows = 0
        self._batches: list[pa.RecordBatch] = []
        self._pending = 0
        self._writer: pq.ParquetWriter | None = None
        self._flushed = False
        self._closed = False
        self._pull: Callable[[], None] | None = None

    def pull_from(self, drain: Callable[[], None]) -> None:
        """Call ``drain`` before rows are read, flushed or closed: an owner that buffers rows
        for this log (the ledger's core) hands them over first. Held weakly (a bound method
        keeps no reference to its object)."""
        self._pull = _weak(drain)

    def _take_pending(self) -> None:
        if self._pull is not None:
            self._pull()

    def append(self, columns: Sequence[pa.Array]) -> None:
        """Append one batch of rows given as one array per schema column."""
        if self._closed:
            raise ValueError("log: closed (after close() or to_arrow() with a sink)")
        n = len(columns[0])
        self.rows += n
        if not self.keep_rows or n == 0:
            return
        self._batches.append(pa.RecordBatch.from_arrays(list(columns), schema=self.schema))
        self._pending += n
        if self.sink is not None and self._pending >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write held rows to the sink (no-op without one)."""
        self._take_pending()
        if self.sink is None or not self._batches:
            return
        if self._writer is None:
            self.sink.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")
        self._writer.write_table(pa.Table.from_batches(self._batches, self.schema))
        self._batches, self._pending, self._flushed = [], 0, True

    def close(self) -> None:
        """Flush and close the sink; the log then takes no more rows (idempotent).

        A log with a sink that never received rows still writes an empty file,
        so a run's outputs always exist."""
        if not self._closed:
            self._take_pending()
        if self.sink is not None and self._writer is None and not self._closed:
            self.sink.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._closed = True

    def to_arrow(self) -> pa.Table:
        """Every row kept, in the order appended. With a sink that has been written
        to, this closes the log and reads the file back."""
        self._take_pending()
        if not self._flushed:
            return pa.Table.from_batches(self._batches, self.schema)
        assert self.sink is not None
        self.close()
        return pq.read_table(self.sink, schema=self.schema)


@njit(cache=True)
def _add_totals(
    totals: np.ndarray,
    kinds: np.ndarray,
    accounts: np.ndarray,
    paths: np.ndarray,
    amounts: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``totals[kind, account, path] += amount`` row by row, in order (``np.add.at``)."""
    for r in range(amounts.shape[0]):
        totals[kinds[r], accounts[r], paths[r]] += amounts[r]


def _weak(method: Callable[[], None]) -> Callable[[], None]:
    """``method`` called through a weak reference when it is a bound method (a no-op once
    its object is gone), else ``method`` itself."""
    if not hasattr(method, "__self__"):
        return method
    ref = weakref.WeakMethod(method)

    def call() -> None:
        target = ref()
        if target is not None:
            target()

    return call


def _ts_array(ts: dt.datetime | np.datetime64, n: int) -> pa.Array:
    return pa.array(np.full(n, ts, dtype="datetime64[us]"))


def _over_paths(value: npt.ArrayLike | None, n_paths: int) -> Floats | None:
    if value is None:
        return None
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n_paths,))


class Journal(Closing):
    """Append-only journal of ``n_paths`` paths; see the module docstring.

    Args:
        n_paths: number of paths (rows name paths ``0..n_paths-1``, or
            ``path_ids[i]`` when given).
        path_ids: the path id of each array position (default ``0..n_paths-1``).
        sink: a Parquet file to stream rows to; ``None`` keeps them in memory.
        flush_rows: rows held in memory before they are written to ``sink``.
        keep_rows: ``False`` keeps only the running totals (no rows).
    """

    def __init__(
        self,
        n_paths: int,
        *,
        path_ids: npt.ArrayLike | None = None,
        sink: str | Path | None = None,
        flush_rows: int = 1_000_000,
        keep_rows: bool = True,
    ) -> None:
        self.n_paths = n_paths
        ids = np.arange(n_paths) if path_ids is None else np.asarray(path_ids)
        if ids.shape != (n_paths,):
            raise ValueError(f"path_ids has shape {ids.shape}, expected ({n_paths},)")
        self.path_ids = ids.astype(np.int32)
        self.log = RowLog(JOURNAL_SCHEMA, sink=sink, flush_rows=flush_rows, keep_rows=keep_rows)
        self._totals = np.zeros((len(KINDS), len(ACCOUNTS), n_paths))
        # rows are held as small arrays and turned into Arrow in batches: building an
        # Arrow batch per call costs more than the bookkeeping itself on few paths
        self._held: list[tuple[Any, ...]] = []
        self._held_rows = 0
        self._contracts: dict[str, int] = {}
        self._pull: Callable[[], None] | None = None
        self._taps: list[Callable[[npt.NDArray[np.int64], Floats], None]] = []

    def tap(self, listener: Callable[[npt.NDArray[np.int64], Floats], None]) -> None:
        """Also hand every batch of rows the core writes (``append_core``) to ``listener``,
        in order, before they are kept or dropped: metrics measure a run this way without
        the rows being kept, turned into Arrow or written anywhere."""
        self._taps.append(listener)

    def pull_from(self, drain: Callable[[], None]) -> None:
        """Call ``drain`` before anything is recorded, read, flushed or closed: the ledger's
        core buffers its rows and hands them over (``append_core``) first, so rows keep
        the order in which they were made. Held weakly."""
        self._pull = _weak(drain)

    def _take_pending(self) -> None:
        if self._pull is not None:
            self._pull()

    @property
    def rows(self) -> int:
        """Rows recorded so far (also when they are not kept)."""
        self._take_pending()
        return self.log.rows + self._held_rows

    # -- writing ---------------------------------------------------------------------

    def record(
        self,
        ts: dt.datetime | np.datetime64,
        kind: EntryKind,
        account: Account,
        amount: npt.ArrayLike,
        *,
        contract: str | None = None,
        qty: npt.ArrayLike | None = None,
        price: npt.ArrayLike | None = None,
        where: npt.ArrayLike | None = None,
    ) -> int:
        """Append one row per selected path; return the number of rows written.

        ``amount``, ``qty`` and ``price`` are scalars or arrays over all paths.
        ``where`` (a boolean mask over paths) selects the paths that get a row;
        by default every path with a non-zero amount or quantity. NaN amounts
        are refused: a NaN in the ledger is a bug upstream. A closed journal
        refuses rows.
        """
        amounts = _over_paths(amount, self.n_paths)
        assert amounts is not None
        qtys = _over_paths(qty, self.n_paths)
        if where is None:
            mask = amounts != 0
            if qtys is not None:
                mask = mask | (qtys != 0)
        else:
            mask = np.broadcast_to(np.asarray(where, dtype=bool), (self.n_paths,))
        rows = np.flatnonzero(mask)
        return self._append(
            ts,
            kind,
            account,
            rows,
            np.zeros(len(rows), np.intp),
            [contract],
            amounts[rows],
            None if qtys is None else qtys[rows],
            None if price is None else _over_paths(price, self.n_paths)[rows],  # type: ignore[index]
        )

    def record_many(
        self,
        ts: dt.datetime | np.datetime64,
        kind: EntryKind,
        account: Account,
        amount: npt.ArrayLike,
        contracts: Sequence[str],
        *,
        qty: npt.ArrayLike | None = None,
        price: npt.ArrayLike | None = None,
    ) -> int:
        """Rows for several contracts at once: ``amount`` (and ``qty``, ``price``)
        are ``(n_paths, len(contracts))`` (or broadcast to it); a row for every
        entry with a non-zero amount or quantity, path-major."""
        self._take_pending()
        shape = (self.n_paths, len(contracts))
        amounts = np.broadcast_to(np.asarray(amount, np.float64), shape)
        qtys = None if qty is None else np.broadcast_to(np.asarray(qty, np.float64), shape)
        mask = amounts != 0
        if qtys is not None:
            mask = mask | (qtys != 0)
        rows, cols = np.nonzero(mask)
        prices = None if price is None else np.broadcast_to(np.asarray(price, np.float64), shape)
        return self._append(
            ts,
            kind,
            account,
            rows,
            cols,
            list(contracts),
            amounts[rows, cols],
            None if qtys is None else qtys[rows, cols],
            None if prices is None else prices[rows, cols],
        )

    def _append(
        self,
        ts: dt.datetime | np.datetime64,
        kind: EntryKind,
        account: Account,
        rows: npt.NDArray[np.intp],
        contract_codes: npt.NDArray[np.intp],
        contracts: Sequence[str | None],
        amounts: Floats,
        qtys: Floats | None,
        prices: Floats | None,
    ) -> int:
        if self.log._closed:
            raise ValueError("journal: closed (after close() or to_arrow() with a sink)")
        n = len(rows)
        if n == 0:
            return 0
        if np.isnan(amounts).any():
            raise ValueError(f"journal: NaN amount for {kind} on {account} at {ts}")
        kind, account = EntryKind(kind), Account(account)
        np.add.at(self._totals[_KIND_POS[kind], _ACCOUNT_POS[account]], rows, amounts)
        if not self.log.keep_rows:
            self.log.rows += n
            return n
        codes = np.array([self._contract_code(c) for c in contracts], dtype=np.int32)
        self._held.append(
            (np.asarray(ts, "datetime64[us]"), _KIND_POS[kind], _ACCOUNT_POS[account], rows,
             codes[contract_codes], amounts, qtys, prices)
        )  # fmt: skip
        self._held_rows += n
        if self._held_rows >= min(_BATCH_ROWS, self.log.flush_rows):
            self._materialise_held()
        return n

    def _contract_code(self, code: str | None) -> int:
        if code is None:
            return -1
        found = self._contracts.get(code)
        if found is None:
            found = self._contracts[code] = len(self._contracts)
        return found

    def append_core(
        self, ints: npt.NDArray[np.int64], floats: Floats, contracts: Sequence[str]
    ) -> None:
        """Append rows the core wrote (``tokbt.core.layout``'s journal layout: ``ints``
        ``(m, 6)`` time, kind, account, path row, contract, flags; ``floats`` ``(m, 3)``
        qty, price, amount), naming contract ``c`` ``contracts[c]``. Running totals are
        added row by row in order; a NaN amount is refused (nothing appended)."""
        m = len(ints)
        if m == 0:
            return
        if self.log._closed:
            raise ValueError("journal: closed (after close() or to_arrow() with a sink)")
        amounts = floats[:, J_AMOUNT]
        if np.isnan(amounts).any():
            r = int(np.flatnonzero(np.isnan(amounts))[0])
            ts = ints[r, J_TS].astype("datetime64[us]")
            raise ValueError(
                f"journal: NaN amount for {KINDS[ints[r, J_KIND]]} on "
                f"{ACCOUNTS[ints[r, J_ACCOUNT]]} at {ts}"
            )
        kinds, accounts, paths = ints[:, J_KIND], ints[:, J_ACCOUNT], ints[:, J_PATH]
        _add_totals(self._totals, kinds, accounts, paths, amounts)
        for listener in self._taps:
            listener(ints, floats)
        if not self.log.keep_rows:
            self.log.rows += m
            return
        self._materialise_held()
        flags = ints[:, J_FLAGS]
        self.log.append(
            [
                pa.array(ints[:, J_TS].astype("datetime64[us]")),
                pa.array(self.path_ids[paths]),
                string_column(_ACCOUNT_NAMES, accounts),
                string_column(contracts, ints[:, J_CONTRACT]),
                string_column(_KIND_NAMES, kinds),
                pa.array(floats[:, J_QTY].copy(), mask=(flags & HAS_QTY) == 0),
                pa.array(floats[:, J_PRICE].copy(), mask=(flags & HAS_PRICE) == 0),
                pa.array(amounts.copy()),
            ]
        )

    def _materialise(self) -> None:
        """Take the core's pending rows, then turn the rows held as arrays into Arrow."""
        self._take_pending()
        self._materialise_held()

    def _materialise_held(self) -> None:
        """Turn the rows held as arrays into one Arrow batch of the log."""
        if not self._held:
            return
        held, self._held, self._held_rows = self._held, [], 0
        counts = np.array([len(h[3]) for h in held])
        rows = np.concatenate([h[3] for h in held])
        contract = np.concatenate([h[4] for h in held])
        names = list(self._contracts)

        def optional(i: int) -> pa.Array:
            parts = [h[i] if h[i] is not None else np.full(len(h[3]), np.nan) for h in held]
            missing = np.repeat([h[i] is None for h in held], counts)
            return pa.array(np.concatenate(parts), mask=missing)

        self.log.append(
            [
                pa.array(np.repeat(np.array([h[0] for h in held], "datetime64[us]"), counts)),
                pa.array(self.path_ids[rows]),
                string_column(_ACCOUNT_NAMES, np.repeat([h[2] for h in held], counts)),
                string_column(names, contract),
                string_column(_KIND_NAMES, np.repeat([h[1] for h in held], counts)),
                optional(6),
                optional(7),
                pa.array(np.concatenate([h[5] for h in held])),
            ]
        )

    def transfer(
        self,
        ts: dt.datetime | np.datetime64,
        kind: EntryKind,
        source: Account,
        target: Account,
        amount: npt.ArrayLike,
    ) -> int:
        """Move ``amount`` (≥ 0, per path) from ``source`` to ``target``: two rows netting to 0."""
        amounts = np.asarray(amount, dtype=np.float64)
        if (amounts < 0).any():
            raise ValueError("journal: a transfer amount must be >= 0")
        moved = amounts != 0
        return self.record(ts, kind, source, -amounts, where=moved) + self.record(
            ts, kind, target, amounts, where=moved
        )

    def flush(self) -> None:
        """Write held rows to the sink (no-op without one)."""
        self._materialise()
        self.log.flush()

    def close(self) -> None:
        """Flush and close the sink; the journal then takes no more rows (idempotent)."""
        self._materialise()
        self.log.close()

    # -- reading ---------------------------------------------------------------------

    def net(self, account: Account | None = None, kind: EntryKind | None = None) -> Floats:
        """Sum of amounts per path (array position), over one account and/or one
        kind, or over all of them."""
        self._take_pending()
        totals = self._totals
        if kind is not None:
            totals = totals[_KIND_POS[EntryKind(kind)]][None]
        if account is not None:
            totals = totals[:, _ACCOUNT_POS[Account(account)]][:, None]
        return np.asarray(totals.sum(axis=(0, 1)))

    def totals(self) -> pa.Table:
        """Per-path totals by account and kind (non-zero ones): ``path, account, kind, amount``
        — the aggregated journal of a large Monte Carlo run."""
        self._take_pending()
        k, a, p = np.nonzero(self._totals)
        return pa.table(
            {
                "path": pa.array(self.path_ids[p]),
                "account": string_column(_ACCOUNT_NAMES, a),
                "kind": string_column(_KIND_NAMES, k),
                "amount": pa.array(self._totals[k, a, p]),
            }
        )

    def to_arrow(self) -> pa.Table:
        """Every row, in the order recorded. With a sink that has been written to,
        this closes the journal and reads the file back."""
        self._materialise()
        return self.log.to_arrow()
