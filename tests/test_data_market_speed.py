"""The market-building path made fast: distinct values by sorting, rows located once and
scattered flat, fingerprints hashed once and streamed, market sources cut into chunks of
paths. Every result is held to an independent reference (numpy, pandas, a whole run)."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import assert_identical, assert_same_blocks, market_arrays
from engine_markets import market, random_tables
from engine_strategies import RandomTrader
from hypothesis import given, settings
from hypothesis import strategies as st

import tokbt.data.frames as frames
from tokbt.data import BarStore, Feed, Kind, MarketBlock, TableMarket, Timeline
from tokbt.data.frames import (
    PathChunks,
    positions_in,
    sorted_unique,
    sorted_unique_inverse,
)
from tokbt.data.store import table_sha256
from tokbt.engine import BrokerConfig
from tokbt.errors import DataError
from tokbt.ledger import LedgerConfig
from tokbt.market import TPI_MONTH
from tokbt.runs import Result, RunSettings, backtest

backtest_module = importlib.import_module("tokbt.runs.backtest")  # the name is the function's

# -- distinct values by sorting -----------------------------------------------------------

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint32", "uint64")
ints = st.lists(st.integers(-(2**62), 2**62), max_size=60)
narrow = st.lists(st.integers(-40, 40), max_size=200)


def _ints(values: list[int], dtype: str) -> np.ndarray:
    """``values`` as ``dtype`` (wrapped into its range)."""
    info = np.iinfo(dtype)
    span = int(info.max) - int(info.min) + 1
    return np.array([(v - int(info.min)) % span + int(info.min) for v in values], dtype=dtype)


def assert_unique_like_numpy(a: np.ndarray, *, bitwise: bool = True) -> None:
    """``sorted_unique`` and ``sorted_unique_inverse`` give what ``np.unique`` gives: the
    same bytes, or for floats (where 0.0 and -0.0 are one value and numpy's pick of
    the two depends on its sort) the same dtype and values."""

    def same(got: np.ndarray, want: np.ndarray, what: str) -> None:
        if bitwise:
            assert_identical(got, want, what)
        else:
            assert got.dtype == want.dtype, what
            np.testing.assert_array_equal(got, want, err_msg=what)

    same(sorted_unique(a), np.unique(a), f"values of {a!r}")
    values, inverse = sorted_unique_inverse(a)
    want_values, want_inverse = np.unique(a, return_inverse=True)
    same(values, want_values, f"inverse values of {a!r}")
    assert_identical(inverse, want_inverse, f"inverse of {a!r}")


@given(values=st.one_of(ints, narrow), dtype=st.sampled_from(INT_DTYPES), presort=st.booleans())
def test_sorted_unique_is_np_unique_on_integers(
    values: list[int], dtype: str, presort: bool
) -> None:
    a = _ints(values, dtype)
    assert_unique_like_numpy(np.sort(a) if presort else a)


@given(
    values=st.lists(st.one_of(st.integers(0, 50), st.none()), max_size=80),
    presort=st.booleans(),
)
def test_sorted_unique_is_np_unique_on_timestamps_with_nat(
    values: list[int | None], presort: bool
) -> None:
    base = np.datetime64("2026-01-05T00", "us")
    hour = np.timedelta64(3_600_000_000, "us")
    nat = np.datetime64("NaT", "us")
    a = np.array([nat if v is None else base + v * hour for v in values], "datetime64[us]")
    assert_unique_like_numpy(np.sort(a) if presort else a)
    assert_unique_like_numpy(a.astype("datetime64[D]"))


@given(
    values=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0])),
        max_size=80,
    )
)
def test_sorted_unique_is_np_unique_on_floats_with_nan(values: list[float]) -> None:
    assert_unique_like_numpy(np.array(values, dtype=np.float64), bitwise=False)


def test_sorted_unique_takes_the_presence_table_and_the_sort_alike() -> None:
    rng = np.random.default_rng(0)
    for a in (
        rng.integers(0, 10_000, 100_000),  # narrow: a presence table
        rng.integers(-(2**40), 2**40, 1000),  # wide: a sort
        np.arange(5, dtype=np.int64)[::-1],
        np.array([-(2**63), 2**63 - 1, 0]),  # extremes: sorted, never offset
        np.zeros(0, np.int64),
    ):
        assert_unique_like_numpy(a)


@given(ids=st.lists(st.integers(-1000, 10**12), unique=True, max_size=30), data=st.data())
def test_positions_in_finds_each_value_or_minus_one(ids: list[int], data: Any) -> None:
    pool = [*ids, -1001, 10**12 + 1, 7, -(2**63), 2**63 - 1]
    values = data.draw(st.lists(st.sampled_from(pool), max_size=40))
    where = {v: i for i, v in enumerate(ids)}
    got = positions_in(np.array(values, np.int64), np.array(ids, np.int64))
    assert got.dtype == np.int64
    assert got.tolist() == [where.get(v, -1) for v in values]


def _np_unique_timeline(starts: dict[Kind, np.ndarray], seconds: dict[Kind, int]) -> Timeline:
    """``Timeline.build`` as it was written with ``np.unique``: the reference."""
    distinct = {k: np.unique(v.astype("datetime64[us]")) for k, v in starts.items()}
    ends = {k: v + np.timedelta64(seconds[k] * 1_000_000, "us") for k, v in distinct.items()}
    events = np.unique(np.concatenate(list(ends.values()))).astype("datetime64[us]")
    day_close, settlement = np.zeros(len(events), bool), np.zeros(len(events), bool)
    futures_start = np.full(len(events), np.datetime64("NaT"), "datetime64[us]")

    def last_of_day(s: np.ndarray) -> np.ndarray:
        day = s.astype("datetime64[D]")
        return np.r_[day[1:] != day[:-1], True]

    if Kind.SPOT in distinct:
        day_close[np.searchsorted(events, ends[Kind.SPOT][last_of_day(distinct[Kind.SPOT])])] = 1
    if Kind.FUTURES in distinct:
        at = np.searchsorted(events, ends[Kind.FUTURES])
        futures_start[at] = distinct[Kind.FUTURES]
        settlement[at[last_of_day(distinct[Kind.FUTURES])]] = True
    return Timeline(events, day_close, futures_start, settlement)


@settings(max_examples=50)
@given(
    spot=st.lists(st.integers(0, 2000), min_size=1, max_size=60),
    futures=st.lists(st.integers(0, 2000), min_size=1, max_size=60),
    spot_hours=st.sampled_from([1, 4, 12, 24]),
)
def test_timeline_is_the_np_unique_one(
    spot: list[int], futures: list[int], spot_hours: int
) -> None:
    base = np.datetime64("2026-01-05T00", "us")
    hour = np.timedelta64(3_600_000_000, "us")
    starts = {
        Kind.SPOT: base + np.array(spot) * spot_hours * hour,
        Kind.FUTURES: base + np.array(futures) * 8 * hour,
    }
    seconds = {Kind.SPOT: spot_hours * 3600, Kind.FUTURES: 8 * 3600}
    got, want = Timeline.build(starts, seconds), _np_unique_timeline(starts, seconds)
    for name in ("events", "day_close", "futures_start", "settlement"):
        assert_identical(getattr(got, name), getattr(want, name), name)


# -- blocks, against an independent pandas pivot ------------------------------------------

CODES = ("TPI-2026-02", "TPI-2026-03", "TPI-2026-04")
"""Month contracts: their codes sort in delivery order."""


def gappy_tables(seed: int, n_paths: int = 4, n_days: int = 12) -> dict[Kind, pa.Table]:
    """Spot every 12 hours, futures every 8 hours in three contracts, daily consumption,
    with a third of the rows missing, rows shuffled, contracts dictionary-encoded and
    some nulls; path ids not 0..n-1. Keys are unique."""
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2026-01-05")
    ids = np.array([3, 10, 11, 40, 41, 97])[:n_paths]

    def frame(hours: int, bars: int, contracts: tuple[str, ...] = ()) -> pd.DataFrame:
        idx = pd.MultiIndex.from_product(
            [
                base + pd.to_timedelta(np.arange(bars) * hours, "h"),
                ids,
                *([contracts] * bool(contracts)),
            ]
        )
        out = idx.to_frame(index=False, name=["ts", "path", "contract"][: idx.nlevels])
        keep = rng.random(len(out)) > 1 / 3
        return out[keep].sample(frac=1.0, random_state=seed).reset_index(drop=True)

    spot = frame(12, 2 * n_days)
    for i, f in enumerate(frames.SPOT_FIELDS):
        spot[f] = rng.normal(2.0, 0.1, len(spot)).round(3) + i
    futures = frame(8, 3 * n_days, CODES)
    for i, f in enumerate(frames.FUTURES_FIELDS):
        futures[f] = rng.normal(2.1, 0.1, len(futures)).round(3) + i
    futures.loc[rng.random(len(futures)) < 0.1, "open"] = np.nan  # null in Arrow
    futures["limit_locked"] = pd.array(rng.random(len(futures)) < 0.2, dtype="boolean")
    futures.loc[rng.random(len(futures)) < 0.1, "limit_locked"] = pd.NA
    consumption = frame(24, n_days)
    consumption["tokens"] = rng.uniform(0, 50, len(consumption)).round(1)
    consumption["plan"] = 25.0
    tables = {
        Kind.SPOT: pa.Table.from_pandas(spot, preserve_index=False),
        Kind.FUTURES: pa.Table.from_pandas(futures, preserve_index=False),
        Kind.CONSUMPTION: pa.Table.from_pandas(consumption, preserve_index=False),
    }
    fut = tables[Kind.FUTURES]
    at = fut.schema.get_field_index("contract")
    tables[Kind.FUTURES] = fut.set_column(at, "contract", fut["contract"].dictionary_encode())
    return tables


BAR_HOURS = {Kind.SPOT: 12, Kind.FUTURES: 8, Kind.CONSUMPTION: 24}


def pivot(table: pa.Table, kind: Kind, events: np.ndarray, path_ids: np.ndarray) -> dict[str, Any]:
    """The dense arrays of ``table`` over ``events`` × ``path_ids`` (× contracts, in code
    order), by pandas reindexing: NaN (False for ``locked``) where a row is missing."""
    frame = table.to_pandas()
    frame["event"] = frame["ts"] + pd.Timedelta(hours=BAR_HOURS[kind])
    frame["contract"] = frame["contract"].astype(str) if "contract" in frame else ""
    contracts = sorted(frame["contract"].unique()) if kind is Kind.FUTURES else [""]
    cells = pd.MultiIndex.from_product([pd.DatetimeIndex(events), path_ids, contracts])
    shape = (len(events), len(path_ids), len(contracts))
    keyed = frame.set_index(["event", "path", "contract"])
    out: dict[str, Any] = {"contracts": tuple(contracts)}
    for f in frames._FIELDS[kind]:
        out[f] = keyed[f].astype(np.float64).reindex(cells).to_numpy().reshape(shape)
    if "limit_locked" in frame:
        locked = keyed["limit_locked"].astype("boolean").reindex(cells).fillna(False)
        out["limit_locked"] = locked.to_numpy(dtype=bool).reshape(shape)
    return out


def _block_rows(table: pa.Table, kind: Kind, block: MarketBlock) -> pa.Table:
    """The rows of ``table`` whose event falls in ``block``."""
    ends = table["ts"].to_numpy() + np.timedelta64(BAR_HOURS[kind], "h")
    inside = (ends >= block.events[0]) & (ends <= block.events[-1])
    return table.filter(pa.array(inside))


def assert_block_is_the_pivot(
    block: MarketBlock, tables: dict[Kind, pa.Table], ids: np.ndarray
) -> None:
    for kind, target in ((Kind.SPOT, block.spot), (Kind.CONSUMPTION, block.consumption)):
        want = pivot(_block_rows(tables[kind], kind, block), kind, block.events, ids)
        for f, arr in target.items():
            np.testing.assert_array_equal(arr, want[f][:, :, 0], err_msg=f"{kind} {f}")
    rows = _block_rows(tables[Kind.FUTURES], Kind.FUTURES, block)
    want = pivot(rows, Kind.FUTURES, block.events, ids) if rows.num_rows else {"contracts": ()}
    assert block.contracts == want["contracts"]
    if block.contracts:
        for f, arr in block.futures.items():
            np.testing.assert_array_equal(arr, want[f], err_msg=f"futures {f}")
        np.testing.assert_array_equal(block.locked, want["limit_locked"])
    assert block.locked.dtype == bool


@pytest.mark.parametrize(("seed", "block_events"), [(0, 4096), (1, 5), (2, 1), (3, 7)])
def test_blocks_are_the_pandas_pivot_of_a_gappy_market(seed: int, block_events: int) -> None:
    tables = gappy_tables(seed)
    source = TableMarket(TPI_MONTH, tables, block_events=block_events)
    assert source.path_ids.tolist() == [3, 10, 11, 40]
    assert source.contracts == CODES
    seen = 0
    for block in source.market_blocks():
        assert block.start == seen
        assert_block_is_the_pivot(block, tables, source.path_ids)
        seen += len(block)
    assert seen == len(source.events)


def test_rows_in_dense_order_are_copied_and_owned() -> None:
    """Rows that are every cell in order take the copy path: the same arrays, writable,
    not views of the Arrow buffers."""
    tables = random_tables(0, 3, 20)  # every (day, path) and (day, path, contract), in order
    ordered = market(tables, block_events=4)
    shuffled = market({k: t.take(pa.array(np.arange(t.num_rows)[::-1])) for k, t in tables.items()})
    for key, arr in market_arrays(shuffled).items():
        assert_identical(market_arrays(ordered)[key], arr, key)
    block = next(ordered.market_blocks())
    block.spot["close"][:] = -1.0  # writable, and a copy: the next load is untouched
    block.futures["settle"][:] = -1.0
    again = next(ordered.market_blocks())
    assert not (again.spot["close"] == -1.0).any()
    assert not (again.futures["settle"] == -1.0).any()
    assert not (tables[Kind.SPOT]["close"].to_numpy() == -1.0).any()
    # which rows are "every cell in order"
    assert frames._Placement.of(np.arange(6), (2, 3)).flat is None
    for flat in ([0, 1, 2, 3, 5, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 4], [1, 2, 3, 4, 5, 6]):
        assert frames._Placement.of(np.array(flat), (2, 3)).flat is not None


# -- fingerprints -------------------------------------------------------------------------


def ipc_sha256(table: pa.Table) -> str:
    """The reference: SHA-256 of the whole IPC stream, written to memory first."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def test_table_sha256_streams_the_same_digest_as_the_ipc_copy() -> None:
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "ts": pa.array(np.arange(500).astype("datetime64[h]").astype("datetime64[us]")),
            "x": pa.array(rng.random(500), mask=rng.random(500) < 0.1),
            "code": pa.array(rng.choice(["a", "bb", "ccc"], 500)).dictionary_encode(),
            "s": pa.array(["x", None, "yz", ""] * 125),
            "b": pa.array([True, None, False, False] * 125),
        }
    )
    variants = [
        table,
        table.slice(17, 301),
        pa.concat_tables([table.slice(0, 3), table.slice(100, 50), table.slice(499)]),
        table.slice(0, 0),
        pa.table({}),
    ]
    for t in variants:
        assert table_sha256(t) == ipc_sha256(t)


def test_the_tables_are_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(table: pa.Table) -> str:
        calls.append(table.num_rows)
        return table_sha256(table)

    monkeypatch.setattr(frames, "table_sha256", counting)
    tables = gappy_tables(0)
    source = TableMarket(TPI_MONTH, tables)
    first = source.fingerprint()
    assert first == {k.value: ipc_sha256(t) for k, t in tables.items()}
    first["spot"] = "changed by the caller"  # a copy: the cached hashes stay
    again = source.fingerprint()
    assert again == {k.value: ipc_sha256(t) for k, t in tables.items()}
    parts = [p.fingerprint() for p in source.path_chunks(3)]
    assert len(calls) == len(tables)
    assert [p.pop("paths") for p in parts] == ["3,10-11", "40"]
    assert parts == [again, again]


# -- selections and chunks of paths -------------------------------------------------------


def restricted(block: MarketBlock, rows: list[int]) -> MarketBlock:
    """``block`` with only the path rows ``rows``."""
    return MarketBlock(
        start=block.start,
        events=block.events,
        day=block.day,
        spot={f: a[:, rows] for f, a in block.spot.items()},
        day_close=block.day_close,
        consumption={f: a[:, rows] for f, a in block.consumption.items()},
        contracts=block.contracts,
        futures={f: a[:, rows] for f, a in block.futures.items()},
        locked=block.locked[:, rows],
        futures_start=block.futures_start,
        settlement=block.settlement,
    )


@pytest.mark.parametrize("block_events", [1, 6, 4096])
def test_a_selection_holds_the_whole_blocks_rows_of_its_paths(block_events: int) -> None:
    source = TableMarket(TPI_MONTH, gappy_tables(4), block_events=block_events)
    part = source.select_paths([40, 3, 11])
    rows = [3, 0, 2]
    assert part.path_ids.tolist() == [40, 3, 11]
    assert part.contracts == source.contracts
    assert_identical(part.events, source.events)
    for a, b in zip(part.market_blocks(), source.market_blocks(), strict=True):
        assert_same_blocks(a, restricted(b, rows))  # also the whole block's contracts
    again = part.select_paths([11, 40])  # a selection of a selection
    for a, b in zip(again.market_blocks(), source.market_blocks(), strict=True):
        assert_same_blocks(a, restricted(b, [2, 3]))
    days, plan = source.consumption_plan()
    part_days, part_plan = part.consumption_plan()
    assert_identical(part_days, days)
    assert_identical(part_plan, plan[:, rows])


def test_path_chunks_cover_the_paths_in_order() -> None:
    source = TableMarket(TPI_MONTH, gappy_tables(5), block_events=5)
    assert isinstance(source, PathChunks)
    chunks = list(source.path_chunks(3))
    assert [c.path_ids.tolist() for c in chunks] == [[3, 10, 11], [40]]
    whole = market_arrays(source)
    pieces = [market_arrays(c) for c in chunks]
    for key, arr in whole.items():
        if arr.ndim >= 2:
            assert_identical(np.concatenate([p[key] for p in pieces], axis=1), arr, key)
        else:
            assert_identical(pieces[0][key], arr, key)
    assert [c.path_ids.tolist() for c in source.path_chunks(10)] == [[3, 10, 11, 40]]
    with pytest.raises(ValueError, match="at least 1"):
        source.path_chunks(0)


def test_a_selection_refuses_paths_it_lacks_or_repeats() -> None:
    source = TableMarket(TPI_MONTH, gappy_tables(6))
    with pytest.raises(DataError, match=r"no path\(s\) \[5\]"):
        source.select_paths([3, 5])
    with pytest.raises(DataError, match="repeat a path"):
        source.select_paths([3, 3])


# -- backtests of a market cut into chunks ------------------------------------------------


FUNDING: dict[str, dict[str, Any]] = {
    "treasury": {"broker": BrokerConfig(fee_per_contract=0.7, slippage_ticks=1)},
    "limited": {
        "broker": BrokerConfig(fee_per_contract=0.7, slippage_ticks=1),
        "ledger": LedgerConfig(
            funding="limited", initial_cash=4000.0, credit_line=1500.0, cash_rate=0.03,
            funding_rate=0.06, margin_rate=0.01, credit_rate=0.08, margin_buffer=0.2,
            sweep_excess=True,
        ),
    },
}  # fmt: skip
"""Fees and slippage; and a limited treasury with interest, a credit line and margin calls."""


def _sorted(table: pa.Table) -> pa.Table:
    """Rows by path, then time; a path's rows keep their order (the sort is stable)."""
    return table.sort_by([("path", "ascending"), ("ts", "ascending")])


def assert_same_run(whole: Result, chunked: Result) -> None:
    """Two runs of the same paths agree exactly, whatever their chunking (the metrics
    to rounding)."""
    for name in ("journal", "positions", "events"):
        assert _sorted(getattr(chunked, name)).equals(_sorted(getattr(whole, name))), name
    assert chunked.paths.equals(whole.paths)  # per-path totals, bit for bit
    assert_identical(chunked.final_positions, whole.final_positions)
    assert chunked.contracts == whole.contracts
    assert chunked.record["inputs"] == whole.record["inputs"]
    assert chunked.record["paths"] == whole.record["paths"]
    assert whole.metrics is not None
    assert chunked.metrics is not None
    for group in ("columns", "daily", "monthly"):
        mine, theirs = getattr(chunked.metrics, group), getattr(whole.metrics, group)
        assert mine.keys() == theirs.keys()
        for name, values in theirs.items():
            # the metrics' vectorised reductions round differently by array width (ULPs)
            np.testing.assert_allclose(
                mine[name], values, rtol=1e-12, atol=1e-12, err_msg=f"{group} {name}"
            )


def _widths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The paths of each engine run of the backtests that follow."""
    widths: list[int] = []
    run_chunk = backtest_module.run_chunk

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        widths.append(len(source.path_ids))
        return run_chunk(source, *args, **kwargs)

    monkeypatch.setattr(backtest_module, "run_chunk", counting)
    return widths


@pytest.mark.parametrize("funding", ["treasury", "limited"])
def test_a_table_market_is_run_in_chunks_with_the_same_results(
    monkeypatch: pytest.MonkeyPatch, funding: str
) -> None:
    widths = _widths(monkeypatch)
    source = market(random_tables(11, 7, 60), block_events=16)

    def run(chunk_paths: int) -> Result:
        config = RunSettings(**FUNDING[funding], chunk_paths=chunk_paths)
        return backtest(source, RandomTrader(seed=2, p_trade=0.4, max_qty=4), config=config)

    whole, chunked = run(100), run(3)
    assert widths == [7, 3, 3, 1]
    assert whole.journal.num_rows > 0
    assert_same_run(whole, chunked)
    assert chunked.record["inputs"] == source.fingerprint()  # the whole market's, no "paths"


def test_a_feed_is_run_in_chunks_with_the_same_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    widths = _widths(monkeypatch)
    with BarStore(tmp_path / "s.duckdb") as store:
        for kind, table in random_tables(12, 5, 50).items():
            store.write_table(table, "ds", kind)
        feed = Feed(store, "ds", block_events=8)
        assert isinstance(feed, PathChunks)
        parts = list(feed.path_chunks(2))
        assert [p.path_ids.tolist() for p in parts] == [[0, 1], [2, 3], [4]]
        assert all(p.bounds is feed.bounds and p.events is feed.events for p in parts)

        def run(chunk_paths: int) -> Result:
            config = RunSettings(chunk_paths=chunk_paths)
            return backtest(feed, RandomTrader(seed=3, p_trade=0.4, max_qty=4), config=config)

        whole, chunked = run(100), run(2)
        named = backtest(
            "ds", RandomTrader(seed=3, p_trade=0.4), store=store, config={"chunk_paths": 2}
        )
    assert widths == [5, 2, 2, 1, 2, 2, 1]
    assert_same_run(whole, chunked)
    assert chunked.record["inputs"] == feed.fingerprint()
    assert named.paths.num_rows == 5


def test_a_source_that_cannot_be_cut_runs_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    class Opaque:
        """A market source without ``path_chunks``."""

        def __init__(self, inner: TableMarket) -> None:
            self.inner = inner
            self.name, self.spec = inner.name, inner.spec
            self.path_ids, self.contracts, self.events = (
                inner.path_ids,
                inner.contracts,
                inner.events,
            )

        def market_blocks(self) -> Any:
            return self.inner.market_blocks()

        def fingerprint(self) -> dict[str, str]:
            return self.inner.fingerprint()

    widths = _widths(monkeypatch)
    source = Opaque(market(random_tables(13, 4, 40)))
    assert not isinstance(source, PathChunks)
    backtest(source, RandomTrader(seed=4), config=RunSettings(chunk_paths=1, metrics=None))
    assert widths == [4]
