"""Per-path metrics: objects with lifecycle hooks, registered into named metric sets.

A metric sees a run the way zipline's metrics see a simulation: ``start(frame)``
once, then ``journal(rows)`` and ``events(rows)`` for each batch of rows in time
order, then ``finish()``, which returns its per-path columns (``daily()`` and
``monthly()`` add ``(n_days, n_paths)`` / ``(n_paths, n_months)`` arrays). It reads
the journal and events only — never the ledger or the strategy — so the same
numbers come from a run in memory, from its Parquet files, or from the store.

Sign conventions: journal amounts are cash *into* the enterprise's accounts;
the metrics report costs as positive USD paid and P&L as positive USD gained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tokbt.ledger.journal import KINDS, EntryKind
from tokbt.metrics import kernels
from tokbt.metrics.decompose import COMPONENTS, AfterInception, decompose
from tokbt.metrics.rows import (
    EventRows,
    Floats,
    Ints,
    JournalRows,
    RunFrame,
    core_day,
    decode_core_journal,
    decode_events,
    decode_journal,
    first_day,
    outside_days,
)
from tokbt.metrics.stats import over_time_variance

_K = {k: i for i, k in enumerate(KINDS)}


class Metric:
    """A per-path measure of a run (see the module docstring for the lifecycle).

    Subclasses set ``columns`` (the per-path columns ``finish`` returns) and
    override the hooks they need; ``start`` keeps the frame as ``self.frame``.
    """

    columns: ClassVar[tuple[str, ...]] = ()
    frame: RunFrame

    def start(self, frame: RunFrame) -> None:
        """Called once before any rows, with what the run knows besides its journal."""
        self.frame = frame

    def journal(self, rows: JournalRows) -> None:
        """Called for each batch of journal rows, in time order."""

    def events(self, rows: EventRows) -> None:
        """Called for each batch of event rows, in time order."""

    def finish(self) -> dict[str, Floats]:
        """Per-path columns ``(n_paths,)``, named as in ``columns``."""
        return {}

    def daily(self) -> dict[str, Floats]:
        """Daily series ``(n_days, n_paths)`` (value at each day's end)."""
        return {}

    def monthly(self) -> dict[str, Floats]:
        """Monthly values ``(n_paths, n_months)``."""
        return {}


class Spend(Metric):
    """Tokens, unhedged and hedged cost, unit costs, fees, funding cost, budget.

    ``hedged_cost = unhedged_cost − futures_pnl + fees + funding_cost`` where
    ``futures_pnl`` is every variation-margin and final-settlement flow. The
    budget prices the plan at the first price paid for tokens on each path.
    """

    columns = (
        "tokens",
        "unhedged_cost",
        "hedged_cost",
        "unit_cost_unhedged",
        "unit_cost_hedged",
        "futures_pnl",
        "fees",
        "funding_cost",
        "budget",
        "overrun",
    )

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        n = frame.n_paths
        self.amounts = np.zeros((len(KINDS), n))
        self.tokens = np.zeros(n)
        self.first_day = np.full(n, np.iinfo(np.int64).max)
        self.first_price = np.full(n, np.nan)

    def journal(self, rows: JournalRows) -> None:
        kernels.spend_pass(
            rows.day, rows.path, rows.kind, rows.qty, rows.price, rows.amount, *self.core_state()
        )

    def core_state(self) -> tuple[Floats, Floats, Ints, Floats]:
        """The accumulators ``kernels.spend_pass`` adds rows into."""
        return self.amounts, self.tokens, self.first_day, self.first_price

    def finish(self) -> dict[str, Floats]:
        s = {kind: self.amounts[_K[kind]] for kind in KINDS}
        futures = s[EntryKind.VARIATION_MARGIN] + s[EntryKind.FINAL_SETTLEMENT]
        fees, funding = -s[EntryKind.FEE], -s[EntryKind.INTEREST]
        unhedged = -s[EntryKind.CONSUMPTION]
        hedged = unhedged - futures + fees + funding
        with np.errstate(divide="ignore", invalid="ignore"):
            unit_u = np.where(self.tokens > 0, unhedged / self.tokens, np.nan)
            unit_h = np.where(self.tokens > 0, hedged / self.tokens, np.nan)
        budget = self.frame.plan_tokens * self.first_price
        return {
            "tokens": self.tokens.copy(),
            "unhedged_cost": unhedged,
            "hedged_cost": hedged,
            "unit_cost_unhedged": unit_u,
            "unit_cost_hedged": unit_h,
            "futures_pnl": futures,
            "fees": fees,
            "funding_cost": funding,
            "budget": budget,
            "overrun": hedged - budget,
        }


class Attribution(Metric):
    """Futures P&L split by what happened to each contract, basis P&L, realised ratio.

    * ``roll_pnl``: every flow of the contracts closed out before their final
      settlement (rolled, rebalanced away, liquidated) on that path;
    * ``variation_margin`` and ``final_settlement``: the flows of every other
      contract (held to final settlement or still open at the end), so
      ``variation_margin + final_settlement + roll_pnl = futures_pnl``;
    * ``basis_pnl``: of the delivered P&L, what comes from the final
      settlement price differing from the spend-weighted price paid for tokens
      over the contract's delivery period: ``Σ tokens delivered × (FSP − p̄)``;
    * ``hedge_ratio``: tokens delivered by futures held to final settlement /
      tokens consumed.
    """

    columns = ("variation_margin", "final_settlement", "roll_pnl", "basis_pnl", "hedge_ratio")

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        n, k, d = frame.n_paths, len(frame.contracts), len(frame.days)
        self.vm = np.zeros(n * k)
        self.final = np.zeros(n * k)
        self.delivered = np.zeros(n * k)
        self.final_price = np.full(n * k, np.nan)
        self.traded = np.zeros(n * k)
        self.touched = np.zeros(n * k, dtype=bool)
        self.last_trade = np.full(n * k, -1, dtype=np.int64)
        self.spend = np.zeros((d, n))
        self.tokens = np.zeros((d, n))

    def journal(self, rows: JournalRows) -> None:
        kernels.attribution_pass(
            rows.day, rows.path, rows.kind, rows.contract, rows.qty, rows.price, rows.amount,
            len(self.frame.contracts), *self.core_state(),
        )  # fmt: skip

    def core_state(self) -> tuple[np.ndarray, ...]:
        """The accumulators ``kernels.attribution_pass`` adds rows into."""
        return (
            self.vm, self.final, self.delivered, self.traded, self.touched, self.last_trade,
            self.final_price, self.spend, self.tokens,
        )  # fmt: skip

    def finish(self) -> dict[str, Floats]:
        n, k = self.frame.n_paths, len(self.frame.contracts)
        delivered = self.delivered.reshape(n, k)
        flat = np.isclose(self.traded.reshape(n, k), 0.0, atol=1e-9)
        closed = self.touched.reshape(n, k) & (delivered == 0) & flat & ~self._cascaded()
        vm, final = self.vm.reshape(n, k), self.final.reshape(n, k)
        tokens_delivered = delivered * self.frame.multiplier
        consumed = self.tokens.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(consumed > 0, tokens_delivered.sum(axis=1) / consumed, np.nan)
        return {
            "variation_margin": np.where(closed, 0.0, vm).sum(axis=1),
            "final_settlement": np.where(closed, 0.0, final).sum(axis=1),
            "roll_pnl": np.where(closed, vm + final, 0.0).sum(axis=1),
            "basis_pnl": self._basis(tokens_delivered),
            "hedge_ratio": ratio,
        }

    def _cascaded(self) -> npt.NDArray[np.bool_]:
        """``(n, k)``: a quarter or year traded on its last trading day was carried into
        its months (EEX cascading), not closed out."""
        frame = self.frame
        n, k = frame.n_paths, len(frame.contracts)
        ltd = (frame.cascade_day - frame.days[0]).astype(np.int64)  # NaT: very negative
        cascades = ~np.isnat(frame.cascade_day)
        last = self.last_trade.reshape(n, k)
        return np.asarray(cascades[None, :] & (last >= ltd[None, :]) & (last >= 0))

    def _basis(self, tokens_delivered: Floats) -> Floats:
        frame = self.frame
        n, k = frame.n_paths, len(frame.contracts)
        if k == 0:
            return np.zeros(n)
        first = frame.days[0]
        lo = np.clip((frame.delivery_start - first).astype(np.int64), 0, len(frame.days))
        hi = np.clip((frame.delivery_end - first).astype(np.int64) + 1, 0, len(frame.days))
        cum_spend = np.vstack([np.zeros(n), np.cumsum(self.spend, axis=0)])
        cum_tokens = np.vstack([np.zeros(n), np.cumsum(self.tokens, axis=0)])
        spend = (cum_spend[hi] - cum_spend[lo]).T  # (n, k)
        tokens = (cum_tokens[hi] - cum_tokens[lo]).T
        with np.errstate(divide="ignore", invalid="ignore"):
            paid = spend / tokens
        gap = self.final_price.reshape(n, k) - paid
        use = (tokens_delivered != 0) & (tokens > 0) & np.isfinite(gap)
        with np.errstate(invalid="ignore"):  # a non-finite product is masked out
            delivered_gap = np.where(use, tokens_delivered * gap, 0.0)
        return np.asarray(delivered_gap.sum(axis=1), np.float64)


class Funding(Metric):
    """Margin posted, funding need, credit drawn and the hedge's drawdown, day by day.

    * ``margin_posted``: the margin account's balance;
    * ``funding_need``: net cash moved into the margin account from operating
      cash and the credit line (deposits, margin calls, minus withdrawals);
    * ``hedge_pnl``: cumulative futures P&L − fees − funding cost;
    * ``peak_*``: the largest value over the run (0 if never positive);
      ``max_drawdown``: the largest fall of ``hedge_pnl`` from its running peak.
    """

    columns = ("peak_margin", "peak_funding", "peak_credit", "max_drawdown")

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        shape = (len(frame.days), frame.n_paths)
        self.margin, self.funding = np.zeros(shape), np.zeros(shape)
        self.credit, self.hedge = np.zeros(shape), np.zeros(shape)
        self._series: dict[str, Floats] | None = None

    def journal(self, rows: JournalRows) -> None:
        kernels.funding_pass(
            rows.day, rows.path, rows.kind, rows.account, rows.amount, *self.core_state()
        )

    def core_state(self) -> tuple[Floats, Floats, Floats, Floats]:
        """The accumulators ``kernels.funding_pass`` adds rows into (the daily series
        summed from them are forgotten: rows are coming)."""
        self._series = None
        return self.margin, self.funding, self.credit, self.hedge

    def daily(self) -> dict[str, Floats]:
        return {k: v for k, v in self._summed().items() if k != "peaks"}

    def finish(self) -> dict[str, Floats]:
        peaks = self._summed()["peaks"]
        return dict(zip(self.columns, peaks, strict=True))

    def _summed(self) -> dict[str, Floats]:
        """The daily series and the peaks (``kernels.funding_series``), summed once for
        ``daily`` and ``finish``."""
        if self._series is None:
            shape = self.margin.shape
            posted, need, pnl = np.empty(shape), np.empty(shape), np.empty(shape)
            peaks = np.empty((len(self.columns), shape[1]))
            kernels.funding_series(
                self.margin, self.funding, self.credit, self.hedge, posted, need, pnl, peaks
            )
            self._series = {
                "margin_posted": posted, "funding_need": need, "hedge_pnl": pnl, "peaks": peaks
            }  # fmt: skip
        return self._series


class HedgeRatio(Metric):
    """The hedge ratio day by day: futures tokens held at the day's end / tokens
    consumed over the rest of the run (ex post; NaN once nothing is left to consume)."""

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        shape = (len(frame.days), frame.n_paths)
        self.held, self.tokens = np.zeros(shape), np.zeros(shape)

    def journal(self, rows: JournalRows) -> None:
        kernels.hedge_ratio_pass(
            rows.day, rows.path, rows.kind, rows.contract, rows.qty, *self.core_state()
        )

    def core_state(self) -> tuple[Floats, Floats]:
        """The accumulators ``kernels.hedge_ratio_pass`` adds rows into."""
        return self.held, self.tokens

    def daily(self) -> dict[str, Floats]:
        ratio = np.empty(self.held.shape)
        kernels.hedge_ratio_series(self.held, self.tokens, self.frame.multiplier, ratio)
        return {"hedge_ratio": ratio}


class MarginEvents(Metric):
    """Margin calls issued and forced liquidations, per path."""

    columns = ("margin_calls", "liquidations")

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        self.counts = {c: np.zeros(frame.n_paths) for c in self.columns}

    def events(self, rows: EventRows) -> None:
        n = self.frame.n_paths
        for column, event in (("margin_calls", "margin_call"), ("liquidations", "liquidation")):
            hit = rows.path[rows.event == event]
            self.counts[column] += np.bincount(hit, minlength=n)

    def finish(self) -> dict[str, Floats]:
        return {c: v.copy() for c, v in self.counts.items()}


class MonthlyCost(Metric):
    """Tokens, unhedged and hedged cost per calendar month (hedge accounting), and each
    path's variance over months (ddof 1) of its monthly unit cost, hedged and unhedged.

    A contract's variation margin, final settlement and fees count in the month
    its delivery starts (the month it hedges), whenever the cash moved; interest
    and fees without a contract count in the month they occur.
    """

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        shape = (frame.n_paths, len(frame.months))
        self.tokens, self.spend, self.flows = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.day_month = frame.month_of_day()
        self.contract_month = frame.delivery_month()

    def journal(self, rows: JournalRows) -> None:
        kernels.monthly_pass(
            rows.day, rows.path, rows.kind, rows.contract, rows.qty, rows.amount,
            *self.core_state(),
        )  # fmt: skip

    def core_state(self) -> tuple[Ints, Ints, Floats, Floats, Floats]:
        """The month maps and the accumulators ``kernels.monthly_pass`` adds rows into."""
        return self.day_month, self.contract_month, self.tokens, self.spend, self.flows

    columns = ("unit_cost_var_hedged", "unit_cost_var_unhedged")

    def finish(self) -> dict[str, Floats]:
        monthly = self.monthly()
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = {
                side: np.where(self.tokens > 0, monthly[f"{side}_cost"] / self.tokens, np.nan)
                for side in ("hedged", "unhedged")
            }
        return {f"unit_cost_var_{side}": over_time_variance(u) for side, u in unit.items()}

    def monthly(self) -> dict[str, Floats]:
        return {
            "tokens": self.tokens.copy(),
            "unhedged_cost": self.spend.copy(),
            "hedged_cost": self.spend - self.flows,
        }


class Inception(Metric):
    """Costs from the hedge date: the hedge-accounting view, and what moved the cost.

    ``RunFrame.inception`` is the hedge date (a simulation's branch date, or its
    first day). On the days after it:

    * ``unhedged_cost_after``: spot spend; ``hedged_cost_after``: spot spend − futures
      P&L + fees + funding cost (the flows of those days only);
    * the seven parts of ``hedged_cost_after`` of ``tokbt.metrics.decompose``
      (``cost_locked`` … ``cost_frictions``), which add up to it; NaN when the run
      knows no plan or no prices on the hedge date (``RunFrame.inception_prices``).

    With no hedge date (−1) every day counts and the parts are NaN.
    """

    columns = ("unhedged_cost_after", "hedged_cost_after", *COMPONENTS)

    def start(self, frame: RunFrame) -> None:
        super().start(frame)
        n, k, d = frame.n_paths, len(frame.contracts), len(frame.days)
        self.amounts = np.zeros((len(KINDS), n))
        self.pnl = np.zeros(n * k)
        self.delivered = np.zeros(n * k)
        self.spend = np.zeros((d, n))
        self.tokens = np.zeros((d, n))

    def journal(self, rows: JournalRows) -> None:
        kernels.inception_pass(
            rows.day, rows.path, rows.kind, rows.contract, rows.qty, rows.amount,
            self.frame.inception, len(self.frame.contracts), *self.core_state(),
        )  # fmt: skip

    def core_state(self) -> tuple[Floats, ...]:
        """The accumulators ``kernels.inception_pass`` adds rows into."""
        return self.amounts, self.pnl, self.delivered, self.spend, self.tokens

    def finish(self) -> dict[str, Floats]:
        s = {kind: self.amounts[_K[kind]] for kind in KINDS}
        futures = s[EntryKind.VARIATION_MARGIN] + s[EntryKind.FINAL_SETTLEMENT]
        frictions = -s[EntryKind.FEE] - s[EntryKind.INTEREST]
        unhedged = -s[EntryKind.CONSUMPTION]
        out = {"unhedged_cost_after": unhedged, "hedged_cost_after": unhedged - futures + frictions}
        after = self._after(frictions)
        parts = decompose(after) if after is not None else {}
        n = self.frame.n_paths
        return out | {c: parts.get(c, np.full(n, np.nan)) for c in COMPONENTS}

    def _after(self, frictions: Floats) -> AfterInception | None:
        frame = self.frame
        prices, plan = frame.inception_prices, frame.plan_daily
        if frame.inception < 0 or prices is None or plan is None:
            return None
        n, k = frame.n_paths, len(frame.contracts)
        return AfterInception(
            spend=self.spend,
            tokens=self.tokens,
            plan=np.nan_to_num(plan),
            t0=frame.inception,
            months=frame.month_windows(),
            listed_price=prices,
            pnl=self.pnl.reshape(n, k),
            delivered=self.delivered.reshape(n, k) * frame.multiplier,
            frictions=frictions,
            markup=frame.price_markup,
            basis=frame.price_basis,
        )


# -- metric sets -------------------------------------------------------------------------

MetricFactory = Callable[[], Metric]
_SETS: dict[str, list[MetricFactory]] = {}
M = TypeVar("M", bound=type[Metric])


def register(*sets: str) -> Callable[[M], M]:
    """Class decorator: add a ``Metric`` subclass to the named metric sets."""

    def add(cls: M) -> M:
        for name in sets:
            _SETS.setdefault(name, []).append(cls)
        return cls

    return add


def metric_set(name: str) -> list[Metric]:
    """Fresh instances of the metrics of set ``name``; ``KeyError`` lists the known sets."""
    try:
        return [factory() for factory in _SETS[name]]
    except KeyError:
        raise KeyError(f"no metric set {name!r}; known: {', '.join(sorted(_SETS))}") from None


def metric_sets() -> list[str]:
    """Names of the registered metric sets."""
    return sorted(_SETS)


_COSTS: tuple[type[Metric], ...] = (Spend, MonthlyCost, MarginEvents)
_HEDGE: tuple[type[Metric], ...] = (Attribution, Funding, HedgeRatio, Inception)
for _cls in _COSTS:
    register("default", "costs")(_cls)
for _cls in _HEDGE:
    register("default")(_cls)


# -- running a set ----------------------------------------------------------------------


@dataclass(frozen=True)
class PathResults:
    """What a metric set measured on some paths of a run.

    Attributes:
        frame: the run frame (its ``path_ids`` are the rows of every array).
        columns: per-path columns ``(n_paths,)``.
        daily: daily series ``(n_days, n_paths)``.
        monthly: monthly arrays ``(n_paths, n_months)``.
    """

    frame: RunFrame
    columns: dict[str, Floats]
    daily: dict[str, Floats]
    monthly: dict[str, Floats]

    @staticmethod
    def concat(parts: Sequence[PathResults]) -> PathResults:
        """The results of several chunks of paths of one run (same days), paths in order."""
        first = parts[0]
        if any(not np.array_equal(p.frame.days, first.frame.days) for p in parts):
            raise ValueError("chunks of one run must share the run's days")
        frame = first.frame.concat([p.frame for p in parts])
        return PathResults(
            frame,
            {c: np.concatenate([p.columns[c] for p in parts]) for c in first.columns},
            {s: np.concatenate([p.daily[s] for p in parts], axis=1) for s in first.daily},
            {m: np.concatenate([p.monthly[m] for p in parts]) for m in first.monthly},
        )


Batches: TypeAlias = pa.Table | Iterable[pa.RecordBatch]


def _batches(rows: Batches) -> Iterable[pa.RecordBatch | pa.Table]:
    return [rows] if isinstance(rows, pa.Table) else rows


_FUSED: tuple[type[Metric], ...] = (
    Spend, Attribution, Funding, HedgeRatio, MonthlyCost, Inception,
)  # fmt: skip
"""The built-in metrics ``kernels.core_pass`` runs side by side, in its argument order."""
_I, _F = np.zeros(0, np.int64), np.zeros((0, 0))
_IDLE: dict[type[Metric], tuple[np.ndarray, ...]] = {
    Spend: (_F, np.zeros(0), _I, np.zeros(0)),
    Attribution: (*(np.zeros(0),) * 4, np.zeros(0, np.bool_), _I, np.zeros(0), _F, _F),
    Funding: (_F, _F, _F, _F),
    HedgeRatio: (_F, _F),
    MonthlyCost: (_I, _I, _F, _F, _F),
    Inception: (_F, np.zeros(0), np.zeros(0), _F, _F),
}
"""Stand-ins of the accumulators of a built-in metric that is not measured (typed alike)."""


def _fusable(chosen: Sequence[Metric]) -> dict[type[Metric], Metric] | None:
    """The built-in metrics among ``chosen`` by class, or ``None`` when a metric that reads
    the journal is not one of them (or one is chosen twice): then rows are decoded and
    every metric reads them itself."""
    found: dict[type[Metric], Metric] = {}
    for metric in chosen:
        cls = type(metric)
        if cls.journal is Metric.journal:  # reads no journal rows
            continue
        if cls not in _FUSED or cls in found:
            return None
        found[cls] = metric
    return found


def _state(metric: Metric) -> tuple[np.ndarray, ...]:
    """A built-in metric's accumulators for ``kernels.core_pass``."""
    state: tuple[np.ndarray, ...] = metric.core_state()  # type: ignore[attr-defined]
    return state


class Measurement:
    """A metric set measuring one run as its rows arrive: ``journal`` and ``events`` for
    each batch in time order, then ``finish``. ``measure`` runs one over stored rows; a
    backtest feeds one the ledger's rows as they are made (no Arrow, no scratch file)."""

    def __init__(self, frame: RunFrame, metrics: str | Sequence[Metric] = "default") -> None:
        self.frame = frame
        self.chosen = metric_set(metrics) if isinstance(metrics, str) else list(metrics)
        for metric in self.chosen:
            metric.start(frame)
        self._fused = _fusable(self.chosen)

    def journal(self, rows: JournalRows) -> None:
        """Hand every metric a batch of journal rows."""
        for metric in self.chosen:
            metric.journal(rows)

    def core_rows(self, ints: npt.NDArray[np.int64], floats: Floats) -> None:
        """``journal`` of rows in the ledger core's layout (``Journal.tap``): when every
        metric that reads the journal is a built-in one, all of them in one compiled pass
        over the buffers (``kernels.core_pass``, the same sums), else decoded first."""
        if self._fused is None:
            self.journal(decode_core_journal(ints, floats, self.frame))
            return
        frame, fused = self.frame, self._fused
        day0 = first_day(frame)
        states = [_state(fused[cls]) if cls in fused else _IDLE[cls] for cls in _FUSED]
        use = tuple(cls in fused for cls in _FUSED)
        bad = kernels.core_pass(
            ints, floats, day0, len(frame.days), len(frame.contracts), use, frame.inception,
            *states,
        )  # fmt: skip
        if bad >= 0:
            raise outside_days(core_day(ints, bad, day0), frame)

    def events(self, batch: pa.Table | pa.RecordBatch) -> None:
        """Hand every metric a batch of event rows."""
        rows = decode_events(batch, self.frame)
        for metric in self.chosen:
            metric.events(rows)

    def finish(self) -> PathResults:
        """The per-path columns and the daily and monthly series of every metric."""
        columns: dict[str, Floats] = {}
        daily: dict[str, Floats] = {}
        monthly: dict[str, Floats] = {}
        for metric in self.chosen:
            columns.update(metric.finish())
            daily.update(metric.daily())
            monthly.update(metric.monthly())
        return PathResults(self.frame, columns, daily, monthly)


def measure(
    frame: RunFrame,
    journal: Batches,
    events: Batches | None = None,
    metrics: str | Sequence[Metric] = "default",
) -> PathResults:
    """Run a metric set (a name, or metric objects) over a run's journal and events."""
    measurement = Measurement(frame, metrics)
    for batch in _batches(journal):
        measurement.journal(decode_journal(batch, frame))
    for batch in _batches(events if events is not None else []):
        measurement.events(batch)
    return measurement.finish()
