"""``volume_aware``: minimum variance of spend Q·S rather than price, for quantity risk."""

from __future__ import annotations

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    Every,
    HedgeParams,
    HedgePolicy,
    OnSettlement,
    Rebalance,
    SpendRatio,
    StripExposure,
)


class VolumeAwareParams(HedgeParams):
    """Parameters of ``volume_aware``."""

    start: int = Field(60, ge=0, description="Exchange days observed before the first trade.")
    window: int = Field(60, ge=2, description="Exchange days of changes each fit uses.")
    intercept: bool = Field(True, description="Fit with an intercept.")
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
    roll_days: int = Field(
        5,
        ge=0,
        description="Estimate on the front month at least this "
        "many exchange days from its last trading day.",
    )
    min_obs: int = Field(10, ge=2, description="Fewer changes than this: use ratio 1.")


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
            SpendRatio(
                p.window,
                intercept=p.intercept,
                roll_days=p.roll_days,
                min_obs=p.min_obs,
                scale=p.ratio,
                bounds=p.bounds,
            ),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band),
        ]
