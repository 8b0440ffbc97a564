"""Model-implied futures and consumption on a recorded index.

No token futures trade, so a recorded Token Price Index comes with spot bars
only. ``implied_market`` adds what a hedge backtest also needs: the daily
settlement prices a market maker quoting the model's fair value would have
published on each exchange day, and a consumption series. **These futures are
an assumption, not recorded prices**: they are the forward curve of
``tokbt.sim.curve`` (zero risk premium unless the scenario says otherwise, no
basis noise) evaluated on the recorded index, with the scenario's parameters
taken as known.

The index is split as the simulator splits its own paths, ``ln S_d = f_d + Y_d``:
``f`` is the scenario's deterministic trend (``ln s0 + Σ_{j≤d} trend_j Δ``,
without random cuts; ``s0`` the series' first value unless given) and ``Y`` is
the rest. The settlement of exchange day ``k`` is then computed by the
simulator's own kernel from ``f_k``, ``Y_k``, the index values already fixed
(days ``≤ k``) and the contract's previous settlement (price limits) — so it
depends on the index up to day ``k`` only, by construction. Fed a simulated
path with the scenario's ``s0``, it reproduces the simulator's settlements.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from tokbt.data import Kind
from tokbt.data.recorded import spot_bars_from_series
from tokbt.errors import DataError
from tokbt.market import ContractSpec
from tokbt.sim.consumption import simulate_consumption
from tokbt.sim.params import Scenario
from tokbt.sim.simulate import SimPlan, consumption_table, futures_table, settle_futures
from tokbt.sim.spot import trend_path

MIN_DAYS = 2
"""Fewest daily values ``implied_market`` accepts."""


def implied_market(
    series: pd.Series,
    scenario: Scenario,
    *,
    seed: int = 0,
    spec: ContractSpec | None = None,
    s0: float | None = None,
) -> dict[Kind, pa.Table]:
    """Spot, model-implied futures and consumption bars on a recorded daily index (path 0).

    **The futures are model-implied, not recorded**: each exchange day's
    settlement is the scenario's fair value of every listed contract given the
    index up to that day — the mean over the contract's fixing days of the
    index already fixed and of ``E_k[S_d]`` for the days still to come
    (``tokbt.sim.curve``), rounded to the tick and clipped to the price limit
    of the previous settlement, exactly as ``simulate_paths`` settles its
    own paths but with no basis noise (``curve.basis_sigma`` is ignored).
    The scenario's parameters are taken as known on every day.

    Args:
        series: the index, one positive value per calendar day, indexed by
            consecutive dates (a ``DatetimeIndex`` at midnight, no gaps).
        scenario: the model: spot dynamics (κ, σ, jumps, trend, regimes counted
            from the series' first day), curve, consumption and contract.
            Its ``start`` is replaced by the series' first day.
        seed: seeds the consumption noise (path 0's consumption stream).
        spec: the contract spec; default ``scenario.contract``.
        s0: the level the trend ``f`` starts from (the simulator's ``spot.s0``);
            default the series' first value. Fixing days before the series'
            start count as ``s0``.

    Returns:
        ``{SPOT, FUTURES, CONSUMPTION}`` tables in the simulator's schemas and
        row order: spot bars are the recorded values (flat daily bars);
        futures one bar per exchange day and listed contract (opening at the
        previous settlement); consumption the scenario's model driven by the
        recorded log index, with the plan the simulator writes.

    Raises:
        DataError: the series is not daily without gaps, has a missing,
            infinite or non-positive value, has fewer than 2 days, or holds no
            exchange day.
    """
    days, values = _checked(series)
    anchor = float(values[0]) if s0 is None else float(s0)
    if not (np.isfinite(anchor) and anchor > 0):
        raise DataError(f"s0 must be a positive number, got {s0}")
    sc = scenario.model_copy(
        update={"start": days[0].date(), "spot": scenario.spot.model_copy(update={"s0": anchor})}
    )
    plan = SimPlan.build(sc, len(values), seed, spec=spec)
    if len(plan.exchange_days) == 0:
        raise DataError(
            f"the index ({days[0].date()} → {days[-1].date()}) holds no exchange day of "
            f"{plan.spec.name}: no futures would settle"
        )
    log_index = np.log(values)[None, :]
    f_day = trend_path(sc.spot, plan.daily, plan.n_days)[None, :]
    y_day = log_index - f_day
    basis = np.zeros((1, len(plan.exchange_days)))
    _, settle, opened, locked = settle_futures(plan, values[None, :], f_day, y_day, basis)
    paths = np.zeros(1, dtype=np.int64)
    consumption = simulate_consumption(
        sc.consumption, plan.daily, float(np.log(anchor)), log_index, paths, seed
    )
    return {
        Kind.SPOT: spot_bars_from_series(pd.Series(values, index=days)),
        Kind.FUTURES: futures_table(plan, settle, opened, locked, paths),
        Kind.CONSUMPTION: consumption_table(plan, consumption, paths),
    }


def _checked(series: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The series' days and values, or a ``DataError`` naming the first problem."""
    if not isinstance(series, pd.Series):
        raise DataError(f"the index must be a pandas Series, got {type(series).__name__}")
    n = len(series)
    if n < MIN_DAYS:
        raise DataError(f"the index needs at least {MIN_DAYS} daily values, got {n}")
    try:
        stamps = pd.DatetimeIndex(series.index)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the index's labels are not dates ({exc})") from None
    if stamps.tz is not None:
        raise DataError(f"the index's dates must be naive calendar days, not {stamps.tz}")
    if stamps.hasnans:
        raise DataError("the index has a missing date (NaT)")
    off = np.flatnonzero(stamps != stamps.normalize())
    if off.size:
        raise DataError(
            f"the index is not daily: {stamps[off[0]]} has a time of day "
            "(one value per calendar day, labelled by its date, is needed)"
        )
    step = np.diff(stamps.to_numpy().astype("datetime64[D]")).astype(np.int64)
    bad = np.flatnonzero(step != 1)
    if bad.size:
        i = int(bad[0])
        before, after = stamps[i].date(), stamps[i + 1].date()
        what = (
            f"a gap of {step[i] - 1} day(s)"
            if step[i] > 1
            else "a repeated date"
            if step[i] == 0
            else "dates out of order"
        )
        raise DataError(
            f"the index is not daily without gaps: {after} follows {before} ({what}); "
            "fill missing days (e.g. forward-fill a fixing) first"
        )
    values = series.to_numpy(dtype=np.float64)
    broken = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if broken.size:
        i = int(broken[0])
        raise DataError(
            f"the index must be positive and finite: {values[i]} on {stamps[i].date()} "
            f"({broken.size} such value(s))"
        )
    return stamps, values
