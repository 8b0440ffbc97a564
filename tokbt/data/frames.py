"""What the engine reads: a market as consecutive blocks of events, every path at once.

A *market source* is anything that can hand the engine its timeline in blocks:
a stored dataset (``Feed``), an in-memory set of bar tables (``TableMarket``),
or simulated paths straight from the simulator (``tokbt.sim.SimMarket``).
All produce the same ``MarketBlock``, so the engine has one input format.

Timeline. A bar with timestamp ``ts`` (the start of its period) and length
``bar_seconds`` becomes known at ``ts + bar_seconds``: its *event time*. The
timeline is the sorted union of the event times of every kind; an event
carries every bar that becomes known at it. Nothing of a bar is visible
before its event — this is what makes a backtest free of look-ahead.

Sources share the conversion: ``Timeline.build`` lays out the events and the
structural flags (``day_close``, ``settlement``, ``futures_start``) from the
bar starts of each kind; ``block_from_tables`` turns the long (row-per-bar)
Arrow tables of a range of events into a ``MarketBlock`` with vectorised
scatters; ``fixed_bounds`` and ``budget_bounds`` cut the timeline into blocks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokbt.data.schemas import Kind
from tokbt.data.store import table_sha256
from tokbt.errors import DataError
from tokbt.market import Contract, ContractSpec, Tenor

SPOT_FIELDS = ("open", "high", "low", "close")
FUTURES_FIELDS = ("open", "high", "low", "close", "settle")
CONSUMPTION_FIELDS = ("tokens", "plan")


@dataclass(frozen=True)
class MarketBlock:
    """Consecutive events ``[start, start + n)`` of a market's timeline.

    Attributes:
        start: position of the block's first event in the whole timeline.
        events: ``(n,)`` ``datetime64[us]``: when each event's bars become known.
        day: ``(n,)`` ``datetime64[D]``: the calendar day the event's bars
            describe, the date of ``events - 1µs`` (a daily bar of 5 Jan is
            known at 6 Jan 00:00 and describes 5 Jan).
        spot: ``open, high, low, close`` → ``(n, n_paths)``; NaN where the
            event carries no spot bar.
        day_close: ``(n,)`` bool: the event carries the last spot bar of its
            calendar day, whose close is that day's index value (the fixing
            final settlement averages).
        consumption: ``tokens, plan`` → ``(n, n_paths)``, millions of tokens
            in the bar's period; NaN where none (``plan`` NaN where not given).
        contracts: codes of the futures with a bar somewhere in the block,
            in delivery order; the last axis of the futures arrays.
        futures: ``open, high, low, close, settle`` → ``(n, n_paths, k)``; NaN
            where a contract has no bar at the event.
        locked: ``(n, n_paths, k)`` bool: the bar was limit-locked (no fills).
        futures_start: ``(n,)`` ``datetime64[us]``: start of the futures bars
            the event carries (they share one bar length); NaT where none.
        settlement: ``(n,)`` bool: the event carries the last futures bars
            of an exchange day, whose ``settle`` is the daily settlement price.
    """

    start: int
    events: np.ndarray
    day: np.ndarray
    spot: dict[str, np.ndarray]
    day_close: np.ndarray
    consumption: dict[str, np.ndarray]
    contracts: tuple[str, ...]
    futures: dict[str, np.ndarray]
    locked: np.ndarray
    futures_start: np.ndarray
    settlement: np.ndarray

    def __len__(self) -> int:
        return len(self.events)


@runtime_checkable
class MarketSource(Protocol):
    """A market the engine can replay: paths, contracts and a timeline in blocks.

    Attributes:
        name: a label for reports (dataset name, scenario, ...).
        spec: the futures product the bars are for.
        path_ids: ``(n_paths,)`` path ids; array position ``j`` is path ``path_ids[j]``.
        contracts: every contract with a bar anywhere, in delivery order.
        events: ``(n_events,)`` ``datetime64[us]``: the whole timeline.
    """

    name: str
    spec: ContractSpec
    path_ids: np.ndarray
    contracts: tuple[str, ...]
    events: np.ndarray

    def market_blocks(self) -> Iterator[MarketBlock]:
        """The timeline in consecutive blocks (each block's ``start`` follows the last)."""
        ...

    def fingerprint(self) -> dict[str, str]:
        """What identifies the input's content, for a run record (hashes, digests)."""
        ...


class BlockSource:
    """Base of market sources cut into blocks: ``bounds`` ``[0, ..., n_events]``
    and ``load(lo, hi)`` give ``market_blocks``."""

    bounds: np.ndarray

    def load(self, lo: int, hi: int) -> MarketBlock:
        """The block of events ``[lo, hi)``."""
        raise NotImplementedError

    def market_blocks(self) -> Iterator[MarketBlock]:
        """The timeline in consecutive blocks (see ``bounds``)."""
        for lo, hi in zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist(), strict=True):
            yield self.load(lo, hi)


def event_day(events: np.ndarray) -> np.ndarray:
    """The calendar day an event's bars describe: the date of ``events - 1µs``."""
    return np.asarray(
        (np.asarray(events, "datetime64[us]") - np.timedelta64(1, "us")).astype("datetime64[D]")
    )


def delivery_key(contract: Contract) -> tuple[dt.date, int]:
    """Sort key of delivery order: delivery start, then tenor (month before quarter before year)."""
    return (contract.delivery_start, list(Tenor).index(contract.tenor))


def delivery_order(spec: ContractSpec, codes: Iterable[str]) -> tuple[str, ...]:
    """The distinct ``codes`` of ``spec``'s contracts, in delivery order."""
    return tuple(c.code for c in sorted(map(spec.contract, set(codes)), key=delivery_key))


# -- the timeline --------------------------------------------------------------------------


def bar_length(bar_seconds: int) -> np.timedelta64:
    """A bar length in seconds as a ``timedelta64[us]``."""
    return np.timedelta64(int(bar_seconds) * 1_000_000, "us")


def infer_bar_seconds(ts: np.ndarray) -> int:
    """The bar length of bars starting at ``ts``: the smallest positive gap between
    distinct timestamps, in seconds (86,400 when there is only one timestamp)."""
    starts = np.unique(np.asarray(ts, dtype="datetime64[us]"))
    if len(starts) < 2:
        return 86_400
    gap_us = int(np.diff(starts).astype(np.int64).min())
    if gap_us % 1_000_000:
        raise DataError(f"bars {gap_us} µs apart: bar lengths must be whole seconds")
    return gap_us // 1_000_000


def _last_of_day(starts: np.ndarray) -> np.ndarray:
    """Mask of the sorted distinct ``starts`` that are the last of their calendar day."""
    day = starts.astype("datetime64[D]")
    return np.asarray(np.r_[day[1:] != day[:-1], True]) if len(starts) else np.zeros(0, bool)


@dataclass(frozen=True)
class Timeline:
    """A market's events and what is structurally true of each (see ``MarketBlock``).

    Attributes:
        events: ``(n,)`` ``datetime64[us]``, sorted, distinct: the event times.
        day_close: ``(n,)`` bool: the event carries the last spot bar starting
            on some calendar day.
        futures_start: ``(n,)`` ``datetime64[us]``: start of the futures bars
            the event carries; NaT where it carries none.
        settlement: ``(n,)`` bool: the event carries the last futures bars
            starting on some calendar day (an exchange day's settlement).
    """

    events: np.ndarray
    day_close: np.ndarray
    futures_start: np.ndarray
    settlement: np.ndarray

    def __len__(self) -> int:
        return len(self.events)

    @classmethod
    def build(cls, starts: Mapping[Kind, np.ndarray], bar_seconds: Mapping[Kind, int]) -> Timeline:
        """The timeline of bars starting at ``starts[kind]`` (any order, repeats allowed)
        and lasting ``bar_seconds[kind]``: events are the union of ``start + length``.

        Flags depend only on the bar starts — which bars exist — never on their values.
        """
        distinct = {k: np.unique(np.asarray(v, dtype="datetime64[us]")) for k, v in starts.items()}
        ends = {k: v + bar_length(bar_seconds[k]) for k, v in distinct.items()}
        parts = list(ends.values())
        events = np.unique(np.concatenate(parts)) if parts else np.zeros(0, "datetime64[us]")
        events = events.astype("datetime64[us]")
        day_close = np.zeros(len(events), bool)
        settlement = np.zeros(len(events), bool)
        futures_start = np.full(len(events), np.datetime64("NaT"), "datetime64[us]")
        if Kind.SPOT in distinct:
            spot_ends = ends[Kind.SPOT][_last_of_day(distinct[Kind.SPOT])]
            day_close[np.searchsorted(events, spot_ends)] = True
        if Kind.FUTURES in distinct:
            fs = distinct[Kind.FUTURES]
            at = np.searchsorted(events, ends[Kind.FUTURES])
            futures_start[at] = fs
            settlement[at[_last_of_day(fs)]] = True
        return cls(events, day_close, futures_start, settlement)


# -- blocks --------------------------------------------------------------------------------


def block_bytes(n_paths: int, n_contracts: int) -> int:
    """Bytes of one event of a ``MarketBlock``: float fields and the ``locked`` flags."""
    per_path = 8 * (len(SPOT_FIELDS) + len(CONSUMPTION_FIELDS))
    per_path += n_contracts * (8 * len(FUTURES_FIELDS) + 1)
    return n_paths * per_path


def fixed_bounds(n_events: int, block_events: int) -> np.ndarray:
    """Block boundaries ``[0, b, 2b, ..., n_events]`` for blocks of ``block_events`` events."""
    if block_events < 1:
        raise ValueError(f"block_events must be at least 1, got {block_events}")
    return np.append(np.arange(0, n_events, block_events, dtype=np.int64), n_events)


def budget_bounds(
    events: np.ndarray,
    n_paths: int,
    memory_budget: int,
    first: np.ndarray,
    last: np.ndarray,
) -> np.ndarray:
    """Block boundaries (``[0, ..., n_events]``) so each block fits ``memory_budget`` bytes.

    ``first`` and ``last`` are the first and last event of each contract: a
    block is charged every contract whose span meets it (``block_bytes``). Blocks
    are grown greedily and hold at least one event.
    """
    n = len(events)
    began = np.searchsorted(np.sort(np.asarray(first, "datetime64[us]")), events, side="right")
    ended = np.searchsorted(np.sort(np.asarray(last, "datetime64[us]")), events, side="left")

    def cost(lo: int, hi: int) -> int:  # contracts met by [lo, hi): began by hi-1, not over by lo
        return (hi - lo) * block_bytes(n_paths, int(began[hi - 1] - ended[lo]))

    bounds = [0]
    while bounds[-1] < n:
        lo = bounds[-1]
        fits, over = lo + 1, n + 1  # cost(lo, fits) is kept even if over budget
        while over - fits > 1:
            mid = (fits + over) // 2
            if cost(lo, mid) <= memory_budget:
                fits = mid
            else:
                over = mid
        bounds.append(fits)
    return np.asarray(bounds, dtype=np.int64)


def _column_numpy(table: pa.Table, name: str, dtype: type | str) -> np.ndarray:
    """A non-null column as a numpy array of ``dtype``."""
    return np.asarray(table[name].cast(pa.from_numpy_dtype(np.dtype(dtype))).to_numpy())


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64, null → NaN (all NaN if the column is absent)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    column = table[name].cast(pa.float64())
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _event_index(table: pa.Table, events: np.ndarray, bar_seconds: int, kind: Kind) -> np.ndarray:
    """Position in ``events`` of each row's event (``ts + bar``); error if not among them."""
    ts = np.asarray(table["ts"].cast(pa.timestamp("us")).to_numpy(), "datetime64[us]")
    ev = ts + bar_length(bar_seconds)
    idx = np.searchsorted(events, ev)
    found = idx < len(events)
    found[found] = events[idx[found]] == ev[found]
    if not found.all():
        bad = ev[~found][0]
        raise DataError(f"a {kind} bar known at {bad} is not an event of the block")
    return idx


def _path_index(table: pa.Table, path_ids: np.ndarray, kind: Kind) -> np.ndarray:
    """Position in ``path_ids`` (any order) of each row's path; error for other paths."""
    paths = _column_numpy(table, "path", np.int64)
    order = np.argsort(path_ids, kind="stable")
    ranked = path_ids[order]
    pos = np.searchsorted(ranked, paths)
    found = pos < len(ranked)
    found[found] = ranked[pos[found]] == paths[found]
    if not found.all():
        raise DataError(f"{kind} bars of path {paths[~found][0]}, which is not selected")
    return np.asarray(order[pos])


def _contract_index(column: pa.ChunkedArray, codes: tuple[str, ...]) -> np.ndarray:
    """Position in ``codes`` of each row's contract (dictionary-encoded columns too)."""
    value_set = pa.array(codes, pa.string())
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            in_dict = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=value_set)
            parts.append(pc.take(in_dict, chunk.indices))
        else:
            parts.append(pc.index_in(chunk.cast(pa.string()), value_set=value_set))
    if not parts:
        return np.zeros(0, np.int64)
    return np.asarray(pa.chunked_array(parts, pa.int32()).to_numpy(), dtype=np.int64)


def _distinct_codes(column: pa.ChunkedArray) -> list[str]:
    """The distinct contract codes of a (possibly dictionary-encoded) column."""
    return [c for c in pc.unique(column).to_pylist() if c is not None]


def empty_block(
    timeline: Timeline, lo: int, hi: int, n_paths: int, contracts: tuple[str, ...] = ()
) -> MarketBlock:
    """A block of events ``[lo, hi)`` with no bars yet: NaN fields, nothing locked."""
    n, k = hi - lo, len(contracts)
    events = timeline.events[lo:hi]
    return MarketBlock(
        start=lo,
        events=events,
        day=event_day(events),
        spot={f: np.full((n, n_paths), np.nan) for f in SPOT_FIELDS},
        day_close=timeline.day_close[lo:hi],
        consumption={f: np.full((n, n_paths), np.nan) for f in CONSUMPTION_FIELDS},
        contracts=contracts,
        futures={f: np.full((n, n_paths, k), np.nan) for f in FUTURES_FIELDS},
        locked=np.zeros((n, n_paths, k), bool),
        futures_start=timeline.futures_start[lo:hi],
        settlement=timeline.settlement[lo:hi],
    )


def block_from_tables(
    spec: ContractSpec,
    tables: Mapping[Kind, pa.Table],
    timeline: Timeline,
    lo: int,
    hi: int,
    *,
    path_ids: np.ndarray,
    bar_seconds: Mapping[Kind, int],
) -> MarketBlock:
    """The ``MarketBlock`` of events ``[lo, hi)`` of ``timeline`` from long bar tables.

    Args:
        spec: the product, to order contract codes by delivery.
        tables: rows of the ``tokbt.data.schemas`` columns, any row order; exactly
            the bars whose event (``ts + bar_seconds[kind]``) is one of the
            block's events (a row known at another time raises ``DataError``).
            Optional columns may be absent; a missing kind has no bars.
        timeline: the source's whole timeline (events and structural flags).
        lo, hi: the block's event positions.
        path_ids: path of each array position (any order); rows of other paths
            raise ``DataError``.
        bar_seconds: bar length of each kind in ``tables``.

    Rows are scattered into the dense arrays with one vectorised assignment per
    field. Contracts are the distinct codes of the futures rows, in delivery order.
    """
    futures = tables.get(Kind.FUTURES)
    contracts: tuple[str, ...] = ()
    if futures is not None and futures.num_rows:
        contracts = delivery_order(spec, _distinct_codes(futures["contract"]))
    block = empty_block(timeline, lo, hi, len(path_ids), contracts)
    events = block.events
    path_ids = np.asarray(path_ids, dtype=np.int64)
    targets: dict[Kind, tuple[dict[str, np.ndarray], tuple[str, ...]]] = {
        Kind.SPOT: (block.spot, SPOT_FIELDS),
        Kind.CONSUMPTION: (block.consumption, CONSUMPTION_FIELDS),
        Kind.FUTURES: (block.futures, FUTURES_FIELDS),
    }
    for kind, table in tables.items():
        if not table.num_rows:
            continue
        index: tuple[np.ndarray, ...] = (
            _event_index(table, events, bar_seconds[kind], kind),
            _path_index(table, path_ids, kind),
        )
        if kind is Kind.FUTURES:
            index += (_contract_index(table["contract"], contracts),)
            if "limit_locked" in table.column_names:
                locked = table["limit_locked"].cast(pa.bool_()).fill_null(False)
                block.locked[index] = np.asarray(locked.to_numpy(), dtype=bool)
        arrays, fields = targets[kind]
        for f in fields:
            arrays[f][index] = _floats(table, f)
    return block


def describe_paths(path_ids: np.ndarray) -> str:
    """A compact, exact description of a sequence of path ids, e.g. ``0-99`` or ``3,1``.

    Runs of consecutive ids are written ``a-b``; beyond 16 runs the ids are
    summarised by count, ends and the SHA-256 of their int64 bytes.
    """
    ids = np.asarray(path_ids, dtype=np.int64)
    if ids.size == 0:
        return "none"
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    starts = np.r_[0, breaks]
    stops = np.r_[breaks, ids.size] - 1
    if len(starts) > 16:
        digest = hashlib.sha256(ids.tobytes()).hexdigest()
        return f"{ids.size} paths {ids[0]}..{ids[-1]} sha256:{digest}"
    return ",".join(
        str(ids[a]) if a == b else f"{ids[a]}-{ids[b]}"
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True)
    )


# -- an in-memory source -------------------------------------------------------------------


def plan_by_day(table: pa.Table | None, path_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The consumption plan as ``(days, plan)``: ``datetime64[D]`` days with a
    planned value and ``(n_days, n_paths)`` planned tokens per day (summed over
    the day's bars; NaN where a path has no plan that day).

    The plan is the treasury's forecast, made before the first event: unlike
    bars, the engine may show it to a strategy ahead of time.
    """
    if table is None or "plan" not in table.column_names or table.num_rows == 0:
        return np.empty(0, "datetime64[D]"), np.empty((0, len(path_ids)))
    plan = _floats(table, "plan")
    given = ~np.isnan(plan)
    day = _column_numpy(table, "ts", "datetime64[us]").astype("datetime64[D]")[given]
    days, d_idx = np.unique(day, return_inverse=True)
    order = np.argsort(path_ids)
    paths = _column_numpy(table, "path", np.int64)[given]
    p_idx = order[np.searchsorted(path_ids[order], paths)]
    out = np.zeros((len(days), len(path_ids)))
    seen = np.zeros(out.shape, dtype=bool)
    np.add.at(out, (d_idx, p_idx), plan[given])
    seen[d_idx, p_idx] = True
    return days, np.where(seen, out, np.nan)


class TableMarket(BlockSource):
    """A market from long Arrow bar tables held in memory (a ``MarketSource``).

    Args:
        spec: the futures product the bars are for.
        tables: bars of each kind, rows of the ``tokbt.data.schemas`` columns
            (optional columns may be absent), in any order. Keys (``ts, path``
            and ``contract``) are assumed unique, as in a stored dataset: of
            rows repeating a key, one is kept.
        name: a label for reports.
        bar_seconds: bar length of each kind; inferred when not given as the
            smallest positive gap between distinct timestamps (86,400 if one).
        block_events: events per block.

    Attributes:
        path_ids: the distinct paths of every kind, ascending.
        contracts: every contract with a bar, in delivery order.
        timeline: events and structural flags; ``events`` is ``timeline.events``.
        bar_seconds: bar length of each kind.
        bounds: block boundaries ``[0, ..., n_events]``.
    """

    def __init__(
        self,
        spec: ContractSpec,
        tables: dict[Kind, pa.Table],
        *,
        name: str = "tables",
        bar_seconds: dict[Kind, int] | None = None,
        block_events: int = 4096,
    ) -> None:
        self.name = name
        self.spec = spec
        self.tables = {Kind(k): t for k, t in tables.items()}
        starts = {k: _column_numpy(t, "ts", "datetime64[us]") for k, t in self.tables.items()}
        given = bar_seconds or {}
        self.bar_seconds = {k: given.get(k) or infer_bar_seconds(s) for k, s in starts.items()}
        self.timeline = Timeline.build(
            {k: s for k, s in starts.items() if len(s)}, self.bar_seconds
        )
        self.events = self.timeline.events
        paths = [_column_numpy(t, "path", np.int64) for t in self.tables.values()]
        self.path_ids = np.unique(np.concatenate(paths)) if paths else np.zeros(0, np.int64)
        futures = self.tables.get(Kind.FUTURES)
        codes = _distinct_codes(futures["contract"]) if futures is not None else []
        self.contracts = delivery_order(spec, codes)
        self.bounds = fixed_bounds(len(self.events), block_events)
        # rows sorted by event, to slice each block's rows without a scan
        self._sorted: dict[Kind, tuple[pa.Table, np.ndarray]] = {}
        for kind, table in self.tables.items():
            ends = starts[kind] + bar_length(self.bar_seconds[kind])
            if len(ends) > 1 and (np.diff(ends) < np.timedelta64(0, "us")).any():
                order = np.argsort(ends, kind="stable")
                table, ends = table.take(pa.array(order)), ends[order]
            self._sorted[kind] = (table, ends)

    def load(self, lo: int, hi: int) -> MarketBlock:
        """The block of events ``[lo, hi)``."""
        first, last = self.events[lo], self.events[hi - 1]
        rows = {}
        for kind, (table, ends) in self._sorted.items():
            a = int(np.searchsorted(ends, first, side="left"))
            b = int(np.searchsorted(ends, last, side="right"))
            rows[kind] = table.slice(a, b - a)
        return block_from_tables(
            self.spec,
            rows,
            self.timeline,
            lo,
            hi,
            path_ids=self.path_ids,
            bar_seconds=self.bar_seconds,
        )

    def consumption_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The consumption plan by day (see ``plan_by_day``)."""
        return plan_by_day(self.tables.get(Kind.CONSUMPTION), self.path_ids)

    def fingerprint(self) -> dict[str, str]:
        """SHA-256 of each table's Arrow IPC stream, by kind."""
        return {k.value: table_sha256(t) for k, t in self.tables.items()}
