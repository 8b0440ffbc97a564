"""Feed: a stored dataset as a market source, read block by block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import (
    DAYS,
    assert_identical,
    assert_same_blocks,
    consumption_frame,
    futures_frame,
    market_arrays,
    spot_frame,
)

from tokbt.data import BarStore, Feed, Kind, MarketSource, TableMarket
from tokbt.data.frames import block_bytes
from tokbt.errors import DataError

FEB, MAR = "TPI-2026-02", "TPI-2026-03"


def _tables(paths: int = 3) -> dict[Kind, pa.Table]:
    fut = pd.concat(
        [
            futures_frame(paths=paths, contracts=(MAR,)),
            # the Feb contract trades only on the last three days
            futures_frame(paths=paths, contracts=(FEB,), days=DAYS[2:]),
        ]
    ).sort_values(["ts", "path", "contract"])
    frames = {
        Kind.SPOT: spot_frame(paths),
        Kind.FUTURES: fut,
        Kind.CONSUMPTION: consumption_frame(paths),
    }
    return {k: pa.Table.from_pandas(f, preserve_index=False) for k, f in frames.items()}


def _load(store: BarStore, paths: int = 3) -> dict[Kind, pa.Table]:
    tables = _tables(paths)
    for kind, table in tables.items():
        store.write_table(table, "ds", kind)
    return tables


def test_blocks_with_nan_for_missing_bars(store: BarStore) -> None:
    _load(store)
    feed = Feed(store, "ds")
    assert isinstance(feed, MarketSource)
    assert feed.name == "ds"
    assert feed.contracts == (FEB, MAR)  # delivery order
    assert feed.path_ids.tolist() == [0, 1, 2]
    assert feed.bar_seconds == dict.fromkeys(Kind, 86_400)
    # daily bars are known at the end of their day
    ends = (DAYS + pd.Timedelta(days=1)).to_numpy().astype("datetime64[us]")
    assert feed.events.tolist() == ends.tolist()
    (block,) = feed.market_blocks()
    assert block.day.tolist() == DAYS.to_numpy().astype("datetime64[D]").tolist()
    assert block.day_close.all()
    assert block.settlement.all()
    assert block.futures_start.tolist() == DAYS.to_numpy().astype("datetime64[us]").tolist()
    np.testing.assert_allclose(block.spot["close"][0], [2.0, 2.1, 2.2])
    assert block.contracts == (FEB, MAR)
    settle = block.futures["settle"]
    assert settle.shape == (5, 3, 2)
    assert np.isnan(settle[:2, :, 0]).all()  # Feb not traded yet
    np.testing.assert_allclose(settle[0, :, 1], [2.0, 2.1, 2.2])
    np.testing.assert_allclose(settle[-1, :, 0], [2.02, 2.12, 2.22])  # its 3rd day
    np.testing.assert_allclose(block.consumption["tokens"][-1], [1000.0, 1001.0, 1002.0])
    np.testing.assert_allclose(block.consumption["plan"], 1000.0)
    assert not block.locked.any()


def test_feed_equals_table_market_over_the_same_tables(store: BarStore) -> None:
    tables = _load(store)
    for size in (1, 2, 4096):
        feed = Feed(store, "ds", block_events=size)
        market = TableMarket(feed.spec, tables, block_events=size)
        assert feed.contracts == market.contracts
        assert_identical(feed.events, market.events)
        assert_identical(feed.path_ids, market.path_ids)
        for a, b in zip(feed.market_blocks(), market.market_blocks(), strict=True):
            assert_same_blocks(a, b)


def test_block_size_does_not_change_the_data(store: BarStore) -> None:
    _load(store)
    whole = Feed(store, "ds")
    tiny = Feed(store, "ds", memory_budget=1)
    assert tiny.bounds.tolist() == [0, 1, 2, 3, 4, 5]
    assert whole.bounds.tolist() == [0, 5]
    # a block holds only the contracts with a bar in it
    assert [b.contracts for b in tiny.market_blocks()] == [(MAR,)] * 2 + [(FEB, MAR)] * 3
    a, b = market_arrays(whole), market_arrays(tiny)
    for key, arr in a.items():
        assert_identical(b[key], arr, key)


def test_blocks_fit_the_memory_budget(store: BarStore) -> None:
    _load(store)
    budget = 2 * block_bytes(3, 1)  # two events of one contract; not three, not two contracts
    feed = Feed(store, "ds", memory_budget=budget)
    assert feed.bounds.tolist() == [0, 2, 3, 4, 5]
    for block in feed.market_blocks():
        assert len(block) * block_bytes(3, len(block.contracts)) <= budget or len(block) == 1


def test_selected_paths_keep_their_order(store: BarStore) -> None:
    tables = _load(store, paths=4)
    feed = Feed(store, "ds", paths=[3, 1])
    assert feed.n_paths == 2
    block = next(feed.market_blocks())
    np.testing.assert_allclose(block.spot["close"][0], [2.3, 2.1])
    full = market_arrays(TableMarket(feed.spec, tables))
    got = market_arrays(feed)
    for key in ("spot.close", "futures.settle", "consumption.tokens"):
        assert_identical(got[key], full[key][:, [3, 1]], key)
    fp = feed.fingerprint()
    assert fp["paths"] == "3,1"
    assert "paths" not in Feed(store, "ds").fingerprint()
    with pytest.raises(DataError, match="no path"):
        Feed(store, "ds", paths=[7])


def test_fingerprint_is_the_stored_content_hashes(store: BarStore) -> None:
    _load(store)
    info = store.info("ds")
    fp = Feed(store, "ds").fingerprint()
    assert fp == {k.value: p.source_sha256 for k, p in info.parts.items()}
    assert fp == TableMarket(info.spec, _tables()).fingerprint()  # hashes of the tables written


def test_recorded_single_path_spot_only(tmp_path: Path) -> None:
    with BarStore(tmp_path / "s.duckdb") as store:
        store.write_table(pa.Table.from_pandas(spot_frame(1), preserve_index=False), "rec", "spot")
        feed = Feed(store, "rec")
        assert feed.n_paths == 1
        assert feed.contracts == ()
        block = next(feed.market_blocks())
        assert block.spot["close"].shape == (5, 1)
        assert block.contracts == ()
        assert block.futures["settle"].shape == (5, 1, 0)
        assert np.isnan(block.consumption["tokens"]).all()
        assert not block.settlement.any()
        assert np.isnat(block.futures_start).all()
        with pytest.raises(IndexError):
            feed.load(0, 6)
