"""SimMarket: simulated paths as a market source, bit-identical to their Arrow bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_identical, assert_same_blocks, market_arrays

from tokbt.data import BarStore, Feed, Kind, MarketSource, TableMarket
from tokbt.data.frames import block_bytes
from tokbt.sim import SimChunk, SimMarket, SimPlan, load_scenario, simulate_paths, write_simulation


@pytest.fixture(scope="module", params=[(2, 2), (2, 4), (1, 1)], ids=["2x2", "2x4", "1x1"])
def sim(request: pytest.FixtureRequest) -> tuple[SimPlan, SimChunk]:
    """70 days of the baseline, ``bars_per_day x steps_per_day``, three paths."""
    bars, steps = request.param
    plan = SimPlan.build(
        load_scenario("baseline"), 70, seed=1, bars_per_day=bars, steps_per_day=steps
    )
    return plan, simulate_paths(plan, range(3))


@pytest.mark.parametrize("block_events", [1, 7, 64, 10_000])
def test_equals_table_market_block_by_block(
    sim: tuple[SimPlan, SimChunk], block_events: int
) -> None:
    plan, chunk = sim
    market = SimMarket(plan, chunk, block_events=block_events)
    tables = TableMarket(plan.spec, chunk.tables(plan), block_events=block_events)
    assert market.contracts == tables.contracts
    assert market.bar_seconds == tables.bar_seconds
    assert_identical(market.events, tables.events)
    assert_identical(market.path_ids, tables.path_ids)
    assert_identical(market.bounds, tables.bounds)
    n = 0
    for a, b in zip(market.market_blocks(), tables.market_blocks(), strict=True):
        assert_same_blocks(a, b)
        n += 1
    assert n == len(market.bounds) - 1


def test_memory_sized_blocks_hold_the_same_content(sim: tuple[SimPlan, SimChunk]) -> None:
    plan, chunk = sim
    reference = market_arrays(TableMarket(plan.spec, chunk.tables(plan)))
    default = SimMarket(plan, chunk)
    assert default.bounds.tolist() == [0, len(default.events)]  # 3 paths: one 64 MiB block
    budget = 10 * block_bytes(3, 12)
    small = SimMarket(plan, chunk, memory_budget=budget)
    assert len(small.bounds) > 3
    blocks = list(small.market_blocks())
    for block in blocks:
        assert len(block) * block_bytes(3, len(block.contracts)) <= budget
    assert min(len(b.contracts) for b in blocks) < len(small.contracts)  # not every contract
    for market in (default, small):
        got = market_arrays(market)
        assert got.keys() == reference.keys()
        for key, arr in reference.items():
            assert_identical(got[key], arr, key)


def test_the_timeline_of_a_simulation(sim: tuple[SimPlan, SimChunk]) -> None:
    plan, chunk = sim
    market = SimMarket(plan, chunk)
    assert isinstance(market, MarketSource)
    assert market.name == "baseline"
    bars = plan.bars_per_day
    assert market.bar_seconds == {
        Kind.SPOT: 86_400 // bars,
        Kind.FUTURES: 86_400,
        Kind.CONSUMPTION: 86_400,
    }
    assert len(market.events) == plan.n_days * bars
    (block,) = market.market_blocks()
    # the last spot bar of each day is known at midnight and closes at the index value
    day_ends = np.flatnonzero(block.day_close)
    assert day_ends.tolist() == list(range(bars - 1, plan.n_days * bars, bars))
    assert_identical(block.day[day_ends], plan.days)
    np.testing.assert_array_equal(block.spot["close"][day_ends].T, chunk.index)
    np.testing.assert_array_equal(block.consumption["tokens"][day_ends].T, chunk.consumption.tokens)
    assert not np.isnan(block.consumption["tokens"]).all(axis=1)[day_ends].any()
    # settlements: the ends of exchange days, where the futures bars of the day are known
    settled = np.flatnonzero(block.settlement)
    assert_identical(block.day[settled], plan.days[plan.exchange_days])
    assert_identical(
        block.futures_start[settled], plan.days[plan.exchange_days].astype("datetime64[us]")
    )
    assert np.isnat(np.delete(block.futures_start, settled)).all()
    # every listed (day, slot) lands on its contract; nothing else is set
    for e, t in enumerate(settled):
        for slot, c in enumerate(plan.listed[e]):
            if c < 0:
                continue
            col = block.contracts.index(plan.contracts[c].code)
            assert_identical(block.futures["settle"][t, :, col], chunk.settle[e, :, slot])
            assert_identical(block.locked[t, :, col], chunk.locked[e, :, slot])
    assert np.isfinite(block.futures["settle"]).sum() == 3 * (plan.listed >= 0).sum()
    assert block.locked.sum() == chunk.locked.sum()
    assert block.locked.any()


def test_fingerprint_names_the_simulation_and_paths(sim: tuple[SimPlan, SimChunk]) -> None:
    plan, chunk = sim
    assert SimMarket(plan, chunk).fingerprint() == {"simulation": plan.digest, "paths": "0-2"}
    other = simulate_paths(plan, [5, 1, 2])
    market = SimMarket(plan, other)
    assert market.fingerprint()["paths"] == "5,1-2"
    assert market.path_ids.tolist() == [5, 1, 2]
    # a path is the same whatever else is simulated: paths 1 and 2 sit in columns 1 and 2
    got = market_arrays(market)["futures.settle"][:, 1:]
    assert_identical(got, market_arrays(SimMarket(plan, chunk))["futures.settle"][:, 1:])


def test_bars_per_day_must_give_whole_seconds() -> None:
    plan = SimPlan.build(load_scenario("baseline"), 3, seed=1, bars_per_day=7, steps_per_day=7)
    with pytest.raises(ValueError, match="whole seconds"):
        SimMarket(plan, simulate_paths(plan, [0]))


@pytest.mark.parametrize("storage", ["duckdb", "parquet"])
def test_a_stored_simulation_replays_identically(tmp_path: Path, storage: str) -> None:
    """Feed over the written dataset = SimMarket over the same paths (12-hour spot, daily rest)."""
    plan = SimPlan.build(load_scenario("price_war"), 40, seed=2, bars_per_day=2, steps_per_day=4)
    with BarStore(tmp_path / "s.duckdb") as store:
        write_simulation(store, "sim", plan, 5, chunk_paths=2, storage=storage)
        whole = simulate_paths(plan, range(5))
        for size in (3, 200):
            feed = Feed(store, "sim", block_events=size)
            market = SimMarket(plan, whole, block_events=size)
            assert feed.bar_seconds == market.bar_seconds
            for a, b in zip(feed.market_blocks(), market.market_blocks(), strict=True):
                assert_same_blocks(a, b)
        feed = Feed(store, "sim", paths=[4, 1])
        market = SimMarket(plan, simulate_paths(plan, [4, 1]), block_events=len(feed.events))
        assert_same_blocks(feed.load(0, len(feed.events)), next(market.market_blocks()))


def test_a_simulated_market_cuts_itself_into_chunks_of_paths(
    sim: tuple[SimPlan, SimChunk],
) -> None:
    """``path_chunks`` gives, for each chunk, exactly the market of those paths simulated
    alone (paths are independent), and ``backtest`` honours ``chunk_paths`` for it."""
    from tokbt.runs import backtest

    plan, chunk = sim
    whole = SimMarket(plan, chunk, block_events=17)
    parts = list(whole.path_chunks(2))
    assert [p.path_ids.tolist() for p in parts] == [
        chunk.paths[i : i + 2].tolist() for i in range(0, len(chunk.paths), 2)
    ]
    for part in parts:
        alone = SimMarket(plan, simulate_paths(plan, part.path_ids), block_events=17)
        for a, b in zip(part.market_blocks(), alone.market_blocks(), strict=True):
            assert_same_blocks(a, b)
    config = {"broker": {"liquidity": "none"}, "metrics": None, "journal": "rows"}
    static = "strategies.static:Static"
    one = backtest(whole, static, config={**config, "chunk_paths": 1000})
    cut = backtest(whole, static, config={**config, "chunk_paths": 2})
    assert one.paths.equals(cut.paths)
    keys = [("path", "ascending"), ("ts", "ascending")]
    assert one.journal.sort_by(keys).num_rows == cut.journal.sort_by(keys).num_rows > 0
