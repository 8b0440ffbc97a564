"""``layered``: a programmatic ladder, hedge percentage rising as delivery approaches."""

from __future__ import annotations

from pydantic import Field, field_validator

from tokbt.hedge import (
    After,
    Block,
    Contracts,
    FixedRatio,
    HedgeParams,
    HedgePolicy,
    Ladder,
    Monthly,
    OnSettlement,
    Rebalance,
    StripExposure,
)


class LayeredParams(HedgeParams):
    """Parameters of ``layered``."""

    ladder: dict[int, float] = Field(
        default_factory=lambda: {12: 0.25, 6: 0.50, 3: 0.65, 1: 0.80},
        description="Months to delivery → target hedge fraction (interpolated linearly).",
    )

    @field_validator("ladder")
    @classmethod
    def _fractions(cls, ladder: dict[int, float]) -> dict[int, float]:
        if not ladder:
            raise ValueError("the ladder needs at least one point")
        for months, fraction in ladder.items():
            if months < 0 or not 0.0 <= fraction <= 2.0:
                raise ValueError(f"ladder point {months}: {fraction} is not months >= 0 → 0..2")
        return ladder


class Layered(HedgePolicy):
    """A ladder: hedge 25 % at 12 months to delivery rising to 80 % at 1 month, topped up monthly.

    At the start and then at the first exchange day of each month, each
    delivery month of the horizon is topped up to ``ratio`` × the ladder's
    fraction (by months to delivery) × its planned consumption. Hedges are only
    ever added, never sold — how airlines and utilities layer in.
    """

    Params = LayeredParams

    def blocks(self) -> list[Block]:
        p = self.params
        return [
            OnSettlement(),
            After(p.start, p.months),
            Monthly(),
            StripExposure(),
            Ladder(p.ladder),
            FixedRatio(p.ratio),
            Contracts(tailing_rate=p.tailing_rate, whole=p.whole_contracts),
            Rebalance(mode="up"),
        ]
