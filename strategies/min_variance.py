"""``min_variance``: the strip at the OLS minimum-variance ratio estimated before the start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    EstimatedParams,
    HedgePolicy,
    OLSRatio,
    OnSettlement,
    Rebalance,
    StripExposure,
)


class MinVarianceParams(EstimatedParams):
    """Parameters of ``min_variance`` (the others shared with the estimating policies)."""

    series: Literal["rolled", "front"] = Field(
        "rolled",
        description="Futures changes h* is fitted on: 'rolled' — the rolled front-month "
        "series (each day the change of that day's front, rolled `roll_days` before its "
        "last trading day); 'front' — the one contract front on the decision day, over "
        "the window (the earlier default; mostly a deferred month's changes).",
    )


class MinVariance(HedgePolicy):
    """The strip at h* = Cov(ΔS,ΔF)/Var(ΔF), fitted by OLS on the window before the start; held.

    Which ratio: at the start (``start`` exchange days in), h* is the OLS slope of
    daily index changes ΔS on daily futures changes ΔF over the last ``window``
    exchange days — all before the hedge exists (DOMAIN.md §2: Johnson/Ederington,
    at h* the variance of ``ΔS − h*·ΔF`` falls by ρ²). With ``series="rolled"``
    (the default) ΔF is the rolled front-month series: each day the change of the
    contract front that day (``roll_days`` before its last trading day it hands over
    to the next month; no change spans two contracts). With ``series="front"`` ΔF is
    the history of the single contract front on the decision day, which over most
    of the window was a deferred month that barely follows the index (on the
    ``baseline`` scenario ρ ≈ 0.4 against ≈ 0.8 rolled, over the same 60 days).

    Each delivery month of the horizon is then bought at ``ratio`` × h* × its
    planned consumption (months listed later as they list, at the same h*) and held
    to settlement.

    What the strip hedges is not ΔS: month ``m``'s contract settles on the average
    of the index over month ``m`` — the very average that month's consumption is
    bought at — so contracts for the month's planned tokens, held to settlement, fix
    the price of that consumption: the ratio that hedges each month's cost is about
    1 (DOMAIN.md §2: hedge effectiveness is high where the exposure and the contract
    reference the same average, with no basis). Daily h* answers another question,
    the hedge of one day's index move by one day's futures move: the index
    mean-reverts, a month's average moves less than the spot, and h* = ρ σ_S/σ_F
    comes out well above 1 (≈ 1.8 rolled on ``baseline``, clipped at
    ``max_ratio``). This policy is that textbook estimate, to be compared with
    static 1:1, not a claim that it is the strip's variance-minimising ratio.
    """

    Params = MinVarianceParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            StripExposure(),
            OLSRatio(**p.estimator(), series=p.series, once=True),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(mode="hold"),
        ]
