"""The bootstrap's compiled row statistics against numpy, on the same resamples.

Means, standard deviations, the 95th percentile and the share above zero must be
numpy's numbers bit for bit (NaN-aware as ``np.nanmean``/``np.nanstd``/``np.nanquantile``,
±inf kept); CVaR may differ in the last bit only (the order in which the worst values
are summed is not numpy's).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.metrics.resampled import (
    column,
    positions,
    resampled_cvar,
    resampled_mean,
    resampled_quantile,
    resampled_sd,
    resampled_share_positive,
)


def _numpy(x: np.ndarray) -> dict[str, np.ndarray]:
    """numpy's row statistics of ``x`` ``(B, m)``, as the bootstrap computed them before."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        k = max(1, math.ceil(0.05 * x.shape[1] - 1e-9))
        finite = np.isfinite(x).sum(axis=1)
        return {
            "mean": np.nanmean(x, axis=1),
            "sd": np.nanstd(x, axis=1, ddof=1) if x.shape[1] > 1 else np.full(len(x), np.nan),
            "q95": np.nanquantile(x, 0.95, axis=1),
            "cvar": np.partition(x, x.shape[1] - k, axis=1)[:, x.shape[1] - k :].mean(axis=1),
            "share": np.where(finite > 0, (x > 0).sum(axis=1) / np.maximum(finite, 1), np.nan),
        }


def _compiled(values: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    v, i = column(values), positions(idx)
    return {
        "mean": resampled_mean(v, i),
        "sd": resampled_sd(v, i),
        "q95": resampled_quantile(v, i, 0.95),
        "cvar": resampled_cvar(v, i, 0.95),
        "share": resampled_share_positive(v, i),
    }


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


value = st.one_of(
    st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(value, min_size=1, max_size=300),
    rows=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_row_statistics_are_numpys(values: list[float], rows: int, seed: int) -> None:
    v = np.array(values)
    idx = np.random.default_rng(seed).integers(0, len(v), size=(rows, len(v)))
    want, got = _numpy(v[idx]), _compiled(v, idx)
    for name in ("mean", "sd", "q95", "share"):
        assert _same(got[name], want[name]), name
    finite = np.isfinite(want["cvar"])
    assert _same(np.isnan(got["cvar"]), np.isnan(want["cvar"]))
    np.testing.assert_allclose(got["cvar"][finite], want["cvar"][finite], rtol=1e-12, atol=0)


@pytest.mark.parametrize("n", [2, 7, 8, 9, 127, 128, 129, 1000, 10_001])
def test_sums_follow_numpys_pairwise_blocks(n: int) -> None:
    """Block sizes around numpy's unrolling (8) and its pairwise block (128)."""
    rng = np.random.default_rng(n)
    v = rng.lognormal(0, 3, n) * rng.choice([-1.0, 1.0], n)
    idx = rng.integers(0, n, size=(20, n))
    want, got = _numpy(v[idx]), _compiled(v, idx)
    for name in ("mean", "sd", "q95"):
        assert _same(got[name], want[name]), name


def test_the_identity_resample_is_the_columns_own_statistics() -> None:
    v = np.random.default_rng(3).normal(100.0, 15.0, 4_001)
    got = _compiled(v, np.arange(len(v))[None])
    assert got["mean"][0] == v.mean()
    assert got["sd"][0] == v.std(ddof=1)
    assert got["q95"][0] == np.quantile(v, 0.95)
    assert got["cvar"][0] == pytest.approx(np.sort(v)[-201:].mean(), rel=1e-12)


def test_a_column_is_taken_as_given_or_copied_once() -> None:
    v = np.arange(5.0)
    assert column(v) is v
    frozen = v.copy()
    frozen.flags.writeable = False
    assert column(frozen) is not frozen
    assert column(frozen).flags.writeable
    assert column([1, 2, 3]).dtype == np.float64
