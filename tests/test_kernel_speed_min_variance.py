"""``min_variance_kernel``'s window sums over many paths at once equal its one-path sums.

From ``_MANY`` paths on, the kernel adds one row's moves of every path side by side
(``_window_sums``); below, path by path (``_window_moments``). Each path's sums are
the same additions in the same order, so a path's targets must not depend on how
many paths run beside it: here every path of a many-path run is checked, bit for
bit, against the same path run alone, over windows with missing closes.
"""

from __future__ import annotations

import numpy as np
import pytest

from strategies.min_variance_kernel import (
    _MANY,
    LAST,
    ORDERS,
    MinVarianceKernel,
    rolling_min_variance,
)

WINDOW = 6


def _run(spot: np.ndarray, futures: np.ndarray, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel at every event of ``spot`` ``(events, n)`` and ``futures`` ``(events, n,
    k)``, its history the last ``lookback`` events: the targets ``(events, n, k)`` and the
    final state."""
    events, n, k = futures.shape
    strategy = MinVarianceKernel(window=WINDOW, lookback=lookback, contract=None, roll_days=0)
    params = np.array([WINDOW, 100.0, 1.0, 0.0])
    state = strategy.initial_state(n, k)
    hist_s = np.full((lookback + events, n), np.nan)
    hist_f = np.full((lookback + events, n, k), np.nan)
    targets = np.full((events, n, k), np.nan)
    positions, planned = np.zeros((n, k)), np.zeros((n, k))
    expiry = np.full(k, 10, np.int64)
    for i in range(events):
        r = lookback - 1 + i
        hist_s[r], hist_f[r] = spot[i], futures[i]
        target = np.full((n, k), np.nan)
        rolling_min_variance(
            i, 0, False, hist_s[r - lookback + 1 : r + 1], hist_f[r - lookback + 1 : r + 1],
            positions, expiry, planned, params, state, target,
        )  # fmt: skip
        targets[i] = target
    return targets, state


@pytest.mark.parametrize("lookback", [WINDOW + 1, WINDOW + 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_many_paths_decide_as_each_path_alone(seed: int, lookback: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, events = _MANY + 3, 2, 40
    spot = 1.0 + np.cumsum(rng.normal(0.0, 0.01, (events, n)), axis=0)
    futures = np.round(1.0 + np.cumsum(rng.normal(0.0, 0.01, (events, n, k)), axis=0), 4)
    spot[rng.random(spot.shape) < 0.08] = np.nan  # missing closes: windows that skip them
    futures[rng.random(futures.shape) < 0.08] = np.nan
    together, state = _run(spot, futures, lookback)
    orders = 0.0
    for p in range(n):
        alone, one = _run(spot[:, p : p + 1], futures[:, p : p + 1], lookback)
        np.testing.assert_array_equal(together[:, p : p + 1], alone)
        np.testing.assert_array_equal(state[LAST + p], one[LAST])
        orders += one[ORDERS]
    assert state[ORDERS] == orders > 0
