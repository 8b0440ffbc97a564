"""Across-path metrics with bootstrap confidence intervals, and paired policy comparisons.

Every summary metric is a function of a *resample*: an ``(B, n)`` array of
path positions (or, for a single recorded path, of month positions). The
point value uses the identity resample; the interval is the percentile
bootstrap over ``B`` resamples drawn from a seeded generator. A paired
comparison evaluates two policies on the *same* resamples — the paths are
the same, so their noise cancels — and gives a verdict only when the
interval of the difference excludes zero.

Definitions (``h`` hedged and ``u`` unhedged horizon cost per path):

* ``vr_std = 1 − sd(h)/sd(u)``, ``he_var = 1 − var(h)/var(u)`` (ddof 1), so on
  the same sample ``he_var = 1 − (1 − vr_std)²``;
* ``vr_std_unit``/``he_var_unit``: the same of the horizon unit cost (USD per 1M
  tokens) across paths — the price risk with the quantity risk divided out;
* ``vr_std_monthly``/``he_var_monthly``: the same of monthly unit cost over time,
  the over-time variances (ddof 1) of each path pooled by their mean;
* ``p95_cost``: the 95th percentile of ``h`` (linear interpolation, numpy's default);
* ``cvar95_cost``: the mean of the worst ``⌈0.05 n⌉`` costs;
* ``budget_at_risk``: the 95th percentile of ``h − budget``; ``p_overrun``: the
  share of paths with ``h > budget``.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from tokbt.metrics.decompose import COMPONENTS
from tokbt.metrics.evaluation import SUMMARY_METRICS
from tokbt.metrics.resampled import column as as_column
from tokbt.metrics.resampled import (
    positions,
    resampled_cvar,
    resampled_mean,
    resampled_quantile,
    resampled_sd,
    resampled_share_positive,
)

Floats = npt.NDArray[np.float64]
Resample = npt.NDArray[np.int64]
Statistic = Callable[["Sample", Resample], Floats]


@contextlib.contextmanager
def threads(tasks: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of at most one thread per core for ``tasks`` independent tasks (the row
    statistics of ``tokbt.metrics.resampled`` release the GIL, as numpy does in its own).

    RuntimeWarnings are ignored while it is open: the tasks silence the warnings of
    NaN-aware reductions with ``warnings.catch_warnings``, which is not thread-safe —
    with the filter set here, before the threads start and restored after they end,
    a task entering or leaving it can neither show such a warning nor leave the
    process's filters changed.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with ThreadPoolExecutor(max(1, min(tasks, os.cpu_count() or 1))) as pool:
            yield pool


BLOCK_MONTHS = 3
"""Block length of the moving-block bootstrap over the months of a single path."""


@dataclass(frozen=True)
class Sample:
    """One policy's per-path values (``columns``, with each path's over-time variance of
    monthly unit cost) and, for a single path, its monthly unit costs ``(1, months)``."""

    columns: Mapping[str, Floats]
    unit_hedged: Floats
    unit_unhedged: Floats

    @property
    def n(self) -> int:
        """Number of paths."""
        return len(self.columns["hedged_cost"])

    @property
    def months(self) -> int:
        """Number of months."""
        return int(self.unit_hedged.shape[1])

    def reduce(self, how: RowStat, column: str, idx: Resample) -> Floats:
        """``how(column, idx)``: a row statistic of ``column`` at each resample of ``idx``."""
        return how(as_column(self.columns[column]), positions(idx))


RowStat = Callable[[Floats, Resample], Floats]
"""A statistic of a column ``(n,)`` at each resample of ``(B, m)`` positions, ``(B,)``:
the compiled functions of ``tokbt.metrics.resampled`` (NaN-aware, as numpy's)."""


def _q95(values: Floats, idx: Resample) -> Floats:
    """The 95th percentile (linear interpolation) of each resample over its defined values."""
    return resampled_quantile(values, idx, 0.95)


def _cvar95(values: Floats, idx: Resample) -> Floats:
    """``cvar`` at 95 % of each resample."""
    return resampled_cvar(values, idx, 0.95)


def _ratio(top: Floats, bottom: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / bottom, np.nan)


def cvar(x: Floats, level: float = 0.95) -> Floats:
    """Mean of the worst ``⌈(1 − level)·n⌉`` values of each row of ``x`` ``(B, n)``
    (NaN where a row holds a NaN)."""
    rows = as_column(np.ravel(x))
    every = np.arange(rows.size, dtype=np.int64).reshape(np.shape(x))
    return resampled_cvar(rows, every, level)


def over_time_variance(unit: Floats) -> Floats:
    """Each path's variance over months (ddof 1) of ``unit`` ``(n, months)``, NaN-aware;
    NaN for a path with fewer than two months."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a path with one month has no variance
        if unit.shape[1] < 2:
            return np.full(len(unit), np.nan)
        return np.asarray(np.nanvar(unit, axis=1, ddof=1))


def _monthly(sample: Sample, idx: Resample, power: float) -> Floats:
    if sample.n == 1:  # one path: idx resamples months
        h, u = sample.unit_hedged[0][idx], sample.unit_unhedged[0][idx]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # under two months: NaN, no warning
            vh, vu = np.nanvar(h, axis=1, ddof=1), np.nanvar(u, axis=1, ddof=1)
    else:  # the mean over resampled paths of each path's variance over months
        vh = sample.reduce(resampled_mean, "unit_cost_var_hedged", idx)
        vu = sample.reduce(resampled_mean, "unit_cost_var_unhedged", idx)
    return 1 - _ratio(vh, vu) ** power


def _of(how: RowStat, column: str) -> Statistic:
    """The statistic ``how`` of ``column`` across the resampled paths."""
    return lambda s, idx: s.reduce(how, column, idx)


def _sd_ratio(s: Sample, idx: Resample, top: str, bottom: str) -> Floats:
    """``sd(top) / sd(bottom)`` across the resampled paths (NaN where ``sd(bottom)`` is 0)."""
    return _ratio(s.reduce(resampled_sd, top, idx), s.reduce(resampled_sd, bottom, idx))


def _share(part: str) -> Statistic:
    """``var(part) / var(hedged_cost_after)`` across the resampled paths."""

    def share(s: Sample, idx: Resample) -> Floats:
        return np.asarray(_sd_ratio(s, idx, part, "hedged_cost_after") ** 2)

    return share


def _cross_share(s: Sample, idx: Resample) -> Floats:
    """The share of ``var(hedged_cost_after)`` in the covariances of its parts: 1 − the
    parts' own shares."""
    own = np.zeros(len(idx))
    for part in COMPONENTS:
        own = own + _share(part)(s, idx)
    return 1 - own


STATISTICS: dict[str, Statistic] = {
    "mean_cost": _of(resampled_mean, "hedged_cost"),
    "sd_cost": _of(resampled_sd, "hedged_cost"),
    "vr_std": lambda s, idx: 1 - _sd_ratio(s, idx, "hedged_cost", "unhedged_cost"),
    "he_var": lambda s, idx: 1 - _sd_ratio(s, idx, "hedged_cost", "unhedged_cost") ** 2,
    "vr_std_unit": lambda s, idx: 1 - _sd_ratio(s, idx, "unit_cost_hedged", "unit_cost_unhedged"),
    "he_var_unit": lambda s, idx: (
        1 - _sd_ratio(s, idx, "unit_cost_hedged", "unit_cost_unhedged") ** 2
    ),
    "vr_std_monthly": lambda s, idx: _monthly(s, idx, 0.5),
    "he_var_monthly": lambda s, idx: _monthly(s, idx, 1.0),
    "mean_unit_cost": _of(resampled_mean, "unit_cost_hedged"),
    "p95_cost": _of(_q95, "hedged_cost"),
    "cvar95_cost": _of(_cvar95, "hedged_cost"),
    "budget_at_risk": _of(_q95, "overrun"),
    "p_overrun": _of(resampled_share_positive, "overrun"),
    "mean_futures_pnl": _of(resampled_mean, "futures_pnl"),
    "mean_roll_pnl": _of(resampled_mean, "roll_pnl"),
    "mean_fees": _of(resampled_mean, "fees"),
    "mean_funding_cost": _of(resampled_mean, "funding_cost"),
    "p95_peak_funding": _of(_q95, "peak_funding"),
    "mean_margin_calls": _of(resampled_mean, "margin_calls"),
    "p_liquidation": _of(resampled_share_positive, "liquidations"),
    "mean_hedge_ratio": _of(resampled_mean, "hedge_ratio"),
    "mean_cost_after": _of(resampled_mean, "hedged_cost_after"),
    "sd_cost_after": _of(resampled_sd, "hedged_cost_after"),
    "vr_std_after": lambda s, idx: (
        1 - _sd_ratio(s, idx, "hedged_cost_after", "unhedged_cost_after")
    ),
    "he_var_after": lambda s, idx: (
        1 - _sd_ratio(s, idx, "hedged_cost_after", "unhedged_cost_after") ** 2
    ),
    **{f"share_{name.removeprefix('cost_')}": _share(name) for name in COMPONENTS},
    "share_cross": _cross_share,
}
"""How each of ``SUMMARY_METRICS`` is computed from a resample."""

_MONTHLY = ("vr_std_monthly", "he_var_monthly")
assert list(STATISTICS) == list(SUMMARY_METRICS), "every summary metric needs a statistic"


def path_resamples(n: int, resamples: int, rng: np.random.Generator) -> Resample:
    """``(resamples, n)`` path positions drawn with replacement."""
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def block_resamples(months: int, resamples: int, rng: np.random.Generator) -> Resample:
    """``(resamples, months)`` month positions of a moving-block bootstrap
    (blocks of ``BLOCK_MONTHS`` consecutive months, wrapped around the end)."""
    block = min(BLOCK_MONTHS, max(months, 1))
    n_blocks = -(-months // block)
    starts = rng.integers(0, months, size=(resamples, n_blocks), dtype=np.int64)
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % max(months, 1)
    return idx.reshape(resamples, -1)[:, :months]


BLOCK_VALUES = 500_000
"""Resampled positions drawn at once: the bootstrap's memory bound (4 MB of int64, and
8 MB for each column gathered at them)."""


@dataclass(frozen=True)
class Resamples:
    """The identity and bootstrap resamples shared by every policy of an evaluation.

    Resamples are drawn in blocks of at most ``BLOCK_VALUES`` positions from a
    generator seeded afresh for every pass, so memory stays bounded however many
    paths there are, and every pass (every policy, every metric) sees the same
    resamples — the same numbers as one draw of the whole ``(resamples, n)`` array.
    """

    n: int
    months: int
    resamples: int
    seed: int

    @classmethod
    def draw(cls, n: int, months: int, resamples: int, seed: int) -> Resamples:
        """Resamples of ``n`` paths (and of ``months`` months when ``n == 1``)."""
        return cls(n, months, resamples, seed)

    @property
    def point(self) -> Resample:
        """The identity resample of the paths, ``(1, n)``."""
        return np.arange(self.n, dtype=np.int64)[None]

    @property
    def boot(self) -> Resample:
        """All bootstrap resamples of the paths at once, ``(resamples, n)``; empty for one path."""
        blocks = list(self.blocks())
        return np.vstack(blocks) if blocks else np.zeros((0, max(self.n, 1)), np.int64)

    def blocks(self, *, monthly: bool = False) -> Iterator[Resample]:
        """The bootstrap resamples in blocks of rows: of paths, or (``monthly`` and one
        path) of months by moving blocks. Nothing for one path's cross-path metrics."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x70CB7]))
        if self.n == 1 and not monthly:
            return
        width = self.months if self.n == 1 else self.n
        if self.n == 1:
            yield block_resamples(self.months, self.resamples, rng)
            return
        rows = max(1, BLOCK_VALUES // max(width, 1))
        for lo in range(0, self.resamples, rows):
            yield path_resamples(width, min(rows, self.resamples - lo), rng)

    def for_metric(self, metric: str) -> Resample:
        """The identity resample of one metric: of the months for one path's monthly
        metrics, of the paths otherwise."""
        if metric in _MONTHLY and self.n == 1:
            return np.arange(self.months, dtype=np.int64)[None]
        return self.point

    def passes(self) -> Iterator[tuple[Resample, tuple[str, ...]]]:
        """``(block, metrics)``: every bootstrap block once, with the metrics it serves —
        every metric's path blocks, or for one path its monthly metrics' month blocks."""
        if self.n == 1:
            for block in self.blocks(monthly=True):
                yield block, _MONTHLY
            return
        for block in self.blocks():
            yield block, tuple(STATISTICS)


def _interval(values: Floats, confidence: float) -> tuple[float, float]:
    """Percentile interval; NaN without resamples or when over 10 % of them are undefined."""
    finite = values[np.isfinite(values)]
    if len(values) == 0 or len(finite) < max(10, 0.9 * len(values)):
        return math.nan, math.nan
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class _Values:
    """A statistic of one policy at the identity and at every bootstrap resample."""

    point: float
    boot: Floats


@dataclass(frozen=True, eq=False)
class _Gathered(Sample):
    """A ``Sample`` that computes each row statistic of a column once at its ``block``:
    the statistics of one resample block share them (``sd_cost``, ``vr_std`` and
    ``he_var`` all need ``sd(h)``)."""

    block: Resample
    reduced: dict[tuple[RowStat, str], Floats] = field(default_factory=dict)

    @classmethod
    def of(cls, sample: Sample, block: Resample) -> _Gathered:
        """``sample`` reducing at ``block``."""
        return cls(sample.columns, sample.unit_hedged, sample.unit_unhedged, block)

    def reduce(self, how: RowStat, column: str, idx: Resample) -> Floats:
        """``how`` of ``column`` at ``idx``, computed once when ``idx`` is the block."""
        if idx is not self.block:
            return super().reduce(how, column, idx)
        key = (how, column)
        if key not in self.reduced:
            self.reduced[key] = super().reduce(how, column, idx)
        return self.reduced[key]


def _block_values(sample: Sample, block: Resample, metrics: tuple[str, ...]) -> list[Floats]:
    """``metrics`` of one policy at every resample of ``block``."""
    gathered = _Gathered.of(sample, block)
    return [STATISTICS[metric](gathered, block) for metric in metrics]


def _values(samples: Mapping[str, Sample], draws: Resamples) -> dict[str, dict[str, _Values]]:
    """Every statistic of every policy at the identity and at every resample: one pass
    over the resample blocks, each block drawn once and each column gathered once; the
    policies of a block are evaluated side by side on threads (each alone: the same
    numbers whatever the number of threads)."""
    boot: dict[str, dict[str, list[Floats]]] = {p: {m: [] for m in STATISTICS} for p in samples}
    with threads(len(samples)) as pool:
        for block, metrics in draws.passes():
            n = len(samples)
            done = pool.map(_block_values, samples.values(), [block] * n, [metrics] * n)
            for policy, values in zip(samples, done, strict=True):
                for metric, value in zip(metrics, values, strict=True):
                    boot[policy][metric].append(value)
    return {
        policy: {
            metric: _Values(
                float(stat(sample, draws.for_metric(metric))[0]),
                np.concatenate(boot[policy][metric]) if boot[policy][metric] else np.empty(0),
            )
            for metric, stat in STATISTICS.items()
        }
        for policy, sample in samples.items()
    }


def _summary(values: dict[str, dict[str, _Values]], confidence: float) -> pd.DataFrame:
    rows = [
        (policy, metric, v.point, *_interval(v.boot, confidence))
        for policy, metrics in values.items()
        for metric, v in metrics.items()
    ]
    return pd.DataFrame(rows, columns=["policy", "metric", "value", "lo", "hi"])


def _verdict(metric: str, lo: float, hi: float) -> str:
    better = SUMMARY_METRICS[metric].better
    if better == "none" or not (lo > 0 or hi < 0):
        return ""
    improved = (lo > 0) == (better == "higher")
    return "better" if improved else "worse"


def _comparisons(
    values: dict[str, dict[str, _Values]], baseline: str, confidence: float
) -> pd.DataFrame:
    rows = []
    for policy, metrics in values.items():
        if policy == baseline:
            continue
        for metric, v in metrics.items():
            base = values[baseline][metric]
            lo, hi = _interval(v.boot - base.boot, confidence)
            verdict = _verdict(metric, lo, hi) if math.isfinite(lo) else ""
            rows.append((policy, baseline, metric, v.point - base.point, lo, hi, verdict))
    columns = ["policy", "baseline", "metric", "diff", "lo", "hi", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def summarise_and_compare(
    samples: Mapping[str, Sample], baseline: str, draws: Resamples, confidence: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, comparisons)`` from one pass of the bootstrap."""
    values = _values(samples, draws)
    return _summary(values, confidence), _comparisons(values, baseline, confidence)
