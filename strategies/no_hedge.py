"""``no_hedge``: the baseline every hedge is measured against."""

from __future__ import annotations

from tokbt.strategy import Strategy


class NoHedge(Strategy):
    """The baseline: buy tokens at the spot index, hold no futures."""

    trades = False
