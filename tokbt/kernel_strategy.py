"""``KernelStrategy``: a strategy whose decisions are a numba *decision kernel*.

A kernel strategy is an ordinary ``Strategy`` (typed ``Params``, registered
like any plugin) whose ``on_bar`` is one function compiled by numba: it reads
the visible history, the positions, its parameters and a persistent state
array, and writes target positions. Because the decision is a pure compiled
function of arrays, the same strategy runs on both engines:

* the **Python engine** (``tokbt.engine.Engine``) calls ``on_bar`` at every
  event; ``on_bar`` builds the kernel's inputs from the ``Context`` and turns
  its targets into ``ctx.target`` orders — the reference run;
* the **compiled driver** (``tokbt.engine.compiled.CompiledEngine``) calls the
  kernel itself, with the same inputs, inside its compiled loop — the fast run,
  with the same journal to the bit. Python hooks beside the kernel
  (``on_start``, ``on_settle``, ``on_margin_call``, ``on_end``) run on both, at
  the same points; ``self.state`` is the kernel's state while the run goes.

``whole_contracts(x)`` is the broker's rounding to whole contracts (halves away
from zero), callable from a kernel. ``@kernel_jit`` compiles a kernel that allocates
no array without numba's reference counting (``numba.njit(cache=True)`` otherwise):
the compiled driver then calls it at a fraction of the cost.

Write one::

    def _kernel(event, day, settling, spot, futures, positions, expiry, planned,
                params, state, target):
        for c in range(target.shape[1]):
            if expiry[c] >= 0 and state[c] == 0.0:   # first seen in the chain
                state[c] = 1.0
                target[:, c] = params[0]

    class Strip(KernelStrategy):
        class Params(KernelStrategy.Params):
            contracts: float = 1.0

        kernel = _kernel

        def kernel_params(self, spec, contracts):
            return np.array([self.params.contracts])

        def initial_state(self, n_paths, n_contracts):
            return np.zeros(n_contracts)

The arguments are specified in ``tokbt.engine.compiled`` (and
``docs/compiled.md``); ``kernel`` is compiled with ``numba.njit(cache=True)``
on first use (an ``@njit`` function is taken as it is). A kernel must not
raise; a non-finite target means "no order".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from tokbt.core.rules import whole as whole_contracts
from tokbt.engine.compiled import HOOKS, check_history, compiled_kernel
from tokbt.market import ContractSpec
from tokbt.numba_cache import njit_without_refcounts
from tokbt.strategy import Strategy

if TYPE_CHECKING:
    from tokbt.engine import Context

Floats = npt.NDArray[np.float64]

__all__ = ["KernelStrategy", "kernel_jit", "whole_contracts"]

F = TypeVar("F", bound=Callable[..., Any])


def kernel_jit(fn: F) -> F:
    """``numba.njit(cache=True)`` of a decision kernel that allocates no array (no
    ``np.empty``, no copies; views and scalars are fine), compiled without numba's
    reference counting: numba would otherwise count every array view the kernel
    takes — its arguments' too — with atomic increments at each event, which can
    cost as much as a rolling window's sums. A kernel that allocates does not
    compile this way (numba names the allocation): use ``numba.njit(cache=True)``."""
    return njit_without_refcounts(cache=True)(fn)


_JITTED: dict[Any, Any] = {}
"""Plain kernel functions → their numba dispatchers (compiled once per process)."""


def _frozen(a: npt.ArrayLike, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    out = np.array(a, dtype=dtype)
    out.flags.writeable = False
    return out


class KernelStrategy(Strategy):
    """Base class of strategies that decide in a numba decision kernel.

    Subclasses set ``kernel`` and override ``kernel_params``, ``initial_state``
    and ``history_events`` as they need. Hooks written in Python beside the kernel
    (``on_start``, ``on_settle``, ``on_margin_call``, ``on_end``) run on both paths;
    an ``on_bar`` of its own makes the strategy a Python strategy.
    """

    kernel: ClassVar[Any]
    """The decision kernel: a function with the kernel's signature, or its ``@njit``."""

    def history_events(self) -> int:
        """Events of history the kernel reads: the rows of ``spot`` and ``futures``."""
        return 1

    def needs_plan(self) -> bool:
        """Whether the kernel reads ``planned`` (else it is zeros and no plan is needed)."""
        return False

    def kernel_params(self, spec: ContractSpec, contracts: tuple[str, ...]) -> Floats:
        """The kernel's ``params`` array for a market of ``contracts`` (by default empty)."""
        return np.zeros(0)

    def initial_state(self, n_paths: int, n_contracts: int) -> Floats:
        """The kernel's ``state`` before the first event (by default empty)."""
        return np.zeros(0)

    def finish(self, state: Floats) -> None:
        """Called by either engine after the last event with the kernel's final state."""

    def decision_kernel(self) -> Any:
        """``kernel`` as a numba dispatcher (``njit(cache=True)`` of a plain function)."""
        from numba import njit
        from numba.core.dispatcher import Dispatcher

        fn = type(self).kernel
        if isinstance(fn, Dispatcher):
            return fn
        if fn not in _JITTED:
            _JITTED[fn] = njit(cache=True)(fn)
        return _JITTED[fn]

    def python_hooks(self) -> tuple[str, ...]:
        """The hooks this class implements in Python beyond the kernel's own."""
        cls = type(self)
        return tuple(h for h in HOOKS if getattr(cls, h) is not getattr(KernelStrategy, h))

    # -- the Python engine's hooks ----------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Compile the kernel; set up its parameters, state and plan (also done at the
        first ``on_bar`` if a subclass's own ``on_start`` does not call this one)."""
        self._setup(ctx)

    def _setup(self, ctx: Context) -> None:
        self._history = int(self.history_events())
        check_history(self, self._history, ctx.history_size)
        self._codes = ctx.contracts
        self._column = {code: j for j, code in enumerate(self._codes)}
        n, k = ctx.n_paths, len(self._codes)
        # the kernel's compiled entry for KERNEL_SIGNATURE: the machine code the compiled
        # engine calls, without numba's per-call type dispatch
        self._call = compiled_kernel(self, self.decision_kernel()).entry_point
        self._params = _frozen(self.kernel_params(ctx.spec, self._codes))
        self.state = np.ascontiguousarray(self.initial_state(n, k), dtype=np.float64)
        planned = np.zeros((n, k))
        if self.needs_plan():
            for j, code in enumerate(self._codes):
                c = ctx.spec.contract(code)
                planned[:, j] = ctx.plan(c.delivery_start, c.delivery_end)
        self._planned = _frozen(planned)
        self._target = np.full((n, k), np.nan)
        self._event = 0

    def on_bar(self, ctx: Context) -> None:
        """Call the kernel on the visible history; its finite targets become orders."""
        if not hasattr(self, "_call"):
            self._setup(ctx)
        h, n, codes = self._history, ctx.n_paths, self._codes
        futures = np.empty((h, n, 0))
        if codes:
            futures = np.stack([ctx.futures(code, "close", h) for code in codes], axis=-1)
        expiry = np.full(len(codes), -1, np.int64)
        chain = ctx.chain
        for code, days in zip(chain.codes, chain.days_to_expiry, strict=True):
            expiry[self._column[code]] = days
        self._target.fill(np.nan)
        self._call(
            self._event,
            int(np.datetime64(ctx.day, "D").astype(np.int64)),
            ctx.is_settlement,
            _frozen(ctx.spot("close", h)),
            _frozen(futures),
            ctx.positions,
            _frozen(expiry, np.int64),
            self._planned,
            self._params,
            self.state,
            self._target,
        )
        for j, code in enumerate(codes):
            wanted = self._target[:, j]
            given = np.isfinite(wanted)
            if given.any():
                ctx.target(code, np.where(given, wanted, ctx.position(code) + ctx.pending(code)))
        self._event += 1

    def on_end(self, ctx: Context) -> None:
        """Hand the final state to ``finish``."""
        self.finish(self.state)
