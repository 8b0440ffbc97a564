"""ContractSpec defaults, validation, presets, ticks, limit bands and margin arithmetic."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tokbt.market import (
    SCU_MONTH,
    TPI_MONTH,
    ContractSpec,
    FinalSettlementRule,
    LastTradingDayRule,
    limit_band,
    load_spec,
    preset,
    round_to_tick,
)


def test_tpi_month_defaults_are_the_domain_table() -> None:
    s = TPI_MONTH
    assert s.underlying == "TPI"
    assert s.quote_unit == "USD per 1M SIT tokens"
    assert s.multiplier == 1000
    assert s.tick_size == 0.001
    assert s.listing.months == 12
    assert s.listing.quarters == 0
    assert s.listing.years == 0
    assert s.last_trading_day is LastTradingDayRule.LAST_BUSINESS_DAY
    assert s.final_settlement is FinalSettlementRule.DELIVERY_AVERAGE
    assert s.price_limit == 0.10
    assert s.initial_margin == 0.10
    assert s.maintenance_ratio == 1.10
    assert s.currency == "USD"
    assert s.calendar.kind == "weekdays"


def test_assumptions_are_labelled_in_the_field_documentation() -> None:
    fields = ContractSpec.model_fields
    for name in ("quote_unit", "multiplier", "tick_size", "last_trading_day"):
        assert "[assumption" in (fields[name].description or ""), name


def test_scu_month_is_a_gpu_hour_future() -> None:
    assert SCU_MONTH.root == "SCU"
    assert "GPU-hour" in SCU_MONTH.quote_unit
    assert SCU_MONTH.tick_size == 0.01
    assert SCU_MONTH.contract("SCU-2026-06").last_trading_day.isoformat() == "2026-06-30"
    assert preset("scu_month") is SCU_MONTH
    with pytest.raises(KeyError, match="tpi_month"):
        preset("nope")


def test_spec_is_frozen_and_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ContractSpec(multiplyer=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        TPI_MONTH.multiplier = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("multiplier", 0),
        ("tick_size", -0.001),
        ("price_limit", 1.5),
        ("initial_margin", 0),
        ("maintenance_ratio", 0.9),
        ("root", "tpi"),
        ("currency", "dollars"),
    ],
)
def test_out_of_range_fields_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        ContractSpec(**{field: value})


def test_spec_json_round_trip() -> None:
    assert ContractSpec.model_validate_json(TPI_MONTH.model_dump_json()) == TPI_MONTH


def test_load_spec_from_toml_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "c.toml"
    good.write_text(
        '[contract]\nroot = "TPX"\ninitial_margin = 0.12\n[contract.listing]\nmonths = 6\n'
    )
    spec = load_spec(str(good))
    assert (spec.root, spec.initial_margin, spec.listing.months) == ("TPX", 0.12, 6)
    bad = tmp_path / "bad.toml"
    bad.write_text("initial_margin = 2.0\nfoo = 1\n")
    with pytest.raises(ValueError, match=r"bad\.toml.*initial_margin.*foo"):
        load_spec(str(bad))
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"tick_size": 0.005}))
    assert load_spec(str(js)).tick_size == 0.005
    with pytest.raises(ValueError, match="neither a contract preset"):
        load_spec("missing.toml")


@pytest.mark.parametrize(
    ("price", "mode", "expected"),
    [
        (1.2345, "nearest", 1.235),  # a half rounds up despite 1.2345 being 1.23449999.. in binary
        (1.2344999, "nearest", 1.234),
        (0.30000000000000004, "nearest", 0.3),
        (1.2349, "down", 1.234),
        (1.2341, "up", 1.235),
        (1.234, "up", 1.234),  # on the grid: stays
        (1.234, "down", 1.234),
    ],
)
def test_round_to_tick(price: float, mode: str, expected: float) -> None:
    assert round_to_tick(price, 0.001, mode) == expected  # type: ignore[arg-type]


def test_round_to_tick_is_vectorised_and_keeps_nan() -> None:
    out = round_to_tick(np.array([1.0004, np.nan, 2.0006]), 0.001)
    np.testing.assert_array_equal(out, [1.0, np.nan, 2.001])
    assert round_to_tick(7.3, 0.25) == 7.25
    with pytest.raises(ValueError, match="positive"):
        round_to_tick(1.0, 0.0)


@given(
    st.floats(min_value=1e-3, max_value=1e4, allow_nan=False),
    st.sampled_from([0.001, 0.005, 0.01, 0.25]),
)
def test_rounded_prices_are_on_the_grid_and_within_half_a_tick(price: float, tick: float) -> None:
    r = round_to_tick(price, tick)
    assert abs(r - price) <= tick / 2 + 1e-9
    assert abs(r / tick - round(r / tick)) < 1e-6
    assert round_to_tick(r, tick) == r  # idempotent


def test_limit_band_by_hand() -> None:
    lo, hi = TPI_MONTH.limit_band(2.0)
    assert (float(lo), float(hi)) == (1.8, 2.2)
    lo, hi = TPI_MONTH.limit_band(np.array([1.234]))
    # 1.234 * 0.9 = 1.1106 -> up to 1.111; 1.234 * 1.1 = 1.3574 -> down to 1.357
    assert (lo.tolist(), hi.tolist()) == ([1.111], [1.357])


def test_limit_band_allows_a_tick_each_way_near_the_tick_floor() -> None:
    # 10 % of 0.009 is less than a tick: the band still lets the price move one tick
    lo, hi = TPI_MONTH.limit_band(0.009)
    assert (float(lo), float(hi)) == (0.008, 0.010)
    lo, hi = TPI_MONTH.limit_band(np.array([0.002, 0.05]))
    assert lo.tolist() == [0.001, 0.045]
    assert hi.tolist() == [0.003, 0.055]


def test_limit_band_never_goes_below_one_tick_and_none_means_unlimited() -> None:
    lo, hi = limit_band(0.001, 0.10, 0.001)
    assert float(lo) == 0.001
    lo, hi = limit_band(5.0, None, 0.001)
    assert float(lo) == 0.001
    assert np.isinf(hi)


@given(st.floats(min_value=0.01, max_value=1000.0))
def test_band_prices_are_within_the_limit(prev: float) -> None:
    lo, hi = TPI_MONTH.limit_band(prev)
    assert float(lo) >= prev * 0.9 - 1e-9
    assert float(hi) <= prev * 1.1 + 1e-9
    assert float(lo) <= float(hi)


def test_notional_and_margins() -> None:
    # 3 contracts at $2.50 per 1M tokens x 1000: notional 7,500; IM 10% = 750; MM = 750/1.1
    assert float(TPI_MONTH.notional(2.5, -3)) == 7500.0
    assert float(TPI_MONTH.initial_margin_for(2.5, 3)) == pytest.approx(750.0)
    assert float(TPI_MONTH.maintenance_margin_for(2.5, 3)) == pytest.approx(750.0 / 1.1)
    np.testing.assert_allclose(
        TPI_MONTH.initial_margin_for(np.array([1.0, 2.0]), np.array([1, -2])), [100.0, 400.0]
    )
