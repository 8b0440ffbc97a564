"""``rolling``: stack-and-roll in the front month, ratio re-estimated on a rolling window."""

from __future__ import annotations

from pydantic import Field

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    Either,
    EstimatedParams,
    Every,
    HedgePolicy,
    OLSRatio,
    OnSettlement,
    Rebalance,
    Roll,
    RollDue,
    StackExposure,
)


class RollingParams(EstimatedParams):
    """Parameters of ``rolling``."""

    roll_days: int = Field(
        5, ge=1, description="Roll this many exchange days before the front's last trading day."
    )
    rebalance_days: int = Field(
        21, ge=1, description="Re-estimate and rebalance every N exchange days (and at rolls)."
    )
    band: float = Field(
        0.0,
        ge=0.0,
        description="Tolerance band: trade only when the position is off target by more "
        "than this fraction.",
    )


class Rolling(HedgePolicy):
    """Stack-and-roll: all remaining horizon consumption in the front month, rolled k days early.

    The consumption still ahead in the horizon is hedged with the front month
    contract (the nearest at least ``roll_days`` exchange days from its last
    trading day) and rolled into the next when due — Metallgesellschaft's
    stack. Every ``rebalance_days`` and at each roll, h* is re-estimated by OLS
    on the last ``window`` exchange days and the stack resized (it shrinks as
    the horizon is consumed). Roll P&L — what the contracts closed before
    delivery earned — is reported per path as ``roll_pnl``.
    """

    Params = RollingParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            Either(Every(p.rebalance_days), RollDue(p.roll_days)),
            StackExposure(),
            Roll(p.roll_days),
            OLSRatio(**p.estimator()),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band, close_others=True),
        ]
