"""The compiled driver: strategies written as numba decision kernels, run in compiled loops.

A strategy whose decisions are a numba ``@njit`` *decision kernel* (a
``tokbt.kernel_strategy.KernelStrategy``) runs on the same ``Engine`` as any
other, but ``CompiledEngine`` hands each ``MarketBlock`` to one numba loop
(``tokbt.engine.kernels.run_block``) that calls the kernel and the core's rules
at every event. Python runs once per block (to cut the block, precompute the
day's chain and the final-settlement prices, and turn rows into Arrow) and at
the settlement events where the strategy has Python hooks (``on_settle``,
``on_margin_call``), never per event otherwise. State carries across blocks in
arrays.

The kernel (see ``KERNEL_SIGNATURE``) is called at every event, after fills
and consumption, exactly where ``on_bar`` runs on the Python engine::

    kernel(event, day, settling, spot, futures, positions, expiry, planned,
           params, state, target)

* ``event`` — position of the event in the timeline; ``day`` — its calendar
  day (days since 1970-01-01); ``settling`` — an exchange day ends here
  (settlement follows the kernel).
* ``spot`` ``(history, n_paths)`` and ``futures`` ``(history, n_paths,
  n_contracts)`` — spot and futures *closes* of the last ``history`` events,
  the last row being the current event, NaN where an event has no bar (or
  lies before the first). Read-only, and nothing after the current event has
  been written when the kernel runs: there is no future to look at.
* ``positions`` ``(n_paths, n_contracts)`` — contracts held now (read-only).
* ``expiry`` ``(n_contracts,)`` — exchange days from today to each tradable
  month contract's last trading day (``Chain.days_to_expiry``), -1 for a
  contract not listed yet or past its last trading day.
* ``planned`` ``(n_paths, n_contracts)`` — planned tokens (millions) over each
  contract's delivery period, from the consumption plan known before the first
  event (zeros unless the strategy ``needs_plan``).
* ``params`` — the strategy's parameters as floats (read-only); ``state`` — a
  float array the kernel owns for the whole run.
* ``target`` ``(n_paths, n_contracts)`` — NaN on entry. The kernel writes the
  position it wants per path and contract; a non-finite entry means no order.
  For each contract with any finite target (in contract order) the engine
  does ``ctx.target(code, q)`` with ``q`` the target where given and, on the
  other paths, the position plus the pending order (what they already head
  for).

Contracts are the market's (``MarketSource.contracts``, delivery order), the
columns of ``Context.positions``.

**One core.** Every broker and ledger step of the loop is a call of the
compiled core's rules (``tokbt.core.rules``) — the same functions the Python
engine's ``Broker`` and ``Ledger`` call one step at a time — so the compiled
engine books exactly what the Python engine books for the same
``KernelStrategy``: same journal rows in the same order, every column bit for
bit, same events, positions log and final ledger state, on every setting
(SPAN, limited funding and liquidation, the liquidity model, position limits,
cascades). ``tests/test_engine_compiled.py`` holds the two to that.

**Scope.** Every broker, ledger and market setting runs, and so do Python
hooks beside the kernel (``on_start``, ``on_settle``, ``on_margin_call``,
``on_end``), at the same points and with the same ``Context`` as on the Python
path. Only a strategy without a kernel, or with an ``on_bar`` of its own (its
decision is then Python code, run event by event), is refused with
``UnsupportedError``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from tokbt.core import layout
from tokbt.data.frames import MarketBlock, MarketSource
from tokbt.engine.config import BrokerConfig, EngineConfig
from tokbt.engine.context import month_contracts
from tokbt.engine.errors import StrategyError
from tokbt.engine.loop import Engine, Outputs, require_fixings
from tokbt.errors import DataError, TokbtError
from tokbt.ledger import LedgerConfig
from tokbt.market import Contract, ContractSpec

Floats = npt.NDArray[np.float64]

HOOKS = ("on_start", "on_bar", "on_settle", "on_margin_call", "on_end")
"""The Python engine's strategy hooks."""
_HISTORY_BUDGET = 32 << 20
"""Bytes of history buffer the compiled loop keeps beyond the strategy's window..."""
_HISTORY_ROWS = 1 << 16
"""... and at most this many events of it."""


class UnsupportedError(TokbtError):
    """The compiled engine cannot run this strategy or configuration; the message
    names every setting it does not support."""


@runtime_checkable
class KernelProgram(Protocol):
    """What the compiled engine needs of a strategy (``KernelStrategy`` provides it)."""

    def needs_plan(self) -> bool:
        """Whether the kernel reads ``planned`` (else it is zeros)."""
        ...

    def decision_kernel(self) -> Any:
        """The numba dispatcher of the decision kernel."""
        ...

    def history_events(self) -> int:
        """Events of history the kernel reads (rows of ``spot`` and ``futures``)."""
        ...

    def kernel_params(self, spec: ContractSpec, contracts: tuple[str, ...]) -> Floats:
        """The ``params`` array for a market of ``contracts`` (the kernel's columns)."""
        ...

    def initial_state(self, n_paths: int, n_contracts: int) -> Floats:
        """The ``state`` array before the first event."""
        ...

    def finish(self, state: Floats) -> None:
        """Called once after the last event with the final ``state``."""
        ...

    def python_hooks(self) -> tuple[str, ...]:
        """Hooks (``HOOKS``) the strategy implements in Python beyond its kernel."""
        ...


def label(strategy: Any) -> str:
    """A strategy's name for messages (its registry name, or its class name)."""
    return getattr(strategy, "name", None) or type(strategy).__name__


def unsupported(strategy: Any) -> list[str]:
    """Why the compiled engine cannot run ``strategy`` (empty: it can): it has no decision
    kernel, or decides in a Python ``on_bar`` of its own (then it is a Python strategy;
    its other Python hooks run fine)."""
    if not isinstance(strategy, KernelProgram):
        return [f"strategy {label(strategy)!r} is not a KernelStrategy (no decision kernel)"]
    if "on_bar" in strategy.python_hooks():
        return [
            f"strategy {label(strategy)!r} decides in a Python on_bar of its own, which runs "
            "event by event on the python engine"
        ]
    return []


def check_history(strategy: Any, events: int, size: int) -> None:
    """``StrategyError`` if the kernel reads more history than the engine keeps."""
    if events > size:
        raise StrategyError(
            f"strategy {label(strategy)!r} reads {events} events of history; the engine "
            f"keeps {size} (raise engine.history)"
        )


def compiled_kernel(strategy: Any, kernel: Any) -> Any:
    """``kernel`` (a numba dispatcher) compiled for ``KERNEL_SIGNATURE``: its compile
    result (``entry_point`` calls it from Python); a ``StrategyError`` naming the strategy
    if it is not a dispatcher or does not compile."""
    from numba.core.dispatcher import Dispatcher

    from tokbt.engine.kernels import KERNEL_SIGNATURE

    if not isinstance(kernel, Dispatcher):
        raise StrategyError(
            f"strategy {label(strategy)!r}: its kernel {kernel!r} is not a numba @njit function"
        )
    try:
        kernel.compile(KERNEL_SIGNATURE.args)
        return kernel.overloads[KERNEL_SIGNATURE.args]
    except Exception as exc:
        first = str(exc).strip().splitlines()[:6]
        raise StrategyError(
            f"strategy {label(strategy)!r}: its kernel does not compile for the decision-kernel "
            f"signature (see tokbt.engine.compiled): {' '.join(first)}"
        ) from exc


def planned_tokens(source: MarketSource, contracts: Sequence[Contract]) -> Floats:
    """Planned tokens per path over each contract's delivery period ``(n_paths,
    len(contracts))``, as ``Context.plan`` gives them (``DataError`` without a plan)."""
    getter = getattr(source, "consumption_plan", None)
    if getter is None:
        raise DataError(f"market {source.name!r} has no consumption plan")
    days, plan = getter()
    out = np.zeros((len(source.path_ids), len(contracts)))
    for j, c in enumerate(contracts):
        lo = np.searchsorted(days, np.datetime64(c.delivery_start, "D"))
        hi = np.searchsorted(days, np.datetime64(c.delivery_end, "D"), side="right")
        out[:, j] = np.nansum(plan[lo:hi], axis=0)
    return out


class CompiledEngine(Engine):
    """The engine with a kernel strategy's decisions run by the compiled driver: the same
    ``Engine`` (state, ``Context``, ledger and broker facades over the one core), whose
    blocks are replayed by ``tokbt.engine.kernels.run_block`` instead of event by event in
    Python. It returns to Python only where a hook the strategy writes in Python must run:
    ``on_start`` and ``on_end`` around the run, ``on_margin_call`` and ``on_settle`` at the
    settlement events (the house plan's order: after the settlement's bookkeeping).

    Args:
        source: the market (stored, in-memory or simulated).
        strategy: a ``KernelProgram`` (``KernelStrategy``); an ``on_bar`` of its own in
            Python makes it a Python strategy (``UnsupportedError``: use the Python path).
        broker, ledger, engine: settings (defaults if omitted).
        outputs: where journal, positions and events go.

    Attributes:
        ledger, broker: as ``Engine``'s.
        compile_seconds: time spent compiling (or loading from numba's cache) the
            loop and the kernel when the run started.
        stats: how often the loop stopped to drain its row buffers (``flushes``) or
            grow its decision log (``decisions``), shifted its history buffer
            (``history_shifts``), and returned to Python for hooks (``hooks``).
    """

    def __init__(
        self,
        source: MarketSource,
        strategy: Any,
        *,
        broker: BrokerConfig | None = None,
        ledger: LedgerConfig | None = None,
        engine: EngineConfig | None = None,
        outputs: Outputs | None = None,
    ) -> None:
        reasons = unsupported(strategy)
        if reasons:
            raise UnsupportedError(
                f"the compiled engine cannot run this backtest: {'; '.join(reasons)} "
                '(use engine="python")'
            )
        super().__init__(
            source, strategy, broker=broker, ledger=ledger, engine=engine, outputs=outputs
        )
        self.compile_seconds = 0.0
        self.stats = {"flushes": 0, "decisions": 0, "history_shifts": 0, "hooks": 0}

    # -- the run -----------------------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None = None) -> CompiledEngine:
        """Replay every event; return the engine (its ledger holds the results).

        ``progress`` is called after each block with the number of events run so far.
        """
        import time

        t0 = time.perf_counter()
        from tokbt.engine import kernels

        self._k = kernels
        kernel = self.strategy.decision_kernel()
        compiled_kernel(self.strategy, kernel)
        self.compile_seconds = time.perf_counter() - t0
        hooks = set(self.strategy.python_hooks())
        self._call_hook = "on_margin_call" in hooks
        self._settle_hook = "on_settle" in hooks
        if "on_start" in hooks:
            self._call("on_start", self.strategy.on_start)
        self._start(kernel)
        for block in self.source.market_blocks():
            self._run_block(block)
            if progress is not None:
                progress(self.events_run)
        if "on_end" in hooks:  # as on the Python path: the strategy's own on_end (which
            self._call("on_end", self.strategy.on_end)  # calls finish if it calls super's)
        else:
            self.strategy.finish(self._state)
        self.ledger.journal.flush()
        return self

    def _start(self, kernel: Any) -> None:
        ledger, strategy = self.ledger, self.strategy
        n, n_c = ledger.positions.shape
        history = int(strategy.history_events())
        check_history(strategy, history, self.config.history)
        self._kernel = kernel
        self._history = history
        self._params = np.ascontiguousarray(
            strategy.kernel_params(ledger.spec, ledger.codes), dtype=np.float64
        )
        self._state = np.ascontiguousarray(strategy.initial_state(n, n_c), dtype=np.float64)
        strategy.state = self._state  # Python hooks read the kernel's state as it runs
        planned = planned_tokens(self.source, ledger.contracts) if strategy.needs_plan() else None
        self._planned_tokens = np.ascontiguousarray(
            np.zeros((n, n_c)) if planned is None else planned
        )
        self._listing_day = np.array(
            [np.datetime64(c.listing_date, "D") for c in ledger.contracts], "datetime64[D]"
        )
        self._last_trade_day = ledger.last_trading_day
        self._months = np.array(month_contracts(ledger.contracts), dtype=np.int64)
        self._need = np.array(ledger.rows_per_event, dtype=np.int64)
        row_bytes = 8 * n * (n_c + 1)
        window = max(history + 1, min(_HISTORY_ROWS, _HISTORY_BUDGET // max(row_bytes, 1)))
        rows = max(history - 1 + window, 2 * history)
        self._hist_spot = np.full((rows, n), np.nan)
        self._hist_fut = np.full((rows, n, n_c), np.nan)
        self._target = np.full((n, n_c), np.nan)
        self._scratch = np.zeros((2, n))
        self._istate = np.zeros(self._k.N_INT_STATE, np.int64)
        self._istate[self._k.S_HISTORY_ROW] = history - 2
        # when each value of the daily index (``Engine.index_days``) became known
        self._index_known = np.full(len(self.index_days), np.iinfo(np.int64).max)

    # -- one block ---------------------------------------------------------------------------

    def _run_block(self, block: MarketBlock) -> None:
        k, ledger = self._k, self.ledger
        n_c = ledger.positions.shape[1]
        gidx = np.array([self._codes[c] for c in block.contracts], dtype=np.int64)
        colmap = np.full(n_c, -1, np.int64)
        colmap[gidx] = np.arange(len(gidx))
        self.history.extend(block, gidx)  # for Python hooks' windows (built only if read)
        close = block.spot["close"]
        has_spot = ~np.isnan(close).all(axis=1)
        self._see_index(block, has_spot)
        closing = np.asarray(block.day_close) & has_spot
        fs, errors = self._final_settlements(block)
        tokens = block.consumption["tokens"]
        day = np.asarray(block.day, "datetime64[D]")
        args = {
            "kernel": self._kernel,
            "block_start": block.start,
            "now": _c(_int64(block.events, "datetime64[us]"), np.int64),
            "day": _c(day.view(np.int64), np.int64),
            "month": _months(day),
            "bar_start": _c(_int64(block.futures_start, "datetime64[us]"), np.int64),
            "has_spot": _c(has_spot, np.bool_),
            "has_futures": _c(~np.isnat(block.futures_start), np.bool_),
            "has_consumption": _c(~np.isnan(tokens).all(axis=1), np.bool_),
            "settling": _c(block.settlement, np.bool_),
            "deadline": self._deadlines(block),
            "spot_close": _c(close),
            "tokens": _c(tokens),
            "fut_open": _c(block.futures["open"]),
            "fut_close": _c(block.futures["close"]),
            "fut_settle": _c(block.futures["settle"]),
            "locked": _c(block.locked, np.bool_),
            "gidx": gidx,
            "colmap": colmap,
            "expiry": self._expiry(block.day),
            **fs,
            "planned": self._planned_tokens,
            "params": self._params,
            "history": self._history,
            "need": self._need,
            "last_close": self.last_close,
            "consumed": self.consumed,
            "hist_spot": self._hist_spot,
            "hist_fut": self._hist_fut,
            "state": self._state,
            "target": self._target,
            "istate": self._istate,
            "scratch": self._scratch,
            "call_hook": self._call_hook,
            "settle_hook": self._settle_hook,
        }
        first = 0
        while True:
            status, first = k.run_block(
                **args, first=first, orders=self.broker.orders, book=ledger.book,
                terms=ledger.terms, rows=ledger.rows, positions_view=ledger.book.positions,
            )  # fmt: skip
            if status == k.DONE:
                break
            if status == k.HOOK:
                self._enter(block, first - 1, closing)
                self._call("on_settle", self.strategy.on_settle)
            elif status == k.CALL_HOOK:
                self._enter(block, first, closing)
                self._assessed_calls()
                self._istate[k.S_RESUME] = 1
            elif status == k.FLUSH:
                self.stats["flushes"] += 1
                ledger.drain()
            elif status == k.GROW_DECISIONS:
                self.stats["decisions"] += 1
                self.broker.orders = layout.grow_decisions(self.broker.orders)
            elif status == k.NAN_SPEND:
                raise ValueError(
                    f"consumption at {block.events[first]}: tokens consumed but no spot index price"
                )
            elif status == k.MISSING_FIXINGS_AT:
                error = errors[int(self._istate[k.S_ERROR_ITEM])]
                assert error is not None
                raise error
            else:
                ledger.check(int(self._istate[k.S_CORE_STATUS]), f"event {block.events[first]}")
        self.stats["history_shifts"] = int(self._istate[k.S_HISTORY_SHIFTS])
        self.events_run = block.start + len(block)

    def _enter(self, block: MarketBlock, i: int, closing: np.ndarray) -> None:
        """Set the engine's state for a Python hook at event ``i`` of ``block`` where the
        Python path would have it: that event's time and day, its history row, the index
        known up to it. ``stats["hooks"]`` counts the settlements that ran hooks."""
        if self.now != block.events[i]:
            self.stats["hooks"] += 1
        self.now = block.events[i]
        self.today = block.day[i].astype("datetime64[D]").astype(dt.date)
        self.settling = True
        self.history.row = self.history.lead + i
        closed = np.flatnonzero(closing[: i + 1])
        if len(closed):
            self._last_closed_day = block.day[closed[-1]].astype("datetime64[D]").astype(dt.date)

    def _assessed_calls(self) -> None:
        """Run ``on_margin_call`` on the calls the driver just assessed, and hand its
        amendments of the liquidation orders to the ledger."""
        call = self.ledger.call_outcome(self.now, self.today).call
        assert call is not None
        self._margin_call(self.strategy.on_margin_call, call)

    @property
    def state(self) -> Floats:
        """The kernel's state array (after the run: its final state)."""
        return self._state

    # -- what Python prepares for a block --------------------------------------------------------

    def _see_index(self, block: MarketBlock, has_spot: np.ndarray) -> None:
        """Record the daily index values of the block (the last spot close of each day),
        and the event at which each becomes known — as ``Engine._see_spot`` does."""
        closing = np.flatnonzero(np.asarray(block.day_close) & has_spot)
        if not len(closing):
            return
        pos = (block.day[closing].astype("datetime64[D]") - self.first_day).astype(np.int64)
        close = block.spot["close"][closing]
        self.index_days[pos] = np.where(~np.isnan(close), close, np.nan)
        self._index_known[pos] = block.start + closing

    def _fixings(self, now: np.datetime64, known_at: int, days: np.ndarray) -> Floats:
        """``Engine.fixings`` at the event ``known_at``: index values known by then."""
        pos = (np.asarray(days, "datetime64[D]") - self.first_day).astype(np.int64)
        inside = (pos >= 0) & (pos < len(self.index_days))
        inside[inside] = self._index_known[pos[inside]] <= known_at
        values = np.full((len(pos), self.ledger.n_paths), np.nan)
        values[inside] = self.index_days[pos[inside]]
        return require_fixings(values, days, self.source.name, now)

    def _final_settlements(
        self, block: MarketBlock
    ) -> tuple[dict[str, np.ndarray], list[Exception | None]]:
        """The contracts whose final settlement falls at a settlement event of the block
        (the first on or after their final settlement day), in the order the ledger
        settles them, with their prices per path (``Ledger.final_prices`` with the
        index known at that event) — and each price's error, if it could not be fixed."""
        ledger = self.ledger
        events: list[int] = []
        contracts: list[int] = []
        prices: list[Floats] = []
        ok: list[np.ndarray] = []
        errors: list[Exception | None] = []
        for i in np.flatnonzero(block.settlement).tolist():
            waiting = ~ledger.settled
            if not waiting.any() or ledger.final_settlement_day[waiting].min() > block.day[i]:
                continue
            lookup = functools.partial(self._fixings, block.events[i], block.start + i)
            expired, fixed, fixed_ok, failed = ledger.final_prices(
                block.day[i].astype("datetime64[D]").astype(dt.date), lookup
            )
            events += [i] * len(expired)
            contracts += expired
            prices.append(fixed)
            ok.append(fixed_ok)
            errors += failed
        n = ledger.n_paths
        return {
            "fs_event": np.array(events, np.int64),
            "fs_contract": np.array(contracts, np.int64),
            "fs_price": np.ascontiguousarray(
                np.concatenate(prices) if prices else np.zeros((0, n))
            ),
            "fs_ok": np.concatenate(ok) if ok else np.zeros(0, np.bool_),
        }, errors

    def _deadlines(self, block: MarketBlock) -> np.ndarray:
        """For each settlement event, the day a margin call issued there must be met by."""
        out = np.zeros(len(block), np.int64)
        at = np.flatnonzero(block.settlement)
        days, which = np.unique(np.asarray(block.day[at], "datetime64[D]"), return_inverse=True)
        deadlines = [self.ledger.call_deadline(day) for day in days.tolist()]
        out[at] = np.array(deadlines, "datetime64[D]").view(np.int64)[which]
        return out

    def _expiry(self, days: np.ndarray) -> np.ndarray:
        """``(len(days), n_contracts)``: each event's chain as exchange days to expiry —
        for the month contracts listed that day, the business days in ``[day, last
        trading day)`` (``Chain.days_to_expiry``), -1 elsewhere."""
        day = np.asarray(days, "datetime64[D]")
        new = np.ones(len(day), dtype=bool)  # event days never decrease: no sort needed
        new[1:] = day[1:] != day[:-1]
        distinct, where = day[new], np.cumsum(new) - 1
        out = np.full((len(distinct), len(self._listing_day)), -1, np.int64)
        months = self._months
        if len(distinct) and len(months):
            last = self._last_trade_day[months]
            business = self.ledger.calendar.business_days(
                distinct[0].astype(dt.date), max(last.max(), distinct[-1]).astype(dt.date)
            )
            listed = (self._listing_day[months] <= distinct[:, None]) & (distinct[:, None] <= last)
            to_expiry = (
                np.searchsorted(business, last)[None, :]
                - np.searchsorted(business, distinct)[:, None]
            )
            out[:, months] = np.where(listed, to_expiry, -1)
        return np.ascontiguousarray(out[where], np.int64)


def _int64(times: np.ndarray, unit: str) -> np.ndarray:
    """``times`` in ``unit`` (``datetime64[us]`` ...) as int64, without a copy when they
    are already in it."""
    return np.asarray(times, unit).view(np.int64)


def _months(day: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of the nondecreasing ``datetime64[D]`` days: converted once per
    distinct day (numpy's calendar conversion is slow per element), int64, C-contiguous."""
    new = np.ones(len(day), dtype=bool)
    new[1:] = day[1:] != day[:-1]
    months = day[new].astype("datetime64[M]").astype(np.int64)
    return np.ascontiguousarray(np.repeat(months, np.diff(np.flatnonzero(new), append=len(day))))


def _c(a: npt.ArrayLike, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """A C-contiguous array of ``dtype`` (what the compiled loop takes)."""
    return np.ascontiguousarray(a, dtype=dtype)
