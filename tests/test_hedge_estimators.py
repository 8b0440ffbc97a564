"""``tokbt.hedge.estimators`` against statsmodels, pandas and hand computations (DOMAIN.md §2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.regression.rolling import RollingOLS

from tokbt.hedge import OLSRatio
from tokbt.hedge.estimators import (
    EwmaCovariance,
    last_observations,
    ols_ratio,
    paired_changes,
    spend_ratio,
    tail_factor,
)
from tokbt.hedge.front import rolled_paired_changes

NAN = np.nan
RTOL = 1e-10


def _assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0.0)


def _correlated(rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y, x)``, ``(m, n)``: y = a + b·x + noise with a different a, b per column."""
    x = rng.normal(0.0, 0.03, (m, n))
    b = rng.uniform(-0.5, 1.5, n)
    y = 0.01 * rng.normal(size=n) + b * x + rng.normal(0.0, 0.02, (m, n))
    return y, x


# -- paired_changes, last_observations ------------------------------------------------------


def test_paired_changes_by_hand() -> None:
    level = np.array(
        [
            [1.0, 10.0, 1.0],
            [2.0, NAN, NAN],
            [4.0, 13.0, 2.0],
            [7.0, 14.0, NAN],
            [11.0, 20.0, NAN],
        ]
    )
    hedge = np.array(
        [
            [5.0, 1.0, NAN],
            [NAN, 2.0, NAN],
            [6.0, 3.0, 7.0],
            [8.0, NAN, 9.0],
            [NAN, 5.0, NAN],
        ]
    )
    d_level, d_hedge = paired_changes(level, hedge)
    # path 0: pairs at rows 0, 2, 3; path 1: rows 0, 2, 4 (a two-row gap); path 2: only row 2
    expected_level = np.array(
        [
            [NAN, NAN, NAN],
            [NAN, NAN, NAN],
            [3.0, 3.0, NAN],
            [3.0, NAN, NAN],
            [NAN, 7.0, NAN],
        ]
    )
    expected_hedge = np.array(
        [
            [NAN, NAN, NAN],
            [NAN, NAN, NAN],
            [1.0, 2.0, NAN],
            [2.0, NAN, NAN],
            [NAN, 2.0, NAN],
        ]
    )
    np.testing.assert_array_equal(d_level, expected_level)
    np.testing.assert_array_equal(d_hedge, expected_hedge)


def test_last_observations_by_hand() -> None:
    x = np.array([[1.0, 1.0], [2.0, NAN], [3.0, 3.0], [NAN, 4.0], [5.0, 5.0]])
    y = np.array([[1.0, NAN], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0], [5.0, NAN]])
    kx, ky = last_observations(x, y, 2)
    # path 0: complete pairs at rows 0, 1, 2, 4 -> keep 2, 4; path 1: rows 2, 3 -> keep both
    np.testing.assert_array_equal(kx, [[NAN, NAN], [NAN, NAN], [3.0, 3.0], [NAN, 4.0], [5.0, NAN]])
    np.testing.assert_array_equal(ky, [[NAN, NAN], [NAN, NAN], [3.0, 3.0], [NAN, 4.0], [5.0, NAN]])


# -- ols_ratio against statsmodels ---------------------------------------------------------


@pytest.mark.parametrize("intercept", [True, False])
def test_ols_ratio_is_the_statsmodels_slope(intercept: bool) -> None:
    rng = np.random.default_rng(11)
    y, x = _correlated(rng, 90, 8)
    y[rng.random(y.shape) < 0.1] = NAN  # gaps in some columns, in either series
    x[:, 3][rng.random(90) < 0.3] = NAN
    y[:, 5] = NAN
    y[:4, 5] = rng.normal(size=4)  # column 5: four complete pairs
    x[:, 6] = 0.0  # column 6: a hedge instrument that never moves
    x[:, 7] = 0.1  # column 7: constant — flat about its mean (with rounding), not about 0
    h = ols_ratio(y, x, intercept=intercept, min_obs=5)
    for j in range(8):
        ok = np.isfinite(x[:, j]) & np.isfinite(y[:, j])
        if j in (5, 6) or (j == 7 and intercept):
            assert np.isnan(h[j]), j
            continue
        exog = sm.add_constant(x[ok, j]) if intercept else x[ok, j]
        slope = sm.OLS(y[ok, j], exog).fit().params[-1]
        _assert_rel(h[j], slope)
    # the same four pairs pass with min_obs = 4
    assert np.isfinite(ols_ratio(y[:, 5:6], x[:, 5:6], intercept=intercept, min_obs=4)[0])


def _numpy_ols(y: np.ndarray, x: np.ndarray, intercept: bool, min_obs: int) -> np.ndarray:
    """The slope in numpy, as ``ols_ratio`` computed it before it was compiled."""
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=0)
    xs, ys = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    varies = np.ones(x.shape[1:], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        if intercept:
            varies = np.where(ok, x, -np.inf).max(axis=0) > np.where(ok, x, np.inf).min(axis=0)
            xs = np.where(ok, xs - xs.sum(axis=0) / n, 0.0)
            ys = np.where(ok, ys - ys.sum(axis=0) / n, 0.0)
        sxy, sxx = (xs * ys).sum(axis=0), (xs * xs).sum(axis=0)
        return np.where((n >= min_obs) & (sxx > 0) & varies, sxy / sxx, np.nan)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 150),
    paths=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    intercept=st.booleans(),
    zero_y=st.booleans(),
)
def test_ols_ratio_is_numpys_formula_bit_for_bit(
    rows: int, paths: int, seed: int, intercept: bool, zero_y: bool
) -> None:
    """Compiled, the slope keeps numpy's summation order: pairwise down one path's column,
    row by row across several, from +0.0 (a zero slope keeps numpy's sign)."""
    rng = np.random.default_rng(seed)
    y, x = _correlated(rng, rows, paths)
    x[rng.random(x.shape) < 0.2] = NAN
    x[rng.random(x.shape) < 0.02] = np.inf
    y = np.zeros_like(y) if zero_y else y
    for yy, xx in ((y, x), (y[:, 0], x[:, 0])):
        got = ols_ratio(yy, xx, intercept=intercept, min_obs=2)
        want = _numpy_ols(yy.reshape(rows, -1), xx.reshape(rows, -1), intercept, 2)
        assert np.array_equal(got, want.reshape(np.shape(got)), equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want.reshape(np.shape(got))))


def test_ols_ratio_needs_min_obs_and_a_moving_hedge() -> None:
    x = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, NAN], [4.0, 1.0, 3.0]])
    y = np.array([[1.0, 2.0, 1.0], [3.0, 5.0, 2.0], [4.0, 1.0, NAN]])
    h = ols_ratio(y, x, intercept=True, min_obs=2)
    assert np.isnan(h[1])  # x flat
    assert np.isnan(h[2])  # one complete pair
    # by hand: x̄ = 7/3, ȳ = 8/3; Σ(x−x̄)(y−ȳ) = 13/3, Σ(x−x̄)² = 14/3
    assert h[0] == pytest.approx(13.0 / 14.0, rel=1e-14)
    assert ols_ratio(y, x, intercept=False)[0] == pytest.approx(23.0 / 21.0, rel=1e-14)
    assert np.isnan(ols_ratio(y, x, min_obs=4)).all()


@pytest.mark.parametrize("level", [0.1, 1 / 3, 2.171])
def test_ols_ratio_of_a_constant_hedge_is_nan_despite_rounding(level: float) -> None:
    """Centring a constant that is not a binary fraction leaves ~1e-17 residues; the
    slope on them is noise, not a hedge ratio."""
    rng = np.random.default_rng(9)
    x = np.full((61, 3), level)
    x[::2, 2] = NAN
    h = ols_ratio(rng.normal(size=(61, 3)), x, intercept=True)
    assert np.isnan(h).all()


def test_ols_ratio_of_no_rows_is_nan() -> None:
    empty = np.full((5, 2), NAN)
    assert np.isnan(ols_ratio(empty, empty)).all()


# -- rolling windows against statsmodels RollingOLS -----------------------------------------


def test_rolling_windows_are_rolling_ols() -> None:
    rng = np.random.default_rng(3)
    m, n, w = 160, 4, 25
    y, x = _correlated(rng, m, n)
    ours = np.full((m, n), NAN)
    for t in range(m):
        wy, wx = last_observations(y[: t + 1], x[: t + 1], w)
        ours[t] = ols_ratio(wy, wx, intercept=True, min_obs=w)
    assert np.isnan(ours[: w - 1]).all()
    for j in range(n):
        params = np.asarray(RollingOLS(y[:, j], sm.add_constant(x[:, j]), window=w).fit().params)
        _assert_rel(ours[w - 1 :, j], params[w - 1 :, 1])


def test_ols_ratio_block_on_levels_with_weekends_is_rolling_ols() -> None:
    """``OLSRatio.estimate`` on level histories: futures have no weekend values, so a
    Friday-to-Monday change is one observation; each estimate is RollingOLS at that row."""
    rng = np.random.default_rng(5)
    days, n, w, history = 240, 3, 20, 300
    d_fut = rng.normal(0.0, 0.03, (days, n))
    d_spot = np.array([0.6, 0.9, 1.2]) * d_fut + rng.normal(0.0, 0.02, (days, n))
    spot = 2.0 + np.cumsum(d_spot, axis=0)
    fut = 2.1 + np.cumsum(d_fut, axis=0)
    weekend = np.arange(days) % 7 >= 5
    fut[weekend] = NAN
    business = np.flatnonzero(~weekend)
    # the paired changes, by hand: business day minus the previous business day
    change_s = spot[business[1:]] - spot[business[:-1]]
    change_f = fut[business[1:]] - fut[business[:-1]]
    block = OLSRatio(w, intercept=True, min_obs=2)
    with np.errstate(divide="ignore", invalid="ignore"):  # its statistics at 2 observations
        fits = [
            np.asarray(
                RollingOLS(
                    change_s[:, j],
                    sm.add_constant(change_f[:, j]),
                    window=w,
                    min_nobs=2,
                    expanding=True,
                )
                .fit()
                .params
            )[:, 1]
            for j in range(n)
        ]
    expected = np.column_stack(fits)
    pad = np.full((history, n), NAN)  # the engine pads a history longer than the run with NaN
    for k, row in enumerate(business):
        s = np.vstack([pad, spot[: row + 1]])[-history:]
        f = np.vstack([pad, fut[: row + 1]])[-history:]
        h = block.estimate(s, f)
        if k < 2:  # fewer than min_obs changes: the fallback ratio
            np.testing.assert_array_equal(h, 1.0)
        else:
            _assert_rel(h, expected[k - 1])
    # weekends carry no futures value: the estimate there holds Friday's data
    assert np.isfinite(spot[weekend]).all()


def test_ols_ratio_block_refuses_a_window_longer_than_a_full_history() -> None:
    rng = np.random.default_rng(8)
    spot = 2.0 + np.cumsum(rng.normal(0, 0.03, (100, 2)), axis=0)
    fut = spot + rng.normal(0, 0.01, (100, 2))
    with pytest.raises(ValueError, match=r"raise engine\.history"):
        OLSRatio(150).estimate(spot, fut)  # data in the first row: the history is full
    padded = (
        np.vstack([np.full((60, 2), NAN), spot[:40]]),
        np.vstack([np.full((60, 2), NAN), fut[:40]]),
    )
    assert np.isfinite(OLSRatio(150).estimate(*padded)).all()  # young run: a shorter window


# -- EWMA ---------------------------------------------------------------------------------


def _ewma_ratios(x: np.ndarray, y: np.ndarray, lam: float, *, demean: bool) -> np.ndarray:
    """The ratio after each row, ``(m, n)``, from one ``EwmaCovariance`` over all columns."""
    ewma = EwmaCovariance(x.shape[1], lam, demean=demean)
    out = np.empty_like(x)
    for t in range(len(x)):
        ewma.update(x[t], y[t])
        out[t] = ewma.ratio(min_obs=1)
    return out


@pytest.mark.parametrize("lam", [0.5, 0.94, 0.99])
def test_ewma_demeaned_is_pandas_ewm_cov(lam: float) -> None:
    rng = np.random.default_rng(21)
    s, f = _correlated(rng, 300, 1)
    ours = _ewma_ratios(s, f, lam, demean=True)[:, 0]
    cov = pd.DataFrame({"s": s[:, 0], "f": f[:, 0]}).ewm(alpha=1 - lam, adjust=False).cov()
    ref = (cov.xs("s", level=1)["f"] / cov.xs("f", level=1)["f"]).to_numpy()
    assert np.isnan(ours[0])  # one observation: no variance yet
    _assert_rel(ours[1:], ref[1:])


@pytest.mark.parametrize("lam", [0.5, 0.94, 0.99])
def test_ewma_riskmetrics_is_pandas_ewm_of_products(lam: float) -> None:
    rng = np.random.default_rng(22)
    s, f = _correlated(rng, 300, 1)
    ours = _ewma_ratios(s, f, lam, demean=False)[:, 0]
    x, y = pd.Series(s[:, 0]), pd.Series(f[:, 0])
    ref = (
        (x * y).ewm(alpha=1 - lam, adjust=False).mean()
        / (y * y).ewm(alpha=1 - lam, adjust=False).mean()
    ).to_numpy()
    _assert_rel(ours, ref)
    assert ours[0] == pytest.approx(s[0, 0] / f[0, 0], rel=1e-14)  # started at x0·y0 / y0²


@pytest.mark.parametrize("demean", [True, False])
def test_ewma_paths_at_once_equal_each_path_alone(demean: bool) -> None:
    rng = np.random.default_rng(23)
    s, f = _correlated(rng, 120, 5)
    s[rng.random(s.shape) < 0.1] = NAN
    f[:15, 2] = NAN  # a path that starts late
    together = _ewma_ratios(s, f, 0.9, demean=demean)
    for j in range(5):
        alone = _ewma_ratios(s[:, j : j + 1], f[:, j : j + 1], 0.9, demean=demean)
        np.testing.assert_array_equal(together[:, j], alone[:, 0])
        # a row with a missing value leaves the state alone: the same as dropping the row
        ok = np.isfinite(s[:, j]) & np.isfinite(f[:, j])
        dropped = _ewma_ratios(s[ok, j : j + 1], f[ok, j : j + 1], 0.9, demean=demean)
        np.testing.assert_array_equal(together[ok, j], dropped[:, 0])


def test_ewma_min_obs_and_flat_hedge() -> None:
    ewma = EwmaCovariance(2, 0.94)
    for t in range(3):
        ewma.update(np.array([0.1 * t + 0.1, 1.0]), np.array([0.2, 0.0]))
        assert np.isnan(ewma.ratio(min_obs=4)).all()
    assert np.isnan(ewma.ratio(min_obs=1)[1])  # σ²_F = 0
    assert ewma.ratio(min_obs=3)[0] == pytest.approx(
        (0.94**2 * 0.1 * 0.2 + 0.94 * 0.06 * 0.2 * 0.2 + 0.06 * 0.3 * 0.2) / 0.04, rel=1e-12
    )


@pytest.mark.parametrize("lam", [0.0, 1.0, 1.5, -0.2])
def test_ewma_decay_outside_the_unit_interval_is_refused(lam: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        EwmaCovariance(3, lam)


# -- the minimum-variance ratio and its variance reduction (Johnson, Ederington) -----------


@pytest.mark.parametrize("rho", [0.3, 0.7, 0.95])
def test_variance_reduction_at_h_star_is_rho_squared(rho: float) -> None:
    n, sigma_s, sigma_f = 200_000, 0.02, 0.03
    rng = np.random.default_rng(int(rho * 100))
    cov = [[sigma_s**2, rho * sigma_s * sigma_f], [rho * sigma_s * sigma_f, sigma_f**2]]
    ds, df = rng.multivariate_normal([0.0, 0.0], cov, n).T
    h_true = rho * sigma_s / sigma_f
    se = sigma_s * np.sqrt(1 - rho**2) / (sigma_f * np.sqrt(n))  # s.e. of the OLS slope

    def vr(h: float, s: np.ndarray, f: np.ndarray) -> float:
        return float(1.0 - np.var(s - h * f) / np.var(s))

    h = float(ols_ratio(ds[:, None], df[:, None])[0])
    assert abs(h - h_true) < 5 * se
    assert vr(h, ds, df) == pytest.approx(rho**2, abs=0.01)
    # at the in-sample OLS slope the variance reduction is exactly ρ̂² (and the maximum)
    rho_hat = np.corrcoef(ds, df)[0, 1]
    assert vr(h, ds, df) == pytest.approx(rho_hat**2, rel=1e-9)
    assert vr(h, ds, df) >= max(vr(h * 1.05, ds, df), vr(h * 0.95, ds, df))

    # out of sample: estimated on the first half, applied to the second
    half = n // 2
    h_in = float(ols_ratio(ds[:half, None], df[:half, None])[0])
    h_second = float(ols_ratio(ds[half:, None], df[half:, None])[0])
    oos = vr(h_in, ds[half:], df[half:])
    assert oos == pytest.approx(rho**2, abs=0.01)
    assert vr(h_second, ds[half:], df[half:]) >= oos  # in-sample HE always favours OLS


# -- spend_ratio ---------------------------------------------------------------------------


def _prices(rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positive spot and futures levels ``(m, n)`` with correlated log changes."""
    z = rng.normal(0.0, 0.02, (m, n))
    spot = 2.0 * np.exp(np.cumsum(z + rng.normal(0.0, 0.01, (m, n)), axis=0))
    fut = 2.1 * np.exp(np.cumsum(0.9 * z, axis=0))
    return spot, fut


def test_spend_ratio_with_constant_tokens_is_the_price_ratio() -> None:
    rng = np.random.default_rng(31)
    spot, fut = _prices(rng, 150, 4)
    fut[np.arange(150) % 7 >= 5] = NAN
    tokens = np.full_like(spot, 37.5)
    d_s, d_f = paired_changes(spot, fut)
    for intercept in (True, False):
        _assert_rel(
            spend_ratio(tokens, spot, fut, intercept=intercept),
            ols_ratio(d_s, d_f, intercept=intercept),
        )
    w_s, w_f = last_observations(d_s, d_f, 40)
    _assert_rel(spend_ratio(tokens, spot, fut, last=40), ols_ratio(w_s, w_f))


@pytest.mark.parametrize("last", [None, 60])
def test_spend_ratio_with_price_linked_tokens(last: int | None) -> None:
    rng = np.random.default_rng(32)
    m, n, beta = 250, 3, 1.5
    spot, fut = _prices(rng, m, n)
    tokens = 40.0 * spot**beta  # consumption rises with the price
    got = spend_ratio(tokens, spot, fut, last=last)
    price = ols_ratio(*paired_changes(spot, fut))
    for j in range(n):
        spend = tokens[:, j] * spot[:, j]
        d_spend, d_fut, q = np.diff(spend), np.diff(fut[:, j]), tokens[1:, j]
        if last is not None:
            d_spend, d_fut, q = d_spend[-last:], d_fut[-last:], q[-last:]
        direct = np.cov(d_spend, d_fut)[0, 1] / (q.mean() * np.var(d_fut, ddof=1))
        _assert_rel(got[j], direct)
        if last is None:
            assert got[j] > price[j]  # the quantity risk a price hedge misses


# -- tailing -------------------------------------------------------------------------------


def test_tail_factor_by_hand() -> None:
    assert tail_factor(0.05, 1.0) == pytest.approx(0.951229424500714, rel=1e-15)
    np.testing.assert_allclose(
        tail_factor(0.05, np.array([0.0, 0.5, -1.0, 2.0])),
        [1.0, 0.9753099120283326, 1.0, 0.9048374180359595],  # past dates are not tailed
        rtol=1e-15,
    )
    assert tail_factor(0.03, 0.25) == pytest.approx(0.9925280548191384, rel=1e-15)
    np.testing.assert_array_equal(tail_factor(0.0, np.array([0.0, 3.0])), [1.0, 1.0])


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(2, 200),
    paths=st.integers(1, 5),
    window=st.integers(2, 40),
    gaps=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_estimate_reads_only_the_rows_its_window_needs(
    rows: int, paths: int, window: int, gaps: float, seed: int
) -> None:
    """``OLSRatio.estimate`` starts at ``needed_rows``: the same ratio, bit for bit, as the
    whole history's paired changes, last observations and slope."""
    rng = np.random.default_rng(seed)
    spot = 10 + np.cumsum(rng.normal(0, 0.1, (rows, paths)), axis=0)
    settle = spot + rng.normal(0, 0.05, (rows, paths))
    spot[rng.random(spot.shape) < gaps] = NAN
    settle[rng.random(settle.shape) < gaps] = NAN
    block = OLSRatio(window, min_obs=2)
    d_spot, d_fut = paired_changes(spot, settle)
    held = (np.isfinite(d_spot) & np.isfinite(d_fut)).sum(axis=0)
    full = np.isfinite(settle[0]) | np.isfinite(spot[0])
    if full.any() and (held[full] < window).all():
        with pytest.raises(ValueError, match="does not fit"):
            block.estimate(spot, settle)
        return
    kept = last_observations(d_spot, d_fut, window)
    want = block._finish(ols_ratio(*kept, intercept=True, min_obs=2))
    assert np.array_equal(block.estimate(spot, settle), want, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(2, 200),
    paths=st.integers(1, 5),
    window=st.integers(2, 40),
    gaps=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_rolled_estimate_reads_only_the_rows_its_window_needs(
    rows: int, paths: int, window: int, gaps: float, seed: int
) -> None:
    """``OLSRatio(series="rolled").estimate`` (front and successor series) starts at
    ``needed_rows`` too: the same ratio, bit for bit, as the whole history's rolled pairs."""
    rng = np.random.default_rng(seed)
    spot = 10 + np.cumsum(rng.normal(0, 0.1, (rows, paths)), axis=0)
    front = spot + rng.normal(0, 0.05, (rows, paths))
    successor = np.where(rng.random((rows, paths)) < 0.1, front + 0.3, front)  # rolls
    spot[rng.random(spot.shape) < gaps] = NAN
    front[rng.random(front.shape) < gaps] = NAN
    block = OLSRatio(window, min_obs=2, series="rolled")
    d_spot, d_fut = rolled_paired_changes(spot, front, successor)
    held = (np.isfinite(d_spot) & np.isfinite(d_fut)).sum(axis=0)
    full = np.isfinite(front[0]) | np.isfinite(spot[0])
    if full.any() and (held[full] < window).all():
        with pytest.raises(ValueError, match="does not fit"):
            block.estimate(spot, front, successor)
        return
    kept = last_observations(d_spot, d_fut, window)
    want = block._finish(ols_ratio(*kept, intercept=True, min_obs=2))
    assert np.array_equal(block.estimate(spot, front, successor), want, equal_nan=True)
