"""The hedged cost after the hedge date, split into what moved it (per path).

After the hedge date ``t0`` a path pays ``H = Σ_{d>t0} Q_d c_d − Π + fees + funding``:
tokens ``Q_d`` at the price paid ``c_d = I_d (1 + μ) + b`` (index ``I_d``, the
provider's markup and basis), minus the futures P&L ``Π`` after ``t0``. With the
plan ``p_d`` (the tokens the hedge was sized for) and, for each month contract
``m`` delivering after ``t0``, its plan ``P_m = Σ_{d∈m, d>t0} p_d``, the plan at
the price paid ``A_m = Σ p_d c_d``, the month's average index ``Ī_m`` (what its
final settlement averages), its settlement price on the hedge date ``F_m`` (NaN:
not listed then) and the tokens its final settlement delivered ``h_m``:

* ``cost_locked``    ``Σ_listed P_m ((1 + μ) F_m + b)``: the plan at the prices on
  offer at the hedge date — the same on every path when the paths share their
  history up to it;
* ``cost_hedge``     ``Σ_listed h_m (Ī_m − F_m) − Π_listed``: what the hedge failed
  to lock of the price moves on the tokens it delivered (entries later or dearer
  than the hedge date's price, rolls, spread, the final settlement's rounding);
* ``cost_ratio``     ``Σ_listed (P_m − h_m)(Ī_m − F_m)``: the price move on the
  planned tokens the hedge did not deliver (a ratio other than 1, whole contracts,
  months left unhedged);
* ``cost_basis``     ``Σ_listed μ P_m (Ī_m − F_m) + Σ_m (A_m − P_m ((1 + μ) Ī_m + b))``:
  the provider's markup on the price move and the plan's days weighted unlike the
  settlement average;
* ``cost_timing``    ``Σ_unlisted P_m ((1 + μ) Ī_m + b) − Π_unlisted`` plus the plan
  on days no month contract covers: the months not listed at the hedge date, priced
  (and hedged, if at all) later;
* ``cost_quantity``  ``Σ_{d>t0} (Q_d − p_d) c_d``: tokens consumed beyond or short
  of the plan, at the price paid;
* ``cost_frictions`` fees and funding cost after ``t0``.

The seven add up to ``H`` exactly (``Π_listed``/``Π_unlisted``: the futures P&L of
the contracts listed / not listed on the hedge date). Across paths, ``Var(H) =
Σ_i Var(X_i) + 2 Σ_{i<j} Cov(X_i, X_j)``: each component's variance share, and
the cross terms' share, add to 1 (``variance_shares``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

COMPONENTS = (
    "cost_locked",
    "cost_hedge",
    "cost_ratio",
    "cost_basis",
    "cost_timing",
    "cost_quantity",
    "cost_frictions",
)
"""The components of the hedged cost after the hedge date, in report order."""
CROSS = "cross_terms"
"""The share of ``Var(H)`` in the covariances between components."""


@dataclass(frozen=True)
class AfterInception:
    """What a path did after the hedge date, as the decomposition needs it.

    Attributes:
        spend, tokens: ``(n_days, n_paths)`` consumption spend (price paid × tokens)
            and tokens, every day of the run.
        plan: ``(n_days, n_paths)`` planned tokens.
        t0: position of the hedge date in the run's days.
        months: ``(n_contracts, 2)`` first and last day position (inclusive, within
            the run) of each contract's delivery; ``-1, -1`` for a contract that
            delivers into no day of the run or is not a month contract.
        listed_price: ``(n_paths, n_contracts)`` settlement price on the hedge date.
        pnl: ``(n_paths, n_contracts)`` futures flows after the hedge date.
        delivered: ``(n_paths, n_contracts)`` tokens delivered by final settlements
            after the hedge date.
        frictions: ``(n_paths,)`` fees and funding cost after the hedge date.
        markup, basis: the provider's price rule.
    """

    spend: Floats
    tokens: Floats
    plan: Floats
    t0: int
    months: npt.NDArray[np.int64]
    listed_price: Floats
    pnl: Floats
    delivered: Floats
    frictions: Floats
    markup: float
    basis: float


def decompose(a: AfterInception) -> dict[str, Floats]:
    """The seven components of the hedged cost after the hedge date, per path (see the
    module docstring); they add up to it exactly."""
    n = a.spend.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        paid = np.where(a.tokens > 0, a.spend / a.tokens, np.nan)  # c_d
    index = (paid - a.basis) / (1.0 + a.markup)  # I_d
    after = np.arange(a.spend.shape[0]) > a.t0
    plan_paid = np.where(after[:, None] & (a.plan > 0), a.plan * np.nan_to_num(paid), 0.0)
    out = {name: np.zeros(n) for name in COMPONENTS}
    out["cost_quantity"] = (a.spend[after] - plan_paid[after]).sum(axis=0)
    out["cost_frictions"] = a.frictions.copy()
    listed_contract = np.isfinite(a.listed_price)
    hedge_pnl = np.where(listed_contract, a.pnl, 0.0).sum(axis=1)
    out["cost_hedge"] -= hedge_pnl
    out["cost_timing"] -= a.pnl.sum(axis=1) - hedge_pnl
    covered = np.zeros(len(after), dtype=bool)
    for m, (lo, hi) in enumerate(a.months):
        if lo < 0:
            continue
        covered[lo : hi + 1] = True
        _month(a, index, plan_paid, after, m, lo, hi, out)
    out["cost_timing"] += plan_paid[after & ~covered].sum(axis=0)
    return out


def _month(
    a: AfterInception,
    index: Floats,
    plan_paid: Floats,
    after: npt.NDArray[np.bool_],
    m: int,
    lo: int,
    hi: int,
    out: dict[str, Floats],
) -> None:
    """Add month contract ``m``'s terms (delivery days ``lo..hi``) into ``out``."""
    days = slice(lo, hi + 1)
    inside = after[days]
    planned = np.where(inside[:, None], a.plan[days], 0.0).sum(axis=0)  # P_m
    exposure = plan_paid[days].sum(axis=0)  # A_m
    finite = np.isfinite(index[days])
    with np.errstate(divide="ignore", invalid="ignore"):  # a month without a price: NaN
        average = np.where(finite, index[days], 0.0).sum(axis=0) / finite.sum(axis=0)
    price = a.listed_price[:, m]
    at_average = planned * ((1.0 + a.markup) * average + a.basis)
    known = np.isfinite(average)
    listed = known & np.isfinite(price)
    move = np.where(listed, average - price, 0.0)
    held = a.delivered[:, m]
    out["cost_locked"] += np.where(listed, planned * ((1.0 + a.markup) * price + a.basis), 0.0)
    out["cost_hedge"] += np.where(listed, held * move, 0.0)
    out["cost_ratio"] += np.where(listed, (planned - held) * move, 0.0)
    out["cost_basis"] += np.where(listed, a.markup * planned * move, 0.0)
    out["cost_basis"] += np.where(known, exposure - at_average, 0.0)
    out["cost_timing"] += np.where(known & ~listed, at_average, 0.0)
    out["cost_timing"] += np.where(known, 0.0, exposure)


def variance_shares(parts: dict[str, Floats], total: Floats) -> dict[str, float]:
    """Each component's share of the variance of ``total`` across paths
    (``Var(X_i) / Var(H)``, ddof 1) and the cross terms' share (the rest), adding to 1;
    NaN when ``Var(H)`` is 0 or a value is not finite."""
    ok = np.isfinite(total) & np.all([np.isfinite(parts[c]) for c in COMPONENTS], axis=0)
    if ok.sum() < 2:
        return {name: np.nan for name in (*COMPONENTS, CROSS)}
    var = float(np.var(total[ok], ddof=1))
    if var <= 0:
        return {name: np.nan for name in (*COMPONENTS, CROSS)}
    shares = {c: float(np.var(parts[c][ok], ddof=1)) / var for c in COMPONENTS}
    shares[CROSS] = 1.0 - sum(shares.values())
    return shares
