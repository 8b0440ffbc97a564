"""numpy's floating-point arithmetic for compiled code: sums that give numpy's numbers.

numpy sums a contiguous float64 run pairwise (``total``) and a column of a 2-D array
with several columns row by row (``column_sums``), both from +0.0; compiled code that
must agree with a numpy formula to the last bit sums the same way. A leaf module:
any room may use it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

Floats = npt.NDArray[np.float64]

_UNROLL = 8
_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit("float64(float64[::1], int64, int64)", cache=True, nogil=True)
def pairwise_sum(a: Floats, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``a[lo:lo + n].sum()`` as numpy sums a contiguous float64 run: eight
    accumulators over blocks of at most 128 values, halves (cut at a multiple of
    eight) added recursively above that."""
    if n < _UNROLL:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _BLOCK:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i = _UNROLL
        stop = n - n % _UNROLL
        while i < stop:
            j = lo + i
            r0 += a[j]
            r1 += a[j + 1]
            r2 += a[j + 2]
            r3 += a[j + 3]
            r4 += a[j + 4]
            r5 += a[j + 5]
            r6 += a[j + 6]
            r7 += a[j + 7]
            i += _UNROLL
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i]
            i += 1
        return float(res)
    half = n // 2
    half -= half % _UNROLL
    return float(pairwise_sum(a, lo, half) + pairwise_sum(a, lo + half, n - half))


@njit("float64(float64[::1], int64, int64)", cache=True, nogil=True)
def total(a: Floats, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``a[lo:lo + n].sum()`` exactly as numpy: its pairwise sum added to the reduction's
    starting value +0.0 (so a run of -0.0 sums to +0.0)."""
    return 0.0 + pairwise_sum(a, lo, n)


@njit(cache=True, nogil=True)
def column_sums(v: Floats) -> Floats:  # pragma: no cover - compiled
    """``v.sum(axis=0)`` of a C-contiguous ``(rows, columns)`` array, as numpy computes it:
    from +0.0 row by row, or as ``total`` down a single column (then contiguous)."""
    rows, cols = v.shape
    out = np.zeros(cols)
    if cols == 1:
        out[0] = total(np.ascontiguousarray(v[:, 0]), 0, rows)
        return out
    for i in range(rows):
        for j in range(cols):
            out[j] += v[i, j]
    return out
