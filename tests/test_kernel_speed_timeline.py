"""``Timeline.build``'s shortcuts give the timeline of its definition.

Where bars of every kind start at the same times, the timeline skips its search and
sort, and a day's last bar is found by searching each midnight; these tests hold the
result to the definition (numpy's ``unique`` and a day-by-day comparison) on random
bar times: shared or partly shared, unsorted, repeated, sparse over many days.
"""

from __future__ import annotations

import numpy as np
import pytest

from tokbt.data.frames import Timeline, _last_of_day
from tokbt.data.schemas import Kind

MINUTE = np.timedelta64(60_000_000, "us")


def _last_of_each_day(starts: np.ndarray) -> np.ndarray:
    day = starts.astype("datetime64[D]")
    return np.r_[day[1:] != day[:-1], True] if len(day) else np.zeros(0, bool)


def _reference(starts: dict[Kind, np.ndarray], seconds: dict[Kind, int]) -> Timeline:
    """The timeline by its definition: events are the distinct bar ends."""
    distinct = {k: np.unique(v) for k, v in starts.items()}
    ends = {k: v + np.timedelta64(seconds[k] * 1_000_000, "us") for k, v in distinct.items()}
    events = np.unique(np.concatenate(list(ends.values())))
    day_close = np.zeros(len(events), bool)
    settlement = np.zeros(len(events), bool)
    futures_start = np.full(len(events), np.datetime64("NaT"), "datetime64[us]")
    if Kind.SPOT in ends:
        last = ends[Kind.SPOT][_last_of_each_day(distinct[Kind.SPOT])]
        day_close[np.searchsorted(events, last)] = True
    if Kind.FUTURES in ends:
        at = np.searchsorted(events, ends[Kind.FUTURES])
        futures_start[at] = distinct[Kind.FUTURES]
        settlement[at[_last_of_each_day(distinct[Kind.FUTURES])]] = True
    return Timeline(events, day_close, futures_start, settlement)


def _starts(rng: np.random.Generator, mode: int) -> dict[Kind, np.ndarray]:
    n = int(rng.integers(1, 300))
    step = int(rng.choice([1, 60, 1440, 3000]))
    spot = np.datetime64("2026-01-01", "us") + np.arange(n) * step * MINUTE
    spot += int(rng.integers(-(10**6), 10**6)) * MINUTE
    futures = {
        0: spot.copy(),  # every kind at the same times
        1: spot[rng.random(n) < 0.7],  # futures at some of them
        2: np.sort(rng.choice(spot, n)),  # repeated futures bars
        3: spot + int(rng.integers(1, 3)) * MINUTE,  # shifted
    }[mode]
    if mode == 2:
        spot = spot[::-1].copy()  # unsorted
    return {Kind.SPOT: spot, Kind.FUTURES: futures}


def _comparable(a: np.ndarray) -> np.ndarray:
    """Times as int64 (NaT equal to NaT), other arrays as they are."""
    return a.view(np.int64) if a.dtype.kind == "M" else a


@pytest.mark.parametrize("mode", range(4))
def test_timeline_is_its_definition(mode: int) -> None:
    rng = np.random.default_rng(mode)
    for _ in range(200):
        starts = _starts(rng, mode)
        seconds = {Kind.SPOT: 60 * int(rng.integers(1, 3)), Kind.FUTURES: 60}
        for kinds in (starts, {Kind.FUTURES: starts[Kind.FUTURES]}):
            got, want = Timeline.build(kinds, seconds), _reference(kinds, seconds)
            for name in ("events", "day_close", "futures_start", "settlement"):
                a, b = getattr(got, name), getattr(want, name)
                assert a.dtype == b.dtype, name
                np.testing.assert_array_equal(_comparable(a), _comparable(b), err_msg=name)


def test_last_of_day_searched_or_compared_agree() -> None:
    rng = np.random.default_rng(0)
    for _ in range(1000):
        n = int(rng.integers(1, 200))
        step = np.timedelta64(int(rng.choice([1, 60, 3600])), "s")
        offsets = rng.integers(-(10**6), 10**6, n)
        starts = np.unique(np.datetime64("2026-01-01", "us") + offsets * step)
        np.testing.assert_array_equal(_last_of_day(starts), _last_of_each_day(starts))
