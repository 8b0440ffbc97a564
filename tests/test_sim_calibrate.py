"""Calibration of the spot model: recovery of simulated truth, an independent OLS, the TPI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from tokbt.data.recorded import price_points_path, recipe_path
from tokbt.market.tpi import build_tpi, load_price_points, load_recipe
from tokbt.sim import DT_DAY, Scenario, SpotParams, simulate_spot
from tokbt.sim.calibrate import PARAMETERS, Calibration, _Likelihood, _panel, calibrate

TRUTH = SpotParams(
    s0=2.0,
    kappa=12.0,
    sigma=0.5,
    trend=-0.3,
    jump_rate=6.0,
    jump_mean=0.25,
    jump_std=0.05,
    cut_rate=0.0,
)
N_DAYS = 5 * 365
PATHS = range(8)  # 40 path-years, 14 600 daily observations
FIRST_LEVEL = math.log(TRUTH.s0) + TRUTH.trend * DT_DAY
"""f at the first observation: the index of day 0 is the spot at the end of day 0."""

# Loose absolute bands on top of the 4-SE checks: a wrong SE cannot make a bad estimate pass.
BANDS = {
    "kappa": 3.0,
    "sigma": 0.03,
    "trend": 0.05,
    "level": 0.1,
    "jump_rate": 1.5,
    "jump_mean": 0.04,
    "jump_std": 0.03,
}


def _prices(params: SpotParams, seed: int) -> np.ndarray:
    sim = simulate_spot(params, Scenario(spot=params).daily(N_DAYS), PATHS, N_DAYS, seed)
    return sim.index


@pytest.fixture(scope="module")
def with_jumps() -> np.ndarray:
    return _prices(TRUTH, seed=11)


@pytest.fixture(scope="module")
def without_jumps() -> np.ndarray:
    return _prices(TRUTH.model_copy(update={"jump_rate": 0.0}), seed=12)


@pytest.fixture(scope="module")
def mle(with_jumps: np.ndarray) -> Calibration:
    return calibrate(with_jumps, method="mle")


@pytest.fixture(scope="module")
def tpi() -> pd.Series:
    return build_tpi(load_price_points(price_points_path()), load_recipe(recipe_path("gpt4_class")))


def _truth(name: str) -> float:
    return FIRST_LEVEL if name == "level" else float(getattr(TRUTH, name))


def _assert_recovers(cal: Calibration, names: tuple[str, ...]) -> None:
    for name in names:
        est, se, truth = getattr(cal, name), cal.std_errors[name], _truth(name)
        assert se is not None, name
        assert math.isfinite(se), name
        assert se > 0, name
        assert abs(est - truth) < 4 * se, f"{name}: {est:.4g} vs {truth:.4g} (SE {se:.3g})"
        assert abs(est - truth) < BANDS[name], f"{name}: {est:.4g} vs {truth:.4g}"


# -- recovery of simulated parameters ----------------------------------------------------------


def test_ols_recovers_the_diffusion_without_jumps(without_jumps: np.ndarray) -> None:
    cal = calibrate(without_jumps, method="ols")
    _assert_recovers(cal, ("kappa", "sigma", "trend", "level"))
    assert cal.warnings == ()
    assert (cal.jump_rate, cal.jump_mean, cal.jump_std) == (0.0, 0.0, 0.0)
    assert cal.std_errors["jump_rate"] is None
    assert (cal.n_obs, cal.n_paths, cal.loglik) == (len(PATHS) * N_DAYS, len(PATHS), None)


def test_ols_standard_error_of_kappa_is_the_ar1_one(without_jumps: np.ndarray) -> None:
    # Var(b̂) ≈ (1 − b²)/m for an AR(1) with m transitions; SE(κ) = SE(b)/(bΔ).
    cal = calibrate(without_jumps, method="ols")
    b = math.exp(-cal.kappa * DT_DAY)
    m = len(PATHS) * (N_DAYS - 1)
    expected = math.sqrt((1 - b * b) / m) / (b * DT_DAY)
    assert cal.std_errors["kappa"] == pytest.approx(expected, rel=0.1)
    assert cal.std_errors["half_life_days"] == pytest.approx(
        cal.half_life_days * expected / cal.kappa, rel=0.1
    )


def test_ols_counts_jumps_as_diffusion_and_says_so(with_jumps: np.ndarray) -> None:
    cal = calibrate(with_jumps, method="ols")
    assert cal.sigma > 1.3 * TRUTH.sigma  # jump variance λ E[J²] inflates σ²
    assert any("heavy-tailed" in w for w in cal.warnings)


def test_filter_recovers_diffusion_and_jumps(with_jumps: np.ndarray) -> None:
    cal = calibrate(with_jumps, method="filter")
    _assert_recovers(cal, ("kappa", "sigma", "trend", "jump_rate", "jump_mean"))
    # The filter's σ_J nets the false alarms' squares out of the flagged ones: over seeds it
    # scatters by ~0.026 around 0.05 and is floored at 0 in about one fit in four.
    assert abs(cal.jump_std - TRUTH.jump_std) < 0.06
    assert cal.converged
    assert cal.n_jumps is not None
    assert cal.n_jumps > cal.jump_rate * len(PATHS) * N_DAYS * DT_DAY  # false alarms netted out
    assert cal.loglik is None


def test_mle_recovers_every_parameter(mle: Calibration) -> None:
    _assert_recovers(
        mle, ("kappa", "sigma", "trend", "level", "jump_rate", "jump_mean", "jump_std")
    )
    assert mle.converged
    assert mle.warnings == ()
    assert mle.loglik is not None
    assert math.isfinite(mle.loglik)


def test_mle_standard_errors_are_finite_and_sharper_than_the_filters(
    mle: Calibration, with_jumps: np.ndarray
) -> None:
    for name in PARAMETERS:
        se = mle.std_errors[name]
        assert se is not None, name
        assert math.isfinite(se), name
        assert se > 0, name
    filtered = calibrate(with_jumps, method="filter")
    for name in ("jump_mean", "jump_std"):
        assert (mle.std_errors[name] or 0.0) < (filtered.std_errors[name] or 0.0), name


def test_mle_gradient_matches_finite_differences(with_jumps: np.ndarray) -> None:
    lik = _Likelihood(_panel(with_jumps[:2, :400], DT_DAY), trend=True)
    theta = np.array([2.0, -0.5, 1.5, 0.2, -2.5, 0.6, -0.2])
    grad = lik.nll_grad(theta)[1]
    h = 1e-6
    numeric = [(lik.nll(theta + e) - lik.nll(theta - e)) / (2 * h) for e in np.eye(7) * h]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_mle_gives_back_simulation_parameters(mle: Calibration) -> None:
    sp = mle.to_spot_params(s0=3.0)
    assert (sp.s0, sp.kappa, sp.sigma, sp.trend) == (3.0, mle.kappa, mle.sigma, mle.trend)
    assert (sp.jump_rate, sp.jump_mean, sp.jump_std) == (
        mle.jump_rate,
        mle.jump_mean,
        mle.jump_std,
    )
    assert (sp.cut_rate, sp.y0) == (0.0, 0.0)
    assert mle.to_spot_params().s0 == pytest.approx(math.exp(mle.level))


def test_summary_rows() -> None:
    prices = np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, 200)))
    rows = calibrate(prices, method="ols").summary_rows()
    assert all(len(r) == 3 and all(isinstance(x, str) for x in r) for r in rows)
    table = {name: (est, se) for name, est, se in rows}
    assert table["method"] == ("ols", "")
    assert table["jump rate (1/yr)"] == ("0", "-")
    assert "log-likelihood" not in table
    assert table["observations"][0] == "200 (1 path(s))"


# -- an independent OLS and a pure OU series ---------------------------------------------------


def test_ols_matches_an_independent_lstsq(without_jumps: np.ndarray) -> None:
    x = np.log(without_jumps)
    days = np.arange(x.shape[1], dtype=float)  # time in days here, in years in calibrate
    design = np.vstack([np.column_stack([np.ones(len(p) - 1), p[:-1], days[1:]]) for p in x])
    target = np.concatenate([p[1:] for p in x])
    (a, b, c_day), *_ = np.linalg.lstsq(design, target, rcond=None)
    resid = target - design @ np.array([a, b, c_day])
    kappa = -math.log(b) / DT_DAY
    sd = math.sqrt(resid @ resid / (len(target) - 3))

    cal = calibrate(without_jumps, method="ols")
    assert abs(cal.kappa - kappa) < 1e-10
    assert cal.sigma == pytest.approx(sd * math.sqrt(2 * kappa / (1 - b * b)), rel=1e-10)
    assert cal.trend == pytest.approx(c_day / DT_DAY / (1 - b), rel=1e-8)


def test_ols_trend_and_level_follow_the_derived_mapping() -> None:
    # x_t = a + b x_{t−Δ} + c t + ε with c = g(1−b), a = α(1−b) + b g Δ. A steep trend and
    # little noise make the b g Δ/(1−b) term (≈ 0.26 here) far larger than the SE of α.
    params = TRUTH.model_copy(update={"trend": -3.0, "sigma": 0.02, "jump_rate": 0.0})
    prices = simulate_spot(params, Scenario(spot=params).daily(730), range(2), 730, 5).index
    cal = calibrate(prices, method="ols")
    level = math.log(params.s0) + params.trend * DT_DAY
    assert cal.trend == pytest.approx(-3.0, abs=4 * (cal.std_errors["trend"] or 0.0))
    assert cal.level == pytest.approx(level, abs=4 * (cal.std_errors["level"] or 0.0))
    assert (cal.std_errors["level"] or 1.0) < 0.01


def test_pure_ou_ols_recovers_kappa_sigma_and_theta() -> None:
    kappa, sigma, theta = 25.0, 0.4, math.log(3.0)
    n_paths, n_obs = 4, 3000
    b = math.exp(-kappa * DT_DAY)
    sd = sigma * math.sqrt((1 - b * b) / (2 * kappa))
    rng = np.random.default_rng(2024)
    y0 = rng.normal(0.0, sigma / math.sqrt(2 * kappa), (n_paths, 1))  # stationary start
    y = signal.lfilter([1.0], [1.0, -b], sd * rng.standard_normal((n_paths, n_obs)), zi=b * y0)[0]
    prices = np.exp(theta + y)

    cal = calibrate(prices, method="ols", trend=False)
    for name, truth, band in (
        ("kappa", kappa, 5.0),
        ("sigma", sigma, 0.02),
        ("level", theta, 0.02),
    ):
        est, se = getattr(cal, name), cal.std_errors[name]
        assert se is not None
        assert abs(est - truth) < min(4 * se, band), f"{name}: {est:.4g} vs {truth:.4g}"
    assert cal.trend == 0.0
    assert cal.std_errors["trend"] is None
    assert cal.half_life_days == pytest.approx(math.log(2) / cal.kappa * 365)

    with_trend = calibrate(prices, method="ols")
    assert abs(with_trend.trend) < 4 * (with_trend.std_errors["trend"] or 0.0)


# -- edge cases of the AR slope and piecewise-constant series ---------------------------------


def test_exact_trend_falls_back_to_a_random_walk_with_drift() -> None:
    # ln S exactly linear: the AR regression is singular; κ = 0 and the drift is exact.
    prices = np.exp(1.0 - 0.8 * np.arange(50) * DT_DAY)
    cal = calibrate(prices, method="ols")
    assert (cal.kappa, cal.half_life_days) == (0.0, math.inf)
    assert cal.sigma < 1e-12
    assert cal.trend == pytest.approx(-0.8)
    assert cal.level == pytest.approx(1.0)
    assert any("random walk" in w for w in cal.warnings)
    with pytest.raises(ValueError, match="cannot simulate"):
        cal.to_spot_params()


def test_alternating_series_has_instant_reversion() -> None:
    # Negatively autocorrelated (b < 0): no OU with a positive κ gives that.
    noise = 0.01 * np.random.default_rng(5).standard_normal(400)
    prices = np.exp(0.1 * (-1.0) ** np.arange(400) + noise)
    cal = calibrate(prices, method="ols", trend=False)
    assert cal.kappa == math.inf
    assert math.isnan(cal.sigma)
    assert any("b = " in w and "<= 0" in w for w in cal.warnings)


def test_filter_takes_every_step_of_a_step_function_as_a_jump() -> None:
    cuts = np.array([-0.5, -0.3, 0.2])
    steps = np.zeros(199)
    steps[[40, 90, 150]] = cuts
    prices = np.exp(np.log(10.0) + np.concatenate([[0.0], np.cumsum(steps)]))
    cal = calibrate(prices, method="filter")
    assert cal.n_jumps == 3
    assert (cal.kappa, cal.sigma, cal.trend) == (0.0, 0.0, 0.0)
    assert cal.jump_rate == pytest.approx(3 / (199 * DT_DAY))
    assert cal.jump_mean == pytest.approx(cuts.mean())
    assert cal.jump_std == pytest.approx(cuts.std())
    assert any("piecewise constant" in w for w in cal.warnings)


# -- the recorded Token Price Index ------------------------------------------------------------


@pytest.mark.parametrize("method", ["ols", "filter", "mle"])
def test_recorded_tpi_calibrates_with_warnings(tpi: pd.Series, method: str) -> None:
    # The gpt4_class TPI is a step function: 987 days, chain-linked (a provider entering or
    # leaving the basket does not move it), so 8 list-price changes, all cuts; the price is
    # otherwise flat. (Unlinked it had 11: three were the basket's composition changing, one
    # a +50 % step when Anthropic entered.) What each method says about it:
    # - ols sees a −1.2/yr trend and "mean reversion" with a ~94-day half-life (κ ≈ 2.7),
    #   which is the step function catching up with the trend line; without the trend
    #   κ ≈ 0.5 ± 0.5, i.e. none. σ ≈ 0.9 is jump noise (residual excess kurtosis ≈ 400).
    # - filter flags exactly the 8 changes as jumps (λ ≈ 3/yr, μ_J ≈ −0.34, σ_J ≈ 0.37) and
    #   finds no diffusion and no mean reversion at all (κ = 0, σ = 0): a pure jump process.
    # - mle agrees on the jumps (λ ≈ 3/yr, μ_J ≈ −0.34) and drives κ to its lower bound and
    #   σ to ~0; the likelihood is unbounded as σ → 0, so the fit is degenerate and says so.
    cal = calibrate(tpi, method=method)  # type: ignore[arg-type]
    assert math.isfinite(cal.sigma)
    assert cal.n_obs == len(tpi)
    assert any("piecewise constant" in w for w in cal.warnings)
    if method == "ols":
        assert any("heavy-tailed" in w for w in cal.warnings)
    else:
        assert 2.5 < cal.jump_rate < 5.5
        assert cal.jump_mean < -0.1
    if method == "filter":
        assert (cal.n_jumps, cal.kappa, cal.sigma) == (8, 0.0, 0.0)
    if method == "mle":
        assert any("kappa" in w and "lower search bound" in w for w in cal.warnings)


def test_recorded_tpi_has_no_significant_mean_reversion_without_trend(tpi: pd.Series) -> None:
    cal = calibrate(tpi, method="ols", trend=False)
    assert cal.kappa < 2 * (cal.std_errors["kappa"] or 0.0)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (np.r_[np.ones(7), np.nan, np.ones(7)], r"position 7 holds nan"),
        (np.r_[np.ones(4), 0.0, np.ones(10)], r"position 4 holds 0\.0"),
        (np.r_[np.ones(12), -1.0, np.inf], r"position 12 holds -1\.0 \(2 bad"),
        (np.ones((3, 20)) * np.array([[1.0], [np.nan], [1.0]]), r"path 1, position 0"),
        (np.ones(9), r"too short: 9 observations"),
        (np.ones((2, 2, 12)), r"1-D or \(n_paths, n_obs\)"),
    ],
)
def test_bad_series_is_rejected(series: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(series, method="ols")


def test_bad_series_names_the_index_label() -> None:
    series = pd.Series(
        np.r_[np.ones(5), 0.0, np.ones(10)], index=pd.date_range("2024-01-01", periods=16)
    )
    with pytest.raises(ValueError, match=r"position 5 \(index 2024-01-06"):
        calibrate(series)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "ml"}, "unknown calibration method"),
        ({"dt": 0.0}, "dt must be"),
        ({"dt": math.nan}, "dt must be"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(np.ones(20), **kwargs)  # type: ignore[arg-type]
