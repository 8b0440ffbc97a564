"""The ``Feed``: a stored dataset as a ``MarketSource``, read block by block.

The feed lays out the dataset's timeline (``tokbt.data.frames``: a bar is
known at ``ts + bar_seconds`` of its kind) and loads it in blocks of
consecutive events sized to a memory budget. Each block reads from the store
exactly the bars whose event falls in it — per kind, a ``ts`` window shifted
by that kind's bar length — and converts them with ``block_from_tables``, the
conversion every market source shares. The futures arrays of a block span only
the contracts with a bar in it, so a block costs what is live, not every
contract the dataset ever lists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from tokbt.data.frames import (
    CONSUMPTION_FIELDS,
    FUTURES_FIELDS,
    SPOT_FIELDS,
    BlockSource,
    MarketBlock,
    Timeline,
    bar_length,
    block_from_tables,
    budget_bounds,
    delivery_order,
    describe_paths,
    fixed_bounds,
    plan_by_day,
)
from tokbt.data.schemas import Kind
from tokbt.data.store import BarStore
from tokbt.errors import DataError

_COLUMNS: dict[Kind, list[str]] = {
    Kind.SPOT: ["ts", "path", *SPOT_FIELDS],
    Kind.FUTURES: ["ts", "path", "contract", *FUTURES_FIELDS, "limit_locked"],
    Kind.CONSUMPTION: ["ts", "path", *CONSUMPTION_FIELDS],
}
"""The columns a block reads of each kind (volume and open interest are not replayed)."""


class Feed(BlockSource):
    """A stored dataset as a market source: its timeline in ``MarketBlock``s.

    Args:
        store: the store holding the dataset.
        name: dataset name.
        paths: path ids to load (default: all, ascending); array position ``j``
            holds path ``paths[j]``. The timeline and contracts are those of
            the selected paths' bars.
        memory_budget: approximate bytes of a block's arrays (default 256 MiB);
            blocks hold as many events as fit (at least one).
        block_events: a fixed number of events per block instead of the budget.

    Attributes:
        info: the dataset's catalog entry; ``spec`` its contract spec.
        kinds: the kinds of bars the dataset holds.
        bar_seconds: the bar length of each kind.
        path_ids: the paths loaded, in array order.
        timeline: events and structural flags; ``events`` is ``timeline.events``.
        contracts: every contract with a bar (of the selected paths), in delivery order.
        bounds: block boundaries ``[0, ..., n_events]``.
    """

    def __init__(
        self,
        store: BarStore,
        name: str,
        *,
        paths: Sequence[int] | None = None,
        memory_budget: int = 256 << 20,
        block_events: int | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.info = store.info(name)
        self.spec = self.info.spec
        self.kinds = tuple(k for k in Kind if k in self.info.parts)
        self.bar_seconds = {k: self.info.parts[k].bar_seconds for k in self.kinds}
        self.path_ids = self._paths(paths)
        self._path_filter = None if paths is None else self.path_ids.tolist()
        self.timeline = Timeline.build({k: self._starts(k) for k in self.kinds}, self.bar_seconds)
        self.events = self.timeline.events
        spans = self._contract_spans()
        self.contracts = delivery_order(self.spec, spans)
        if block_events is not None:
            self.bounds = fixed_bounds(len(self.events), block_events)
        else:
            bar = bar_length(self.bar_seconds.get(Kind.FUTURES, 86_400))
            first = np.array([s[0] for s in spans.values()], "datetime64[us]") + bar
            last = np.array([s[1] for s in spans.values()], "datetime64[us]") + bar
            self.bounds = budget_bounds(self.events, self.n_paths, memory_budget, first, last)

    @property
    def n_paths(self) -> int:
        """Number of paths loaded."""
        return len(self.path_ids)

    def path_chunks(self, size: int) -> Iterator[Feed]:
        """The feed in consecutive chunks of at most ``size`` paths (``path_ids`` order).

        A chunk reads only its paths' bars but keeps this feed's timeline, contracts and
        block bounds, so its paths meet the same events as in the whole feed (a block's
        futures columns are the contracts with a bar on one of the chunk's paths).
        """
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        return (
            self._selection(self.path_ids[lo : lo + size]) for lo in range(0, self.n_paths, size)
        )

    def _selection(self, ids: np.ndarray) -> Feed:
        """This feed restricted to paths ``ids`` (some of its own), on its timeline."""
        part = copy.copy(self)
        part.path_ids = ids
        part._path_filter = ids.tolist()
        return part

    def _where(self) -> str:
        if self._path_filter is None:
            return ""
        return " AND path IN (" + ", ".join(str(int(p)) for p in self._path_filter) + ")"

    def _paths(self, wanted: Sequence[int] | None) -> np.ndarray:
        union = " UNION ".join(
            f"SELECT DISTINCT path FROM {self.store.source(self.name, k)}" for k in self.kinds
        )
        rows = self.store.con.execute(union).fetchall() if union else []
        stored = np.sort(np.array([r[0] for r in rows], dtype=np.int64))
        if wanted is None:
            return stored
        chosen = np.asarray(wanted, dtype=np.int64)
        missing = np.setdiff1d(chosen, stored)
        if missing.size:
            raise DataError(f"dataset {self.name!r} has no path(s) {missing[:10].tolist()}")
        if len(np.unique(chosen)) != len(chosen):
            raise DataError(f"paths {chosen.tolist()[:10]} repeat a path")
        return chosen

    def _starts(self, kind: Kind) -> np.ndarray:
        """The distinct bar starts of one kind (of the selected paths)."""
        res = self.store.con.execute(
            f"SELECT DISTINCT ts FROM {self.store.source(self.name, kind)}{self._where()}"
        )
        return np.asarray(res.fetchnumpy()["ts"], dtype="datetime64[us]")

    def _contract_spans(self) -> dict[str, tuple[np.datetime64, np.datetime64]]:
        """First and last bar start of each contract (of the selected paths)."""
        if Kind.FUTURES not in self.kinds:
            return {}
        res = self.store.con.execute(
            "SELECT contract, min(ts) AS first, max(ts) AS last FROM "
            f"{self.store.source(self.name, Kind.FUTURES)}{self._where()} GROUP BY contract"
        ).fetchnumpy()
        first = np.asarray(res["first"], "datetime64[us]")
        last = np.asarray(res["last"], "datetime64[us]")
        return {str(c): (first[i], last[i]) for i, c in enumerate(res["contract"])}

    # -- blocks ----------------------------------------------------------------------

    def load(self, lo: int, hi: int) -> MarketBlock:
        """The block of events ``[lo, hi)``, read from the store.

        Each kind's read is the ``ts`` window ``[events[lo] - bar, events[hi-1] - bar]``:
        exactly the bars known at one of the block's events.
        """
        if not 0 <= lo < hi <= len(self.events):
            raise IndexError(f"events [{lo}, {hi}) outside the timeline of {len(self.events)}")
        first, last = self.events[lo], self.events[hi - 1]
        tables: dict[Kind, pa.Table] = {}
        for kind in self.kinds:
            bar = bar_length(self.bar_seconds[kind])
            tables[kind] = self.store.read(
                self.name,
                kind,
                columns=_COLUMNS[kind],
                paths=self._path_filter,
                start=(first - bar).item(),
                end=(last - bar + np.timedelta64(1, "us")).item(),
                ordered=False,  # rows are placed by (ts, path, contract); no sort needed
            )
        return block_from_tables(
            self.spec,
            tables,
            self.timeline,
            lo,
            hi,
            path_ids=self.path_ids,
            bar_seconds=self.bar_seconds,
        )

    def consumption_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """The consumption plan by day (see ``tokbt.data.frames.plan_by_day``)."""
        if Kind.CONSUMPTION not in self.kinds:
            return plan_by_day(None, self.path_ids)
        table = self.store.read(
            self.name, Kind.CONSUMPTION, columns=["ts", "path", "plan"], paths=self._path_filter
        )
        return plan_by_day(table, self.path_ids)

    def fingerprint(self) -> dict[str, str]:
        """The dataset's content hash of each kind (``dataset_parts.source_sha256``),
        and ``paths`` when a selection of paths is loaded."""
        out = {k.value: self.info.parts[k].source_sha256 for k in self.kinds}
        if self._path_filter is not None:
            out["paths"] = describe_paths(self.path_ids)
        return out
