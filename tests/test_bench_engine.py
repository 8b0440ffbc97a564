"""The engine benchmark at tiny sizes: tokbt and its numba baselines agree.

``bench/engine_bench.py`` times tokbt's event loop, broker and ledger against
numba loops that do the same bookkeeping, and checks that both get the same
money. These tests run the benchmark's own functions on a few thousand bars
and a dozen simulated paths, so the benchmark (and the agreement it relies
on) cannot silently rot when the engine changes.
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
bench: Any = importlib.import_module("engine_bench")

CFG = bench.Config(
    bars=3000,
    window=60,
    exposure=100.0,
    paths=12,
    days=130,  # January to early May 2026: three final settlements
    chunk_paths=5,  # three backtests, the last one short
    scenario="baseline",
    seed=3,
)


@pytest.fixture(scope="module")
def hedge() -> dict[str, Any]:
    return {"tokbt": bench.hedge_tokbt(CFG), "numba": bench.hedge_numba(CFG)}


@pytest.fixture(scope="module")
def strip() -> dict[str, Any]:
    return {"tokbt": bench.strip_tokbt(CFG), "numba": bench.strip_numba(CFG)}


def test_hedge_agrees(hedge: dict[str, Any]) -> None:
    tokbt, numba = hedge["tokbt"], hedge["numba"]
    check = bench.check_hedge(tokbt["outcome"], numba["outcome"])
    assert check["agree"], check
    assert tokbt["events"] == CFG.bars
    # the workload does what it claims: it trades often and books daily variation margin
    assert numba["outcome"]["fills"] > CFG.bars // 10
    assert numba["outcome"]["variation_margin"] != 0.0


def test_strip_agrees(strip: dict[str, Any]) -> None:
    check = bench.check_strip(strip["tokbt"]["outcome"], strip["numba"]["outcome"])
    assert check["agree"], check
    rows = {r["quantity"]: r for r in check["rows"]}
    assert all(r["paths"] == CFG.paths for r in rows.values())
    # ... holds a strip to final settlement, with margin calls along the way
    assert rows["held"]["tokbt_mean"] == 12.0
    assert rows["final_settlement"]["paths_differing"] == 0
    assert any(v != 0.0 for v in strip["tokbt"]["outcome"]["final_settlement"])
    assert sum(strip["tokbt"]["outcome"]["margin_calls"]) > 0


def test_checks_catch_a_difference(hedge: dict[str, Any], strip: dict[str, Any]) -> None:
    moved = copy.deepcopy(hedge["numba"]["outcome"])
    moved["variation_margin"] += 0.01
    assert not bench.check_hedge(hedge["tokbt"]["outcome"], moved)["agree"]
    counted = copy.deepcopy(hedge["numba"]["outcome"])
    counted["orders"] += 1
    assert not bench.check_hedge(hedge["tokbt"]["outcome"], counted)["agree"]
    paths = copy.deepcopy(strip["numba"]["outcome"])
    paths["equity_change"][-1] += 0.01
    check = bench.check_strip(strip["tokbt"]["outcome"], paths)
    assert not check["agree"]
    differing = {r["quantity"]: r["paths_differing"] for r in check["rows"]}
    assert differing["equity_change"] == 1


def _rolling_reference(spot: Any, fut: Any, window: int, exposure: float) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "peers"))
    workload = importlib.import_module("workload")
    return workload.rolling_targets(spot, fut, window, exposure)


def _whole(x: float) -> float:
    """The broker's whole contracts (``engine_bench.whole_one``); NaN (no target) stays."""
    return x if x != x else float(bench.whole_one(x))


def test_running_sums_give_the_two_pass_windows_targets() -> None:
    """``RollingHedge``'s O(1) running sums (``MoveSums`` on one path, ``MoveSumsPaths`` on
    several) give the targets of the peers' two-pass window (``workload.rolling_targets``)
    on a long random series with missing closes and a flat stretch."""
    import numpy as np

    rng = np.random.default_rng(7)
    bars, paths, window, exposure = 6000, 3, 60, 100.0
    fut = 2.0 + np.cumsum(rng.normal(0, 0.01, (bars, paths)), axis=0)
    spot = 0.7 * fut + np.cumsum(rng.normal(0, 0.004, (bars, paths)), axis=0)
    fut[1000:1100] = fut[999]  # the futures do not move: no ratio
    spot[2000, 1] = np.nan  # a missing close: no ratio until it leaves the window
    fut[3000:3003, 2] = np.nan
    expected = _rolling_reference(spot, fut, window, exposure)
    many = bench.MoveSumsPaths(window, paths)
    got = np.full((bars, paths), np.nan)
    for i in range(1, bars):
        many.push(spot[i] - spot[i - 1], fut[i] - fut[i - 1])
        got[i] = [_whole(h * exposure) for h in many.ratio()]
    for p in range(paths):
        one = bench.MoveSums(window)
        alone = np.full(bars, np.nan)
        for i in range(1, bars):
            one.push(float(spot[i, p] - spot[i - 1, p]), float(fut[i, p] - fut[i - 1, p]))
            alone[i] = _whole(one.ratio() * exposure)
        np.testing.assert_array_equal(alone, expected[:, p])
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(expected[1080]).all()  # a window of unmoved futures: no ratio
    assert np.isfinite(expected[5000]).all()
