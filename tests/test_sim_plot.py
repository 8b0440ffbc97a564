"""The simulation picture: fan quantiles and the three-panel PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import image as mpimg

from tokbt.sim import SimChunk, SimPlan, load_scenario, simulate_paths
from tokbt.sim.plot import FAN_QUANTILES, FIG_SIZE_PX, fan_quantiles, plot_simulation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(name: str, n_paths: int, n_days: int, seed: int) -> tuple[SimPlan, SimChunk]:
    plan = SimPlan.build(load_scenario(name), n_days, seed)
    return plan, simulate_paths(plan, range(n_paths))


@pytest.fixture(scope="module")
def demand() -> tuple[SimPlan, SimChunk]:
    return _run("demand_explosion", 30, 400, 1)


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 20_000
    height, width = mpimg.imread(path).shape[:2]
    assert (width, height) == FIG_SIZE_PX


# -- fan_quantiles -------------------------------------------------------------------------


def test_fan_quantiles_match_nanquantile() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=(200, 50))
    values[rng.random(values.shape) < 0.1] = np.nan
    got = fan_quantiles(values)
    assert got.shape == (len(FAN_QUANTILES), 50)
    np.testing.assert_allclose(got, np.nanquantile(values, FAN_QUANTILES, axis=0))
    q = (0.1, 0.9)
    np.testing.assert_allclose(fan_quantiles(values, q), np.nanquantile(values, q, axis=0))


def test_fan_quantiles_hand_example() -> None:
    values = np.array(
        [
            [1.0, 10.0, np.nan],
            [2.0, 20.0, np.nan],
            [3.0, np.nan, np.nan],
            [4.0, 40.0, np.nan],
            [5.0, 50.0, np.nan],
        ]
    )
    got = fan_quantiles(values, q=(0.0, 0.05, 0.5, 1.0))
    # column 0: linear interpolation on 1..5; column 1 ignores its NaN (10, 20, 40, 50);
    # column 2 is all NaN.
    expected = np.array(
        [
            [1.0, 10.0, np.nan],
            [1.2, 11.5, np.nan],
            [3.0, 30.0, np.nan],
            [5.0, 50.0, np.nan],
        ]
    )
    np.testing.assert_allclose(got, expected)


def test_fan_quantiles_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="n_paths, n_t"):
        fan_quantiles(np.arange(5.0))
    with pytest.raises(ValueError, match="quantiles"):
        fan_quantiles(np.ones((3, 2)), q=(0.5, 1.5))


# -- plot_simulation -----------------------------------------------------------------------


def test_plot_simulation_writes_png(demand: tuple[SimPlan, SimChunk], tmp_path: Path) -> None:
    plan, chunk = demand
    backend = matplotlib.get_backend()
    out = tmp_path / "nested" / "demand.png"
    got = plot_simulation(plan, chunk, str(out))
    assert got == out
    _assert_png(out)
    assert matplotlib.get_backend() == backend  # no global state changed


def test_plot_simulation_without_regimes(tmp_path: Path) -> None:
    plan, chunk = _run("baseline", 20, 200, 3)
    assert not plan.scenario.regimes
    out = plot_simulation(
        plan, chunk, tmp_path / "baseline.png", n_samples=2, curve_dates=2, title="baseline"
    )
    _assert_png(out)


def test_plot_simulation_edge_counts(demand: tuple[SimPlan, SimChunk], tmp_path: Path) -> None:
    plan, chunk = demand
    _assert_png(plot_simulation(plan, chunk, tmp_path / "zero.png", n_samples=0, curve_dates=1))
    with pytest.raises(ValueError, match="must be >= 0"):
        plot_simulation(plan, chunk, tmp_path / "bad.png", n_samples=-1)
