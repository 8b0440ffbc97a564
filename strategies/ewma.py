"""``ewma``: the strip at an EWMA (RiskMetrics) ratio updated daily, with a tolerance band."""

from __future__ import annotations

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    EwmaRatio,
    HedgeParams,
    HedgePolicy,
    OnSettlement,
    Rebalance,
    StripExposure,
)


class EwmaParams(HedgeParams):
    """Parameters of ``ewma``."""

    start: int = Field(60, ge=0, description="Exchange days observed before the first trade.")
    lam: float = Field(0.94, gt=0.0, lt=1.0, description="EWMA decay λ (RiskMetrics: 0.94).")
    demean: bool = Field(
        False, description="Moments about EWMA means (False: RiskMetrics, zero mean)."
    )
    band: float = Field(
        0.10,
        ge=0.0,
        description="Trade only when a position is off its "
        "target by more than this fraction of it.",
    )
    roll_days: int = Field(
        5,
        ge=0,
        description="Estimate on the front month at least this "
        "many exchange days from its last trading day.",
    )
    min_obs: int = Field(10, ge=2, description="Fewer changes than this: use ratio 1.")


class Ewma(HedgePolicy):
    """The strip at the EWMA ratio σ_SF/σ²_F (λ = 0.94), re-estimated every day, banded.

    Every exchange day the EWMA covariance of index and front-contract changes
    is updated; each delivery month of the horizon is targeted at ``ratio`` ×
    h_t × its planned consumption, and traded only where the position is off
    target by more than ``band`` of it.
    """

    Params = EwmaParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            EwmaRatio(
                p.lam,
                demean=p.demean,
                roll_days=p.roll_days,
                min_obs=p.min_obs,
                scale=p.ratio,
                bounds=p.bounds,
            ),
            After(p.start, p.months),
            StripExposure(),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band),
        ]
