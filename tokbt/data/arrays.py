"""Your own arrays as a market: a spot (index) series, a futures series and, optionally,
consumption, straight into ``tokbt.backtest``.

``market_from_arrays`` builds the long Arrow bar tables ``TableMarket`` reads from plain
numpy arrays — one path or several side by side — and, unless told which product and
contract the futures series is, gives it one that trades over the whole series
(``ContractSpec.for_series``: a contract listed on the first day and trading past the last,
no price limit, multiplier 1, tick 0.0001, 24/7). Bars are made of the closes: a bar opens
at the previous close (the first at its own), its high and low are the larger and smaller
of open and close, a futures bar settles at its close.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tokbt.data.frames import TableMarket
from tokbt.data.schemas import Kind
from tokbt.market import ContractSpec

Floats = npt.NDArray[np.float64]


def market_from_arrays(
    ts: npt.ArrayLike,
    spot: npt.ArrayLike,
    futures: npt.ArrayLike | None = None,
    *,
    spec: ContractSpec | None = None,
    contract: str | None = None,
    tokens: npt.ArrayLike | None = None,
    plan: npt.ArrayLike | None = None,
    name: str = "arrays",
) -> TableMarket:
    """A ``TableMarket`` of arrays.

    Args:
        ts: ``(n,)`` the start of each bar (``datetime64``, or strings and dates numpy
            reads as such), increasing.
        spot: ``(n,)`` or ``(n, n_paths)`` index closes (path ``j`` is column ``j``).
        futures: closes of one futures contract, shaped as ``spot`` (``None``: spot only).
        spec, contract: the product and the contract code the futures are; by default
            ``ContractSpec.for_series`` over the series' first and last day. Give both or
            neither.
        tokens, plan: consumption per bar (millions of tokens) and its plan, shaped as
            ``spot`` (``plan`` needs ``tokens``).
        name: the market's label in reports.

    Raises ``ValueError`` naming the argument whose shape or values do not fit.
    """
    times = np.asarray(ts, dtype="datetime64[us]")
    if times.ndim != 1 or len(times) == 0:
        raise ValueError(f"ts: a non-empty 1-D array of bar start times, got shape {times.shape}")
    if len(times) > 1 and not (np.diff(times) > np.timedelta64(0, "us")).all():
        raise ValueError("ts: bar start times must increase strictly")
    closes = {"spot": _paths(spot, "spot", len(times))}
    n_paths = closes["spot"].shape[1]
    if (spec is None) != (contract is None):
        raise ValueError("spec and contract: give both (the product and the code) or neither")
    tables = {Kind.SPOT: _bars(times, closes["spot"])}
    if futures is not None:
        if spec is None:
            first, last = times[0].astype("datetime64[D]"), times[-1].astype("datetime64[D]")
            spec, contract = ContractSpec.for_series(first, last)
        assert contract is not None
        fut = _paths(futures, "futures", len(times), n_paths)
        table = _bars(times, fut)
        codes = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(len(table), np.int32)), pa.array([contract], pa.string())
        )
        table = table.append_column("contract", codes)
        tables[Kind.FUTURES] = table.append_column("settle", table["close"])
    if tokens is not None:
        used = _paths(tokens, "tokens", len(times), n_paths)
        planned = None if plan is None else _paths(plan, "plan", len(times), n_paths)
        tables[Kind.CONSUMPTION] = _consumption(times, used, planned)
    elif plan is not None:
        raise ValueError("plan: give tokens with it (consumption bars carry both)")
    return TableMarket(spec or ContractSpec(), tables, name=name)


def _paths(values: npt.ArrayLike, what: str, n: int, n_paths: int | None = None) -> Floats:
    """``values`` as ``(n, n_paths)`` float64, checked."""
    out = np.asarray(values, dtype=np.float64)
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n or (n_paths is not None and out.shape[1] != n_paths):
        want = f"({n},) or ({n}, {n_paths or 'n_paths'})"
        raise ValueError(f"{what}: shape {np.shape(values)} does not fit ts; want {want}")
    if what != "plan" and not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{what}: not a finite number at bar {bad[0]}, path {bad[1]}")
    return out


def _long(times: npt.NDArray[np.datetime64], n_paths: int) -> dict[str, pa.Array]:
    """``ts`` and ``path`` of ``(n, n_paths)`` values laid out bar by bar, paths within."""
    return {
        "ts": pa.array(np.repeat(times, n_paths), pa.timestamp("us")),
        "path": pa.array(np.tile(np.arange(n_paths, dtype=np.int64), len(times))),
    }


def _bars(times: npt.NDArray[np.datetime64], close: Floats) -> pa.Table:
    """OHLC bars made of closes (see the module docstring), long."""
    opened = np.concatenate([close[:1], close[:-1]])
    fields = {
        "open": opened,
        "high": np.maximum(opened, close),
        "low": np.minimum(opened, close),
        "close": close,
    }
    columns = _long(times, close.shape[1])
    columns |= {k: pa.array(v.ravel()) for k, v in fields.items()}
    return pa.table(columns)


def _consumption(
    times: npt.NDArray[np.datetime64], tokens: Floats, plan: Floats | None
) -> pa.Table:
    columns = _long(times, tokens.shape[1]) | {"tokens": pa.array(tokens.ravel())}
    if plan is not None:
        columns["plan"] = pa.array(plan.ravel())
    return pa.table(columns)
