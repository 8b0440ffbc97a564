"""The spot process against closed forms, with Monte Carlo tolerances (seeded).

Moment checks allow 4 standard errors of the Monte Carlo estimate, the
forward-curve checks 3: a wrong formula or a biased step fails them, noise
does not (seeds are fixed).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tokbt.sim import (
    DT_DAY,
    CurveModel,
    CurveParams,
    CutSizes,
    Scenario,
    SpotParams,
    load_scenario,
    simulate_spot,
)

N = 20_000


def _spot(params: SpotParams, n_days: int, seed: int, n: int = N, steps: int = 1):  # type: ignore[no-untyped-def]
    sc = Scenario(spot=params)
    return simulate_spot(params, sc.daily(n_days), range(n), n_days, seed, steps)


@pytest.mark.parametrize("steps_per_day", [1, 4])
@pytest.mark.parametrize("horizon", [1, 7, 30, 180])
def test_ou_mean_and_variance_at_several_horizons(horizon: int, steps_per_day: int) -> None:
    p = SpotParams(trend=0.0, kappa=12.0, sigma=0.5, jump_rate=0.0, cut_rate=0.0, y0=0.4)
    paths = _spot(p, horizon, seed=horizon, steps=steps_per_day)
    y = paths.day_end(paths.y)[:, horizon - 1]  # Y at the end of day horizon-1: T = horizon days
    t = horizon * DT_DAY
    mean = p.y0 * np.exp(-p.kappa * t)
    var = p.sigma**2 * (1 - np.exp(-2 * p.kappa * t)) / (2 * p.kappa)
    assert abs(y.mean() - mean) < 4 * np.sqrt(var / N)
    assert abs(y.var(ddof=1) - var) < 4 * var * np.sqrt(2 / (N - 1))


def test_ou_autocovariance_is_exact_over_one_day() -> None:
    p = SpotParams(trend=0.0, kappa=30.0, sigma=0.6, jump_rate=0.0, cut_rate=0.0)
    paths = _spot(p, 200, seed=3)
    y = paths.day_end(paths.y)
    a = np.exp(-p.kappa * DT_DAY)
    # stationary by day 199: corr(Y_t, Y_{t+1}) = e^{-κΔ}
    r = np.corrcoef(y[:, 198], y[:, 199])[0, 1]
    assert abs(r - a) < 4 * (1 - a**2) / np.sqrt(N)


def test_jump_counts_are_poisson() -> None:
    # Fixed-size jumps, no diffusion, negligible decay: Y_T / size counts the jumps.
    size, rate, days = 0.1, 9.0, 120
    p = SpotParams(
        trend=0.0, kappa=1e-9, sigma=0.0, jump_rate=rate, jump_mean=size, jump_std=0.0,
        cut_rate=0.0,
    )  # fmt: skip
    paths = _spot(p, days, seed=5)
    counts = np.rint(paths.day_end(paths.y)[:, -1] / size).astype(int)
    lam = rate * days * DT_DAY
    assert abs(counts.mean() - lam) < 4 * np.sqrt(lam / N)
    assert abs(counts.var(ddof=1) - lam) < 4 * lam * np.sqrt((2 + 1 / lam) / N)
    observed = np.bincount(counts, minlength=12)[:12]
    expected = stats.poisson.pmf(np.arange(12), lam) * N
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert chi2 < stats.chi2.ppf(0.9999, keep.sum() - 1)


def test_permanent_cuts_are_poisson_and_shift_the_level() -> None:
    p = SpotParams(
        trend=0.0, sigma=0.0, jump_rate=0.0, cut_rate=4.0, cut_sizes=CutSizes(low=0.5, high=0.5)
    )
    paths = _spot(p, 365, seed=9)
    cuts = np.rint((paths.f[:, -1] - np.log(p.s0)) / np.log(0.5)).astype(int)
    assert abs(cuts.mean() - 4.0) < 4 * np.sqrt(4.0 / N)
    assert abs(cuts.var(ddof=1) - 4.0) < 4 * 4.0 * np.sqrt(2.25 / N)


def test_jump_decay_within_a_step_is_exact() -> None:
    # One jump per path on average in one long step with strong mean reversion:
    # E[Y_h] = λ μ ∫_0^h e^{-κ(h-s)} ds = λ μ (1 - e^{-κh}) / κ.
    p = SpotParams(
        trend=0.0, kappa=200.0, sigma=0.0, jump_rate=365.0, jump_mean=0.2, jump_std=0.0,
        cut_rate=0.0,
    )  # fmt: skip
    paths = _spot(p, 1, seed=11)
    y = paths.y[:, -1]
    h = DT_DAY
    mean = p.jump_rate * p.jump_mean * (1 - np.exp(-p.kappa * h)) / p.kappa
    var = p.jump_rate * p.jump_mean**2 * (1 - np.exp(-2 * p.kappa * h)) / (2 * p.kappa)
    assert abs(y.mean() - mean) < 4 * np.sqrt(var / N)


@pytest.mark.parametrize("scenario", ["baseline", "demand_explosion"])
def test_forward_closed_form_equals_the_monte_carlo_mean(scenario: str) -> None:
    sc = load_scenario(scenario)
    n_days = 400
    daily = sc.daily(n_days)
    paths = simulate_spot(sc.spot, daily, range(N), n_days, seed=21)
    # with the regime calendar known, the curve is the conditional mean of the index
    curve = CurveModel.build(daily, CurveParams(expectations="schedule"), n_days + 1)
    index = paths.index
    log_s0 = np.log(sc.spot.s0)
    for day in (0, 30, 200, 399):
        forward = float(curve.expected_index(log_s0, sc.spot.y0, -1, day))
        sample = index[:, day]
        assert abs(sample.mean() - forward) < 3 * sample.std(ddof=1) / np.sqrt(N), day
    # a month contract: delivery average over days 181..211 (regime starts on day 182)
    days = np.arange(181, 212)
    average = index[:, days].mean(axis=1)
    fair = np.mean([curve.expected_index(log_s0, sc.spot.y0, -1, d) for d in days])
    assert abs(average.mean() - fair) < 3 * average.std(ddof=1) / np.sqrt(N)


def test_forward_equals_the_domain_formula_for_constant_parameters() -> None:
    from scipy.integrate import quad

    p = SpotParams()
    sc = Scenario(spot=p)
    curve = CurveModel.build(sc.daily(400), sc.curve, 401)
    k, s, lam, mu, sj = p.kappa, p.sigma, p.jump_rate, p.jump_mean, p.jump_std
    for day in (0, 45, 399):
        tau = (day + 1) * DT_DAY
        jumps = (
            lam
            * quad(
                lambda u: np.expm1(mu * np.exp(-k * u) + 0.5 * sj**2 * np.exp(-2 * k * u)), 0, tau
            )[0]
        )
        cuts = p.cut_rate * tau * (p.cut_sizes.mean_factor - 1)
        log_f = np.log(p.s0) + p.trend * tau + s**2 * (1 - np.exp(-2 * k * tau)) / (4 * k)
        expected = np.exp(log_f + jumps + cuts)
        assert float(curve.expected_index(np.log(p.s0), 0.0, -1, day)) == pytest.approx(
            expected, rel=1e-12
        )


def test_mean_log_cut_matches_numerical_integral() -> None:
    cs = CutSizes(low=0.25, high=0.6)
    u = np.linspace(0.25, 0.6, 200_001)
    assert cs.mean_log == pytest.approx(np.trapezoid(np.log1p(-u), u) / 0.35, rel=1e-8)


def test_persistent_expectations_ignore_future_regimes_until_they_start() -> None:
    sc = load_scenario("demand_explosion")
    daily = sc.daily(500)
    known = CurveModel.build(daily, CurveParams(expectations="schedule"), 501)
    myopic = CurveModel.build(daily, CurveParams(expectations="persistent"), 501)
    no_regime = CurveModel.build(sc.model_copy(update={"regimes": ()}).daily(500), sc.curve, 501)
    log_s0 = np.log(sc.spot.s0)
    # before the regime the persistent curve is the no-regime curve, far into the regime too
    for d in (100, 300):
        assert myopic.expected_index(log_s0, 0.0, 50, d) == pytest.approx(
            no_regime.expected_index(log_s0, 0.0, 50, d), rel=1e-12
        )
    assert known.expected_index(log_s0, 0.0, 50, 300) > 1.2 * myopic.expected_index(
        log_s0, 0.0, 50, 300
    )
    # inside the regime the persistent curve prices the regime's dynamics
    assert myopic.expected_index(log_s0, 0.0, 300, 400) == pytest.approx(
        known.expected_index(log_s0, 0.0, 300, 400), rel=1e-12
    )
    # without regimes both are the same
    flat = sc.model_copy(update={"regimes": ()}).daily(300)
    a = CurveModel.build(flat, CurveParams(expectations="schedule"), 301)
    b = CurveModel.build(flat, CurveParams(expectations="persistent"), 301)
    for k, d in ((-1, 10), (20, 299)):
        assert a.expected_index(log_s0, 0.1, k, d) == pytest.approx(
            b.expected_index(log_s0, 0.1, k, d), rel=1e-12
        )


def test_the_expected_plan_is_the_consumption_path_without_shocks() -> None:
    """With no noise and no price response, realised consumption is the expected plan —
    regime growth included — while the trend plan misses the explosion."""
    from tokbt.sim import SimPlan, load_scenario, simulate_paths

    quiet = {"consumption.noise_sigma": 0.0, "regimes.0.price_link": 0.0}
    expected = load_scenario("demand_explosion", quiet | {"consumption.plan": "expected"})
    chunk = simulate_paths(SimPlan.build(expected, 800, 3), range(3))
    tokens = chunk.consumption.tokens
    plan = np.broadcast_to(chunk.consumption.plan, tokens.shape)
    np.testing.assert_allclose(tokens, plan, rtol=1e-12)
    trend = load_scenario("demand_explosion", quiet)
    trend_plan = simulate_paths(SimPlan.build(trend, 800, 3), range(3)).consumption.plan
    assert trend_plan[-1] < 0.5 * chunk.consumption.plan[-1]


def test_the_last_day_fixing_preset() -> None:
    from tokbt.market import FinalSettlementRule, load_spec

    spec = load_spec("tpi_month_fixing")
    assert spec.final_settlement is FinalSettlementRule.LAST_DAY_FIXING
    assert spec.multiplier == load_spec("tpi_month").multiplier


@pytest.mark.parametrize("phi", [-0.5, 0.0, 0.3, 0.9, 0.999])
def test_ar1_filter_is_scipys_lfilter_term_for_term(phi: float) -> None:
    """The compiled AR(1) recursion gives exactly what ``scipy.signal.lfilter`` gives."""
    from scipy.signal import lfilter

    from tokbt.sim.consumption import ar1_filter

    shocks = np.random.default_rng(7).standard_normal((20, 500))
    scaled = shocks * 0.7
    scaled[:, 0] /= np.sqrt(1.0 - phi**2)
    expected = lfilter([1.0], [1.0, -phi], scaled, axis=1)
    np.testing.assert_array_equal(ar1_filter(shocks.copy(), 0.7, phi), expected)
