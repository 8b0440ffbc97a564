"""The journal: rows per path, transfers that net to zero, totals, streaming to Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.ledger import JOURNAL_SCHEMA, Account, EntryKind, Journal

T0 = np.datetime64("2026-03-02T00:00", "us")


def test_rows_for_paths_with_money_and_hand_totals() -> None:
    j = Journal(3)
    # consumption: path 0 buys 1,000 M tokens at $2.10, path 2 none, path 1 800 at $2.00
    n = j.record(T0, EntryKind.CONSUMPTION, Account.OPERATING, [-2100.0, -1600.0, 0.0])
    assert n == 2
    j.record(
        T0, EntryKind.FILL, Account.MARGIN, 0.0, contract="TPI-2026-04", qty=[2, 0, -1], price=2.05
    )
    j.transfer(T0, EntryKind.DEPOSIT, Account.OPERATING, Account.MARGIN, [410.0, 0.0, 205.0])
    vm = [2 * 1000 * 0.03, 0.0, -1 * 1000 * 0.03]  # pos x multiplier x (settle - fill)
    j.record(T0, EntryKind.VARIATION_MARGIN, Account.MARGIN, vm, contract="TPI-2026-04")
    table = j.to_arrow()
    assert table.schema == JOURNAL_SCHEMA
    assert table.num_rows == j.rows == 2 + 2 + 4 + 2
    fills = table.filter(table["kind"].to_numpy(zero_copy_only=False) == "fill").to_pylist()
    assert [(r["path"], r["qty"], r["price"], r["amount"]) for r in fills] == [
        (0, 2.0, 2.05, 0.0),
        (2, -1.0, 2.05, 0.0),
    ]
    np.testing.assert_allclose(j.net(Account.OPERATING), [-2100 - 410, -1600, -205])
    np.testing.assert_allclose(j.net(Account.MARGIN), [410 + 60, 0, 205 - 30])
    # transfers net to zero: total = consumption + variation margin only
    np.testing.assert_allclose(j.net(), [-2100 + 60, -1600, -30])


def test_explicit_mask_path_ids_and_refusals() -> None:
    j = Journal(2, path_ids=[10, 11])
    j.record(T0, EntryKind.INTEREST, Account.OPERATING, 0.0, where=[True, False])
    assert j.to_arrow()["path"].to_pylist() == [10]
    with pytest.raises(ValueError, match="NaN"):
        j.record(T0, EntryKind.FEE, Account.MARGIN, [np.nan, 1.0])
    with pytest.raises(ValueError, match=">= 0"):
        j.transfer(T0, EntryKind.DEPOSIT, Account.OPERATING, Account.MARGIN, [-1.0, 2.0])
    with pytest.raises(ValueError, match="path_ids"):
        Journal(3, path_ids=[1, 2])


def test_streaming_to_parquet_keeps_every_row_in_order(tmp_path: Path) -> None:
    sink = tmp_path / "journal.parquet"
    j = Journal(4, sink=sink, flush_rows=5)
    for day in range(6):
        j.record(T0 + np.timedelta64(day, "D"), EntryKind.FEE, Account.MARGIN, -(day + 1.0))
    assert sink.exists()  # flushed along the way
    table = j.to_arrow()
    assert table.num_rows == 24
    assert table["amount"].to_pylist() == [-(d + 1.0) for d in range(6) for _ in range(4)]
    assert pq.read_table(sink).num_rows == 24
    with pytest.raises(ValueError, match="closed"):
        j.record(T0, EntryKind.FEE, Account.MARGIN, 1.0)
    np.testing.assert_allclose(j.net(), -21.0)


@settings(max_examples=60, deadline=None)
@given(
    flows=st.lists(
        st.tuples(
            st.sampled_from(list(EntryKind)),
            st.sampled_from(list(Account)),
            st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3),
            st.booleans(),
        ),
        max_size=25,
    )
)
def test_totals_equal_the_sum_of_rows_per_path(
    flows: list[tuple[EntryKind, Account, list[float], bool]],
) -> None:
    j = Journal(3)
    for kind, account, amounts, as_transfer in flows:
        if as_transfer:
            j.transfer(T0, kind, account, Account.CREDIT, np.abs(amounts))
        else:
            j.record(T0, kind, account, amounts)
    table = j.to_arrow().to_pandas()
    by_path = table.groupby("path")["amount"].sum().reindex(range(3), fill_value=0.0)
    np.testing.assert_allclose(j.net(), by_path.to_numpy(), rtol=1e-9, atol=1e-6)
    external = sum(np.asarray(a) for k, acc, a, t in flows if not t) if flows else 0.0
    np.testing.assert_allclose(j.net(), np.broadcast_to(external, (3,)), rtol=1e-9, atol=1e-6)
