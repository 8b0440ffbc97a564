"""MarketBlock from long tables: the timeline, structural flags and the shared conversion."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from conftest import assert_identical, assert_same_blocks, market_arrays

from tokbt.data import Kind, MarketBlock, MarketSource, TableMarket, Timeline, block_from_tables
from tokbt.data.frames import (
    block_bytes,
    budget_bounds,
    delivery_order,
    describe_paths,
    fixed_bounds,
    infer_bar_seconds,
)
from tokbt.data.store import table_sha256
from tokbt.errors import DataError
from tokbt.market import TPI_MONTH, ListingRule

MAR, FEB = "TPI-2026-03", "TPI-2026-02"


def t(text: str) -> np.datetime64:
    return np.datetime64(text, "us")


def _tables() -> dict[Kind, pa.Table]:
    """Two paths over 5-6 Jan 2026.

    spot: 12-hour bars (00:00, 12:00); path 1 has no bar at 5 Jan 12:00.
    futures: 8-hour bars on 5 Jan (00:00, 08:00, 16:00); March at each, February
    only at 16:00, which is limit-locked on path 0 (null on path 1).
    consumption: daily bars on 5 and 6 Jan.
    Values encode (bar, path): close = 10 * bar + path.
    """
    spot_ts = [t("2026-01-05T00"), t("2026-01-05T12"), t("2026-01-06T00"), t("2026-01-06T12")]
    rows = [(i, ts, p) for i, ts in enumerate(spot_ts) for p in (0, 1) if (i, p) != (1, 1)]
    close = [10.0 * i + p + 1 for i, _, p in rows]
    spot = pa.table(
        {
            "ts": pa.array([ts for _, ts, _ in rows], pa.timestamp("us")),
            "path": pa.array([p for _, _, p in rows], pa.int32()),
            "open": close,
            "high": [c + 0.5 for c in close],
            "low": [c - 0.5 for c in close],
            "close": close,
        }
    )
    f_ts = [t("2026-01-05T00"), t("2026-01-05T08"), t("2026-01-05T16")]
    f_rows = [(i, ts, p, MAR) for i, ts in enumerate(f_ts) for p in (0, 1)]
    f_rows += [(2, f_ts[2], p, FEB) for p in (0, 1)]
    settle = [100.0 * i + p + (50 if c == FEB else 0) for i, _, p, c in f_rows]
    futures = pa.table(
        {
            "ts": pa.array([r[1] for r in f_rows], pa.timestamp("us")),
            "path": pa.array([r[2] for r in f_rows], pa.int32()),
            "contract": [r[3] for r in f_rows],
            "open": settle,
            "high": settle,
            "low": settle,
            "close": settle,
            "settle": settle,
            "limit_locked": pa.array([False] * 6 + [True, None], pa.bool_()),
        }
    )
    consumption = pa.table(
        {
            "ts": pa.array([t("2026-01-05")] * 2 + [t("2026-01-06")] * 2, pa.timestamp("us")),
            "path": pa.array([0, 1, 0, 1], pa.int32()),
            "tokens": [1.0, 2.0, 3.0, 4.0],
        }
    )
    return {Kind.SPOT: spot, Kind.FUTURES: futures, Kind.CONSUMPTION: consumption}


def test_timeline_events_days_and_structural_flags() -> None:
    market = TableMarket(TPI_MONTH, _tables())
    assert isinstance(market, MarketSource)
    assert market.bar_seconds == {Kind.SPOT: 43_200, Kind.FUTURES: 28_800, Kind.CONSUMPTION: 86_400}
    expected = ["2026-01-05T08", "2026-01-05T12", "2026-01-05T16", "2026-01-06T00"]
    expected += ["2026-01-06T12", "2026-01-07T00"]
    assert market.events.tolist() == [t(e).item() for e in expected]
    (block,) = market.market_blocks()
    assert block.start == 0
    assert_identical(block.events, market.events)
    # an event at midnight describes the day before
    assert block.day.astype(str).tolist() == ["2026-01-05"] * 4 + ["2026-01-06"] * 2
    # the last spot bar starting on 5 Jan (12:00) is known at 6 Jan 00:00
    assert block.day_close.tolist() == [False, False, False, True, False, True]
    # the last futures bar of 5 Jan starts at 16:00 and is known at midnight
    assert block.settlement.tolist() == [False, False, False, True, False, False]
    nat = np.datetime64("NaT", "us")
    starts = [t("2026-01-05T00"), nat, t("2026-01-05T08"), t("2026-01-05T16"), nat, nat]
    np.testing.assert_array_equal(block.futures_start, np.array(starts, "datetime64[us]"))


def test_values_land_at_their_event_with_nan_where_no_bar() -> None:
    (block,) = TableMarket(TPI_MONTH, _tables()).market_blocks()
    nan = np.nan
    # spot bar i (close 10 i + p + 1) is known at event 1, 3, 4, 5
    expected_close = [[nan, nan], [1, 2], [nan, nan], [11, nan], [21, 22], [31, 32]]
    np.testing.assert_array_equal(block.spot["close"], expected_close)
    np.testing.assert_array_equal(block.spot["high"][1], [1.5, 2.5])
    assert block.spot.keys() == {"open", "high", "low", "close"}
    np.testing.assert_array_equal(
        block.consumption["tokens"], [[nan, nan]] * 3 + [[1, 2], [nan, nan], [3, 4]]
    )
    assert np.isnan(block.consumption["plan"]).all()  # plan column absent
    assert block.contracts == (FEB, MAR)  # delivery order, not first-seen order
    settle = block.futures["settle"]
    assert settle.shape == (6, 2, 2)
    np.testing.assert_array_equal(settle[0], [[nan, 0], [nan, 1]])
    np.testing.assert_array_equal(settle[2], [[nan, 100], [nan, 101]])
    np.testing.assert_array_equal(settle[3], [[250, 200], [251, 201]])
    assert np.isnan(settle[[1, 4, 5]]).all()
    assert block.locked[3].tolist() == [[True, False], [False, False]]  # null -> False
    assert block.locked.sum() == 1


def test_blocks_hold_only_their_contracts_and_sizes_do_not_change_content() -> None:
    tables = _tables()
    one = TableMarket(TPI_MONTH, tables, block_events=1)
    assert one.bounds.tolist() == [0, 1, 2, 3, 4, 5, 6]
    blocks = list(one.market_blocks())
    assert [b.contracts for b in blocks] == [(MAR,), (), (MAR,), (FEB, MAR), (), ()]
    assert blocks[1].futures["open"].shape == (1, 2, 0)
    assert blocks[1].locked.shape == (1, 2, 0)
    assert [b.start for b in blocks] == list(range(6))
    whole = market_arrays(TableMarket(TPI_MONTH, tables))
    for size in (1, 2, 4):
        parts = market_arrays(TableMarket(TPI_MONTH, tables, block_events=size))
        assert parts.keys() == whole.keys()
        for key, arr in whole.items():
            assert_identical(parts[key], arr, key)


def test_row_order_and_dictionary_contracts_do_not_matter() -> None:
    tables = _tables()
    rng = np.random.default_rng(0)
    shuffled = {k: v.take(pa.array(rng.permutation(v.num_rows))) for k, v in tables.items()}
    fut = shuffled[Kind.FUTURES]
    encoded = fut.set_column(
        fut.schema.get_field_index("contract"), "contract", fut["contract"].dictionary_encode()
    )
    shuffled[Kind.FUTURES] = encoded
    for a, b in zip(
        TableMarket(TPI_MONTH, tables, block_events=2).market_blocks(),
        TableMarket(TPI_MONTH, shuffled, block_events=2).market_blocks(),
        strict=True,
    ):
        assert_same_blocks(a, b)


def test_contracts_sort_by_delivery_then_tenor() -> None:
    spec = TPI_MONTH.model_copy(update={"listing": ListingRule(months=12, quarters=4, years=1)})
    codes = ["TPI-2026-CAL", "TPI-2026-04", "TPI-2026-Q1", "TPI-2026-01", "TPI-2026-Q1"]
    assert delivery_order(spec, codes) == (
        "TPI-2026-01",
        "TPI-2026-Q1",
        "TPI-2026-CAL",
        "TPI-2026-04",
    )
    n = len(codes)
    futures = pa.table(
        {
            "ts": pa.array([t("2026-01-05")] * n, pa.timestamp("us")),
            "path": pa.array([0, 0, 0, 0, 1], pa.int32()),
            "contract": codes,
            **{f: [float(i) for i in range(n)] for f in ("open", "high", "low", "close")},
            "settle": [float(i) for i in range(n)],
        }
    )
    market = TableMarket(spec, {Kind.FUTURES: futures})
    assert market.contracts == ("TPI-2026-01", "TPI-2026-Q1", "TPI-2026-CAL", "TPI-2026-04")
    (block,) = market.market_blocks()
    np.testing.assert_array_equal(
        block.futures["settle"][0], [[3, 2, 0, 1], [np.nan, 4, np.nan, np.nan]]
    )
    assert not block.locked.any()  # no limit_locked column
    assert np.isnan(block.spot["close"]).all()  # no spot kind: NaN, same shapes
    assert block.spot["close"].shape == (1, 2)
    assert not block.day_close.any()
    assert block.settlement.tolist() == [True]


def test_block_from_tables_refuses_rows_outside_the_block() -> None:
    tables = _tables()
    market = TableMarket(TPI_MONTH, tables)
    spot = {Kind.SPOT: tables[Kind.SPOT]}

    def convert(hi: int, path_ids: np.ndarray) -> MarketBlock:
        return block_from_tables(
            TPI_MONTH,
            spot,
            market.timeline,
            0,
            hi,
            path_ids=path_ids,
            bar_seconds=market.bar_seconds,
        )

    with pytest.raises(DataError, match="not an event of the block"):
        convert(2, market.path_ids)
    with pytest.raises(DataError, match="not selected"):
        convert(6, np.array([0]))
    ok = convert(6, market.path_ids)
    assert ok.contracts == ()
    assert ok.futures["settle"].shape == (6, 2, 0)
    assert_identical(ok.spot["close"], next(market.market_blocks()).spot["close"])


def test_timeline_from_bar_starts() -> None:
    starts = {
        Kind.SPOT: np.array([t("2026-01-06"), t("2026-01-05"), t("2026-01-05")]),
        Kind.FUTURES: np.array([t("2026-01-05")]),
    }
    tl = Timeline.build(starts, {Kind.SPOT: 86_400, Kind.FUTURES: 86_400})
    assert tl.events.tolist() == [t("2026-01-06").item(), t("2026-01-07").item()]
    assert tl.day_close.tolist() == [True, True]
    assert tl.settlement.tolist() == [True, False]
    assert len(tl) == 2
    empty = Timeline.build({}, {})
    assert len(empty) == 0
    assert list(TableMarket(TPI_MONTH, {}).market_blocks()) == []


def test_bar_seconds_given_or_inferred() -> None:
    assert infer_bar_seconds(np.array([t("2026-01-05")])) == 86_400
    ts = np.array([t("2026-01-05T00"), t("2026-01-05T03"), t("2026-01-05T01"), t("2026-01-05T03")])
    assert infer_bar_seconds(ts) == 3_600
    with pytest.raises(DataError, match="whole seconds"):
        infer_bar_seconds(np.array([t("2026-01-05"), t("2026-01-05") + np.timedelta64(5, "us")]))
    tables = _tables()
    # read the 12-hour spot bars as daily: each is known a day after it starts
    market = TableMarket(TPI_MONTH, {Kind.SPOT: tables[Kind.SPOT]}, bar_seconds={Kind.SPOT: 86_400})
    assert market.events[0] == t("2026-01-06T00")
    assert market.events[-1] == t("2026-01-07T12")


def test_fixed_and_budget_bounds() -> None:
    assert fixed_bounds(5, 2).tolist() == [0, 2, 4, 5]
    assert fixed_bounds(0, 2).tolist() == [0]
    with pytest.raises(ValueError, match="at least 1"):
        fixed_bounds(5, 0)
    events = t("2026-01-01") + np.arange(10) * np.timedelta64(1, "D")
    first, last = events[[0, 5]], events[[4, 9]]  # contract 0 on events 0-4, contract 1 on 5-9
    assert block_bytes(1, 1) == 8 * 6 + 41
    budget = 5 * block_bytes(1, 1)  # five events with one contract; six would need two
    assert budget_bounds(events, 1, budget, first, last).tolist() == [0, 5, 10]
    assert budget_bounds(events, 1, 1, first, last).tolist() == list(range(11))
    assert budget_bounds(events, 1, 1 << 30, first, last).tolist() == [0, 10]


def test_describe_paths_and_fingerprint() -> None:
    assert describe_paths(np.array([0, 1, 2, 5, 7, 8])) == "0-2,5,7-8"
    assert describe_paths(np.array([3, 1])) == "3,1"
    assert describe_paths(np.array([], np.int64)) == "none"
    assert describe_paths(np.arange(0, 100, 2)).startswith("50 paths 0..98 sha256:")
    tables = _tables()
    fp = TableMarket(TPI_MONTH, tables).fingerprint()
    assert fp == {k.value: table_sha256(v) for k, v in tables.items()}
    spot = tables[Kind.SPOT]
    changed = spot.set_column(5, "close", pa.array(np.r_[spot["close"].to_numpy()[:-1], 99.0]))
    fp2 = TableMarket(TPI_MONTH, {**tables, Kind.SPOT: changed}).fingerprint()
    assert fp2["spot"] != fp["spot"]
    assert fp2["futures"] == fp["futures"]
