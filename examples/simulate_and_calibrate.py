"""Simulate the paper's demand-explosion scenario, look at it, and calibrate the model back.

Run: ``python examples/simulate_and_calibrate.py [OUT_DIR]`` (default: a temporary folder).
It writes 500 paths into a store, draws a fan chart (``OUT_DIR/demand_explosion.png``),
compares the futures curve at the start with the Monte Carlo mean of the index, and fits
the spot model to one long simulated path of the baseline (whose truth is known).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tokbt.data import BarStore, Feed
from tokbt.sim import SimPlan, load_scenario, simulate_paths, write_simulation
from tokbt.sim.calibrate import calibrate
from tokbt.sim.plot import plot_simulation


def main(out: Path) -> None:
    scenario = load_scenario("demand_explosion")
    plan = SimPlan.build(scenario, n_days=1095, seed=7)
    with BarStore(out / "example.duckdb") as store:
        summary = write_simulation(store, "demand_explosion", plan, 500, replace=True)
        feed = Feed(store, "demand_explosion")
        print(
            f"wrote {summary.paths} paths x {summary.days} days "
            f"({summary.rows[next(iter(summary.rows))]:,} spot rows, {summary.storage}) "
            f"in {summary.seconds:.1f} s; feed: {len(feed.events)} events, "
            f"{len(feed.contracts)} contracts"
        )
    sample = simulate_paths(plan, range(500))  # bit-identical to what was stored
    print(f"fan chart: {plot_simulation(plan, sample, out / 'demand_explosion.png')}")

    index = sample.index
    front = sample.settle[0, :, :]  # every listed contract's first settlement, per path
    print(
        "\nday-1 settlement (mean over paths) vs mean index over the contract's month\n"
        "(persistent expectations: the market does not see the demand explosion coming):"
    )
    for slot in (0, 5, 11):
        c = plan.listed[0, slot]
        days = np.arange(plan.first[c], plan.last[c] + 1)
        if days[-1] < plan.n_days:
            realised = index[:, days].mean()
            print(f"  {plan.contracts[c].code}: {front[:, slot].mean():.3f} vs {realised:.3f}")

    truth = load_scenario("baseline", {"spot.cut_rate": 0.0})
    long_plan = SimPlan.build(truth, n_days=3650, seed=3)
    fit = calibrate(simulate_paths(long_plan, [0]).index[0], method="mle")
    print("\nMLE on 10 years of one baseline path (truth in brackets):")
    for name in ("kappa", "sigma", "trend", "jump_rate", "jump_mean", "jump_std"):
        true = getattr(truth.spot, name)
        print(f"  {name:9s} {getattr(fit, name):8.3f} ± {fit.std_errors[name]:.3f}  [{true}]")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
