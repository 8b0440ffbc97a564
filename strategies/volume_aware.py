"""``volume_aware``: minimum variance of spend Q·S rather than price, for quantity risk."""

from __future__ import annotations

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    EstimatedParams,
    Every,
    HedgePolicy,
    OnSettlement,
    Rebalance,
    SpendRatio,
    StripExposure,
)


class VolumeAwareParams(EstimatedParams):
    """Parameters of ``volume_aware``."""

    rebalance_days: int = Field(
        21, ge=1, description="Re-estimate and rebalance every N exchange days."
    )
    band: float = Field(0.05, ge=0.0, description="Tolerance band (fraction of the target).")
    source: str = Field(
        "plan",
        pattern="^(plan|forecast)$",
        description="Exposure: the plan, or a forecast from the realised run rate.",
    )
    lookback: int = Field(30, ge=1, description="Events of realised consumption a forecast uses.")


class VolumeAware(HedgePolicy):
    """The strip at the minimum-variance ratio of spend Q·S, re-estimated monthly.

    The ratio is Cov(Δ(q·S), ΔF) / (q̄ Var(ΔF)) over the last ``window``
    exchange days, ``q`` the tokens realised each day: where consumption rises
    with the price (a demand explosion) it hedges more than the price ratio.
    Each delivery month of the horizon is targeted at ``ratio`` × that ratio ×
    its expected consumption (plan or run-rate forecast) and rebalanced every
    ``rebalance_days`` when off by more than ``band``.
    """

    Params = VolumeAwareParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            Every(p.rebalance_days),
            StripExposure("forecast" if p.source == "forecast" else "plan", p.lookback),
            SpendRatio(**p.estimator()),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band),
        ]
