"""The ``Feed``: a dataset's spot, futures and consumption bars on one timeline.

The engine walks one timeline shared by every path. The feed turns the long
(row-per-bar) tables of a dataset into dense arrays:

* spot and consumption fields: ``(n_ts, n_paths)``;
* futures fields: ``(n_ts, n_paths, n_contracts)`` with contracts in delivery
  order (``Feed.contracts``) and NaN where a contract has no bar (not listed,
  expired, or not traded that bar).

Bars are loaded in blocks of timestamps sized to a memory budget, and
scattered into the arrays with vectorised indexing — no per-row Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokbt.data.schemas import SCHEMAS, Kind
from tokbt.data.store import BarStore
from tokbt.errors import DataError
from tokbt.market import Contract, Tenor

_KEYS = ("ts", "path", "contract", "dataset")


@dataclass(frozen=True)
class Block:
    """Dense bars for the timestamps ``ts`` (``n`` of them).

    ``spot[f]`` and ``consumption[f]`` are ``(n, n_paths)``;
    ``futures[f]`` is ``(n, n_paths, n_contracts)``. Missing bars are NaN.
    """

    ts: np.ndarray
    spot: dict[str, np.ndarray]
    futures: dict[str, np.ndarray]
    consumption: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ts)

    def at(self, i: int) -> Snapshot:
        """The bars of the ``i``-th timestamp of the block (views, not copies)."""
        return Snapshot(
            ts=self.ts[i],
            spot={k: v[i] for k, v in self.spot.items()},
            futures={k: v[i] for k, v in self.futures.items()},
            consumption={k: v[i] for k, v in self.consumption.items()},
        )


@dataclass(frozen=True)
class Snapshot:
    """Every path's bars at one timestamp: arrays ``(n_paths,)`` or ``(n_paths, n_contracts)``."""

    ts: np.datetime64
    spot: dict[str, np.ndarray]
    futures: dict[str, np.ndarray]
    consumption: dict[str, np.ndarray]


class Feed:
    """A dataset as one timeline of dense per-path arrays.

    Args:
        store: the store holding the dataset.
        name: dataset name.
        paths: path ids to load (default: all, ascending); array position ``j``
            holds path ``paths[j]``.
        memory_budget: approximate bytes per loaded block (default 256 MiB).
    """

    def __init__(
        self,
        store: BarStore,
        name: str,
        *,
        paths: Sequence[int] | None = None,
        memory_budget: int = 256 << 20,
    ) -> None:
        self.store = store
        self.name = name
        self.info = store.info(name)
        self.spec = self.info.spec
        self.kinds = tuple(k for k in Kind if k in self.info.parts)
        self.paths = self._paths(paths)
        self._path_filter = None if paths is None else self.paths.tolist()
        self.timeline = self._timeline()
        self.contracts = self._contracts()
        self._fields = {k: [c for c in SCHEMAS[k].columns if c not in _KEYS] for k in self.kinds}
        per_ts = (
            8
            * self.n_paths
            * sum(
                len(f) * (len(self.contracts) if k is Kind.FUTURES else 1)
                for k, f in self._fields.items()
            )
        )
        self.block_size = max(1, memory_budget // max(per_ts, 1))

    @property
    def n_paths(self) -> int:
        return len(self.paths)

    def _paths(self, wanted: Sequence[int] | None) -> np.ndarray:
        union = " UNION ".join(
            f"SELECT DISTINCT path FROM {self.store.source(self.name, k)}" for k in self.kinds
        )
        stored = np.sort(np.array([r[0] for r in self.store.con.execute(union).fetchall()])).astype(
            np.int64
        )
        if wanted is None:
            return stored
        chosen = np.asarray(wanted, dtype=np.int64)
        missing = np.setdiff1d(chosen, stored)
        if missing.size:
            raise DataError(f"dataset {self.name!r} has no path(s) {missing[:10].tolist()}")
        return chosen

    def _timeline(self) -> np.ndarray:
        union = " UNION ".join(
            f"SELECT DISTINCT ts FROM {self.store.source(self.name, k)}" for k in self.kinds
        )
        res = self.store.con.execute(f"SELECT ts FROM ({union}) ORDER BY ts")
        return np.asarray(res.fetchnumpy()["ts"], dtype="datetime64[us]")

    def _contracts(self) -> tuple[str, ...]:
        if Kind.FUTURES not in self.kinds:
            return ()
        codes = [
            r[0]
            for r in self.store.con.execute(
                f"SELECT DISTINCT contract FROM {self.store.source(self.name, Kind.FUTURES)}"
            ).fetchall()
        ]
        return tuple(c.code for c in sorted(map(self.spec.contract, codes), key=_delivery_key))

    # -- iteration -------------------------------------------------------------------

    def blocks(self) -> Iterator[Block]:
        """The timeline in consecutive blocks of at most ``block_size`` timestamps."""
        for lo in range(0, len(self.timeline), self.block_size):
            yield self.load(lo, min(lo + self.block_size, len(self.timeline)))

    def __iter__(self) -> Iterator[Snapshot]:
        """Every timestamp in order, as a ``Snapshot``."""
        for block in self.blocks():
            for i in range(len(block)):
                yield block.at(i)

    def load(self, lo: int, hi: int) -> Block:
        """Dense arrays for timeline positions ``[lo, hi)``."""
        ts = self.timeline[lo:hi]
        start, end = ts[0], ts[-1] + np.timedelta64(1, "us")
        loaded: dict[Kind, dict[str, np.ndarray]] = {k: {} for k in Kind}
        for kind in self.kinds:
            table = self.store.read(
                self.name,
                kind,
                paths=self._path_filter,
                start=start.item(),
                end=end.item(),
                ordered=False,  # rows are placed by (ts, path, contract); no sort needed
            )
            loaded[kind] = self._scatter(kind, table, ts)
        return Block(ts, loaded[Kind.SPOT], loaded[Kind.FUTURES], loaded[Kind.CONSUMPTION])

    def _scatter(self, kind: Kind, table: pa.Table, ts: np.ndarray) -> dict[str, np.ndarray]:
        t_idx = np.searchsorted(ts, table["ts"].to_numpy().astype("datetime64[us]"))
        order = np.argsort(self.paths)
        p_idx = order[np.searchsorted(self.paths[order], table["path"].to_numpy())]
        shape: tuple[int, ...] = (len(ts), self.n_paths)
        index: tuple[np.ndarray, ...] = (t_idx, p_idx)
        if kind is Kind.FUTURES:
            c_idx = pc.index_in(table["contract"], value_set=pa.array(self.contracts))
            shape += (len(self.contracts),)
            index += (c_idx.to_numpy(zero_copy_only=False).astype(np.int64),)
        out = {}
        for f in self._fields[kind]:
            dense = np.full(shape, np.nan)
            dense[index] = table[f].cast(pa.float64()).to_numpy(zero_copy_only=False)
            out[f] = dense
        return out


def _delivery_key(c: Contract) -> tuple[dt.date, int]:
    return (c.delivery_start, list(Tenor).index(c.tenor))
