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

from tokbt.core import layout, rules
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

    def configure(self, cf: Floats, ci: npt.NDArray[np.int64]) -> None:
        """Write the model's choice of the core's margin rule and its parameters into the
        core's settings (``tokbt.core.layout``'s ``F_*`` / ``C_*``)."""
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


class SpecMargin:
    """``IM = initial_margin × Σ |pos| × multiplier × price``; ``MM = IM / maintenance_ratio``
    (the core's spec rule, ``tokbt.core.rules._contract_margin``)."""

    def __init__(self, spec: ContractSpec) -> None:
        self.spec = spec
        self._cf = np.zeros(layout.N_CF)
        self._ci = np.zeros(layout.N_CI, dtype=np.int64)
        self.configure(self._cf, self._ci)

    def configure(self, cf: Floats, ci: npt.NDArray[np.int64]) -> None:
        """Write the model's choice and parameters into the core's settings."""
        cf[layout.F_MULT] = self.spec.multiplier
        cf[layout.F_IM_RATE] = self.spec.initial_margin
        cf[layout.F_MM_RATIO] = self.spec.maintenance_ratio
        ci[layout.C_SPAN] = 0

    def requirement(self, positions: Floats, prices: Floats) -> tuple[Floats, Floats]:
        return _requirement(self._cf, self._ci, np.zeros_like(positions), positions, prices)

    def observe(self, contracts: npt.NDArray[np.intp], settle: Floats) -> None:
        """Fractions of notional need no history."""


class SpanMargin:
    """SPAN-like: ``IM = z · σ̂ · √h · |pos| · mult · F · add_on`` per contract, summed
    (no inter-month spread credit); ``σ̂`` an EWMA of daily log settlement returns
    per path and contract, ``initial_vol`` until a contract has two settlements (the
    core's SPAN rule, ``tokbt.core.rules._contract_margin`` and ``observe_settlement``)."""

    def __init__(self, spec: ContractSpec, n_paths: int, n_contracts: int, cfg: SpanConfig) -> None:
        self.spec, self.cfg = spec, cfg
        self._var = np.full((n_paths, n_contracts), cfg.initial_vol**2)
        self._last = np.full((n_paths, n_contracts), np.nan)
        self._cf = np.zeros(layout.N_CF)
        self._ci = np.zeros(layout.N_CI, dtype=np.int64)
        self.configure(self._cf, self._ci)

    def configure(self, cf: Floats, ci: npt.NDArray[np.int64]) -> None:
        """Write the model's choice and parameters into the core's settings."""
        cfg = self.cfg
        cf[layout.F_MULT] = self.spec.multiplier
        cf[layout.F_MM_RATIO] = cfg.maintenance_ratio
        cf[layout.F_SPAN_Z] = cfg.z
        cf[layout.F_SPAN_HOLDING] = cfg.holding_days
        cf[layout.F_SPAN_ADD_ON] = cfg.add_on
        cf[layout.F_SPAN_LAM] = cfg.lam
        cf[layout.F_SPAN_FLOOR] = cfg.floor_vol
        ci[layout.C_SPAN] = 1

    def bind(self, var: Floats, last: Floats) -> None:
        """Keep the estimates in these arrays (the ledger's core state)."""
        var[...] = self._var
        last[...] = self._last
        self._var, self._last = var, last

    def requirement(self, positions: Floats, prices: Floats) -> tuple[Floats, Floats]:
        return _requirement(self._cf, self._ci, self._var, positions, prices)

    def observe(self, contracts: npt.NDArray[np.intp], settle: Floats) -> None:
        rules.observe_settlement(
            self._cf, self._ci, self._var, self._last,
            np.ascontiguousarray(contracts, np.int64), np.ascontiguousarray(settle, np.float64),
        )  # fmt: skip


def _requirement(
    cf: Floats, ci: npt.NDArray[np.int64], var: Floats, positions: Floats, prices: Floats
) -> tuple[Floats, Floats]:
    n = positions.shape[0]
    initial, maintenance = np.empty(n), np.empty(n)
    rules.requirement_of(
        cf, ci, np.ascontiguousarray(var, np.float64), np.ascontiguousarray(positions, np.float64),
        np.ascontiguousarray(prices, np.float64), initial, maintenance,
    )  # fmt: skip
    return initial, maintenance
