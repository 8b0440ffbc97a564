"""A default never changes a result silently: each case gets its warning in the run record."""

from __future__ import annotations

import numpy as np
from test_engine_broker import JAN_5_7, MAR, Timed, flat, fut_rows, make_market, spot_rows

from strategies.no_hedge import NoHedge
from strategies.static import Static
from tokbt.engine import BrokerConfig
from tokbt.runs import backtest
from tokbt.runs.config import RunSettings
from tokbt.sim import SimMarket, SimPlan, load_scenario, simulate_paths

DEC25 = "TPI-2025-12"


def _warnings(result: object) -> list[str]:
    record = result.record  # type: ignore[attr-defined]
    warnings: list[str] = record["warnings"]
    return warnings


def _one(warnings: list[str], text: str) -> str:
    found = [w for w in warnings if text in w]
    assert len(found) == 1, warnings
    return found[0]


def test_rejected_orders_are_counted_by_reason() -> None:
    days = ["2025-12-31", *JAN_5_7]
    market = make_market(
        spot_rows(days), fut_rows(DEC25, flat(["2025-12-31"])) + fut_rows(MAR, flat(JAN_5_7))
    )
    strategy = Timed({"2026-01-06": [("order", DEC25, np.array([2.0]))]})
    result = backtest(market, strategy, config={"broker": BrokerConfig(liquidity=None)})
    text = _one(_warnings(result), "were rejected")
    assert text.startswith("1 order(s) were rejected (expired: 1)")


def test_tick_rounding_and_the_liquidity_model_are_reported_with_their_cost() -> None:
    # a bar that opens off the tick grid: 2.0004 → a buy fills at 2.001 (0.6 of a tick,
    # 3 contracts × 1,000 tokens: 1.80 USD); the default half-spread for MAR, two months
    # out in January, is 1 + 0.5 × 2 = 2 ticks: 6.00 USD more
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, {d: (2.0004, 2.0) for d in JAN_5_7}))
    strategy = Timed({"2026-01-06": [("order", MAR, np.array([3.0]))]})
    plain = backtest(market, strategy, config={"broker": BrokerConfig(liquidity=None)})
    assert _one(_warnings(plain), "tick").startswith(
        "rounding fills to the contract's tick, against each order, cost 1.80 USD"
    )
    assert not [w for w in _warnings(plain) if "liquidity" in w]
    spread = Timed({"2026-01-06": [("order", MAR, np.array([3.0]))]})
    default = backtest(market, spread, config={})  # the liquidity model is on by default
    text = _one(_warnings(default), "liquidity model")
    assert "cost 6.00 USD" in text
    assert "BrokerConfig(liquidity=None)" in text


def test_an_order_left_pending_when_the_data_ends_is_reported() -> None:
    market = make_market(spot_rows(JAN_5_7), fut_rows(MAR, flat(JAN_5_7)))
    strategy = Timed({"2026-01-08": [("order", MAR, np.array([1.0]))]})  # after the last bar
    result = backtest(market, strategy, config={"broker": BrokerConfig(liquidity=None)})
    assert "1 order(s) were still pending" in _one(_warnings(result), "pending")
    assert result.paths["fills"].to_pylist() == [0]


def test_a_hedge_that_never_trades_is_reported_and_the_baseline_is_not() -> None:
    plan = SimPlan.build(load_scenario("baseline"), 90, 1)
    chunk = simulate_paths(plan, range(3))
    settings = RunSettings(journal="totals", metrics=None)
    late = backtest(SimMarket(plan, chunk), Static, params={"start": 500}, config=settings)
    assert "Static filled no order on any path" in _one(_warnings(late), "filled no order")
    baseline = backtest(SimMarket(plan, chunk), NoHedge, config=settings)
    assert not [w for w in _warnings(baseline) if "filled no order" in w]
    traded = backtest(SimMarket(plan, chunk), Static, params={"months": 2}, config=settings)
    assert not [w for w in _warnings(traded) if "filled no order" in w]
    assert min(traded.paths["fills"].to_pylist()) > 0


def test_a_comparison_records_each_policys_warnings_and_the_report_shows_them() -> None:
    from tokbt.report import render_html, render_markdown
    from tokbt.runs.compare import CompareConfig, compare

    config = CompareConfig.model_validate(
        {
            "market": {"simulate": {"scenario": "baseline", "paths": 3, "horizon_days": 90}},
            "policies": [{"name": "no_hedge"}, {"name": "static", "params": {"months": 2}}],
            "bootstrap": {"resamples": 10},
        }
    )
    run = compare(config)
    warnings = run.record["warnings"]
    assert [w for w in warnings if w.startswith("static: the liquidity model")]
    assert not [w for w in warnings if w.startswith("no_hedge:")]
    html, markdown = render_html(run), render_markdown(run)
    assert '<ul class="warnings"' in html
    assert "static: the liquidity model" in html
    assert "**Warnings**" in markdown


def test_a_monte_carlo_run_merges_its_chunks_totals_into_the_warnings(tmp_path: object) -> None:
    from pathlib import Path

    from tokbt.runs.mc import LocalExecutor, McConfig, monte_carlo

    config = McConfig.model_validate(
        {
            "chunk_paths": 2,
            "market": {"simulate": {"scenario": "baseline", "paths": 4, "horizon_days": 90}},
            "policies": [{"name": "no_hedge"}, {"name": "static", "params": {"months": 2}}],
            "bootstrap": {"resamples": 10},
        }
    )
    run = monte_carlo(config, Path(str(tmp_path)) / "mc", executor=LocalExecutor(workers=1))
    warnings = run.record["warnings"]
    liquidity = [w for w in warnings if w.startswith("static: the liquidity model")]
    assert len(liquidity) == 1  # the two chunks' totals merged into one sentence
    assert "a path on average" in liquidity[0]
    assert not [w for w in warnings if w.startswith("no_hedge:")]
