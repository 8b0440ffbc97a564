"""Run every built-in hedge policy on the same paths and compare hedge effectiveness.

    python examples/policies/compare_policies.py                 # demand_explosion, 1,000 paths
    python examples/policies/compare_policies.py --paths 200 --days 730
    python examples/policies/compare_policies.py --dataset tpi_market   # a stored dataset

On simulated paths the table reads across paths: ``VR_std = 1 − σ_hedged/σ_unhedged``
and ``HE_var = 1 − Var_hedged/Var_unhedged`` of the total cost over the horizon
(DOMAIN.md §1). A recorded dataset has one path, so it reads over time: the same
two figures of the monthly cost per million tokens, hedged against unhedged,
each contract's P&L counted in the month it delivers (hedge accounting).
Every policy starts hedging after the same ``--start`` exchange days and covers
the same ``--months`` delivery months, so they hedge the same exposure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from tokbt.runs.backtest import Result, run_config
from tokbt.runs.config import BacktestConfig

POLICIES = ("no_hedge", "static", "min_variance", "rolling", "ewma", "layered", "volume_aware")


def config(args: argparse.Namespace, policy: str) -> BacktestConfig:
    """The run of ``policy`` on the market the arguments select."""
    if args.dataset:
        market = {"dataset": args.dataset}
    else:
        market = {
            "simulate": {
                "scenario": args.scenario,
                "paths": args.paths,
                "horizon_days": args.days,
                "seed": args.seed,
            }
        }
    params = {} if policy == "no_hedge" else {"start": args.start, "months": args.months}
    return BacktestConfig.model_validate(
        {
            "chunk_paths": args.chunk,
            "journal": "rows" if args.dataset else "totals",
            "positions": False,
            "market": market,
            "strategy": {"name": policy, "params": params},
        }
    )


def effectiveness(hedged: np.ndarray, unhedged: np.ndarray) -> tuple[float, float]:
    """``(VR_std, HE_var)`` of a hedged against an unhedged sample."""
    ratio = np.std(hedged, ddof=1) / np.std(unhedged, ddof=1)
    return 1.0 - ratio, 1.0 - ratio**2


def monthly_unit_cost(result: Result) -> pd.DataFrame:
    """Per calendar month of one path: tokens (millions), unhedged and hedged cost per 1M tokens.

    Hedge accounting: a month contract's P&L (variation margin, final settlement,
    fees) counts in its delivery month — the month it hedges — whenever the cash
    moved; interest counts when it accrues.
    """
    j = result.journal
    frame = pd.DataFrame(
        {
            "month": pc.strftime(j["ts"], "%Y-%m").to_numpy(zero_copy_only=False),
            "contract": j["contract"].to_numpy(zero_copy_only=False),
            "kind": j["kind"].to_numpy(zero_copy_only=False),
            "qty": j["qty"].to_numpy(zero_copy_only=False),
            "amount": j["amount"].to_numpy(),
        }
    )
    delivery = frame.contract.str.extract(r"(\d{4}-\d{2})$")[0]
    frame["hedged_month"] = delivery.fillna(frame.month)
    spend = frame[frame.kind == "consumption"].groupby("month")
    tokens = spend["qty"].sum().abs()
    unhedged = -spend["amount"].sum()
    hedge = frame[frame.kind.isin(["variation_margin", "final_settlement", "fee", "interest"])]
    flows = hedge.groupby("hedged_month")["amount"].sum()
    hedged = unhedged - flows.reindex(unhedged.index, fill_value=0.0)
    return pd.DataFrame(
        {"tokens": tokens, "unhedged": unhedged / tokens, "hedged": hedged / tokens}
    )


def row(policy: str, result: Result, over_time: bool) -> dict[str, float | str]:
    """One line of the comparison table."""
    paths = result.paths.to_pandas()
    if over_time:
        monthly = monthly_unit_cost(result)
        vr, he = effectiveness(monthly.hedged.to_numpy(), monthly.unhedged.to_numpy())
    else:
        vr, he = effectiveness(paths.hedged_cost.to_numpy(), paths.unhedged_cost.to_numpy())
    return {
        "policy": policy,
        "VR_std": vr,
        "HE_var": he,
        "mean cost": paths.hedged_cost.mean(),
        "cost sd": paths.hedged_cost.std(ddof=1) if len(paths) > 1 else float("nan"),
        "futures P&L": paths.futures_pnl.mean(),
        "roll P&L": paths.roll_pnl.mean(),
        "margin calls": paths.margin_calls.mean(),
        "seconds": result.record["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", help="A stored dataset (default: simulate).")
    parser.add_argument("--scenario", default="demand_explosion")
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=int, default=60, help="Exchange days before hedging.")
    parser.add_argument("--months", type=int, default=33, help="Delivery months hedged.")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--csv", type=Path, help="Also write the table here.")
    args = parser.parse_args()
    rows = []
    for policy in args.policies.split(","):
        started = time.perf_counter()
        rows.append(row(policy, run_config(config(args, policy)), bool(args.dataset)))
        print(f"{policy}: {time.perf_counter() - started:.1f} s", flush=True)
    table = pd.DataFrame(rows).set_index("policy")
    print(table.to_string(float_format=lambda v: f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"))
    if args.csv:
        table.to_csv(args.csv)


if __name__ == "__main__":
    main()
