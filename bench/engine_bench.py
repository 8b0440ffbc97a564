"""Benchmark: tokbt's event loop, broker and ledger against a numba loop doing the same bookkeeping.

Not a test: nothing here asserts on time. Shared machines are noisy, so every
number is reported as a ratio to a baseline measured in the same run. Two
workloads, each with its own baseline:

* **hedge** — one path, ``--bars`` one-minute bars (default 1,000,000: about
  694 days, around the clock), one spot and one futures series (seeded
  correlated log random walks, futures on the tick). A rolling
  minimum-variance hedge: at every bar ``h = Cov(ΔS, ΔF) / Var(ΔF)`` over the
  last ``--window`` bars, target ``round(h × exposure)`` contracts, an order
  only when the target changes, filled at the bar's close; daily variation
  margin at the last bar of each day, initial margin topped up after fills,
  margin calls. The futures are one long-dated month contract of a custom
  product (``multiplier = 1``, tick 0.0001, no price limit, a 24/7 calendar,
  enough months listed that the contract trades from the first bar to the
  last), so the workload is exactly "one spot and one futures series".

  - ``hedge_tokbt``: ``tokbt.backtest`` over a ``TableMarket`` of the two
    series, ``BrokerConfig(fill="close", liquidity=None)``, journal totals
    only. Seconds are the ``backtest`` call; building the Arrow tables and the
    ``TableMarket`` are timed apart. The time the market spends cutting blocks
    during the run is part of the seconds, and printed too.
  - ``hedge_numba``: one ``@njit`` loop over the same arrays: the same
    rolling estimate, order rule, fills at the close, top-ups, daily
    variation margin and margin calls (compiled before the timer starts).

* **strip** — ``--paths`` × ``--days`` simulated paths of the ``baseline``
  scenario (12 listed monthly contracts, weekday exchange days), replayed in
  chunks of ``--chunk-paths``. The strategy holds a strip: it buys one
  contract of every month contract when it first appears in the chain (all 12
  at the first bar, then each new listing) and holds it to final settlement.
  That exercises variation margin on the ~12 live contracts every exchange
  day, initial-margin top-ups, margin calls and a final settlement every
  month, plus the scenario's daily consumption. (An order on a limit-locked
  bar would wait for an unlocked one; no contract is locked on its first day.)

  - ``strip_tokbt``: per chunk, ``simulate_paths`` (timed apart), then
    ``tokbt.backtest(SimMarket(plan, chunk), ...)`` with journal totals only.
  - ``strip_numba``: per chunk, the same ``simulate_paths``, then one
    ``@njit`` loop over ``chunk.settle``, ``chunk.locked``, ``plan.listed``,
    ``chunk.index`` and the consumption: the same fills, top-ups, variation
    margin, margin calls, final settlement at the average index, and
    consumption spend.

  After each chunk both strip jobs run ``gc.collect()`` (timed apart): a
  finished ``Engine`` is held in reference cycles (through its ``Context`` and
  its ``History``'s roll-date callback) and is freed only by the collector;
  without it (``--no-gc``) memory grows by about 1 GB per 1,000-path chunk.

Correctness checks (printed; the script exits with status 1 if one fails):
the hedge's final P&L (variation margin), equity change, number of orders,
final position and margin calls agree; for every path of the strip, the equity change, futures P&L,
variation margin, final settlements, consumption, margin calls and contracts
held at the end agree.

Each job runs in a fresh subprocess (``engine_bench.py --job NAME``); its peak
RSS is ``VmHWM`` of that process. Jobs import numpy, pyarrow, numba and tokbt
before their timers start.

Run ``python bench/engine_bench.py --help``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import importlib
import io
import math
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import common

if TYPE_CHECKING:  # imported where used, so the parent process stays light
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from tokbt.data import MarketBlock, MarketSource
    from tokbt.engine import Context
    from tokbt.market import ContractSpec
    from tokbt.runs import Result, RunSettings
    from tokbt.sim import SimChunk, SimPlan

    FloatArray = npt.NDArray[np.float64]

HEDGE_BASELINE, HEDGE_TOKBT = "hedge_numba", "hedge_tokbt"
STRIP_BASELINE, STRIP_TOKBT = "strip_numba", "strip_tokbt"
HEDGE_COMPILED, STRIP_COMPILED = "hedge_compiled", "strip_compiled"
JOBS = (
    HEDGE_BASELINE,
    HEDGE_TOKBT,
    HEDGE_COMPILED,
    STRIP_BASELINE,
    STRIP_TOKBT,
    STRIP_COMPILED,
)
"""The benchmarked jobs, in the order they run (and are printed)."""
WORKLOADS = {
    "hedge": (HEDGE_BASELINE, HEDGE_TOKBT, HEDGE_COMPILED),
    "strip": (STRIP_BASELINE, STRIP_TOKBT, STRIP_COMPILED),
}
"""Each workload's jobs: its numba baseline first, then tokbt's Python and compiled engines."""
PROFILE_JOB = "profile"
PROFILE_TOP = 25
"""Functions listed per workload by ``--profile``."""

START = dt.date(2026, 1, 1)
"""First bar of the hedge workload."""
BAR_SECONDS = 60
MINUTES_PER_DAY = 1440
SPOT0, FUT0 = 2.0, 2.05
"""Starting spot and futures prices of the hedge series."""
VOL_PER_BAR, RHO = 4e-4, 0.9
"""Log volatility per one-minute bar and the correlation of the two series' moves."""
HEDGE_TICK = 1e-4
STRIP_QTY = 1.0
"""Contracts bought of each month of the strip."""
AGREE_RTOL, AGREE_ATOL = 1e-9, 1e-6
"""Money amounts agree within ``atol + rtol × |amount|`` (the two sum in different orders)."""

QUICK = {"bars": 20_000, "paths": 200, "days": 365, "chunk_paths": 100}
FULL = {"bars": 1_000_000, "paths": 10_000, "days": 1095, "chunk_paths": 1000}


@dataclass(frozen=True)
class Config:
    """What the jobs run (the same in every child)."""

    bars: int
    window: int
    exposure: float
    paths: int
    days: int
    chunk_paths: int
    scenario: str
    seed: int
    collect: bool = True
    """Run the garbage collector after each chunk's backtest (see ``strip_tokbt``)."""
    outputs: str = "default"
    """What tokbt's jobs keep (``OUTPUTS``): ``default`` or ``lean``."""


# -- shared pieces --------------------------------------------------------------------------


class TimedSource:
    """A ``MarketSource`` that hands out another's blocks and times how long they take.

    ``block_seconds`` is the time spent inside the inner ``market_blocks``
    (cutting or scattering each block), ``fingerprint_seconds`` the time of
    ``fingerprint``; the engine's own time is the rest of the run.
    """

    def __init__(self, inner: MarketSource) -> None:
        self.inner = inner
        self.name = inner.name
        self.spec = inner.spec
        self.path_ids = inner.path_ids
        self.contracts = inner.contracts
        self.events = inner.events
        self.block_seconds = 0.0
        self.fingerprint_seconds = 0.0
        self.blocks = 0

    def market_blocks(self) -> Iterator[MarketBlock]:
        blocks = self.inner.market_blocks()
        while True:
            t0 = time.perf_counter()
            block = next(blocks, None)
            self.block_seconds += time.perf_counter() - t0
            if block is None:
                return
            self.blocks += 1
            yield block

    def consumption_plan(self) -> tuple[np.ndarray, np.ndarray]:
        plan: Callable[[], tuple[np.ndarray, np.ndarray]] = self.inner.consumption_plan  # type: ignore[attr-defined]
        return plan()

    def fingerprint(self) -> dict[str, str]:
        t0 = time.perf_counter()
        out = self.inner.fingerprint()
        self.fingerprint_seconds += time.perf_counter() - t0
        return out


OUTPUTS = {
    "default": {},
    "lean": {"positions": False, "metrics": None},
}
"""``--outputs``: what tokbt's jobs keep besides per-path journal totals. ``default`` keeps
the daily position log and measures the default metric set, as a user's run does;
``lean`` keeps neither, so the engines' own bookkeeping is what is timed."""


def run_settings(outputs: str = "default") -> RunSettings:
    """Fills at the bar's close, no spread or fees, per-path journal totals only, and the
    position log and metrics of ``OUTPUTS[outputs]``."""
    from tokbt.engine import BrokerConfig
    from tokbt.runs import RunSettings

    broker = BrokerConfig(fill="close", liquidity=None, fee_per_contract=0.0)
    return RunSettings(broker=broker, journal="totals", **OUTPUTS[outputs])


def _timed(work: Callable[[], dict[str, Any]], start_rss: float) -> dict[str, Any]:
    """Run ``work``; add the RSS before it and the peak after it."""
    result = work()
    result["start_rss_mb"] = start_rss
    result["peak_rss_mb"] = common.peak_rss_mb()
    return result


# -- the hedge workload: data ------------------------------------------------------------------


def hedge_spec(bars: int) -> tuple[ContractSpec, str]:
    """The product and the contract code of the hedge: one month contract trading from
    the first bar to the last (``multiplier = 1``, tick 0.0001, no limit, 24/7)."""
    from tokbt.market import ContractSpec, ExchangeCalendar, ListingRule

    days = -(-bars // MINUTES_PER_DAY)
    months = days // 28 + 2
    if months > 60:
        raise ValueError(f"--bars {bars}: more than 60 months of one-minute bars")
    spec = ContractSpec(
        multiplier=1.0,
        contract_unit="1 x 1M SIT tokens",
        tick_size=HEDGE_TICK,
        price_limit=None,
        calendar=ExchangeCalendar(kind="always"),
        listing=ListingRule(months=months),
    )
    contract = spec.contracts_live(START)[-1]
    last_day = START + dt.timedelta(days=days)
    assert contract.listing_date <= START, contract
    assert contract.last_trading_day > last_day, contract
    return spec, contract.code


@dataclass(frozen=True)
class HedgeSeries:
    """The hedge's bars: start times, spot and futures closes (one path)."""

    ts: np.ndarray
    spot: FloatArray
    futures: FloatArray


def hedge_series(cfg: Config) -> HedgeSeries:
    """Correlated log random walks from a seeded generator; futures rounded to the tick."""
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    z = rng.standard_normal((2, cfg.bars))
    log_s = math.log(SPOT0) + np.cumsum(VOL_PER_BAR * z[0])
    moves = RHO * z[0] + math.sqrt(1.0 - RHO**2) * z[1]
    log_f = math.log(FUT0) + np.cumsum(VOL_PER_BAR * moves)
    start = np.datetime64(START, "us")
    ts = start + np.arange(cfg.bars) * np.timedelta64(BAR_SECONDS * 1_000_000, "us")
    futures = np.asarray(np.round(np.exp(log_f), 4), dtype=np.float64)
    return HedgeSeries(ts, np.exp(log_s), futures)


def hedge_tables(series: HedgeSeries, code: str) -> dict[Any, pa.Table]:
    """Spot and futures bars as tokbt's long Arrow tables (one path, OHLC from the closes)."""
    import numpy as np
    import pyarrow as pa

    from tokbt.data import Kind

    n = len(series.ts)
    ts = pa.array(series.ts, pa.timestamp("us"))
    path = pa.array(np.zeros(n, np.int64))

    contract = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int32)), pa.array([code], pa.string())
    )
    futures = {
        "ts": ts,
        "path": path,
        "contract": contract,
        **common.bars_from_closes(series.futures),
    }
    futures["settle"] = futures["close"]
    return {
        Kind.SPOT: pa.table({"ts": ts, "path": path, **common.bars_from_closes(series.spot)}),
        Kind.FUTURES: pa.table(futures),
    }


def whole(x: FloatArray) -> FloatArray:
    """Round to whole contracts, halves away from zero (as the broker does)."""
    import numpy as np

    return np.asarray(np.sign(x) * np.floor(np.abs(x) + 0.5))


def whole_one(x: float) -> float:
    """``whole`` of one number."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


class MoveSums:
    """``Σx, Σy, Σxy, Σy²`` over the last ``window`` pairs of moves of one path, in O(1)
    per move: the move leaving the window is subtracted, the new one added.

    Every ``window`` moves the sums are recomputed exactly (``math.fsum``) from the
    moves held, so the rounding of the running updates cannot drift over a long
    series. A move that is not finite (no bar at an event, the first bar) counts as 0
    in the sums and makes ``ready`` false until it has left the window.
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self.xs = [0.0] * window
        self.ys = [0.0] * window
        self.at = 0
        self.sx = self.sy = self.sxy = self.syy = 0.0
        self.stale = window
        """Moves still to come before the window holds only finite ones."""
        self.moving = 0
        """Moves of ``y`` in the window that are not 0 (none: ``y`` did not move, whatever
        rounding residue the running ``Σy²`` keeps)."""

    def push(self, x: float, y: float) -> None:
        """Add the move ``(x, y)``; the oldest leaves the window."""
        if math.isfinite(x) and math.isfinite(y):
            self.stale = max(self.stale - 1, 0)
        else:
            x = y = 0.0
            self.stale = self.window
        i = self.at
        ox, oy = self.xs[i], self.ys[i]
        self.xs[i], self.ys[i] = x, y
        self.moving += (y != 0.0) - (oy != 0.0)
        self.sx += x - ox
        self.sy += y - oy
        self.sxy += x * y - ox * oy
        self.syy += y * y - oy * oy
        self.at = i + 1
        if self.at == self.window:
            self.at = 0
            self.resum()

    def resum(self) -> None:
        """Recompute the sums exactly from the moves held."""
        xs, ys = self.xs, self.ys
        self.sx, self.sy = math.fsum(xs), math.fsum(ys)
        self.sxy = math.fsum([a * b for a, b in zip(xs, ys, strict=True)])
        self.syy = math.fsum([b * b for b in ys])

    def ratio(self) -> float:
        """``Cov(x, y) / Var(y)`` over the window (``Σxy − ΣxΣy/w`` over ``Σy² − (Σy)²/w``);
        NaN until the window is full of finite moves, or where ``y`` did not move."""
        var = self.syy - self.sy * self.sy / self.window
        if self.stale or not self.moving or not var > 0.0:
            return math.nan
        return (self.sxy - self.sx * self.sy / self.window) / var


class MoveSumsPaths:
    """``MoveSums`` over ``n`` paths at once (numpy arrays over paths; the sums are
    recomputed every ``window`` moves with numpy's sums)."""

    def __init__(self, window: int, n: int) -> None:
        import numpy as np

        self.window = window
        self.xs = np.zeros((window, n))
        self.ys = np.zeros((window, n))
        self.at = 0
        self.sx, self.sy, self.sxy, self.syy = np.zeros((4, n))
        self.fresh = np.zeros(n, np.int64)
        """Finite moves in a row per path."""
        self.moving = np.zeros(n, np.int64)
        """Moves of ``y`` in the window that are not 0, per path (``MoveSums.moving``)."""

    def push(self, x: FloatArray, y: FloatArray) -> None:
        """Add the moves ``(x, y)`` of every path; the oldest leave the window."""
        import numpy as np

        ok = np.isfinite(x) & np.isfinite(y)
        x, y = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
        self.fresh = np.where(ok, self.fresh + 1, 0)
        i = self.at
        ox, oy = self.xs[i].copy(), self.ys[i].copy()
        self.xs[i], self.ys[i] = x, y
        self.moving += (y != 0.0).astype(np.int64) - (oy != 0.0)
        self.sx += x - ox
        self.sy += y - oy
        self.sxy += x * y - ox * oy
        self.syy += y * y - oy * oy
        self.at = (i + 1) % self.window
        if self.at == 0:
            self.sx, self.sy = self.xs.sum(axis=0), self.ys.sum(axis=0)
            self.sxy, self.syy = (self.xs * self.ys).sum(axis=0), (self.ys * self.ys).sum(axis=0)

    def ratio(self) -> FloatArray:
        """``MoveSums.ratio`` per path."""
        import numpy as np

        w = self.window
        var = self.syy - self.sy * self.sy / w
        ok = (self.fresh >= w) & (self.moving > 0) & (var > 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok, (self.sxy - self.sx * self.sy / w) / var, np.nan)


class RollingHedge:
    """Minimum-variance hedge of ``exposure`` units of spot with ``contract``.

    At every bar, ``h = Cov(ΔS, ΔF) / Var(ΔF)`` over the last ``window`` bar
    moves (ΔS, ΔF: the close minus the previous event's close) and the target is
    ``round(h × exposure)`` contracts; an order only when the target changes.
    ``h`` comes from running sums (``MoveSums``: O(1) per bar, not O(window)) —
    on one path as Python floats, on several as arrays over paths
    (``MoveSumsPaths``). While the window is not full of moves, or the futures did
    not move in it, the book is kept. ``stats`` (a dict the caller keeps) counts
    the target changes (bars where any path's target changed).
    """

    def __init__(
        self, contract: str, window: int, exposure: float, stats: dict[str, int] | None = None
    ) -> None:
        self.contract, self.window, self.exposure = contract, window, exposure
        self.stats = stats if stats is not None else {}
        self.stats["orders"] = 0
        self.one = MoveSums(window)
        self.many: MoveSumsPaths | None = None
        """The sums over paths, when there are several (``on_start``)."""
        self.prev: tuple[Any, Any] = (math.nan, math.nan)
        """The previous event's closes, spot and futures."""
        self.last: Any = math.nan
        """The target last ordered (NaN before the first)."""

    def on_start(self, ctx: Context) -> None:
        """Arrays over paths when there are several."""
        n = ctx.n_paths
        if n > 1:
            import numpy as np

            self.many = MoveSumsPaths(self.window, n)
            self.prev = (np.full(n, np.nan), np.full(n, np.nan))
            self.last = np.full(n, np.nan)

    def on_bar(self, ctx: Context) -> None:
        spot = ctx.spot("close")
        fut = ctx.futures(self.contract, "close")
        if self.many is None:
            self._one(spot.item(), fut.item(), ctx)
        else:
            self._many(self.many, spot, fut, ctx)

    def _one(self, s: float, f: float, ctx: Context) -> None:
        """One path, in Python floats."""
        prev_s, prev_f = self.prev
        self.prev = (s, f)
        sums = self.one
        sums.push(s - prev_s, f - prev_f)
        h = sums.ratio()
        if h != h:  # NaN: keep the book
            return
        target = whole_one(h * self.exposure)
        if target != self.last:
            ctx.target(self.contract, target)
            self.last = target
            self.stats["orders"] += 1

    def _many(self, sums: MoveSumsPaths, s: FloatArray, f: FloatArray, ctx: Context) -> None:
        """Every path at once, in arrays."""
        import numpy as np

        prev_s, prev_f = self.prev
        self.prev = (np.array(s), np.array(f))
        sums.push(s - prev_s, f - prev_f)
        h = sums.ratio()
        if np.isnan(h).any():  # a path's window is not full, or flat: keep the book
            return
        target = whole(h * self.exposure)
        if (target != self.last).any():
            ctx.target(self.contract, target)
            self.last = target
            self.stats["orders"] += 1


def settlement_flags(ts: np.ndarray) -> np.ndarray:
    """The bars that end an exchange day: the last bar starting on each calendar day."""
    import numpy as np

    day = ts.astype("datetime64[D]")
    return np.asarray(np.r_[day[1:] != day[:-1], True])


# -- the hedge workload: the numba baseline ----------------------------------------------------


def _hedge_kernel() -> Callable[..., Any]:
    import numpy as np
    from numba import njit

    @njit(cache=False)
    def hedge_loop(
        spot: np.ndarray,
        fut: np.ndarray,
        settles: np.ndarray,
        window: int,
        exposure: float,
        mult: float,
        im_rate: float,
        mm_ratio: float,
        tick: float,
        scale: float,
    ) -> tuple[float, float, float, float, int, int, int]:
        """Rolling hedge with fills at the close, top-ups, daily VM and margin calls.

        Returns ``(variation margin, operating, margin, position, orders, fills, calls)``.
        """
        n = spot.shape[0]
        pos, mark, accrued = 0.0, np.nan, 0.0
        operating, margin, vm_total = 0.0, 0.0, 0.0
        last = np.nan
        orders = fills = calls = 0
        for i in range(n):
            if i >= window:
                ms = 0.0
                mf = 0.0
                for j in range(i - window + 1, i + 1):
                    ms += spot[j] - spot[j - 1]
                    mf += fut[j] - fut[j - 1]
                ms /= window
                mf /= window
                cov = 0.0
                var = 0.0
                for j in range(i - window + 1, i + 1):
                    a = spot[j] - spot[j - 1] - ms
                    b = fut[j] - fut[j - 1] - mf
                    cov += a * b
                    var += b * b
                if var > 0.0:
                    x = cov / var * exposure
                    target = np.sign(x) * np.floor(np.abs(x) + 0.5)
                    if target != last:  # also when last is NaN (no order yet)
                        last = target
                        orders += 1
                        qty = target - pos
                        if qty != 0.0:  # fill at the close, rounded to the tick against us
                            units = fut[i] / tick
                            k = np.ceil(units - 1e-9) if qty > 0 else np.floor(units + 1e-9)
                            price = np.rint(k * tick * scale) / scale
                            if np.isnan(mark):
                                mark = price
                            accrued += qty * mult * (mark - price)
                            pos += qty
                            fills += 1
                        im = im_rate * (abs(pos) * mult * mark if pos != 0.0 else 0.0)
                        wanted = im - margin
                        if wanted > 1e-9:
                            operating -= wanted
                            margin += wanted
            if settles[i]:
                move = fut[i] - mark if pos != 0.0 else 0.0
                vm = pos * mult * move + accrued
                margin += vm
                vm_total += vm
                mark = fut[i]
                accrued = 0.0
                im = im_rate * (abs(pos) * mult * mark if pos != 0.0 else 0.0)
                if margin < im / mm_ratio - 1e-9:
                    amount = im - margin
                    operating -= amount
                    margin += amount
                    calls += 1
        return vm_total, operating, margin, pos, orders, fills, calls

    return hedge_loop


def compile_hedge_kernel() -> tuple[Callable[..., Any], float]:
    """The hedge kernel, compiled on a short series; and the compile seconds."""
    import numpy as np

    t0 = time.perf_counter()
    kernel = _hedge_kernel()
    x = np.linspace(1.0, 2.0, 8)
    kernel(x, x.copy(), np.ones(8, np.bool_), 3, 1.0, 1.0, 0.1, 1.1, 1e-4, 1e4)
    return kernel, time.perf_counter() - t0


def hedge_numba(cfg: Config) -> dict[str, Any]:
    """The ``hedge_numba`` job: the series built (not timed), then the kernel over them."""
    import numpy as np

    start_rss = common.peak_rss_mb()
    spec, _code = hedge_spec(cfg.bars)
    series = hedge_series(cfg)
    kernel, compile_s = compile_hedge_kernel()

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        settles = settlement_flags(series.ts)
        vm, operating, margin, pos, orders, fills, calls = kernel(
            np.ascontiguousarray(series.spot),
            np.ascontiguousarray(series.futures),
            settles,
            cfg.window,
            cfg.exposure,
            spec.multiplier,
            spec.initial_margin,
            spec.maintenance_ratio,
            spec.tick_size,
            10.0**4,
        )
        seconds = time.perf_counter() - t0
        outcome = {
            "variation_margin": vm,
            "equity_change": operating + margin,
            "margin": margin,
            "position": pos,
            "orders": orders,
            "fills": fills,
            "margin_calls": calls,
        }
        return {"seconds": seconds, "compile_seconds": compile_s, "outcome": outcome}

    return _timed(work, start_rss)


# -- the hedge workload: tokbt -----------------------------------------------------------------


def hedge_tokbt(cfg: Config, *, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """The ``hedge_tokbt`` job: tables and ``TableMarket`` (timed apart), then ``backtest``."""
    stats: dict[str, int] = {}

    def strategy(code: str) -> tuple[Any, dict[str, Any]]:
        params = {"contract": code, "window": cfg.window, "exposure": cfg.exposure}
        return RollingHedge, {**params, "stats": stats}

    return _hedge_job(cfg, strategy, run_settings(cfg.outputs), lambda: stats["orders"], profile)


def compiled_hedge_strategy() -> Any:
    """``strategies/min_variance_kernel``'s ``MinVarianceKernel`` (the same rolling hedge as
    a numba decision kernel), keeping its final order count in ``orders``."""
    from strategies.min_variance_kernel import ORDERS, MinVarianceKernel

    class CountingMinVariance(MinVarianceKernel):
        """``MinVarianceKernel`` that records the orders its kernel counted."""

        orders: ClassVar[list[int]] = []

        def finish(self, state: FloatArray) -> None:
            CountingMinVariance.orders.append(int(state[ORDERS]))

    return CountingMinVariance


def compile_compiled(strategy: Any) -> float:
    """Seconds to compile (or load from numba's cache) the compiled engine's loop and
    ``strategy``'s kernel, before any timer starts."""
    t0 = time.perf_counter()
    import tokbt.engine.kernels  # noqa: F401  (the loop is compiled or loaded on import)
    from tokbt.engine.compiled import compiled_kernel

    compiled_kernel(strategy, strategy.decision_kernel())
    return time.perf_counter() - t0


WARM_BARS = 200
"""Bars of the untimed first run of a compiled hedge job (the peer suite gives vectorbt an
untimed first call on 120 bars)."""


def warm_compiled(strategy: Any, params: dict[str, Any], settings: RunSettings) -> float:
    """Seconds of one untimed backtest of ``strategy`` on the first ``WARM_BARS`` bars of
    the hedge (one path): every numba function a run calls — the journal's, the metrics',
    the core's — is then compiled or loaded from numba's cache before a timer starts, as
    ``compile_compiled`` does for the loop and the kernel."""
    from tokbt.data import Kind, TableMarket
    from tokbt.runs import backtest

    t0 = time.perf_counter()
    cfg = Config(
        bars=WARM_BARS, window=60, exposure=100.0, paths=1, days=1, chunk_paths=1,
        scenario="baseline", seed=0,
    )  # fmt: skip
    spec, code = hedge_spec(WARM_BARS)
    bar_seconds = {Kind.SPOT: BAR_SECONDS, Kind.FUTURES: BAR_SECONDS}
    market = TableMarket(spec, hedge_tables(hedge_series(cfg), code), bar_seconds=bar_seconds)
    window = min(int(params.get("window", 60)), WARM_BARS // 2)
    backtest(market, strategy, params={**params, "contract": code, "window": window},
             config=settings)  # fmt: skip
    return time.perf_counter() - t0


def hedge_compiled(cfg: Config, *, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """The ``hedge_compiled`` job: ``hedge_tokbt`` with the hedge as a kernel strategy
    (``MinVarianceKernel``) on the compiled engine; numba compile time (and the untimed
    first run, ``warm_compiled``) timed apart."""
    cls = compiled_hedge_strategy()
    settings = run_settings(cfg.outputs).model_copy(update={"runner": "compiled"})

    def strategy(code: str) -> tuple[Any, dict[str, Any]]:
        return cls, {"contract": code, "window": cfg.window, "exposure": cfg.exposure}

    compile_seconds = compile_compiled(cls(window=cfg.window))
    compile_seconds += warm_compiled(cls, {"exposure": cfg.exposure}, settings)
    result = _hedge_job(cfg, strategy, settings, lambda: cls.orders[-1], profile)
    result["compile_seconds"] = compile_seconds
    return result


def _hedge_job(
    cfg: Config,
    strategy: Callable[[str], tuple[Any, dict[str, Any]]],
    settings: RunSettings,
    orders: Callable[[], int],
    profile: cProfile.Profile | None,
) -> dict[str, Any]:
    """Tables and ``TableMarket`` (timed apart), then ``backtest`` of ``strategy(code)``
    (a class and its parameters) with ``settings``; ``orders()`` counts its orders."""
    import numpy as np

    from tokbt.data import Kind, TableMarket
    from tokbt.runs import backtest

    start_rss = common.peak_rss_mb()
    spec, code = hedge_spec(cfg.bars)
    series = hedge_series(cfg)

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        tables = hedge_tables(series, code)
        t1 = time.perf_counter()
        bar_seconds = {Kind.SPOT: BAR_SECONDS, Kind.FUTURES: BAR_SECONDS}
        market = TableMarket(spec, tables, name="hedge", bar_seconds=bar_seconds)
        t2 = time.perf_counter()
        source = TimedSource(market)
        cls, params = strategy(code)
        if profile is not None:
            profile.enable()
        result = backtest(source, cls, params=params, config=settings)
        if profile is not None:
            profile.disable()
        t3 = time.perf_counter()
        paths = result.paths.to_pydict()
        outcome = {
            "variation_margin": paths["variation_margin"][0],
            "equity_change": paths["equity_change"][0],
            "position": float(np.asarray(result.final_positions).sum()),
            "orders": orders(),
            "margin_calls": paths["margin_calls"][0],
        }
        return {
            "seconds": t3 - t2,
            "tables_seconds": t1 - t0,
            "market_seconds": t2 - t1,
            "block_seconds": source.block_seconds,
            "fingerprint_seconds": source.fingerprint_seconds,
            "blocks": source.blocks,
            "events": len(market.events),
            "outcome": outcome,
        }

    return _timed(work, start_rss)


def check_hedge(tokbt: dict[str, Any], numba: dict[str, Any]) -> dict[str, Any]:
    """Do the two hedges agree? Money within rounding, counts exactly.

    The fill count is not in tokbt's totals; the final position and the
    variation margin, which every fill moves, stand for it.
    """
    money = ("variation_margin", "equity_change")
    counts = ("position", "orders", "margin_calls")
    diffs = {k: abs(tokbt[k] - numba[k]) for k in money}
    ok_money = all(diffs[k] <= AGREE_ATOL + AGREE_RTOL * abs(numba[k]) for k in money)
    ok_counts = all(tokbt[k] == numba[k] for k in counts)
    return {
        "tokbt": tokbt,
        "numba": numba,
        "max_abs_diff": max(diffs.values()),
        "agree": ok_money and ok_counts,
    }


# -- the strip workload ------------------------------------------------------------------------


def strip_plan(cfg: Config) -> SimPlan:
    from tokbt.sim import SimPlan, load_scenario

    return SimPlan.build(load_scenario(cfg.scenario), cfg.days, cfg.seed)


class StripHold:
    """Buy ``qty`` of every month contract when it first appears in the chain; hold it
    to final settlement (all listed months at the first bar, then each new listing)."""

    def __init__(self, qty: float = STRIP_QTY) -> None:
        self.qty = qty
        self.bought: set[str] = set()

    def on_bar(self, ctx: Context) -> None:
        for code in ctx.chain.codes:
            if code not in self.bought:
                ctx.order(code, self.qty)
                self.bought.add(code)


STRIP_FIELDS = (
    "equity_change",
    "futures_pnl",
    "variation_margin",
    "final_settlement",
    "consumption",
)
STRIP_COUNTS = ("margin_calls", "held")


def _strip_chunks(cfg: Config, plan: SimPlan) -> Iterator[tuple[SimChunk, float]]:
    """Each chunk of paths and the seconds its simulation took."""
    from tokbt.sim import simulate_paths

    for lo in range(0, cfg.paths, cfg.chunk_paths):
        t0 = time.perf_counter()
        chunk = simulate_paths(plan, range(lo, min(lo + cfg.chunk_paths, cfg.paths)))
        yield chunk, time.perf_counter() - t0


def strip_tokbt(cfg: Config, *, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """The ``strip_tokbt`` job: per chunk, simulate (timed apart), then ``backtest`` a
    ``SimMarket`` of it (journal totals only)."""
    return _strip_job(cfg, StripHold, {}, run_settings(cfg.outputs), profile)


def strip_compiled(cfg: Config, *, profile: cProfile.Profile | None = None) -> dict[str, Any]:
    """The ``strip_compiled`` job: ``strip_tokbt`` with the strip as a kernel strategy
    (``StaticKernel``, ``STRIP_QTY`` contracts of each month when it first lists) on the
    compiled engine; numba compile time timed apart."""
    from strategies.static_kernel import StaticKernel

    params = {"contracts": STRIP_QTY}
    settings = run_settings(cfg.outputs).model_copy(update={"runner": "compiled"})
    compile_seconds = compile_compiled(StaticKernel(params))
    result = _strip_job(cfg, StaticKernel, params, settings, profile)
    result["compile_seconds"] = compile_seconds
    return result


def _strip_job(
    cfg: Config,
    strategy: Any,
    params: dict[str, Any],
    settings: RunSettings,
    profile: cProfile.Profile | None,
) -> dict[str, Any]:
    """Per chunk, simulate (timed apart), then ``backtest`` ``strategy`` over a
    ``SimMarket`` of it with ``settings``."""
    import numpy as np

    from tokbt.runs import backtest
    from tokbt.sim import SimMarket

    start_rss = common.peak_rss_mb()

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        plan = strip_plan(cfg)
        plan_s = time.perf_counter() - t0
        sim_s = engine_s = block_s = gc_s = 0.0
        parts: dict[str, list[Any]] = {k: [] for k in (*STRIP_FIELDS, *STRIP_COUNTS)}
        for chunk, seconds in _strip_chunks(cfg, plan):
            sim_s += seconds
            t0 = time.perf_counter()
            source = TimedSource(SimMarket(plan, chunk))
            if profile is not None:
                profile.enable()
            result: Result = backtest(source, strategy, params=params, config=settings)
            if profile is not None:
                profile.disable()
            engine_s += time.perf_counter() - t0
            block_s += source.block_seconds
            paths = result.paths.to_pydict()
            for k in (*STRIP_FIELDS, "margin_calls"):
                parts[k] += paths[k]
            parts["held"] += np.asarray(result.final_positions).sum(axis=1).tolist()
            del result, source
            if cfg.collect:  # the chunk's engine is garbage in reference cycles: free it now
                t0 = time.perf_counter()
                gc.collect()
                gc_s += time.perf_counter() - t0
        return {
            "seconds": engine_s,
            "plan_seconds": plan_s,
            "simulate_seconds": sim_s,
            "block_seconds": block_s,
            "gc_seconds": gc_s,
            "outcome": parts,
        }

    return _timed(work, start_rss)


def _strip_kernel() -> Callable[..., Any]:
    import numpy as np
    from numba import njit

    @njit(cache=False)
    def strip_loop(
        settle: np.ndarray,
        locked: np.ndarray,
        listed: np.ndarray,
        index: np.ndarray,
        tokens: np.ndarray,
        final_e: np.ndarray,
        fix_first: np.ndarray,
        fix_last: np.ndarray,
        qty: float,
        mult: float,
        im_rate: float,
        mm_ratio: float,
        tick: float,
        scale: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The strip over one chunk, day by day (the broker's "any order pending" is per chunk).

        Returns per path ``(equity change, variation margin, final settlement,
        consumption, margin calls, contracts held at the end)``.
        """
        n_ex, n_paths, n_slots = settle.shape
        n_c = final_e.shape[0]
        pos = np.zeros((n_paths, n_c))
        mark = np.full((n_paths, n_c), np.nan)
        accrued = np.zeros((n_paths, n_c))
        pending = np.zeros((n_paths, n_c))
        ordered = np.zeros(n_c, np.bool_)
        operating = np.zeros(n_paths)
        margin = np.zeros(n_paths)
        vm_total = np.zeros(n_paths)
        final_total = np.zeros(n_paths)
        spent = np.zeros(n_paths)
        calls = np.zeros(n_paths)
        for e in range(n_ex):
            # the strategy: one contract of each month when it first appears
            for s in range(n_slots):
                c = listed[e, s]
                if c >= 0 and not ordered[c]:
                    ordered[c] = True
                    for p in range(n_paths):
                        pending[p, c] += qty
            active = False
            for p in range(n_paths):
                for c in range(n_c):
                    if pending[p, c] != 0.0:
                        active = True
            # fills at the close (= settlement) unless the bar is limit-locked; top-ups
            if active:
                for p in range(n_paths):
                    for s in range(n_slots):
                        c = listed[e, s]
                        if c < 0 or pending[p, c] == 0.0 or locked[e, p, s]:
                            continue
                        base = settle[e, p, s]
                        if not np.isfinite(base):
                            continue
                        q = pending[p, c]
                        units = base / tick
                        k = np.ceil(units - 1e-9) if q > 0 else np.floor(units + 1e-9)
                        price = np.rint(max(k, 1.0) * tick * scale) / scale  # at least a tick
                        if np.isnan(mark[p, c]):
                            mark[p, c] = price
                        accrued[p, c] += q * mult * (mark[p, c] - price)
                        pos[p, c] += q
                        pending[p, c] = 0.0
                    notional = 0.0
                    for c in range(n_c):
                        if pos[p, c] != 0.0:
                            notional += abs(pos[p, c]) * mult * mark[p, c]
                    wanted = im_rate * notional - margin[p]
                    if wanted > 1e-9:
                        operating[p] -= wanted
                        margin[p] += wanted
            # settlement: variation margin, margin calls, final settlement
            for p in range(n_paths):
                vm_day = 0.0
                for s in range(n_slots):
                    c = listed[e, s]
                    if c < 0:
                        continue
                    st = settle[e, p, s]
                    if not np.isfinite(st):
                        continue
                    move = st - mark[p, c] if pos[p, c] != 0.0 else 0.0
                    vm = pos[p, c] * mult * move + accrued[p, c]
                    vm_day += vm
                    vm_total[p] += vm
                    mark[p, c] = st
                    accrued[p, c] = 0.0
                margin[p] += vm_day
                notional = 0.0
                for c in range(n_c):
                    if pos[p, c] != 0.0:
                        notional += abs(pos[p, c]) * mult * mark[p, c]
                im = im_rate * notional
                if margin[p] < im / mm_ratio - 1e-9:
                    amount = im - margin[p]
                    operating[p] -= amount
                    margin[p] += amount
                    calls[p] += 1
                for c in range(n_c):
                    if final_e[c] != e or (pos[p, c] == 0.0 and accrued[p, c] == 0.0):
                        continue
                    total = 0.0
                    for d in range(fix_first[c], fix_last[c] + 1):
                        total += index[p, d]
                    units = total / (fix_last[c] - fix_first[c] + 1) / tick
                    ticks = max(np.floor(units + 0.5 + 1e-9), 1.0)  # never below one tick
                    price = np.rint(ticks * tick * scale) / scale
                    held = pos[p, c]
                    amount = (held * mult * (price - mark[p, c]) if held != 0.0 else 0.0) + (
                        accrued[p, c]
                    )
                    margin[p] += amount
                    final_total[p] += amount
                    pos[p, c] = 0.0
                    accrued[p, c] = 0.0
        # consumption, paid from operating cash at the day's index
        for p in range(n_paths):
            for d in range(tokens.shape[1]):
                t = tokens[p, d]
                if t > 0.0:
                    spend = t * index[p, d]
                    operating[p] -= spend
                    spent[p] -= spend
        held_total = np.zeros(n_paths)
        for p in range(n_paths):
            for c in range(n_c):
                held_total[p] += pos[p, c]
        return operating + margin, vm_total, final_total, spent, calls, held_total

    return strip_loop


@dataclass(frozen=True)
class StripTables:
    """What the strip kernel needs of a plan, per contract: the exchange day of its
    final settlement (``-1``: after the horizon) and its fixing days."""

    final_e: np.ndarray
    fix_first: np.ndarray
    fix_last: np.ndarray

    @classmethod
    def from_plan(cls, plan: SimPlan) -> StripTables:
        import numpy as np

        ex_days = plan.days[plan.exchange_days]
        final = np.array(
            [np.datetime64(c.final_settlement_date, "D") for c in plan.contracts],
            dtype="datetime64[D]",
        )
        pos = np.searchsorted(ex_days, final)  # the first exchange day on or after it
        final_e = np.where(pos < len(ex_days), pos, -1).astype(np.int64)
        return cls(final_e, np.asarray(plan.first, np.int64), np.asarray(plan.last, np.int64))


def compile_strip_kernel() -> tuple[Callable[..., Any], float]:
    """The strip kernel, compiled on one tiny day; and the compile seconds."""
    import numpy as np

    t0 = time.perf_counter()
    kernel = _strip_kernel()
    settle = np.full((1, 1, 1), 2.0)
    ints = np.zeros(1, np.int64)
    kernel(
        settle,
        np.zeros((1, 1, 1), np.bool_),
        np.zeros((1, 1), np.int64),
        np.ones((1, 1)),
        np.ones((1, 1)),
        ints,
        ints,
        ints.copy(),
        1.0,
        1.0,
        0.1,
        1.1,
        0.001,
        1000.0,
    )
    return kernel, time.perf_counter() - t0


def strip_numba(cfg: Config) -> dict[str, Any]:
    """The ``strip_numba`` job: per chunk, simulate (timed apart), then the kernel."""
    import numpy as np

    from tokbt.market.ticks import tick_decimals

    start_rss = common.peak_rss_mb()
    kernel, compile_s = compile_strip_kernel()

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        plan = strip_plan(cfg)
        plan_s = time.perf_counter() - t0
        spec = plan.spec
        sim_s = engine_s = gc_s = 0.0
        parts: dict[str, list[Any]] = {k: [] for k in (*STRIP_FIELDS, *STRIP_COUNTS)}
        for chunk, seconds in _strip_chunks(cfg, plan):
            sim_s += seconds
            t0 = time.perf_counter()
            tables = StripTables.from_plan(plan)
            equity, vm, final, spent, calls, held = kernel(
                np.ascontiguousarray(chunk.settle),
                np.ascontiguousarray(chunk.locked),
                np.ascontiguousarray(plan.listed, dtype=np.int64),
                np.ascontiguousarray(chunk.index),
                np.ascontiguousarray(np.nan_to_num(chunk.consumption.tokens)),
                tables.final_e,
                tables.fix_first,
                tables.fix_last,
                STRIP_QTY,
                spec.multiplier,
                spec.initial_margin,
                spec.maintenance_ratio,
                spec.tick_size,
                10.0 ** tick_decimals(spec.tick_size),
            )
            engine_s += time.perf_counter() - t0
            parts["equity_change"] += equity.tolist()
            parts["futures_pnl"] += (vm + final).tolist()
            parts["variation_margin"] += vm.tolist()
            parts["final_settlement"] += final.tolist()
            parts["consumption"] += spent.tolist()
            parts["margin_calls"] += calls.astype(np.int64).tolist()
            parts["held"] += held.tolist()
            if cfg.collect:  # as strip_tokbt does
                t0 = time.perf_counter()
                gc.collect()
                gc_s += time.perf_counter() - t0
        return {
            "seconds": engine_s,
            "compile_seconds": compile_s,
            "plan_seconds": plan_s,
            "simulate_seconds": sim_s,
            "gc_seconds": gc_s,
            "outcome": parts,
        }

    return _timed(work, start_rss)


def check_strip(tokbt: dict[str, list[Any]], numba: dict[str, list[Any]]) -> dict[str, Any]:
    """Do the two strips agree path by path? Money within rounding, counts exactly."""
    import numpy as np

    rows = []
    for name in (*STRIP_FIELDS, *STRIP_COUNTS):
        a = np.asarray(tokbt[name], dtype=np.float64)
        b = np.asarray(numba[name], dtype=np.float64)
        if name in STRIP_COUNTS:
            bad = a != b
        else:
            bad = ~(np.abs(a - b) <= AGREE_ATOL + AGREE_RTOL * np.abs(b))
        rows.append(
            {
                "quantity": name,
                "tokbt_mean": float(a.mean()),
                "numba_mean": float(b.mean()),
                "max_abs_diff": float(np.abs(a - b).max()),
                "paths_differing": int(bad.sum()),
                "paths": int(a.size),
            }
        )
    return {"rows": rows, "agree": all(r["paths_differing"] == 0 for r in rows)}


# -- the profile job -------------------------------------------------------------------------


def _profile_rows(profile: cProfile.Profile, total: float) -> list[dict[str, Any]]:
    """The ``PROFILE_TOP`` functions by own time, with their cumulative time."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({func})",
                "calls": calls,
                "own_seconds": tottime,
                "cum_seconds": cumtime,
                "own_share": tottime / total if total else 0.0,
                "cum_share": cumtime / total if total else 0.0,
            }
        )
    rows.sort(key=lambda r: r["own_seconds"], reverse=True)
    return rows[:PROFILE_TOP]


def job_profile(cfg: Config) -> dict[str, Any]:
    """Both tokbt workloads once under ``cProfile`` (the profiled part only: ``backtest``)."""
    out: dict[str, Any] = {}
    for name, job in (("hedge", hedge_tokbt), ("strip", strip_tokbt)):
        profile = cProfile.Profile()
        result = job(cfg, profile=profile)
        total = sum(v[2] for v in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
        out[name] = {
            "seconds": result["seconds"],
            "profiled_seconds": total,
            "top": _profile_rows(profile, total),
        }
    out["seconds"] = out["hedge"]["seconds"] + out["strip"]["seconds"]
    out["peak_rss_mb"] = common.peak_rss_mb()
    out["start_rss_mb"] = 0.0
    return out


# -- jobs in children --------------------------------------------------------------------------


JOB_FUNCS: dict[str, Callable[[Config], dict[str, Any]]] = {
    HEDGE_BASELINE: hedge_numba,
    HEDGE_TOKBT: hedge_tokbt,
    HEDGE_COMPILED: hedge_compiled,
    STRIP_BASELINE: strip_numba,
    STRIP_TOKBT: strip_tokbt,
    STRIP_COMPILED: strip_compiled,
    PROFILE_JOB: job_profile,
}


def _import_everything() -> None:
    """Import what any job uses, before its timer starts, so every job starts alike."""
    for module in ("numpy", "pyarrow", "numba", "tokbt.runs", "tokbt.sim", "tokbt.data"):
        importlib.import_module(module)


def run_job_here(name: str, cfg: Config) -> dict[str, Any]:
    """Run job ``name`` in this process; add its name."""
    _import_everything()
    result = JOB_FUNCS[name](cfg)
    result["job"] = name
    return result


def _config_args(cfg: Config) -> list[str]:
    args = [
        f"--{key.replace('_', '-')}={value}"
        for key, value in asdict(cfg).items()
        if key != "collect"
    ]
    return args if cfg.collect else [*args, "--no-gc"]


def run_job_child(name: str, cfg: Config, work: Path, timeout: float | None) -> dict[str, Any]:
    """Run job ``name`` on ``cfg`` in a fresh Python process."""
    return common.run_job_child(__file__, name, work, timeout, _config_args(cfg))


# -- the run -------------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    """CPU, memory, OS and library versions of this run."""
    return common.describe_machine(
        ("numpy", "numba", "pyarrow", "tokbt"), {"tokbt_git": common.git_state()}
    )


def work_units(cfg: Config, workload: str) -> int:
    """Bars (hedge) or path·days (strip)."""
    return cfg.bars if workload == "hedge" else cfg.paths * cfg.days


def summarise(runs: dict[str, list[dict[str, Any]]], cfg: Config) -> list[dict[str, Any]]:
    """One row per job: median seconds, max peak RSS, work per second, ratios to its baseline."""
    import statistics

    rows: list[dict[str, Any]] = []
    for workload, jobs in WORKLOADS.items():
        part = []
        for name in jobs:
            results = runs.get(name)
            if not results:
                continue
            timing = common.seconds_summary(results)
            extra: dict[str, float] = {
                k: statistics.median(r[k] for r in results)
                for k in (key for _where, key, _label in BREAKDOWN)
                if k in results[0]
            }
            part.append(
                {
                    "job": name,
                    "workload": workload,
                    **timing,
                    **extra,
                    "per_second": common.per_second(work_units(cfg, workload), timing["seconds"]),
                    **common.rss_summary(results),
                }
            )
        rows += common.add_baseline_ratios(part, jobs[0])
    return rows


def checks(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The agreement checks, one per tokbt job that ran with its workload's baseline
    (first run of each), keyed by the tokbt job."""
    out: dict[str, Any] = {}
    for workload, (baseline, *tokbt_jobs) in WORKLOADS.items():
        check = check_hedge if workload == "hedge" else check_strip
        for job in tokbt_jobs:
            if runs.get(baseline) and runs.get(job):
                out[job] = check(runs[job][0]["outcome"], runs[baseline][0]["outcome"])
    return out


def speedups(summary: list[dict[str, Any]]) -> dict[str, float]:
    """Per workload whose two tokbt jobs ran: the Python engine's seconds over the
    compiled engine's (how many times faster the compiled path is)."""
    seconds = {r["job"]: r["seconds"] for r in summary}
    out = {}
    for workload, (_baseline, python, compiled) in WORKLOADS.items():
        if python in seconds and compiled in seconds and seconds[compiled] > 0:
            out[workload] = seconds[python] / seconds[compiled]
    return out


def _seconds_cell(row: dict[str, Any]) -> str:
    """``common.seconds_cell`` with three decimals below 1 s (the baselines take milliseconds)."""
    if row["seconds_max"] >= 1.0:
        return common.seconds_cell(row)
    cell = f"{row['seconds']:.3f}"
    if row["runs"] > 1:
        cell += f" [{row['seconds_min']:.3f}-{row['seconds_max']:.3f}]"
    return cell


BREAKDOWN = (
    ("outside", "compile_seconds", "numba compile"),
    ("outside", "tables_seconds", "Arrow tables"),
    ("outside", "market_seconds", "TableMarket()"),
    ("outside", "plan_seconds", "SimPlan.build"),
    ("outside", "simulate_seconds", "simulate_paths"),
    ("outside", "gc_seconds", "gc.collect between chunks"),
    ("within", "block_seconds", "cutting blocks"),
    ("within", "fingerprint_seconds", "fingerprint"),
)
"""The phases of a job timed apart (medians): outside its ``seconds``, or part of them."""


def _breakdown(row: dict[str, Any]) -> str:
    """One line: what a job timed apart from (``outside``) or within its ``seconds``."""
    parts: dict[str, list[str]] = {"outside": [], "within": []}
    for where, key, label in BREAKDOWN:
        if key in row:
            parts[where].append(f"{label} {row[key]:.2f} s")
    text = [f"{where} seconds: {', '.join(p)}" for where, p in parts.items() if p]
    return f"  {row['job']}: " + "; ".join(text)


def _hedge_check(job: str, hedge: dict[str, Any]) -> list[str]:
    """The report's lines of one hedge check (``job`` against the numba baseline)."""
    t, n = hedge["tokbt"], hedge["numba"]
    return [
        f"{job} check: final P&L (variation margin) tokbt {t['variation_margin']:,.6f}, "
        f"numba {n['variation_margin']:,.6f}; equity change {t['equity_change']:,.6f} / "
        f"{n['equity_change']:,.6f}; orders {t['orders']:,} / {n['orders']:,} "
        f"({n['fills']:,} fills); final position {t['position']:g} / {n['position']:g}; "
        f"margin calls {t['margin_calls']} / {n['margin_calls']}: "
        + ("agree" if hedge["agree"] else "DISAGREE")
    ]


def _strip_check(job: str, strip: dict[str, Any]) -> list[str]:
    """The report's lines of one strip check (``job`` against the numba baseline)."""
    return [
        f"{job} check, path by path (money within "
        f"{AGREE_ATOL:g} + {AGREE_RTOL:g} x |amount|, counts exactly): "
        + ("agree" if strip["agree"] else "DISAGREE"),
        common.format_table(
            ["quantity", "tokbt mean", "numba mean", "max |diff|", "paths differing"],
            [
                [
                    r["quantity"],
                    f"{r['tokbt_mean']:,.4f}",
                    f"{r['numba_mean']:,.4f}",
                    f"{r['max_abs_diff']:.2e}",
                    f"{r['paths_differing']:,} of {r['paths']:,}",
                ]
                for r in strip["rows"]
            ],
        ),
    ]


def report(out: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    m, c = out["machine"], out["config"]
    outputs = c.get("outputs", "default")  # JSON of runs before --outputs has none
    lines = [
        common.machine_line(m),
        f"versions: python {m['python']}, numpy {m['numpy']}, numba {m['numba']}, "
        f"pyarrow {m['pyarrow']}, tokbt {m['tokbt']} (git {m.get('tokbt_git', 'unknown')})",
        f"hedge: 1 path x {c['bars']:,} one-minute bars, {c['window']}-bar window, exposure "
        f"{c['exposure']:g}, seed {c['seed']}",
        f"strip: scenario {c['scenario']}, {c['paths']:,} paths x {c['days']:,} days = "
        f"{c['paths'] * c['days']:,} path-days, chunks of {c['chunk_paths']:,} paths, "
        f"seed {c['seed']}",
        f"tokbt outputs: {outputs} (journal totals"
        + (", position log, default metrics)" if outputs == "default" else ")"),
        common.repeats_line(out["repeat"]),
    ]
    units = {"hedge": "bars/s", "strip": "path-days/s"}
    for workload in WORKLOADS:
        rows = [r for r in out["summary"] if r["workload"] == workload]
        if not rows:
            continue
        headers = ["job", "seconds", units[workload], *common.RSS_HEADERS, *common.RATIO_HEADERS]
        body = [
            [
                r["job"],
                _seconds_cell(r),
                common.si(r["per_second"]),
                *common.rss_cells(r),
                *common.ratio_cells(r),
            ]
            for r in rows
        ]
        lines += ["", common.format_table(headers, body)]
        lines += [_breakdown(r) for r in rows]
    for job, check in out.get("checks", {}).items():
        lines += ["", *(_hedge_check if job.startswith("hedge") else _strip_check)(job, check)]
    for workload, times in out.get("speedups", {}).items():
        python, compiled = WORKLOADS[workload][1:]
        lines += ["", f"{compiled} runs {times:,.1f}x faster than {python} (seconds, medians)"]
    profile = out.get("profile")
    if profile:
        for workload in WORKLOADS:
            p = profile[workload]
            lines += [
                "",
                f"{workload}_tokbt under cProfile ({p['seconds']:.1f} s with the profiler; "
                f"top {PROFILE_TOP} functions by own time; share of the profiled backtest):",
                common.format_table(
                    ["function", "calls", "own s", "own %", "cum s", "cum %"],
                    [
                        [
                            r["function"],
                            f"{r['calls']:,}",
                            f"{r['own_seconds']:.2f}",
                            f"{100 * r['own_share']:.1f}",
                            f"{r['cum_seconds']:.2f}",
                            f"{100 * r['cum_share']:.1f}",
                        ]
                        for r in p["top"]
                    ],
                ),
            ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every job ``args.repeat`` times in fresh processes; summarise and check."""
    cfg = _config(args)
    machine = describe_machine()
    jobs = [j for j in JOBS if j in args.jobs]
    profile = None
    with tempfile.TemporaryDirectory(prefix="tokbt-engine-bench-", dir=args.tmp_dir) as tmp:
        work = Path(tmp)
        runs = common.run_interleaved(
            jobs,
            args.repeat,
            work,
            lambda job, folder: run_job_child(job, cfg, folder, args.timeout),
        )
        if args.profile:
            print(f"{PROFILE_JOB} ...", file=sys.stderr)
            profile = run_job_child(PROFILE_JOB, cfg, work / PROFILE_JOB, args.timeout)
    agreement = checks(runs)
    for results in runs.values():  # per-path outcomes are for the checks only
        for r in results:
            r.pop("outcome", None)
    summary = summarise(runs, cfg)
    return {
        "machine": machine,
        "config": asdict(cfg),
        "repeat": args.repeat,
        "summary": summary,
        "speedups": speedups(summary),
        "checks": agreement,
        "profile": profile,
        "runs": runs,
        "command": common.command_line(),
    }


def _config(args: argparse.Namespace) -> Config:
    return Config(
        bars=args.bars,
        window=args.window,
        exposure=args.exposure,
        paths=args.paths,
        days=args.days,
        chunk_paths=args.chunk_paths,
        scenario=args.scenario,
        seed=args.seed,
        collect=not args.no_gc,
        outputs=args.outputs,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(
        description="Benchmark tokbt's event loop, broker and ledger against numba loops "
        "doing the same bookkeeping: a rolling hedge over one long intraday series, and a "
        "strip held over many simulated paths; each job in a fresh subprocess.",
    )
    p.add_argument("--bars", type=int, help=f"hedge: one-minute bars (default {FULL['bars']:,})")
    p.add_argument("--window", type=int, default=60, help="hedge: estimation window, bars")
    p.add_argument(
        "--exposure", type=float, default=100.0, help="hedge: spot units hedged (contracts at h=1)"
    )
    p.add_argument("--paths", type=int, help=f"strip: simulated paths (default {FULL['paths']:,})")
    p.add_argument("--days", type=int, help=f"strip: calendar days (default {FULL['days']:,})")
    p.add_argument(
        "--chunk-paths",
        type=int,
        help=f"strip: paths per backtest (default {FULL['chunk_paths']:,})",
    )
    p.add_argument("--scenario", default="baseline", help="strip: scenario preset")
    p.add_argument("--seed", type=int, default=0, help="seed of the hedge series and simulation")
    p.add_argument(
        "--no-gc",
        action="store_true",
        help="strip: do not run the garbage collector between chunks (tokbt's engines are "
        "freed only by it: memory then grows with every chunk)",
    )
    p.add_argument(
        "--outputs",
        choices=sorted(OUTPUTS),
        default="default",
        help="what tokbt's jobs keep: 'default' (position log and metrics, as a user's run) "
        "or 'lean' (neither: the engines' own bookkeeping is timed)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a smoke run ("
        + ", ".join(f"--{k.replace('_', '-')} {v:,}" for k, v in QUICK.items())
        + "); explicit sizes win",
    )
    common.add_repeat_argument(p)
    common.add_output_arguments(p, JOBS)
    p.add_argument(
        "--profile",
        action="store_true",
        help="also run both tokbt workloads once under cProfile and list the top functions",
    )
    p.add_argument("--tmp-dir", help="where the children's work folders go (default: system temp)")
    common.add_job_arguments(p, JOB_FUNCS)
    args = p.parse_args(argv)
    common.check_arguments(p, args, JOBS)
    sizes = QUICK if args.quick else FULL
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.bars, args.paths, args.days, args.chunk_paths) < 1:
        p.error("--bars, --paths, --days and --chunk-paths must be >= 1")
    if not 2 <= args.window < args.bars:
        p.error("--window must be at least 2 and below --bars")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a child job (``--job``) or a whole benchmark run."""
    args = parse_args(argv)
    if args.job:
        common.print_result(run_job_here(args.job, _config(args)))
        return 0
    out = run(args)
    common.finish(out, report, args.json)
    failed = [name for name, check in out["checks"].items() if not check["agree"]]
    if failed:
        print(f"\nFAILED: tokbt and the numba baseline disagree on {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
