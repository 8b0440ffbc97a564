"""``budget_guard``: the budget year's strip, cover ratcheting up as the index overruns budget."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    Every,
    HedgeParams,
    HedgePolicy,
    OnSettlement,
    Rebalance,
    StripExposure,
)
from tokbt_budget_guard.blocks import BudgetRatio


class BudgetGuardParams(HedgeParams):
    """Parameters of ``budget_guard`` (``months``, ``ratio``, ``start``, tailing and
    rounding come from ``HedgeParams``)."""

    budget: float | None = Field(
        None,
        gt=0.0,
        description="Budgeted index, USD per 1M tokens (None: the index when the hedge starts).",
    )
    floor: float = Field(0.25, ge=0.0, le=2.0, description="Hedge ratio at or below budget.")
    cap: float = Field(1.0, ge=0.0, le=2.0, description="Hedge ratio at `trigger` over budget.")
    trigger: float = Field(
        0.20, gt=0.0, description="Overrun (index / budget − 1) at which cover reaches `cap`."
    )
    lookback: int = Field(
        5, ge=1, description="Events of closes averaged into the index level (<= engine.history)."
    )
    rebalance_days: int = Field(5, ge=1, description="Review the cover every N exchange days.")
    band: float = Field(
        0.05, ge=0.0, description="Trade only when off target by more than this fraction."
    )
    ratchet: bool = Field(
        True, description="Only add cover (never sell when the index falls back)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.cap < self.floor:
            raise ValueError(f"cap ({self.cap}) must not be below floor ({self.floor})")
        return self


class BudgetGuard(HedgePolicy):
    """Budget guard: hedge `floor` of the budget year's plan, rising to `cap` as the index overruns.

    A treasury budgets its token bill at a price. From the start, every
    delivery month of the ``months``-month budget year is hedged at
    ``ratio`` × a hedge ratio that is ``floor`` while the index (a
    ``lookback``-event mean) is at or below ``budget`` and rises linearly to
    ``cap`` as it runs ``trigger`` over it. The cover is reviewed every
    ``rebalance_days`` exchange days; with ``ratchet`` it is only ever added
    to — protection bought in a spike is kept — otherwise it also follows the
    index down. Months are held to final settlement.
    """

    Params = BudgetGuardParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            Every(p.rebalance_days),
            StripExposure(),
            BudgetRatio(
                p.budget,
                floor=p.floor,
                cap=p.cap,
                trigger=p.trigger,
                lookback=p.lookback,
                scale=p.ratio,
            ),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(p.band, mode="up" if p.ratchet else "both"),
        ]
