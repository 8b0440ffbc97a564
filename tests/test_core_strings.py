"""``string_column``: the strings at the codes, null where a code is negative or the value None."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from tokbt.core.strings import string_column


@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=8),
    data=st.data(),
)
def test_the_strings_at_the_codes(values: list[str | None], data: st.DataObject) -> None:
    codes = data.draw(st.lists(st.integers(-2, len(values) - 1), max_size=50))
    got = string_column(values, np.array(codes, dtype=np.int64))
    assert got.type == pa.string()
    assert got.to_pylist() == [values[c] if c >= 0 else None for c in codes]
    assert got.null_count == sum(c < 0 or values[c] is None for c in codes)
