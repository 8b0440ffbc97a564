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
bar starts of each kind; ``bar_rows`` turns a long (row-per-bar) Arrow table
into ``BarRows`` — each row's event position, path row and contract column,
found once by sorting and ``searchsorted`` — and ``rows_block`` places rows
into a ``MarketBlock`` with one flat assignment per field (``block_from_tables``
does both for the tables of one block); ``fixed_bounds`` and ``budget_bounds``
cut the timeline into blocks.

Distinct values are found by sorting (``sorted_unique``), never by
``np.unique``: numpy 2.x hashes instead of sorting, which is tens of times
slower on a million timestamps.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    spot: Mapping[str, np.ndarray]
    day_close: np.ndarray
    consumption: dict[str, np.ndarray]
    contracts: tuple[str, ...]
    futures: Mapping[str, np.ndarray]
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


@runtime_checkable
class PathChunks(Protocol):
    """A market source that can cut itself into chunks of paths (``TableMarket``, ``Feed``)."""

    def path_chunks(self, size: int) -> Iterator[MarketSource]:
        """The source in consecutive chunks of at most ``size`` paths, in ``path_ids``
        order: each a source of its own on the same timeline, whose blocks hold its
        paths' rows of the whole source's blocks."""
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


# -- distinct values, by sorting -------------------------------------------------------------

_PRESENCE_SLACK = 4
"""Integers spanning at most this many times their count (plus ``_PRESENCE_MIN``) are
found distinct with a presence table instead of a sort."""
_PRESENCE_MIN = 1024
_PRESENCE_LIMIT = 1 << 62
"""Integers beyond ``±_PRESENCE_LIMIT`` are sorted (their offsets must fit int64)."""


def is_sorted(a: np.ndarray) -> bool:
    """Whether the 1-D ``a`` is ascending (repeats allowed). A NaN or NaT anywhere,
    even last, compares false, so such an array is never sorted."""
    return len(a) < 2 or bool(np.all(a[1:] >= a[:-1]))


def _run_starts(s: np.ndarray) -> np.ndarray:
    """Mask of the positions of the sorted ``s`` that start a run of equal values.

    NaN (NaT), sorted last, all count as one value, as in ``np.unique``.
    """
    first = np.empty(len(s), dtype=bool)
    if len(s):
        first[0] = True
        np.not_equal(s[1:], s[:-1], out=first[1:])
        if s.dtype.kind in "fmM" and np.isnan(s[-1]):
            first[int(np.argmax(np.isnan(s))) + 1 :] = False
    return first


def _int_span(a: np.ndarray) -> tuple[int, int] | None:
    """``(min, max)`` of integers ``a`` that a presence table covers cheaply (see
    ``_PRESENCE_SLACK``); None for other dtypes, empty or widely spread values."""
    if a.dtype.kind not in "iu" or len(a) == 0:
        return None
    lo, hi = int(a.min()), int(a.max())
    if lo < -_PRESENCE_LIMIT or hi > _PRESENCE_LIMIT:
        return None
    return (lo, hi) if hi - lo < _PRESENCE_SLACK * len(a) + _PRESENCE_MIN else None


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of ``a`` (flattened), ascending: exactly ``np.unique(a)``
    (same dtype; NaN or NaT once, last) without numpy's hash path.

    A sorted ``a`` costs one pass; integers spanning a small range are marked in a
    presence table; anything else is sorted first, by numpy's stable sort (timsort
    or radix), which merges already sorted runs — such as the concatenated event
    times of several kinds — in linear time.
    """
    a = np.ravel(a)
    span = _int_span(a)
    if span is not None:
        lo, hi = span
        base = 0 if lo >= 0 and hi < _PRESENCE_SLACK * len(a) + _PRESENCE_MIN else lo
        seen = np.zeros(hi - base + 1, dtype=bool)
        seen[a if base == 0 else a.astype(np.int64) - base] = True
        return np.asarray((np.flatnonzero(seen[lo - base :]) + lo).astype(a.dtype))
    s = a if is_sorted(a) else np.sort(a, kind="stable")  # merges sorted runs in one pass
    return np.asarray(s[_run_starts(s)])


def sorted_unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` of a 1-D ``a``, by sorting: the distinct
    values ascending, and for each element the position of its value among them.

    A sorted ``a`` costs one pass (the positions are a running count of new values);
    otherwise a stable argsort orders it first.
    """
    a = np.ravel(a)
    order = None if is_sorted(a) else np.argsort(a, kind="stable")
    s = a if order is None else a[order]
    first = _run_starts(s)
    run = np.cumsum(first, dtype=np.intp) - 1
    if order is None:
        return np.asarray(s[first]), run
    inverse = np.empty_like(run)
    inverse[order] = run
    return np.asarray(s[first]), inverse


def _offsets_are_positions(values: np.ndarray, ids: np.ndarray) -> bool:
    """Whether the distinct integers ``ids`` are ``ids[0], ids[0] + 1, ...`` and every
    one of ``values`` is among them: a value's position is then ``value - ids[0]``."""
    if not len(ids) or int(ids[-1]) - int(ids[0]) != len(ids) - 1 or not is_sorted(ids):
        return False
    return not len(values) or bool(values.min() >= ids[0] and values.max() <= ids[-1])


def positions_in(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The position in ``ids`` (distinct integers, any order) of each of ``values``;
    -1 where a value is not among them. ``int64``."""
    values = np.asarray(values, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    if _offsets_are_positions(values, ids):
        return np.asarray(values - ids[0])
    span = _int_span(ids)
    if span is not None:  # a lookup table over the ids' range, one slot past it for misses
        lo, hi = span
        table = np.full(hi - lo + 2, -1, dtype=np.int64)
        table[ids - lo] = np.arange(len(ids))
        offset = (values - lo).view(np.uint64)  # below the range wraps to a huge offset
        return np.asarray(table[np.minimum(offset, np.uint64(hi - lo + 1))])
    if not len(ids):
        return np.full(len(values), -1, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    at = np.minimum(np.searchsorted(ranked, values), len(ranked) - 1)
    return np.asarray(np.where(ranked[at] == values, order[at], -1), dtype=np.int64)


# -- the timeline --------------------------------------------------------------------------


def bar_length(bar_seconds: int) -> np.timedelta64:
    """A bar length in seconds as a ``timedelta64[us]``."""
    return np.timedelta64(int(bar_seconds) * 1_000_000, "us")


def infer_bar_seconds(ts: np.ndarray) -> int:
    """The bar length of bars starting at ``ts``: the smallest positive gap between
    distinct timestamps, in seconds (86,400 when there is only one timestamp)."""
    starts = sorted_unique(np.asarray(ts, dtype="datetime64[us]"))
    if len(starts) < 2:
        return 86_400
    gap_us = int(np.diff(starts).astype(np.int64).min())
    if gap_us % 1_000_000:
        raise DataError(f"bars {gap_us} µs apart: bar lengths must be whole seconds")
    return gap_us // 1_000_000


def _union(parts: list[np.ndarray]) -> np.ndarray:
    """The distinct values of the sorted distinct ``parts``, ascending (one part's values
    when every part holds the same: bars of every kind at the same times)."""
    if not parts:
        return np.zeros(0, "datetime64[us]")
    if all(np.array_equal(p, parts[0]) for p in parts[1:]):
        return parts[0]
    return sorted_unique(np.concatenate(parts))


def _same(events: np.ndarray, values: np.ndarray) -> bool:
    """Whether the sorted ``values`` are the sorted ``events`` (each at its own position)."""
    return len(values) == len(events) and bool(np.array_equal(values, events))


def _sorted_distinct(a: np.ndarray) -> np.ndarray:
    """``sorted_unique(a)``, or ``a`` itself when it is already strictly increasing."""
    if len(a) < 2 or bool(np.all(a[1:] > a[:-1])):
        return a
    return sorted_unique(a)


def _last_of_day(starts: np.ndarray) -> np.ndarray:
    """Mask of the sorted distinct ``starts`` that are the last of their calendar day: the
    last before each next midnight (searched when there are fewer days than starts)."""
    if not len(starts):
        return np.zeros(0, bool)
    first, last = starts[0].astype("datetime64[D]"), starts[-1].astype("datetime64[D]")
    if np.isnat(last) or int((last - first).astype(np.int64)) >= len(starts):
        day = starts.astype("datetime64[D]")
        return np.asarray(np.r_[day[1:] != day[:-1], True])
    midnights = np.arange(first + 1, last + 2, dtype="datetime64[D]").astype(starts.dtype)
    before = np.searchsorted(starts, midnights) - 1
    out = np.zeros(len(starts), bool)
    out[before[before >= 0]] = True
    return out


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
        distinct = {
            k: _sorted_distinct(np.asarray(v, dtype="datetime64[us]")) for k, v in starts.items()
        }
        ends = {k: v + bar_length(bar_seconds[k]) for k, v in distinct.items()}
        events = np.asarray(_union(list(ends.values())), "datetime64[us]")
        day_close = np.zeros(len(events), bool)
        if Kind.SPOT in distinct:
            spot_ends = ends[Kind.SPOT][_last_of_day(distinct[Kind.SPOT])]
            day_close[np.searchsorted(events, spot_ends)] = True
        fs = distinct.get(Kind.FUTURES)
        if fs is not None and _same(events, ends[Kind.FUTURES]):  # a futures bar at every event
            return cls(events, day_close, np.array(fs, "datetime64[us]"), _last_of_day(fs))
        settlement = np.zeros(len(events), bool)
        futures_start = np.full(len(events), np.datetime64("NaT"), "datetime64[us]")
        if fs is not None:
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


_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.SPOT: SPOT_FIELDS,
    Kind.FUTURES: FUTURES_FIELDS,
    Kind.CONSUMPTION: CONSUMPTION_FIELDS,
}


def _column_numpy(table: pa.Table, name: str, dtype: type | str) -> np.ndarray:
    """A non-null column as a numpy array of ``dtype``."""
    return np.asarray(table[name].cast(pa.from_numpy_dtype(np.dtype(dtype))).to_numpy())


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64, null → NaN (all NaN if the column is absent)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    column = table[name].cast(pa.float64())
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _distinct_codes(column: pa.ChunkedArray) -> list[str]:
    """The distinct contract codes of a (possibly dictionary-encoded) column."""
    return [c for c in pc.unique(column).to_pylist() if c is not None]


def _take(a: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """``a`` in ``order`` (``a`` itself when None)."""
    return a if order is None else np.asarray(a[order])


# -- rows: where each bar goes --------------------------------------------------------------


@dataclass(frozen=True)
class BarRows:
    """One kind's bars as flat arrays in event order, ready to scatter into blocks.

    Attributes:
        event: ``(n,)`` int32: each row's position in the timeline, ascending.
        path: ``(n,)`` int32: each row's array position (in the source's ``path_ids``).
        contract: ``(n,)`` int32: each row's position in the source's ``contracts``
            (futures); None for other kinds.
        values: the kind's fields present in the table → ``(n,)`` float64, NaN where
            null. A field the table lacks is left out: it is NaN in every block.
        locked: ``(n,)`` bool ``limit_locked`` (null → False); None without the column.
    """

    event: np.ndarray
    path: np.ndarray
    contract: np.ndarray | None
    values: dict[str, np.ndarray]
    locked: np.ndarray | None

    def __len__(self) -> int:
        return len(self.event)

    def between(self, lo: int, hi: int) -> BarRows:
        """The rows of events ``[lo, hi)``, as views."""
        a, b = np.searchsorted(self.event, np.array([lo, hi], self.event.dtype)).tolist()
        return self.take(slice(a, b))

    def take(self, index: slice | np.ndarray, path: np.ndarray | None = None) -> BarRows:
        """The rows at ``index`` (a slice gives views); ``path``, if given, maps each
        row's path position to a new one."""
        paths = self.path[index]
        return BarRows(
            event=self.event[index],
            path=paths if path is None else path[paths],
            contract=None if self.contract is None else self.contract[index],
            values={f: v[index] for f, v in self.values.items()},
            locked=None if self.locked is None else self.locked[index],
        )

    def grouped(self, group_of_path: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows ordered by the group of their path (``group_of_path[path]``, from 0 to
        ``n_groups``, ``n_groups`` for rows in no group) and where each group starts in
        that order (``n_groups + 2`` bounds). The sort is stable: a group's rows stay
        in event order."""
        group = group_of_path[self.path]
        order = np.argsort(group, kind="stable")
        starts = np.zeros(n_groups + 2, dtype=np.int64)
        np.cumsum(np.bincount(group, minlength=n_groups + 1), out=starts[1:])
        return order, starts


def _event_positions(ends: np.ndarray, events: np.ndarray, kind: Kind) -> np.ndarray:
    """Position in ``events`` of each of the sorted ``ends`` (int32); ``DataError`` for
    one that is not among them."""
    if _same(events, ends):  # a bar at every event, in order (one path's series)
        return np.arange(len(ends), dtype=np.int32)
    first = np.flatnonzero(_run_starts(ends))
    distinct = ends[first]
    at = np.searchsorted(events, distinct)
    found = at < len(events)
    found[found] = events[at[found]] == distinct[found]
    if not found.all():
        bad = distinct[~found][0]
        raise DataError(f"a {kind} bar known at {bad} is not an event of the block")
    return np.repeat(at.astype(np.int32), np.diff(first, append=len(ends)))


def _path_positions(paths: np.ndarray, path_ids: np.ndarray, kind: Kind) -> np.ndarray:
    """Position in ``path_ids`` (any order) of each row's path (int32); ``DataError``
    for a path that is not among them."""
    if len(path_ids) == 1 and len(paths) and paths.min() == paths.max() == path_ids[0]:
        return np.zeros(len(paths), np.int32)  # one path: no lookup
    pos = positions_in(paths, path_ids)
    missing = pos < 0
    if missing.any():
        raise DataError(f"{kind} bars of path {paths[missing][0]}, which is not selected")
    return pos.astype(np.int32)


def _contract_positions(column: pa.ChunkedArray, codes: tuple[str, ...]) -> np.ndarray:
    """Position in ``codes`` of each row's contract (int32; dictionary-encoded columns
    too); ``DataError`` for a row without a contract or with one not in ``codes``."""
    value_set = pa.array(codes, pa.string())
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            in_dict = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=value_set)
            same = in_dict.null_count == 0 and in_dict.equals(
                pa.array(range(len(in_dict)), pa.int32())
            )
            parts.append(
                chunk.indices.cast(pa.int32()) if same else pc.take(in_dict, chunk.indices)
            )
        else:
            parts.append(pc.index_in(chunk.cast(pa.string()), value_set=value_set))
    if not parts:
        return np.zeros(0, np.int32)
    index = pa.chunked_array(parts, pa.int32())
    index = index.fill_null(-1) if index.null_count else index
    out = np.asarray(index.to_numpy(), dtype=np.int32)
    if (out < 0).any():
        raise DataError(f"futures bars without a contract or with one not among {codes[:5]}")
    return out


def bar_rows(
    table: pa.Table,
    kind: Kind,
    events: np.ndarray,
    path_ids: np.ndarray,
    contracts: tuple[str, ...],
    bar_seconds: int,
    *,
    first: int = 0,
) -> BarRows:
    """The bars of ``table`` (of ``kind``) as ``BarRows``: located once, sorted by event.

    Args:
        table: rows of the ``tokbt.data.schemas`` columns, any order; optional
            columns may be absent.
        events: the sorted event times the rows fall on (``ts + bar_seconds``);
            ``first`` is the timeline position of ``events[0]``.
        path_ids: path of each array position (any order).
        contracts: the futures' codes; a row's ``contract`` is its position here.
        bar_seconds: the kind's bar length.

    The sort is stable: rows of one event keep their order, so of rows repeating a
    key the last is the one a block keeps. ``DataError`` for a row whose event is
    not among ``events``, whose path is not in ``path_ids`` or (futures) whose
    contract is not in ``contracts``.
    """
    ends = _column_numpy(table, "ts", "datetime64[us]") + bar_length(bar_seconds)
    order = None if is_sorted(ends) else np.argsort(ends, kind="stable")
    event = _event_positions(_take(ends, order), events, kind)
    if first:
        event += first
    paths = _column_numpy(table, "path", np.int64)
    path = _path_positions(_take(paths, order), path_ids, kind)
    contract, locked = None, None
    if kind is Kind.FUTURES:
        contract = _take(_contract_positions(table["contract"], contracts), order)
        if "limit_locked" in table.column_names:
            flags = table["limit_locked"].cast(pa.bool_()).fill_null(False)
            locked = _take(np.asarray(flags.to_numpy(), dtype=bool), order)
    fields = [f for f in _FIELDS[kind] if f in table.column_names]
    values = {f: _take(_floats(table, f), order) for f in fields}
    return BarRows(event, path, contract, values, locked)


def contract_presence(rows: BarRows | None, bounds: np.ndarray, n_contracts: int) -> np.ndarray:
    """``(n_blocks, n_contracts)`` bool: whether futures ``rows`` hold a bar (on any path)
    of each contract in each block ``[bounds[b], bounds[b + 1])``."""
    n_blocks = len(bounds) - 1
    if rows is None or rows.contract is None or not len(rows):
        return np.zeros((n_blocks, n_contracts), dtype=bool)
    cuts = np.searchsorted(rows.event, np.asarray(bounds, rows.event.dtype))
    cell = np.repeat(np.arange(n_blocks) * n_contracts, np.diff(cuts))
    cell += rows.contract
    count = np.bincount(cell, minlength=n_blocks * n_contracts)
    return np.asarray(count.reshape(n_blocks, n_contracts) > 0)


def _present_contracts(rows: BarRows | None, n_contracts: int) -> np.ndarray:
    """Ascending positions of the contracts futures ``rows`` hold a bar of."""
    if rows is None or rows.contract is None:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.bincount(rows.contract, minlength=n_contracts))


# -- blocks from rows ------------------------------------------------------------------------


class LazyFields(Mapping[str, np.ndarray]):
    """A block's fields where some are derived from others on first read (a simulated
    bar's high and low from its open and settlement): blocks that nobody asks for a
    high or low never pay for one. Fields iterate in ``order``."""

    def __init__(
        self,
        fields: dict[str, np.ndarray],
        derived: Mapping[str, Callable[[], np.ndarray]],
        order: Sequence[str],
    ) -> None:
        self._fields = dict(fields)
        self._derived = dict(derived)
        self._order = tuple(order)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._fields:
            if name not in self._derived:
                raise KeyError(name)
            self._fields[name] = self._derived.pop(name)()
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


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


def _flat(
    rows: BarRows, start: int, n_paths: int, columns: np.ndarray | None, k: int
) -> np.ndarray:
    """Each row's position in the flattened arrays of a block whose first event is
    ``start``: ``(n, n_paths)`` arrays, or ``(n, n_paths, k)`` ones when ``columns``
    (contract position → block column) is given. int64."""
    flat: np.ndarray = np.subtract(rows.event, start, dtype=np.int64)
    flat *= n_paths
    flat += rows.path
    if columns is not None:
        assert rows.contract is not None, "futures rows have contracts"
        flat *= k
        every = len(columns) == k and bool(np.all(columns == np.arange(k)))
        flat += rows.contract if every else columns[rows.contract]
    return flat


@dataclass(frozen=True)
class _Placement:
    """Where rows go in a block's arrays of ``shape``: their flat positions, or None
    when the rows are every cell in order (a copy then places them)."""

    shape: tuple[int, ...]
    flat: np.ndarray | None

    @classmethod
    def of(cls, flat: np.ndarray, shape: tuple[int, ...]) -> _Placement:
        """The placement of rows at ``flat``: None if ``flat`` is ``0, 1, ..., size - 1``
        (strictly increasing from 0 to the last cell, one row per cell)."""
        size = int(np.prod(shape))
        in_order = len(flat) == size and (
            size == 0 or (flat[0] == 0 and bool(np.all(flat[1:] > flat[:-1])))
        )
        return cls(shape, None if in_order else flat)

    def place(self, values: np.ndarray, fill: float | bool) -> np.ndarray:
        """A new ``shape`` array holding ``values`` at the rows' cells, ``fill`` elsewhere;
        of repeated cells the last row's value."""
        if self.flat is None:
            return np.array(values).reshape(self.shape)
        out = np.full(self.shape, fill, dtype=values.dtype)
        out.reshape(-1)[self.flat] = values
        return out


def _fields(rows: BarRows | None, where: _Placement, fields: tuple[str, ...]) -> LazyFields:
    """Each field's ``where.shape`` array: the rows' values placed, NaN elsewhere — made
    when first read (a run reads a few of a block's fields: the compiled engine, of
    a spot bar, only its close)."""
    values = {} if rows is None else rows.values

    def made(f: str) -> Callable[[], np.ndarray]:
        if f in values:
            return functools.partial(where.place, values[f], np.nan)
        return functools.partial(np.full, where.shape, np.nan)

    return LazyFields({}, {f: made(f) for f in fields}, fields)


def rows_block(
    timeline: Timeline,
    lo: int,
    hi: int,
    n_paths: int,
    contracts: tuple[str, ...],
    rows: Mapping[Kind, BarRows],
    columns: np.ndarray,
) -> MarketBlock:
    """The ``MarketBlock`` of events ``[lo, hi)`` holding ``rows`` (bars of those events,
    by kind): one placement per kind, then one scatter (or, for rows that are every
    cell in order, one copy) per field.

    ``contracts`` are the block's futures; ``columns`` maps a futures row's contract
    position to its column among them. Cells without a row are NaN (not locked).
    """
    n = hi - lo
    shapes = {
        Kind.SPOT: (n, n_paths),
        Kind.CONSUMPTION: (n, n_paths),
        Kind.FUTURES: (n, n_paths, len(contracts)),
    }
    placed: dict[Kind, tuple[BarRows | None, _Placement]] = {}
    for kind, shape in shapes.items():
        part = rows.get(kind)
        if part is None or not len(part):
            placed[kind] = (None, _Placement(shape, np.zeros(0, np.int64)))
            continue
        cols = columns if kind is Kind.FUTURES else None
        placed[kind] = (part, _Placement.of(_flat(part, lo, n_paths, cols, len(contracts)), shape))
    futures, where = placed[Kind.FUTURES]
    locked = None if futures is None else futures.locked
    events = timeline.events[lo:hi]
    return MarketBlock(
        start=lo,
        events=events,
        day=event_day(events),
        spot=_fields(*placed[Kind.SPOT], SPOT_FIELDS),
        day_close=timeline.day_close[lo:hi],
        consumption=dict(_fields(*placed[Kind.CONSUMPTION], CONSUMPTION_FIELDS)),
        contracts=contracts,
        futures=_fields(futures, where, FUTURES_FIELDS),
        locked=np.zeros(where.shape, bool) if locked is None else where.place(locked, False),
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

    Rows are located with ``bar_rows`` and placed with ``rows_block``: one
    vectorised assignment per field. Contracts are the distinct codes of the
    futures rows, in delivery order.
    """
    futures = tables.get(Kind.FUTURES)
    contracts: tuple[str, ...] = ()
    if futures is not None and futures.num_rows:
        contracts = delivery_order(spec, _distinct_codes(futures["contract"]))
    ids = np.asarray(path_ids, dtype=np.int64)
    events = timeline.events[lo:hi]
    rows = {
        kind: bar_rows(table, kind, events, ids, contracts, bar_seconds[kind], first=lo)
        for kind, table in tables.items()
        if table.num_rows
    }
    return rows_block(timeline, lo, hi, len(ids), contracts, rows, np.arange(len(contracts)))


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
    bars, the engine may show it to a strategy ahead of time. ``DataError`` for
    a row of a path not in ``path_ids``.
    """
    if table is None or "plan" not in table.column_names or table.num_rows == 0:
        return np.empty(0, "datetime64[D]"), np.empty((0, len(path_ids)))
    plan = _floats(table, "plan")
    given = ~np.isnan(plan)
    day = _column_numpy(table, "ts", "datetime64[us]").astype("datetime64[D]")[given]
    days, d_idx = sorted_unique_inverse(day)
    paths = _column_numpy(table, "path", np.int64)[given]
    p_idx = _path_positions(paths, np.asarray(path_ids, dtype=np.int64), Kind.CONSUMPTION)
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
        block_events: events per block; by default blocks are sized so their arrays
            take about ``memory_budget`` bytes (``budget_bounds``): a long series of
            few paths runs in a few large blocks, many paths in short ones.
        memory_budget: bytes per block when ``block_events`` is not given (16 MiB:
            as fast as larger blocks on a long series, with less memory held).

    Every row is located once, when the market is built (``bar_rows``: its event,
    path row and contract column); a block is then one scatter per field.
    ``select_paths`` and ``path_chunks`` give markets of some of the paths with
    the same timeline, contracts and blocks, restricted to those paths.

    Attributes:
        tables: the bar tables, by kind (a selection of paths shares its parent's).
        path_ids: the distinct paths of every kind, ascending (a selection's, in
            the order selected).
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
        block_events: int | None = None,
        memory_budget: int = 16 << 20,
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
        paths = [sorted_unique(_column_numpy(t, "path", np.int64)) for t in self.tables.values()]
        self.path_ids = sorted_unique(np.concatenate(paths)) if paths else np.zeros(0, np.int64)
        futures = self.tables.get(Kind.FUTURES)
        codes = _distinct_codes(futures["contract"]) if futures is not None else []
        self.contracts = delivery_order(spec, codes)
        self._rows = {
            k: bar_rows(t, k, self.events, self.path_ids, self.contracts, self.bar_seconds[k])
            for k, t in self.tables.items()
        }
        self.bounds = (
            fixed_bounds(len(self.events), block_events)
            if block_events is not None
            else self._budget_bounds(memory_budget)
        )
        self._root: TableMarket | None = None
        """The whole market, for a selection of its paths (None: this is the whole)."""
        self._selected: np.ndarray | None = None
        """The whole market's path rows this selection holds, in order."""
        self._presence: np.ndarray | None = None
        """``contract_presence`` of the whole market's blocks, once found."""
        self._hashes: dict[str, str] | None = None
        self._plan: tuple[np.ndarray, np.ndarray] | None = None

    def _budget_bounds(self, memory_budget: int) -> np.ndarray:
        """Block boundaries within ``memory_budget`` bytes a block, each contract charged
        from its first futures bar to its last."""
        futures = self._rows.get(Kind.FUTURES)
        k, n_events = len(self.contracts), len(self.events)
        first = np.full(k, max(n_events - 1, 0), dtype=np.int64)
        last = np.zeros(k, dtype=np.int64)
        if futures is not None and len(futures) and futures.contract is not None:
            event = futures.event.astype(np.int64)  # of ``first``'s type: numpy's fast path
            np.minimum.at(first, futures.contract, event)
            np.maximum.at(last, futures.contract, event)
        if not n_events:
            return fixed_bounds(0, 1)
        return budget_bounds(
            self.events, len(self.path_ids), memory_budget, self.events[first], self.events[last]
        )

    def load(self, lo: int, hi: int) -> MarketBlock:
        """The block of events ``[lo, hi)``: its contracts are those with a bar in it
        (on any path of the whole market, for a selection of paths)."""
        rows = {k: r.between(lo, hi) for k, r in self._rows.items()}
        present = self._contracts_in(lo, hi, rows.get(Kind.FUTURES))
        codes = tuple(self.contracts[i] for i in present.tolist())
        columns = np.full(len(self.contracts), -1, dtype=np.int64)
        columns[present] = np.arange(len(present))
        return rows_block(self.timeline, lo, hi, len(self.path_ids), codes, rows, columns)

    def _contracts_in(self, lo: int, hi: int, futures: BarRows | None) -> np.ndarray:
        """Positions in ``contracts`` of the futures with a bar at events ``[lo, hi)``: of
        ``futures`` (this market's rows of them), or for a selection of paths, of the
        whole market's rows."""
        root = self._root
        if root is None:
            return _present_contracts(futures, len(self.contracts))
        b = int(np.searchsorted(self.bounds, lo, side="right")) - 1
        if b + 1 < len(self.bounds) and (int(self.bounds[b]), int(self.bounds[b + 1])) == (lo, hi):
            return np.flatnonzero(self._block_presence()[b])
        whole = root._rows.get(Kind.FUTURES)
        return _present_contracts(
            None if whole is None else whole.between(lo, hi), len(self.contracts)
        )

    def _block_presence(self) -> np.ndarray:
        """``contract_presence`` of the whole market's blocks: found once, shared by every
        selection of paths."""
        if self._presence is None:
            futures = (self._root or self)._rows.get(Kind.FUTURES)
            self._presence = contract_presence(futures, self.bounds, len(self.contracts))
        return self._presence

    # -- selections of paths ------------------------------------------------------------

    def select_paths(self, ids: Sequence[int] | np.ndarray) -> TableMarket:
        """The market of paths ``ids`` only (array position ``j`` holds ``ids[j]``): the
        same timeline, contracts and blocks, each restricted to those paths.

        Its blocks are this market's blocks with only the selected path rows, so a
        backtest of it replays those paths exactly as one of the whole market does.
        ``DataError`` for a path the market does not have or one given twice.
        """
        chosen = np.asarray(ids, dtype=np.int64)
        pos = positions_in(chosen, self.path_ids)
        if (pos < 0).any():
            raise DataError(f"market {self.name!r} has no path(s) {chosen[pos < 0][:10].tolist()}")
        if len(sorted_unique(chosen)) != len(chosen):
            raise DataError(f"paths {chosen[:10].tolist()} repeat a path")
        return next(self._split([pos]))

    def path_chunks(self, size: int) -> Iterator[TableMarket]:
        """The market in consecutive chunks of at most ``size`` paths, in ``path_ids``
        order, each as ``select_paths`` would give it. The rows are grouped by chunk in
        one pass; a chunk's arrays are made only when it is reached."""
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        n = len(self.path_ids)
        return self._split([np.arange(lo, min(lo + size, n)) for lo in range(0, n, size)])

    def _split(self, groups: list[np.ndarray]) -> Iterator[TableMarket]:
        """A market of each group of path rows (positions in ``path_ids``), in turn."""
        n = len(groups)
        group = np.full(len(self.path_ids), n, dtype=np.int16 if n < 32767 else np.int64)
        local = np.zeros(len(self.path_ids), dtype=np.int32)
        for g, pos in enumerate(groups):
            group[pos] = g
            local[pos] = np.arange(len(pos))
        self._block_presence()  # found before the copies, which share it
        split = {k: r.grouped(group, n) for k, r in self._rows.items()}
        for g, pos in enumerate(groups):
            rows = {
                k: self._rows[k].take(order[starts[g] : starts[g + 1]], local)
                for k, (order, starts) in split.items()
            }
            yield self._selection(pos, rows)

    def _selection(self, pos: np.ndarray, rows: dict[Kind, BarRows]) -> TableMarket:
        """This market restricted to path rows ``pos``, whose bars are ``rows``."""
        part = copy.copy(self)
        part.path_ids = self.path_ids[pos]
        part._rows = rows
        part._root = self._root or self
        part._selected = pos if self._selected is None else self._selected[pos]
        return part

    # -- what is computed once ---------------------------------------------------------

    def consumption_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The consumption plan by day (see ``plan_by_day``); a selection of paths has
        the whole market's days and its paths' columns. Computed once."""
        root = self._root or self
        if root._plan is None:
            root._plan = plan_by_day(root.tables.get(Kind.CONSUMPTION), root.path_ids)
        days, plan = root._plan
        return days.copy(), plan.copy() if self._selected is None else plan[:, self._selected]

    def fingerprint(self) -> dict[str, str]:
        """SHA-256 of each table's Arrow IPC stream, by kind (``table_sha256``), and
        ``paths`` for a selection of paths. The tables are hashed once: they are
        immutable, so every later call (and every selection) reuses the hashes."""
        root = self._root or self
        if root._hashes is None:
            root._hashes = {k.value: table_sha256(t) for k, t in root.tables.items()}
        out = dict(root._hashes)
        if self._selected is not None:
            out["paths"] = describe_paths(self.path_ids)
        return out
