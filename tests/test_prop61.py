"""Proposition 6.1 (at the minimum-variance ratio the variance reduction is ρ²):
``tokbt.hedge.estimators.hedge_fit`` / ``prop61`` against statsmodels and numpy, and
``tokbt.runs.prop61`` on simulated markets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from tokbt.hedge.estimators import hedge_fit, prop61
from tokbt.runs.prop61 import QUANTITIES, prop61_table
from tokbt.sim import SimPlan, load_scenario, simulate_paths

NAN = np.nan


def _pairs(seed: int, m: int = 300, n: int = 6, gaps: float = 0.1) -> tuple[np.ndarray, ...]:
    """``(d_spot, d_fut)`` ``(m, n)``: ΔS = a + b·ΔF + noise, a different a, b and noise
    level per path, with a fraction ``gaps`` of the values NaN."""
    rng = np.random.default_rng(seed)
    d_fut = rng.normal(0.0, 0.03, (m, n))
    d_spot = (
        rng.normal(0.0, 0.01, n)
        + rng.uniform(0.3, 2.0, n) * d_fut
        + rng.normal(0.0, 1.0, (m, n)) * rng.uniform(0.005, 0.05, n)
    )
    d_spot[rng.random((m, n)) < gaps] = NAN
    d_fut[rng.random((m, n)) < gaps] = NAN
    return d_spot, d_fut


@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_h_star_the_variance_reduction_is_rho_squared(seed: int, pooled: bool) -> None:
    """Proposition 6.1 in sample, exactly.

    Let ``x = ΔF``, ``y = ΔS`` over the same pairs, ``S_xx = Σ(x − x̄)²``, ``S_yy``,
    ``S_xy`` likewise. OLS with an intercept gives ``h* = S_xy / S_xx``, and the hedged
    change ``u = y − h*x`` has mean ``ū = ȳ − h*x̄``, so ``u − ū = (y − ȳ) − h*(x − x̄)``
    and

        S_uu = S_yy − 2h* S_xy + h*² S_xx = S_yy − S_xy² / S_xx.

    Hence ``1 − Var(u)/Var(y) = S_xy² / (S_xx S_yy) = ρ²`` — an identity (the
    ``n − 1`` of each variance cancels), not an approximation. It needs the slope *with*
    an intercept: ``S_uu(h) = S_yy − 2h S_xy + h² S_xx`` is smallest at the centred
    ``h = S_xy / S_xx``; the slope through the origin, ``Σxy / Σx²``, differs from it
    when the means are not zero and leaves a larger ``S_uu``. So the in-sample
    ``vr_var`` equals ``ρ²`` to rounding, and ``vr_std`` equals ``1 − √(1 − ρ²)``.
    """
    d_spot, d_fut = _pairs(seed)
    fit = hedge_fit(d_spot, d_fut, pooled=pooled)
    assert np.shape(fit.rho) == (() if pooled else (d_spot.shape[1],))
    assert np.all(fit.rho2 > 0.01)  # a real hedge, not a trivial zero
    np.testing.assert_allclose(fit.vr_var, fit.rho2, rtol=0.0, atol=1e-10)
    np.testing.assert_allclose(fit.vr_std, fit.vr_std_bound, rtol=0.0, atol=1e-10)
    np.testing.assert_allclose(fit.vr_std_bound, 1.0 - np.sqrt(1.0 - fit.rho**2), atol=1e-15)
    np.testing.assert_array_equal(fit.n_fit, fit.n_eval)


def test_per_path_fits_are_statsmodels_ols() -> None:
    """h* is the OLS slope with intercept, ρ² its R², ρ numpy's correlation — per path,
    each on its own complete pairs."""
    d_spot, d_fut = _pairs(7)
    fit = hedge_fit(d_spot, d_fut)
    for j in range(d_spot.shape[1]):
        ok = np.isfinite(d_spot[:, j]) & np.isfinite(d_fut[:, j])
        y, x = d_spot[ok, j], d_fut[ok, j]
        ols = sm.OLS(y, sm.add_constant(x)).fit()
        assert fit.n_fit[j] == ok.sum()
        assert fit.h[j] == pytest.approx(ols.params[1], rel=1e-10)
        assert fit.rho2[j] == pytest.approx(ols.rsquared, rel=1e-10)
        assert fit.rho[j] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-10)
        assert fit.vr_var[j] == pytest.approx(1.0 - np.var(ols.resid) / np.var(y), rel=1e-10)


def test_pooled_fit_is_one_ols_over_every_paths_pairs() -> None:
    d_spot, d_fut = _pairs(8)
    fit = hedge_fit(d_spot, d_fut, pooled=True)
    ok = np.isfinite(d_spot) & np.isfinite(d_fut)
    y, x = d_spot[ok], d_fut[ok]
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    assert int(fit.n_fit) == ok.sum()
    assert float(fit.h) == pytest.approx(ols.params[1], rel=1e-10)
    assert float(fit.rho2) == pytest.approx(ols.rsquared, rel=1e-10)
    assert float(fit.rho) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-10)


def _at(values: np.ndarray, path: int | None = None) -> np.ndarray:
    """A pooled figure (0-d), or path ``path``'s."""
    return values if path is None else values[path]


@pytest.mark.parametrize("pooled", [False, True])
def test_out_of_sample_fits_before_the_split_and_measures_after(pooled: bool) -> None:
    """h* from ``numpy.polyfit`` on the rows before ``split``; the variance reduction of
    ``ΔS − h*·ΔF`` measured with ``numpy.var`` on the rows from it."""
    d_spot, d_fut = _pairs(9)
    split = 120
    fit = hedge_fit(d_spot, d_fut, split=split, pooled=pooled)
    columns = [slice(None)] if pooled else list(range(d_spot.shape[1]))
    for k, j in enumerate(columns):
        s, f = d_spot[:, j], d_fut[:, j]
        ok = np.isfinite(s) & np.isfinite(f)
        before = np.arange(len(s)) < split
        early = ok & (before[:, None] if pooled else before)
        late = ok & ~early
        h = np.polyfit(f[early], s[early], 1)[0]
        u = s[late] - h * f[late]
        path = {} if pooled else {"path": k}
        figures = {name: float(_at(getattr(fit, name), **path)) for name in vars(fit)}
        assert figures["h"] == pytest.approx(h, rel=1e-9)
        assert figures["rho"] == pytest.approx(np.corrcoef(f[early], s[early])[0, 1], rel=1e-10)
        assert figures["vr_var"] == pytest.approx(1 - np.var(u) / np.var(s[late]), rel=1e-10)
        assert figures["vr_std"] == pytest.approx(1 - np.std(u) / np.std(s[late]), rel=1e-10)
        assert figures["n_fit"] == early.sum()
        assert figures["n_eval"] == late.sum()
    # out of sample the measured reduction falls short of the fit's ρ², in sample not
    assert np.all(np.asarray(fit.vr_var) != np.asarray(fit.rho2))


def test_prop61_bundles_the_four_fits() -> None:
    d_spot, d_fut = _pairs(10, m=101)
    table = prop61(d_spot, d_fut)
    assert table.split == 50
    np.testing.assert_array_equal(table.in_sample.h, hedge_fit(d_spot, d_fut).h)
    np.testing.assert_array_equal(table.out_of_sample.h, hedge_fit(d_spot, d_fut, split=50).h)
    assert table.pooled_in_sample.h == hedge_fit(d_spot, d_fut, pooled=True).h
    assert prop61(d_spot, d_fut, split=30).pooled_out_of_sample.n_fit == (
        hedge_fit(d_spot, d_fut, split=30, pooled=True).n_fit
    )
    q25, q50, q75 = table.in_sample.quartiles("rho")
    assert q25 <= q50 <= q75
    assert q50 == pytest.approx(np.median(table.in_sample.rho))


def test_too_few_pairs_or_a_flat_series_give_nan() -> None:
    d_spot = np.array([[1.0, 1.0, 0.1], [2.0, NAN, 0.2], [4.0, 3.0, 0.4]])
    d_fut = np.array([[1.0, 2.0, 5.0], [2.0, 1.0, 5.0], [1.5, NAN, 5.0]])
    fit = hedge_fit(d_spot, d_fut)
    assert np.isfinite(fit.h[0])
    assert np.isnan([fit.h[1], fit.rho[1], fit.vr_var[1]]).all()  # one pair
    assert np.isnan([fit.h[2], fit.rho[2], fit.vr_var[2]]).all()  # ΔF flat
    assert math.isnan(hedge_fit(d_spot[:, 1:], d_fut[:, 1:]).quartiles("h")[1])
    with pytest.raises(ValueError, match="split"):
        hedge_fit(d_spot, d_fut, split=3)
    with pytest.raises(ValueError, match="shape"):
        hedge_fit(d_spot, d_fut[:, :2])


# -- simulated markets -------------------------------------------------------------------------


def test_the_table_of_a_short_simulation_is_finite() -> None:
    plan = SimPlan.build(load_scenario("baseline"), 200, 4)
    rows = prop61_table(plan, simulate_paths(plan, range(20)), decision=60, window=40)
    assert [(r.series, r.sample) for r in rows] == [
        ("front", "in"),
        ("front", "out"),
        ("rolled", "in"),
        ("rolled", "out"),
        ("decision", "in"),
        ("decision", "out"),
    ]
    for row in rows:
        flat = row.flat()
        numbers = [v for k, v in flat.items() if k not in ("series", "sample")]
        assert all(math.isfinite(float(v)) for v in numbers), row
        assert row.n_paths == 20
        assert set(row.across_paths) == set(QUANTITIES)
    in_sample = [r for r in rows if r.sample == "in"]
    for row in in_sample:  # the identity, pooled
        assert row.vr_var == pytest.approx(row.rho2, abs=1e-10)
    assert rows[4].n_fit == 40
    # without a decision day, or one too early for the window, no decision rows
    assert len(prop61_table(plan, simulate_paths(plan, range(3)), decision=None)) == 4
    assert len(prop61_table(plan, simulate_paths(plan, range(3)), decision=10)) == 4


def test_the_rolled_front_follows_the_index_better_on_baseline() -> None:
    """Baseline, 200 paths × 730 days: the rolled front series correlates with the index
    more than the front as it is (roll days left out) — barely: they differ only on
    the roll days — and far more than the single contract ``min_variance`` fitted with
    ``series="front"`` (a deferred month for most of its window)."""
    plan = SimPlan.build(load_scenario("baseline"), 730, 0)
    rows = {(r.series, r.sample): r for r in prop61_table(plan, simulate_paths(plan, range(200)))}
    rolled, front, decision = rows["rolled", "in"], rows["front", "in"], rows["decision", "in"]
    assert rolled.rho > front.rho
    assert rolled.across_paths["rho"][1] > front.across_paths["rho"][1]
    assert rolled.rho > decision.rho + 0.2
    assert rolled.across_paths["rho"][1] > decision.across_paths["rho"][1] + 0.3
    assert 0.6 < rolled.rho < 0.9
    assert 1.3 < rolled.h < 2.3  # well above the ratio 1 that hedges the strip
