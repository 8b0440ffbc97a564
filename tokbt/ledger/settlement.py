"""Settlement models: daily variation margin and final cash settlement (LEAN's settlement model).

Variation margin each exchange day is ``pos × mult × (settle_t − settle_{t−1})``
and, for contracts traded that day, ``qty × mult × (settle_t − fill)``. The
ledger keeps each position's *mark* (the price it was last settled at) and an
*accrued* term ``Σ qty × mult × (mark − fill)`` for the day's trades, so that
``VM = pos × mult × (settle − mark) + accrued`` covers both.

A contract without a settlement price on an exchange day (no bar: not traded)
keeps its previous mark — the previous settlement stands and no variation
margin moves until it settles again (documented fallback).

The final settlement price of a month contract is the mean of the daily index
on its fixing dates (the delivery month by default), rounded to the tick and
never below one tick, as every price of the product
(``ContractSpec.final_settlement_price``), computed per path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tokbt.core import rules
from tokbt.market import Contract, ContractSpec

Floats = npt.NDArray[np.float64]
IndexLookup = Callable[[np.ndarray], Floats]
"""Daily index values ``(len(days), n_paths)`` for ``datetime64[D]`` days."""


class SettlementModel(Protocol):
    """Daily variation margin and final settlement prices."""

    def variation_margin(
        self, positions: Floats, marks: Floats, accrued: Floats, settle: Floats
    ) -> Floats:
        """Variation margin ``(n_paths, k)`` for contracts settling at ``settle`` (NaN: none)."""
        ...

    def final_price(self, contract: Contract, index: IndexLookup) -> Floats:
        """Final settlement price per path of an expiring month contract."""
        ...


class DailySettlement:
    """Exchange-style daily mark-to-market (the core's rule, ``tokbt.core.rules._vm``) and
    final settlement at the contract's fixing (``ContractSpec.final_settlement``: the
    delivery-month average by default)."""

    name = "daily"

    def __init__(self, spec: ContractSpec) -> None:
        self.spec = spec

    def variation_margin(
        self, positions: Floats, marks: Floats, accrued: Floats, settle: Floats
    ) -> Floats:
        out = np.empty(np.shape(settle))
        rules.variation_margin_of(
            float(self.spec.multiplier),
            np.ascontiguousarray(positions, np.float64),
            np.ascontiguousarray(marks, np.float64),
            np.ascontiguousarray(accrued, np.float64),
            np.ascontiguousarray(settle, np.float64),
            out,
        )
        return out

    def final_price(self, contract: Contract, index: IndexLookup) -> Floats:
        values = index(self.spec.fixing_dates(contract))
        return np.asarray(self.spec.settlement_price(values.mean(axis=0)))


SETTLEMENT_MODELS: dict[str, Callable[[ContractSpec], SettlementModel]] = {
    DailySettlement.name: DailySettlement,
}
"""The settlement models by their config name (``LedgerConfig.settlement_model``)."""
