"""Hedge-policy building blocks: estimators, blocks and the stack runner.

``tokbt.hedge.estimators`` holds the hedge-ratio estimators (numpy only);
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
    "HedgeParams",
    "HedgePolicy",
    "HedgeState",
    "Ladder",
    "Monthly",
    "OLSRatio",
    "OnSettlement",
    "Rebalance",
    "Roll",
    "RollDue",
    "SpendRatio",
    "StackExposure",
    "StripExposure",
    "planned_tokens",
    "run_stack",
]
