"""vectorbt in the peer suite: ``Portfolio.from_orders`` with target amounts, all paths as columns.

Run with ``bench/peers/.venv/bin/python``. The targets come from
``workload.rolling_targets`` (numpy sliding windows over the whole array,
paths as columns) and ``workload.changed_targets`` (NaN, i.e. no order, where
the target did not change); then one ``Portfolio.from_orders`` call with
``size_type="targetamount"``, ``direction="both"``, filled at the close
(vectorbt's default price), no fees, ``CAPITAL`` of cash per column. The timer
covers the targets, the frames and the portfolio; ``pnl`` is
``total_profit()`` per column and ``orders`` the filled orders per column.
A first call on ``2 × window`` bars compiles vectorbt's numba functions
before the timed one (compiling is not part of a run, as for the baseline).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import vectorbt as vbt  # type: ignore[import-not-found]
import workload


def run_columns(series: workload.Series, window: int, exposure: float) -> dict[str, Any]:
    """Every path of ``series`` as one column of a single portfolio."""
    with workload.Stopwatch() as watch:
        spot, futures = series.spot.T, series.futures.T  # (bars, paths)
        targets = workload.changed_targets(
            workload.rolling_targets(spot, futures, window, exposure)
        )
        index = pd.DatetimeIndex(series.ts.astype("datetime64[us]"))
        close = pd.DataFrame(futures, index=index)
        portfolio = vbt.Portfolio.from_orders(
            close,
            size=pd.DataFrame(targets, index=index),
            size_type="targetamount",
            direction="both",
            fees=0.0,
            init_cash=workload.CAPITAL,
            freq="1min",
        )
        pnl = np.asarray(portfolio.total_profit(), dtype=np.float64).reshape(-1)
        orders = np.asarray(portfolio.orders.count(), dtype=np.int64).reshape(-1)
    return {"seconds": watch.seconds, "pnl": pnl.tolist(), "orders": orders.tolist()}


def main() -> int:
    """Entry point: print one JSON line (``workload.report``)."""
    args = workload.adapter_arguments()
    series = workload.read_series(args.data, args.bars, args.paths)
    run_columns(workload.read_series(args.data, 2 * args.window, args.paths), args.window, 1.0)
    start_rss = workload.start_rss_mb()
    run = run_columns(series, args.window, args.exposure)
    workload.report(
        "vectorbt", vbt.__version__, series, run["seconds"], run["pnl"], run["orders"], start_rss
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
