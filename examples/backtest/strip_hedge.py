"""A strip hedge, written against the engine's hooks (tokbt's own plugin base
class arrives with the strategies issue; any object with ``on_*`` hooks works).

At the first bar, buy ``ratio`` × the planned tokens of each delivery month
of the listed chain, in contracts of the month delivering it, and hold them
to final settlement.
"""

from __future__ import annotations

import numpy as np

from tokbt.engine import Context


class StripHedge:
    """Buy a strip covering ``ratio`` of planned consumption per delivery month; hold."""

    def __init__(self, ratio: float = 1.0, months: int = 12) -> None:
        self.ratio = ratio
        self.months = months
        self.placed = False

    def on_bar(self, ctx: Context) -> None:
        if self.placed or not ctx.chain.contracts:
            return
        for contract in ctx.chain.contracts[: self.months]:
            planned = ctx.plan(contract.delivery_start, contract.delivery_end)
            ctx.target(contract.code, np.round(self.ratio * planned / ctx.spec.multiplier))
        self.placed = True
