"""Hedging from a date: a simulation whose paths share one history up to the hedge date."""

from __future__ import annotations

import numpy as np
import pytest

from tokbt.runs.config import SimulateMarket
from tokbt.sim import SimPlan, simulate_paths
from tokbt.sim.params import DT_DAY
from tokbt.sim.scenarios import load_scenario

BRANCH = 40  # exchange days


@pytest.fixture(scope="module")
def plan() -> SimPlan:
    return SimPlan.build(load_scenario("demand_explosion", {}), 240, 11, branch_day=BRANCH)


def _spread(values: np.ndarray, axis: int) -> np.ndarray:
    return np.nanmax(values, axis=axis) - np.nanmin(values, axis=axis)


def test_paths_share_every_value_up_to_the_hedge_date(plan: SimPlan) -> None:
    chunk = simulate_paths(plan, range(6))
    shared, ex = plan.shared_days, BRANCH + 1  # calendar days; exchange days 0..BRANCH
    assert shared == plan.exchange_days[BRANCH] + 1
    np.testing.assert_array_equal(_spread(chunk.index[:, :shared], axis=0), 0.0)
    np.testing.assert_array_equal(_spread(chunk.consumption.tokens[:, :shared], axis=0), 0.0)
    for field in (chunk.settle, chunk.open, chunk.fair):
        np.testing.assert_array_equal(np.nan_to_num(_spread(field[:ex], axis=1)), 0.0)
    assert (chunk.locked[:ex] == chunk.locked[:ex, :1]).all()
    # and they diverge the next day
    assert (_spread(chunk.index[:, shared:], axis=0) > 0).all()
    assert np.nanmax(_spread(chunk.settle[ex], axis=0)) > 0


def test_a_branched_path_is_the_same_alone_or_in_a_chunk(plan: SimPlan) -> None:
    together = simulate_paths(plan, range(5))
    alone = simulate_paths(plan, [3])
    np.testing.assert_array_equal(together.index[3], alone.index[0])
    np.testing.assert_array_equal(together.settle[:, 3], alone.settle[:, 0])


def test_after_the_branch_a_path_keeps_its_own_shocks() -> None:
    """Common random numbers: a branched path is driven after the branch by the draws it
    has unbranched, so (no jumps, no cuts, pure OU) ``Y`` after the branch differs from the
    unbranched path's only through the difference at the branch, decaying by
    ``exp(−κΔ)`` a day."""
    overrides = {"spot.jump_rate": 0.0}
    sc = load_scenario("baseline", overrides)
    free = SimPlan.build(sc, 200, 5)
    branched = SimPlan.build(sc, 200, 5, branch_day=30)
    a, b = simulate_paths(free, [2]), simulate_paths(branched, [2])
    ya, yb = a.spot.y[0], b.spot.y[0]
    cut = branched.shared_days
    gap = ya[cut:] - yb[cut:]  # the same shocks: gap_{t+1} = exp(−κΔ)·gap_t
    decay = np.exp(-sc.spot.kappa * DT_DAY)
    np.testing.assert_allclose(gap[1:], decay * gap[:-1], rtol=1e-9, atol=1e-15)
    assert abs(gap[0]) > 1e-6


def test_branching_changes_the_digest_and_none_keeps_it() -> None:
    sc = load_scenario("baseline", {})
    assert SimPlan.build(sc, 100, 1).digest == SimPlan.build(sc, 100, 1, branch_day=0).digest
    assert SimPlan.build(sc, 100, 1).digest != SimPlan.build(sc, 100, 1, branch_day=10).digest


def test_a_branch_outside_the_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="branch_day"):
        SimPlan.build(load_scenario("baseline", {}), 100, 1, branch_day=99)
    with pytest.raises(ValueError, match="branch_day"):
        SimulateMarket(horizon_days=100, branch_day=100)
