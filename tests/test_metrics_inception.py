"""Costs from the hedge date and their seven parts (``Inception``, ``tokbt.metrics.decompose``)."""

from __future__ import annotations

import numpy as np
import pytest

from strategies.static import Static
from tokbt.engine import BrokerConfig
from tokbt.ledger import LedgerConfig
from tokbt.market import load_spec
from tokbt.metrics.decompose import COMPONENTS, CROSS, AfterInception, decompose, variance_shares
from tokbt.runs import RunSettings, backtest
from tokbt.sim import SimMarket, SimPlan, load_scenario, simulate_paths

# -- a hand-built case: 3 paths, 2 months of 2 days, hedge date before day 0 -------------------

# days 0-1 are month A (listed on the hedge date), days 2-3 month B (not listed)
PLAN = np.array([[10.0, 10, 10], [10, 10, 10], [20, 20, 20], [20, 20, 20]])
TOKENS = np.array([[10.0, 12, 8], [10, 11, 10], [20, 20, 25], [20, 18, 20]])
PRICE = np.array([[1.0, 2, 3], [3, 2, 1], [2, 4, 6], [2, 4, 6]])  # price paid = index (μ = b = 0)
F_A = np.array([1.5, 1.5, 1.5])  # month A's price on the hedge date
HELD_A = np.array([20.0, 10.0, 20.0])  # tokens month A's final settlement delivered
PNL = np.array([[5.0, 1.0], [0.5, -2.0], [10.0, 8.0]])  # futures P&L after t0: A, B
FRICTIONS = np.array([0.25, 0.0, 1.0])


def _case() -> AfterInception:
    return AfterInception(
        spend=TOKENS * PRICE,
        tokens=TOKENS,
        plan=PLAN,
        t0=-1,
        months=np.array([[0, 1], [2, 3]]),
        listed_price=np.column_stack([F_A, np.full(3, np.nan)]),
        pnl=PNL,
        delivered=np.column_stack([HELD_A, np.zeros(3)]),
        frictions=FRICTIONS,
        markup=0.0,
        basis=0.0,
    )


def test_each_part_is_its_hand_computed_value() -> None:
    parts = decompose(_case())
    avg_a = np.array([2.0, 2.0, 2.0])  # month A's average index on each path
    avg_b = np.array([2.0, 4.0, 6.0])
    p_a, p_b = 20.0, 40.0
    expected = {
        "cost_locked": p_a * F_A,  # 30 on every path
        "cost_hedge": HELD_A * (avg_a - F_A) - PNL[:, 0],  # [10, 5, 10] - [5, .5, 10]
        "cost_ratio": (p_a - HELD_A) * (avg_a - F_A),  # [0, 5, 0]
        # plan-weighted vs plain average: A's plan is flat, so A adds nothing; so is B's
        "cost_basis": np.zeros(3),
        "cost_timing": p_b * avg_b - PNL[:, 1],  # [80, 160, 240] - [1, -2, 8]
        "cost_quantity": ((TOKENS - PLAN) * PRICE).sum(axis=0),  # [0, 4 + 2 - 8, -6 + 30]
        "cost_frictions": FRICTIONS,
    }
    np.testing.assert_allclose(expected["cost_hedge"], [5.0, 4.5, 0.0])
    np.testing.assert_allclose(expected["cost_quantity"], [0.0, -2.0, 24.0])
    np.testing.assert_allclose(expected["cost_timing"], [79.0, 162.0, 232.0])
    for name in COMPONENTS:
        np.testing.assert_allclose(parts[name], expected[name], rtol=0, atol=1e-12, err_msg=name)
    hedged = (TOKENS * PRICE).sum(axis=0) - PNL.sum(axis=1) + FRICTIONS
    np.testing.assert_allclose(sum(parts.values()), hedged, rtol=0, atol=1e-12)


def test_variance_shares_are_the_hand_computed_ratios_and_add_to_one() -> None:
    parts = decompose(_case())
    hedged = sum(parts.values())
    shares = variance_shares(parts, hedged)
    var_h = np.var(hedged, ddof=1)
    assert shares["cost_locked"] == 0.0
    assert shares["cost_timing"] == pytest.approx(np.var([79.0, 162.0, 232.0], ddof=1) / var_h)
    assert shares["cost_quantity"] == pytest.approx(np.var([0.0, -2.0, 24.0], ddof=1) / var_h)
    assert shares["cost_ratio"] == pytest.approx(np.var([0.0, 5.0, 0.0], ddof=1) / var_h)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-9)
    covariance = np.cov(np.array([parts[c] for c in COMPONENTS]), ddof=1)
    off_diagonal = covariance.sum() - np.trace(covariance)
    assert shares[CROSS] == pytest.approx(off_diagonal / var_h, abs=1e-12)


def test_a_markup_and_an_uneven_plan_go_to_basis() -> None:
    case = _case()
    markup, basis = 0.2, 0.1
    spend = TOKENS * (PRICE * (1 + markup) + basis)
    plan = PLAN.copy()
    plan[0] = 5.0  # month A's plan uneven: weighted unlike the settlement's plain average
    changed = {"spend": spend, "plan": plan, "markup": markup, "basis": basis}
    parts = decompose(AfterInception(**{**case.__dict__, **changed}))
    p_a = 15.0
    paid = PRICE * (1 + markup) + basis
    exposure_a = (plan[:2] * paid[:2]).sum(axis=0)
    avg_a = PRICE[:2].mean(axis=0)
    at_average = p_a * ((1 + markup) * avg_a + basis)
    expected_basis = markup * p_a * (avg_a - F_A) + exposure_a - at_average
    np.testing.assert_allclose(parts["cost_basis"], expected_basis, atol=1e-12)
    hedged = spend.sum(axis=0) - PNL.sum(axis=1) + FRICTIONS
    np.testing.assert_allclose(sum(parts.values()), hedged, atol=1e-12)


# -- on the engine ------------------------------------------------------------------------------

HORIZON = 740  # 2026-01-01 .. 2028-01-10


def _static_from_day_zero(paths: int) -> tuple[SimPlan, object, object]:
    """Deterministic consumption (the plan exactly), no basis, 36 months listed, static 1:1
    from the first day in fractional contracts, no costs of trading or funding."""
    scenario = load_scenario(
        "baseline",
        {
            "consumption.noise_sigma": 0.0,
            "consumption.price_link": 0.0,
            "consumption.plan": "expected",
            "curve.basis_sigma": 0.0,
        },
    )
    spec = load_spec(scenario.contract)
    spec = spec.model_copy(
        update={"listing": spec.listing.model_copy(update={"months": 36}), "price_limit": None}
    )
    plan = SimPlan.build(scenario, HORIZON, 21, spec=spec)
    chunk = simulate_paths(plan, range(paths))
    settings = RunSettings(
        broker=BrokerConfig(liquidity=None, whole_contracts=False),
        ledger=LedgerConfig(),
        journal="totals",
    )
    result = backtest(
        SimMarket(plan, chunk),
        Static,
        params={"start": 0, "months": 23, "whole_contracts": False},
        config=settings,
    )
    return plan, chunk, result


def _oracle(plan: SimPlan, chunk: object) -> tuple[np.ndarray, np.ndarray]:
    """The unhedged and hedged cost after the first day, from the simulated arrays alone.

    With consumption equal to the plan, no basis and fills at the first day's settlement
    ``F_m`` of each month ``m`` bought (Feb 2026 … Dec 2027), a path pays ``U = Σ_{d>0}
    p_d I_d`` for its tokens and gets back ``Σ_m P_m (FSP_m − F_m)`` from the futures, with
    ``P_m`` the month's plan and ``FSP_m`` its average index rounded to the tick:
    ``H = U − Σ_m P_m (FSP_m − F_m)``.
    """
    index = chunk.index  # (paths, days)
    tokens = chunk.consumption.plan  # (days,)
    unhedged = (index[:, 1:] * tokens[1:]).sum(axis=1)
    futures = np.zeros(len(index))
    tick = plan.spec.tick_size
    months = plan.days.astype("datetime64[M]")
    for c, contract in enumerate(plan.contracts):
        month = np.datetime64(contract.delivery_start, "M")
        if not (np.datetime64("2026-02") <= month <= np.datetime64("2027-12")):
            continue
        in_month = months == month
        fsp = np.round(index[:, in_month].mean(axis=1) / tick) * tick
        slot = int(np.flatnonzero(plan.listed[0] == c)[0])
        entry = chunk.settle[0, :, slot]
        futures += tokens[in_month].sum() * (fsp - entry)
    return unhedged, unhedged - futures


def test_static_from_day_zero_matches_its_closed_form_and_removes_most_of_the_risk() -> None:
    plan, chunk, result = _static_from_day_zero(60)
    columns = result.metrics.columns  # type: ignore[attr-defined]
    unhedged, hedged = _oracle(plan, chunk)
    np.testing.assert_allclose(columns["unhedged_cost_after"], unhedged, rtol=1e-12)
    np.testing.assert_allclose(columns["hedged_cost_after"], hedged, rtol=1e-9, atol=1e-6)
    expected_vr = 1 - np.std(hedged, ddof=1) / np.std(unhedged, ddof=1)
    evaluation = result.evaluation(resamples=10)  # type: ignore[attr-defined]
    measured = float(evaluation.summary.set_index("metric").loc["vr_std_after", "value"])
    assert measured == pytest.approx(expected_vr, abs=1e-9)
    assert expected_vr >= 0.9
    parts = {c: columns[c] for c in COMPONENTS}
    np.testing.assert_allclose(sum(parts.values()), columns["hedged_cost_after"], atol=1e-6)
    assert np.all(parts["cost_quantity"] == 0.0)


def test_a_branched_run_locks_the_same_cost_on_every_path() -> None:
    scenario = load_scenario("demand_explosion", {})
    plan = SimPlan.build(scenario, 400, 4, branch_day=30)
    chunk = simulate_paths(plan, range(30))
    settings = RunSettings(broker=BrokerConfig(fee_per_contract=0.5), journal="totals")
    params = {"start": 30, "months": 10}
    result = backtest(SimMarket(plan, chunk), Static, params=params, config=settings)
    columns = result.metrics.columns  # type: ignore[attr-defined]
    assert np.ptp(columns["cost_locked"]) == 0.0
    assert columns["cost_locked"][0] > 0
    parts = sum(columns[c] for c in COMPONENTS)
    np.testing.assert_allclose(parts, columns["hedged_cost_after"], rtol=1e-12, atol=1e-6)
    # before the hedge date every path paid the same: the horizon cost's spread is the after's
    spread = columns["unhedged_cost"] - columns["unhedged_cost_after"]
    assert np.ptp(spread) == pytest.approx(0.0, abs=1e-6)
