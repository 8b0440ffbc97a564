"""The run frame metrics are measured against, and journal/event rows decoded for them.

Metrics read the journal only (the house plan); what they need to know about the
run that the journal does not say — which paths, which days, each contract's
delivery period and multiplier, the consumption plan made before the run — is a
``RunFrame`` handed to them at the start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from tokbt.core import layout
from tokbt.ledger.journal import ACCOUNTS, KINDS, Account, EntryKind
from tokbt.numba_cache import refresh

refresh(__file__, "core/layout.py")  # numba's cache follows the row layout

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_ONE_US = np.timedelta64(1, "us")


@dataclass(frozen=True)
class RunFrame:
    """What metrics know of a run besides its journal.

    Attributes:
        path_ids: ``(n_paths,)`` path ids; array position ``j`` is path ``path_ids[j]``.
        days: ``(n_days,)`` ``datetime64[D]``: every calendar day from the first
            to the last day the market's events describe.
        contracts: contract codes the journal may name.
        multiplier: tokens (millions) per contract.
        delivery_start, delivery_end: ``(n_contracts,)`` ``datetime64[D]``, inclusive.
        plan_tokens: ``(n_paths,)`` planned tokens over the run (millions);
            NaN where the market has no plan.
        cascade_day: ``(n_contracts,)`` ``datetime64[D]``: the last trading day
            of a quarter or year that cascades into its months; NaT for months.
        inception: position in ``days`` of the hedge date, from which the
            ``Inception`` metric measures costs (−1: the market names none).
        inception_prices: ``(n_paths, n_contracts)`` each contract's settlement price
            on the hedge date, NaN where it was not listed (``None``: not known).
        plan_daily: ``(n_days, n_paths)`` the consumption plan by day, millions of
            tokens (``None``: no plan).
        price_markup, price_basis: the provider's price rule, ``price = index · (1 +
            markup) + basis`` (the ledger's ``consumption_markup`` and ``_basis``).
    """

    path_ids: npt.NDArray[np.int64]
    days: npt.NDArray[np.datetime64]
    contracts: tuple[str, ...]
    multiplier: float
    delivery_start: npt.NDArray[np.datetime64]
    delivery_end: npt.NDArray[np.datetime64]
    plan_tokens: Floats
    cascade_day: npt.NDArray[np.datetime64]
    inception: int = -1
    inception_prices: Floats | None = None
    plan_daily: Floats | None = None
    price_markup: float = 0.0
    price_basis: float = 0.0

    @classmethod
    def build(
        cls,
        path_ids: npt.ArrayLike,
        first_day: dt.date | np.datetime64,
        last_day: dt.date | np.datetime64,
        contracts: Sequence[tuple[str, dt.date, dt.date]] = (),
        multiplier: float = 1.0,
        plan_tokens: npt.ArrayLike | None = None,
        cascades: Mapping[str, dt.date] | None = None,
    ) -> RunFrame:
        """A frame from plain values; ``contracts`` as ``(code, delivery_start, delivery_end)``;
        ``cascades`` maps a cascading quarter or year to its last trading day."""
        ids = np.asarray(path_ids, dtype=np.int64)
        start = np.asarray(first_day, dtype="datetime64[D]")
        n_days = int((np.asarray(last_day, dtype="datetime64[D]") - start).astype(np.int64)) + 1
        plan = np.full(len(ids), np.nan) if plan_tokens is None else plan_tokens
        return cls(
            path_ids=ids,
            days=np.asarray(start + np.arange(max(n_days, 0)), dtype="datetime64[D]"),
            contracts=tuple(c[0] for c in contracts),
            multiplier=float(multiplier),
            delivery_start=np.array([c[1] for c in contracts], dtype="datetime64[D]"),
            delivery_end=np.array([c[2] for c in contracts], dtype="datetime64[D]"),
            plan_tokens=np.broadcast_to(np.asarray(plan, dtype=np.float64), ids.shape).copy(),
            cascade_day=np.array(
                [(cascades or {}).get(c[0], "NaT") for c in contracts], dtype="datetime64[D]"
            ),
        )

    def concat(self, parts: Sequence[RunFrame]) -> RunFrame:
        """The frame of several chunks of paths of this run (``parts``, this one's days,
        contracts and hedge date), paths in order."""

        def joined(field: str, axis: int) -> Floats | None:
            arrays = [getattr(p, field) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays, axis)

        return dataclasses.replace(
            self,
            path_ids=np.concatenate([p.path_ids for p in parts]),
            plan_tokens=np.concatenate([p.plan_tokens for p in parts]),
            inception_prices=joined("inception_prices", 0),
            plan_daily=joined("plan_daily", 1),
        )

    def month_windows(self) -> Ints:
        """``(n_contracts, 2)``: for each month contract, the first and last position in
        ``days`` of its delivery (clipped to the run); ``-1, -1`` for a quarter or year
        (they cascade into months) or a contract delivering outside the run."""
        first = self.days[0] if len(self.days) else np.datetime64("NaT", "D")
        lo = (self.delivery_start - first).astype(np.int64)
        hi = (self.delivery_end - first).astype(np.int64)
        months = self.delivery_start.astype("datetime64[M]") == self.delivery_end.astype(
            "datetime64[M]"
        )
        inside = months & (hi >= 0) & (lo < len(self.days))
        out = np.stack([np.clip(lo, 0, None), np.clip(hi, None, len(self.days) - 1)], axis=1)
        return np.where(inside[:, None], out, -1).astype(np.int64)

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return len(self.path_ids)

    @property
    def months(self) -> npt.NDArray[np.datetime64]:
        """``datetime64[M]`` calendar months the run's days cover, in order."""
        return np.unique(self.days.astype("datetime64[M]"))

    def month_of_day(self) -> Ints:
        """For each day of ``days``, its position in ``months``."""
        months = self.days.astype("datetime64[M]")
        return np.searchsorted(self.months, months).astype(np.int64)

    def delivery_month(self) -> Ints:
        """For each contract, the position in ``months`` of its delivery start, clipped
        to the run (a contract delivering after the last month counts in the last)."""
        months = self.delivery_start.astype("datetime64[M]")
        pos = np.searchsorted(self.months, months)
        return np.clip(pos, 0, len(self.months) - 1).astype(np.int64)


@dataclass(frozen=True)
class JournalRows:
    """A batch of journal rows as arrays (see ``tokbt.ledger.JOURNAL_SCHEMA``).

    Attributes:
        day: position in ``RunFrame.days`` of the calendar day a row's event
            describes (an event at 00:00 describes the day before).
        path: array position of the row's path.
        account, kind: positions in ``tokbt.ledger.journal.ACCOUNTS`` / ``KINDS``.
        contract: position in ``RunFrame.contracts``; −1 where none.
        qty, price: NaN where the row has none.
        amount: cash into the account.
    """

    day: Ints
    path: Ints
    account: Ints
    kind: Ints
    contract: Ints
    qty: Floats
    price: Floats
    amount: Floats

    def where(self, *, kind: EntryKind | None = None, account: Account | None = None) -> Ints:
        """Row positions of one kind and/or account."""
        mask = np.ones(len(self.amount), dtype=bool)
        if kind is not None:
            mask &= self.kind == KINDS.index(kind)
        if account is not None:
            mask &= self.account == ACCOUNTS.index(account)
        return np.flatnonzero(mask)


@dataclass(frozen=True)
class EventRows:
    """A batch of event rows (``tokbt.ledger.EVENT_SCHEMA``): day, path position and event."""

    day: Ints
    path: Ints
    event: npt.NDArray[np.str_]


def _day_index(ts: pa.ChunkedArray | pa.Array, frame: RunFrame, where: str) -> Ints:
    stamps = np.asarray(ts.to_numpy(zero_copy_only=False), dtype="datetime64[us]")
    days = (stamps - _ONE_US).astype("datetime64[D]")
    pos = (days - frame.days[0]).astype(np.int64) if len(frame.days) else days.astype(np.int64)
    outside = (pos < 0) | (pos >= len(frame.days))
    if outside.any():
        bad = days[outside][0]
        raise ValueError(f"{where} row on {bad}, outside the run's days {frame.days[[0, -1]]}")
    return pos


def _path_index(path: pa.ChunkedArray | pa.Array, frame: RunFrame, where: str) -> Ints:
    ids = np.asarray(path.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(frame.path_ids, kind="stable")
    pos = np.searchsorted(frame.path_ids[order], ids)
    pos = np.clip(pos, 0, len(order) - 1)
    found = frame.path_ids[order][pos] == ids
    if not found.all():
        raise ValueError(f"{where} row of path {ids[~found][0]}, which the run frame does not have")
    return order[pos].astype(np.int64)


def _codes(column: pa.ChunkedArray | pa.Array, values: Sequence[str], what: str) -> Ints:
    pos = pc.index_in(column, value_set=pa.array(list(values), pa.string()))
    out = np.asarray(pos.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    unknown = (out < 0) & np.asarray(column.is_valid().to_numpy(zero_copy_only=False))
    if unknown.any():
        first = column.filter(pa.array(unknown))[0]
        raise ValueError(f"journal row with unknown {what} {first}")
    return out


def _floats(column: pa.ChunkedArray | pa.Array) -> Floats:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def decode_journal(batch: pa.Table | pa.RecordBatch, frame: RunFrame) -> JournalRows:
    """Journal rows as ``JournalRows`` against ``frame`` (clear error on a row it cannot place)."""
    return JournalRows(
        day=_day_index(batch.column("ts"), frame, "journal"),
        path=_path_index(batch.column("path"), frame, "journal"),
        account=_codes(batch.column("account"), [a.value for a in ACCOUNTS], "account"),
        kind=_codes(batch.column("kind"), [k.value for k in KINDS], "kind"),
        contract=_codes(batch.column("contract"), frame.contracts, "contract"),
        qty=_floats(batch.column("qty")),
        price=_floats(batch.column("price")),
        amount=_floats(batch.column("amount")),
    )


_US_PER_DAY = 86_400_000_000


@njit(cache=True, inline="always")
def core_day(ints: np.ndarray, r: int, day0: int) -> int:  # pragma: no cover - compiled
    """The day position of row ``r`` of the core's journal buffers: the day its event
    describes (an event at 00:00 describes the day before), counted from ``day0``."""
    return int((ints[r, layout.J_TS] - 1) // _US_PER_DAY - day0)


@njit(cache=True, inline="always")
def core_row(
    ints: np.ndarray, floats: np.ndarray, r: int, day0: int
) -> tuple[int, float, float]:  # pragma: no cover - compiled
    """Row ``r`` of the core's journal buffers: its day position (``core_day``), qty and
    price (NaN where the row does not carry one)."""
    day = core_day(ints, r, day0)
    flags = ints[r, layout.J_FLAGS]
    qty = floats[r, layout.J_QTY] if flags & layout.HAS_QTY else np.nan
    price = floats[r, layout.J_PRICE] if flags & layout.HAS_PRICE else np.nan
    return day, qty, price


@njit(cache=True)
def _decode_core(
    ints: np.ndarray,
    floats: np.ndarray,
    day0: int,
    n_days: int,
    day: np.ndarray,
    qty: np.ndarray,
    price: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """``core_row`` of every row into ``day``, ``qty`` and ``price``; the first row outside
    ``[0, n_days)``, or -1."""
    bad = -1
    for r in range(ints.shape[0]):
        day[r], qty[r], price[r] = core_row(ints, floats, r, day0)
        if bad < 0 and (day[r] < 0 or day[r] >= n_days):
            bad = r
    return bad


def first_day(frame: RunFrame) -> int:
    """The frame's first day as days since the epoch (0 without days): day positions of
    core rows count from it."""
    return int(frame.days[0].astype(np.int64)) if len(frame.days) else 0


def outside_days(day: int, frame: RunFrame) -> ValueError:
    """The error for a journal row on day position ``day``, outside the frame's days."""
    when = np.datetime64(day + first_day(frame), "D")
    return ValueError(f"journal row on {when}, outside the run's days {frame.days[[0, -1]]}")


def decode_core_journal(
    ints: npt.NDArray[np.int64], floats: Floats, frame: RunFrame
) -> JournalRows:
    """Journal rows straight from the ledger core's row buffers (``tokbt.core.layout``'s
    journal layout: path rows and contract indexes are already the frame's positions
    when the frame is the run's), without Arrow: what ``decode_journal`` makes of the
    same rows once written. A quantity or price a row does not carry is NaN. The
    columns are views of the buffers: use them before the core writes again."""
    day0 = first_day(frame)
    m = len(ints)
    day, qty, price = np.empty(m, np.int64), np.empty(m), np.empty(m)
    bad = _decode_core(ints, floats, day0, len(frame.days), day, qty, price)
    if bad >= 0:
        raise outside_days(int(day[bad]), frame)
    return JournalRows(
        day=day,
        path=ints[:, layout.J_PATH],
        account=ints[:, layout.J_ACCOUNT],
        kind=ints[:, layout.J_KIND],
        contract=ints[:, layout.J_CONTRACT],
        qty=qty,
        price=price,
        amount=floats[:, layout.J_AMOUNT],
    )


def decode_events(batch: pa.Table | pa.RecordBatch, frame: RunFrame) -> EventRows:
    """Event rows as ``EventRows`` against ``frame``."""
    return EventRows(
        day=_day_index(batch.column("ts"), frame, "event"),
        path=_path_index(batch.column("path"), frame, "event"),
        event=np.asarray(batch.column("event").to_numpy(zero_copy_only=False), dtype=np.str_),
    )
