"""``static``: a 1:1 strip of monthly contracts over the horizon, held to settlement."""

from __future__ import annotations

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    FixedRatio,
    HedgePolicy,
    OnSettlement,
    Rebalance,
    StripExposure,
)


class Static(HedgePolicy):
    """Buy ratio × the planned tokens of each delivery month in the horizon; hold to settlement.

    At the start, each listed month contract delivering in the ``months``
    calendar months after the start month is bought at ``ratio`` × the planned
    consumption of its month; months listed later are bought as they list.
    Nothing is ever sold: every contract is held to its final settlement.
    """

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            StripExposure(),
            FixedRatio(p.ratio),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(mode="hold"),
        ]
