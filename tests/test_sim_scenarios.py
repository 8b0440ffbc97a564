"""Scenario presets, TOML round trips and overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from tokbt.sim import SCENARIOS, Regime, Scenario, load_scenario, parse_overrides, to_toml


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_presets_round_trip_through_toml(name: str) -> None:
    sc = load_scenario(name)
    assert Scenario.model_validate(tomllib.loads(to_toml(sc))) == sc


def test_required_presets_exist_and_differ() -> None:
    assert {"baseline", "demand_explosion", "supply_shock", "price_war"} <= set(SCENARIOS)
    de = load_scenario("demand_explosion")
    (regime,) = de.regimes
    daily = de.daily(1095)
    assert daily.trend[100] < 0 < daily.trend[400]  # the trend reverses upward in the regime
    assert daily.jump_rate[400] > daily.jump_rate[100]
    assert daily.price_link[400] > 0 == daily.price_link[100]
    assert regime.start_day <= 400 < regime.end_day


def test_overrides_and_errors(tmp_path: Path) -> None:
    sc = load_scenario("demand_explosion", parse_overrides(["spot.kappa=9", "regimes.0.trend=1.0"]))
    assert sc.spot.kappa == 9.0
    assert sc.regimes[0].trend == 1.0
    with pytest.raises(ValueError, match=r"spot\.kappa"):
        load_scenario("baseline", {"spot.kappa": -2})
    with pytest.raises(ValueError, match=r"spot\.kapa: unknown key \(did you mean 'kappa'\?\)"):
        load_scenario("baseline", {"spot.kapa": 2})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["kappa"])
    with pytest.raises(ValueError, match="neither a scenario"):
        load_scenario("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "nope"\n')
    with pytest.raises(ValueError, match="base 'nope'"):
        load_scenario(str(bad))


def test_regime_windows_are_validated_and_clipped() -> None:
    with pytest.raises(ValueError, match="end_day"):
        Regime(start_day=10, end_day=5)
    sc = Scenario(regimes=(Regime(start_day=5, end_day=500, trend=1.0),))
    daily = sc.daily(10)
    np.testing.assert_array_equal(daily.trend, [-0.2] * 5 + [1.0] * 5)
