"""Random in-memory markets for the engine's property tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tokbt.data import Kind, TableMarket
from tokbt.market import TPI_MONTH, ContractSpec

START = dt.date(2026, 1, 1)


def random_tables(
    seed: int,
    n_paths: int,
    n_days: int,
    *,
    spec: ContractSpec = TPI_MONTH,
    p_locked: float = 0.05,
    vol: float = 0.02,
) -> dict[Kind, pa.Table]:
    """Daily spot (every calendar day), futures (business days, every listed contract)
    and consumption for ``n_paths`` paths from ``START``; prices on the tick."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(START, periods=n_days, freq="D")
    spot = 2.0 * np.exp(np.cumsum(rng.normal(0, vol, (n_days, n_paths)), axis=0))
    spot = np.round(spot, 3)
    frames = {
        Kind.SPOT: pd.DataFrame(
            {
                "ts": np.repeat(days, n_paths),
                "path": np.tile(np.arange(n_paths), n_days),
                "open": spot.ravel(),
                "high": spot.ravel(),
                "low": spot.ravel(),
                "close": spot.ravel(),
            }
        ),
        Kind.CONSUMPTION: pd.DataFrame(
            {
                "ts": np.repeat(days, n_paths),
                "path": np.tile(np.arange(n_paths), n_days),
                "tokens": rng.uniform(0, 50, n_days * n_paths).round(1),
                "plan": 25.0,
            }
        ),
    }
    business = [d for d in days if spec.calendar.is_business_day(d.date())]
    rows = []
    for c in spec.contracts_between(START, days[-1].date()):
        live = [d for d in business if c.is_listed(d.date())]
        if not live:
            continue
        steps = rng.normal(0, vol, (len(live), n_paths))
        settle = np.round(2.1 * np.exp(np.cumsum(steps, axis=0)), 3)
        opened = np.vstack([settle[:1], settle[:-1]])
        locked = rng.random((len(live), n_paths)) < p_locked
        for i, d in enumerate(live):
            for p in range(n_paths):
                rows.append(
                    (d, p, c.code, opened[i, p], max(opened[i, p], settle[i, p]),
                     min(opened[i, p], settle[i, p]), settle[i, p], settle[i, p], locked[i, p])
                )  # fmt: skip
    columns = ["ts", "path", "contract", "open", "high", "low", "close", "settle", "limit_locked"]
    frames[Kind.FUTURES] = pd.DataFrame(rows, columns=columns)
    return {k: pa.Table.from_pandas(f, preserve_index=False) for k, f in frames.items()}


def market(tables: dict[Kind, pa.Table], *, block_events: int = 4096) -> TableMarket:
    """A ``TableMarket`` of the default TPI month future."""
    return TableMarket(TPI_MONTH, tables, name="random", block_events=block_events)


def only_path(tables: dict[Kind, pa.Table], path: int) -> dict[Kind, pa.Table]:
    """The rows of one path."""
    return {k: t.filter(pa.compute.equal(t["path"], path)) for k, t in tables.items()}


def after(tables: dict[Kind, pa.Table], cut: np.datetime64, seed: int) -> dict[Kind, pa.Table]:
    """The same tables with every price and quantity of bars known after ``cut``
    (event time = ts + 1 day) replaced by different random values."""
    rng = np.random.default_rng(seed)
    out = {}
    for kind, table in tables.items():
        frame = table.to_pandas()
        late = (frame["ts"] + pd.Timedelta(days=1)).to_numpy() > cut
        for col in ("open", "high", "low", "close", "settle", "tokens"):
            if col in frame:
                frame.loc[late, col] = np.round(
                    frame.loc[late, col] * rng.uniform(0.5, 1.5, late.sum()), 3
                )
        if "high" in frame:
            frame["high"] = frame[["open", "high", "low", "close"]].max(axis=1)
            frame["low"] = frame[["open", "high", "low", "close"]].min(axis=1)
        out[kind] = pa.Table.from_pandas(frame, preserve_index=False)
    return out


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if np.isnan(v) else round(v, 9)
    return v


def rows(table: pa.Table, kind: str, *columns: str) -> list[tuple[Any, ...]]:
    """``columns`` of the rows whose ``kind`` (journal) or ``event`` (events) is ``kind``;
    NaN and null read as None, floats rounded to 1e-9."""
    frame = table.to_pandas()
    key = "kind" if "kind" in frame.columns else "event"
    picked = frame[frame[key] == kind]
    return [
        tuple(_clean(v) for v in r)
        for r in picked[list(columns)].itertuples(index=False, name=None)
    ]
