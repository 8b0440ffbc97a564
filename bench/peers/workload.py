"""The peer suite's workload, shared by the runner and every adapter (numpy only).

The workload is ``engine_bench.py``'s *hedge*: one spot and one futures series;
at every bar ``h = Cov(ΔS, ΔF) / Var(ΔF)`` over the last ``window`` bar moves
(the window ends at the current bar; the ``ddof`` cancels in the ratio), the
target is ``round(h × exposure)`` contracts (halves away from zero; a *long*
futures position for ``h > 0``, engine_bench's sign), a market order to the
target only when the target changes, filled at the bar's close, no fees,
multiplier 1. The final P&L is ``Σ position × ΔF``.

The runner writes the series once per size to an ``.npz`` file
(``write_series``); every adapter reads the same file (``read_series``),
possibly only a prefix of its bars or its first paths. Each adapter is a
script ``run_<framework>.py`` run with its environment's Python; it hands
``adapter_main`` a function that backtests one path, and prints one JSON line.

This module must import in every environment: numpy and the standard library
only (and ``common`` from ``bench/``, standard library only too).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for ``common``
import common

FloatArray = npt.NDArray[np.float64]

WINDOW = 60
"""Bar moves in each estimate (engine_bench's default)."""
EXPOSURE = 100.0
"""Spot units hedged: contracts at ``h = 1`` (engine_bench's default)."""
CAPITAL = 100_000.0
"""Starting cash of every peer: far more than the largest position needs
(|position| stays below a few hundred contracts at prices below 10), and small
enough that the float rounding of cash (about ``CAPITAL × 1e-16`` per fill)
stays far below the P&L tolerance."""


@dataclass(frozen=True)
class Series:
    """Bars of ``paths`` independent paths on one shared timeline.

    ``ts`` holds the bar start times (microseconds since the epoch, shape
    ``(bars,)``); ``spot`` and ``futures`` the closes, shape ``(paths, bars)``.
    """

    ts: npt.NDArray[np.int64]
    spot: FloatArray
    futures: FloatArray

    @property
    def bars(self) -> int:
        """Bars per path."""
        return len(self.ts)

    @property
    def paths(self) -> int:
        """Number of paths."""
        return int(self.spot.shape[0])


def write_series(path: Path, series: Series) -> None:
    """Write ``series`` to ``path`` (an uncompressed ``.npz``)."""
    np.savez(path, ts=series.ts, spot=series.spot, futures=series.futures)


def read_series(path: Path, bars: int | None = None, paths: int | None = None) -> Series:
    """Read a series written by ``write_series``: its first ``bars`` bars of its first
    ``paths`` paths (all when None).

    Raises ``ValueError`` naming the file and the array when an array is
    missing, the shapes disagree, or the file has fewer bars or paths than asked.
    """
    with np.load(path) as data:
        missing = [k for k in ("ts", "spot", "futures") if k not in data]
        if missing:
            raise ValueError(f"{path}: no array {missing[0]!r} (not written by write_series)")
        ts, spot, futures = data["ts"], data["spot"], data["futures"]
    if spot.ndim != 2 or futures.shape != spot.shape or ts.shape != spot.shape[1:]:
        raise ValueError(
            f"{path}: 'spot' {spot.shape} and 'futures' {futures.shape} must both be "
            f"(paths, bars) with bars = len('ts') = {len(ts)}"
        )
    for name, asked, held in (("bars", bars, spot.shape[1]), ("paths", paths, spot.shape[0])):
        if asked is not None and not 1 <= asked <= held:
            raise ValueError(f"{path}: {asked} {name} asked, the file has {held}")
    b = slice(None, bars)
    p = slice(None, paths)
    return Series(
        np.ascontiguousarray(ts[b]),
        np.ascontiguousarray(spot[p, b]),
        np.ascontiguousarray(futures[p, b]),
    )


bars_from_closes = common.bars_from_closes
"""One-minute bars from a close series (``common.bars_from_closes``), for the adapters."""


def window_target(spot: FloatArray, futures: FloatArray, exposure: float) -> float:
    """The target of the bar that ends a window of ``window + 1`` closes of each series.

    The same arithmetic as engine_bench's ``RollingHedge.on_bar`` on one path:
    moves minus their mean, ``Σ ds·df / Σ df²``, times ``exposure``, rounded
    half away from zero. NaN when ``Σ df²`` is not positive (a flat window, or
    NaN closes): then the book is kept.
    """
    w = len(spot) - 1
    ds = spot[1:] - spot[:-1]
    df = futures[1:] - futures[:-1]
    ds = ds - ds.sum() / w
    df = df - df.sum() / w
    var = float((df * df).sum())
    if not var > 0.0:
        return math.nan
    x = float((ds * df).sum()) / var * exposure
    return math.copysign(math.floor(abs(x) + 0.5), x)


ROLLING_CHUNK_CELLS = 4_000_000
"""Window cells (bars × paths × window) computed at once by ``rolling_targets``."""


def rolling_targets(
    spot: FloatArray, futures: FloatArray, window: int, exposure: float
) -> FloatArray:
    """Every bar's target, vectorised over bars (axis 0) and any further axes (paths).

    ``out[i]`` is ``window_target`` of closes ``i - window … i``; NaN for the
    first ``window`` bars and where the futures did not move. Computed with
    numpy sliding windows in chunks of bars (``ROLLING_CHUNK_CELLS``), as a
    two-pass mean-centred sum — not pandas' one-pass rolling ``cov``/``var``,
    whose rounding drifts over a million bars enough to move a target across
    a half (then it would not compute the same thing).
    """
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.full(spot.shape, np.nan)
    moves_s = np.diff(spot, axis=0)
    moves_f = np.diff(futures, axis=0)
    win_s = sliding_window_view(moves_s, window, axis=0)  # (bars - window, ..., window)
    win_f = sliding_window_view(moves_f, window, axis=0)
    width = max(1, ROLLING_CHUNK_CELLS // (window * max(1, spot[0].size)))
    for lo in range(0, len(win_s), width):
        ds = win_s[lo : lo + width]
        df = win_f[lo : lo + width]
        ds = ds - ds.sum(axis=-1, keepdims=True) / window
        df = df - df.sum(axis=-1, keepdims=True) / window
        var = (df * df).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(var > 0.0, (ds * df).sum(axis=-1) / var * exposure, np.nan)
        out[window + lo : window + lo + len(ds)] = np.sign(x) * np.floor(np.abs(x) + 0.5)
    return out


def changed_targets(targets: FloatArray) -> FloatArray:
    """``targets`` where they differ from the last target before them, NaN elsewhere
    (along axis 0): the orders "to the target, only when it changes"."""
    flat = targets.reshape(len(targets), -1)
    valid = ~np.isnan(flat)
    rows = np.arange(len(flat))[:, None]
    last_valid = np.maximum.accumulate(np.where(valid, rows, -1), axis=0)
    held = np.where(last_valid >= 0, np.take_along_axis(flat, last_valid.clip(0), axis=0), np.nan)
    before = np.vstack([np.full((1, flat.shape[1]), np.nan), held[:-1]])
    new = valid & (flat != before)  # NaN before the first target: always new
    return np.where(new, flat, np.nan).reshape(targets.shape)


# -- adapters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathRun:
    """One path backtested by one framework: seconds of the run, its final P&L, its orders."""

    seconds: float
    pnl: float
    orders: int


RunPath = Callable[[FloatArray, FloatArray, npt.NDArray[np.int64], int, float], PathRun]
"""``run(spot, futures, ts, window, exposure)``: backtest one path (closes and bar start
times in microseconds); time only the run, from the arrays to the framework's result."""


def adapter_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """An adapter's command line: the series file, how much of it, the workload's parameters."""
    p = argparse.ArgumentParser(description="Run the hedge workload in one framework.")
    p.add_argument("--data", type=Path, required=True, help=".npz file from write_series")
    p.add_argument("--bars", type=int, help="only the first N bars of each path")
    p.add_argument("--paths", type=int, help="only the first N paths")
    p.add_argument("--window", type=int, default=WINDOW)
    p.add_argument("--exposure", type=float, default=EXPOSURE)
    return p.parse_args(argv)


def adapter_main(
    framework: str, version: str, run_path: RunPath, argv: Sequence[str] | None = None
) -> int:
    """Run ``run_path`` on each path read from ``--data``; print one JSON line
    (``report``), its seconds summed over the paths."""
    args = adapter_arguments(argv)
    series = read_series(args.data, args.bars, args.paths)
    start_rss = common.peak_rss_mb()
    runs = [
        run_path(series.spot[p], series.futures[p], series.ts, args.window, args.exposure)
        for p in range(series.paths)
    ]
    seconds = sum(r.seconds for r in runs)
    orders: list[int] | None = [r.orders for r in runs]
    report(framework, version, series, seconds, [r.pnl for r in runs], orders, start_rss)
    return 0


def report(
    framework: str,
    version: str,
    series: Series,
    seconds: float,
    pnl: list[float],
    orders: list[int] | None,
    start_rss_mb: float,
    orders_counted: str = "fills",
    **extra: Any,
) -> None:
    """Print an adapter's result: the one JSON line the runner reads.

    It holds ``framework``, ``version``, the ``bars`` and ``paths`` run,
    ``seconds``, ``pnl`` and ``orders`` (one per path; ``orders`` may be None),
    what the orders count (``orders_counted``: ``"fills"``, orders sent with a
    non-zero quantity, or ``"target_changes"``), the process's ``start_rss_mb``
    (after imports and reading) and ``peak_rss_mb``, and ``extra``.
    """
    result = {
        "framework": framework,
        "version": version,
        "bars": series.bars,
        "paths": series.paths,
        "seconds": seconds,
        "pnl": pnl,
        "orders": orders,
        "orders_counted": orders_counted,
        "start_rss_mb": start_rss_mb,
        "peak_rss_mb": common.peak_rss_mb(),
        **extra,
    }
    print(json.dumps(result))


def start_rss_mb() -> float:
    """This process's peak RSS so far (MiB): an adapter's RSS before its timed work."""
    return common.peak_rss_mb()


class Stopwatch:
    """``with Stopwatch() as t: ...``; then ``t.seconds`` is the wall time of the block."""

    seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
