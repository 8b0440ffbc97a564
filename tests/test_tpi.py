"""Token Price Index: recipe, price-point loading, weights and the index, checked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tokbt.market.tpi import (
    PRICE_COLUMNS,
    PricePointError,
    RecipeError,
    TPIRecipe,
    blended_price,
    build_tpi,
    cap_weights,
    load_price_points,
    load_recipe,
    tpi_components,
)

DATA = Path(__file__).resolve().parents[1] / "datasets" / "llm_prices"
HEADER = ",".join(PRICE_COLUMNS)
GOOD_ROW = "2024-01-01,acme,m1,1.00,2.00,sourced,https://example.com"


# -- blended and quality-adjusted prices ----------------------------------------------------


def test_blended_price_is_three_to_one_by_default() -> None:
    assert blended_price(30.0, 60.0) == pytest.approx((3 * 30 + 60) / 4)  # 37.5
    assert blended_price(30.0, 60.0, 1.0, 1.0) == pytest.approx(45.0)
    assert isinstance(blended_price(1.0, 2.0), float)


def test_blended_price_is_vectorised() -> None:
    out = blended_price(np.array([4.0, 2.0]), np.array([8.0, 6.0]))
    np.testing.assert_allclose(out, [5.0, 3.0])


def test_blended_price_rejects_non_positive_weights() -> None:
    with pytest.raises(ValueError, match="positive"):
        blended_price(1.0, 1.0, 0.0, 1.0)


def test_quality_adjustment_by_hand() -> None:
    # P_SIT = P * S_ref / S: a model twice as good as a SIT costs half per SIT.
    points = _frame([("2024-01-01", "a", "good", 8.0, 8.0), ("2024-01-01", "b", "plain", 6.0, 6.0)])
    recipe = _recipe(quality={"good": 2.0}, reference_quality=1.0)
    comp = tpi_components(points, recipe)
    assert comp.loc["2024-01-01", ("price", "a")] == pytest.approx(8.0 * 1.0 / 2.0)
    assert comp.loc["2024-01-01", ("price", "b")] == pytest.approx(6.0)  # unlisted: S_ref
    assert recipe.quality_of("plain") == 1.0


# -- cap_weights ---------------------------------------------------------------------------


def test_cap_weights_water_fills_the_excess() -> None:
    np.testing.assert_allclose(cap_weights(np.array([0.5, 0.3, 0.2]), 0.4), [0.4, 0.36, 0.24])


def test_cap_weights_repeats_until_no_weight_exceeds_cap() -> None:
    # round 1: 0.6 -> 0.35, others scale to 0.65*(0.25, 0.15)/0.4 = 0.40625, 0.24375;
    # round 2: 0.40625 -> 0.35, the last gets 0.30.
    np.testing.assert_allclose(cap_weights(np.array([6.0, 2.5, 1.5]), 0.35), [0.35, 0.35, 0.30])


def test_cap_weights_leaves_feasible_weights_unchanged() -> None:
    np.testing.assert_allclose(cap_weights(np.array([2.0, 3.0, 5.0]), 0.5), [0.2, 0.3, 0.5])
    np.testing.assert_allclose(cap_weights(np.array([1.0, 3.0]), None), [0.25, 0.75])


def test_cap_weights_infeasible_cap_gives_equal_weights() -> None:
    np.testing.assert_allclose(cap_weights(np.array([5.0, 1.0, 1.0]), 0.30), [1 / 3] * 3)
    np.testing.assert_allclose(cap_weights(np.array([7.0]), 0.30), [1.0])


def test_cap_weights_sums_to_one_and_respects_cap() -> None:
    out = cap_weights(np.array([10.0, 1.0, 1.0, 1.0, 1.0]), 0.30)
    assert out.sum() == pytest.approx(1.0)
    assert out.max() <= 0.30 + 1e-12
    assert out[0] == pytest.approx(0.30)
    np.testing.assert_allclose(out[1:], 0.175)


@pytest.mark.parametrize(
    ("weights", "cap"),
    [([], 0.3), ([1.0, 0.0], 0.5), ([1.0, -1.0], 0.5), ([1.0, np.nan], 0.5), ([1.0], 0.0)],
)
def test_cap_weights_rejects_bad_input(weights: list[float], cap: float) -> None:
    with pytest.raises(ValueError, match=r"weights|cap"):
        cap_weights(np.array(weights, dtype=float), cap)


@given(
    st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=25).flatmap(
        lambda w: st.tuples(st.just(w), st.floats(1.0 / len(w), 1.0))
    )
)
def test_cap_weights_properties(case: tuple[list[float], float]) -> None:
    weights, cap = np.array(case[0]), case[1]
    out = cap_weights(weights, cap)
    assert out.sum() == pytest.approx(1.0, abs=1e-12)
    assert out.max() <= cap + 1e-12
    assert np.all(out > 0)
    order = np.argsort(weights, kind="stable")
    assert np.all(np.diff(out[order]) >= -1e-12)  # a larger input never gets less


# -- build_tpi by hand -----------------------------------------------------------------------

# Provider a: a1 blends to 5.0 from Jan 1, cut to 2.5 on Jan 5; a2 (7.0) enters Jan 3.
# Provider b: b1 (2.0) enters Jan 4.
HAND = [
    ("2024-01-01", "a", "a1", 4.0, 8.0),  # (3*4 + 8)/4 = 5.0
    ("2024-01-05", "a", "a1", 2.0, 4.0),  # 2.5
    ("2024-01-03", "a", "a2", 8.0, 4.0),  # (24 + 4)/4 = 7.0
    ("2024-01-04", "b", "b1", 1.0, 5.0),  # (3 + 5)/4 = 2.0
]


def test_build_tpi_min_by_hand() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="min"))
    expected = [5.0, 5.0, 5.0, (5.0 + 2.0) / 2, (2.5 + 2.0) / 2]
    np.testing.assert_allclose(tpi.to_numpy(), expected)
    assert tpi.index[0] == pd.Timestamp("2024-01-01")
    assert tpi.index[-1] == pd.Timestamp("2024-01-05")


def test_build_tpi_mean_by_hand() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="mean"))
    a_mean = [5.0, 5.0, 6.0, 6.0, 4.75]
    expected = [a_mean[0], a_mean[1], a_mean[2], (6.0 + 2.0) / 2, (4.75 + 2.0) / 2]
    np.testing.assert_allclose(tpi.to_numpy(), expected)


def test_build_tpi_provider_weights_and_cap_by_hand() -> None:
    uncapped = build_tpi(_frame(HAND), _recipe(provider_weights={"a": 3.0}, provider_cap=None))
    assert uncapped["2024-01-05"] == pytest.approx(0.75 * 2.5 + 0.25 * 2.0)
    # the default 30 % cap is infeasible for two providers: equal weights
    default_cap = build_tpi(_frame(HAND), _recipe(provider_weights={"a": 3.0}))
    assert default_cap["2024-01-05"] == pytest.approx(0.5 * 2.5 + 0.5 * 2.0)
    capped = build_tpi(_frame(HAND), _recipe(provider_weights={"a": 3.0}, provider_cap=0.6))
    assert capped["2024-01-05"] == pytest.approx(0.6 * 2.5 + 0.4 * 2.0)
    # Jan 1-3: a alone; a one-provider index is that provider's price whatever the cap.
    assert capped["2024-01-02"] == pytest.approx(5.0)


def test_build_tpi_basket_excludes_models() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(models=("a2", "b1"), within_provider="min"))
    assert tpi.index[0] == pd.Timestamp("2024-01-03")  # first basket date
    np.testing.assert_allclose(tpi.to_numpy(), [7.0, (7.0 + 2.0) / 2, (7.0 + 2.0) / 2])


def test_build_tpi_carries_prices_flat_to_end_and_is_nan_before_data() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(), start="2023-12-30", end="2024-01-10")
    assert tpi.index.size == 12
    assert tpi[:"2023-12-31"].isna().all()
    np.testing.assert_allclose(tpi["2024-01-05":].to_numpy(), 2.25)


def test_build_tpi_series_shape() -> None:
    tpi = build_tpi(_frame(HAND), _recipe())
    assert tpi.name == "tpi"
    assert tpi.dtype == np.float64
    assert isinstance(tpi.index, pd.DatetimeIndex)
    assert tpi.index.name == "ts"
    assert tpi.index.tz is None
    assert str(tpi.index.dtype) == "datetime64[ns]"
    assert (tpi.index == tpi.index.normalize()).all()
    assert (np.diff(tpi.index.to_numpy()) == np.timedelta64(1, "D")).all()


def test_tpi_components_audit_the_index() -> None:
    comp = tpi_components(_frame(HAND), _recipe(provider_cap=None))
    assert list(comp.columns.names) == ["field", "provider"]
    weight = cast(pd.DataFrame, comp.xs("weight", axis=1, level="field"))
    price = cast(pd.DataFrame, comp.xs("price", axis=1, level="field"))
    np.testing.assert_allclose(weight.sum(axis=1), 1.0)
    assert weight.loc["2024-01-03", "b"] == 0.0
    assert price["b"].isna()["2024-01-03"]
    assert weight.loc["2024-01-04", "b"] == pytest.approx(0.5)
    rebuilt = (price.fillna(0.0) * weight).sum(axis=1)
    np.testing.assert_allclose(rebuilt, build_tpi(_frame(HAND), _recipe(provider_cap=None)))


def test_build_tpi_rejects_names_not_in_the_data() -> None:
    with pytest.raises(ValueError, match="basket models not in the price points: nope"):
        build_tpi(_frame(HAND), _recipe(models=("a1", "nope")))
    with pytest.raises(ValueError, match="quality scores"):
        build_tpi(_frame(HAND), _recipe(quality={"typo": 2.0}))
    with pytest.raises(ValueError, match="provider weights"):
        build_tpi(_frame(HAND), _recipe(provider_weights={"typo": 2.0}))


def test_build_tpi_rejects_end_before_start() -> None:
    with pytest.raises(ValueError, match="before start"):
        build_tpi(_frame(HAND), _recipe(), start="2024-01-05", end="2024-01-01")


# -- recipes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"input_weight": 0.0},
        {"output_weight": -1.0},
        {"quality": {"m": 0.0}},
        {"reference_quality": float("inf")},
        {"provider_weights": {"p": -2.0}},
        {"provider_cap": 0.0},
        {"provider_cap": 1.5},
        {"within_provider": "median"},
        {"models": ()},
        {"models": ("m", "m")},
        {"unknown_field": 1},
    ],
)
def test_recipe_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TPIRecipe.model_validate({"name": "x", "description": "y", **bad})


def test_recipe_is_frozen_and_hashable() -> None:
    recipe = _recipe(quality={"m": 2.0})
    with pytest.raises(ValidationError):
        recipe.name = "other"  # type: ignore[misc]
    assert hash(recipe) == hash(_recipe(quality={"m": 2.0}))
    assert recipe == _recipe(quality={"m": 2.0})


def test_load_recipe_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\ndescription = "y"\nprovider_cap = 2.0\n')
    with pytest.raises(RecipeError, match=r"bad\.toml.*provider_cap"):
        load_recipe(path)
    path.write_text('name = "x"\ndescription = "y"\n[quality]\nm = -1.0\n')
    with pytest.raises(RecipeError, match=r"bad\.toml.*quality\.m"):
        load_recipe(path)
    path.write_text("name = \n")
    with pytest.raises(RecipeError, match=r"bad\.toml.*not valid TOML"):
        load_recipe(path)
    with pytest.raises(RecipeError, match=r"missing\.toml"):
        load_recipe(tmp_path / "missing.toml")


# -- load_price_points ----------------------------------------------------------------------


def test_load_price_points_types_and_order(tmp_path: Path) -> None:
    path = _csv(tmp_path, "2024-02-01,acme,m1,0.50,1.00,recalled,later cut", GOOD_ROW)
    points = load_price_points(path)
    assert list(points.columns) == list(PRICE_COLUMNS)
    assert str(points["date"].dtype) == "datetime64[ns]"
    assert points["input_usd_per_m"].dtype == np.float64
    assert points["output_usd_per_m"].dtype == np.float64
    assert list(points["date"]) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ("2024-13-01,acme,m2,1,2,sourced,s", "not an ISO date"),
        ("01/02/2024,acme,m2,1,2,sourced,s", "not an ISO date"),
        ("2024-01-02,acme,m2,abc,2,sourced,s", "input_usd_per_m 'abc': not a number"),
        ("2024-01-02,acme,m2,1,,sourced,s", "output_usd_per_m '': not a number"),
        ("2024-01-02,acme,m2,0,2,sourced,s", "input_usd_per_m '0': must be > 0"),
        ("2024-01-02,acme,m2,1,-2,sourced,s", "output_usd_per_m '-2': must be > 0"),
        ("2024-01-02,acme,m2,1,2,guessed,s", "confidence 'guessed': not one of"),
        ("2024-01-02,acme,,1,2,sourced,s", "model '': must not be empty"),
        ("2024-01-02,acme,m2,1,2,sourced", "has 6 fields"),
        ("2024-01-01,acme,m1,3,4,recalled,s", "repeats (date, provider, model) of data row 1"),
    ],
)
def test_load_price_points_rejects_bad_rows(tmp_path: Path, row: str, rule: str) -> None:
    path = _csv(tmp_path, GOOD_ROW, row)
    with pytest.raises(PricePointError) as info:
        load_price_points(path)
    message = str(info.value)
    assert str(path) in message
    assert "data row 2 (CSV line 3)" in message
    assert rule in message


def test_load_price_points_rejects_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("date,provider,model,input_usd_per_m,source\n2024-01-01,a,m,1,s\n")
    with pytest.raises(PricePointError, match=r"prices\.csv.*line 1.*output_usd_per_m, confidence"):
        load_price_points(path)


def test_load_price_points_rejects_repeated_columns(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + ",model\n" + GOOD_ROW + ",m\n")
    with pytest.raises(PricePointError, match=r"prices\.csv.*repeated column\(s\) model"):
        load_price_points(path)


def test_load_price_points_counts_real_lines_past_blank_ones(tmp_path: Path) -> None:
    path = _csv(tmp_path, GOOD_ROW, "", "2024-01-02,acme,m2,1,2,maybe,s")
    with pytest.raises(PricePointError, match=r"data row 2 \(CSV line 4\)"):
        load_price_points(path)


# -- the shipped data set --------------------------------------------------------------------


def test_shipped_csv_matches_shared_copy() -> None:
    # CI clones the repository with the steering folder ``shared/`` beside it
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "llm_price_points.csv"
    if not shared.exists():
        pytest.skip("shared data directory not present")
    assert (DATA / "price_points.csv").read_bytes() == shared.read_bytes()


@pytest.mark.parametrize("name", ["gpt4_class", "market_basket"])
def test_shipped_recipes_build_a_positive_index(name: str) -> None:
    points = load_price_points(DATA / "price_points.csv")
    recipe = load_recipe(DATA / "recipes" / f"{name}.toml")
    assert recipe.name == name
    tpi = build_tpi(points, recipe)
    basket = points if recipe.models is None else points[points["model"].isin(recipe.models)]
    assert tpi.index[0] == basket["date"].min()
    assert tpi.index[-1] == points["date"].max()
    assert tpi.notna().all()
    assert (tpi > 0).all()


def test_gpt4_class_index_commoditises() -> None:
    points = load_price_points(DATA / "price_points.csv")
    tpi = build_tpi(points, load_recipe(DATA / "recipes" / "gpt4_class.toml"))
    assert tpi.index[0] == pd.Timestamp("2023-03-14")
    assert tpi["2023-03-14"] == pytest.approx(37.5)  # gpt-4-8k: (3*30 + 60)/4
    assert tpi["2023-03-14"] / tpi.iloc[-1] > 10.0


# -- helpers -----------------------------------------------------------------------------------


def _frame(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PRICE_COLUMNS[:5]))
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _recipe(**kw: object) -> TPIRecipe:
    fields: dict[str, object] = {"name": "hand", "description": "hand-made test index"}
    return TPIRecipe.model_validate({**fields, **kw})


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path
