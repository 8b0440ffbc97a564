"""Shared fixtures: small valid bar frames and a temporary store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from tokbt.data import BarStore, MarketBlock, MarketSource

DAYS = pd.bdate_range("2026-01-05", periods=5)

# CI is repeatable (the same examples on every run); a developer's run draws new ones and
# so keeps looking for bugs (bench/fuzz_bench.py looks harder).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def spot_frame(paths: int = 2, days: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    """Valid daily spot bars: path p closes at 2 + p/10 + day/100."""
    ts = np.repeat(days, paths)
    path = np.tile(np.arange(paths), len(days))
    close = 2.0 + path / 10 + np.repeat(np.arange(len(days)), paths) / 100
    return pd.DataFrame(
        {
            "ts": ts,
            "path": path,
            "open": close,
            "high": close + 0.01,
            "low": close - 0.01,
            "close": close,
            "volume": 100.0,
        }
    )


def futures_frame(
    paths: int = 2,
    contracts: tuple[str, ...] = ("TPI-2026-03",),
    days: pd.DatetimeIndex = DAYS,
) -> pd.DataFrame:
    """Valid futures bars for every (day, path, contract), ordered by ts, path, contract."""
    idx = pd.MultiIndex.from_product(
        [days, range(paths), contracts], names=["ts", "path", "contract"]
    )
    frame = idx.to_frame(index=False)
    day_no = frame["ts"].map({d: i for i, d in enumerate(days)}).to_numpy()
    settle = np.round(2.0 + frame["path"].to_numpy() / 10 + day_no / 100, 3)
    return frame.assign(
        open=settle,
        high=settle + 0.01,
        low=settle - 0.01,
        close=settle,
        settle=settle,
        volume=10.0,
        open_interest=50.0,
    )


def consumption_frame(paths: int = 2, days: pd.DatetimeIndex = DAYS) -> pd.DataFrame:
    ts = np.repeat(days, paths)
    path = np.tile(np.arange(paths), len(days))
    return pd.DataFrame({"ts": ts, "path": path, "tokens": 1000.0 + path, "plan": 1000.0})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BarStore]:
    with BarStore(tmp_path / "store.duckdb") as s:
        yield s


def store_content(s: BarStore) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: the store's content, independent of file layout."""
    tables = [
        r[0]
        for r in s.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    return {t: sorted(s.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def market_arrays(source: MarketSource) -> dict[str, np.ndarray]:
    """Every block of a market source concatenated, futures on the source's contract axis.

    Keys: ``events``, ``day``, ``day_close``, ``futures_start``, ``settlement``,
    ``locked``, ``spot.F``, ``consumption.F``, ``futures.F``. Also checks that
    blocks follow one another and that each block's contracts are in the
    source's (delivery) order.
    """
    blocks = list(source.market_blocks())
    start = 0
    for block in blocks:
        assert block.start == start
        start += len(block)
    assert start == len(source.events)
    out: dict[str, np.ndarray] = {}
    for name in ("events", "day", "day_close", "futures_start", "settlement"):
        out[name] = np.concatenate([getattr(b, name) for b in blocks])
    for kind in ("spot", "consumption"):
        for f in getattr(blocks[0], kind):
            out[f"{kind}.{f}"] = np.concatenate([getattr(b, kind)[f] for b in blocks])
    n, n_paths, k = len(source.events), len(source.path_ids), len(source.contracts)
    fields = {f"futures.{f}": np.full((n, n_paths, k), np.nan) for f in blocks[0].futures}
    locked = np.zeros((n, n_paths, k), bool)
    for b in blocks:
        cols = [source.contracts.index(c) for c in b.contracts]
        assert cols == sorted(cols)
        rows = slice(b.start, b.start + len(b))
        for f in b.futures:
            fields[f"futures.{f}"][rows][:, :, cols] = b.futures[f]
        locked[rows][:, :, cols] = b.locked
    out.update(fields)
    out["locked"] = locked
    return out


def assert_identical(a: np.ndarray, b: np.ndarray, what: str = "") -> None:
    """Same dtype, shape and bytes (NaN payloads included)."""
    assert a.dtype == b.dtype, what
    assert a.shape == b.shape, what
    assert a.tobytes() == b.tobytes(), what


def assert_same_blocks(a: MarketBlock, b: MarketBlock) -> None:
    """Two blocks are bit-identical in every field."""
    assert a.start == b.start
    assert a.contracts == b.contracts
    for name in ("events", "day", "day_close", "futures_start", "settlement", "locked"):
        assert_identical(getattr(a, name), getattr(b, name), name)
    for kind in ("spot", "consumption", "futures"):
        assert getattr(a, kind).keys() == getattr(b, kind).keys()
        for f, arr in getattr(a, kind).items():
            assert_identical(arr, getattr(b, kind)[f], f"{kind}.{f}")


@pytest.fixture(autouse=True)
def _private_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes ./tokbt.duckdb: the default store is a fresh file per test (a test
    may still set TOKBT_STORE or pass --store)."""
    monkeypatch.setenv("TOKBT_STORE", str(tmp_path_factory.mktemp("store") / "tokbt.duckdb"))
