"""Margin models: initial and maintenance margin of positions (LEAN's separate margin model).

A model answers one question — what initial and maintenance margin does a
path's book of positions require at given prices — and may learn from each
day's settlement prices. ``SpecMargin`` takes fractions of notional from the
``ContractSpec``; ``SpanMargin`` scales with each contract's recent volatility.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from tokbt.ledger.config import SpanConfig
from tokbt.market import ContractSpec

Floats = npt.NDArray[np.float64]


class MarginModel(Protocol):
    """Initial and maintenance margin of positions ``(n_paths, n_contracts)``."""

    def requirement(self, positions: Floats, prices: Floats) -> tuple[Floats, Floats]:
        """``(initial, maintenance)`` per path for ``positions`` at ``prices``
        (same shape; NaN prices count as no requirement for a zero position)."""
        ...

    def observe(self, contracts: npt.NDArray[np.intp], settle: Floats) -> None:
        """Learn from a settlement: ``settle`` ``(n_paths, k)`` of global contract indexes
        ``contracts``; NaN where a contract did not settle."""
        ...


def ordered_sum(matrix: Floats) -> Floats:
    """Row sums added column by column, left to right.

    ``ndarray.sum`` adds pairwise, so its rounding depends on how many columns
    there are; a market's blocks carry different sets of contracts, and a run
    must not depend on how the timeline was cut into blocks. Adding the
    columns in delivery order (absent contracts contribute exact zeros) makes
    the result independent of it.
    """
    total = np.zeros(matrix.shape[0])
    for j in range(matrix.shape[1]):
        total += matrix[:, j]
    return total


def _notional(spec: ContractSpec, positions: Floats, prices: Floats) -> Floats:
    held = positions != 0
    return np.where(held, np.abs(positions) * spec.multiplier * np.where(held, prices, 0.0), 0.0)


class SpecMargin:
    """``IM = initial_margin × |pos| × multiplier × price``; ``MM = IM / maintenance_ratio``."""

    def __init__(self, spec: ContractSpec) -> None:
        self.spec = spec

    def requirement(self, positions: Floats, prices: Floats) -> tuple[Floats, Floats]:
        initial = self.spec.initial_margin * ordered_sum(_notional(self.spec, positions, prices))
        return initial, initial / self.spec.maintenance_ratio

    def observe(self, contracts: npt.NDArray[np.intp], settle: Floats) -> None:
        """Fractions of notional need no history."""


class SpanMargin:
    """SPAN-like: ``IM = z · σ̂ · √h · |pos| · mult · F · add_on`` per contract, summed
    (no inter-month spread credit); ``σ̂`` an EWMA of daily log settlement returns
    per path and contract, ``initial_vol`` until a contract has two settlements."""

    def __init__(self, spec: ContractSpec, n_paths: int, n_contracts: int, cfg: SpanConfig) -> None:
        self.spec, self.cfg = spec, cfg
        self._var = np.full((n_paths, n_contracts), cfg.initial_vol**2)
        self._last = np.full((n_paths, n_contracts), np.nan)

    def requirement(self, positions: Floats, prices: Floats) -> tuple[Floats, Floats]:
        cfg = self.cfg
        vol = np.maximum(np.sqrt(self._var), cfg.floor_vol)
        scan = cfg.z * vol * np.sqrt(cfg.holding_days) * cfg.add_on
        initial = ordered_sum(scan * _notional(self.spec, positions, prices))
        return initial, initial / cfg.maintenance_ratio

    def observe(self, contracts: npt.NDArray[np.intp], settle: Floats) -> None:
        last = self._last[:, contracts]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.log(settle / last)
        seen = np.isfinite(r)
        var = self._var[:, contracts]
        lam = self.cfg.lam
        self._var[:, contracts] = np.where(
            seen, lam * var + (1 - lam) * np.where(seen, r, 0) ** 2, var
        )
        self._last[:, contracts] = np.where(np.isfinite(settle), settle, last)
