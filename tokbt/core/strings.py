"""Arrow string columns from codes into a small table of strings, built from buffers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from numba import njit


@njit(cache=True)
def gather_strings(
    codes: np.ndarray, offsets: np.ndarray, blob: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The Arrow buffers (int32 offsets, utf-8 bytes) of a string array whose row ``r`` is
    string ``codes[r]`` of a table of strings (``blob[offsets[s]:offsets[s + 1]]``);
    a negative code gives an empty string (the caller marks it null)."""
    n = codes.shape[0]
    out = np.empty(n + 1, np.int32)
    out[0] = 0
    total = 0
    for r in range(n):
        c = codes[r]
        if c >= 0:
            total += offsets[c + 1] - offsets[c]
        out[r + 1] = total
    data = np.empty(total, np.uint8)
    for r in range(n):
        c = codes[r]
        if c >= 0:
            start, first = out[r], offsets[c]
            for b in range(offsets[c + 1] - first):
                data[start + b] = blob[first + b]
    return out, data


def string_column(values: Sequence[str | None], codes: npt.ArrayLike) -> pa.Array:
    """``values[codes]`` as an Arrow string array, null where a code is negative or the
    value is ``None`` (built from its buffers: several times faster than a dictionary
    cast or a take)."""
    table = list(values)
    codes = np.ascontiguousarray(codes, np.int64)
    if any(v is None for v in table):
        none = np.array([v is None for v in table] + [True])
        codes = np.where(none[np.where(codes < 0, len(table), codes)], -1, codes)
    encoded = [(v or "").encode() for v in table]
    bounds = np.zeros(len(encoded) + 1, np.int64)
    bounds[1:] = np.cumsum([len(e) for e in encoded])
    blob = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    offsets, data = gather_strings(codes, bounds, blob)
    missing = codes < 0
    nulls = int(missing.sum())
    validity = pa.array(~missing, pa.bool_()).buffers()[1] if nulls else None
    return pa.StringArray.from_buffers(
        len(codes), pa.py_buffer(offsets), pa.py_buffer(data), validity, nulls
    )
