"""Bounded history windows over the blocks of a market, served as views.

The engine replays a market block by block. ``History`` keeps, in front of
each new block, the last ``size − 1`` events of the one before (the *lead*),
so any window of up to ``size`` events ending at the current event is a slice
of one array — a view, no per-event copying. Rows are events; columns paths
(and, for futures, the contracts seen in the lead and the block).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tokbt.data.frames import MarketBlock
from tokbt.engine.errors import LookAheadError

Floats = npt.NDArray[np.float64]


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``."""
    v = a.view()
    v.flags.writeable = False
    return v


def _run(positions: np.ndarray) -> slice | np.ndarray:
    """Ascending distinct ``positions`` as a slice when they are consecutive (as they
    nearly always are: contracts come and go in delivery order). Assigning through
    a slice is several times faster than through an index array on the last axis."""
    if len(positions) == 0:
        return slice(0, 0)
    first, last = int(positions[0]), int(positions[-1])
    return slice(first, last + 1) if last - first + 1 == len(positions) else positions


class History:
    """Windows of spot, futures and consumption bars up to the current event.

    Args:
        size: the longest window (events) a strategy may ask for, lag included.
        n_paths: paths.
        roll_dates: ``roll_dates(k)`` → for each month contract (global index
            ``months``), the last day it counts as live for nearby series when
            rolling ``k`` business days before its last trading day.
        months: global indexes of the month contracts, ordered by last trading day.
    """

    def __init__(
        self,
        size: int,
        n_paths: int,
        months: np.ndarray,
        roll_dates: Callable[[int], np.ndarray],
    ) -> None:
        self.size = size
        self.n_paths = n_paths
        self.months = months
        self._roll_dates = roll_dates
        self._roll_cache: dict[int, np.ndarray] = {}
        self.row = -1
        self.lead = 0
        self.day = np.empty(0, "datetime64[D]")
        self.spot_rows: dict[str, np.ndarray] = {}
        self.futures_rows: dict[str, np.ndarray] = {}
        self.consumption_rows: dict[str, np.ndarray] = {}
        self.columns: dict[int, int] = {}
        self.contracts = np.empty(0, np.int64)
        self.last_bar: dict[int, int] = {}
        """Global contract index → timeline position of the last event with a bar of it."""

    def extend(self, block: MarketBlock, contracts: np.ndarray) -> None:
        """Start ``block`` (global contract indexes ``contracts``), keeping a lead of history.

        Futures columns are the contracts of the block and those with a bar in
        the lead: a contract with neither can only show NaN in any window from
        now on (as a contract without a column does), so it is not carried.
        """
        keep = min(self.size - 1, len(self.day))
        self._see_bars(block, contracts)
        since = block.start - keep  # the lead's first event
        kept = np.flatnonzero([self.last_bar.get(int(g), -1) >= since for g in self.contracts])
        union = np.union1d(self.contracts[kept], contracts) if keep else np.asarray(contracts)
        self.spot_rows = self._join(self.spot_rows, block.spot, keep)
        self.consumption_rows = self._join(self.consumption_rows, block.consumption, keep)
        self.futures_rows = {
            f: self._join_futures(
                self.futures_rows.get(f), block.futures[f], keep, kept, contracts, union
            )
            for f in block.futures
        }
        self.day = np.concatenate([self.day[len(self.day) - keep :], block.day])
        self.contracts = union
        self.columns = {int(g): j for j, g in enumerate(union)}
        self.lead = keep

    @staticmethod
    def _join(
        old: dict[str, np.ndarray], new: dict[str, np.ndarray], keep: int
    ) -> dict[str, np.ndarray]:
        if not keep:
            return dict(new)
        return {f: np.concatenate([old[f][len(old[f]) - keep :], v]) for f, v in new.items()}

    def _see_bars(self, block: MarketBlock, contracts: np.ndarray) -> None:
        """Record the last event of ``block`` with a bar (any field) of each of its contracts."""
        if not len(contracts):
            return
        present = np.zeros((len(block), len(contracts)), dtype=bool)
        for values in block.futures.values():
            present |= ~np.isnan(values).all(axis=1)
        seen = np.asarray(present.any(axis=0)).tolist()
        last = (len(block) - 1 - np.argmax(present[::-1], axis=0)).tolist()
        for g, has, row in zip(contracts.tolist(), seen, last, strict=True):
            if has:
                self.last_bar[g] = block.start + row

    def _join_futures(
        self,
        old: np.ndarray | None,
        new: np.ndarray,
        keep: int,
        kept: np.ndarray,
        contracts: np.ndarray,
        union: np.ndarray,
    ) -> np.ndarray:
        if not keep or old is None:
            return new
        # every cell written once: the lead and the block into their columns, NaN elsewhere
        out = np.empty((keep + len(new), self.n_paths, len(union)))
        for rows, values, codes in (
            (slice(None, keep), old[len(old) - keep :, :, _run(kept)], self.contracts[kept]),
            (slice(keep, None), new, contracts),
        ):
            cols = np.searchsorted(union, codes)
            out[rows, :, _run(cols)] = values
            holes = np.setdiff1d(np.arange(len(union)), cols)
            if len(holes):
                out[rows, :, _run(holes)] = np.nan
        return out

    # -- windows -------------------------------------------------------------------------------

    def _span(self, window: int | None, lag: int) -> tuple[int, int]:
        if lag < 0:
            raise LookAheadError(f"lag {lag} reads {-lag} event(s) into the future")
        width = 1 if window is None else window
        if width < 1 or width + lag > self.size:
            raise ValueError(
                f"window {width} + lag {lag} exceeds the engine's history of {self.size} events "
                "(raise engine.history)"
            )
        end = self.row - lag + 1
        return end - width, end

    def _take(self, rows: np.ndarray, window: int | None, lag: int) -> Floats:
        lo, hi = self._span(window, lag)
        if lo >= 0:
            part = rows[lo:hi]
        else:
            pad = np.full((-lo, *rows.shape[1:]), np.nan)
            part = np.concatenate([pad, rows[: max(hi, 0)]])
        return frozen(part[0] if window is None else part)

    def spot(self, field: str, window: int | None, lag: int) -> Floats:
        """Spot ``field`` rows."""
        return self._take(self.spot_rows[field], window, lag)

    def consumption(self, field: str, window: int | None, lag: int) -> Floats:
        """Consumption ``field`` rows."""
        return self._take(self.consumption_rows[field], window, lag)

    def futures(self, contract: int, field: str, window: int | None, lag: int) -> Floats:
        """Futures ``field`` rows of one contract (global index); NaN where no bar."""
        col = self.columns.get(contract)
        if col is None:
            lo, hi = self._span(window, lag)
            shape = (self.n_paths,) if window is None else (hi - lo, self.n_paths)
            return frozen(np.full(shape, np.nan))
        return self._take(self.futures_rows[field][:, :, col], window, lag)

    def nearby(self, n: int, field: str, window: int | None, roll_days: int, lag: int) -> Floats:
        """The continuous ``n``-th nearby month series (see ``Context.nearby``)."""
        lo, hi = self._span(window, lag)
        rows = np.arange(lo, hi)
        valid = rows >= 0
        days = self.day[np.maximum(rows, 0)]
        rank = np.searchsorted(self._rolls(roll_days), days) + n
        inside = valid & (rank < len(self.months))
        chosen = self.months[np.minimum(rank, len(self.months) - 1)] if len(self.months) else rank
        cols = np.array([self.columns.get(int(g), -1) for g in chosen], dtype=np.int64)
        inside &= cols >= 0
        out = np.full((len(rows), self.n_paths), np.nan)
        if inside.any():
            data = self.futures_rows[field]
            out[inside] = data[rows[inside], :, cols[inside]]
        return frozen(out[0] if window is None else out)

    def _rolls(self, roll_days: int) -> np.ndarray:
        if roll_days not in self._roll_cache:
            self._roll_cache[roll_days] = self._roll_dates(roll_days)
        return self._roll_cache[roll_days]
