"""bt in the peer suite: a custom ``Algo`` that sets the futures position to a target quantity.

Run with ``bench/peers/.venv/bin/python``. The backtest's data are the spot
and futures closes (columns ``S`` and ``F``); only ``F`` is ever traded, so
it is the strategy's only security. At every bar the algo reads the last
``window + 1`` rows of ``target.universe`` (bt's view of the data up to now)
and computes the target with ``workload.window_target`` (``RollingHedge``'s
arithmetic); when it changes it transacts the difference in contracts
(``target.transact(q, "F")``): bt fills at the current price, the bar's
close. ``integer_positions=True``, no commissions, capital ``CAPITAL``. The
timer covers ``Backtest(...)`` and ``run()`` (its statistics included);
``pnl`` is the strategy's final value minus the capital and ``orders`` the
transactions.
"""

from __future__ import annotations

import sys
from typing import Any

import bt  # type: ignore[import-not-found]
import numpy as np
import pandas as pd
import workload

SECURITY = "F"
"""The futures column: the traded security."""


class HedgeTarget(bt.Algo):  # type: ignore[misc]
    """Transact the futures to ``round(h × exposure)`` contracts when that target changes."""

    def __init__(self, window: int, exposure: float) -> None:
        super().__init__()
        self.window, self.exposure = window, exposure
        self.last = np.nan
        self.orders = 0

    def __call__(self, target: Any) -> bool:
        closes = target.universe.iloc[-(self.window + 1) :]
        if len(closes) <= self.window or np.isnan(closes.iat[0, 0]):  # bt's first row is NaN
            return True
        values = closes.to_numpy()
        goal = workload.window_target(values[:, 1], values[:, 0], self.exposure)
        if np.isnan(goal) or goal == self.last:
            return True
        self.last = goal
        held = target.children[SECURITY].position if SECURITY in target.children else 0.0
        if goal != held:
            target.transact(goal - held, SECURITY)
            self.orders += 1
        return True


def run_path(
    spot: workload.FloatArray,
    futures: workload.FloatArray,
    ts: np.ndarray,
    window: int,
    exposure: float,
) -> workload.PathRun:
    """One path through ``Backtest.run``."""
    index = pd.DatetimeIndex(ts.astype("datetime64[us]"))
    data = pd.DataFrame({SECURITY: futures, "S": spot}, index=index)
    with workload.Stopwatch() as watch:
        algo = HedgeTarget(window, exposure)
        strategy = bt.Strategy("hedge", [algo])
        test = bt.Backtest(strategy, data, initial_capital=workload.CAPITAL, integer_positions=True)
        test.run()
        pnl = float(test.strategy.value) - workload.CAPITAL
    return workload.PathRun(watch.seconds, pnl, test.strategy.stack.algos[0].orders)


if __name__ == "__main__":
    sys.exit(workload.adapter_main("bt", bt.__version__, run_path))
