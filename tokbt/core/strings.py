"""Arrow string columns from codes into a small table of strings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa


def string_column(values: Sequence[str | None], codes: npt.ArrayLike) -> pa.Array:
    """``values[codes]`` as an Arrow string array, null where a code is negative or the
    value is ``None`` (Arrow's ``take`` from the table of strings: it copies each string's
    bytes in C++, several times faster than gathering them in compiled Python)."""
    codes = np.ascontiguousarray(codes, np.int64)
    missing = codes < 0
    positions = pa.array(np.where(missing, 0, codes), mask=missing if missing.any() else None)
    return pa.array(list(values), pa.string()).take(positions)
