"""The journal: every money movement of a backtest, one row per path, append-only.

Columns (Arrow, ``JOURNAL_SCHEMA``): ``ts, path, account, contract, kind, qty,
price, amount``. ``amount`` is the cash that flows *into* ``account`` (negative
= out). A transfer between the enterprise's own accounts (a deposit to the
margin account) is two rows that sum to zero; a trade (``fill``) moves no cash
and carries ``qty`` and ``price`` with amount 0; variation margin, fees,
consumption, interest and final settlement move cash in or out of the
enterprise. Hence, for every path, the sum of a journal's amounts equals the
change in the enterprise's total cash — the invariant the ledger's tests hold.

Rows are recorded for many paths at once (arrays over paths). Rows accumulate
in memory in Arrow batches and, with a ``sink``, are streamed to a Parquet file
whenever ``flush_rows`` is reached; running totals per path and account stay
in memory either way, so large Monte Carlo runs can keep only those.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq


class Account(StrEnum):
    """The enterprise's accounts."""

    OPERATING = "operating"
    """Cash the enterprise runs its business from: it pays for tokens here."""
    MARGIN = "margin"
    """Its account at the clearing member: margin deposits, variation margin, fees."""
    CREDIT = "credit"
    """A credit line: drawing it is an inflow here, repaying an outflow."""


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

_ACCOUNTS = list(Account)


class Journal:
    """Append-only journal of ``n_paths`` paths; see the module docstring.

    Args:
        n_paths: number of paths (rows name paths ``0..n_paths-1``, or
            ``path_ids[i]`` when given).
        path_ids: the path id of each array position (default ``0..n_paths-1``).
        sink: a Parquet file to stream rows to; ``None`` keeps them in memory.
        flush_rows: rows held in memory before they are written to ``sink``.
    """

    def __init__(
        self,
        n_paths: int,
        *,
        path_ids: npt.ArrayLike | None = None,
        sink: str | Path | None = None,
        flush_rows: int = 1_000_000,
    ) -> None:
        self.n_paths = n_paths
        ids = np.arange(n_paths) if path_ids is None else np.asarray(path_ids)
        if ids.shape != (n_paths,):
            raise ValueError(f"path_ids has shape {ids.shape}, expected ({n_paths},)")
        self.path_ids = ids.astype(np.int32)
        self.sink = Path(sink) if sink is not None else None
        self.flush_rows = flush_rows
        self._batches: list[pa.RecordBatch] = []
        self._pending = 0
        self._writer: pq.ParquetWriter | None = None
        self._flushed = False
        self._closed = False
        self._totals = np.zeros((len(_ACCOUNTS), n_paths))
        self.rows = 0

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
        if self._closed:
            raise ValueError("journal: closed (after close() or to_arrow() with a sink)")
        amounts = np.broadcast_to(np.asarray(amount, dtype=np.float64), (self.n_paths,))
        qtys = (
            None if qty is None else np.broadcast_to(np.asarray(qty, np.float64), (self.n_paths,))
        )
        if where is None:
            mask = amounts != 0
            if qtys is not None:
                mask |= qtys != 0
        else:
            mask = np.broadcast_to(np.asarray(where, dtype=bool), (self.n_paths,))
        n = int(mask.sum())
        if n == 0:
            return 0
        chosen = amounts[mask]
        if np.isnan(chosen).any():
            raise ValueError(f"journal: NaN amount for {kind} on {account} at {ts}")
        np.add.at(self._totals[_ACCOUNTS.index(Account(account))], np.flatnonzero(mask), chosen)
        prices = (
            None
            if price is None
            else np.broadcast_to(np.asarray(price, np.float64), (self.n_paths,))
        )
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(np.full(n, np.array(ts, dtype="datetime64[us]"))),
                pa.array(self.path_ids[mask]),
                pa.array([Account(account).value] * n, pa.string()),
                pa.nulls(n, pa.string()) if contract is None else pa.array([contract] * n),
                pa.array([EntryKind(kind).value] * n, pa.string()),
                pa.nulls(n, pa.float64()) if qtys is None else pa.array(qtys[mask]),
                pa.nulls(n, pa.float64()) if prices is None else pa.array(prices[mask]),
                pa.array(chosen),
            ],
            schema=JOURNAL_SCHEMA,
        )
        self._batches.append(batch)
        self._pending += n
        self.rows += n
        if self.sink is not None and self._pending >= self.flush_rows:
            self.flush()
        return n

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
        if self.sink is None or not self._batches:
            return
        if self._writer is None:
            self.sink.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.sink, JOURNAL_SCHEMA, compression="zstd")
        self._writer.write_table(pa.Table.from_batches(self._batches, JOURNAL_SCHEMA))
        self._batches, self._pending, self._flushed = [], 0, True

    def close(self) -> None:
        """Flush and close the sink; the journal then takes no more rows (idempotent)."""
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._closed = True

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def net(self, account: Account | None = None) -> np.ndarray:
        """Sum of amounts per path (array position), for one account or all of them."""
        if account is None:
            return np.asarray(self._totals.sum(axis=0))
        return np.asarray(self._totals[_ACCOUNTS.index(Account(account))].copy())

    def to_arrow(self) -> pa.Table:
        """Every row, in the order recorded. With a sink that has been written to,
        this closes the journal and reads the file back."""
        if not self._flushed:
            return pa.Table.from_batches(self._batches, JOURNAL_SCHEMA)
        assert self.sink is not None
        self.close()  # flushes what is held, so the file has every row
        return pq.read_table(self.sink, schema=JOURNAL_SCHEMA)
