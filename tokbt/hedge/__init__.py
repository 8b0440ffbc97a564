"""Hedge-policy building blocks: estimators, blocks and the stack runner.

``tokbt.hedge.estimators`` holds the hedge-ratio estimators (numpy only) and the
Proposition 6.1 measurements (``prop61``); ``tokbt.hedge.front`` the rolled,
back-adjusted front-month series;
``tokbt.hedge.blocks`` the small steps policies are composed of, each saying
what it requires and sets; ``HedgePolicy`` runs a stack of them as a
``Strategy``. The built-in policies in ``strategies/`` are such stacks.
"""

from tokbt.hedge.blocks import (
    After,
    Block,
    Contracts,
    Either,
    Every,
    EwmaRatio,
    FixedRatio,
    HedgeState,
    Ladder,
    Monthly,
    OLSRatio,
    OnSettlement,
    Rebalance,
    Roll,
    RollDue,
    SpendRatio,
    StackExposure,
    StripExposure,
    planned_tokens,
    run_stack,
)
from tokbt.hedge.estimators import HedgeFit, Prop61, hedge_fit, prop61
from tokbt.hedge.front import (
    back_adjusted,
    front_contracts,
    roll_rows,
    rolled_changes,
    rolled_paired_changes,
)
from tokbt.hedge.stack import EstimatedParams, HedgeParams, HedgePolicy

__all__ = [
    "After",
    "Block",
    "Contracts",
    "Either",
    "EstimatedParams",
    "Every",
    "EwmaRatio",
    "FixedRatio",
    "HedgeFit",
    "HedgeParams",
    "HedgePolicy",
    "HedgeState",
    "Ladder",
    "Monthly",
    "OLSRatio",
    "OnSettlement",
    "Prop61",
    "Rebalance",
    "Roll",
    "RollDue",
    "SpendRatio",
    "StackExposure",
    "StripExposure",
    "back_adjusted",
    "front_contracts",
    "hedge_fit",
    "planned_tokens",
    "prop61",
    "roll_rows",
    "rolled_changes",
    "rolled_paired_changes",
    "run_stack",
]
