"""``SimMarket``: simulated paths as a market source, straight from the simulator's arrays.

A ``SimChunk`` already holds every bar densely — spot on its step grid,
futures as ``(n_exchange_days, n_paths, n_slots)`` laid out by
``SimPlan.listed`` — so the blocks are cut from those arrays directly, with
no Arrow tables in between. The result is bit for bit what
``TableMarket(plan.spec, chunk.tables(plan))`` gives (the tests hold it to
that), following the conventions of ``tokbt.sim.simulate``:

* spot: ``bars_per_day`` bars a day from the step grid (open at the bar's
  first step, close at its end, high/low over its steps and close);
* consumption: one bar a day (``tokens``, and ``plan``);
* futures: one daily bar per exchange day per listed contract, opening at the
  previous settlement and closing (and settling) at the new one; high and low
  are the larger and smaller of the two; ``locked`` as simulated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from tokbt.data.frames import (
    FUTURES_FIELDS,
    BlockSource,
    LazyFields,
    MarketBlock,
    Timeline,
    budget_bounds,
    delivery_key,
    describe_paths,
    empty_block,
    fixed_bounds,
)
from tokbt.data.schemas import Kind
from tokbt.sim.kernels import block_futures
from tokbt.sim.simulate import SimChunk, SimPlan

_DAY = np.timedelta64(86_400_000_000, "us")


class SimMarket(BlockSource):
    """Simulated paths of ``plan`` as a ``MarketSource``.

    Args:
        plan: the simulation's frame (calendar, contracts, listing).
        chunk: the simulated paths (``simulate_paths(plan, ...)``).
        block_events: events per block; by default blocks are sized so their
            arrays take about ``memory_budget`` bytes.
        memory_budget: bytes per block when ``block_events`` is not given (64 MiB).

    Attributes:
        name: the scenario's name.
        path_ids: ``chunk.paths``, in the chunk's order.
        contracts: every contract listed on some exchange day, in delivery order.
        timeline: events and structural flags; ``events`` is ``timeline.events``.
        bar_seconds: bar length of each kind.
        bounds: block boundaries ``[0, ..., n_events]``.
    """

    def __init__(
        self,
        plan: SimPlan,
        chunk: SimChunk,
        *,
        block_events: int | None = None,
        memory_budget: int = 64 << 20,
    ) -> None:
        if 86_400 % plan.bars_per_day:
            raise ValueError(
                f"bars_per_day ({plan.bars_per_day}) must divide a day into whole seconds"
            )
        self.plan, self.chunk = plan, chunk
        self._blocking = (block_events, memory_budget)
        self.name = plan.scenario.name
        self.spec = plan.spec
        self.path_ids = np.asarray(chunk.paths, dtype=np.int64)
        self.bar_seconds = {
            Kind.SPOT: 86_400 // plan.bars_per_day,
            Kind.FUTURES: 86_400,
            Kind.CONSUMPTION: 86_400,
        }
        day0 = plan.days[0].astype("datetime64[us]")
        bar = np.timedelta64(self.bar_seconds[Kind.SPOT] * 1_000_000, "us")
        spot_starts = day0 + np.arange(plan.n_days * plan.bars_per_day) * bar
        day_starts = plan.days.astype("datetime64[us]")
        futures_starts = day_starts[plan.exchange_days]
        # each kind's bar events, for locating a block's bars
        self._spot_events = spot_starts + bar
        self._day_events = day_starts + _DAY
        self._futures_events = futures_starts + _DAY
        self.timeline = Timeline.build(
            {Kind.SPOT: spot_starts, Kind.FUTURES: futures_starts, Kind.CONSUMPTION: day_starts},
            self.bar_seconds,
        )
        self.events = self.timeline.events
        # contract index -> rank in delivery order; listed contracts in that order
        order = sorted(range(len(plan.contracts)), key=lambda i: delivery_key(plan.contracts[i]))
        self._rank = np.empty(len(plan.contracts), dtype=np.int64)
        self._rank[order] = np.arange(len(order))
        listed = np.unique(plan.listed[plan.listed >= 0])
        self.contracts = tuple(
            plan.contracts[i].code for i in listed[np.argsort(self._rank[listed])]
        )
        if block_events is not None:
            self.bounds = fixed_bounds(len(self.events), block_events)
        else:
            e, slot = np.nonzero(plan.listed >= 0)
            c = plan.listed[e, slot]
            first = np.full(len(plan.contracts), len(plan.exchange_days), dtype=np.int64)
            last = np.full(len(plan.contracts), -1, dtype=np.int64)
            np.minimum.at(first, c, e)
            np.maximum.at(last, c, e)
            self.bounds = budget_bounds(
                self.events,
                len(self.path_ids),
                memory_budget,
                self._futures_events[first[listed]],
                self._futures_events[last[listed]],
            )

    def load(self, lo: int, hi: int) -> MarketBlock:
        """The block of events ``[lo, hi)``, cut from the chunk's arrays."""
        if not 0 <= lo < hi <= len(self.events):
            raise IndexError(f"events [{lo}, {hi}) outside the timeline of {len(self.events)}")
        events = self.events[lo:hi]
        first, last = events[0], events[-1]
        plan, chunk = self.plan, self.chunk

        def window(kind_events: np.ndarray) -> tuple[int, int, np.ndarray]:
            a = int(np.searchsorted(kind_events, first, side="left"))
            b = int(np.searchsorted(kind_events, last, side="right"))
            return a, b, np.searchsorted(events, kind_events[a:b])

        e0, e1, t_fut = window(self._futures_events)
        rows = plan.listed[e0:e1]
        in_block = np.unique(rows[rows >= 0])
        codes = in_block[np.argsort(self._rank[in_block])]
        block = empty_block(self.timeline, lo, hi, len(self.path_ids))  # futures: below

        # spot: bars [b0, b1) from steps [b0 * per_bar, b1 * per_bar]
        b0, b1, t_spot = window(self._spot_events)
        if b1 > b0:
            per_bar = plan.steps_per_day // plan.bars_per_day
            steps = slice(b0 * per_bar, b1 * per_bar + 1)
            s = np.exp(chunk.spot.f[:, steps] + chunk.spot.y[:, steps])
            inner = s[:, :-1].reshape(len(s), b1 - b0, per_bar)
            close = s[:, per_bar::per_bar]
            spot = {
                "open": inner[:, :, 0],
                "high": np.maximum(inner.max(axis=2), close),
                "low": np.minimum(inner.min(axis=2), close),
                "close": close,
            }
            for f, values in spot.items():
                block.spot[f][t_spot] = values.T

        # consumption: days [d0, d1)
        d0, d1, t_day = window(self._day_events)
        if d1 > d0:
            block.consumption["tokens"][t_day] = chunk.consumption.tokens[:, d0:d1].T
            block.consumption["plan"][t_day] = np.asarray(chunk.consumption.plan)[d0:d1, None]

        # futures: exchange days [e0, e1), slot -> the block's contract column
        if len(codes):
            column = np.full(len(plan.contracts), -1, dtype=np.int64)
            column[codes] = np.arange(len(codes))
            e, slot = np.nonzero(rows >= 0)
            slot_of = np.full((len(rows), len(codes)), -1, dtype=np.int64)
            slot_of[e, column[rows[e, slot]]] = slot
            event_row = np.full(hi - lo, -1, dtype=np.int64)
            event_row[t_fut] = np.arange(len(t_fut))
            shape = (hi - lo, len(self.path_ids), len(codes))
            opened, settle = np.empty(shape), np.empty(shape)
            locked = np.empty(shape, dtype=bool)
            block_futures(
                event_row, e0, slot_of, chunk.open, chunk.settle, chunk.locked, opened, settle,
                locked,
            )  # fmt: skip
            # a simulated day is one bar that opens, and closes at its settlement price
            block = dataclasses.replace(
                block,
                contracts=tuple(plan.contracts[i].code for i in codes),
                locked=locked,
                futures=LazyFields(
                    {"open": opened, "close": settle, "settle": settle},
                    {
                        "high": lambda: np.maximum(opened, settle),
                        "low": lambda: np.minimum(opened, settle),
                    },
                    FUTURES_FIELDS,
                ),
            )
        return block

    def path_chunks(self, size: int) -> Iterator[SimMarket]:
        """The market in consecutive chunks of at most ``size`` paths (``PathChunks``):
        each a ``SimMarket`` of its paths of the simulated chunk, blocked the same way."""
        block_events, memory_budget = self._blocking
        for lo in range(0, len(self.path_ids), size):
            part = self.chunk.select(slice(lo, lo + size))
            yield SimMarket(self.plan, part, block_events=block_events, memory_budget=memory_budget)

    def consumption_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The plan by day ``(n_days, n_paths)``: the same forecast on every path."""
        plan = np.asarray(self.chunk.consumption.plan, dtype=np.float64)
        per_path = np.broadcast_to(plan[:, None], (len(plan), len(self.path_ids)))
        return self.plan.days.astype("datetime64[D]"), np.array(per_path)

    def hedge_date(self) -> tuple[np.datetime64, np.ndarray]:
        """The day costs are measured from (the plan's ``branch_day``-th exchange day: where
        the paths stop sharing their history, or the first exchange day) and every
        contract's settlement price on it, ``(n_paths, len(contracts))``, NaN where it was
        not listed that day."""
        plan, e = self.plan, self.plan.branch_day
        prices = np.full((len(self.path_ids), len(self.contracts)), np.nan)
        column = {code: j for j, code in enumerate(self.contracts)}
        for slot, c in enumerate(plan.listed[e] if len(plan.listed) else []):
            if c >= 0:
                prices[:, column[plan.contracts[c].code]] = self.chunk.settle[e, :, slot]
        return np.datetime64(plan.hedge_date, "D"), prices

    def fingerprint(self) -> dict[str, str]:
        """The simulation's digest (config, seed, grid, version) and the paths simulated."""
        return {"simulation": self.plan.digest, "paths": describe_paths(self.path_ids)}
