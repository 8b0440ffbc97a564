"""backtrader in the peer suite: a ``Strategy`` over a spot and a futures feed, cheat-on-close.

Run with ``bench/peers/.venv/bin/python``. Two ``PandasData`` feeds of
one-minute bars (spot, futures; OHLC from the closes as engine_bench builds
them). At every bar ``next()`` reads the last ``window + 1`` closes of both
feeds (``line.get(size=…)``) and computes the target with
``workload.window_target`` (``RollingHedge``'s arithmetic); when the target
changes it calls ``order_target_size``. The broker has cheat-on-close on
(``set_coc(True)``), so a market order fills at the close of the bar that sent
it — the workload's fill. The futures are futures-like for the broker
(``setcommission(margin=…, mult=1)``, no commission), cash ``CAPITAL``.
The timer covers building the feeds and ``cerebro.run()``; ``pnl`` is the
broker's final value minus its starting cash (marked at the last close), and
``orders`` the orders sent. An order sent at the very last bar has no later
bar to fill in, but it fills at that last close and could not change the P&L.
"""

from __future__ import annotations

import sys
from typing import Any

import backtrader as bt  # type: ignore[import-not-found]
import numpy as np
import pandas as pd
import workload

MARGIN = 1.0
"""Initial margin per contract for the broker (cash is ample either way)."""


class Hedge(bt.Strategy):  # type: ignore[misc]
    """The rolling hedge: ``datas[0]`` is spot, ``datas[1]`` the futures."""

    params = (("window", workload.WINDOW), ("exposure", workload.EXPOSURE))

    def __init__(self) -> None:
        self.last = np.nan
        self.orders = 0

    def next(self) -> None:
        size = self.p.window + 1
        if len(self.datas[1]) < size:
            return
        spot = np.frombuffer(self.datas[0].close.get(size=size))
        futures = np.frombuffer(self.datas[1].close.get(size=size))
        target = workload.window_target(spot, futures, self.p.exposure)
        if np.isnan(target) or target == self.last:
            return
        self.last = target
        if self.order_target_size(data=self.datas[1], target=target) is not None:
            self.orders += 1


def feed(close: workload.FloatArray, index: pd.DatetimeIndex) -> Any:
    """A one-minute ``PandasData`` feed of ``close`` (open = the previous close)."""
    frame = pd.DataFrame({**workload.bars_from_closes(close), "volume": 0.0}, index=index)
    return bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes, openinterest=None)


def run_path(
    spot: workload.FloatArray,
    futures: workload.FloatArray,
    ts: np.ndarray,
    window: int,
    exposure: float,
) -> workload.PathRun:
    """One path through ``cerebro.run()``."""
    index = pd.DatetimeIndex(ts.astype("datetime64[us]"))
    with workload.Stopwatch() as watch:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(feed(spot, index), name="spot")
        cerebro.adddata(feed(futures, index), name="futures")
        cerebro.addstrategy(Hedge, window=window, exposure=exposure)
        cerebro.broker.setcash(workload.CAPITAL)
        cerebro.broker.set_coc(True)
        cerebro.broker.setcommission(commission=0.0, margin=MARGIN, mult=1.0)
        (strategy,) = cerebro.run()
        pnl = cerebro.broker.getvalue() - workload.CAPITAL
    return workload.PathRun(watch.seconds, float(pnl), strategy.orders)


if __name__ == "__main__":
    sys.exit(workload.adapter_main("backtrader", bt.__version__, run_path))
