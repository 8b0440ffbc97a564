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
    COMPONENT_FIELDS,
    PRICE_COLUMNS,
    PricePointError,
    RecipeError,
    TPIRecipe,
    blended_price,
    build_tpi,
    cap_weights,
    chain_link,
    link_terms,
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
# The tests of this section check the unlinked weighted mean (linking = "none"), which moves
# when b enters on Jan 4 (and, under "mean", when a2 joins a's mean on Jan 3); the
# chain-linked index of the same data is checked in the next section.
HAND = [
    ("2024-01-01", "a", "a1", 4.0, 8.0),  # (3*4 + 8)/4 = 5.0
    ("2024-01-05", "a", "a1", 2.0, 4.0),  # 2.5
    ("2024-01-03", "a", "a2", 8.0, 4.0),  # (24 + 4)/4 = 7.0
    ("2024-01-04", "b", "b1", 1.0, 5.0),  # (3 + 5)/4 = 2.0
]


def test_build_tpi_min_by_hand() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="min", linking="none"))
    expected = [5.0, 5.0, 5.0, (5.0 + 2.0) / 2, (2.5 + 2.0) / 2]
    np.testing.assert_allclose(tpi.to_numpy(), expected)
    assert tpi.index[0] == pd.Timestamp("2024-01-01")
    assert tpi.index[-1] == pd.Timestamp("2024-01-05")


def test_build_tpi_mean_by_hand() -> None:
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="mean", linking="none"))
    a_mean = [5.0, 5.0, 6.0, 6.0, 4.75]
    expected = [a_mean[0], a_mean[1], a_mean[2], (6.0 + 2.0) / 2, (4.75 + 2.0) / 2]
    np.testing.assert_allclose(tpi.to_numpy(), expected)


def test_build_tpi_provider_weights_and_cap_by_hand() -> None:
    a3 = {"a": 3.0}
    uncapped = build_tpi(_frame(HAND), _unlinked(provider_weights=a3, provider_cap=None))
    assert uncapped["2024-01-05"] == pytest.approx(0.75 * 2.5 + 0.25 * 2.0)
    # the default 30 % cap is infeasible for two providers: equal weights
    default_cap = build_tpi(_frame(HAND), _unlinked(provider_weights=a3))
    assert default_cap["2024-01-05"] == pytest.approx(0.5 * 2.5 + 0.5 * 2.0)
    capped = build_tpi(_frame(HAND), _unlinked(provider_weights=a3, provider_cap=0.6))
    assert capped["2024-01-05"] == pytest.approx(0.6 * 2.5 + 0.4 * 2.0)
    # Jan 1-3: a alone; a one-provider index is that provider's price whatever the cap.
    assert capped["2024-01-02"] == pytest.approx(5.0)


def test_build_tpi_basket_excludes_models() -> None:
    tpi = build_tpi(_frame(HAND), _unlinked(models=("a2", "b1"), within_provider="min"))
    assert tpi.index[0] == pd.Timestamp("2024-01-03")  # first basket date
    np.testing.assert_allclose(tpi.to_numpy(), [7.0, (7.0 + 2.0) / 2, (7.0 + 2.0) / 2])


def test_build_tpi_carries_prices_flat_to_end_and_is_nan_before_data() -> None:
    tpi = build_tpi(_frame(HAND), _unlinked(), start="2023-12-30", end="2024-01-10")
    assert tpi.index.size == 12
    assert tpi[:"2023-12-31"].isna().all()
    np.testing.assert_allclose(tpi["2024-01-05":].to_numpy(), 2.25)
    chained = build_tpi(_frame(HAND), _recipe(), start="2023-12-30", end="2024-01-10")
    assert chained[:"2023-12-31"].isna().all()
    np.testing.assert_allclose(chained["2024-01-05":].to_numpy(), 5.0 * 2.25 / 3.5)


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
    assert list(comp.columns.get_level_values("field").unique()) == list(COMPONENT_FIELDS)
    assert list(comp.columns.names) == ["field", "provider"]
    weight = cast(pd.DataFrame, comp.xs("weight", axis=1, level="field"))
    price = cast(pd.DataFrame, comp.xs("price", axis=1, level="field"))
    np.testing.assert_allclose(weight.sum(axis=1), 1.0)
    assert weight.loc["2024-01-03", "b"] == 0.0
    assert price["b"].isna()["2024-01-03"]
    assert weight.loc["2024-01-04", "b"] == pytest.approx(0.5)
    rebuilt = (price.fillna(0.0) * weight).sum(axis=1)
    np.testing.assert_allclose(rebuilt, build_tpi(_frame(HAND), _unlinked(provider_cap=None)))


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


# -- chain-linking by hand -----------------------------------------------------------------
# A model priced x for input and output blends to x whatever the blend weights.


def test_chain_first_day_is_the_unlinked_weighted_mean() -> None:
    for within in ("min", "mean"):
        chained = build_tpi(_frame(HAND), _recipe(within_provider=within))
        unlinked = build_tpi(_frame(HAND), _unlinked(within_provider=within))
        assert chained.iloc[0] == unlinked.iloc[0] == 5.0
    two = [("2024-01-01", "a", "a1", 4.0, 4.0), ("2024-01-01", "b", "b1", 10.0, 10.0)]
    uneven = _recipe(provider_weights={"a": 2.0}, provider_cap=None)
    assert build_tpi(_frame(two), uneven).iloc[0] == pytest.approx(2 / 3 * 4.0 + 1 / 3 * 10.0)
    # "mean" links model by model; the first level is still the providers' mean, to the bit
    many = [*two, *[("2024-01-01", "a", f"a{i}", x, x) for i, x in ((2, 0.1), (3, 0.7), (4, 0.2))]]
    for kw in ({}, {"provider_weights": {"a": 3.0}, "provider_cap": None}):
        chained = build_tpi(_frame(many), _recipe(within_provider="mean", **kw))
        assert (
            chained.iloc[0]
            == build_tpi(_frame(many), _unlinked(within_provider="mean", **kw)).iloc[0]
        )


def test_chain_entry_at_a_higher_price_leaves_the_index_unchanged() -> None:
    # a alone from Jan 1; b enters on Jan 3 at 2.5x a's price, c on Jan 4. With weights 3:1:1
    # capped at 0.5 the weights go 1 -> (0.5, 0.5) -> (0.5, 0.25, 0.25): the cap binds on
    # Jan 3 and the entry of c unbinds it on Jan 4. None of it moves the chained index.
    rows = [
        ("2024-01-01", "a", "a1", 4.0, 4.0),
        ("2024-01-03", "b", "b1", 10.0, 10.0),
        ("2024-01-04", "c", "c1", 12.0, 12.0),
    ]
    kw: dict[str, object] = {"provider_weights": {"a": 3.0}, "provider_cap": 0.5}
    chained = build_tpi(_frame(rows), _recipe(**kw), end="2024-01-05")
    assert chained.tolist() == [4.0] * 5  # exactly: the link on an entry day is 1.0
    unlinked = build_tpi(_frame(rows), _unlinked(**kw), end="2024-01-05")
    np.testing.assert_allclose(unlinked.to_numpy(), [4.0, 4.0, 7.0, 0.5 * 4 + 0.25 * 22, 7.5])
    weight = _field(tpi_components(_frame(rows), _recipe(**kw)), "weight")
    np.testing.assert_allclose(weight.loc["2024-01-03"], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(weight.loc["2024-01-04"], [0.5, 0.25, 0.25])


def test_chain_price_cut_moves_the_index_by_the_weighted_relative() -> None:
    # Weights a:b:c = 2:1:1, no cap. Jan 1: a 4, b 10 (weights 2/3, 1/3): level 6.
    # Jan 2: c enters at 12 (weights 1/2, 1/4, 1/4): level stays 6 (the mean jumps to 7.5).
    # Jan 3: b cut 10 -> 5. The link uses Jan 2's weights:
    #   TPI(3)/TPI(2) - 1 = w_b (5 - 10) / (w_a·4 + w_b·10 + w_c·12) = 0.25·(-5)/7.5 = -1/6.
    rows = [
        ("2024-01-01", "a", "a1", 4.0, 4.0),
        ("2024-01-01", "b", "b1", 10.0, 10.0),
        ("2024-01-02", "c", "c1", 12.0, 12.0),
        ("2024-01-03", "b", "b1", 5.0, 5.0),
    ]
    kw: dict[str, object] = {"provider_weights": {"a": 2.0}, "provider_cap": None}
    tpi = build_tpi(_frame(rows), _recipe(**kw))
    assert tpi["2024-01-01"] == pytest.approx(6.0, rel=1e-12, abs=0)
    assert tpi["2024-01-02"] == tpi["2024-01-01"]
    expected = 0.25 * (5.0 - 10.0) / (0.5 * 4.0 + 0.25 * 10.0 + 0.25 * 12.0)
    assert tpi["2024-01-03"] / tpi["2024-01-02"] - 1 == pytest.approx(expected, rel=1e-12, abs=0)
    assert tpi["2024-01-03"] == pytest.approx(5.0, rel=1e-12, abs=0)
    # the same cut moves the unlinked mean by the same relative, from its jumped level
    unlinked = build_tpi(_frame(rows), _unlinked(**kw))
    assert unlinked["2024-01-03"] / unlinked["2024-01-02"] - 1 == pytest.approx(expected, rel=1e-12)


def test_chain_exit_leaves_the_index_unchanged() -> None:
    # The price points never delist a model, so an exit is checked on chain_link itself.
    # Day 1: x 4, y 10, z 12 at 1/3 each: 26/3. Day 2: z leaves. Day 3: x cut to 2; the link
    # uses day 2's weights (1/2, 1/2): (2 + 10)/(4 + 10).
    price = _days([[4.0, 10.0, 12.0], [4.0, 10.0, np.nan], [2.0, 10.0, np.nan]])
    weight = _days([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    level = chain_link(price, weight)
    assert level.iloc[0] == pytest.approx(26 / 3, rel=1e-12)
    assert level.iloc[1] == level.iloc[0]
    assert level.iloc[2] == pytest.approx(26 / 3 * 12 / 14, rel=1e-12)


def test_chain_uses_the_previous_days_weights_when_a_price_moves_on_an_exit_day() -> None:
    # Day 1: x 4, y 10, z 12 weighing 0.5, 0.25, 0.25 (3:1:1 capped at 0.5): 7.5. Day 2: z
    # leaves (the cap binds: 0.5, 0.5) and x is cut to 2. x and y are priced on both days; the
    # link weighs them as on day 1: (0.5·2 + 0.25·10)/(0.5·4 + 0.25·10) = 3.5/4.5 (day 2's
    # weights would give (0.5·2 + 0.5·10)/(0.5·4 + 0.5·10) = 6/7).
    price = _days([[4.0, 10.0, 12.0], [2.0, 10.0, np.nan]])
    weight = _days([[0.5, 0.25, 0.25], [0.5, 0.5, 0.0]])
    level = chain_link(price, weight)
    assert level.iloc[0] == 7.5
    assert level.iloc[1] == pytest.approx(7.5 * 3.5 / 4.5, rel=1e-12, abs=0)
    share, relative = link_terms(price, weight)
    np.testing.assert_allclose(share.iloc[1], [2.0 / 4.5, 2.5 / 4.5, 0.0], rtol=1e-12)
    np.testing.assert_allclose(relative.iloc[1], [0.5, 1.0, np.nan])
    np.testing.assert_array_equal(share.iloc[0], [0.0, 0.0, 0.0])


def test_chain_uses_the_previous_days_weights_when_a_price_moves_on_an_entry_day() -> None:
    # Weights 3:1:1 capped at 0.5. Jan 1: a 4, b 10 at (0.5, 0.5): 7. Jan 2: c enters at 12
    # (weights 0.5, 0.25, 0.25) and b is cut to 5; the link is Jan 1's basket repriced:
    # (0.5·4 + 0.5·5)/(0.5·4 + 0.5·10) = 4.5/7, so TPI = 4.5.
    rows = [
        ("2024-01-01", "a", "a1", 4.0, 4.0),
        ("2024-01-01", "b", "b1", 10.0, 10.0),
        ("2024-01-02", "b", "b1", 5.0, 5.0),
        ("2024-01-02", "c", "c1", 12.0, 12.0),
    ]
    tpi = build_tpi(_frame(rows), _recipe(provider_weights={"a": 3.0}, provider_cap=0.5))
    assert tpi.iloc[0] == 7.0
    assert tpi.iloc[1] == pytest.approx(4.5, rel=1e-12, abs=0)


def test_chain_by_hand_min_and_mean() -> None:
    # HAND, chained. min: a2 (7.0) never undercuts a1, b's entry on Jan 4 moves nothing, a1's cut
    # on Jan 5 moves the index by (0.5·2.5 + 0.5·2)/(0.5·5 + 0.5·2) = 2.25/3.5.
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="min"))
    np.testing.assert_allclose(tpi.to_numpy(), [5.0, 5.0, 5.0, 5.0, 5.0 * 2.25 / 3.5], rtol=1e-12)
    # mean: the models are the constituents, each weighing w_p/n_p. a2 joining a's mean on Jan 3
    # and b entering on Jan 4 move nothing; Jan 4's weights are a1, a2: 1/4 each, b1: 1/2, so
    # a1's cut on Jan 5 gives (0.25·2.5 + 0.25·7 + 0.5·2)/(0.25·5 + 0.25·7 + 0.5·2) = 3.375/4.
    tpi = build_tpi(_frame(HAND), _recipe(within_provider="mean"))
    np.testing.assert_allclose(tpi.to_numpy(), [5.0] * 4 + [5.0 * 3.375 / 4], rtol=1e-12)


def test_tpi_components_link_terms_by_hand() -> None:
    comp = tpi_components(_frame(HAND), _recipe(within_provider="mean"))
    share, relative = _field(comp, "link_share"), _field(comp, "relative")
    assert share.iloc[0].tolist() == [0.0, 0.0]  # no link on the first day
    np.testing.assert_allclose(share.iloc[1:].sum(axis=1), 1.0)
    assert relative.loc["2024-01-03", "a"] == 1.0  # a2 joined a's mean: not a price change
    assert np.isnan(relative.loc["2024-01-04", "b"])  # b entered: takes no part in the link
    # Jan 5: a's models priced on both days are a1 and a2: (2.5 + 7)/(5 + 7)
    assert relative.loc["2024-01-05", "a"] == pytest.approx(9.5 / 12, rel=1e-12)
    np.testing.assert_allclose(share.loc["2024-01-05"], [3.0 / 4, 1.0 / 4])
    assert _field(comp, "price").loc["2024-01-05", "a"] == pytest.approx(4.75)  # the plain mean


@pytest.mark.parametrize("within", ["min", "mean"])
def test_tpi_components_rebuild_the_chained_index(within: str) -> None:
    recipe = _recipe(within_provider=within, provider_weights={"a": 3.0}, provider_cap=0.6)
    comp = tpi_components(_frame(HAND), recipe)
    link = (_field(comp, "link_share") * _field(comp, "relative")).sum(axis=1)
    tpi = build_tpi(_frame(HAND), recipe)
    np.testing.assert_allclose(tpi.iloc[0] * link.iloc[1:].cumprod(), tpi.iloc[1:], rtol=1e-12)


def test_chain_does_not_depend_on_the_window() -> None:
    full, comp = build_tpi(_frame(HAND), _recipe()), tpi_components(_frame(HAND), _recipe())
    part = build_tpi(_frame(HAND), _recipe(), start="2024-01-04")
    pd.testing.assert_series_equal(part, full["2024-01-04":])
    part_comp = tpi_components(_frame(HAND), _recipe(), start="2024-01-04")
    pd.testing.assert_frame_equal(part_comp, comp["2024-01-04":])


@pytest.mark.parametrize(
    ("price", "weight", "message"),
    [
        ([[1.0, np.nan], [np.nan, 2.0]], [[1.0, 0.0], [0.0, 1.0]], "complete change of basket"),
        ([[1.0], [np.nan], [1.0]], [[1.0], [0.0], [1.0]], "no constituent is priced on"),
        ([[1.0, 2.0]], [[0.5, 0.4]], "sum to 1"),
        ([[1.0, np.nan]], [[0.5, 0.5]], "absent constituent"),
        ([[1.0, -2.0]], [[0.5, 0.5]], "positive and finite"),
        ([[1.0, 2.0]], [[1.5, -0.5]], "finite and >= 0"),
    ],
)
def test_chain_link_rejects_bad_frames(
    price: list[list[float]], weight: list[list[float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        chain_link(_days(price), _days(weight))


def test_chain_link_before_any_constituent_is_nan() -> None:
    level = chain_link(_days([[np.nan], [3.0], [6.0]]), _days([[0.0], [1.0], [1.0]]))
    assert np.isnan(level.iloc[0])
    assert level.iloc[1:].tolist() == [3.0, 6.0]
    assert chain_link(_days([[np.nan]]), _days([[0.0]])).isna().all()


@given(st.data())
def test_chain_link_moves_only_on_price_changes(data: st.DataObject) -> None:
    # Random entries, exits and prices: a day with the same basket moves the index by the ratio
    # of the weighted means; a day whose common constituents keep their prices does not move it.
    n_days, n_items = data.draw(st.integers(2, 12)), data.draw(st.integers(1, 5))
    size = n_days * n_items
    present = np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size)))
    present = present.reshape(n_days, n_items)
    present[:, 0] = True  # one constituent throughout: the chain never breaks
    moves = st.sampled_from([1.0, 1.0, 1.0, 0.5, 1.25])  # a price mostly stays put
    steps = np.array(data.draw(st.lists(moves, min_size=size, max_size=size)))
    p = np.where(present, 4.0 * steps.reshape(n_days, n_items).cumprod(axis=0), np.nan)
    raw = np.array(data.draw(st.lists(st.floats(0.5, 3.0), min_size=n_items, max_size=n_items)))
    w = np.where(present, raw, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    level = chain_link(_days(p.tolist()), _days(w.tolist())).to_numpy()
    mean = np.nansum(p * w, axis=1)
    assert level[0] == mean[0]
    for d in range(1, n_days):
        both = present[d] & present[d - 1]
        if (present[d] == present[d - 1]).all():
            assert level[d] / level[d - 1] == pytest.approx(mean[d] / mean[d - 1], rel=1e-12)
        elif (p[d, both] == p[d - 1, both]).all():
            assert level[d] == level[d - 1]


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
        {"linking": "divisor"},
        {"linking": None},
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
    path.write_text('name = "x"\ndescription = "y"\nlinking = "divisor"\n')
    with pytest.raises(RecipeError, match=r"bad\.toml.*linking: must be one of 'chain', 'none'"):
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


def test_shipped_recipes_say_how_they_link() -> None:
    assert TPIRecipe.model_fields["linking"].default == "chain"
    assert load_recipe(DATA / "recipes" / "gpt4_class.toml").linking == "chain"
    market = load_recipe(DATA / "recipes" / "market_basket.toml")
    assert market.linking == "none"
    assert "not chain-linked" in market.description


def test_gpt4_class_entry_of_anthropic_no_longer_jumps() -> None:
    # 2024-03-04: claude-3-opus brings Anthropic into the basket at $30 blended against
    # OpenAI's $15. The unlinked mean rose 50 % (15 -> 22.5); the chained index stays at 15.
    points = load_price_points(DATA / "price_points.csv")
    recipe = load_recipe(DATA / "recipes" / "gpt4_class.toml")
    chained = build_tpi(points, recipe)
    unlinked = build_tpi(points, recipe.model_copy(update={"linking": "none"}))
    assert unlinked["2024-03-03"] == chained["2024-03-03"] == 15.0
    assert unlinked["2024-03-04"] == 22.5
    assert chained["2024-03-04"] == 15.0
    assert chained.iloc[0] == unlinked.iloc[0] == 37.5


def test_gpt4_class_composition_days_do_not_move_the_index() -> None:
    # Constituents of gpt4_class (within_provider = "min") are the providers. A day on which
    # the set of providers changes and every provider priced on both days keeps its price is a
    # change of composition only: its log change must be exactly 0. On every other day the
    # basket is unchanged and the log change is the unlinked one.
    points = load_price_points(DATA / "price_points.csv")
    recipe = load_recipe(DATA / "recipes" / "gpt4_class.toml")
    price = _field(tpi_components(points, recipe), "price")
    step = np.log(build_tpi(points, recipe)).diff().iloc[1:]
    unlinked = np.log(build_tpi(points, recipe.model_copy(update={"linking": "none"})))
    present = price.notna()
    moved = present.ne(present.shift()).iloc[1:].any(axis=1)
    same_prices = (price.diff().iloc[1:].fillna(0.0) == 0).all(axis=1)
    only_composition = step.index[moved & same_prices]
    assert [f"{d:%Y-%m-%d}" for d in only_composition] == ["2024-03-04", "2024-10-01", "2025-01-20"]
    assert (step[only_composition] == 0.0).all()
    assert (unlinked.diff()[only_composition].abs() > 0.2).all()  # the jumps that are gone
    unchanged = step.index[~moved]
    np.testing.assert_allclose(step[unchanged], unlinked.diff()[unchanged], rtol=0, atol=1e-12)


def test_market_basket_chained_moves_only_on_list_price_changes() -> None:
    # Chained, a "mean" recipe links model by model: on a day when models enter but no model
    # already on sale changes its price the log change is exactly 0. In the shipped data the
    # only such price change is o3's cut on 2025-06-10.
    points = load_price_points(DATA / "price_points.csv")
    recipe = load_recipe(DATA / "recipes" / "market_basket.toml")
    tpi = build_tpi(points, recipe.model_copy(update={"linking": "chain"}))
    first = points.groupby("model")["date"].transform("min")
    repriced = set(points.loc[points["date"] > first, "date"])
    entries = set(points.loc[points["date"] == first, "date"]) - repriced
    step = np.log(tpi).diff()
    assert repriced == {pd.Timestamp("2025-06-10")}
    assert (step[sorted(entries - {tpi.index[0]})] == 0.0).all()
    assert step.drop(pd.DatetimeIndex(sorted(repriced))).iloc[1:].eq(0.0).all()
    unlinked = np.log(build_tpi(points, recipe)).diff()
    assert step["2025-06-10"] == pytest.approx(unlinked["2025-06-10"], rel=1e-12)


# -- helpers -----------------------------------------------------------------------------------


def _frame(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PRICE_COLUMNS[:5]))
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _recipe(**kw: object) -> TPIRecipe:
    fields: dict[str, object] = {"name": "hand", "description": "hand-made test index"}
    return TPIRecipe.model_validate({**fields, **kw})


def _field(comp: pd.DataFrame, field: str) -> pd.DataFrame:
    return cast(pd.DataFrame, comp.xs(field, axis=1, level="field"))


def _days(values: list[list[float]]) -> pd.DataFrame:
    """A days x constituents frame from rows of values, from 2024-01-01."""
    index = pd.date_range("2024-01-01", periods=len(values), freq="D", name="ts")
    return pd.DataFrame(np.array(values, dtype=np.float64), index=index)


def _unlinked(**kw: object) -> TPIRecipe:
    """A hand recipe with the old, unlinked weighted mean."""
    return _recipe(linking="none", **kw)


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path
