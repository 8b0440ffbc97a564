"""What a run's settings did to its results, said in words (a default never changes a result
silently).

``run_warnings`` turns a strategy's ``Totals`` (``totals_of`` its per-path totals and event
log; chunks of a run ``merge``) into one sentence per effect a user would not see in the
headline numbers:

* **rejected orders**, by reason (expired, not yet listed, not listed in this market,
  limit-locked, position limit, funding);
* **orders left pending** at the end of the data (``fill = "next_open"`` fills at the next
  bar, and after the last one there is none);
* **tick rounding**: what rounding every fill to the contract's tick, against the order,
  cost — said when it reaches ``TICK_SHARE`` of the run's futures P&L;
* **slippage and the liquidity model** (spread, impact: on by default): what they cost;
* **no trade at all** by a strategy that is meant to trade (``Strategy.trades``).

The sentences go to the run record (``record["warnings"]``), the CLI summary and the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa

from tokbt.engine import BrokerConfig

TICK_SHARE = 1e-4
"""Tick rounding is reported from this share of the run's total absolute futures P&L on (or
whenever there is no futures P&L to compare with)."""


@dataclass(frozen=True)
class Totals:
    """What the warnings are made of, summed over a strategy's paths (``totals_of``); chunks
    of one run add up (``merge``)."""

    paths: int = 0
    fills: int = 0
    tick_cost: float = 0.0
    execution_cost: float = 0.0
    futures_abs: float = 0.0
    """Σ |futures P&L| over paths: the scale costs are compared with."""
    pending: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    """Rejected orders by reason (the event log's detail)."""

    def to_json(self) -> dict[str, Any]:
        """The totals as JSON values (``from_json`` reads them back)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Totals:
        """Totals from ``to_json``'s values."""
        return cls(**{**data, "rejected": dict(data.get("rejected", {}))})

    @classmethod
    def merge(cls, parts: Iterable[Totals]) -> Totals:
        """The totals of several chunks of one run."""
        chunks = list(parts)
        rejected: Counter[str] = Counter()
        for part in chunks:
            rejected.update(part.rejected)
        sums = {
            f.name: sum(getattr(p, f.name) for p in chunks)
            for f in fields(cls)
            if f.name != "rejected"
        }
        return cls(**sums, rejected=dict(rejected))


def totals_of(paths: pa.Table, events: pa.Table, pending: int = 0) -> Totals:
    """``Totals`` of one strategy's per-path totals (``Result.paths``), its event log and
    the orders still pending when the data ended (path × contract cells)."""

    def column(name: str) -> np.ndarray:
        return paths[name].to_numpy() if name in paths.column_names else np.zeros(len(paths))

    rejected: dict[str, int] = {}
    if len(events):
        kinds = events["event"].to_numpy(zero_copy_only=False)
        details = events["detail"].to_numpy(zero_copy_only=False)[kinds == "order_rejected"]
        rejected = dict(Counter(str(d) for d in details))
    return Totals(
        paths=len(paths),
        fills=int(column("fills").sum()),
        tick_cost=float(column("tick_cost").sum()),
        execution_cost=float(column("execution_cost").sum()),
        futures_abs=float(np.abs(column("futures_pnl")).sum()),
        pending=pending,
        rejected=rejected,
    )


def run_warnings(
    totals: Totals, broker: BrokerConfig, *, strategy: str, trades: bool = True
) -> list[str]:
    """The warnings of one strategy's run (see the module docstring)."""
    out = _rejected(totals.rejected)
    if totals.pending:
        out.append(
            f"{totals.pending:,} order(s) were still pending when the data ended: with fill = "
            f"{broker.fill!r} an order fills on a later bar, and there was none"
        )
    out += _fill_costs(totals, broker)
    if trades and totals.paths and totals.fills == 0:
        out.append(
            f"{strategy} filled no order on any path: check its start, horizon and "
            "parameters (an estimated ratio of 0, a start after the data, every order "
            "rejected)"
        )
    return out


def _rejected(reasons: Mapping[str, int]) -> list[str]:
    total = sum(reasons.values())
    if not total:
        return []
    ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    listed = "; ".join(f"{reason}: {count:,}" for reason, count in ordered)
    return [f"{total:,} order(s) were rejected ({listed}); the event log lists each"]


def _fill_costs(totals: Totals, broker: BrokerConfig) -> list[str]:
    out = []
    pnl, tick = totals.futures_abs, totals.tick_cost
    if tick > 0 and (pnl == 0 or tick >= TICK_SHARE * pnl):
        out.append(
            "rounding fills to the contract's tick, against each order, cost "
            + _amount(tick, pnl, totals.paths)
        )
    execution = totals.execution_cost
    if execution > 0:
        what = []
        if broker.slippage_ticks:
            what.append(f"slippage of {broker.slippage_ticks:g} tick(s)")
        if broker.liquidity is not None:
            what.append("the liquidity model (spread and impact; on by default)")
        out.append(
            f"{' and '.join(what) or 'execution costs'} cost "
            + _amount(execution, pnl, totals.paths)
            + ("; BrokerConfig(liquidity=None) turns the model off" if broker.liquidity else "")
        )
    return out


def _amount(cost: float, pnl: float, paths: int) -> str:
    """``cost`` in words: per path on average when there are several, and as a share of the
    futures P&L when there is one."""
    text = f"{cost:,.2f} USD" if paths <= 1 else f"{cost / paths:,.2f} USD a path on average"
    return text + (f" ({cost / pnl:.2%} of the futures P&L)" if pnl else "")
