"""The compiled engine books exactly what the Python engine books for the same kernel strategy.

Each test runs one ``KernelStrategy`` on both engines (``runner = "python"``
and ``"compiled"``) and holds every output to bit-for-bit equality: the
journal (every column of every row, in order), the event log, the position
log, the per-path totals, the metrics, the journal's running totals and the
ledger's final state. Markets: the engine benchmark's one-path rolling hedge
(20,000 one-minute bars), a simulated multi-path market with twelve listed
months, consumption, limit-locked bars, margin calls and final settlements at
the averaged index, and hypothesis' small random markets.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pytest
from engine_markets import market, random_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import tokbt.engine.broker as broker_module
import tokbt.engine.compiled as compiled
import tokbt.ledger.book as book
from strategies.min_variance_kernel import ORDERS, MinVarianceKernel
from strategies.static_kernel import StaticKernel
from tokbt.data import Kind, MarketSource, TableMarket
from tokbt.engine import StrategyError
from tokbt.engine.compiled import CompiledEngine, UnsupportedError
from tokbt.kernel_strategy import KernelStrategy
from tokbt.market import ContractSpec, ListingRule, load_spec
from tokbt.runs import RunSettings, backtest
from tokbt.runs.backtest import ChunkRun, run_chunk
from tokbt.sim import SimChunk, SimMarket, SimPlan, load_scenario, simulate_paths
from tokbt.strategy import Strategy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
bench: Any = importlib.import_module("engine_bench")

HEDGE_BARS = 20_000

# -- comparing runs -----------------------------------------------------------------------------


def assert_same_table(python: pa.Table, compiled_: pa.Table, what: str) -> None:
    """Same schema, rows and order; every value equal (floats bit for bit), nulls too."""
    assert python.schema == compiled_.schema, what
    assert python.num_rows == compiled_.num_rows, what
    for name in python.column_names:
        a, b = python[name].combine_chunks(), compiled_[name].combine_chunks()
        where = f"{what}.{name}"
        assert a.is_null().equals(b.is_null()), where
        if pa.types.is_floating(a.type):
            x = a.fill_null(0.0).to_numpy().view(np.uint64)
            y = b.fill_null(0.0).to_numpy().view(np.uint64)
            assert np.array_equal(x, y), (
                f"{where}: first row differing {np.flatnonzero(x != y)[:1]}"
            )
        else:
            assert a.equals(b), where


def assert_same_array(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.shape == b.shape, what
    if a.dtype.kind == "f":
        assert np.array_equal(a.view(np.uint64), b.view(np.uint64)), what
    else:
        assert np.array_equal(a, b), what


def assert_identical(python: ChunkRun, compiled_: ChunkRun) -> None:
    """Everything a run leaves is the same on both engines."""
    assert type(python.engine).__name__ == "Engine"
    assert isinstance(compiled_.engine, CompiledEngine)
    for name in ("journal", "events", "positions", "paths"):
        assert_same_table(python.part[name], compiled_.part[name], name)
    a, b = python.engine.ledger, compiled_.engine.ledger
    for name in ("positions", "marks", "accrued", "pnl", "delivered", "balances", "spent"):
        assert_same_array(getattr(a, name), getattr(b, name), f"ledger.{name}")
    assert_same_array(a.settled, b.settled, "ledger.settled")
    assert_same_array(a.journal._totals, b.journal._totals, "journal totals")
    assert a.journal.rows == b.journal.rows
    assert a._last_accrual == b._last_accrual
    assert_same_array(python.engine.consumed, compiled_.engine.consumed, "consumed")
    if python.metrics is not None:
        assert compiled_.metrics is not None
        for group in ("columns", "daily", "monthly"):
            x, y = getattr(python.metrics, group), getattr(compiled_.metrics, group)
            assert x.keys() == y.keys()
            for key in x:
                assert_same_array(np.asarray(x[key]), np.asarray(y[key]), f"{group}.{key}")


def both(
    source: Callable[[], MarketSource],
    strategy: Any,
    params: dict[str, Any],
    config: dict[str, Any],
) -> tuple[ChunkRun, ChunkRun]:
    """The same backtest chunk on the Python and on the compiled engine."""
    runs = []
    for runner in ("python", "compiled"):
        settings = RunSettings.model_validate({**config, "runner": runner})
        runs.append(run_chunk(source(), strategy, params, settings))
    return runs[0], runs[1]


def kinds(run: ChunkRun, table: str = "journal", column: str = "kind") -> dict[str, int]:
    values, counts = np.unique(
        run.part[table][column].to_numpy(zero_copy_only=False).astype(str), return_counts=True
    )
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


# -- the engine benchmark's rolling hedge -------------------------------------------------------


@pytest.fixture(scope="module")
def hedge_market() -> tuple[ContractSpec, str, dict[Kind, pa.Table]]:
    cfg = bench.Config(
        bars=HEDGE_BARS, window=60, exposure=100.0, paths=1, days=1, chunk_paths=1,
        scenario="baseline", seed=5,
    )  # fmt: skip
    spec, code = bench.hedge_spec(cfg.bars)
    return spec, code, bench.hedge_tables(bench.hedge_series(cfg), code)


def test_hedge_workload_books_the_same(
    hedge_market: tuple[ContractSpec, str, dict[Kind, pa.Table]],
) -> None:
    spec, code, tables = hedge_market
    bar_seconds = {Kind.SPOT: bench.BAR_SECONDS, Kind.FUTURES: bench.BAR_SECONDS}
    python, compiled_ = both(
        lambda: TableMarket(spec, tables, name="hedge", bar_seconds=bar_seconds),
        MinVarianceKernel,
        {"contract": code, "window": 60, "exposure": 100.0},
        {"broker": {"fill": "close", "liquidity": "none"}, "positions": False},
    )
    assert_identical(python, compiled_)
    booked = kinds(python)
    assert booked["fill"] > HEDGE_BARS // 3  # it trades at about every other bar
    assert booked["variation_margin"] >= HEDGE_BARS // bench.MINUTES_PER_DAY - 1
    assert booked["deposit"] > 10
    assert isinstance(compiled_.engine, CompiledEngine)
    assert python.engine.strategy.state[ORDERS] == compiled_.engine.state[ORDERS] > 1000


# -- a simulated market: many paths, contracts, consumption, locks, calls, expiries -------------


@pytest.fixture(scope="module")
def sim() -> tuple[SimPlan, SimChunk]:
    """150 days, 5 paths, two spot bars a day, twelve listed months; a 4 % price limit
    so that bars lock."""
    tight = load_spec(load_scenario("baseline").contract).model_copy(update={"price_limit": 0.04})
    plan = SimPlan.build(
        load_scenario("baseline"), 150, 7, steps_per_day=2, bars_per_day=2, spec=tight
    )
    chunk = simulate_paths(plan, range(5))
    assert chunk.locked.mean() > 0.05
    return plan, chunk


SIM_CASES: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {
    "rolling, close, fees, interest": (
        MinVarianceKernel,
        {"window": 8, "lookback": 40, "exposure": 40.0, "roll_days": 2},
        {
            "broker": {"fill": "close", "fee_per_contract": 0.7, "slippage_ticks": 1},
            "ledger": {"cash_rate": 0.03, "funding_rate": 0.06, "margin_rate": 0.01},
        },
    ),
    "rolling, next open, cancel locked, to expiry, fractional": (
        MinVarianceKernel,
        {"window": 6, "lookback": 30, "exposure": 25.0, "roll_days": 0},
        {
            "broker": {"fill": "next_open", "on_locked": "cancel", "whole_contracts": False},
            "ledger": {"margin_buffer": 0.2, "sweep_excess": True, "initial_cash": 1e5},
        },
    ),
    "static plan, next open": (
        StaticKernel,
        {"ratio": 1.0},
        {"broker": {"fill": "next_open", "slippage_ticks": 2}, "ledger": {"cash_rate": 0.02}},
    ),
    "static strip, close, markup": (
        StaticKernel,
        {"contracts": 3.0},
        {
            "broker": {"fill": "close", "fee_per_contract": 1.5},
            "ledger": {"consumption_markup": 0.1, "consumption_basis": 0.05},
        },
    ),
}


@pytest.mark.parametrize("case", list(SIM_CASES))
def test_simulated_market_books_the_same(case: str, sim: tuple[SimPlan, SimChunk]) -> None:
    plan, chunk = sim
    strategy, params, config = SIM_CASES[case]
    config = {
        **config,
        "broker": {"liquidity": "none", **config["broker"]},
        "engine": {"history": 60},
    }
    python, compiled_ = both(
        lambda: SimMarket(plan, chunk, block_events=41), strategy, params, config
    )
    assert_identical(python, compiled_)
    booked = kinds(python)
    assert booked["fill"] > 20
    assert booked["consumption"] == 5 * 150
    assert booked.get("margin_call", 0) > 0
    events = kinds(python, "events", "event")
    if "fractional" in case:  # targets on expired contracts and fills cancelled on locked bars
        details = kinds(python, "events", "detail")
        assert details["expired"] > 0
        assert details["limit locked: cancelled"] > 0
        assert booked["withdrawal"] > 0
    if "static" in case:
        assert booked["final_settlement"] >= 5 * 4
        assert events["margin_call"] > 0


def test_blocks_and_buffers_do_not_change_the_run(
    sim: tuple[SimPlan, SimChunk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of 7 events, a history buffer that shifts every few events, row buffers that
    fill and a decision log that grows at once: the same run as with roomy buffers."""
    plan, chunk = sim
    strategy, params, config = SIM_CASES["rolling, next open, cancel locked, to expiry, fractional"]
    broker = {"liquidity": "none", **config["broker"]}
    settings = RunSettings.model_validate(
        {**config, "broker": broker, "runner": "compiled", "metrics": None}
    )
    roomy = run_chunk(SimMarket(plan, chunk, block_events=500), strategy, params, settings)
    monkeypatch.setattr(compiled, "_HISTORY_ROWS", 1)
    monkeypatch.setattr(book, "_MIN_ROWS", 1)
    monkeypatch.setattr(book, "_BUFFER_EVENTS", 1)
    monkeypatch.setattr(broker_module, "_MIN_DECISIONS", 1)
    tight = run_chunk(SimMarket(plan, chunk, block_events=7), strategy, params, settings)
    for name in ("journal", "events", "positions", "paths"):
        assert_same_table(roomy.part[name], tight.part[name], name)
    assert isinstance(tight.engine, CompiledEngine)
    assert tight.engine.stats["decisions"] > 0
    assert tight.engine.stats["flushes"] > 10
    assert tight.engine.stats["history_shifts"] > 3
    assert isinstance(roomy.engine, CompiledEngine)
    assert roomy.engine.stats["flushes"] == roomy.engine.stats["history_shifts"] == 0


# -- random markets -------------------------------------------------------------------------------


@njit(cache=True)
def _busy_kernel(
    event: int,
    day: int,
    settling: bool,
    spot: np.ndarray,
    futures: np.ndarray,
    positions: np.ndarray,
    expiry: np.ndarray,
    planned: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    target: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Pseudo-random targets on some paths and contracts — listed or not — at some events."""
    seed = int(params[0])
    n, k = target.shape
    for c in range(k):
        if (event + c + seed) % 3 != 0:
            continue
        for p in range(n):
            h = (event * 7919 + p * 104729 + c * 1299709 + seed * 15485863) % 11
            if h < 9:
                target[p, c] = (h - 4) * params[1] + positions[p, c] * params[2]
    state[0] += 1.0


class BusyKernel(KernelStrategy):
    """Pseudo-random targets (a test strategy that trades a lot)."""

    class Params(KernelStrategy.Params):
        seed: int = 0
        size: float = 1.0
        keep: float = 0.0

    kernel = _busy_kernel

    def kernel_params(self, spec: ContractSpec, contracts: tuple[str, ...]) -> np.ndarray:
        return np.array([self.params.seed, self.params.size, self.params.keep])

    def initial_state(self, n_paths: int, n_contracts: int) -> np.ndarray:
        return np.zeros(1)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n_paths=st.integers(1, 3),
    n_days=st.integers(10, 45),
    fill=st.sampled_from(["close", "next_open"]),
    on_locked=st.sampled_from(["wait", "cancel"]),
    whole=st.booleans(),
    size=st.sampled_from([1.0, 2.5, 0.4]),
    fee=st.sampled_from([0.0, 0.3]),
    rates=st.booleans(),
    block_events=st.integers(3, 40),
)
def test_random_markets_book_the_same(
    seed: int,
    n_paths: int,
    n_days: int,
    fill: str,
    on_locked: str,
    whole: bool,
    size: float,
    fee: float,
    rates: bool,
    block_events: int,
) -> None:
    tables = random_tables(seed, n_paths, n_days, p_locked=0.15)
    ledger = {"cash_rate": 0.04, "funding_rate": 0.07, "margin_rate": 0.02} if rates else {}
    config = {
        "broker": {
            "fill": fill,
            "on_locked": on_locked,
            "whole_contracts": whole,
            "fee_per_contract": fee,
            "liquidity": "none",
        },
        "ledger": ledger,
        "metrics": None,
    }
    python, compiled_ = both(
        lambda: market(tables, block_events=block_events),
        BusyKernel,
        {"seed": seed, "size": size, "keep": 0.5},
        config,
    )
    assert_identical(python, compiled_)


# -- what the kernel sees ------------------------------------------------------------------------


@njit(cache=True, boundscheck=False)
def _peeking_kernel(
    event: int,
    day: int,
    settling: bool,
    spot: np.ndarray,
    futures: np.ndarray,
    positions: np.ndarray,
    expiry: np.ndarray,
    planned: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    target: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Record the window's shape, its last close, and what lies one row past its end."""
    rows = spot.shape[0]
    state[3 * event] = rows
    state[3 * event + 1] = spot[rows - 1, 0]
    state[3 * event + 2] = spot[rows, 0]  # one row past the window (no bounds check)


class Peeking(KernelStrategy):
    kernel = _peeking_kernel
    seen: ClassVar[list[np.ndarray]] = []

    def history_events(self) -> int:
        return 4

    def initial_state(self, n_paths: int, n_contracts: int) -> np.ndarray:
        return np.zeros(3 * 200)

    def finish(self, state: np.ndarray) -> None:
        Peeking.seen.append(state.copy())


def test_the_kernel_sees_the_window_up_to_now_and_nothing_after() -> None:
    tables = random_tables(3, 1, 40)
    source = market(tables, block_events=9)
    close = np.concatenate([b.spot["close"][:, 0] for b in source.market_blocks()])
    Peeking.seen.clear()
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    backtest(source, Peeking, config=config, engine="compiled")
    state = Peeking.seen[-1].reshape(-1, 3)[: len(close)]
    assert (state[:, 0] == 4).all()
    assert np.array_equal(state[:, 1], close, equal_nan=True)
    assert np.isnan(state[:, 2]).all()  # the row after the current event is not written yet


# -- selection, scope and errors ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> dict[Kind, pa.Table]:
    return random_tables(1, 2, 20)


# -- every setting: the compiled driver and the Python path drive one core ----------------------

BUSY = {"seed": 11, "size": 3.0, "keep": 0.5}
EVERY_SETTING: dict[str, dict[str, Any]] = {
    "SPAN margin": {"ledger": {"margin_model": "span", "margin_buffer": 0.1}},
    "limited funding with liquidation": {
        "ledger": {"funding": "limited", "initial_cash": 2000.0, "credit_line": 1500.0},
    },
    "liquidity model": {
        "broker": {"liquidity": {"depth": 2.0, "impact_bps": 40.0, "half_spread_ticks": 2.0}},
    },
    "position limit": {"broker": {"position_limit": 4.0}},
    "partial margin calls": {
        "ledger": {
            "funding": "limited",
            "initial_cash": 2000.0,
            "credit_line": 1500.0,
            "margin_call_model": "partial",
        },
    },
}


@pytest.mark.parametrize("case", list(EVERY_SETTING))
def test_every_setting_books_the_same(case: str, sim: tuple[SimPlan, SimChunk]) -> None:
    """Settings the compiled engine refused before it drove the core: SPAN, limited funding
    (rejections, calls, liquidation), the liquidity model, position limits — the same rows."""
    plan, chunk = sim
    config = {"broker": {"liquidity": "none"}, **EVERY_SETTING[case], "metrics": None}
    config["broker"] = {"liquidity": "none", "fill": "next_open", **config.get("broker", {})}
    python, compiled_ = both(
        lambda: SimMarket(plan, chunk, block_events=23), BusyKernel, BUSY, config
    )
    assert_identical(python, compiled_)
    details = kinds(python, "events", "detail")
    booked = kinds(python)
    if case == "SPAN margin":
        assert type(python.engine.ledger.margin).__name__ == "SpanMargin"
        assert booked["deposit"] > 10
    elif case == "limited funding with liquidation":
        assert details["insufficient funds for initial margin"] > 0
        assert details["margin call unmet by its deadline"] > 0
        assert booked["liquidation"] > 0
    elif case == "liquidity model":
        fills = python.part["journal"].filter(
            pa.compute.equal(python.part["journal"]["kind"], "fill")
        )
        frictionless = run_chunk(
            SimMarket(plan, chunk, block_events=23),
            BusyKernel,
            BUSY,
            RunSettings.model_validate(
                {**config, "broker": {"liquidity": "none", "fill": "next_open"}}
            ),
        ).part["journal"]
        plain = frictionless.filter(pa.compute.equal(frictionless["kind"], "fill"))
        assert fills.num_rows
        assert plain.num_rows
        assert not np.array_equal(fills["price"].to_numpy()[:50], plain["price"].to_numpy()[:50])
    elif case == "partial margin calls":
        assert type(python.engine.ledger.calls).__name__ == "PartialMarginCalls"
        assert details["margin call unmet by its deadline"] > 0
        assert _positions_left_by_liquidations(python) > 0
    else:
        assert details["position limit 4 exceeded"] > 0


def _positions_left_by_liquidations(run: ChunkRun) -> int:
    """How many liquidation rows left part of their position (replaying the journal's
    trades per path and contract)."""
    journal = run.part["journal"].to_pandas()
    trades = journal[journal["kind"].isin(["fill", "liquidation", "final_settlement"])]
    held = trades.groupby(["path", "contract"])["qty"].cumsum()
    return int(((trades["kind"] == "liquidation") & (held.round(9) != 0)).sum())


class AmendsLiquidation(BusyKernel):
    """A kernel strategy whose Python ``on_margin_call`` sells only half of what each due
    call proposes (rounded up), on every path."""

    seen: ClassVar[dict[str, list[Any]]] = {}

    def on_margin_call(self, ctx: Any, call: Any) -> None:
        AmendsLiquidation.seen.setdefault(self.params.label, []).append(
            (str(call.day), call.due.tolist(), call.liquidation.tolist(), call.contracts)
        )
        call.liquidation[...] = np.sign(call.liquidation) * np.ceil(np.abs(call.liquidation) / 2)


class AmendParams(BusyKernel.Params):
    label: str = "x"


AmendsLiquidation.Params = AmendParams  # type: ignore[assignment, misc]


def test_amended_liquidation_orders_book_the_same_on_both_paths(
    sim: tuple[SimPlan, SimChunk],
) -> None:
    """``on_margin_call`` sees the model's proposed liquidation orders before they execute
    (its paths' positions still held) and its amendments are what executes: the same on
    the event-by-event path and in the compiled driver, which stops inside the settlement
    for the hook and resumes it."""
    plan, chunk = sim
    AmendsLiquidation.seen.clear()
    config = {**EVERY_SETTING["limited funding with liquidation"], "metrics": None}
    config["broker"] = {"liquidity": "none", "fill": "next_open"}
    runs = []
    for runner in ("python", "compiled"):
        settings = RunSettings.model_validate({**config, "runner": runner})
        params = {**BUSY, "label": runner}
        source = SimMarket(plan, chunk, block_events=23)
        runs.append(run_chunk(source, AmendsLiquidation, params, settings))
    python, compiled_ = runs
    assert_identical(python, compiled_)
    seen = AmendsLiquidation.seen
    assert seen["python"] == seen["compiled"]
    proposals = [np.asarray(liq) for _, due, liq, _ in seen["python"] if any(due)]
    assert proposals
    assert any((np.abs(p) > 1).any() for p in proposals)
    assert _positions_left_by_liquidations(python) > 0


def test_cascading_contracts_book_the_same() -> None:
    """Quarters traded by the kernel cascade into their months on both paths, identically."""
    spec = ContractSpec(listing=ListingRule(months=3, quarters=2))
    tables = random_tables(2, 2, 150, spec=spec)
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    python, compiled_ = both(
        lambda: TableMarket(spec, tables), BusyKernel, {"seed": 5, "size": 1.0, "keep": 0.9},
        config,
    )  # fmt: skip
    assert_identical(python, compiled_)
    ledger = python.engine.ledger
    quarters = [i for i, c in enumerate(ledger.contracts) if c.cascades_into]
    assert quarters
    assert ledger.delivered[:, quarters].any()


class WithHooks(StaticKernel):
    """A kernel strategy that also acts in Python: it records what each hook sees and
    trades from ``on_settle`` and ``on_margin_call``."""

    seen: ClassVar[dict[str, list[Any]]] = {}

    def on_start(self, ctx: Any) -> None:
        WithHooks.seen.setdefault(self.params.label, []).append(("start", ctx.n_paths))

    def on_settle(self, ctx: Any) -> None:
        chain = ctx.chain
        index = ctx.index()
        WithHooks.seen[self.params.label].append(
            ("settle", str(ctx.now), float(np.nansum(index)), float(ctx.positions.sum()),
             float(np.nansum(ctx.spot("close", 3))), float(self.state.sum()))
        )  # fmt: skip
        if chain.codes and ctx.day.day % 7 == 0:  # trade from a hook: through the same core
            ctx.order(chain.codes[-1], np.where(np.arange(ctx.n_paths) % 2 == 0, 1.0, -1.0))

    def on_margin_call(self, ctx: Any, call: Any) -> None:
        WithHooks.seen[self.params.label].append(
            ("call", str(call.day), str(call.deadline), float(call.amount.sum()))
        )
        for code in ctx.chain.codes[:1]:
            ctx.target(code, np.where(call.issued, 0.0, ctx.position(code)))

    def on_end(self, ctx: Any) -> None:
        WithHooks.seen[self.params.label].append(("end", float(ctx.positions.sum())))


class HookParams(StaticKernel.Params):
    label: str = "x"


WithHooks.Params = HookParams  # type: ignore[assignment, misc]


def test_python_hooks_of_a_kernel_strategy_run_on_the_compiled_engine(
    sim: tuple[SimPlan, SimChunk],
) -> None:
    """on_start, on_settle, on_margin_call and on_end written in Python run at the same
    points with the same view on both paths, and the orders they place book the same."""
    plan, chunk = sim
    WithHooks.seen.clear()
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    runs = []
    for runner in ("python", "compiled"):
        settings = RunSettings.model_validate({**config, "runner": runner})
        params = {"contracts": 2.0, "label": runner}
        runs.append(run_chunk(SimMarket(plan, chunk, block_events=37), WithHooks, params, settings))
    python, compiled_ = runs
    assert_identical(python, compiled_)
    assert WithHooks.seen["python"] == WithHooks.seen["compiled"]
    kinds_seen = [entry[0] for entry in WithHooks.seen["compiled"]]
    assert kinds_seen[0] == "start"
    assert kinds_seen[-1] == "end"
    assert kinds_seen.count("settle") > 90
    assert kinds_seen.count("call") > 0
    assert isinstance(compiled_.engine, CompiledEngine)
    assert compiled_.engine.stats["hooks"] == kinds_seen.count("settle")


class DecidesInPython(StaticKernel):
    """A kernel strategy whose on_bar is its own Python code."""

    def on_bar(self, ctx: Any) -> None:
        pass


class PlainStrategy(Strategy):
    """Not a kernel strategy."""


@pytest.mark.parametrize(
    ("strategy", "named"),
    [
        (DecidesInPython, "decides in a Python on_bar of its own"),
        (PlainStrategy, "is not a KernelStrategy"),
    ],
)
def test_python_strategies_are_refused(
    small: dict[Kind, pa.Table], strategy: type, named: str
) -> None:
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    with pytest.raises(UnsupportedError, match=named.replace("(", r"\(").replace(")", r"\)")):
        backtest(market(small), strategy, config=config, engine="compiled")
    assert backtest(market(small), strategy, config=config).record["engine"] == "python"


def test_auto_runs_a_kernel_strategy_compiled(small: dict[Kind, pa.Table]) -> None:
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    result = backtest(market(small), StaticKernel, params={"contracts": 2.0}, config=config)
    assert result.record["engine"] == "compiled"
    assert result.record["config"]["runner"] == "auto"
    python = backtest(
        market(small), StaticKernel, params={"contracts": 2.0}, config=config, engine="python"
    )
    assert python.record["engine"] == "python"
    assert_same_table(python.journal, result.journal, "journal")


def _wrong_arity(event: int, day: int) -> None:  # pragma: no cover - never compiles
    pass


class WrongKernel(KernelStrategy):
    kernel = njit(_wrong_arity)


@pytest.mark.parametrize("runner", ["python", "compiled"])
def test_kernel_errors_name_the_strategy(small: dict[Kind, pa.Table], runner: str) -> None:
    config = {"broker": {"liquidity": "none"}, "metrics": None}
    with pytest.raises(StrategyError, match=r"'WrongKernel'.*does not compile"):
        backtest(market(small), WrongKernel, config=config, engine=runner)  # type: ignore[arg-type]
    history = {**config, "engine": {"history": 10}}
    with pytest.raises(StrategyError, match="reads 61 events of history; the engine keeps 10"):
        backtest(market(small), MinVarianceKernel, config=history, engine=runner)  # type: ignore[arg-type]


# -- the benchmark's compiled jobs -----------------------------------------------------------------


BENCH = bench.Config(
    bars=3000, window=60, exposure=100.0, paths=8, days=130, chunk_paths=5,
    scenario="baseline", seed=3,
)  # fmt: skip


def test_benchmark_compiled_jobs_agree() -> None:
    """``hedge_compiled`` against the numba baseline, ``strip_compiled`` against
    ``strip_tokbt`` (the Python engine, whose own agreement with its numba baseline
    ``tests/test_bench_engine.py`` holds)."""
    hedge = bench.hedge_compiled(BENCH)
    check = bench.check_hedge(hedge["outcome"], bench.hedge_numba(BENCH)["outcome"])
    assert check["agree"], check
    assert hedge["compile_seconds"] >= 0.0
    assert hedge["outcome"]["orders"] > BENCH.bars // 10
    strip = bench.strip_compiled(BENCH)
    check = bench.check_strip(strip["outcome"], bench.strip_tokbt(BENCH)["outcome"])
    assert check["agree"], check
    rows = {r["quantity"]: r for r in check["rows"]}
    assert rows["held"]["tokbt_mean"] == 12.0
    assert all(r["max_abs_diff"] == 0.0 for r in rows.values())  # the same bookkeeping
    assert len(strip["outcome"]["held"]) == BENCH.paths
