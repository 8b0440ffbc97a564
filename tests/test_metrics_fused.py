"""The built-in metrics measured in one compiled pass over the core's row buffers
(``Measurement.core_rows`` → ``kernels.core_pass``) give what they give when the rows are
decoded and each metric reads them (a custom metric in the set forces that path)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokbt.core import layout
from tokbt.ledger.journal import ACCOUNTS, KINDS
from tokbt.metrics.path import Measurement, Metric, MonthlyCost, metric_set
from tokbt.metrics.rows import JournalRows, RunFrame

FIRST = dt.date(2026, 1, 1)
CONTRACTS = [
    ("M1", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ("M2", dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    ("Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
]
US_PER_DAY = 86_400_000_000


class Counting(Metric):
    """A metric of the user's: any such metric makes the rows decoded for everyone."""

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        self.rows = 0

    def journal(self, rows: JournalRows) -> None:
        self.rows += len(rows.day)


def _frame(n_paths: int, n_days: int) -> RunFrame:
    return RunFrame.build(
        np.arange(n_paths), FIRST, FIRST + dt.timedelta(days=n_days - 1), CONTRACTS,
        multiplier=10.0, plan_tokens=np.full(n_paths, 50.0),
        cascades={"Q2": dt.date(2026, 3, 27)},
    )  # fmt: skip


def _rows(
    rng: np.random.Generator, m: int, n_paths: int, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    ints = np.zeros((m, 6), np.int64)
    floats = np.zeros((m, 3))
    day0 = np.datetime64(FIRST, "D").astype(np.int64)
    days = np.sort(rng.integers(0, n_days, m))
    ints[:, layout.J_TS] = (day0 + days + 1) * US_PER_DAY  # midnight after the day it describes
    ints[:, layout.J_KIND] = rng.integers(0, len(KINDS), m)
    ints[:, layout.J_ACCOUNT] = rng.integers(0, len(ACCOUNTS), m)
    ints[:, layout.J_PATH] = rng.integers(0, n_paths, m)
    ints[:, layout.J_CONTRACT] = rng.integers(-1, len(CONTRACTS), m)
    ints[:, layout.J_FLAGS] = rng.integers(0, 4, m)
    floats[:, layout.J_QTY] = rng.integers(-5, 6, m).astype(float)
    floats[:, layout.J_PRICE] = rng.uniform(0.5, 2.0, m)
    floats[:, layout.J_AMOUNT] = rng.normal(0, 100, m)
    return ints, floats


def _measure(
    frame: RunFrame, batches: list[tuple[np.ndarray, np.ndarray]], extra: list[Metric]
) -> dict[str, np.ndarray]:
    measurement = Measurement(frame, [*metric_set("default"), *extra])
    for ints, floats in batches:
        measurement.core_rows(ints, floats)
    got = measurement.finish()
    return {**got.columns, **got.daily, **{f"m.{k}": v for k, v in got.monthly.items()}}


@settings(max_examples=60, deadline=None)
@given(
    n_paths=st.integers(1, 6),
    n_days=st.integers(1, 120),
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_fused_pass_equals_every_metric_reading_decoded_rows(
    n_paths: int, n_days: int, sizes: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    frame = _frame(n_paths, n_days)
    batches = [_rows(rng, m, n_paths, n_days) for m in sizes]
    counting = Counting()
    fused = _measure(frame, batches, [])
    decoded = _measure(frame, batches, [counting])
    assert counting.rows == sum(sizes)  # the decoded path ran
    assert fused.keys() == decoded.keys()
    for name, values in fused.items():
        assert np.array_equal(values, decoded[name], equal_nan=True), name


def test_only_the_built_in_metrics_are_fused() -> None:
    frame = _frame(2, 10)
    assert Measurement(frame, "default")._fused is not None
    assert Measurement(frame, "costs")._fused is not None
    assert Measurement(frame, [*metric_set("default"), Counting()])._fused is None
    assert Measurement(frame, [MonthlyCost(), MonthlyCost()])._fused is None


def test_a_row_outside_the_run_is_named_either_way() -> None:
    frame = _frame(2, 10)
    ints, floats = _rows(np.random.default_rng(1), 5, 2, 10)
    ints[3, layout.J_TS] += 30 * US_PER_DAY
    for extra in ([], [Counting()]):
        with pytest.raises(ValueError, match="outside the run's days"):
            Measurement(frame, [*metric_set("default"), *extra]).core_rows(ints, floats)
