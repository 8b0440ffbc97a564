"""Proposition 6.1 on simulated markets: how much of the daily index risk the front
month can take out, for the futures series a minimum-variance hedge is fitted on.

The paper's Proposition 6.1: at the minimum-variance ratio ``h*`` the variance of
the hedged change ``ΔS − h*·ΔF`` is ``(1 − ρ²)`` times that of ``ΔS``, so
``VR_var = ρ²`` and ``VR_std = 1 − √(1 − ρ²)``, ρ the correlation of daily index
changes and futures changes (DOMAIN.md §2). ``prop61_table`` measures it on a
``SimChunk`` for three futures series (``tokbt.hedge.front``; ``ΔS`` always the
index change over the same exchange-day interval):

* ``front`` — the front month as it is: each exchange day the change of the contract
  front that day, NaN on roll days (where the unadjusted nearby series would jump
  from one contract to the next);
* ``rolled`` — the rolled, back-adjusted front-month series: the same, with the new
  front's own change on roll days;
* ``decision`` — what ``min_variance`` fitted with ``series="front"``: the single
  contract front on exchange day ``decision``, over the ``window`` changes up to
  that day (in sample), then over its changes after it, up to its last trading day
  (out of sample).

For ``front`` and ``rolled``, in sample fits and evaluates every exchange day of the
run; out of sample fits on the first ``split`` of the days and evaluates on the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from tokbt.hedge.estimators import HedgeFit, hedge_fit
from tokbt.hedge.front import front_contracts, roll_rows, rolled_changes
from tokbt.market import Tenor
from tokbt.sim import SimChunk, SimPlan

Floats = npt.NDArray[np.float64]

QUANTITIES = ("rho", "h", "rho2", "vr_std_bound", "vr_var", "vr_std")
"""The ``HedgeFit`` fields a row reports, pooled and as quartiles across paths."""


@dataclass(frozen=True)
class Prop61Row:
    """One futures series and sample of ``prop61_table``: pooled figures (one fit over
    all paths' pairs) and the quartiles across paths of the per-path figures."""

    series: str
    """``front``, ``rolled`` or ``decision`` (see the module docstring)."""
    sample: str
    """``in`` (fit and evaluate on the same days) or ``out`` (fit first, evaluate after)."""
    n_paths: int
    """Paths measured."""
    n_fit: float
    """Median complete ``(ΔS, ΔF)`` pairs per path in the fit."""
    n_eval: float
    """Median complete pairs per path in the evaluation."""
    rho: float
    """Pooled ρ: correlation of ``ΔS`` and ``ΔF`` in the fit."""
    h: float
    """Pooled h*: OLS slope of ``ΔS`` on ``ΔF`` (with intercept) in the fit."""
    rho2: float
    """Pooled ρ²: the variance reduction Proposition 6.1 predicts at h*."""
    vr_std_bound: float
    """Pooled ``1 − √(1 − ρ²)``: the σ reduction it predicts."""
    vr_var: float
    """Pooled realised ``1 − Var(ΔS − h*ΔF) / Var(ΔS)`` on the evaluation days
    (``= ρ²`` in sample)."""
    vr_std: float
    """Pooled realised ``1 − sd(ΔS − h*ΔF) / sd(ΔS)`` on the evaluation days."""
    across_paths: dict[str, tuple[float, float, float]]
    """Per-path figures: for each of ``QUANTITIES``, (lower quartile, median, upper
    quartile) across paths."""

    def flat(self) -> dict[str, str | int | float]:
        """The row as one flat dict: the pooled figures, then ``<name>_q25``,
        ``<name>_median``, ``<name>_q75`` per quantity."""
        out: dict[str, str | int | float] = {
            k: v for k, v in asdict(self).items() if k != "across_paths"
        }
        for name, (q25, q50, q75) in self.across_paths.items():
            out |= {f"{name}_q25": q25, f"{name}_median": q50, f"{name}_q75": q75}
        return out


def prop61_table(
    plan: SimPlan,
    chunk: SimChunk,
    *,
    roll_days: int = 5,
    split: float = 0.5,
    decision: int | None = 60,
    window: int = 60,
) -> list[Prop61Row]:
    """Proposition 6.1 for the ``front``, ``rolled`` and ``decision`` series of a chunk.

    Args:
        plan, chunk: a simulation (``tokbt.sim.SimPlan.build``, ``simulate_paths``).
        roll_days: the roll rule of ``tokbt.hedge.front`` (exchange days before the
            front's last trading day; ``min_variance``'s default is 5).
        split: the fraction of the exchange days the out-of-sample fit uses.
        decision: the exchange day (0-based) of the ``decision`` series — by default
            ``min_variance``'s default start; ``None``, a day with fewer than
            ``window`` changes before it, or one whose front trades no later day in
            the run, leaves it out.
        window: changes before ``decision`` its fit uses.

    Returns:
        ``Prop61Row`` for (``front``, in), (``front``, out), (``rolled``, in),
        (``rolled``, out), then (``decision``, in), (``decision``, out) if included.
    """
    if not 0.0 < split < 1.0:
        raise ValueError(f"split must lie in (0, 1), got {split}")
    if len(plan.exchange_days) < 2:
        raise ValueError("Proposition 6.1 needs a run of at least 2 exchange days")
    spot = chunk.index[:, plan.exchange_days].T
    d_spot = np.full(spot.shape, np.nan)
    d_spot[1:] = spot[1:] - spot[:-1]
    front = front_contracts(plan.listed, _expiry_rows(plan), roll_days, eligible=_months(plan))
    rolled = rolled_changes(chunk.settle, plan.listed, front)
    as_is = np.where(roll_rows(front)[:, None], np.nan, rolled)
    cut = max(1, min(len(d_spot) - 1, round(split * len(d_spot))))
    rows = [
        *_rows("front", d_spot, as_is, cut),
        *_rows("rolled", d_spot, rolled, cut),
    ]
    if decision is not None and window <= decision < len(d_spot) - 1:
        rows += _decision_rows(plan, chunk, d_spot, front, decision, window)
    return rows


def _months(plan: SimPlan) -> npt.NDArray[np.bool_]:
    return np.array([c.tenor is Tenor.MONTH for c in plan.contracts], dtype=bool)


def _expiry_rows(plan: SimPlan) -> npt.NDArray[np.int64]:
    """Each contract's last trading day as an exchange-day row (``Chain.days_to_expiry``
    counted from the first exchange day)."""
    cal = plan.spec.calendar
    first = plan.days[plan.exchange_days[0]]
    return np.array([cal.count(first, c.last_trading_day) for c in plan.contracts], np.int64)


def _decision_rows(
    plan: SimPlan,
    chunk: SimChunk,
    d_spot: Floats,
    front: npt.NDArray[np.int64],
    day: int,
    window: int,
) -> list[Prop61Row]:
    """The changes of the contract front on ``day``: the ``window`` up to ``day`` (fit)
    and those after it up to its last trading day (evaluation); none without a front
    or a day after ``day`` that it trades."""
    contract = int(front[day])
    if contract < 0:
        return []
    end = min(len(d_spot), int(_expiry_rows(plan)[contract]) + 1)
    if end <= day + 1:
        return []
    held = np.full(len(front), contract, dtype=np.int64)
    changes = rolled_changes(chunk.settle, plan.listed, held)
    rows = slice(day - window + 1, end)
    return _rows("decision", d_spot[rows], changes[rows], window, slice(0, window))


def _rows(
    series: str, d_spot: Floats, d_fut: Floats, cut: int, inside: slice = slice(None)
) -> list[Prop61Row]:
    """The in-sample row (fit and evaluate on rows ``inside``) and the out-of-sample row
    (fit on the rows before ``cut``, evaluate on the rest)."""
    s, f = d_spot[inside], d_fut[inside]
    in_sample = _row(series, "in", hedge_fit(s, f), hedge_fit(s, f, pooled=True))
    out_of_sample = _row(
        series,
        "out",
        hedge_fit(d_spot, d_fut, split=cut),
        hedge_fit(d_spot, d_fut, split=cut, pooled=True),
    )
    return [in_sample, out_of_sample]


def _row(series: str, sample: str, per_path: HedgeFit, pooled: HedgeFit) -> Prop61Row:
    return Prop61Row(
        series=series,
        sample=sample,
        n_paths=int(np.size(per_path.rho)),
        n_fit=float(np.median(per_path.n_fit)),
        n_eval=float(np.median(per_path.n_eval)),
        rho=float(pooled.rho),
        h=float(pooled.h),
        rho2=float(pooled.rho2),
        vr_std_bound=float(pooled.vr_std_bound),
        vr_var=float(pooled.vr_var),
        vr_std=float(pooled.vr_std),
        across_paths={name: per_path.quartiles(name) for name in QUANTITIES},
    )
