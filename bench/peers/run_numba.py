"""The numba baseline of the peer suite: engine_bench's hedge kernel, one call per path.

Run with tokbt's Python (``/work/venv/bin/python``). The kernel is
``engine_bench.compile_hedge_kernel`` (compiled before the timer starts); it
also books tokbt's margin (top-ups, daily variation margin, margin calls),
which does not change the P&L. ``pnl`` is its variation margin: ``Σ position
× ΔF``, settled at the last bar. ``orders`` counts its fills (orders with a
non-zero quantity), as the peers do; ``target_changes`` counts every change of
the target (tokbt's ``orders``).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import workload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/
import engine_bench


def main() -> int:
    """Entry point: print one JSON line (``workload.report``, plus ``target_changes`` and
    ``compile_seconds``)."""
    args = workload.adapter_arguments()
    series = workload.read_series(args.data, args.bars, args.paths)
    start_rss = workload.start_rss_mb()
    spec, _code = engine_bench.hedge_spec(series.bars)
    kernel, compile_seconds = engine_bench.compile_hedge_kernel()
    ts = series.ts.astype("datetime64[us]")
    seconds = 0.0
    pnl, fills, changes = [], [], []
    for p in range(series.paths):
        with workload.Stopwatch() as watch:
            settles = engine_bench.settlement_flags(ts)
            vm, _operating, _margin, _pos, orders, n_fills, _calls = kernel(
                series.spot[p],
                series.futures[p],
                settles,
                args.window,
                args.exposure,
                spec.multiplier,
                spec.initial_margin,
                spec.maintenance_ratio,
                spec.tick_size,
                10.0**4,
            )
        seconds += watch.seconds
        pnl.append(float(vm))
        fills.append(int(n_fills))
        changes.append(int(orders))
    workload.report(
        "numba",
        metadata.version("numba"),
        series,
        seconds,
        pnl,
        fills,
        start_rss,
        compile_seconds=compile_seconds,
        target_changes=changes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
