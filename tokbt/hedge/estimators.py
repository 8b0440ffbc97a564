"""Hedge-ratio estimators over paths: numpy (and two compiled passes that pair and trim
observations path by path), no engine.

Observations are ``(m, n_paths)`` arrays, oldest row first, one column per
path; NaN marks a missing observation and is dropped pairwise, path by path,
so a path's estimate never depends on another path's data. Every estimate is
``(n_paths,)``; NaN where a path has too few observations or a flat hedge
instrument.

The formulas are DOMAIN.md §2: the minimum-variance ratio is the OLS slope of
ΔS on ΔF, ``h* = Cov(ΔS, ΔF) / Var(ΔF)``; the EWMA ratio follows RiskMetrics;
the spend ratio hedges ``Q·S`` instead of ``S``. ``prop61`` measures the paper's
Proposition 6.1 (at ``h*`` the variance reduction is ``ρ²``) in and out of sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from tokbt.numba_cache import refresh
from tokbt.numeric import column_sums

refresh(__file__, "numeric.py")  # numba's cache follows the sums it calls

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def paired_changes(
    level: Floats, hedge: Floats, before: Floats | None = None
) -> tuple[Floats, Floats]:
    """Changes of ``level`` and ``hedge`` between consecutive rows where a path has both.

    Row ``i`` of the result holds, for each path with both values at ``i``, the
    change since the path's previous row ``k`` with both values (NaN elsewhere): a
    weekend without futures bars becomes one Friday-to-Monday change. The hedge's
    change is ``hedge[i] − before[k]``: ``before`` is ``hedge`` itself by default; the
    rolled front series passes the series its row ``i`` contract had on row ``k``
    (``tokbt.hedge.front.rolled_paired_changes``; NaN where ``before[k]`` is NaN).
    """
    level = np.asarray(level, dtype=np.float64)
    hedge = np.asarray(hedge, dtype=np.float64)
    previous = hedge if before is None else np.asarray(before, dtype=np.float64)
    d_level, d_hedge = np.empty(level.shape), np.empty(level.shape)
    _paired_changes(_rows(level), _rows(hedge), _rows(previous), _rows(d_level), _rows(d_hedge))
    return d_level, d_hedge


def last_observations(x: Floats, y: Floats, count: int) -> tuple[Floats, Floats]:
    """``x`` and ``y`` with only each path's last ``count`` complete pairs kept (NaN elsewhere)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    kept_x, kept_y = np.empty(x.shape), np.empty(x.shape)
    _last_observations(_rows(x), _rows(y), count, _rows(kept_x), _rows(kept_y))
    return kept_x, kept_y


def needed_rows(level: Floats, hedge: Floats, count: int) -> int:
    """The first row of ``level`` and ``hedge`` ``(rows, n_paths)`` that the last ``count``
    paired changes of every path (``paired_changes``) depend on: each path's
    ``count + 1``-th row from the end with both values, the earliest over the paths (0
    when a path has fewer). The changes from that row on are the same as from row 0."""
    return int(_needed_rows(_rows(np.asarray(level)), _rows(np.asarray(hedge)), count))


@njit(cache=True)
def _needed_rows(level: Floats, hedge: Floats, count: int) -> int:  # pragma: no cover
    n_rows, n_paths = level.shape
    need = np.full(n_paths, count + 1, dtype=np.int64)
    left = n_paths
    for i in range(n_rows - 1, -1, -1):
        for j in range(n_paths):
            if need[j] > 0 and np.isfinite(level[i, j]) and np.isfinite(hedge[i, j]):
                need[j] -= 1
                if need[j] == 0:
                    left -= 1
        if left == 0:
            return i
    return 0


def _rows(a: Floats) -> Floats:
    """``a`` as ``(rows, paths)``: a 1-D array is one path's column."""
    return a.reshape(len(a), -1) if a.ndim != 2 else a


@njit(cache=True)
def _paired_changes(
    level: Floats, hedge: Floats, before: Floats, d_level: Floats, d_hedge: Floats
) -> None:  # pragma: no cover - compiled
    """``paired_changes`` into ``d_level`` and ``d_hedge``: one pass down the rows, each
    path remembering its last row with both values."""
    n_rows, n_paths = level.shape
    prev = np.full(n_paths, -1, dtype=np.int64)
    for i in range(n_rows):
        for j in range(n_paths):
            a, b = level[i, j], hedge[i, j]
            d_level[i, j] = np.nan
            d_hedge[i, j] = np.nan
            if np.isfinite(a) and np.isfinite(b):
                k = prev[j]
                if k >= 0 and np.isfinite(before[k, j]):
                    d_level[i, j] = a - level[k, j]
                    d_hedge[i, j] = b - before[k, j]
                prev[j] = i


@njit(cache=True)
def _last_observations(
    x: Floats, y: Floats, count: int, kept_x: Floats, kept_y: Floats
) -> None:  # pragma: no cover - compiled
    """``last_observations`` into ``kept_x`` and ``kept_y``: one pass up the rows, counting
    each path's complete pairs from the end."""
    n_rows, n_paths = x.shape
    seen = np.zeros(n_paths, dtype=np.int64)
    for i in range(n_rows - 1, -1, -1):
        for j in range(n_paths):
            a, b = x[i, j], y[i, j]
            kept_x[i, j] = np.nan
            kept_y[i, j] = np.nan
            if np.isfinite(a) and np.isfinite(b):
                seen[j] += 1
                if seen[j] <= count:
                    kept_x[i, j] = a
                    kept_y[i, j] = b


def ols_ratio(y: Floats, x: Floats, *, intercept: bool = True, min_obs: int = 2) -> Floats:
    """OLS slope of ``y`` on ``x`` per path (with or without an intercept).

    With an intercept the slope is ``Σ(x−x̄)(y−ȳ) / Σ(x−x̄)²`` (two-pass, for
    accuracy); without, ``Σxy / Σx²``. NaN where a path has fewer than
    ``min_obs`` complete pairs or ``x`` does not vary. The sums run down the rows
    in order, as numpy sums a column.
    """
    y2, x2 = _rows(np.asarray(y, dtype=np.float64)), _rows(np.asarray(x, dtype=np.float64))
    slope = np.empty(x2.shape[1])
    _ols_slope(np.ascontiguousarray(y2), np.ascontiguousarray(x2), intercept, min_obs, slope)
    return slope.reshape(np.shape(x)[1:])


@njit(cache=True)
def _ols_slope(
    y: Floats, x: Floats, intercept: bool, min_obs: int, slope: Floats
) -> None:  # pragma: no cover - compiled
    """``ols_ratio`` into ``slope``: numpy's formula, its sums in numpy's order
    (``tokbt.numeric.column_sums``), without its temporaries."""
    n_rows, n_paths = x.shape
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    n = np.zeros(n_paths, dtype=np.int64)
    hi, lo = np.full(n_paths, -np.inf), np.full(n_paths, np.inf)
    for i in range(n_rows):
        for j in range(n_paths):
            if ok[i, j]:
                n[j] += 1
                hi[j], lo[j] = max(hi[j], x[i, j]), min(lo[j], x[i, j])
    if intercept:
        mx, my = column_sums(xs), column_sums(ys)
        for j in range(n_paths):
            mx[j], my[j] = (mx[j] / n[j], my[j] / n[j]) if n[j] > 0 else (np.nan, np.nan)
        for i in range(n_rows):
            for j in range(n_paths):
                if ok[i, j]:
                    xs[i, j] -= mx[j]
                    ys[i, j] -= my[j]
    sxy, sxx = column_sums(xs * ys), column_sums(xs * xs)
    for j in range(n_paths):
        varies = hi[j] > lo[j] if intercept else True
        fits = n[j] >= min_obs and sxx[j] > 0 and varies
        slope[j] = sxy[j] / sxx[j] if fits else np.nan


def spend_ratio(
    tokens: Floats,
    level: Floats,
    hedge: Floats,
    *,
    last: int | None = None,
    intercept: bool = True,
    min_obs: int = 2,
) -> Floats:
    """The minimum-variance ratio of *spend* ``Q·S`` per planned token (DOMAIN.md §2).

    ``Cov(Δ(q·S), ΔF) / (q̄ · Var(ΔF))`` from per-row tokens ``q``, the price
    ``S`` and the hedge ``F`` (changes paired as in ``paired_changes``, the
    ``last`` of them per path if given), where ``q̄`` is the mean of ``q`` at the
    rows that end the changes used. With constant ``q`` it is the price ratio
    ``h*``; when consumption rises with the price it is larger — the quantity
    risk a price hedge misses.
    """
    d_spend, d_hedge = paired_changes(tokens * level, hedge)
    if last is not None:
        d_spend, d_hedge = last_observations(d_spend, d_hedge, last)
    used = np.isfinite(d_spend) & np.isfinite(d_hedge)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_tokens = np.where(used, tokens, 0.0).sum(axis=0) / used.sum(axis=0)
        ratio = ols_ratio(d_spend, d_hedge, intercept=intercept, min_obs=min_obs) / mean_tokens
    return np.asarray(ratio, dtype=np.float64)


class EwmaCovariance:
    """Exponentially weighted covariance of ``(x, y)`` per path, updated one row at a time.

    With ``demean=False`` (RiskMetrics, DOMAIN.md §2)::

        σ_xy,t = λ σ_xy,t−1 + (1 − λ) x_t y_t        σ²_y,t likewise

    started at the first observation (``σ_xy = x₀ y₀``). With ``demean=True``
    the moments are taken about exponentially weighted means, exactly as pandas
    ``ewm(alpha=1 − λ, adjust=False).cov()`` computes them (its bias correction
    scales the covariance and the variance alike, so their ratio is unchanged).
    A path with a missing value in a row keeps its state.

    ``ratio`` is ``σ_xy / σ²_y``: the hedge ratio of ``x`` on ``y``.
    """

    def __init__(self, n_paths: int, lam: float = 0.94, *, demean: bool = False) -> None:
        if not 0.0 < lam < 1.0:
            raise ValueError(f"EWMA decay must lie in (0, 1), got {lam}")
        self.lam = lam
        self.demean = demean
        self.count = np.zeros(n_paths, dtype=np.int64)
        self.mean_x = np.zeros(n_paths)
        self.mean_y = np.zeros(n_paths)
        self.cov_xy = np.zeros(n_paths)
        self.var_y = np.zeros(n_paths)

    def update(self, x: Floats, y: Floats) -> None:
        """Add one observation per path (NaN: none for that path)."""
        ok = np.isfinite(x) & np.isfinite(y)
        first = ok & (self.count == 0)
        later = ok & (self.count > 0)
        lam, alpha = self.lam, 1.0 - self.lam
        if self.demean:
            mx = np.where(later, lam * self.mean_x + alpha * x, self.mean_x)
            my = np.where(later, lam * self.mean_y + alpha * y, self.mean_y)
            cov = lam * (self.cov_xy + (self.mean_x - mx) * (self.mean_y - my)) + alpha * (
                (x - mx) * (y - my)
            )
            var = lam * (self.var_y + (self.mean_y - my) ** 2) + alpha * (y - my) ** 2
            self.cov_xy = np.where(later, cov, np.where(first, 0.0, self.cov_xy))
            self.var_y = np.where(later, var, np.where(first, 0.0, self.var_y))
            self.mean_x = np.where(first, x, mx)
            self.mean_y = np.where(first, y, my)
        else:
            self.cov_xy = np.where(
                later, lam * self.cov_xy + alpha * x * y, np.where(first, x * y, self.cov_xy)
            )
            self.var_y = np.where(
                later, lam * self.var_y + alpha * y * y, np.where(first, y * y, self.var_y)
            )
        self.count += ok

    def ratio(self, min_obs: int = 2) -> Floats:
        """``σ_xy / σ²_y`` per path; NaN before ``min_obs`` observations or with ``σ²_y = 0``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            h = self.cov_xy / self.var_y
        return np.where((self.count >= min_obs) & (self.var_y > 0), h, np.nan)


def tail_factor(rate: float, years: Floats | float) -> Floats:
    """Tailing: the discount factor ``exp(−rate · years)`` by which a futures count
    is scaled when its variation margin earns or costs ``rate`` until ``years``
    from now (DOMAIN.md §2)."""
    return np.asarray(np.exp(-rate * np.maximum(np.asarray(years, dtype=np.float64), 0.0)))


# -- Proposition 6.1 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HedgeFit:
    """A minimum-variance fit of ``ΔS`` on ``ΔF`` and the variance it removes.

    Every field is ``(n_paths,)`` for a fit per path, or a 0-d array for one fit pooled
    over the paths. The first five describe the *fit* sample; ``vr_var`` and ``vr_std``
    are measured on the *evaluation* sample (the same rows in sample).
    """

    n_fit: Ints
    """Complete ``(ΔS, ΔF)`` pairs the fit used."""
    rho: Floats
    """ρ: the correlation of ``ΔS`` and ``ΔF`` on the fit sample."""
    h: Floats
    """h*: the OLS slope of ``ΔS`` on ``ΔF`` with an intercept, ``Cov(ΔS, ΔF) / Var(ΔF)``."""
    rho2: Floats
    """ρ²: the variance reduction Proposition 6.1 predicts at ``h*`` (``VR_var``)."""
    vr_std_bound: Floats
    """``1 − √(1 − ρ²)``: the standard-deviation reduction it predicts (``VR_std``)."""
    n_eval: Ints
    """Complete pairs the evaluation used."""
    vr_var: Floats
    """Realised ``1 − Var(ΔS − h*·ΔF) / Var(ΔS)`` on the evaluation sample."""
    vr_std: Floats
    """Realised ``1 − sd(ΔS − h*·ΔF) / sd(ΔS)`` on the evaluation sample."""

    def quartiles(self, name: str) -> tuple[float, float, float]:
        """The lower quartile, median and upper quartile of field ``name`` across paths
        (NaN paths left out; NaN if none is finite)."""
        values = np.asarray(getattr(self, name), dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if not len(values):
            return (np.nan, np.nan, np.nan)
        q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
        return (float(q25), float(q50), float(q75))


@dataclass(frozen=True)
class Prop61:
    """Proposition 6.1 per path and pooled, in and out of sample (``prop61``)."""

    split: int
    """The first row of the out-of-sample evaluation (the fit uses the rows before)."""
    in_sample: HedgeFit
    """Per path, fitted and evaluated on all rows: ``vr_var = ρ²`` exactly."""
    out_of_sample: HedgeFit
    """Per path, fitted on rows ``[0, split)`` and evaluated on rows ``[split, n)``."""
    pooled_in_sample: HedgeFit
    """One fit over every path's pairs (one intercept), evaluated on the same pairs."""
    pooled_out_of_sample: HedgeFit
    """One fit over every path's pairs before ``split``, evaluated on those after."""


def hedge_fit(
    d_spot: Floats, d_fut: Floats, *, split: int | None = None, pooled: bool = False
) -> HedgeFit:
    """The minimum-variance fit of ``d_spot`` on ``d_fut`` and the variance it removes.

    Args:
        d_spot, d_fut: paired changes ``(n_rows, n_paths)`` (a 1-D array is one path),
            oldest row first; a pair with a NaN is left out, path by path.
        split: ``None`` — in sample: fit and evaluate on every row. An integer ``k``
            with ``0 < k < n_rows`` — out of sample: fit on rows ``[0, k)``, then
            evaluate the hedged change ``ΔS − h*·ΔF`` on rows ``[k, n_rows)``.
        pooled: one fit over all paths' pairs together (0-d fields) instead of one per
            path.

    With centred sums ``S_ff = Σ(ΔF − mean)²``, ``S_ss``, ``S_sf`` over the fit pairs,
    ``h* = S_sf / S_ff`` and ``ρ = S_sf / √(S_ff S_ss)``; ``vr_var = 1 − S_uu / S_ss``
    with ``u = ΔS − h*·ΔF``, centred over the evaluation pairs. NaN where a sample has
    fewer than two pairs or a series does not vary.
    """
    s = _rows(np.asarray(d_spot, dtype=np.float64))
    f = _rows(np.asarray(d_fut, dtype=np.float64))
    if s.shape != f.shape:
        raise ValueError(f"spot changes {s.shape} and futures changes {f.shape} differ in shape")
    both = np.isfinite(s) & np.isfinite(f)
    fit, evaluate = both, both
    if split is not None:
        if not 0 < split < len(s):
            raise ValueError(f"split must lie in (0, {len(s)}), got {split}")
        early = (np.arange(len(s)) < split)[:, None]
        fit, evaluate = both & early, both & ~early
    if pooled:
        s, f = s.reshape(-1, 1), f.reshape(-1, 1)
        fit, evaluate = fit.reshape(-1, 1), evaluate.reshape(-1, 1)
    n_fit, s_ff, s_ss, s_sf = _centred_sums(f, s, fit)
    with np.errstate(invalid="ignore", divide="ignore"):
        usable = (n_fit >= 2) & (s_ff > 0) & (s_ss > 0)
        h = np.where(usable, s_sf / s_ff, np.nan)
        rho = np.where(usable, s_sf / np.sqrt(s_ff * s_ss), np.nan)
        rho2 = rho * rho
        bound = 1.0 - np.sqrt(np.maximum(1.0 - rho2, 0.0))
        n_eval, s_uu, s_ss_eval, _ = _centred_sums(s - h * f, s, evaluate)
        measured = (n_eval >= 2) & (s_ss_eval > 0) & np.isfinite(h)
        ratio = np.where(measured, s_uu / s_ss_eval, np.nan)
    result = HedgeFit(n_fit, rho, h, rho2, bound, n_eval, 1.0 - ratio, 1.0 - np.sqrt(ratio))
    if pooled:  # one column: its fields as 0-d arrays
        return HedgeFit(**{k: np.asarray(v[0]) for k, v in vars(result).items()})
    return result


def prop61(d_spot: Floats, d_fut: Floats, *, split: int | None = None) -> Prop61:
    """Proposition 6.1 (at ``h*`` the variance reduction is ``ρ²``: ``VR_var = ρ²`` and
    ``VR_std = 1 − √(1 − ρ²)``, ρ the correlation of daily spot and futures changes),
    measured on paired changes ``(n_rows, n_paths)``: per path and pooled, in sample
    and out of sample with the fit on rows ``[0, split)`` (default: the first half).
    See ``hedge_fit``."""
    n_rows = len(np.asarray(d_spot))
    cut = n_rows // 2 if split is None else split
    return Prop61(
        cut,
        hedge_fit(d_spot, d_fut),
        hedge_fit(d_spot, d_fut, split=cut),
        hedge_fit(d_spot, d_fut, pooled=True),
        hedge_fit(d_spot, d_fut, split=cut, pooled=True),
    )


def _centred_sums(x: Floats, y: Floats, use: Mask) -> tuple[Ints, Floats, Floats, Floats]:
    """Per column, over the rows ``use`` marks: the count, ``Σ(x − x̄)²``, ``Σ(y − ȳ)²``
    and ``Σ(x − x̄)(y − ȳ)`` (two passes: means first)."""
    n = use.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(use, x, 0.0).sum(axis=0) / n
        my = np.where(use, y, 0.0).sum(axis=0) / n
    dx = np.where(use, x - mx, 0.0)
    dy = np.where(use, y - my, 0.0)
    return n, (dx * dx).sum(axis=0), (dy * dy).sum(axis=0), (dx * dy).sum(axis=0)
