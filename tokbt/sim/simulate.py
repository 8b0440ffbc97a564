"""Simulated worlds as bars: spot index, every listed futures contract, consumption.

``SimPlan`` fixes everything deterministic about a run (calendar, contracts,
curve tables); ``simulate_paths`` draws a set of paths; ``SimChunk.tables``
turns them into the Arrow bars of ``tokbt.data.schemas``; ``write_simulation``
streams chunks into a ``BarStore``. ``settle_futures``, ``futures_table`` and
``consumption_table`` also serve ``tokbt.sim.implied`` (futures on a given index).

Conventions: day ``d`` is ``start + d``; its spot bar opens at the spot of the
day's start and closes at its end, and the index value of day ``d`` is that
close. Futures settle at the end of each exchange day; a futures bar opens at
the contract's previous settlement and closes at the new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

import tokbt
from tokbt.data import BarStore, Kind
from tokbt.data.schemas import CONSUMPTION, FUTURES, SPOT
from tokbt.market import Contract, ContractSpec, load_spec
from tokbt.market.ticks import tick_decimals
from tokbt.sim.consumption import Consumption, ar1_filter, simulate_consumption
from tokbt.sim.curve import CurveModel
from tokbt.sim.kernels import futures_rows, futures_settles, unfixed_coefficients
from tokbt.sim.params import DailyParams, Scenario
from tokbt.sim.rng import Stream, history_rng, path_rng, splice
from tokbt.sim.spot import SpotPaths, simulate_spot

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class SimPlan:
    """The deterministic frame of a simulation run.

    Attributes:
        scenario, spec, n_days, seed: what is simulated, for how long, from which seed.
        steps_per_day, bars_per_day: simulation steps and spot bars per day
            (``bars_per_day`` divides ``steps_per_day``; OHLC from the steps).
        days: the calendar days, ``datetime64[D]``.
        exchange_days: positions in ``days`` of the exchange's business days.
        contracts: every contract listed on some exchange day, in delivery order.
        first, last: the index days each contract's value averages, as offsets
            from the start: its fixing dates (the delivery month by default, the
            last trading day under ``last_day_fixing``).
        listed: ``(n_exchange_days, n_slots)`` contract indexes listed each
            exchange day, ``-1`` where a day lists fewer.
        daily: per-day parameters, extended to the last delivery day.
        curve: the tabulated forward curve.
        branch_day: the hedge date, in exchange days (the day a policy with ``start =
            branch_day`` hedges): every path shares one history up to and including
            that exchange day (the draws of those calendar days, ``shared_days``, come
            from the shared streams of ``tokbt.sim.rng``) and diverges after it. 0: no
            shared history; every path is its own world from the start (the
            unconditional simulation).
    """

    scenario: Scenario
    spec: ContractSpec
    n_days: int
    seed: int
    steps_per_day: int
    bars_per_day: int
    days: np.ndarray
    exchange_days: np.ndarray
    contracts: tuple[Contract, ...]
    first: np.ndarray
    last: np.ndarray
    listed: np.ndarray
    daily: DailyParams
    curve: CurveModel
    branch_day: int = 0

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        n_days: int,
        seed: int,
        *,
        steps_per_day: int = 1,
        bars_per_day: int = 1,
        spec: ContractSpec | None = None,
        branch_day: int = 0,
    ) -> SimPlan:
        """Lay out the calendar, the listed contracts and the curve tables."""
        if n_days < 1:
            raise ValueError(f"horizon must be at least 1 day, got {n_days}")

        if bars_per_day < 1 or steps_per_day % bars_per_day:
            raise ValueError(
                f"bars_per_day ({bars_per_day}) must divide steps_per_day ({steps_per_day})"
            )
        spec = spec or load_spec(scenario.contract)
        start = scenario.start
        days = np.arange(n_days) + np.datetime64(start, "D")
        end = start + dt.timedelta(days=n_days - 1)
        business = spec.calendar.business_days(start, end)
        exchange_days = ((business - days[0]).astype(np.int64)).astype(np.int64)
        contracts = tuple(spec.contracts_between(start, end))
        windows = [_fixing_window(spec, c) for c in contracts]
        first = np.array([(w[0] - start).days for w in windows], dtype=np.int64)
        last = np.array([(w[1] - start).days for w in windows], dtype=np.int64)
        if branch_day < 0 or (branch_day and branch_day >= len(exchange_days) - 1):
            raise ValueError(
                f"branch_day must be an exchange day before the horizon's last "
                f"(0..{len(exchange_days) - 2}), got {branch_day}"
            )
        listed = _listing_matrix(contracts, business)
        ext_days = max(n_days, int(last.max()) + 1 if len(last) else n_days)
        gaps = [last[c] - exchange_days[e] for e, row in enumerate(listed) for c in row if c >= 0]
        max_gap = max([1, *gaps])
        daily = scenario.daily(ext_days)
        curve = CurveModel.build(daily, scenario.curve, int(max_gap))
        return cls(
            scenario, spec, n_days, seed, steps_per_day, bars_per_day, days, exchange_days,
            contracts, first, last, listed, daily, curve, branch_day,
        )  # fmt: skip

    @property
    def shared_days(self) -> int:
        """Calendar days every path shares: through the ``branch_day``-th exchange day (0:
        none)."""
        return int(self.exchange_days[self.branch_day]) + 1 if self.branch_day else 0

    @property
    def hedge_date(self) -> dt.date:
        """The day costs are measured from: the ``branch_day``-th exchange day (the first
        exchange day when the simulation does not branch)."""
        first = self.exchange_days[self.branch_day] if len(self.exchange_days) else 0
        day: dt.date = self.days[first].astype(dt.date)
        return day

    @property
    def contract_codes(self) -> list[str]:
        return [c.code for c in self.contracts]

    @cached_property
    def digest(self) -> str:
        """SHA-256 of everything that determines the paths: config, seed, grid, tokbt version.

        By determinism, equal digests mean equal data; it stands in for a
        content hash of simulated chunks (hashing gigabytes of bars is slow).
        """
        recipe = {
            "scenario": self.scenario.model_dump(mode="json"),
            "spec": self.spec.model_dump(mode="json"),
            "seed": self.seed,
            "n_days": self.n_days,
            "steps_per_day": self.steps_per_day,
            "bars_per_day": self.bars_per_day,
            "tokbt": tokbt.__version__,
        }
        if self.branch_day:  # absent when 0, so unbranched digests stay what they were
            recipe["branch_day"] = self.branch_day
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()

    @cached_property
    def coefficients(self) -> np.ndarray:
        """Path-independent series coefficients of every listed contract (see kernels)."""
        return unfixed_coefficients(
            self.curve.growth,
            self.curve.by_delivery,
            self.curve.row_of_day,
            self.curve.decay,
            self.exchange_days,
            self.first,
            self.last,
            self.listed,
        )


def _fixing_window(spec: ContractSpec, contract: Contract) -> tuple[dt.date, dt.date]:
    """The index days a contract's value averages: its fixing dates (months) or its
    delivery period (quarters and years, which cascade into months before delivery)."""
    if contract.cascades_into:
        return contract.delivery_start, contract.delivery_end
    fixings = spec.fixing_dates(contract)
    return fixings[0].astype(dt.date), fixings[-1].astype(dt.date)


def _listing_matrix(contracts: tuple[Contract, ...], business: np.ndarray) -> np.ndarray:
    listing = np.array([np.datetime64(c.listing_date, "D") for c in contracts])
    ltd = np.array([np.datetime64(c.last_trading_day, "D") for c in contracts])
    live = (listing[None, :] <= business[:, None]) & (business[:, None] <= ltd[None, :])
    n_slots = int(live.sum(axis=1).max()) if live.size else 0
    out = np.full((len(business), n_slots), -1, dtype=np.int64)
    for e, row in enumerate(live):
        ids = np.flatnonzero(row)
        out[e, : len(ids)] = ids
    return out


@dataclass(frozen=True)
class SimChunk:
    """Simulated paths: spot grid, daily index ``(n_paths, n_days)``, futures
    ``fair``/``settle``/``open``/``locked`` ``(n_exchange_days, n_paths, n_slots)``
    aligned with ``SimPlan.listed``, and consumption."""

    paths: np.ndarray
    spot: SpotPaths
    index: np.ndarray
    fair: np.ndarray
    settle: np.ndarray
    open: np.ndarray
    locked: np.ndarray
    consumption: Consumption

    def select(self, rows: np.ndarray | slice) -> SimChunk:
        """The chunk's paths at array positions ``rows`` (paths are independent: each is
        what it was when simulated with the others)."""
        spot = self.spot
        return SimChunk(
            paths=self.paths[rows],
            spot=SpotPaths(spot.paths[rows], spot.steps_per_day, spot.f[rows], spot.y[rows]),
            index=self.index[rows],
            fair=self.fair[:, rows],
            settle=self.settle[:, rows],
            open=self.open[:, rows],
            locked=self.locked[:, rows],
            consumption=Consumption(self.consumption.tokens[rows], self.consumption.plan),
        )

    def tables(self, plan: SimPlan) -> dict[Kind, pa.Table]:
        """The chunk as Arrow bars, each ordered by ``ts`` then ``path`` (then contract)."""
        return {
            Kind.SPOT: _spot_table(plan, self),
            Kind.FUTURES: _futures_table(plan, self),
            Kind.CONSUMPTION: _consumption_table(plan, self),
        }


def simulate_paths(plan: SimPlan, paths: np.ndarray | range) -> SimChunk:
    """Simulate the given path ids; path ``i`` is the same whatever else is simulated."""
    ids = np.asarray(paths, dtype=np.int64)
    sc = plan.scenario
    spot = simulate_spot(
        sc.spot, plan.daily, ids, plan.n_days, plan.seed, plan.steps_per_day, plan.shared_days
    )
    f_day, y_day = spot.day_end(spot.f), spot.day_end(spot.y)
    index = np.exp(f_day + y_day)
    fair, settle, opened, locked = settle_futures(plan, index, f_day, y_day, _basis(plan, ids))
    consumption = simulate_consumption(
        sc.consumption, plan.daily, float(np.log(sc.spot.s0)), f_day + y_day, ids, plan.seed,
        plan.shared_days,
    )  # fmt: skip
    return SimChunk(ids, spot, index, fair, settle, opened, locked, consumption)


def settle_futures(
    plan: SimPlan, index: np.ndarray, f_day: np.ndarray, y_day: np.ndarray, basis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily settlements of ``plan``'s contracts over given paths (``futures_settles``).

    ``index``, ``f_day`` and ``y_day`` are ``(n_paths, n_days)`` at each day's end
    (``ln index = f + Y``), ``basis`` the log basis ``(n_paths, n_exchange_days)``;
    fixing days before the start count as ``plan.scenario.spot.s0``. Returns
    ``(fair, settle, open, locked)``, each ``(n_exchange_days, n_paths, n_slots)``.
    """
    return futures_settles(
        index,
        f_day,
        y_day,
        plan.scenario.spot.s0,
        plan.curve.decay,
        plan.curve.growth,
        plan.curve.by_delivery,
        plan.curve.row_of_day,
        plan.coefficients,
        basis,
        plan.exchange_days,
        plan.first,
        plan.last,
        plan.listed,
        plan.spec.tick_size,
        plan.spec.price_limit or 0.0,
        tick_decimals(plan.spec.tick_size),
    )


def _basis(plan: SimPlan, ids: np.ndarray) -> np.ndarray:
    curve = plan.scenario.curve
    n_ex = len(plan.exchange_days)
    if curve.basis_sigma == 0 or n_ex == 0:
        return np.zeros((len(ids), n_ex))
    shocks = np.stack(
        [path_rng(plan.seed, int(p), Stream.BASIS).standard_normal(n_ex) for p in ids]
    )
    shared_days = int(np.searchsorted(plan.exchange_days, plan.shared_days))
    if shared_days:
        shared = history_rng(plan.seed, Stream.BASIS).standard_normal(n_ex)
        shocks = splice(shocks, np.broadcast_to(shared, shocks.shape), shared_days)
    return ar1_filter(shocks, curve.basis_sigma, curve.basis_phi)


# -- to Arrow ------------------------------------------------------------------------------


def _ts_us(plan: SimPlan, offsets_us: np.ndarray) -> np.ndarray:
    base = plan.days[0].astype("datetime64[us]")
    return np.asarray(base + offsets_us.astype("timedelta64[us]"))


def _spot_table(plan: SimPlan, chunk: SimChunk) -> pa.Table:
    per_bar = plan.steps_per_day // plan.bars_per_day
    s = np.exp(chunk.spot.log_spot)
    n_paths, n_bars = s.shape[0], plan.n_days * plan.bars_per_day
    inner = s[:, :-1].reshape(n_paths, n_bars, per_bar)
    close = s[:, per_bar::per_bar]
    high = np.maximum(inner.max(axis=2), close)
    low = np.minimum(inner.min(axis=2), close)
    bar_us = _US_PER_DAY // plan.bars_per_day
    ts = _ts_us(plan, np.arange(n_bars, dtype=np.int64) * bar_us)
    return _long(
        SPOT.schema,
        ts,
        chunk.paths,
        {"open": inner[:, :, 0], "high": high, "low": low, "close": close},
    )


def _consumption_table(plan: SimPlan, chunk: SimChunk) -> pa.Table:
    return consumption_table(plan, chunk.consumption, chunk.paths)


def consumption_table(plan: SimPlan, consumption: Consumption, paths: np.ndarray) -> pa.Table:
    """Consumption bars (one a day) of ``paths``, ordered by ``ts`` then ``path``."""
    ts = _ts_us(plan, np.arange(plan.n_days, dtype=np.int64) * _US_PER_DAY)
    plan_rows = np.broadcast_to(consumption.plan, consumption.tokens.shape)
    return _long(CONSUMPTION.schema, ts, paths, {"tokens": consumption.tokens, "plan": plan_rows})


def _long(
    schema: pa.Schema, ts: np.ndarray, paths: np.ndarray, fields: dict[str, np.ndarray]
) -> pa.Table:
    """Rows ordered by ``ts`` then ``path`` from ``(n_paths, n_ts)`` field arrays."""
    n_ts = len(ts)
    columns: dict[str, pa.Array] = {
        "ts": pa.array(np.repeat(ts, len(paths)), pa.timestamp("us")),
        "path": pa.array(np.tile(paths, n_ts).astype(np.int32)),
    }
    for name, values in fields.items():
        columns[name] = pa.array(np.ascontiguousarray(values.T).ravel())
    for field in schema:
        if field.name not in columns:
            columns[field.name] = pa.nulls(n_ts * len(paths), field.type)
    return pa.table([columns[f.name] for f in schema], schema=schema)


def _futures_table(plan: SimPlan, chunk: SimChunk) -> pa.Table:
    return futures_table(plan, chunk.settle, chunk.open, chunk.locked, chunk.paths)


def futures_table(
    plan: SimPlan, settle: np.ndarray, opened: np.ndarray, locked: np.ndarray, paths: np.ndarray
) -> pa.Table:
    """Futures bars from ``settle_futures`` arrays ``(n_exchange_days, n_paths, n_slots)``
    of ``paths``, ordered by ``ts``, ``path``, then slot (delivery order)."""
    day_us = (plan.days[0].astype("datetime64[us]").astype(np.int64)) + (
        plan.exchange_days * _US_PER_DAY
    )
    ts, path, contract, bar_open, high, low, bar_settle, bar_locked = futures_rows(
        settle, opened, locked, plan.listed, day_us, np.asarray(paths).astype(np.int32)
    )
    n = len(bar_settle)
    columns = {
        "ts": pa.array(ts).view(pa.timestamp("us")),
        "path": pa.array(path),
        "contract": pa.DictionaryArray.from_arrays(
            pa.array(contract), pa.array(plan.contract_codes, pa.string())
        ),
        "open": pa.array(bar_open),
        "high": pa.array(high),
        "low": pa.array(low),
        "close": pa.array(bar_settle),
        "settle": pa.array(bar_settle),
        "volume": pa.nulls(n, pa.float64()),
        "open_interest": pa.nulls(n, pa.float64()),
        "limit_locked": pa.array(bar_locked),
    }
    return pa.table([columns[f.name] for f in _FUTURES_DICT], schema=_FUTURES_DICT)


_FUTURES_DICT = FUTURES.schema.set(
    FUTURES.schema.get_field_index("contract"),
    pa.field("contract", pa.dictionary(pa.int32(), pa.string()), nullable=False),
)
"""The futures schema with dictionary-encoded contract codes (a few distinct values)."""


# -- runs --------------------------------------------------------------------------------


def chunks(plan: SimPlan, n_paths: int, chunk_paths: int = 500) -> Iterator[SimChunk]:
    """Paths ``0..n_paths-1`` in chunks of ``chunk_paths``."""
    for lo in range(0, n_paths, chunk_paths):
        yield simulate_paths(plan, range(lo, min(lo + chunk_paths, n_paths)))


@dataclass(frozen=True)
class SimSummary:
    """What ``write_simulation`` wrote: rows per kind, and ``bytes`` — the Parquet files
    written, or the whole store file's size for ``duckdb`` storage."""

    dataset: str
    paths: int
    days: int
    contracts: int
    rows: dict[Kind, int]
    bytes: int
    seconds: float
    storage: str


def write_simulation(
    store: BarStore,
    name: str,
    plan: SimPlan,
    n_paths: int,
    *,
    chunk_paths: int = 500,
    storage: str = "auto",
    replace: bool = False,
    validate: bool = False,
    on_chunk: Callable[[int], None] | None = None,
) -> SimSummary:
    """Simulate ``n_paths`` paths of ``plan`` into dataset ``name``, atomically.

    ``storage="auto"`` keeps small runs in DuckDB tables and writes runs of
    more than a million futures rows as Parquet parts. ``validate=True`` runs
    every data rule on each chunk, as an import does; it is off by default
    because the generator's output is checked by tokbt's own tests, and the
    rules cost about a quarter of a large run's time. Each chunk's recorded
    content hash is derived from ``plan.digest`` and its paths.
    ``on_chunk(n)`` is called after each chunk of ``n`` paths.
    """
    t0 = time.perf_counter()
    if storage == "auto":
        futures_rows = n_paths * int((plan.listed >= 0).sum())
        storage = "parquet" if futures_rows > 1_000_000 else "duckdb"
    rows = dict.fromkeys(Kind, 0)
    description = (
        f"simulated scenario '{plan.scenario.name}': {n_paths} paths x {plan.n_days} days "
        f"from {plan.scenario.start}, seed {plan.seed}"
    )
    with store.writer(
        name, spec=plan.spec, replace=replace, description=description, storage=storage
    ) as writer:
        for chunk in chunks(plan, n_paths, chunk_paths):
            for kind, table in chunk.tables(plan).items():
                content = hashlib.sha256(
                    f"{plan.digest}:{kind.value}:{chunk.paths[0]}-{chunk.paths[-1]}".encode()
                ).hexdigest()
                writer.append_table(
                    kind,
                    table,
                    source=f"sim:{plan.scenario.name}",
                    validate=validate,
                    content_id=content,
                )
                rows[kind] += table.num_rows
            if on_chunk is not None:
                on_chunk(len(chunk.paths))
    size = store.path.stat().st_size if storage == "duckdb" else _folder_bytes(store, name)
    return SimSummary(
        name, n_paths, plan.n_days, len(plan.contracts), rows, size,
        time.perf_counter() - t0, storage,
    )  # fmt: skip


def _folder_bytes(store: BarStore, name: str) -> int:
    folder = store.parquet_root / name
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))
