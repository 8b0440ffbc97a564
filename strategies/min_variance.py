"""``min_variance``: the strip at the OLS minimum-variance ratio estimated before the start."""

from __future__ import annotations

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    HedgeParams,
    HedgePolicy,
    OLSRatio,
    OnSettlement,
    Rebalance,
    StripExposure,
)


class MinVarianceParams(HedgeParams):
    """Parameters of ``min_variance``."""

    start: int = Field(60, ge=0, description="Exchange days observed before the hedge is placed.")
    window: int = Field(60, ge=2, description="Exchange days of changes the OLS fit uses.")
    intercept: bool = Field(True, description="Fit ΔS = a + h·ΔF (True) or ΔS = h·ΔF.")
    roll_days: int = Field(
        5,
        ge=0,
        description="Estimate on the front month at least this many "
        "exchange days from its last trading day.",
    )
    min_obs: int = Field(10, ge=2, description="Fewer changes than this: use ratio 1.")


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
            OLSRatio(
                p.window,
                intercept=p.intercept,
                once=True,
                roll_days=p.roll_days,
                min_obs=p.min_obs,
                scale=p.ratio,
                bounds=p.bounds,
            ),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(mode="hold"),
        ]
