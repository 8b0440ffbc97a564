"""The engine's and broker's settings (typed, frozen, unknown keys rejected)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LiquidityConfig(_Config):
    """The market-maker regime: a quoted spread and a depth per contract.

    For a contract ``m`` months from delivery (0 = the current delivery month),
    the half-spread is ``half_spread_ticks + half_spread_per_month × m`` ticks
    and the depth ``depth × depth_decay^m`` contracts. An order larger than
    the depth pays, on every contract, an impact of
    ``impact_bps × 10⁻⁴ × price × √((|qty| − depth) / depth)`` (square-root law)
    beyond the spread. **[assumption]**: the paper names market-maker regimes
    without their terms.
    """

    half_spread_ticks: float = Field(1.0, ge=0, description="Half-spread at the front, ticks.")
    half_spread_per_month: float = Field(
        0.5, ge=0, description="Extra half-spread per month to delivery, ticks."
    )
    depth: float = Field(1000.0, gt=0, description="Contracts quoted at the front.")
    depth_decay: float = Field(0.85, gt=0, le=1, description="Depth factor per month out.")
    impact_bps: float = Field(10.0, ge=0, description="Square-root impact scale, basis points.")


class BrokerConfig(_Config):
    """How orders become fills.

    ``fill``: ``next_open`` (default) fills an order at the open of the first
    futures bar that starts at or after the decision; ``close`` fills it at the
    close of the bar visible at the decision (or the next one), right after
    ``on_bar``. Prices move by the spread, ``slippage_ticks`` and impact against
    the order and are rounded to the tick against it (buys up, sells down), never
    below one tick.
    """

    fill: Literal["next_open", "close"] = Field("next_open", description="Fill rule.")
    slippage_ticks: float = Field(0.0, ge=0, description="Extra ticks paid on every fill.")
    fee_per_contract: float = Field(0.0, ge=0, description="Fee per contract traded, USD.")
    on_locked: Literal["wait", "cancel"] = Field(
        "wait", description="A limit-locked bar gives no fill: keep the order, or cancel it."
    )
    whole_contracts: bool = Field(True, description="Round order sizes to whole contracts.")
    position_limit: float | None = Field(
        None, gt=0, description="Largest |position| per contract; orders beyond are rejected."
    )
    liquidity: LiquidityConfig | None = Field(
        default_factory=LiquidityConfig,
        description='Spread and depth; None (in TOML: "none") = frictionless.',
    )

    @field_validator("liquidity", mode="before")
    @classmethod
    def _none(cls, value: object) -> object:
        return None if value in ("none", False) else value


class EngineConfig(_Config):
    """The loop's settings."""

    history: int = Field(
        260, ge=1, le=100_000, description="Events of history a strategy can read (window cap)."
    )
