"""Row statistics of a column at resampled positions, compiled: the bootstrap's inner loop.

Each function takes a column ``values`` ``(n,)`` and resamples ``idx`` ``(B, m)``
(positions into ``values``) and returns one statistic per resample ``(B,)`` without
materialising the ``(B, m)`` array of values: sums gather a row into a scratch buffer,
order statistics are read off counts of the column's ranks. The numbers are numpy's,
bit for bit, where numpy's are defined by their arithmetic: sums follow numpy's pairwise
summation (``tokbt.numeric.total``), means and standard deviations skip NaN the way
``np.nanmean`` and ``np.nanstd`` do (a NaN counts as 0 in the sums and not in the count),
the 95th percentile interpolates as ``np.nanquantile``'s default (linear) method.
Only ``cvar`` may differ from numpy's in the last bit: it sums the worst values from the
largest down, numpy in the order its introselect leaves them.

The functions release the GIL, so the policies of an evaluation run side by side on
threads. They are compiled for one signature each, when this module is imported (or
loaded from numba's cache): nothing compiles while threads call them, and a column
must be a writable, contiguous float64 array (``column``).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from tokbt.numba_cache import refresh
from tokbt.numeric import total

refresh(__file__, "numeric.py")  # numba's cache follows the sums it calls

Floats = npt.NDArray[np.float64]
Resample = npt.NDArray[np.int64]
Ints = npt.NDArray[np.int64]

_STAT = "float64[::1](float64[::1], int64[:, ::1])"
_STAT_AT = "float64[::1](float64[::1], int64[:, ::1], float64)"


def column(values: npt.ArrayLike) -> Floats:
    """``values`` as the functions take a column: writable, contiguous float64 (copied
    only when it is not)."""
    return np.require(values, np.float64, ["C", "W"])


def positions(idx: npt.ArrayLike) -> Resample:
    """Resamples as the functions take them: contiguous int64 ``(B, m)``."""
    return np.require(idx, np.int64, ["C"])


@njit(cache=True, nogil=True, inline="always")
def _gather_zeroed(values: Floats, row: Resample, buf: Floats) -> int:  # pragma: no cover
    """``buf[i] = values[row[i]]`` with NaN as 0; the number of values that are not NaN."""
    count = 0
    for i in range(row.shape[0]):
        v = values[row[i]]
        if v != v:
            buf[i] = 0.0
        else:
            buf[i] = v
            count += 1
    return count


@njit(_STAT, cache=True, nogil=True)
def resampled_mean(values: Floats, idx: Resample) -> Floats:  # pragma: no cover - compiled
    """The mean of each resample over its values that are not NaN (NaN if none)."""
    out = np.empty(idx.shape[0])
    buf = np.empty(idx.shape[1])
    for r in range(idx.shape[0]):
        count = _gather_zeroed(values, idx[r], buf)
        out[r] = total(buf, 0, buf.shape[0]) / count if count > 0 else np.nan
    return out


@njit(_STAT, cache=True, nogil=True)
def resampled_sd(values: Floats, idx: Resample) -> Floats:  # pragma: no cover - compiled
    """The standard deviation (ddof 1) of each resample over its values that are not NaN
    (NaN with fewer than two)."""
    out = np.empty(idx.shape[0])
    buf = np.empty(idx.shape[1])
    for r in range(idx.shape[0]):
        row = idx[r]
        count = _gather_zeroed(values, row, buf)
        if count < 2:
            out[r] = np.nan
            continue
        mean = total(buf, 0, buf.shape[0]) / count
        for i in range(row.shape[0]):
            v = values[row[i]]
            buf[i] = 0.0 if v != v else (v - mean) * (v - mean)
        out[r] = math.sqrt(total(buf, 0, buf.shape[0]) / (count - 1))
    return out


@njit(cache=True, nogil=True)
def _ranks(values: Floats) -> tuple[Ints, Floats]:  # pragma: no cover - compiled
    """Each value's position among the column's values that are not NaN, in ascending order
    (-1 for NaN), and those values sorted: a resample's order statistics are then read off
    counts of ranks (``_from_top``) instead of selecting among its values."""
    defined = np.flatnonzero(values == values)
    order = defined[np.argsort(values[defined], kind="mergesort")]
    rank = np.full(values.shape[0], -1, dtype=np.int64)
    rank[order] = np.arange(order.shape[0])
    return rank, values[order]


@njit(cache=True, nogil=True, inline="always")
def _count(rank: Ints, row: Resample, counts: Ints) -> int:  # pragma: no cover - compiled
    """Add the ranks of the values at ``row`` that are not NaN to ``counts``; their number."""
    m = 0
    for i in range(row.shape[0]):
        k = rank[row[i]]
        if k >= 0:
            counts[k] += 1
            m += 1
    return m


@njit(cache=True, nogil=True, inline="always")
def _uncount(rank: Ints, row: Resample, counts: Ints) -> None:  # pragma: no cover - compiled
    """Zero the counts ``_count`` set for ``row``."""
    for i in range(row.shape[0]):
        k = rank[row[i]]
        if k >= 0:
            counts[k] = 0


@njit(cache=True, nogil=True, inline="always")
def _from_top(counts: Ints, ordered: Floats, t: int) -> float:  # pragma: no cover - compiled
    """The value ``t`` places below a resample's largest (0: the largest), from the counts
    of its ranks."""
    j = counts.shape[0] - 1
    above = 0
    while above + counts[j] <= t:
        above += counts[j]
        j -= 1
    return float(ordered[j])


@njit(cache=True, nogil=True, inline="always")
def _lerp(a: float, b: float, gamma: float) -> float:  # pragma: no cover - compiled
    """numpy's ``_lerp``: from ``a`` below half way, back from ``b`` above (NaN between two
    equal infinities)."""
    diff = b - a
    if gamma >= 0.5:
        return float(b - diff * (1 - gamma))
    return float(a + diff * gamma)


@njit(_STAT_AT, cache=True, nogil=True)
def resampled_quantile(values: Floats, idx: Resample, q: float) -> Floats:  # pragma: no cover
    """Quantile ``q`` of each resample over its values that are not NaN (NaN if none), by
    numpy's linear interpolation between the order statistics around ``(m − 1)·q``."""
    rank, ordered = _ranks(values)
    counts = np.zeros(ordered.shape[0], dtype=np.int64)
    out = np.empty(idx.shape[0])
    for r in range(idx.shape[0]):
        m = _count(rank, idx[r], counts)
        if m == 0:
            out[r] = np.nan
            continue
        at = (m - 1) * q
        if at >= m - 1:  # numpy takes the largest value twice, its weight from index -1
            a = _from_top(counts, ordered, 0)
            out[r] = _lerp(a, a, at + 1)
        else:
            below = math.floor(at)
            k = int(below)
            b = _from_top(counts, ordered, m - 2 - k)
            a = _from_top(counts, ordered, m - 1 - k)
            out[r] = _lerp(a, b, at - below)
        _uncount(rank, idx[r], counts)
    return out


@njit(_STAT_AT, cache=True, nogil=True)
def resampled_cvar(values: Floats, idx: Resample, level: float) -> Floats:  # pragma: no cover
    """The mean of the worst ``⌈(1 − level)·m⌉`` values of each resample (at least one; NaN
    where the resample holds a NaN), summed from the largest down."""
    m = idx.shape[1]
    k = max(1, math.ceil((1 - level) * m - 1e-9))
    rank, ordered = _ranks(values)
    counts = np.zeros(ordered.shape[0], dtype=np.int64)
    out = np.empty(idx.shape[0])
    for r in range(idx.shape[0]):
        if _count(rank, idx[r], counts) < m:
            out[r] = np.nan
        else:
            s, left, j = 0.0, k, counts.shape[0] - 1
            while left > 0:
                take = min(counts[j], left)
                for _ in range(take):
                    s += ordered[j]
                left -= take
                j -= 1
            out[r] = s / k
        _uncount(rank, idx[r], counts)
    return out


@njit(_STAT, cache=True, nogil=True)
def resampled_share_positive(values: Floats, idx: Resample) -> Floats:  # pragma: no cover
    """The share of each resample's finite values above zero (+inf counts above, not in
    the base: numpy's ``(v > 0).sum() / isfinite(v).sum()``); NaN if none is finite."""
    out = np.empty(idx.shape[0])
    for r in range(idx.shape[0]):
        row = idx[r]
        above = 0
        finite = 0
        for i in range(row.shape[0]):
            v = values[row[i]]
            above += v > 0
            finite += np.isfinite(v)
        out[r] = above / finite if finite > 0 else np.nan
    return out
