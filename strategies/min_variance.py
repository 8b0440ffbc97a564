"""``min_variance``: the strip at the OLS minimum-variance ratio estimated before the start."""

from __future__ import annotations

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
    """Parameters of ``min_variance`` (all shared with the other estimating policies)."""


class MinVariance(HedgePolicy):
    """The strip at h* = Cov(ΔS,ΔF)/Var(ΔF), fitted by OLS on the window before the start; held.

    At the start (``start`` exchange days in), h* is the OLS slope of daily
    index changes on the front contract's settlement changes over the last
    ``window`` exchange days — all before the hedge exists. Each delivery month
    of the horizon is then bought at ``ratio`` × h* × its planned consumption
    (months listed later as they list, at the same h*) and held to settlement.
    """

    Params = MinVarianceParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            StripExposure(),
            OLSRatio(**p.estimator(), once=True),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(mode="hold"),
        ]
