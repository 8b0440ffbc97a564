"""backtesting.py in the peer suite: a ``Strategy`` on futures bars, trade-on-close.

Run with ``bench/peers/.venv/bin/python``. One data frame of one-minute
futures bars (OHLC from the closes as engine_bench builds them) with the spot
closes as an extra column. At every bar ``next()`` reads the last
``window + 1`` closes of both (``self.data.Close[-n:]``, ``self.data.Spot[-n:]``)
and computes the target with ``workload.window_target`` (``RollingHedge``'s
arithmetic); when it changes, a market ``buy``/``sell`` of the difference in
whole units. ``Backtest(trade_on_close=True, hedging=False,
exclusive_orders=False)``: market orders fill at the close of the bar that
sent them, and a sell reduces the long trades first in, first out, so the
position is the net target. No commission or spread, margin 1, cash
``CAPITAL`` (nothing is refused). The timer covers ``Backtest(...)`` and
``run()`` (its statistics included); ``pnl`` is ``Equity Final [$]`` minus
the cash (open trades marked at the last close) and ``orders`` the orders
sent. An order sent at the last bar has no later bar to be processed in, and
could not change the P&L.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar, before it loads tqdm
import backtesting  # type: ignore[import-not-found]
import numpy as np
import pandas as pd
import workload


class Hedge(backtesting.Strategy):  # type: ignore[misc]
    """The rolling hedge of the ``Spot`` column with the futures (``Close``)."""

    window = workload.WINDOW
    exposure = workload.EXPOSURE

    def init(self) -> None:
        self.last = np.nan
        self.sent = 0

    def next(self) -> None:
        size = self.window + 1
        if len(self.data) < size:
            return
        spot = np.asarray(self.data.Spot[-size:])
        futures = np.asarray(self.data.Close[-size:])
        target = workload.window_target(spot, futures, self.exposure)
        if np.isnan(target) or target == self.last:
            return
        self.last = target
        delta = target - self.position.size
        if delta > 0:
            self.buy(size=delta)
        elif delta < 0:
            self.sell(size=-delta)
        else:
            return
        self.sent += 1


def run_path(
    spot: workload.FloatArray,
    futures: workload.FloatArray,
    ts: np.ndarray,
    window: int,
    exposure: float,
) -> workload.PathRun:
    """One path through ``Backtest.run``."""
    bars = {name.title(): v for name, v in workload.bars_from_closes(futures).items()}
    frame = pd.DataFrame(
        {**bars, "Spot": spot}, index=pd.DatetimeIndex(ts.astype("datetime64[us]"))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": they are marked
        with workload.Stopwatch() as watch:
            test = backtesting.Backtest(
                frame,
                Hedge,
                cash=workload.CAPITAL,
                commission=0.0,
                margin=1.0,
                trade_on_close=True,
                hedging=False,
                exclusive_orders=False,
            )
            stats = test.run(window=window, exposure=exposure)
            pnl = float(stats["Equity Final [$]"]) - workload.CAPITAL
    return workload.PathRun(watch.seconds, pnl, stats["_strategy"].sent)


if __name__ == "__main__":
    sys.exit(workload.adapter_main("backtesting.py", backtesting.__version__, run_path))
