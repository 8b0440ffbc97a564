"""The compiled engine: strategies written as numba decision kernels, run in compiled loops.

The Python ``Engine`` pays about a hundred numpy calls per order; a strategy
whose decisions are a numba ``@njit`` *decision kernel* (a
``tokbt.kernel_strategy.KernelStrategy``) can instead run the whole timeline
in compiled code: ``CompiledEngine`` hands each ``MarketBlock`` to one numba
loop (``tokbt.engine.kernels.run_block``) that calls the kernel at every event
and does the broker's fills, the ledger's bookkeeping and the journal rows
itself. Python runs once per block (to cut the block, precompute the day's
chain and the final-settlement prices, and turn rows into Arrow), never per
event. State carries across blocks in arrays.

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

**Identity.** On the configurations it accepts, the compiled engine books
exactly what the Python engine books for the same ``KernelStrategy`` — same
journal rows in the same order, every column bit for bit, same events,
positions log and final ledger state — because it mirrors each numpy step as a
loop in the same order (see ``tokbt.engine.kernels``) and the kernel itself is
the same compiled function on both engines. ``tests/test_engine_compiled.py``
holds the two engines to that.

**Scope.** Supported: fills at ``next_open`` and ``close``, slippage ticks,
fees, limit-locked bars (``wait`` / ``cancel``), whole or fractional
contracts, the spec margin model, treasury funding, initial-margin top-ups,
margin calls (met at once from the treasury), daily variation margin, final
settlement at the averaged index, excess sweeps, consumption, interest. Not
supported — refused up front with ``UnsupportedError`` naming the setting
(``unsupported``): ``limited`` funding (credit line, rejection, liquidation),
SPAN margin, the liquidity (spread/impact) model, position limits, quarters
and years that cascade, and strategies with Python hooks.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tokbt.data.frames import MarketBlock, MarketSource, event_day
from tokbt.engine.config import BrokerConfig, EngineConfig
from tokbt.engine.context import month_contracts
from tokbt.engine.errors import StrategyError
from tokbt.engine.loop import Outputs, make_ledger, require_fixings
from tokbt.errors import DataError, TokbtError
from tokbt.ledger import LedgerConfig
from tokbt.ledger.journal import ACCOUNTS, KINDS
from tokbt.market import Contract, ContractSpec
from tokbt.market.ticks import GRID_EPS, tick_decimals

Floats = npt.NDArray[np.float64]

HOOKS = ("on_start", "on_bar", "on_settle", "on_margin_call", "on_end")
"""The Python engine's strategy hooks."""
_HISTORY_BUDGET = 32 << 20
"""Bytes of history buffer the compiled loop keeps beyond the strategy's window..."""
_HISTORY_ROWS = 1 << 16
"""... and at most this many events of it."""
_MIN_ROWS = 1 << 16
"""Rows each row buffer holds at least..."""
_BUFFER_EVENTS = 4
"""... and at least the rows this many events could write at most."""
_MIN_DECISIONS = 16
"""Decisions the decision log holds at first (it doubles when full)."""


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


def unsupported(
    strategy: Any,
    contracts: Sequence[Contract],
    broker: BrokerConfig,
    ledger: LedgerConfig,
) -> list[str]:
    """Why the compiled engine cannot run ``strategy`` over ``contracts`` with these
    settings (empty: it can)."""
    reasons = []
    if not isinstance(strategy, KernelProgram):
        reasons.append(f"strategy {label(strategy)!r} is not a KernelStrategy (no decision kernel)")
    elif hooks := strategy.python_hooks():
        reasons.append(
            f"strategy {label(strategy)!r} implements Python hooks ({', '.join(hooks)}), "
            "which only the python engine runs"
        )
    if ledger.funding != "treasury":
        reasons.append(
            f'ledger.funding = "{ledger.funding}" (credit line, rejections, liquidation)'
        )
    if ledger.margin_model != "spec":
        reasons.append(f'ledger.margin_model = "{ledger.margin_model}"')
    if broker.liquidity is not None:
        reasons.append('broker.liquidity (the spread and impact model; "none" is supported)')
    if broker.position_limit is not None:
        reasons.append(f"broker.position_limit = {broker.position_limit:g}")
    cascading = [c.code for c in contracts if c.cascades_into]
    if cascading:
        reasons.append(f"contracts that cascade ({', '.join(cascading[:3])}: quarters and years)")
    return reasons


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


def _frozen(a: npt.ArrayLike, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """A read-only C-contiguous array (what the compiled loop's read-only arguments take)."""
    out = np.ascontiguousarray(a, dtype=dtype)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


def _strings(values: Sequence[str], codes: np.ndarray) -> pa.Array:
    """``values[codes]`` as an Arrow string array, null where a code is negative (built
    from its buffers: several times faster than a dictionary cast or a take)."""
    from tokbt.engine.kernels import gather_strings

    encoded = [v.encode() for v in values]
    table = np.zeros(len(encoded) + 1, np.int64)
    table[1:] = np.cumsum([len(e) for e in encoded])
    blob = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    offsets, data = gather_strings(np.ascontiguousarray(codes, np.int64), table, blob)
    missing = codes < 0
    nulls = int(missing.sum())
    validity = pa.array(~missing, pa.bool_()).buffers()[1] if nulls else None
    return pa.StringArray.from_buffers(
        len(codes), pa.py_buffer(offsets), pa.py_buffer(data), validity, nulls
    )


class _Rows:
    """Row buffers the compiled loop fills: journal, event log, position log."""

    def __init__(self, n_paths: int, n_contracts: int) -> None:
        from tokbt.engine import kernels as k

        journal, events, positions = k.rows_per_event(n_paths, n_contracts)
        self.ji = np.zeros((max(_BUFFER_EVENTS * journal, _MIN_ROWS), 5), np.int64)
        self.jf = np.zeros((len(self.ji), 3))
        self.ei = np.zeros((max(_BUFFER_EVENTS * events, _MIN_ROWS), 5), np.int64)
        self.ef = np.zeros((len(self.ei), 2))
        self.pi = np.zeros((max(_BUFFER_EVENTS * positions, _MIN_ROWS), 3), np.int64)
        self.pf = np.zeros((len(self.pi), 2))
        self.counts = np.zeros(3, np.int64)


class CompiledEngine:
    """Replays ``source`` through a kernel ``strategy`` in compiled loops (see the module
    docstring); the same interface and results as ``Engine`` for what it supports.

    Args:
        source: the market (stored, in-memory or simulated).
        strategy: a ``KernelProgram`` (``KernelStrategy``) without Python hooks.
        broker, ledger, engine: settings (defaults if omitted); ``UnsupportedError``
            lists whatever the compiled engine does not support.
        outputs: where journal, positions and events go.

    Attributes:
        ledger: the ``Ledger`` with the run's journal, logs and final state.
        compile_seconds: time spent compiling (or loading from numba's cache) the
            loop and the kernel when the run started.
        stats: how often the loop stopped to drain its row buffers (``flushes``) or
            grow its decision log (``decisions``), and shifted its history buffer
            (``history_shifts``).
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
        self.source = source
        self.strategy = strategy
        self.config = engine or EngineConfig()
        self.broker_config = broker or BrokerConfig()
        ledger_config = ledger or LedgerConfig()
        contracts = tuple(source.spec.contract(c) for c in source.contracts)
        reasons = unsupported(strategy, contracts, self.broker_config, ledger_config)
        if reasons:
            raise UnsupportedError(
                f"the compiled engine cannot run this backtest: {'; '.join(reasons)} "
                '(use engine="python")'
            )
        n = len(source.path_ids)
        self.ledger = make_ledger(source, ledger_config, outputs or Outputs())
        self._codes = {code: i for i, code in enumerate(source.contracts)}
        self.consumed = np.zeros(n)
        self.events_run = 0
        self.compile_seconds = 0.0
        self.stats = {"flushes": 0, "decisions": 0, "history_shifts": 0}

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
        self._start(kernel)
        for block in self.source.market_blocks():
            self._run_block(block)
            if progress is not None:
                progress(self.events_run)
        self._finish()
        return self

    def _start(self, kernel: Any) -> None:
        k, ledger, strategy = self._k, self.ledger, self.strategy
        n, n_c = ledger.positions.shape
        history = int(strategy.history_events())
        check_history(strategy, history, self.config.history)
        self._kernel = kernel
        self._history = history
        self._params = _frozen(strategy.kernel_params(ledger.spec, ledger.codes))
        self._state = np.ascontiguousarray(strategy.initial_state(n, n_c), dtype=np.float64)
        planned = planned_tokens(self.source, ledger.contracts) if strategy.needs_plan() else None
        self._planned = _frozen(np.zeros((n, n_c)) if planned is None else planned)
        self._listing_day = np.array(
            [np.datetime64(c.listing_date, "D") for c in ledger.contracts], "datetime64[D]"
        )
        self._last_trade_day = ledger.last_trading_day
        self._listing = _frozen(self._listing_day.astype(np.int64), np.int64)
        self._last_trade = _frozen(self._last_trade_day.astype(np.int64), np.int64)
        self._final_day = ledger.final_settlement_day
        self._months = np.array(month_contracts(ledger.contracts), dtype=np.int64)
        cfg, spec, led = self.broker_config, ledger.spec, ledger.config
        ints = np.zeros(k.N_CONFIG_INTS, np.int64)
        ints[k.C_AT_CLOSE] = cfg.fill == "close"
        ints[k.C_CANCEL_LOCKED] = cfg.on_locked == "cancel"
        ints[k.C_WHOLE] = cfg.whole_contracts
        ints[k.C_HISTORY] = history
        ints[k.C_SWEEP] = led.sweep_excess
        ints[k.C_LOG_POSITIONS] = ledger.positions_log is not None
        floats = np.zeros(k.N_CONFIG_FLOATS)
        floats[k.F_MULT] = spec.multiplier
        floats[k.F_TICK] = spec.tick_size
        floats[k.F_SCALE] = 10.0 ** tick_decimals(spec.tick_size)
        floats[k.F_SLIPPAGE] = cfg.slippage_ticks
        floats[k.F_FEE] = cfg.fee_per_contract
        floats[k.F_IM] = spec.initial_margin
        floats[k.F_MM_RATIO] = spec.maintenance_ratio
        floats[k.F_BUFFER] = led.margin_buffer
        floats[k.F_CASH_RATE] = led.cash_rate
        floats[k.F_FUNDING_RATE] = led.funding_rate
        floats[k.F_MARGIN_RATE] = led.margin_rate
        floats[k.F_CREDIT_RATE] = led.credit_rate
        floats[k.F_MARKUP] = led.consumption_markup
        floats[k.F_BASIS] = led.consumption_basis
        floats[k.F_GRID_EPS] = GRID_EPS
        self._ci, self._cf = _frozen(ints, np.int64), _frozen(floats)
        # where the loop's row kinds and accounts sit in the journal's totals and balances
        self._kind_pos = np.array([KINDS.index(kind) for kind in k.ROW_KINDS])
        self._account_pos = np.array([ACCOUNTS.index(a) for a in k.ROW_ACCOUNTS])
        self._accounts = self._account_pos.tolist()
        self._balances = np.ascontiguousarray(ledger.balances[self._accounts])
        self._last_close = np.full(n, np.nan)
        self._due = np.zeros((n, n_c))
        self._pending = np.zeros((n, n_c))
        self._dec_i = np.zeros((max(_MIN_DECISIONS, n_c), 2), np.int64)
        self._dec_q = np.zeros((len(self._dec_i), n))
        row_bytes = 8 * n * (n_c + 1)
        window = max(history + 1, min(_HISTORY_ROWS, _HISTORY_BUDGET // max(row_bytes, 1)))
        rows = max(history - 1 + window, 2 * history)
        self._hist_spot = np.full((rows, n), np.nan)
        self._hist_fut = np.full((rows, n, n_c), np.nan)
        self._target = np.full((n, n_c), np.nan)
        self._istate = np.zeros(k.N_INT_STATE, np.int64)
        self._istate[k.S_LAST_ACCRUAL] = k.NO_DAY
        self._istate[k.S_HISTORY_ROW] = history - 2
        self._rows = _Rows(n, n_c)
        # the daily index as the Python engine keeps it, and when each value became known
        days = event_day(self.source.events)
        self._first_day = days[0] if len(days) else np.datetime64("1970-01-01", "D")
        n_days = int((days[-1] - self._first_day).astype(np.int64)) + 1 if len(days) else 0
        self._index_days = np.full((n_days, n), np.nan)
        self._index_known = np.full(n_days, np.iinfo(np.int64).max)
        self._call_details: dict[int, str] = {}

    def _finish(self) -> None:
        ledger = self.ledger
        ledger.balances[self._accounts] = self._balances
        days = self._istate[self._k.S_LAST_ACCRUAL]
        if days != self._k.NO_DAY:
            ledger._last_accrual = (np.datetime64(0, "D") + np.timedelta64(int(days), "D")).astype(
                dt.date
            )
        self.strategy.finish(self._state)
        ledger.journal.flush()

    # -- one block ---------------------------------------------------------------------------

    def _run_block(self, block: MarketBlock) -> None:
        k, ledger = self._k, self.ledger
        n_c = ledger.positions.shape[1]
        gidx = np.array([self._codes[c] for c in block.contracts], dtype=np.int64)
        colmap = np.full(n_c, -1, np.int64)
        colmap[gidx] = np.arange(len(gidx))
        close = block.spot["close"]
        has_spot = ~np.isnan(close).all(axis=1)
        self._see_index(block, has_spot)
        fs = self._final_settlements(block)
        tokens = block.consumption["tokens"]
        args = {
            "now": _frozen(block.events.astype("datetime64[us]").view(np.int64), np.int64),
            "day": _frozen(block.day.astype("datetime64[D]").astype(np.int64), np.int64),
            "bar_start": _frozen(
                block.futures_start.astype("datetime64[us]").view(np.int64), np.int64
            ),
            "has_spot": _frozen(has_spot, np.bool_),
            "has_futures": _frozen(~np.isnat(block.futures_start), np.bool_),
            "has_consumption": _frozen(~np.isnan(tokens).all(axis=1), np.bool_),
            "settling": _frozen(block.settlement, np.bool_),
            "spot_close": _frozen(close),
            "tokens": _frozen(tokens),
            "fut_open": _frozen(block.futures["open"]),
            "fut_close": _frozen(block.futures["close"]),
            "fut_settle": _frozen(block.futures["settle"]),
            "locked": _frozen(block.locked, np.bool_),
            "gidx": _frozen(gidx, np.int64),
            "colmap": _frozen(colmap, np.int64),
            "expiry": self._expiry(block.day),
            **fs,
        }
        first = 0
        while True:
            status, first = k.run_block(*self._arguments(block, first, args))
            self._drain(block)
            if status == k.DONE:
                break
            if status == k.FLUSH:
                self.stats["flushes"] += 1
            elif status == k.GROW_DECISIONS:
                self.stats["decisions"] += 1
                self._dec_i = np.concatenate([self._dec_i, np.zeros_like(self._dec_i)])
                self._dec_q = np.concatenate([self._dec_q, np.zeros_like(self._dec_q)])
            elif status == k.NAN_CONSUMPTION:
                raise ValueError(
                    f"consumption at {block.events[first]}: tokens consumed but no spot index price"
                )
            elif status == k.MISSING_FIXINGS:
                error = self._fixing_errors[int(self._istate[k.S_ERROR_ITEM])]
                assert error is not None
                raise error
        ledger.balances[self._accounts] = self._balances
        self.stats["history_shifts"] = int(self._istate[k.S_HISTORY_SHIFTS])
        self.events_run = block.start + len(block)

    @property
    def state(self) -> Floats:
        """The kernel's state array (after the run: its final state)."""
        return self._state

    def _arguments(self, block: MarketBlock, first: int, args: dict[str, Any]) -> list[Any]:
        ledger, rows = self.ledger, self._rows
        values = {
            **args,
            "kernel": self._kernel,
            "first": first,
            "block_start": block.start,
            "listing": self._listing,
            "last_trade": self._last_trade,
            "planned": self._planned,
            "params": self._params,
            "ci": self._ci,
            "cf": self._cf,
            "positions": ledger.positions,
            "marks": ledger.marks,
            "accrued": ledger.accrued,
            "pnl": ledger.pnl,
            "delivered": ledger.delivered,
            "balances": self._balances,
            "spent": ledger.spent,
            "consumed": self.consumed,
            "last_close": self._last_close,
            "due": self._due,
            "pending": self._pending,
            "dec_i": self._dec_i,
            "dec_q": self._dec_q,
            "hist_spot": self._hist_spot,
            "hist_fut": self._hist_fut,
            "state": self._state,
            "target": self._target,
            "istate": self._istate,
            "ji": rows.ji,
            "jf": rows.jf,
            "ei": rows.ei,
            "ef": rows.ef,
            "pi": rows.pi,
            "pf": rows.pf,
            "counts": rows.counts,
        }
        return [values[name] for name in self._k.DRIVER_ARGUMENTS]

    # -- what Python prepares for a block --------------------------------------------------------

    def _see_index(self, block: MarketBlock, has_spot: np.ndarray) -> None:
        """Record the daily index values of the block (the last spot close of each day),
        and the event at which each becomes known — as ``Engine._see_spot`` does."""
        closing = np.flatnonzero(np.asarray(block.day_close) & has_spot)
        if not len(closing):
            return
        pos = (block.day[closing].astype("datetime64[D]") - self._first_day).astype(np.int64)
        close = block.spot["close"][closing]
        self._index_days[pos] = np.where(~np.isnan(close), close, np.nan)
        self._index_known[pos] = block.start + closing

    def _fixings(self, now: np.datetime64, known_at: int, days: np.ndarray) -> Floats:
        """``Engine.fixings`` at the event ``known_at``: index values known by then."""
        pos = (np.asarray(days, "datetime64[D]") - self._first_day).astype(np.int64)
        inside = (pos >= 0) & (pos < len(self._index_days))
        inside[inside] = self._index_known[pos[inside]] <= known_at
        values = np.full((len(pos), self.ledger.n_paths), np.nan)
        values[inside] = self._index_days[pos[inside]]
        return require_fixings(values, days, self.source.name, now)

    def _final_settlements(self, block: MarketBlock) -> dict[str, np.ndarray]:
        """The contracts whose final settlement falls at a settlement event of the block
        (the first on or after their final settlement day), in the order the ledger
        settles them, and their prices per path (computed by the ledger's settlement
        model from the index known at that event)."""
        ledger = self.ledger
        at = np.flatnonzero(block.settlement)
        entries: list[tuple[int, int]] = []
        if len(at):
            days = block.day[at].astype("datetime64[D]")
            for c in np.flatnonzero(~ledger.settled).tolist():
                j = int(np.searchsorted(days, self._final_day[c], side="left"))
                if j < len(at):
                    entries.append((int(at[j]), c))
        entries.sort()
        prices = np.zeros((len(entries), ledger.n_paths))
        ok = np.ones(len(entries), dtype=bool)
        self._fixing_errors: list[DataError | None] = []
        for e, (i, c) in enumerate(entries):
            ledger.settled[c] = True
            lookup = functools.partial(self._fixings, block.events[i], block.start + i)
            try:
                prices[e] = ledger.settlement.final_price(ledger.contracts[c], lookup)
                self._fixing_errors.append(None)
            except DataError as exc:  # raised only if the contract has something to settle
                ok[e] = False
                self._fixing_errors.append(exc)
        return {
            "fs_event": _frozen([i for i, _ in entries], np.int64),
            "fs_contract": _frozen([c for _, c in entries], np.int64),
            "fs_price": _frozen(prices),
            "fs_ok": _frozen(ok, np.bool_),
        }

    def _expiry(self, days: np.ndarray) -> np.ndarray:
        """``(len(days), n_contracts)``: each event's chain as exchange days to expiry —
        for the month contracts listed that day, the business days in ``[day, last
        trading day)`` (``Chain.days_to_expiry``), -1 elsewhere."""
        day = np.asarray(days, "datetime64[D]")
        new = np.ones(len(day), dtype=bool)  # event days never decrease: no sort needed
        new[1:] = day[1:] != day[:-1]
        distinct, where = day[new], np.cumsum(new) - 1
        out = np.full((len(distinct), len(self._listing)), -1, np.int64)
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
        return _frozen(out[where], np.int64)

    # -- rows into Arrow -------------------------------------------------------------------------

    def _drain(self, block: MarketBlock) -> None:
        """Append the rows the loop wrote to the journal, the event log and the position
        log, as the Python engine's ledger writes them; empty the buffers."""
        counts = self._rows.counts
        events = np.asarray(block.events, "datetime64[us]")
        if counts[0]:
            self._drain_journal(events, int(counts[0]))
        if counts[1]:
            self._drain_events(events, block.day, int(counts[1]))
        if counts[2]:
            self._drain_positions(events, int(counts[2]))
        counts[:] = 0

    def _drain_journal(self, events: np.ndarray, m: int) -> None:
        k, journal = self._k, self.ledger.journal
        ints, floats = self._rows.ji[:m], self._rows.jf[:m]
        kinds, accounts, paths = ints[:, k.J_KIND], ints[:, k.J_ACCOUNT], ints[:, k.J_PATH]
        amounts = floats[:, k.J_AMOUNT].copy()
        if np.isnan(amounts).any():
            r = int(np.flatnonzero(np.isnan(amounts))[0])
            raise ValueError(
                f"journal: NaN amount for {k.ROW_KINDS[kinds[r]]} on "
                f"{k.ROW_ACCOUNTS[accounts[r]]} at {events[ints[r, k.J_EVENT]]}"
            )
        # the journal's running totals, added row by row in order as Journal.record does
        cells = (self._kind_pos[kinds], self._account_pos[accounts], paths)
        np.add.at(journal._totals, cells, amounts)
        if not journal.log.keep_rows:  # rows are counted, not kept
            journal.log.rows += m
            return
        has_qty = np.asarray(k.ROW_HAS_QTY)[kinds]
        has_price = np.asarray(k.ROW_HAS_PRICE)[kinds]
        journal.log.append(
            [
                pa.array(events[ints[:, k.J_EVENT]]),
                pa.array(journal.path_ids[paths]),
                _strings([a.value for a in k.ROW_ACCOUNTS], accounts),
                _strings(self.ledger.codes, ints[:, k.J_CONTRACT]),
                _strings([kind.value for kind in k.ROW_KINDS], kinds),
                pa.array(floats[:, k.J_QTY].copy(), mask=~has_qty),
                pa.array(floats[:, k.J_PRICE].copy(), mask=~has_price),
                pa.array(amounts),
            ]
        )

    def _drain_events(self, events: np.ndarray, days: np.ndarray, m: int) -> None:
        k = self._k
        ints, floats = self._rows.ei[:m], self._rows.ef[:m]
        kinds = ints[:, k.E_KIND]
        details = ["expired", "not yet listed", "limit locked: cancelled"]
        detail = ints[:, k.E_DETAIL].copy()
        due = np.flatnonzero(detail == k.DUE)
        if len(due):
            day = np.asarray(days, "datetime64[D]")[ints[due, k.E_EVENT]]
            distinct, where = np.unique(day, return_inverse=True)
            detail[due] = len(details) + where.reshape(-1)
            details += [self._call_detail(d) for d in distinct.astype(dt.date).tolist()]
        self.ledger.events.append(
            [
                pa.array(events[ints[:, k.E_EVENT]]),
                pa.array(self.ledger.journal.path_ids[ints[:, k.E_PATH]]),
                _strings(["order_rejected", "margin_call"], kinds),
                _strings(self.ledger.codes, ints[:, k.E_CONTRACT]),
                pa.array(floats[:, k.E_QTY].copy(), mask=kinds != k.REJECTED),
                pa.array(floats[:, k.E_AMOUNT].copy(), mask=kinds != k.CALLED),
                _strings(details, detail),
            ]
        )

    def _call_detail(self, day: dt.date) -> str:
        """The detail of a margin call issued on ``day``: when it is due."""
        deadline = self.ledger.calendar.offset(day, self.ledger.config.call_deadline_days)
        return f"due {deadline}"

    def _drain_positions(self, events: np.ndarray, m: int) -> None:
        k, log = self._k, self.ledger.positions_log
        assert log is not None
        ints, floats = self._rows.pi[:m], self._rows.pf[:m]
        log.append(
            [
                pa.array(events[ints[:, k.P_EVENT]]),
                pa.array(self.ledger.journal.path_ids[ints[:, k.P_PATH]]),
                _strings(self.ledger.codes, ints[:, k.P_CONTRACT]),
                pa.array(floats[:, k.P_QTY].copy()),
                pa.array(floats[:, k.P_SETTLE].copy()),
            ]
        )
