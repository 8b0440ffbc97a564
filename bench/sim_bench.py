"""Benchmark: simulating paths x days with every listed futures contract and writing them.

Not a test: nothing here asserts on time. Shared machines are noisy, so every
number is reported as a ratio to a baseline measured in the same run:

* ``numpy_baseline`` — the same computation in plain numpy, vectorised over
  the paths of a chunk (no numba, no tokbt kernels; ``SimPlan`` only supplies
  the calendar, the listed contracts and the curve tables). Random numbers
  come from one ``np.random.default_rng(seed)`` for the whole run, not from
  tokbt's per-path streams, so its prices are statistically equivalent to
  tokbt's, not identical; the run prints a check of that.
* ``tokbt_simulate_only`` — ``simulate_paths`` over the chunks of
  ``write_simulation`` (spot, futures settlement, basis, consumption), with no
  Arrow tables and no writing: tokbt's compute alone.
* ``tokbt_write`` — ``write_simulation(store, "bench", SimPlan.build(...),
  n_paths)`` with the default chunking, ``storage="auto"`` (Parquet parts at
  this size) and validation on.
* ``tokbt_write_novalidate`` — the same with ``validate=False``.
* ``numpy_baseline_write`` — the baseline's arrays written as Parquet with
  pyarrow (one file per chunk and kind, zstd, 1M-row groups, as tokbt writes).

Each job runs in a fresh subprocess (``sim_bench.py --job NAME``) with a fresh
temporary store; its peak RSS is ``VmHWM`` of that process. Every child imports
numpy, pyarrow, DuckDB, numba and tokbt before its timer starts; timing
includes ``SimPlan.build``, loading the numba kernels from their on-disk cache
and, for writes, opening and closing the store. A ``warmup`` child runs first
so that a stale kernel cache is recompiled outside the timed jobs. Children
get ``OPENBLAS_NUM_THREADS=1`` unless it is set (see ``run``).

Two checks are printed: the mean and sd across paths of the last day's index,
two settlement prices and consumption agree between ``tokbt_simulate_only``
and ``numpy_baseline`` within Monte Carlo noise (z-scores), and, on tokbt's
own first paths, the baseline's settlement gives exactly tokbt's prices.

``--profile-phases`` adds one more child, ``tokbt_phases``, which runs
``tokbt_write`` with timers wrapped around tokbt's functions (simulate, the
kernels, building the Arrow tables, staging, each validation rule, the
catalog statistics, the Parquet ``COPY``, the commit). It patches module
attributes of ``tokbt.sim`` and ``tokbt.data.store`` in that child only and
must follow them if they are renamed.

Run ``python bench/sim_bench.py --help``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common

if TYPE_CHECKING:  # imported where used, so the parent process stays light
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from tokbt.sim import SimPlan

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]
    BoolArray = npt.NDArray[np.bool_]

BASELINE = "numpy_baseline"
JOBS = (
    BASELINE,
    "tokbt_simulate_only",
    "numpy_baseline_write",
    "tokbt_write_novalidate",
    "tokbt_write",
)
"""The benchmarked jobs, in the order they run (and are printed)."""
PHASES_JOB = "tokbt_phases"
WARMUP_JOB = "warmup"
CHECK_JOBS = ("tokbt_simulate_only", BASELINE)
"""The jobs whose prices are compared (tokbt first)."""
SCENARIO = "demand_explosion"
DATASET = "bench"
US_PER_DAY = 86_400_000_000
INDEX, TOKENS = -1, -2
"""Pseudo-slots of ``CheckSamples``: the last day's index and consumption."""
SAME_INPUT_PATHS = 200
"""Paths of the exact settlement check (see ``same_input_check``)."""
CHECK_Z = 4.0
"""``|z|`` above which a mean or sd is flagged as disagreeing (beyond Monte Carlo noise)."""
RSS_SAMPLE_S = 0.02
"""Interval of the RSS sampler of ``--profile-phases``."""
REST_LABELS = {
    "simulate_spot": "per-path RNG draws (rest)",
    "store": "write the Parquet file (rest of store)",
    "commit (writer exit)": "catalog transaction + COMMIT (rest)",
}
"""What the untimed remainder of a phase is, where it is known."""
FOLD_SHARE = 0.005
"""In the phase tree, children under this share of the total are folded together."""


@dataclass(frozen=True)
class Config:
    """What every job simulates (the same in every child)."""

    paths: int
    days: int
    seed: int
    chunk_paths: int
    scenario: str


# -- the numpy baseline ----------------------------------------------------------------------


@dataclass(frozen=True)
class NumpyModel:
    """Everything path-independent the numpy baseline needs, taken from a ``SimPlan``.

    Day-level arrays cover days ``0..n_days-1``. ``fixed_lo``/``fixed_hi``
    index the cumulative index sums (``cum[:, j]`` = sum of days ``< j``) so
    that ``cum[:, hi] - cum[:, lo]`` is a contract's fixed delivery days
    ``0..k``; ``n_before`` counts its delivery days before the start (valued
    at ``s0``). For exchange day ``e``, ``unfixed_decay[e][g-1] = e^{-κgΔ}``
    and ``unfixed_weight[e][g-1, slot] = exp(growth[row, g])`` (``row`` as
    ``CurveModel.row(k, k+g)``: the delivery day or day k's regime) if day ``k+g``
    is a delivery day of the slot's contract, else 0, so the unfixed part is
    ``exp(Y_k ⊗ unfixed_decay[e]) @ unfixed_weight[e]`` times ``e^{f_k + basis}``.
    """

    n_days: int
    h: float
    kappa: float
    log_s0: float
    s0: float
    y0: float
    trend: FloatArray
    sigma: FloatArray
    jump_mean: FloatArray
    jump_std: FloatArray
    jump_lam: FloatArray
    cut_lam: FloatArray
    cut_low: float
    cut_high: float
    basis_sigma: float
    basis_phi: float
    q0: float
    q_growth: float
    noise_sigma: float
    noise_phi: float
    demand_growth: FloatArray
    price_link: FloatArray
    log_drift: FloatArray
    exchange_days: IntArray
    listed: IntArray
    n_listed: IntArray
    n_contracts: int
    fixed_lo: IntArray
    fixed_hi: IntArray
    n_before: FloatArray
    n_delivery: FloatArray
    unfixed_decay: list[FloatArray]
    unfixed_weight: list[FloatArray]
    tick: float
    limit: float
    decimals: int

    @classmethod
    def from_plan(cls, plan: SimPlan) -> NumpyModel:
        """Tabulate the plan's calendar, contracts and curve for vectorised numpy."""
        import numpy as np

        from tokbt.market.ticks import tick_decimals
        from tokbt.sim import DT_DAY

        if plan.steps_per_day != 1:
            raise ValueError("the numpy baseline simulates one step a day")
        sc, daily, n = plan.scenario, plan.daily, plan.n_days
        ex = np.asarray(plan.exchange_days, dtype=np.int64)
        listed = np.asarray(plan.listed, dtype=np.int64)
        n_ex, n_slots = listed.shape
        n_listed = (listed >= 0).sum(axis=1).astype(np.int64)
        if not all((listed[e, : n_listed[e]] >= 0).all() for e in range(n_ex)):
            raise ValueError("listed contracts must fill the first slots of each day")
        first, last = np.asarray(plan.first), np.asarray(plan.last)
        growth, decay = plan.curve.growth, plan.curve.decay
        fixed_lo = np.zeros((n_ex, n_slots), dtype=np.int64)
        fixed_hi = np.zeros((n_ex, n_slots), dtype=np.int64)
        n_before = np.zeros((n_ex, n_slots))
        n_delivery = np.ones((n_ex, n_slots))
        unfixed_decay: list[FloatArray] = []
        unfixed_weight: list[FloatArray] = []
        for e in range(n_ex):
            k = int(ex[e])
            cs = listed[e, : n_listed[e]]
            gap_max = max([0, *(int(last[c]) - k for c in cs)])
            weight = np.zeros((gap_max, n_slots))
            for slot, c in enumerate(cs):
                d0, d1 = int(first[c]), int(last[c])
                top = min(d1, k)  # last fixed delivery day
                lo = max(d0, 0)
                if top >= lo:  # else no fixed day after the start: lo = hi = 0
                    fixed_lo[e, slot], fixed_hi[e, slot] = lo, top + 1
                n_before[e, slot] = max(0, min(top, -1) - d0 + 1)
                n_delivery[e, slot] = d1 - d0 + 1
                gaps = np.arange(max(d0, k + 1) - k, d1 - k + 1)
                rows = k + gaps if plan.curve.by_delivery else plan.curve.row_of_day[k]
                weight[gaps - 1, slot] = np.exp(growth[rows, gaps])
            unfixed_decay.append(np.ascontiguousarray(decay[1 : gap_max + 1]))
            unfixed_weight.append(weight)
        h = DT_DAY
        cp = sc.consumption
        return cls(
            n_days=n,
            h=h,
            kappa=daily.kappa,
            log_s0=float(np.log(sc.spot.s0)),
            s0=sc.spot.s0,
            y0=sc.spot.y0,
            trend=daily.trend[:n],
            sigma=daily.sigma[:n],
            jump_mean=daily.jump_mean[:n],
            jump_std=daily.jump_std[:n],
            jump_lam=daily.jump_rate[:n] * h,
            cut_lam=daily.cut_rate[:n] * h,
            cut_low=daily.cut_low,
            cut_high=daily.cut_high,
            basis_sigma=sc.curve.basis_sigma,
            basis_phi=sc.curve.basis_phi,
            q0=cp.q0,
            q_growth=cp.growth,
            noise_sigma=cp.noise_sigma,
            noise_phi=cp.noise_phi,
            demand_growth=daily.demand_growth[:n],
            price_link=daily.price_link[:n],
            log_drift=daily.log_drift[:n],
            exchange_days=ex,
            listed=listed,
            n_listed=n_listed,
            n_contracts=len(plan.contracts),
            fixed_lo=fixed_lo,
            fixed_hi=fixed_hi,
            n_before=n_before,
            n_delivery=n_delivery,
            unfixed_decay=unfixed_decay,
            unfixed_weight=unfixed_weight,
            tick=plan.spec.tick_size,
            limit=plan.spec.price_limit or 0.0,
            decimals=tick_decimals(plan.spec.tick_size),
        )

    # -- spot, basis, consumption --------------------------------------------------------

    def _compound(self, counts: IntArray, draw: Callable[[IntArray], FloatArray]) -> FloatArray:
        """Sum per path-day of ``counts`` events; ``draw(day of each event)`` gives their sizes."""
        import numpy as np

        cell = np.repeat(np.arange(counts.size), counts.ravel())
        sizes = draw(cell % self.n_days)
        sums = np.bincount(cell, weights=sizes, minlength=counts.size)
        return np.asarray(sums.reshape(counts.shape), dtype=np.float64)

    def spot(self, rng: np.random.Generator, n_paths: int) -> tuple[FloatArray, FloatArray]:
        """``(f_day, y_day)``, each ``(n_paths, n_days)``: the exact log-OU + jumps + cuts step.

        ``Y' = Y e^{-κh} + σ sqrt((1-e^{-2κh})/(2κ)) Z + Σ J_i e^{-κh(1-U_i)}`` and
        ``f' = f + g h + Σ ln(1-u)``, one day at a time over all paths at once.
        Jumps and cuts are Poisson counts per path-day, their sizes summed per
        path-day with ``bincount``.
        """
        import numpy as np

        n, h, kappa = self.n_days, self.h, self.kappa
        z = rng.standard_normal((n_paths, n))
        n_jumps = rng.poisson(self.jump_lam, size=(n_paths, n))

        def jump_sizes(day: IntArray) -> FloatArray:
            k = day.size
            size = self.jump_mean[day] + self.jump_std[day] * rng.standard_normal(k)
            return np.asarray(size * np.exp(-kappa * h * (1.0 - rng.random(k))))

        jumps = self._compound(n_jumps, jump_sizes)
        n_cuts = rng.poisson(self.cut_lam, size=(n_paths, n))

        def cut_sizes(day: IntArray) -> FloatArray:
            return np.log1p(-rng.uniform(self.cut_low, self.cut_high, day.size))

        cuts = self._compound(n_cuts, cut_sizes)

        scale = math.sqrt((1.0 - math.exp(-2.0 * kappa * h)) / (2.0 * kappa))
        shocks = np.ascontiguousarray((self.sigma * scale * z + jumps).T)  # (n, paths)
        decay = math.exp(-kappa * h)
        y = np.empty((n, n_paths))
        prev = np.full(n_paths, self.y0)
        for d in range(n):
            np.multiply(prev, decay, out=y[d])
            y[d] += shocks[d]
            prev = y[d]
        f = self.log_s0 + np.cumsum(self.trend * h + cuts, axis=1)
        return f, np.ascontiguousarray(y.T)

    @staticmethod
    def ar1(shocks: FloatArray, sigma: float, phi: float) -> FloatArray:
        """Stationary AR(1) rows from standard normal ``shocks`` ``(n_paths, n)`` (in place)."""
        import numpy as np

        x = np.ascontiguousarray(shocks.T)  # (n, paths)
        x *= sigma
        x[0] /= math.sqrt(1.0 - phi**2)
        for t in range(1, x.shape[0]):
            x[t] += phi * x[t - 1]
        return np.ascontiguousarray(x.T)

    def basis(self, rng: np.random.Generator, n_paths: int) -> FloatArray:
        """AR(1) log basis per path and exchange day ``(n_paths, n_exchange_days)``."""
        import numpy as np

        n_ex = self.exchange_days.size
        if self.basis_sigma == 0 or n_ex == 0:
            return np.zeros((n_paths, n_ex))
        return self.ar1(rng.standard_normal((n_paths, n_ex)), self.basis_sigma, self.basis_phi)

    def consumption(
        self, rng: np.random.Generator, log_index: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Daily ``tokens`` ``(n_paths, n_days)`` and the ``plan`` ``(n_days,)``.

        As ``tokbt.sim.consumption``: growth, plus the cumulated response
        ``Σ β_j Δdev_j`` to price shocks (``dev`` = log index minus its expected
        path), plus a stationary AR(1) noise.
        """
        import numpy as np

        n_paths, n = log_index.shape
        t = (np.arange(n) + 1) * self.h
        log_trend = np.log(self.q0) + np.cumsum(self.demand_growth) * self.h
        expected = self.log_s0 + np.cumsum(self.log_drift) * self.h
        shocks = np.diff(log_index - expected, axis=1, prepend=0.0)
        response = np.cumsum(self.price_link * shocks, axis=1)
        if self.noise_sigma == 0:
            noise = np.zeros((n_paths, n))
        else:
            noise = self.ar1(rng.standard_normal((n_paths, n)), self.noise_sigma, self.noise_phi)
        tokens = np.exp(log_trend + response + noise)
        return tokens, self.q0 * np.exp(self.q_growth * t)

    # -- futures -------------------------------------------------------------------------

    def settle(
        self, index: FloatArray, f_day: FloatArray, y_day: FloatArray, basis: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
        """``(fair, settle, open, locked)``, each ``(n_exchange_days, n_paths, n_slots)``.

        As tokbt's ``futures_settles``: the mean over delivery days of the fixed
        index (cumulative sums) and of the closed-form forwards of the unfixed
        days (exponentials, then one matrix product per exchange day), rounded
        to the tick and clipped to the limit band around the contract's
        previous settlement — sequential in the exchange day, vectorised over
        paths and slots.
        """
        import numpy as np

        n_paths = index.shape[0]
        n_ex, n_slots = self.listed.shape
        cum = np.zeros((n_paths, self.n_days + 1))
        np.cumsum(index, axis=1, out=cum[:, 1:])
        ex = self.exchange_days
        y_k = np.ascontiguousarray(y_day[:, ex].T)  # (n_ex, paths)
        level = np.ascontiguousarray(np.exp(f_day[:, ex] + basis).T)
        shape = (n_ex, n_paths, n_slots)
        fair, settle, opened = (
            np.full(shape, np.nan),
            np.full(shape, np.nan),
            np.full(shape, np.nan),
        )
        locked = np.zeros(shape, dtype=np.bool_)
        prev = np.full((n_paths, self.n_contracts), np.nan)
        tick, limit, pow10 = self.tick, self.limit, 10.0**self.decimals
        for e in range(n_ex):
            m = int(self.n_listed[e])
            cs = self.listed[e, :m]
            fixed = cum[:, self.fixed_hi[e, :m]] - cum[:, self.fixed_lo[e, :m]]
            fixed += self.s0 * self.n_before[e, :m]
            decay = self.unfixed_decay[e]
            if decay.size:
                forwards = np.exp(np.multiply.outer(y_k[e], decay))
                unfixed = forwards @ self.unfixed_weight[e][:, :m]
                value = (fixed + unfixed * level[e][:, None]) / self.n_delivery[e, :m]
            else:
                value = fixed / self.n_delivery[e, :m]
            fair[e, :, :m] = value
            price = np.floor(value / tick + 0.5 + 1e-9) * tick
            pc = prev[:, cs]
            has = ~np.isnan(pc)
            if limit > 0.0:
                lo = np.ceil(pc * (1.0 - limit) / tick - 1e-9) * tick
                hi = np.floor(pc * (1.0 + limit) / tick + 1e-9) * tick
                lo = np.maximum(np.minimum(lo, pc - tick), tick)  # at least a tick each way
                hi = np.maximum(hi, pc + tick)
                below, above = price < lo, price > hi  # False where pc is NaN
                price = np.where(below, lo, np.where(above, hi, price))
                locked[e, :, :m] = below | above
            price = np.round(np.maximum(price, tick) * pow10) / pow10
            settle[e, :, :m] = price
            opened[e, :, :m] = np.where(has, pc, price)
            prev[:, cs] = price
        return fair, settle, opened, locked

    def simulate(self, rng: np.random.Generator, n_paths: int) -> NumpyChunk:
        """One chunk of ``n_paths`` paths: spot, basis, futures, consumption."""
        import numpy as np

        f_day, y_day = self.spot(rng, n_paths)
        log_index = f_day + y_day
        index = np.exp(log_index)
        basis = self.basis(rng, n_paths)
        _fair, settle, opened, locked = self.settle(index, f_day, y_day, basis)
        tokens, plan = self.consumption(rng, log_index)
        log_start = self.log_s0 + self.y0
        return NumpyChunk(log_start, log_index, index, settle, opened, locked, tokens, plan)


@dataclass(frozen=True)
class NumpyChunk:
    """One chunk of the numpy baseline (futures arrays ``(n_exchange_days, n_paths, n_slots)``)."""

    log_start: float
    log_index: FloatArray
    index: FloatArray
    settle: FloatArray
    open: FloatArray
    locked: BoolArray
    tokens: FloatArray
    plan: FloatArray


def _numpy_chunks(cfg: Config, model: NumpyModel) -> Iterator[tuple[int, NumpyChunk]]:
    """``(first path, chunk)`` for every chunk, all from one ``default_rng(cfg.seed)``."""
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    for lo in range(0, cfg.paths, cfg.chunk_paths):
        yield lo, model.simulate(rng, min(cfg.chunk_paths, cfg.paths - lo))


def _long_table(
    schema: pa.Schema, ts: npt.NDArray[Any], paths: npt.NDArray[np.int32], fields: dict[str, Any]
) -> pa.Table:
    """Rows ordered by ``ts`` then ``path`` from ``(n_paths, n_ts)`` arrays (pyarrow only)."""
    import numpy as np
    import pyarrow as pa

    n = ts.size * paths.size
    columns: dict[str, Any] = {
        "ts": pa.array(np.repeat(ts, paths.size), pa.timestamp("us")),
        "path": pa.array(np.tile(paths, ts.size)),
    }
    for name, values in fields.items():
        columns[name] = pa.array(np.ascontiguousarray(values.T).ravel())
    cols = [columns.get(f.name, pa.nulls(n, f.type)) for f in schema]
    return pa.table(cols, schema=schema.remove_metadata())


def numpy_tables(plan: SimPlan, first_path: int, chunk: NumpyChunk) -> dict[str, pa.Table]:
    """The baseline's chunk as spot, futures and consumption Arrow tables (tokbt's schemas)."""
    import numpy as np
    import pyarrow as pa

    from tokbt.data.schemas import CONSUMPTION, FUTURES, SPOT

    n_paths, n_days = chunk.index.shape
    paths = np.arange(first_path, first_path + n_paths, dtype=np.int32)
    base = plan.days[0].astype("datetime64[us]").astype(np.int64)
    day_ts = base + np.arange(n_days, dtype=np.int64) * US_PER_DAY
    log_open = np.concatenate([np.full((n_paths, 1), chunk.log_start), chunk.log_index[:, :-1]], 1)
    open_ = np.exp(log_open)
    spot = _long_table(
        SPOT.schema,
        day_ts,
        paths,
        {
            "open": open_,
            "high": np.maximum(open_, chunk.index),
            "low": np.minimum(open_, chunk.index),
            "close": chunk.index,
        },
    )
    plan_rows = np.broadcast_to(chunk.plan, chunk.tokens.shape)
    consumption = _long_table(
        CONSUMPTION.schema, day_ts, paths, {"tokens": chunk.tokens, "plan": plan_rows}
    )
    listed = np.asarray(plan.listed)
    shape = chunk.settle.shape
    mask = np.broadcast_to((listed >= 0)[:, None, :], shape)  # C order: by (day, path, slot)
    ex_ts = base + np.asarray(plan.exchange_days, dtype=np.int64) * US_PER_DAY
    ts = np.broadcast_to(ex_ts[:, None, None], shape)[mask]
    settle, opened = chunk.settle[mask], chunk.open[mask]
    contract_type = pa.dictionary(pa.int32(), pa.string())
    schema = FUTURES.schema.set(
        FUTURES.schema.get_field_index("contract"),
        pa.field("contract", contract_type, nullable=False),
    )
    columns: dict[str, Any] = {
        "ts": pa.array(ts, pa.timestamp("us")),
        "path": pa.array(np.broadcast_to(paths[None, :, None], shape)[mask]),
        "contract": pa.DictionaryArray.from_arrays(
            pa.array(np.broadcast_to(listed[:, None, :], shape)[mask].astype(np.int32)),
            pa.array(plan.contract_codes, pa.string()),
        ),
        "open": pa.array(opened),
        "high": pa.array(np.maximum(opened, settle)),
        "low": pa.array(np.minimum(opened, settle)),
        "close": pa.array(settle),
        "settle": pa.array(settle),
        "limit_locked": pa.array(chunk.locked[mask]),
    }
    cols = [columns.get(f.name, pa.nulls(settle.size, f.type)) for f in schema]
    futures = pa.table(cols, schema=schema.remove_metadata())
    return {"spot": spot, "futures": futures, "consumption": consumption}


# -- the statistical check -----------------------------------------------------------------


def _check_columns(plan: SimPlan) -> list[tuple[str, int]]:
    """The quantities compared: ``(label, slot)``; ``INDEX``/``TOKENS``: the last day's."""
    last_e = len(plan.exchange_days) - 1
    m = int((plan.listed[last_e] >= 0).sum())
    day = plan.days[int(plan.exchange_days[last_e])]
    index_day = plan.days[plan.n_days - 1]
    return [
        (f"index, day {plan.n_days - 1} ({index_day})", INDEX),
        *(
            (f"settle {plan.contract_codes[int(plan.listed[last_e, s])]} on {day}", s)
            for s in sorted({0, m - 1})
        ),
        (f"tokens, day {plan.n_days - 1}", TOKENS),
    ]


class CheckSamples:
    """Per-path values of the checked quantities, gathered chunk by chunk."""

    def __init__(self, plan: SimPlan) -> None:
        self.columns = _check_columns(plan)
        self.values: dict[str, list[FloatArray]] = {label: [] for label, _ in self.columns}

    def add(self, index: FloatArray, settle: FloatArray, tokens: FloatArray) -> None:
        """Add a chunk: ``index`` and ``tokens`` ``(n_paths, n_days)``, ``settle``
        ``(n_ex, n_paths, n_slots)``."""
        for label, slot in self.columns:
            if slot == TOKENS:
                values = tokens[:, -1]
            else:
                values = index[:, -1] if slot == INDEX else settle[-1, :, slot]
            self.values[label].append(values.copy())  # not a view: the chunk can be freed

    def moments(self) -> dict[str, dict[str, float]]:
        """For each quantity: ``n``, mean, variance and fourth central moment."""
        import numpy as np

        out = {}
        for label, parts in self.values.items():
            x = np.concatenate(parts)
            mean = float(x.mean())
            centred = x - mean
            out[label] = {
                "n": float(x.size),
                "mean": mean,
                "var": float((centred**2).sum() / max(x.size - 1, 1)),
                "m4": float((centred**4).mean()),
            }
        return out


def compare_moments(
    a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """z-scores of the differences of means and of sds between two samples.

    ``se(mean) = sd/sqrt(n)``; ``se(sd) ≈ sqrt((m4 - var²)/n) / (2 sd)`` (delta
    method; valid for any law with a finite fourth moment).
    """
    rows = []
    for label in a:
        if label not in b:
            continue
        x, y = a[label], b[label]
        sx, sy = math.sqrt(x["var"]), math.sqrt(y["var"])
        se_mean = math.sqrt(x["var"] / x["n"] + y["var"] / y["n"])

        def se_sd(m: dict[str, float], s: float) -> float:
            return math.sqrt(max(m["m4"] - m["var"] ** 2, 0.0) / m["n"]) / (2 * s) if s else 0.0

        se_sds = math.hypot(se_sd(x, sx), se_sd(y, sy))
        z_mean = (x["mean"] - y["mean"]) / se_mean if se_mean else 0.0
        z_sd = (sx - sy) / se_sds if se_sds else 0.0
        rows.append(
            {
                "quantity": label,
                "tokbt_mean": x["mean"],
                "numpy_mean": y["mean"],
                "z_mean": z_mean,
                "tokbt_sd": sx,
                "numpy_sd": sy,
                "z_sd": z_sd,
                "agree": abs(z_mean) < CHECK_Z and abs(z_sd) < CHECK_Z,
            }
        )
    return rows


def same_input_check(cfg: Config) -> dict[str, Any]:
    """The baseline's settlement fed with tokbt's own paths: does it give tokbt's prices?

    Simulates the first ``SAME_INPUT_PATHS`` paths with tokbt, rebuilds their
    basis with tokbt's private ``_basis``, runs ``NumpyModel.settle`` on the
    same index, ``f``, ``Y`` and basis, and counts the settles, opens and
    lock flags that differ (untimed; a check that both compute the same thing).
    """
    import numpy as np

    from tokbt.sim import simulate_paths
    from tokbt.sim.simulate import _basis

    plan = _plan(cfg)
    ids = np.arange(min(SAME_INPUT_PATHS, cfg.paths))
    chunk = simulate_paths(plan, ids)
    f_day, y_day = chunk.spot.day_end(chunk.spot.f), chunk.spot.day_end(chunk.spot.y)
    model = NumpyModel.from_plan(plan)
    fair, settle, opened, locked = model.settle(chunk.index, f_day, y_day, _basis(plan, ids))
    ok = ~np.isnan(chunk.settle)
    same_nan = bool(np.array_equal(np.isnan(settle), ~ok))
    return {
        "paths": int(ids.size),
        "bars": int(ok.sum()),
        "nan_pattern_equal": same_nan,
        "fair_max_rel_diff": float(np.nanmax(np.abs(fair / chunk.fair - 1.0))),
        "settle_diff": int((settle[ok] != chunk.settle[ok]).sum()),
        "open_diff": int((opened[ok] != chunk.open[ok]).sum()),
        "locked_diff": int((locked != chunk.locked).sum()),
        "locked": int(chunk.locked.sum()),
    }


# -- jobs (each runs in its own child process) -----------------------------------------------


def _plan(cfg: Config) -> SimPlan:
    from tokbt.sim import SimPlan, load_scenario

    return SimPlan.build(load_scenario(cfg.scenario), cfg.days, cfg.seed)


def _timed(work: Callable[[], dict[str, Any]], start_rss: float) -> dict[str, Any]:
    """Run ``work``; add its wall seconds, CPU seconds and the RSS before it."""
    c0, t0 = common.cpu_seconds(), time.perf_counter()
    result = work()
    result["seconds"] = time.perf_counter() - t0
    result["cpu_seconds"] = common.cpu_seconds() - c0
    result["start_rss_mb"] = start_rss
    return result


def job_tokbt_write(cfg: Config, store: Path, *, validate: bool = True) -> dict[str, Any]:
    """``write_simulation`` into a fresh store: default chunking unless set, ``storage="auto"``."""
    from tokbt.data.store import BarStore
    from tokbt.sim import write_simulation

    def work() -> dict[str, Any]:
        plan = _plan(cfg)
        with BarStore(store) as bars:
            summary = write_simulation(
                bars, DATASET, plan, cfg.paths, chunk_paths=cfg.chunk_paths, validate=validate
            )
        return {
            "rows": {k.value: v for k, v in summary.rows.items()},
            "bytes": summary.bytes,
            "storage": summary.storage,
        }

    return _timed(work, common.peak_rss_mb())


def job_tokbt_write_novalidate(cfg: Config, store: Path) -> dict[str, Any]:
    """``tokbt_write`` with ``validate=False``."""
    return job_tokbt_write(cfg, store, validate=False)


def job_tokbt_simulate_only(cfg: Config, store: Path) -> dict[str, Any]:
    """``simulate_paths`` over the chunks of ``write_simulation``: no tables, no writing."""
    from tokbt.sim import chunks

    del store
    samples: list[CheckSamples] = []

    def work() -> dict[str, Any]:
        plan = _plan(cfg)
        check = CheckSamples(plan)
        for chunk in chunks(plan, cfg.paths, cfg.chunk_paths):
            check.add(chunk.index, chunk.settle, chunk.consumption.tokens)
        samples.append(check)
        return {}

    result = _timed(work, common.peak_rss_mb())
    result["check"] = samples[0].moments()
    result["peak_rss_mb"] = common.peak_rss_mb()  # before the (untimed) check below
    result["same_input"] = same_input_check(cfg)
    return result


def job_numpy_baseline(cfg: Config, store: Path) -> dict[str, Any]:
    """The numpy-only implementation, chunk by chunk, nothing written."""
    del store
    samples: list[CheckSamples] = []

    def work() -> dict[str, Any]:
        plan = _plan(cfg)
        model = NumpyModel.from_plan(plan)
        check = CheckSamples(plan)
        for _, chunk in _numpy_chunks(cfg, model):
            check.add(chunk.index, chunk.settle, chunk.tokens)
        samples.append(check)
        return {}

    result = _timed(work, common.peak_rss_mb())
    result["check"] = samples[0].moments()
    return result


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def job_numpy_baseline_write(cfg: Config, store: Path) -> dict[str, Any]:
    """The numpy baseline, its chunks written as Parquet with pyarrow (no validation)."""
    import pyarrow.parquet as pq

    folder = store.with_name(store.name + ".parquet")

    def work() -> dict[str, Any]:
        plan = _plan(cfg)
        model = NumpyModel.from_plan(plan)
        rows: dict[str, int] = {}
        for i, (first, chunk) in enumerate(_numpy_chunks(cfg, model)):
            for kind, table in numpy_tables(plan, first, chunk).items():
                (folder / kind).mkdir(parents=True, exist_ok=True)
                pq.write_table(
                    table,
                    folder / kind / f"part-{i:05d}.parquet",
                    compression="zstd",
                    row_group_size=1_000_000,
                )
                rows[kind] = rows.get(kind, 0) + table.num_rows
        return {"rows": rows, "bytes": _folder_bytes(folder), "storage": "parquet (pyarrow)"}

    return _timed(work, common.peak_rss_mb())


@dataclass
class PhaseTimer:
    """Inclusive wall time of nested calls, keyed by their call path, and RSS while in them.

    ``wrap`` replaces a function attribute with a timed one; a call's key is
    the names of the timed calls it runs inside, so a function called from
    two places shows up twice. A sampler thread reads ``VmRSS`` every
    ``RSS_SAMPLE_S`` and keeps the maximum for every open call path.
    """

    seconds: dict[tuple[str, ...], float] = field(default_factory=dict)
    calls: dict[tuple[str, ...], int] = field(default_factory=dict)
    max_rss: dict[tuple[str, ...], float] = field(default_factory=dict)
    stack: tuple[str, ...] = ()
    missing: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def push(self, name: str) -> tuple[tuple[str, ...], float]:
        self.stack = (*self.stack, name)
        self.seconds.setdefault(self.stack, 0.0)
        return self.stack, time.perf_counter()

    def pop(self, key: tuple[str, ...], t0: float) -> None:
        self.seconds[key] += time.perf_counter() - t0
        self.calls[key] = self.calls.get(key, 0) + 1
        self.stack = key[:-1]

    def wrap(self, owner: Any, attr: str, name: str | Callable[..., str]) -> None:
        """Time every call of ``owner.attr`` as ``name`` (or ``name(*args)``)."""
        original = getattr(owner, attr, None)
        if original is None:  # tokbt changed: time what is there, say what is not
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            key, t0 = self.push(name(*args) if callable(name) else name)
            try:
                return original(*args, **kwargs)
            finally:
                self.pop(key, t0)

        setattr(owner, attr, timed)

    def sample(self) -> None:
        """Sampler thread body: until stopped, record RSS against the open call paths."""
        while not self._stop.wait(RSS_SAMPLE_S):
            rss, stack = common.rss_mb(), self.stack
            for i in range(1, len(stack) + 1):
                key = stack[:i]
                self.max_rss[key] = max(self.max_rss.get(key, 0.0), rss)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "path": list(k),
                "seconds": s,
                "calls": self.calls.get(k, 0),
                "max_rss_mb": self.max_rss.get(k),
            }
            for k, s in self.seconds.items()
        ]


def job_tokbt_phases(cfg: Config, store: Path) -> dict[str, Any]:
    """``tokbt_write`` with a timer around each phase of ``write_simulation``."""
    import tokbt.data.store as store_mod
    import tokbt.sim.simulate as sim_mod
    import tokbt.sim.spot as spot_mod
    from tokbt.data.schemas import Kind
    from tokbt.data.store import BarStore, DatasetWriter, _PartStats
    from tokbt.data.validate import check_staged as original_check
    from tokbt.sim import write_simulation

    timer = PhaseTimer()
    wraps: list[tuple[Any, str, str | Callable[..., str]]] = [
        (sim_mod, "simulate_paths", "simulate_paths"),
        (sim_mod, "unfixed_coefficients", "unfixed_coefficients kernel (once)"),
        (sim_mod, "simulate_spot", "simulate_spot"),
        (spot_mod, "ou_jump_paths", "ou_jump_paths kernel"),
        (sim_mod, "futures_settles", "futures_settles kernel"),
        (sim_mod, "_basis", "basis (per-path RNG + AR(1))"),
        (sim_mod, "simulate_consumption", "consumption (per-path RNG + AR(1))"),
        (sim_mod.SimChunk, "tables", "SimChunk.tables (Arrow)"),
        (sim_mod, "_spot_table", "spot"),
        (sim_mod, "_futures_table", "futures"),
        (sim_mod, "futures_rows", "futures_rows kernel"),
        (sim_mod, "_consumption_table", "consumption"),
        (DatasetWriter, "append_table", lambda _w, kind, *_a, **_k: f"append_table {Kind(kind)}"),
        (store_mod, "stage_arrow", "stage (register Arrow view, count)"),
        (store_mod, "table_sha256", "sha256 of the table (IPC)"),
        (DatasetWriter, "_store_staged", "store"),
        (_PartStats, "add_typed", "catalog stats (count, min/max ts, distinct, bar gap)"),
        (store_mod, "_conform", "conform the table to the schema"),
        (store_mod, "check_unchanged", "check_unchanged"),
        (store_mod, "unstage", "unstage"),
        (DatasetWriter, "__exit__", "commit (writer exit)"),
        (BarStore, "close", "close store"),
    ]
    for owner, attr, name in wraps:
        timer.wrap(owner, attr, name)

    def timed_check(*args: Any, **kwargs: Any) -> Any:
        """``check_staged`` timed as ``validate``, each rule (``on_step``) as a child."""
        outer, t0 = timer.push("validate")
        open_step: list[tuple[tuple[str, ...], float]] = []

        def on_step(name: str) -> None:
            if open_step:
                timer.pop(*open_step.pop())
            open_step.append(timer.push(name))

        try:
            kwargs["on_step"] = on_step
            return original_check(*args, **kwargs)
        finally:
            if open_step:
                timer.pop(*open_step.pop())
            timer.pop(outer, t0)

    vars(store_mod)["check_staged"] = timed_check  # store.py imported it by name
    sampler = threading.Thread(target=timer.sample, daemon=True)
    sampler.start()

    def work() -> dict[str, Any]:
        key, t0 = timer.push("SimPlan.build")
        plan = _plan(cfg)
        timer.pop(key, t0)
        key, t0 = timer.push("open store")
        bars = BarStore(store)
        timer.pop(key, t0)
        try:
            key, t0 = timer.push("write_simulation")
            summary = write_simulation(
                bars, DATASET, plan, cfg.paths, chunk_paths=cfg.chunk_paths, validate=True
            )
            timer.pop(key, t0)
        finally:
            bars.close()
        return {"rows": {k.value: v for k, v in summary.rows.items()}, "bytes": summary.bytes}

    result = _timed(work, common.peak_rss_mb())
    timer._stop.set()
    sampler.join()
    result["phases"] = timer.rows()
    result["not_wrapped"] = timer.missing
    return result


def job_warmup(cfg: Config, store: Path) -> dict[str, Any]:
    """Two paths through every numba kernel, so a stale on-disk cache is rebuilt untimed.

    The kernels are ``cache=True``: after ``tokbt/sim/kernels.py`` changes, the
    first process compiles them (seconds) and saves them; later ones load them.
    """
    from tokbt.sim import simulate_paths

    del store

    def work() -> dict[str, Any]:
        plan = _plan(cfg)
        simulate_paths(plan, range(2)).tables(plan)
        return {}

    return _timed(work, common.peak_rss_mb())


JOB_FUNCS: dict[str, Callable[[Config, Path], dict[str, Any]]] = {
    BASELINE: job_numpy_baseline,
    "tokbt_simulate_only": job_tokbt_simulate_only,
    "numpy_baseline_write": job_numpy_baseline_write,
    "tokbt_write_novalidate": job_tokbt_write_novalidate,
    "tokbt_write": job_tokbt_write,
    PHASES_JOB: job_tokbt_phases,
    WARMUP_JOB: job_warmup,
}


def _import_everything() -> None:
    """Import what any job uses, before its timer starts, so every job starts alike."""
    for module in (
        "numpy",
        "pyarrow.parquet",
        "tokbt.data.store",
        "tokbt.market.ticks",
        "tokbt.sim",
    ):
        importlib.import_module(module)


def run_job_here(name: str, cfg: Config, store: Path) -> dict[str, Any]:
    """Run job ``name`` in this process; add its peak RSS and name to its result.

    Every job imports the same modules first (untimed): numpy, pyarrow, DuckDB,
    numba and tokbt, so ``start RSS`` is alike and timing excludes imports.
    """
    _import_everything()
    result = JOB_FUNCS[name](cfg, store)
    result.setdefault("peak_rss_mb", common.peak_rss_mb())
    result["job"] = name
    return result


def run_job_child(name: str, cfg: Config, work: Path, timeout: float | None) -> dict[str, Any]:
    """Run job ``name`` on ``cfg`` in a fresh Python process with a fresh store under ``work``."""
    args = [
        "--paths",
        str(cfg.paths),
        "--days",
        str(cfg.days),
        "--seed",
        str(cfg.seed),
        "--chunk-paths",
        str(cfg.chunk_paths),
        "--scenario",
        cfg.scenario,
    ]
    return common.run_job_child(__file__, name, work, timeout, args)


# -- the run -------------------------------------------------------------------------------


def describe_machine() -> dict[str, Any]:
    """CPU, memory, OS and library versions of this run."""
    return common.describe_machine(
        ("numpy", "numba", "pyarrow", "duckdb", "tokbt"),
        {
            "tokbt_git": common.git_state(),
            "memory_limit": common.memory_limit(),
            "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        },
    )


def summarise(runs: dict[str, list[dict[str, Any]]], cfg: Config) -> list[dict[str, Any]]:
    """One row per job: median seconds, max peak RSS, paths·days/s and ratios to the baseline."""
    rows: list[dict[str, Any]] = []
    work = cfg.paths * cfg.days
    for name, results in runs.items():
        timing = common.seconds_summary(results)
        written = results[0].get("rows")
        rows.append(
            {
                "job": name,
                **timing,
                "cpu_seconds": statistics.median(r["cpu_seconds"] for r in results),
                "path_days_per_s": common.per_second(work, timing["seconds"]),
                **common.rss_summary(results),
                "rows": written,
                "rows_total": sum(written.values()) if written else None,
                "mb_written": results[0]["bytes"] / common.MB if "bytes" in results[0] else None,
            }
        )
    return common.add_baseline_ratios(rows, BASELINE)


def phase_categories(phases: list[dict[str, Any]], total: float) -> dict[str, float]:
    """Seconds of the phase run by kind of work (every second counted once).

    ``simulate``: ``simulate_paths``; ``Arrow tables``: ``SimChunk.tables``;
    ``validation``: ``check_staged``; ``content hash``: ``table_sha256``;
    ``Parquet write``: ``store`` minus the catalog statistics (the cast to the
    schema and ``pq.write_table``, or DuckDB's ``COPY`` in older tokbt);
    ``catalog stats``: ``add_typed``; ``other``: the rest (plan, staging,
    commit, closing the store).
    """
    by_key = {tuple(p["path"]): float(p["seconds"]) for p in phases}
    out = dict.fromkeys(
        (
            "simulate",
            "Arrow tables",
            "validation",
            "content hash",
            "Parquet write",
            "catalog stats",
        ),
        0.0,
    )
    leaf = {
        "simulate_paths": "simulate",
        "SimChunk.tables (Arrow)": "Arrow tables",
        "validate": "validation",
        "sha256 of the table (IPC)": "content hash",
        "catalog stats (count, min/max ts, distinct, bar gap)": "catalog stats",
        "conform the table to the schema": "Parquet write",
    }
    for key, seconds in by_key.items():
        name = leaf.get(key[-1])
        if name is not None:
            out[name] += seconds
        elif key[-1] == "store":
            kids = sum(v for k, v in by_key.items() if len(k) == len(key) + 1 and k[:-1] == key)
            out["Parquet write"] += seconds - kids
    out["other"] = total - sum(out.values())
    return out


def _phase_lines(phases: list[dict[str, Any]], total: float) -> list[list[str]]:
    """The phase tree as table rows: children after their parent, small ones folded."""
    by_key = {tuple(p["path"]): p for p in phases}
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for key in by_key:  # insertion order = first call order
        children.setdefault(key[:-1], []).append(key)
    out: list[list[str]] = []

    def row(label: str, depth: int, seconds: float, calls: str, rss: float | None) -> None:
        share = 100 * seconds / total if total else 0.0
        out.append(
            ["  " * depth + label, f"{seconds:.2f}", f"{share:.1f}", calls, common.fmt(rss, ",.0f")]
        )

    def visit(parent: tuple[str, ...], depth: int) -> None:
        kids = children.get(parent, [])
        small = [k for k in kids if by_key[k]["seconds"] < FOLD_SHARE * total]
        for key in kids:
            if key in small and len(small) > 1:
                continue
            p = by_key[key]
            row(key[-1], depth, p["seconds"], f"{p['calls']:,}", p["max_rss_mb"])
            visit(key, depth + 1)
        if len(small) > 1:
            folded = sum(by_key[k]["seconds"] for k in small)
            row(f"({len(small)} smaller steps)", depth, folded, "", None)
        if parent and kids:
            rest = by_key[parent]["seconds"] - sum(by_key[k]["seconds"] for k in kids)
            if rest >= FOLD_SHARE * total:
                label = REST_LABELS.get(parent[-1], "(rest, untimed)")
                row(label, depth, rest, "", None)

    visit((), 0)
    return out


def report(out: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    m, c = out["machine"], out["config"]
    lines = [
        common.machine_line(m),
        f"versions: python {m['python']}, numpy {m['numpy']}, numba {m['numba']}, "
        f"pyarrow {m['pyarrow']}, duckdb {m['duckdb']}, tokbt {m['tokbt']} "
        f"(git {m.get('tokbt_git', 'unknown')}); "
        f"DuckDB memory_limit {m['memory_limit']}, NUMBA_NUM_THREADS {m['numba_threads']}, "
        f"OPENBLAS_NUM_THREADS {m.get('blas_threads', 'default')}",
        f"work: scenario {c['scenario']}, {c['paths']:,} paths x {c['days']:,} days "
        f"= {c['paths'] * c['days']:,} path-days, {c['exchange_days']} exchange days, "
        f"{c['listed_per_day']} listed contracts a day ({c['contracts']} in all), "
        f"chunks of {c['chunk_paths']} paths, seed {c['seed']}",
        f"{common.repeats_line(out['repeat'])}; "
        f"numba warm-up child before the runs: {out['warmup_seconds']:.1f} s",
        "",
    ]
    headers = [
        "job",
        "seconds",
        "path-days/s",
        "CPU s",
        *common.RSS_HEADERS,
        "rows written",
        "MB written",
        *common.RATIO_HEADERS,
    ]
    body = [
        [
            r["job"],
            common.seconds_cell(r),
            common.si(r["path_days_per_s"]),
            f"{r['cpu_seconds']:.1f}",
            *common.rss_cells(r),
            common.fmt(r["rows_total"], ",d"),
            common.fmt(r["mb_written"], ",.0f"),
            *common.ratio_cells(r),
        ]
        for r in out["summary"]
    ]
    if body:
        lines.append(common.format_table(headers, body))
    written = [r for r in out["summary"] if r["rows"]]
    if written:
        lines.append("")
        for r in written:
            per_kind = ", ".join(f"{k} {v:,}" for k, v in r["rows"].items())
            lines.append(f"{r['job']} rows: {per_kind}")
    check = out.get("check")
    if check:
        lines += [
            "",
            "check: tokbt_simulate_only vs numpy_baseline across paths (independent draws; "
            f"|z| < {CHECK_Z:g} = within Monte Carlo noise):",
            common.format_table(
                ["quantity", "tokbt mean", "numpy mean", "z", "tokbt sd", "numpy sd", "z", ""],
                [
                    [
                        r["quantity"],
                        f"{r['tokbt_mean']:.4f}",
                        f"{r['numpy_mean']:.4f}",
                        f"{r['z_mean']:+.2f}",
                        f"{r['tokbt_sd']:.4f}",
                        f"{r['numpy_sd']:.4f}",
                        f"{r['z_sd']:+.2f}",
                        "agree" if r["agree"] else "DISAGREE",
                    ]
                    for r in check
                ],
            ),
        ]
    same = out.get("same_input")
    if same:
        lines += [
            "",
            f"same-input check: numpy settlement of tokbt's first {same['paths']} paths "
            f"(tokbt's index, f, Y, basis): {same['settle_diff']:,} of {same['bars']:,} settles, "
            f"{same['open_diff']:,} opens, {same['locked_diff']:,} lock flags differ "
            f"({same['locked']:,} locked); fair values within {same['fair_max_rel_diff']:.1e} "
            f"(relative); NaN pattern {'equal' if same['nan_pattern_equal'] else 'DIFFERS'}",
        ]
    phases = out.get("phases")
    if phases:
        total = phases["seconds"]
        lines += [
            "",
            f"tokbt_write phase by phase ({PHASES_JOB}: {total:.1f} s in all, peak RSS "
            f"{phases['peak_rss_mb']:,.0f} MB; times are inclusive and summed over chunks; "
            f"max RSS sampled every {RSS_SAMPLE_S * 1000:.0f} ms while in the phase):",
            common.format_table(
                ["phase", "seconds", "% total", "calls", "max RSS MB"],
                _phase_lines(phases["phases"], total),
            ),
            *(
                [f"(not found in this tokbt, so not timed: {', '.join(phases['not_wrapped'])})"]
                if phases.get("not_wrapped")
                else []
            ),
            "",
            "by kind of work:",
            common.format_table(
                ["work", "seconds", "% total"],
                [
                    [name, f"{sec:.1f}", f"{100 * sec / total:.1f}" if total else "-"]
                    for name, sec in phase_categories(phases["phases"], total).items()
                ],
            ),
        ]
    return "\n".join(lines)


def _plan_facts(cfg: Config) -> dict[str, int]:
    plan = _plan(cfg)
    listed = plan.listed >= 0
    return {
        "exchange_days": len(plan.exchange_days),
        "listed_per_day": int(listed.sum(axis=1).max()),
        "contracts": len(plan.contracts),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every job ``args.repeat`` times in fresh processes; summarise and check."""
    os.environ["TOKBT_MEMORY_LIMIT"] = args.memory_limit  # children inherit it
    # The baseline's matrix products are small (paths x ~365 by ~365 x 12): OpenBLAS
    # threads gain nothing there but spin on the second core, which makes the
    # baseline's time depend on the machine's other load. One thread, unless set.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    cfg = _config(args)
    machine = describe_machine()
    jobs = [j for j in JOBS if j in args.jobs]
    phases = None
    with tempfile.TemporaryDirectory(prefix="tokbt-sim-bench-", dir=args.tmp_dir) as tmp:
        work = Path(tmp)
        print("warm-up (numba kernels: load or compile the on-disk cache) ...", file=sys.stderr)
        warmup = run_job_child(WARMUP_JOB, cfg, work / WARMUP_JOB, args.timeout)
        print(f"  {warmup['seconds']:.2f} s", file=sys.stderr)
        runs = common.run_interleaved(
            jobs,
            args.repeat,
            work,
            lambda job, folder: run_job_child(job, cfg, folder, args.timeout),
        )
        if args.profile_phases:
            print(f"{PHASES_JOB} ...", file=sys.stderr)
            phases = run_job_child(PHASES_JOB, cfg, work / PHASES_JOB, args.timeout)
    check = None
    if all(runs.get(j) for j in CHECK_JOBS):
        check = compare_moments(*(runs[j][0]["check"] for j in CHECK_JOBS))
    config = {
        "paths": cfg.paths,
        "days": cfg.days,
        "seed": cfg.seed,
        "chunk_paths": cfg.chunk_paths,
        "scenario": cfg.scenario,
        **_plan_facts(cfg),
    }
    return {
        "machine": machine,
        "config": config,
        "repeat": args.repeat,
        "summary": summarise(runs, cfg),
        "check": check,
        "same_input": runs["tokbt_simulate_only"][0]["same_input"]
        if runs.get("tokbt_simulate_only")
        else None,
        "warmup_seconds": warmup["seconds"],
        "phases": phases,
        "runs": runs,
        "command": common.command_line(),
    }


def _config(args: argparse.Namespace) -> Config:
    return Config(args.paths, args.days, args.seed, args.chunk_paths, args.scenario)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    p = argparse.ArgumentParser(
        description="Benchmark simulating paths x days with every listed futures contract "
        "and writing them to a tokbt store, against a numpy-only baseline; each job in a "
        "fresh subprocess.",
    )
    p.add_argument("--paths", type=int, default=10_000, help="simulated paths")
    p.add_argument("--days", type=int, default=1095, help="simulated calendar days")
    common.add_repeat_argument(p)
    p.add_argument(
        "--chunk-paths",
        type=int,
        default=500,
        help="paths per chunk (500 = write_simulation's default)",
    )
    p.add_argument("--seed", type=int, default=0, help="simulation seed")
    p.add_argument("--scenario", default=SCENARIO, help="scenario preset")
    common.add_output_arguments(p, JOBS)
    p.add_argument(
        "--profile-phases",
        action="store_true",
        help="also run tokbt_write once with a timer around each phase",
    )
    common.add_resource_arguments(
        p,
        memory_limit_help="DuckDB memory_limit for tokbt (default: $TOKBT_MEMORY_LIMIT or 2GB)",
        tmp_dir_help="where the stores go (default: system temp)",
    )
    p.add_argument(
        "--from-json", metavar="IN", help="print the report of a saved --json file and exit"
    )
    common.add_job_arguments(p, JOB_FUNCS)
    args = p.parse_args(argv)
    common.check_arguments(p, args, JOBS)
    if args.paths < 1 or args.days < 1 or args.chunk_paths < 1:
        p.error("--paths, --days and --chunk-paths must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: a child job (``--job``) or a whole benchmark run."""
    args = parse_args(argv)
    if args.from_json:
        print(report(json.loads(Path(args.from_json).read_text(encoding="utf-8"))))
        return 0
    if args.job:
        if not args.store:
            raise SystemExit("--job needs --store")
        common.print_result(run_job_here(args.job, _config(args), Path(args.store)))
        return 0
    common.finish(run(args), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
