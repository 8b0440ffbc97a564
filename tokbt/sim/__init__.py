"""Simulated token markets: the spot index, the futures curve and the hedger's consumption.

``ln S_t = f(t) + Y_t`` with Y a mean-reverting (OU) process with
compound-Poisson jumps, simulated exactly; futures from the closed-form
forward curve averaged over delivery days; consumption linked to price in a
demand explosion; model-implied futures on a recorded index
(``implied_market``). See ``tokbt.sim.scenarios`` for the presets and their
assumptions.
"""

from tokbt.sim.curve import CurveModel
from tokbt.sim.implied import implied_market
from tokbt.sim.market import SimMarket
from tokbt.sim.params import (
    DT_DAY,
    ConsumptionParams,
    CurveParams,
    CutSizes,
    DailyParams,
    Regime,
    Scenario,
    SpotParams,
)
from tokbt.sim.rng import Stream, path_rng
from tokbt.sim.scenarios import SCENARIOS, load_scenario, parse_overrides, scenario_names, to_toml
from tokbt.sim.simulate import (
    SimChunk,
    SimPlan,
    SimSummary,
    chunks,
    simulate_paths,
    write_simulation,
)
from tokbt.sim.spot import SpotPaths, simulate_spot

__all__ = [
    "DT_DAY",
    "SCENARIOS",
    "ConsumptionParams",
    "CurveModel",
    "CurveParams",
    "CutSizes",
    "DailyParams",
    "Regime",
    "Scenario",
    "SimChunk",
    "SimMarket",
    "SimPlan",
    "SimSummary",
    "SpotParams",
    "SpotPaths",
    "Stream",
    "chunks",
    "implied_market",
    "load_scenario",
    "parse_overrides",
    "path_rng",
    "scenario_names",
    "simulate_paths",
    "simulate_spot",
    "to_toml",
    "write_simulation",
]
