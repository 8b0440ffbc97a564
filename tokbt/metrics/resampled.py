"""Row statistics of a column at resampled positions, compiled: the bootstrap's inner loop.

Each function takes a column ``values`` ``(n,)`` and resamples ``idx`` ``(B, m)``
(positions into ``values``) and returns one statistic per resample ``(B,)``,
gathering each row into a scratch buffer instead of materialising the
``(B, m)`` array of values. The numbers are numpy's, bit for bit, where numpy's
are defined by their arithmetic: sums follow numpy's pairwise summation
(``tokbt.numeric.total``), means and standard deviations skip NaN the way ``np.nanmean``
and ``np.nanstd`` do (a NaN counts as 0 in the sums and not in the count), the
95th percentile interpolates as ``np.nanquantile``'s default (linear) method.
Only ``cvar`` may differ from numpy's in the last bit: it sums the worst values
in the order the selection leaves them, which numpy's introselect does not
specify.

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


@njit(cache=True, nogil=True, inline="always")
def _gather_defined(values: Floats, row: Resample, buf: Floats) -> int:  # pragma: no cover
    """The values at ``row`` that are not NaN, packed at the front of ``buf``; their number."""
    m = 0
    for i in range(row.shape[0]):
        v = values[row[i]]
        if v == v:
            buf[m] = v
            m += 1
    return m


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


@njit("void(float64[::1], int64, int64)", cache=True, nogil=True)
def _select(buf: Floats, m: int, k: int) -> None:  # pragma: no cover - compiled
    """Reorder ``buf[:m]`` (no NaN) so that ``buf[k]`` is its ``k``-th smallest value, none
    before it larger and none after it smaller (quickselect, median-of-three pivots)."""
    lo, hi = 0, m - 1
    while hi > lo:
        mid = (lo + hi) // 2
        if buf[mid] < buf[lo]:
            buf[mid], buf[lo] = buf[lo], buf[mid]
        if buf[hi] < buf[lo]:
            buf[hi], buf[lo] = buf[lo], buf[hi]
        if buf[hi] < buf[mid]:
            buf[hi], buf[mid] = buf[mid], buf[hi]
        pivot = buf[mid]
        i, j = lo, hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True, nogil=True, inline="always")
def _quantile_of(buf: Floats, m: int, q: float) -> float:  # pragma: no cover - compiled
    """Quantile ``q`` of ``buf[:m]`` (linear interpolation, numpy's arithmetic); reorders
    ``buf[:m]``."""
    at = (m - 1) * q
    if at >= m - 1:  # numpy takes the largest value twice, its weight from index -1
        k, gamma = m - 1, at + 1
        _select(buf, m, k)
        a = b = buf[k]
    else:
        below = math.floor(at)
        k, gamma = int(below), at - below
        _select(buf, m, k)
        a, b = buf[k], buf[k + 1]
        for i in range(k + 2, m):
            b = min(b, buf[i])
    diff = b - a  # numpy's _lerp: NaN between two equal infinities
    if gamma >= 0.5:
        return float(b - diff * (1 - gamma))
    return float(a + diff * gamma)


@njit(_STAT_AT, cache=True, nogil=True)
def resampled_quantile(values: Floats, idx: Resample, q: float) -> Floats:  # pragma: no cover
    """Quantile ``q`` of each resample over its values that are not NaN (NaN if none)."""
    out = np.empty(idx.shape[0])
    buf = np.empty(idx.shape[1])
    for r in range(idx.shape[0]):
        m = _gather_defined(values, idx[r], buf)
        out[r] = _quantile_of(buf, m, q) if m > 0 else np.nan
    return out


@njit(_STAT_AT, cache=True, nogil=True)
def resampled_cvar(values: Floats, idx: Resample, level: float) -> Floats:  # pragma: no cover
    """The mean of the worst ``⌈(1 − level)·m⌉`` values of each resample (at least one; NaN
    where the resample holds a NaN)."""
    m = idx.shape[1]
    k = max(1, math.ceil((1 - level) * m - 1e-9))
    out = np.empty(idx.shape[0])
    buf = np.empty(m)
    for r in range(idx.shape[0]):
        if _gather_defined(values, idx[r], buf) < m:
            out[r] = np.nan
            continue
        _select(buf, m, m - k)
        out[r] = total(buf, m - k, k) / k
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
