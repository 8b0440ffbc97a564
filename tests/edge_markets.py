"""Tiny hand-made markets for the edge-case tests: every bar written out, prices on the tick.

A daily bar of day ``d`` (``ts = d`` 00:00) is known at ``d + 1`` 00:00, its event;
an order decided there fills by default at the open of the next futures bar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tokbt.data import Kind, TableMarket
from tokbt.engine import Context
from tokbt.market import TPI_MONTH, ContractSpec

DAY = 86_400
Bars = Mapping[str, tuple[float, float]]
"""Day (``YYYY-MM-DD``) → ``(open, settle)`` of a daily futures bar; close = settle."""


def days(start: str, end: str, *, business: bool = False) -> list[str]:
    """Every calendar (or business) day of ``[start, end]`` as ``YYYY-MM-DD``."""
    index = pd.bdate_range(start, end) if business else pd.date_range(start, end, freq="D")
    return [d.strftime("%Y-%m-%d") for d in index]


def spot_rows(
    on: Iterable[str], price: float | Mapping[str, float] = 2.0, paths: Iterable[int] = (0,)
) -> list[dict[str, Any]]:
    """Daily spot bars closing at ``price`` (one value, or one per day)."""
    rows = []
    for d in on:
        p = price[d] if isinstance(price, Mapping) else price
        for path in paths:
            rows.append(
                {"ts": pd.Timestamp(d), "path": path, "open": p, "high": p, "low": p, "close": p}
            )
    return rows


def fut_rows(
    code: str, bars: Bars, paths: Iterable[int] = (0,), locked: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Daily futures bars of ``code`` (``locked``: days whose bar is limit-locked)."""
    shut = set(locked)
    return [
        {"ts": pd.Timestamp(d), "path": p, "contract": code, "open": o, "high": max(o, s),
         "low": min(o, s), "close": s, "settle": s, "limit_locked": d in shut}
        for d, (o, s) in bars.items() for p in paths
    ]  # fmt: skip


def cons_rows(
    on: Iterable[str], tokens: float | Mapping[int, float], paths: Iterable[int] = (0,)
) -> list[dict[str, Any]]:
    """Daily consumption of ``tokens`` (millions; one value, or one per path), plan 100."""
    return [
        {"ts": pd.Timestamp(d), "path": p,
         "tokens": tokens[p] if isinstance(tokens, Mapping) else tokens, "plan": 100.0}
        for d in on for p in paths
    ]  # fmt: skip


def make_market(
    spot: list[dict[str, Any]],
    futures: list[dict[str, Any]],
    consumption: list[dict[str, Any]] | None = None,
    *,
    spec: ContractSpec = TPI_MONTH,
    block_events: int = 4096,
) -> TableMarket:
    """A ``TableMarket`` of daily bars."""
    tables = {
        Kind.SPOT: pa.Table.from_pandas(pd.DataFrame(spot), preserve_index=False),
        Kind.FUTURES: pa.Table.from_pandas(pd.DataFrame(futures), preserve_index=False),
    }
    seconds = {Kind.SPOT: DAY, Kind.FUTURES: DAY}
    if consumption is not None:
        tables[Kind.CONSUMPTION] = pa.Table.from_pandas(
            pd.DataFrame(consumption), preserve_index=False
        )
        seconds[Kind.CONSUMPTION] = DAY
    return TableMarket(spec, tables, name="edge", bar_seconds=seconds, block_events=block_events)


def event(day: str) -> pd.Timestamp:
    """Event time of the daily bars of ``day``: the next midnight."""
    return pd.Timestamp(day) + pd.Timedelta(days=1)


class Orders:
    """Places ``ctx.order(code, qty)`` when the bars of a given day arrive (``ctx.day``)."""

    def __init__(self, orders: Mapping[str, list[tuple[str, float]]]) -> None:
        self.orders = {dt.date.fromisoformat(d): v for d, v in orders.items()}

    def on_bar(self, ctx: Context) -> None:
        for code, qty in self.orders.get(ctx.day, []):
            ctx.order(code, np.full(ctx.n_paths, qty))
