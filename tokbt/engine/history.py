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

    Rows are built lazily: ``extend`` only records the new block (and keeps the
    blocks the lead comes from); a field's rows — the lead and the block in one
    array — are assembled the first time a strategy reads that field in the block,
    read-only, so every window cut from them is a read-only view as it is. A
    strategy that reads no history costs no copying at all.

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
        self.columns: dict[int, int] = {}
        self.contracts = np.empty(0, np.int64)
        self._segments: list[tuple[MarketBlock, np.ndarray]] = []
        self._rows: dict[tuple[str | int, ...], np.ndarray] = {}

    def extend(self, block: MarketBlock, contracts: np.ndarray) -> None:
        """Start ``block`` (global contract indexes ``contracts``), keeping a lead of history
        (the last ``size − 1`` events before it, from the blocks before)."""
        before = sum(len(b) for b, _ in self._segments)
        keep = min(self.size - 1, before)
        needed, covered = [], 0
        for segment in reversed(self._segments):
            if covered >= keep:
                break
            needed.append(segment)
            covered += len(segment[0])
        self._segments = [*reversed(needed), (block, np.asarray(contracts, np.int64))]
        self.lead = keep
        self.day = np.concatenate([self.day[len(self.day) - keep :], block.day])
        codes = [g for _, g in self._segments]
        self.contracts = np.unique(np.concatenate(codes)) if codes else np.empty(0, np.int64)
        self.columns = {int(g): j for j, g in enumerate(self.contracts)}
        self._rows = {}

    def _parts(self) -> list[tuple[MarketBlock, np.ndarray, slice]]:
        """Each kept block with its contracts and the rows of it in the current window
        array (the lead's tail of the earlier blocks, then the whole current block)."""
        parts = []
        left = self.lead
        for block, codes in reversed(self._segments[:-1]):
            take = min(left, len(block))
            parts.append((block, codes, slice(len(block) - take, len(block))))
            left -= take
        parts.reverse()
        block, codes = self._segments[-1]
        parts.append((block, codes, slice(0, len(block))))
        return parts

    def _series(self, kind: str, field: str) -> np.ndarray:
        """The rows of a spot or consumption ``field`` (lead and block), built once."""
        key = (kind, field)
        if key not in self._rows:
            self._rows[key] = frozen(
                np.concatenate([getattr(b, kind)[field][rows] for b, _, rows in self._parts()])
            )
        return self._rows[key]

    def _futures(self, field: str) -> np.ndarray:
        """The rows of a futures ``field`` (lead and block) over ``self.contracts``
        (NaN where a block has no bar of a contract), built once."""
        key = ("futures", field)
        if key not in self._rows:
            parts = self._parts()
            total = sum(rows.stop - rows.start for _, _, rows in parts)
            out = np.full((total, self.n_paths, len(self.contracts)), np.nan)
            at = 0
            for block, codes, rows in parts:
                n = rows.stop - rows.start
                cols = np.searchsorted(self.contracts, codes)
                out[at : at + n, :, _run(cols)] = block.futures[field][rows]
                at += n
            self._rows[key] = frozen(out)
        return self._rows[key]

    def _contract(self, field: str, col: int) -> np.ndarray:
        """The rows of a futures ``field`` of column ``col``, ``(rows, n_paths)``."""
        key = ("futures", field, col)
        if key not in self._rows:  # cut from the blocks alone, contiguous down the rows
            code = self.contracts[col]
            parts = self._parts()
            out = np.full((sum(r.stop - r.start for _, _, r in parts), self.n_paths), np.nan)
            at = 0
            for block, codes, rows in parts:
                n = rows.stop - rows.start
                where = np.flatnonzero(codes == code)
                if len(where):
                    out[at : at + n] = block.futures[field][rows, :, where[0]]
                at += n
            self._rows[key] = frozen(out)
        return self._rows[key]

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
        """The window of read-only ``rows`` (NaN before the first event)."""
        if window is None and lag == 0 and self.row >= 0:  # the current event's row
            current: Floats = rows[self.row]
            return current
        lo, hi = self._span(window, lag)
        if lo >= 0:
            part = rows[lo:hi]
        else:
            pad = np.full((-lo, *rows.shape[1:]), np.nan)
            part = frozen(np.concatenate([pad, rows[: max(hi, 0)]]))
        return part[0] if window is None else part

    def spot(self, field: str, window: int | None, lag: int) -> Floats:
        """Spot ``field`` rows."""
        return self._take(self._series("spot", field), window, lag)

    def consumption(self, field: str, window: int | None, lag: int) -> Floats:
        """Consumption ``field`` rows."""
        return self._take(self._series("consumption", field), window, lag)

    def futures(self, contract: int, field: str, window: int | None, lag: int) -> Floats:
        """Futures ``field`` rows of one contract (global index); NaN where no bar."""
        col = self.columns.get(contract)
        if col is None:
            lo, hi = self._span(window, lag)
            shape = (self.n_paths,) if window is None else (hi - lo, self.n_paths)
            return frozen(np.full(shape, np.nan))
        return self._take(self._contract(field, col), window, lag)

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
            data = self._futures(field)
            out[inside] = data[rows[inside], :, cols[inside]]
        return frozen(out[0] if window is None else out)

    def _rolls(self, roll_days: int) -> np.ndarray:
        if roll_days not in self._roll_cache:
            self._roll_cache[roll_days] = self._roll_dates(roll_days)
        return self._roll_cache[roll_days]
