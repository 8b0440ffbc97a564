"""What the metrics say about a run: the data contract shared by the run store and the reports.

An ``Evaluation`` holds one or more *policies* (hedge strategies, or one
strategy at several parameter settings) evaluated on the same paths, as plain
pandas frames so that a report can be drawn from it and the run store can keep
it exactly (every float is ``float64``; the store gives back equal frames, with
the dtypes they were saved with: labels are pandas' string columns, ``object`` or
``str`` by the pandas version, and timestamps ``datetime64[ns]`` or ``[us]``).

Frames (column order as listed; rows sorted as stated):

``paths`` — one row per policy and path (sorted by policy order, then path):
    ``policy`` (str), ``path`` (int64), then every column of ``PATH_METRICS``
    (float64). Costs are positive numbers of USD paid.

``monthly`` — one row per policy, path and calendar month with consumption
    (sorted by policy order, path, month): ``policy``, ``path``, ``month``
    (``datetime64[ns]``, the first of the month), ``tokens`` (millions),
    ``unhedged_cost`` and ``hedged_cost`` (USD; hedge accounting: a contract's
    P&L and fees count in the month its delivery starts, funding cost when it
    accrues).

``series`` — daily quantiles across paths of the quantities of
    ``SERIES`` (sorted by policy order, series, day): ``policy``, ``series``,
    ``day`` (``datetime64[ns]``), ``mean``, ``q05``, ``q25``, ``q50``,
    ``q75``, ``q95``.

``summary`` — one row per policy and metric of ``SUMMARY_METRICS``
    (sorted by policy order, then the order of ``SUMMARY_METRICS``):
    ``policy``, ``metric``, ``value``, ``lo``, ``hi`` (the bootstrap
    confidence interval; NaN where the metric cannot be resampled).

``comparisons`` — paired differences ``policy − baseline`` on the same paths
    (sorted by policy order, then metric order): ``policy``, ``baseline``,
    ``metric``, ``diff``, ``lo``, ``hi``, ``verdict`` ("better", "worse" or
    "" when the interval contains zero).

``sweep`` — the parameter values of policies that come from a sweep
    (sorted by policy order, then param): ``policy``, ``param``, ``value``
    (float64); empty when no sweep was run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from tokbt.metrics.decompose import COMPONENTS


@dataclass(frozen=True)
class MetricInfo:
    """How to show a metric: a label, a unit, and which direction is better."""

    label: str
    unit: str
    better: Literal["lower", "higher", "none"]
    description: str


PATH_METRICS: dict[str, MetricInfo] = {
    "tokens": MetricInfo("tokens", "M tokens", "none", "Tokens consumed over the horizon."),
    "unhedged_cost": MetricInfo(
        "unhedged cost", "USD", "lower", "Spot spend on the tokens consumed."
    ),
    "hedged_cost": MetricInfo(
        "hedged cost",
        "USD",
        "lower",
        "Spot spend − futures P&L + fees + funding cost.",
    ),
    "unit_cost_unhedged": MetricInfo(
        "unit cost, unhedged", "USD / 1M tokens", "lower", "Unhedged cost / tokens."
    ),
    "unit_cost_hedged": MetricInfo(
        "unit cost, hedged", "USD / 1M tokens", "lower", "Hedged cost / tokens."
    ),
    "unit_cost_var_hedged": MetricInfo(
        "over-time variance of monthly unit cost, hedged",
        "(USD / 1M tokens)²",
        "lower",
        "Variance over months (ddof 1) of the hedged monthly unit cost.",
    ),
    "unit_cost_var_unhedged": MetricInfo(
        "over-time variance of monthly unit cost, unhedged",
        "(USD / 1M tokens)²",
        "lower",
        "Variance over months (ddof 1) of the unhedged monthly unit cost.",
    ),
    "futures_pnl": MetricInfo(
        "futures P&L",
        "USD",
        "higher",
        "Variation margin + final settlement + roll P&L (every futures cash flow).",
    ),
    "variation_margin": MetricInfo(
        "variation margin",
        "USD",
        "higher",
        "Daily variation margin of the contracts held to their final settlement.",
    ),
    "final_settlement": MetricInfo(
        "final settlement",
        "USD",
        "higher",
        "Cash settlement against the final settlement price (last mark to FSP).",
    ),
    "roll_pnl": MetricInfo(
        "roll P&L",
        "USD",
        "higher",
        "All P&L of contracts closed before their final settlement (rolled, "
        "rebalanced away, liquidated).",
    ),
    "basis_pnl": MetricInfo(
        "basis P&L",
        "USD",
        "higher",
        "Part of the delivered P&L due to the settlement average differing from the "
        "average price paid for tokens in the delivery period: Σ delivered tokens × "
        "(FSP − spend-weighted price).",
    ),
    "fees": MetricInfo("fees", "USD", "lower", "Exchange and broker fees paid."),
    "funding_cost": MetricInfo(
        "funding cost",
        "USD",
        "lower",
        "Interest paid (or, negative, earned) on the cash the hedge ties up.",
    ),
    "peak_margin": MetricInfo(
        "peak margin posted", "USD", "lower", "Largest balance of the margin account."
    ),
    "peak_funding": MetricInfo(
        "peak funding need",
        "USD",
        "lower",
        "Largest net cash moved from operating cash and credit into the margin account.",
    ),
    "peak_credit": MetricInfo("peak credit drawn", "USD", "lower", "Largest credit-line draw."),
    "margin_calls": MetricInfo("margin calls", "count", "lower", "Margin calls issued."),
    "liquidations": MetricInfo("liquidations", "count", "lower", "Forced liquidations."),
    "max_drawdown": MetricInfo(
        "max drawdown of the hedge",
        "USD",
        "lower",
        "Largest fall of the hedge account's cumulative P&L (futures P&L − fees − "
        "funding cost) from its running peak.",
    ),
    "hedge_ratio": MetricInfo(
        "realised hedge ratio",
        "ratio",
        "none",
        "Tokens delivered by futures held to final settlement / tokens consumed.",
    ),
    "budget": MetricInfo(
        "budget",
        "USD",
        "none",
        "Planned tokens × the first price paid for tokens on the path (NaN without a plan).",
    ),
    "overrun": MetricInfo("overrun", "USD", "lower", "Hedged cost − budget."),
    "unhedged_cost_after": MetricInfo(
        "unhedged cost from the hedge date",
        "USD",
        "lower",
        "Spot spend on the days after the hedge date (a branched simulation's branch date, "
        "else its first day).",
    ),
    "hedged_cost_after": MetricInfo(
        "hedged cost from the hedge date",
        "USD",
        "lower",
        "Spot spend − futures P&L + fees + funding cost on the days after the hedge date.",
    ),
    "cost_locked": MetricInfo(
        "locked at the hedge date",
        "USD",
        "none",
        "The plan of the months listed on the hedge date at their prices that day.",
    ),
    "cost_hedge": MetricInfo(
        "hedge vs locked",
        "USD",
        "lower",
        "Price moves since the hedge date on the tokens the hedge delivered, minus its "
        "futures P&L: later or dearer entries, rolls, spread.",
    ),
    "cost_ratio": MetricInfo(
        "ratio and rounding",
        "USD",
        "lower",
        "Price moves since the hedge date on planned tokens the hedge did not deliver "
        "(ratio ≠ 1, whole contracts, months left unhedged).",
    ),
    "cost_basis": MetricInfo(
        "basis",
        "USD",
        "lower",
        "The provider's markup on the price moves, and the plan's days weighted unlike "
        "the settlement average.",
    ),
    "cost_timing": MetricInfo(
        "timing",
        "USD",
        "lower",
        "The plan of months not listed on the hedge date (priced, and hedged, later) "
        "minus their futures P&L.",
    ),
    "cost_quantity": MetricInfo(
        "quantity",
        "USD",
        "lower",
        "Tokens consumed beyond or short of the plan, at the price paid.",
    ),
    "cost_frictions": MetricInfo(
        "frictions", "USD", "lower", "Fees and funding cost after the hedge date."
    ),
}
"""Per-path metrics, in column order. Every value is float64."""

SERIES: dict[str, MetricInfo] = {
    "margin_posted": MetricInfo(
        "margin posted", "USD", "lower", "Margin account balance at each day's end."
    ),
    "funding_need": MetricInfo(
        "funding need",
        "USD",
        "lower",
        "Net cash moved from operating cash and credit into the margin account so far.",
    ),
    "hedge_ratio": MetricInfo(
        "hedge ratio",
        "ratio",
        "none",
        "Futures tokens held / tokens consumed over the rest of the horizon (ex post).",
    ),
    "hedge_pnl": MetricInfo(
        "cumulative hedge P&L",
        "USD",
        "higher",
        "Futures P&L − fees − funding cost so far.",
    ),
}
"""Daily series, summarised across paths by quantiles."""

SUMMARY_METRICS: dict[str, MetricInfo] = {
    "mean_cost": MetricInfo("mean cost", "USD", "lower", "Mean hedged horizon cost."),
    "sd_cost": MetricInfo("σ of cost", "USD", "lower", "Std of hedged horizon cost across paths."),
    "vr_std": MetricInfo(
        "VR_std", "fraction", "higher", "1 − σ_hedged/σ_unhedged of horizon cost across paths."
    ),
    "he_var": MetricInfo(
        "HE_var",
        "fraction",
        "higher",
        "Ederington 1 − Var_hedged/Var_unhedged of horizon cost across paths.",
    ),
    "vr_std_unit": MetricInfo(
        "VR_std unit cost",
        "fraction",
        "higher",
        "1 − σ/σ across paths of the horizon unit cost (USD per 1M tokens): the price "
        "risk, with the quantity risk divided out.",
    ),
    "he_var_unit": MetricInfo(
        "HE_var unit cost",
        "fraction",
        "higher",
        "1 − Var/Var across paths of the horizon unit cost.",
    ),
    "vr_std_monthly": MetricInfo(
        "VR_std monthly",
        "fraction",
        "higher",
        "1 − σ/σ of monthly unit cost over time (variances pooled across paths).",
    ),
    "he_var_monthly": MetricInfo(
        "HE_var monthly",
        "fraction",
        "higher",
        "1 − Var/Var of monthly unit cost over time (pooled across paths).",
    ),
    "mean_unit_cost": MetricInfo(
        "mean unit cost", "USD / 1M tokens", "lower", "Mean hedged unit cost over the horizon."
    ),
    "p95_cost": MetricInfo(
        "95th pct of cost", "USD", "lower", "95th percentile of hedged horizon cost."
    ),
    "cvar95_cost": MetricInfo(
        "CVaR95 of cost", "USD", "lower", "Mean of the worst 5 % of hedged horizon costs."
    ),
    "budget_at_risk": MetricInfo(
        "budget at risk",
        "USD",
        "lower",
        "95th percentile of the overrun of hedged cost over the budget.",
    ),
    "p_overrun": MetricInfo(
        "P(overrun)",
        "probability",
        "lower",
        "Share of the paths with a budget whose hedged cost exceeds it.",
    ),
    "mean_futures_pnl": MetricInfo("mean futures P&L", "USD", "higher", "Mean futures P&L."),
    "mean_roll_pnl": MetricInfo("mean roll P&L", "USD", "higher", "Mean roll P&L."),
    "mean_fees": MetricInfo("mean fees", "USD", "lower", "Mean fees."),
    "mean_funding_cost": MetricInfo("mean funding cost", "USD", "lower", "Mean funding cost."),
    "p95_peak_funding": MetricInfo(
        "95th pct of peak funding", "USD", "lower", "95th percentile of peak funding need."
    ),
    "mean_margin_calls": MetricInfo(
        "margin calls / path", "count", "lower", "Mean number of margin calls per path."
    ),
    "p_liquidation": MetricInfo(
        "P(liquidation)", "probability", "lower", "Share of paths with a forced liquidation."
    ),
    "mean_hedge_ratio": MetricInfo(
        "mean realised hedge ratio", "ratio", "none", "Mean realised hedge ratio."
    ),
    "mean_cost_after": MetricInfo(
        "mean cost from the hedge date", "USD", "lower", "Mean hedged cost after the hedge date."
    ),
    "sd_cost_after": MetricInfo(
        "σ of cost from the hedge date",
        "USD",
        "lower",
        "Std across paths of the hedged cost after the hedge date.",
    ),
    "vr_std_after": MetricInfo(
        "VR_std from the hedge date",
        "fraction",
        "higher",
        "1 − σ_hedged/σ_unhedged of the cost after the hedge date: with paths that share "
        "their history up to it, the risk the hedge faced and removed.",
    ),
    "he_var_after": MetricInfo(
        "HE_var from the hedge date",
        "fraction",
        "higher",
        "1 − Var_hedged/Var_unhedged of the cost after the hedge date.",
    ),
    **{
        f"share_{name.removeprefix('cost_')}": MetricInfo(
            f"variance share: {PATH_METRICS[name].label}",
            "fraction",
            "none",
            f"Var({name}) / Var(hedged cost from the hedge date) across paths.",
        )
        for name in COMPONENTS
    },
    "share_cross": MetricInfo(
        "variance share: cross terms",
        "fraction",
        "none",
        "2 Σ Cov between the parts / Var(hedged cost from the hedge date): with the "
        "parts' own shares, adds to 1.",
    ),
}
"""Across-path metrics, in row order, each with a bootstrap confidence interval."""

QUANTILE_COLUMNS = ("mean", "q05", "q25", "q50", "q75", "q95")


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one or more policies on the same paths (see the module docstring).

    Attributes:
        policies: policy labels in display order (the first is listed first
            everywhere).
        baseline: the policy the paired comparisons are against.
        paths, monthly, series, summary, comparisons, sweep: the frames.
        confidence: the confidence level of the intervals (e.g. 0.95).
        resamples: bootstrap resamples behind each interval.
        seed: the bootstrap's seed.
    """

    policies: tuple[str, ...]
    baseline: str
    paths: pd.DataFrame
    monthly: pd.DataFrame
    series: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    sweep: pd.DataFrame
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0

    def summary_table(self) -> pd.DataFrame:
        """Policies × summary metrics (values only), in display order."""
        wide = self.summary.pivot(index="policy", columns="metric", values="value")
        ordered = [m for m in SUMMARY_METRICS if m in wide.columns]
        return wide.loc[list(self.policies), ordered]

    def _repr_html_(self) -> str:
        """Jupyter: the summary table, metrics labelled."""
        table = self.summary_table()
        table.columns = [SUMMARY_METRICS[c].label for c in table.columns]
        return str(table.to_html(float_format=lambda v: f"{v:,.4g}"))

    def equals(self, other: Evaluation) -> bool:
        """True when every field and frame is identical (values, dtypes, order)."""
        scalars = ("policies", "baseline", "confidence", "resamples", "seed")
        if any(getattr(self, s) != getattr(other, s) for s in scalars):
            return False
        frames = ("paths", "monthly", "series", "summary", "comparisons", "sweep")
        return all(getattr(self, f).equals(getattr(other, f)) for f in frames) and all(
            list(getattr(self, f).dtypes) == list(getattr(other, f).dtypes) for f in frames
        )
