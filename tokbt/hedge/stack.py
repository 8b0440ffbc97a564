"""``HedgePolicy``: a ``Strategy`` that runs a stack of building blocks.

A policy subclass declares its parameters and builds its stack in
``blocks()``; the stack runs at every event, and ``HedgeState`` carries what the
blocks share. The common parameters of hedge policies — the horizon, the
ratio, when to start, tailing — live in ``HedgeParams``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from tokbt.hedge.blocks import Block, HedgeState, run_stack
from tokbt.strategy import Strategy

if TYPE_CHECKING:
    from tokbt.engine import Context


class HedgeParams(Strategy.Params):
    """Parameters every built-in hedge policy shares."""

    months: int = Field(12, ge=1, le=120, description="Delivery months hedged after the start.")
    ratio: float = Field(1.0, ge=0.0, description="Hedge ratio (a multiplier on estimated ratios).")
    start: int = Field(
        0, ge=0, description="Exchange days to wait (observing) before the first hedge trade."
    )
    tailing_rate: float | None = Field(
        None, description="Tail the hedge at this annual rate (None: no tailing)."
    )
    whole_contracts: bool = Field(True, description="Round targets to whole contracts.")
    max_ratio: float | None = Field(
        2.0,
        gt=0.0,
        description="Clip estimated hedge ratios to [0, max_ratio] before `ratio` scales "
        "them (None: unclipped).",
    )

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The clip range of estimated ratios."""
        return None if self.max_ratio is None else (0.0, self.max_ratio)


class EstimatedParams(HedgeParams):
    """Parameters of policies whose ratio is estimated from prices."""

    start: int = Field(60, ge=0, description="Exchange days observed before the first trade.")
    window: int = Field(60, ge=2, description="Exchange days of changes each fit uses.")
    intercept: bool = Field(True, description="Fit ΔS = a + h·ΔF (True) or ΔS = h·ΔF.")
    roll_days: int = Field(
        5,
        ge=0,
        description="Estimate on (and roll) the front month at least this many exchange "
        "days from its last trading day.",
    )
    min_obs: int = Field(10, ge=2, description="Fewer changes than this: use ratio 1.")

    def estimator(self) -> dict[str, Any]:
        """Keyword arguments of ``OLSRatio`` / ``SpendRatio`` from these parameters."""
        return {
            "window": self.window,
            "intercept": self.intercept,
            "roll_days": self.roll_days,
            "min_obs": self.min_obs,
            "scale": self.ratio,
            "bounds": self.bounds,
        }


class HedgePolicy(Strategy):
    """Base of policies written as a stack of blocks (override ``blocks``)."""

    Params = HedgeParams

    def blocks(self) -> list[Block]:
        """The stack, in order (see ``tokbt.hedge.blocks``)."""
        raise NotImplementedError(f"{type(self).__name__} must define blocks()")

    def on_start(self, ctx: Context) -> None:
        self.stack = self.blocks()
        self.state = HedgeState(ctx.n_paths)

    def on_bar(self, ctx: Context) -> None:
        run_stack(self.stack, ctx, self.state)
        if ctx.is_settlement:
            self.state.session += 1
