"""``BudgetRatio``: a hedge-ratio block that follows the index against the budget.

A block is any callable ``block(ctx, state) -> bool`` (``tokbt.hedge.Block``);
this one reads the index history from the ``Context`` and writes
``state.ratio``, so it slots into a stack wherever ``FixedRatio`` or
``OLSRatio`` would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tokbt.hedge import HedgeState

if TYPE_CHECKING:
    from tokbt.engine import Context

Floats = npt.NDArray[np.float64]


class BudgetRatio:
    """A hedge ratio that rises from ``floor`` to ``cap`` as the index overruns the budget.

    The index level is the mean daily close over the last ``lookback`` events
    (a smoothed level: one spike does not buy a year's cover). Its overrun is
    ``level / budget − 1``; the ratio is ``floor`` at or below budget, ``cap``
    at an overrun of ``trigger`` or more, linear between — path by path, times
    ``scale``. With ``budget=None`` each path's budget is its level the first
    time the block runs (the price the hedge starts at). Where a path has no
    close in the window yet, it gets ``floor``.

    Only what the ``Context`` shows now is read (the window ends at the current
    event), and the budget is fixed before any later price is seen, so the
    ratio cannot look ahead. ``lookback`` must fit in ``engine.history``.

    Requires: nothing. Sets: ``ratio``.
    """

    def __init__(
        self,
        budget: float | None,
        *,
        floor: float = 0.25,
        cap: float = 1.0,
        trigger: float = 0.20,
        lookback: int = 5,
        scale: float = 1.0,
    ) -> None:
        if trigger <= 0:
            raise ValueError(f"the trigger overrun must be positive, got {trigger}")
        if cap < floor:
            raise ValueError(f"cap {cap} is below floor {floor}")
        if budget is not None and budget <= 0:
            raise ValueError(f"the budget price must be positive, got {budget}")
        self.budget = budget
        self.floor = floor
        self.cap = cap
        self.trigger = trigger
        self.lookback = lookback
        self.scale = scale
        self.fixed: Floats | None = None
        """Per path: the budget in force (``budget``, or the level at the first run)."""

    def level(self, ctx: Context) -> Floats:
        """The mean close over the last ``lookback`` events per path (NaN where none)."""
        closes = ctx.spot("close", self.lookback)
        seen = np.isfinite(closes)
        count = seen.sum(axis=0)
        total = np.where(seen, closes, 0.0).sum(axis=0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def ratio(self, level: Floats, budget: Floats) -> Floats:
        """The ratio at ``level`` against ``budget``, per path (``floor`` where unknown)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ramp = np.clip((level / budget - 1.0) / self.trigger, 0.0, 1.0)
        ramp = np.where(np.isfinite(ramp), ramp, 0.0)
        return (self.floor + (self.cap - self.floor) * ramp) * self.scale

    def __call__(self, ctx: Context, state: HedgeState) -> bool:
        level = self.level(ctx)
        if self.budget is not None:
            self.fixed = np.full(ctx.n_paths, self.budget)
        elif self.fixed is None:
            self.fixed = level.copy()
        else:  # a path without a close at the first run fixes its budget at its first one
            self.fixed = np.where(np.isnan(self.fixed), level, self.fixed)
        state.ratio = self.ratio(level, self.fixed)
        return True
