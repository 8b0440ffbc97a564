"""``static_kernel``: a static strip of month contracts, decided in a numba kernel."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from tokbt.kernel_strategy import KernelStrategy, kernel_jit, whole_contracts
from tokbt.market import ContractSpec

_RATIO, _FIXED, _MULTIPLIER = range(3)
"""``params``: hedge ratio, fixed contracts per month (NaN: from the plan), multiplier."""


@kernel_jit
def static_strip(
    event: int,
    day: int,
    settling: bool,
    spot: np.ndarray,
    futures: np.ndarray,
    positions: np.ndarray,
    expiry: np.ndarray,
    planned: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    target: np.ndarray,
) -> None:
    """The first time a contract is in the chain, target ``fixed`` contracts — or
    ``ratio`` × its delivery month's planned tokens / multiplier, rounded to whole
    contracts; ``state[c]`` = 1 once contract ``c`` was targeted."""
    n, k = target.shape
    for c in range(k):
        if expiry[c] < 0 or state[c] != 0.0:
            continue
        state[c] = 1.0
        for p in range(n):
            q = params[_FIXED]
            if np.isnan(q):
                q = params[_RATIO] * planned[p, c] / params[_MULTIPLIER]
            target[p, c] = whole_contracts(q)


class StaticKernelParams(KernelStrategy.Params):
    """Parameters of ``static_kernel``."""

    ratio: float = Field(1.0, ge=0.0, description="Hedge ratio: contracts per planned contract.")
    contracts: float | None = Field(
        None, description="Fixed contracts of every month instead of the plan (None: the plan)."
    )


class StaticKernel(KernelStrategy):
    """Buy each month contract once, when it lists: ratio × its month's plan (or a fixed count).

    The first time a month contract is in the chain, it is bought at ``ratio`` ×
    the planned tokens of its delivery month (in contracts, rounded) — or
    ``contracts`` of it when given — and held to final settlement: 1:1 static
    hedging of the plan at ``ratio = 1``. The decision is a numba kernel: the
    strategy runs on the compiled engine.
    """

    Params = StaticKernelParams
    kernel = static_strip

    def needs_plan(self) -> bool:
        return self.params.contracts is None

    def kernel_params(self, spec: ContractSpec, contracts: tuple[str, ...]) -> np.ndarray:
        fixed = np.nan if self.params.contracts is None else self.params.contracts
        return np.array([self.params.ratio, fixed, spec.multiplier], dtype=np.float64)

    def initial_state(self, n_paths: int, n_contracts: int) -> np.ndarray:
        return np.zeros(n_contracts)
