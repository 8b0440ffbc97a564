"""tokbt in the peer suite: engine_bench's ``hedge_tokbt`` (or ``hedge_compiled``) on a file.

Run with tokbt's Python (``/work/venv/bin/python``).

* One path (``--engine python``, the default): ``engine_bench.hedge_tokbt(cfg)``
  — Arrow tables, ``TableMarket``, ``backtest(…, RollingHedge, …)`` with fills
  at the close and journal totals. It builds its series with
  ``engine_bench.hedge_series(cfg)``; this script replaces that function with
  one returning the series read from ``--data``, so tokbt runs on exactly the
  bytes every peer reads (a prefix included). ``--engine compiled`` calls
  ``engine_bench.hedge_compiled(cfg)`` the same way, once that function exists.
* Several paths (the Monte Carlo variant): one ``backtest`` over a
  ``TableMarket`` holding every path (tokbt's engines are vectorised over
  paths), with engine_bench's settings and ``RollingHedge`` (``--engine
  python``) or ``MinVarianceKernel`` on the compiled engine (``--engine
  compiled``; its numba code is compiled or loaded from the cache, and run once on
  ``engine_bench.WARM_BARS`` bars, before the timer starts, as in ``hedge_compiled``).

``seconds`` is everything after the arrays are in memory: building the Arrow
tables, the ``TableMarket`` and the backtest. ``pnl`` is each path's variation
margin (``Σ position × ΔF``, settled at the last bar). ``orders`` counts the
target changes (``RollingHedge``'s count, compared with the numba kernel's
``target_changes``); with several paths tokbt counts bars where any path's
target changed, so no per-path count is reported.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import workload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/
import common
import engine_bench

if TYPE_CHECKING:
    import pyarrow as pa

ENGINES = {"python": "hedge_tokbt", "compiled": "hedge_compiled"}
"""``--engine`` choices and the engine_bench function each runs."""
TIMED_KEYS = ("tables_seconds", "market_seconds", "seconds")
"""The parts of a ``hedge_tokbt`` result that make up the suite's ``seconds``."""


def config(bars: int, window: int, exposure: float) -> engine_bench.Config:
    """An engine_bench ``Config`` for the hedge (the strip's fields are unused)."""
    return engine_bench.Config(
        bars=bars,
        window=window,
        exposure=exposure,
        paths=1,
        days=1,
        chunk_paths=1,
        scenario="baseline",
        seed=0,
    )


def one_path(series: workload.Series, engine: str, window: int, exposure: float) -> dict[str, Any]:
    """Run engine_bench's hedge job ``ENGINES[engine]`` on the one path of ``series``."""
    given = engine_bench.HedgeSeries(
        series.ts.astype("datetime64[us]"), series.spot[0], series.futures[0]
    )
    engine_bench.hedge_series = lambda cfg: given  # hand the file's series to the job
    job = getattr(engine_bench, ENGINES[engine])
    result = job(config(series.bars, window, exposure))
    outcome = result["outcome"]
    return {
        "seconds": sum(result.get(k, 0.0) for k in TIMED_KEYS),
        "backtest_seconds": result["seconds"],
        "pnl": [float(outcome["variation_margin"])],
        "orders": [int(outcome["orders"])],
    }


def mc_tables(series: workload.Series, code: str) -> dict[Any, pa.Table]:
    """Spot and futures tables of every path: engine_bench's ``hedge_tables`` columns and
    bars (``bars_from_closes`` along each path's time axis), rows in time order and, at
    each time, in path order — how a simulation hands its paths over, and the layout a
    ``TableMarket`` places without sorting."""
    import pyarrow as pa

    from tokbt.data import Kind

    n = series.paths * series.bars
    ts = pa.array(np.repeat(series.ts.astype("datetime64[us]"), series.paths), pa.timestamp("us"))
    path = pa.array(np.tile(np.arange(series.paths, dtype=np.int64), series.bars))
    contract = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int32)), pa.array([code], pa.string())
    )

    def bars(closes: np.ndarray) -> dict[str, np.ndarray]:  # (paths, bars) -> event-major rows
        made = common.bars_from_closes(np.ascontiguousarray(closes.T))
        return {field: values.ravel() for field, values in made.items()}

    futures = {"ts": ts, "path": path, "contract": contract, **bars(series.futures)}
    futures["settle"] = futures["close"]
    return {
        Kind.SPOT: pa.table({"ts": ts, "path": path, **bars(series.spot)}),
        Kind.FUTURES: pa.table(futures),
    }


def many_paths(
    series: workload.Series, engine: str, window: int, exposure: float
) -> dict[str, Any]:
    """One ``backtest`` over every path of ``series``: ``RollingHedge`` on the Python
    engine, or ``MinVarianceKernel`` on the compiled one."""
    from tokbt.data import Kind, TableMarket
    from tokbt.runs import backtest

    spec, code = engine_bench.hedge_spec(series.bars)
    settings = engine_bench.run_settings()
    strategy: Any = engine_bench.RollingHedge
    params: dict[str, Any] = {"contract": code, "window": window, "exposure": exposure}
    if engine == "compiled":
        strategy = engine_bench.compiled_hedge_strategy()
        settings = settings.model_copy(update={"runner": "compiled"})
        engine_bench.compile_compiled(strategy(window=window))
        engine_bench.warm_compiled(strategy, {"exposure": exposure}, settings)
    with workload.Stopwatch() as watch:
        tables = mc_tables(series, code)
        bar_seconds = {Kind.SPOT: engine_bench.BAR_SECONDS, Kind.FUTURES: engine_bench.BAR_SECONDS}
        market = TableMarket(spec, tables, name="hedge-mc", bar_seconds=bar_seconds)
        result = backtest(market, strategy, params=params, config=settings)
    paths = result.paths.to_pydict()
    order = np.argsort(paths["path"])
    return {
        "seconds": watch.seconds,
        "pnl": [float(paths["variation_margin"][i]) for i in order],
        "orders": None,
    }


def import_engine() -> None:
    """Import what the jobs use, so the timers and the start RSS come after it."""
    import pyarrow  # noqa: F401

    import tokbt.data
    import tokbt.runs  # noqa: F401


def main() -> int:
    """Entry point: print one JSON line (``workload.report``)."""
    import argparse

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--engine", choices=sorted(ENGINES), default="python")
    known, rest = pre.parse_known_args()
    args = workload.adapter_arguments(rest)
    series = workload.read_series(args.data, args.bars, args.paths)
    import_engine()
    start_rss = workload.start_rss_mb()
    if series.paths == 1:
        run = one_path(series, known.engine, args.window, args.exposure)
    else:
        run = many_paths(series, known.engine, args.window, args.exposure)
    name = "tokbt" if known.engine == "python" else "tokbt-compiled"
    extra = {k: v for k, v in run.items() if k not in ("seconds", "pnl", "orders")}
    workload.report(
        name,
        metadata.version("tokbt"),
        series,
        run["seconds"],
        run["pnl"],
        run["orders"],
        start_rss,
        "target_changes",
        **extra,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
