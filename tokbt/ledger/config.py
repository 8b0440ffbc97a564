"""The ledger's settings: funding, interest, and its three models — margin, settlement and
margin calls.

Every field is a documented, configurable default; none is the paper's value
(its abstract states margin systems exist, not their terms — DOMAIN.md §1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SpanConfig(_Config):
    """SPAN-like margin: ``IM = z · σ̂_daily · √holding_days · F · mult · add_on`` per
    contract (DOMAIN.md §3), ``MM = IM / maintenance_ratio``; ``σ̂`` is an EWMA of
    the contract's daily log settlement returns."""

    z: float = Field(2.326, gt=0, description="Normal quantile: 2.326 = 99% one-sided.")
    holding_days: float = Field(2.0, gt=0, description="Liquidation horizon in days.")
    add_on: float = Field(1.25, ge=1, description="Safety multiplier on the scan range.")
    lam: float = Field(0.94, gt=0, lt=1, description="EWMA decay of the variance estimate.")
    initial_vol: float = Field(
        0.03, gt=0, description="Daily volatility assumed before a contract has settled twice."
    )
    floor_vol: float = Field(0.005, ge=0, description="Lower bound on the daily volatility.")
    maintenance_ratio: float = Field(1.10, ge=1, description="IM / MM.")


class LedgerConfig(_Config):
    """How the enterprise funds its futures account and what its cash earns or costs.

    Funding ``treasury`` (default): the treasury meets every initial-margin
    deposit and margin call from operating cash, which may go negative — the
    negative balance *is* the funding need tokbt reports; nothing is ever
    liquidated. ``limited``: only positive operating cash plus the undrawn
    ``credit_line`` can pay; an order whose initial margin cannot be funded is
    rejected, and a call not met by its deadline ends in liquidation.
    """

    initial_cash: float = Field(0.0, description="Operating cash at the start, per path.")
    funding: Literal["treasury", "limited"] = Field(
        "treasury", description="Who pays margin: an unlimited treasury, or cash + credit only."
    )
    credit_line: float = Field(0.0, ge=0, description="Credit line size (``limited`` funding).")
    cash_rate: float = Field(
        0.0,
        ge=-0.1,
        le=1,
        description="Annual rate earned on positive operating cash (consumption spend excluded).",
    )
    funding_rate: float = Field(
        0.0,
        ge=-0.1,
        le=1,
        description="Annual rate paid on negative operating cash (consumption spend excluded).",
    )
    margin_rate: float = Field(
        0.0, ge=-0.1, le=1, description="Annual rate the clearing member pays on margin cash."
    )
    credit_rate: float = Field(
        0.0, ge=-0.1, le=1, description="Annual rate paid on the credit line drawn."
    )
    margin_model: Literal["spec", "span"] = Field(
        "spec", description="spec: fractions of notional from the ContractSpec; span: SPAN-like."
    )
    span: SpanConfig = Field(default_factory=SpanConfig, description="SPAN-like parameters.")
    settlement_model: Literal["daily"] = Field(
        "daily",
        description="daily: variation margin at each exchange day's settlement price, final "
        "cash settlement at the contract's fixing (the only model so far).",
    )
    margin_call_model: Literal["standard", "partial"] = Field(
        "standard",
        description="What a call unpaid at its deadline liquidates: standard: every tradable "
        "position; partial: the share of each that restores IM x (1 + buffer).",
    )
    margin_buffer: float = Field(
        0.0, ge=0, le=5, description="Deposits top the account up to IM x (1 + buffer)."
    )
    sweep_excess: bool = Field(
        False, description="Withdraw margin cash above the top-up level after each settlement."
    )
    call_deadline_days: int = Field(
        1, ge=0, le=20, description="Exchange days to meet a margin call (0: at once)."
    )
    consumption_markup: float = Field(
        0.0, ge=-0.9, le=10, description="Provider price = index x (1 + markup) + basis."
    )
    consumption_basis: float = Field(
        0.0, description="Provider price = index x (1 + markup) + basis (USD per 1M tokens)."
    )
