"""Futures bars of a simulation: fair value, ticks, limits, convergence, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from tokbt.data import Kind
from tokbt.market import TPI_MONTH, ContractSpec, FinalSettlementRule
from tokbt.sim import CurveParams, SimPlan, load_scenario, simulate_paths
from tokbt.sim.params import Scenario


@pytest.fixture(scope="module")
def plan() -> SimPlan:
    return SimPlan.build(load_scenario("demand_explosion"), 500, seed=4)


@pytest.fixture(scope="module")
def chunk(plan: SimPlan):  # type: ignore[no-untyped-def]
    return simulate_paths(plan, range(40))


def test_calendar_and_listing(plan: SimPlan) -> None:
    assert plan.listed.shape[1] == 12
    assert (plan.listed >= 0).all()  # 12 serial months every exchange day
    first_day = plan.days[plan.exchange_days[0]]
    assert str(first_day) == "2026-01-01"
    assert plan.contracts[0].code == "TPI-2026-01"
    assert len(plan.exchange_days) == len(
        TPI_MONTH.calendar.business_days("2026-01-01", "2027-05-15")
    )


def test_fair_value_matches_the_curve_model_path_by_path(plan: SimPlan, chunk) -> None:  # type: ignore[no-untyped-def]
    """The kernel's series evaluation equals direct exponentials of the closed form."""
    f_day, y_day = chunk.spot.day_end(chunk.spot.f), chunk.spot.day_end(chunk.spot.y)
    rng = np.random.default_rng(0)
    for e in rng.choice(len(plan.exchange_days), 15, replace=False):
        k = int(plan.exchange_days[e])
        for slot in (0, 5, 11):
            c = int(plan.listed[e, slot])
            days = np.arange(plan.first[c], plan.last[c] + 1)
            for p in (0, 17, 39):
                fixed = [
                    chunk.index[p, d] if d >= 0 else plan.scenario.spot.s0 for d in days if d <= k
                ]
                unfixed = [
                    float(plan.curve.expected_index(f_day[p, k], y_day[p, k], k, d))
                    for d in days
                    if d > k
                ]
                # no basis noise is drawn for the unfixed part when testing: recover it
                basis = (
                    (chunk.fair[e, p, slot] * len(days) - sum(fixed)) / sum(unfixed)
                    if unfixed
                    else 1.0
                )
                assert chunk.fair[e, p, slot] == pytest.approx(
                    (sum(fixed) + basis * sum(unfixed)) / len(days), rel=1e-12
                )
                assert 0.8 < basis < 1.25  # the basis factor is a small noise


@pytest.mark.parametrize("expectations", ["persistent", "schedule"])
def test_without_basis_noise_the_fair_value_is_the_closed_form(expectations: str) -> None:
    sc = load_scenario("demand_explosion").model_copy(
        update={"curve": CurveParams(expectations=expectations)}
    )
    plan = SimPlan.build(sc, 220, seed=2)
    ch = simulate_paths(plan, range(5))
    f_day, y_day = ch.spot.day_end(ch.spot.f), ch.spot.day_end(ch.spot.y)
    for e, slot, p in ((30, 3, 2), (140, 0, 4), (150, 11, 1)):  # before / in the regime
        k, c = int(plan.exchange_days[e]), int(plan.listed[e, slot])
        days = np.arange(plan.first[c], plan.last[c] + 1)
        values = [
            ch.index[p, d] if d <= k else plan.curve.expected_index(f_day[p, k], y_day[p, k], k, d)
            for d in days
        ]
        assert ch.fair[e, p, slot] == pytest.approx(np.mean(values), rel=1e-12)


def test_settlements_are_on_the_tick_inside_the_band_and_locks_are_flagged(
    plan: SimPlan, chunk
) -> None:  # type: ignore[no-untyped-def]
    settle, locked = chunk.settle, chunk.locked
    ticks = settle / TPI_MONTH.tick_size
    np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-6)
    for c in range(len(plan.contracts)):
        e_idx, s_idx = np.nonzero(plan.listed == c)
        series = settle[e_idx, :, s_idx]  # (days listed, paths)
        lo, hi = TPI_MONTH.limit_band(series[:-1])
        assert (series[1:] >= lo - 1e-9).all()
        assert (series[1:] <= hi + 1e-9).all()
        at_limit = (np.abs(series[1:] - lo) < 1e-9) | (np.abs(series[1:] - hi) < 1e-9)
        assert not (locked[e_idx[1:], :, s_idx[1:]] & ~at_limit).any()
    assert locked.any()  # the demand explosion does lock the market some days


def test_limit_locks_match_the_unclipped_fair_value() -> None:
    sc = load_scenario("supply_shock")
    plan = SimPlan.build(sc, 400, seed=8)
    ch = simulate_paths(plan, range(30))
    e_idx, s_idx = np.nonzero(plan.listed == 5)
    fair, settle = ch.fair[e_idx, :, s_idx], ch.settle[e_idx, :, s_idx]
    locked = ch.locked[e_idx, :, s_idx]
    lo, hi = TPI_MONTH.limit_band(settle[:-1])
    rounded = TPI_MONTH.round_price(fair[1:])
    outside = (rounded < lo - 1e-9) | (rounded > hi + 1e-9)
    np.testing.assert_array_equal(locked[1:], outside)


def test_futures_converge_to_the_final_settlement_price(plan: SimPlan, chunk) -> None:  # type: ignore[no-untyped-def]
    checked_exact = 0
    for c, contract in enumerate(plan.contracts):
        ltd_e = np.flatnonzero((plan.listed == c).any(axis=1))
        if np.datetime64(contract.final_settlement_date) > plan.days[-1]:
            continue
        e_last = ltd_e[-1]
        slot = int(np.flatnonzero(plan.listed[e_last] == c)[0])
        days = np.arange(plan.first[c], plan.last[c] + 1)
        final = np.array(
            [TPI_MONTH.final_settlement_price(chunk.index[p, days]) for p in range(40)]
        )
        last_settle = chunk.settle[e_last, :, slot]
        unlocked = ~chunk.locked[e_last, :, slot]
        if contract.last_trading_day == contract.delivery_end:
            # every index day is fixed on the last trading day: exactly the final price
            np.testing.assert_array_equal(last_settle[unlocked], final[unlocked])
            checked_exact += 1
        else:
            # a weekend is still unfixed: within a few percent
            np.testing.assert_allclose(last_settle[unlocked], final[unlocked], rtol=0.05)
    assert checked_exact >= 5


def test_last_day_fixing_contracts_converge_to_the_index() -> None:
    spec = ContractSpec(final_settlement=FinalSettlementRule.LAST_DAY_FIXING)
    sc = Scenario(name="fix")
    plan = SimPlan.build(sc, 100, seed=1, spec=spec)
    ch = simulate_paths(plan, range(10))
    c = 0  # the January 2026 contract, last trading day Fri 30 Jan = day 29
    assert (plan.first[c], plan.last[c]) == (29, 29)  # a single fixing day
    e_last = np.flatnonzero((plan.listed == c).any(axis=1))[-1]
    slot = int(np.flatnonzero(plan.listed[e_last] == c)[0])
    assert plan.exchange_days[e_last] == 29
    unlocked = ~ch.locked[e_last, :, slot]
    final = np.array([spec.final_settlement_price([ch.index[p, 29]]) for p in range(10)])
    np.testing.assert_array_equal(ch.settle[e_last, unlocked, slot], final[unlocked])


def test_paths_do_not_depend_on_chunking(plan: SimPlan) -> None:
    whole = simulate_paths(plan, range(12))
    parts = [simulate_paths(plan, r) for r in (range(0, 5), range(5, 6), range(6, 12))]
    np.testing.assert_array_equal(np.concatenate([p.index for p in parts]), whole.index)
    np.testing.assert_array_equal(np.concatenate([p.settle for p in parts], axis=1), whole.settle)
    np.testing.assert_array_equal(
        np.concatenate([p.consumption.tokens for p in parts]), whole.consumption.tokens
    )
    alone = simulate_paths(plan, [7])
    np.testing.assert_array_equal(alone.settle[:, 0], whole.settle[:, 7])


def test_same_seed_same_tables_other_seed_other_paths(plan: SimPlan) -> None:
    a = simulate_paths(plan, range(3)).tables(plan)
    b = simulate_paths(plan, range(3)).tables(plan)
    for kind in Kind:
        assert a[kind].equals(b[kind])
    other = SimPlan.build(plan.scenario, plan.n_days, seed=5)
    assert not np.array_equal(
        simulate_paths(other, range(3)).index, simulate_paths(plan, range(3)).index
    )


def test_common_random_numbers_across_scenario_variants(plan: SimPlan) -> None:
    """Changing the consumption model leaves the price paths untouched (separate streams)."""
    sc = plan.scenario.model_copy(
        update={"consumption": plan.scenario.consumption.model_copy(update={"noise_sigma": 0.2})}
    )
    other = SimPlan.build(sc, plan.n_days, seed=plan.seed)
    np.testing.assert_array_equal(
        simulate_paths(other, range(3)).index, simulate_paths(plan, range(3)).index
    )


def test_consumption_rises_with_price_in_the_demand_explosion(plan: SimPlan) -> None:
    ch = simulate_paths(plan, range(200))
    sc = plan.scenario
    t = (np.arange(plan.n_days) + 1) / 365
    log_s, log_q = np.log(ch.index), np.log(ch.consumption.tokens)
    # while the regime is on (days 182..729), daily price and consumption moves co-move
    inside = np.s_[:, 250:480]
    d_s, d_q = np.diff(log_s, axis=1)[inside].ravel(), np.diff(log_q, axis=1)[inside].ravel()
    big = np.abs(d_s) > 0.1  # days with a demand jump
    assert np.corrcoef(d_s[big], d_q[big])[0, 1] > 0.5
    before = np.s_[:, 20:170]
    d_s0, d_q0 = np.diff(log_s, axis=1)[before].ravel(), np.diff(log_q, axis=1)[before].ravel()
    assert abs(np.corrcoef(d_s0, d_q0)[0, 1]) < 0.05
    np.testing.assert_allclose(
        ch.consumption.plan, sc.consumption.q0 * np.exp(sc.consumption.growth * t)
    )


def test_consumption_has_no_jump_at_the_regime_edges(plan: SimPlan) -> None:
    long_plan = SimPlan.build(plan.scenario, 800, seed=plan.seed)
    log_q = np.log(simulate_paths(long_plan, range(300)).consumption.tokens)
    steps = np.median(np.diff(log_q, axis=1), axis=0)
    for edge in (182, 730):  # first day in / first day after the regime
        assert abs(steps[edge - 1]) < 0.05, edge


def test_spot_bars_from_intraday_steps() -> None:
    sc = Scenario(name="hourly")
    plan = SimPlan.build(sc, 5, seed=1, steps_per_day=24, bars_per_day=24)
    ch = simulate_paths(plan, range(3))
    spot = ch.tables(plan)[Kind.SPOT].to_pandas()
    assert len(spot) == 5 * 24 * 3
    assert (spot["high"] >= spot[["open", "close"]].max(axis=1)).all()
    assert (spot["low"] <= spot[["open", "close"]].min(axis=1)).all()
    last_of_day = spot[spot["ts"].dt.hour == 23].sort_values(["ts", "path"])
    np.testing.assert_allclose(last_of_day["close"].to_numpy(), ch.index.T.ravel())
    daily = SimPlan.build(sc, 5, seed=1, steps_per_day=24, bars_per_day=1)
    bars = simulate_paths(daily, range(3)).tables(daily)[Kind.SPOT].to_pandas()
    hourly_high = spot.groupby([spot["ts"].dt.date, "path"])["high"].max().to_numpy()
    np.testing.assert_allclose(bars.sort_values(["ts", "path"])["high"].to_numpy(), hourly_high)
    with pytest.raises(ValueError, match="divide"):
        SimPlan.build(sc, 5, seed=1, steps_per_day=24, bars_per_day=5)
