"""``tokbt.backtest``: replay a market through a strategy and keep every ledger row.

One engine run per chunk of paths (``chunk_paths``); paths are independent,
so the results do not depend on the chunking. Outputs: the journal, daily
positions and events as Arrow tables (or Parquet files in ``out``), per-path
totals, and a run record (resolved config, input fingerprint, seed, version,
timings).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import tokbt
from tokbt.data import BarStore, Feed, Kind
from tokbt.data.frames import MarketSource, PathChunks, delivery_key, event_day
from tokbt.engine import Engine, Outputs
from tokbt.engine.compiled import CompiledEngine, unsupported
from tokbt.ledger import EVENT_SCHEMA, JOURNAL_SCHEMA, POSITION_SCHEMA, EntryKind, LedgerConfig
from tokbt.market import Contract
from tokbt.metrics.evaluate import evaluate
from tokbt.metrics.evaluation import Evaluation
from tokbt.metrics.path import Measurement, PathResults
from tokbt.metrics.rows import Floats, RunFrame
from tokbt.runs.config import BacktestConfig, MarketConfig, RunSettings, SimulateMarket
from tokbt.runs.stored import StoredRun
from tokbt.runs.warnings import Totals, run_warnings, totals_of
from tokbt.sim import SimMarket, SimPlan, load_scenario
from tokbt.sim.anchor import Anchor, anchor_scenario
from tokbt.sim.scenarios import scenario_spec
from tokbt.sim.simulate import simulate_paths
from tokbt.strategy import create, resolve

_TOTALS = (
    ("consumption", EntryKind.CONSUMPTION),
    ("variation_margin", EntryKind.VARIATION_MARGIN),
    ("final_settlement", EntryKind.FINAL_SETTLEMENT),
    ("fees", EntryKind.FEE),
    ("interest", EntryKind.INTEREST),
)


@dataclass
class Result:
    """What a backtest leaves.

    Attributes:
        journal, positions, events: Arrow tables (``JOURNAL_SCHEMA``,
            ``POSITION_SCHEMA``, ``EVENT_SCHEMA``); empty when written to files
            or not kept (``journal = "totals"``). Rows are grouped by chunk of
            paths, then in time order.
        paths: per-path totals: ``path``, the amounts by kind (consumption,
            variation_margin, final_settlement, fees, interest), ``futures_pnl``
            (variation margin + final settlement), ``roll_pnl`` (the part of it
            earned on contracts closed before their final settlement:
            ``Ledger.roll_pnl``), ``hedged_cost`` (−(consumption + futures P&L +
            fees + interest)), ``unhedged_cost`` (−consumption),
            ``equity_change``, ``fills`` (orders filled), ``tick_cost`` and
            ``execution_cost`` (USD the fills gave up against their base price to the
            tick grid, and to slippage and the liquidity model), ``margin_calls``,
            ``liquidations``, ``rejections``.
        record: the run record (config, input fingerprint, seed, version, timings).
        out: the output folder, if written.
        final_positions: ``(n_paths, n_contracts)`` positions at the end.
        contracts: the contract codes of ``final_positions``' columns.
        metrics: what the run's metric set measured on every path (``None``
            when ``metrics`` is off in the settings).
    """

    journal: pa.Table
    positions: pa.Table
    events: pa.Table
    paths: pa.Table
    record: dict[str, Any]
    out: Path | None = None
    final_positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    contracts: tuple[str, ...] = ()
    metrics: PathResults | None = None

    def evaluation(
        self, *, label: str | None = None, resamples: int = 1000, seed: int = 0
    ) -> Evaluation:
        """The run's metrics as a one-policy ``Evaluation`` (with bootstrap intervals)."""
        if self.metrics is None:
            raise ValueError("this run measured no metrics (settings.metrics is None)")
        name = label or str(self.record.get("strategy", "policy"))
        return evaluate({name: self.metrics}, resamples=resamples, seed=seed)

    def stored(
        self, *, label: str | None = None, resamples: int = 1000, seed: int = 0
    ) -> StoredRun:
        """The run as the run store keeps it: a one-policy ``StoredRun`` (not yet saved)."""
        name = label or str(self.record.get("strategy", "policy"))
        seconds = float(self.record.get("seconds", 0.0))
        record = dict(self.record) | {
            "kind": "backtest",
            "policies": [
                {
                    "label": name,
                    "strategy": self.record.get("strategy"),
                    "params": self.record.get("params", {}),
                }
            ],
            "seconds": {name: seconds, "total": seconds},
        }
        evaluation = self.evaluation(label=name, resamples=resamples, seed=seed)
        return StoredRun("", record, evaluation)

    def summary(self) -> pd.DataFrame:
        """Mean, std, 5th and 95th percentile across paths of each per-path total."""
        frame = self.paths.to_pandas().drop(columns=["path"])
        stats: pd.DataFrame = frame.describe(percentiles=[0.05, 0.95]).T
        return stats[["mean", "std", "5%", "95%"]]

    def _repr_html_(self) -> str:
        return str(self.summary().to_html(float_format=lambda v: f"{v:,.2f}"))


def _make_strategy(strategy: Any, params: dict[str, Any] | None) -> Any:
    """A fresh strategy object for one chunk of paths."""
    if isinstance(strategy, str | type):
        return create(strategy, params)
    if params:
        raise ValueError("params are for a strategy class; this strategy is already an object")
    return copy.deepcopy(strategy)


def _label(strategy: Any) -> str:
    if isinstance(strategy, str):
        return strategy
    cls = strategy if isinstance(strategy, type) else type(strategy)
    return f"{cls.__module__}:{cls.__qualname__}"


# -- markets ----------------------------------------------------------------------------------


Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` in path·events while a backtest runs."""


def build_plan(sim: SimulateMarket) -> SimPlan:
    """The simulation plan of a ``[market.simulate]`` table (calendar, contracts, curves)."""
    return anchored_plan(sim)[0]


def anchored_plan(sim: SimulateMarket) -> tuple[SimPlan, Anchor | None]:
    """``build_plan``, and where it starts from a recorded index (``sim.start``; ``None``:
    from the scenario's own start)."""
    scenario = load_scenario(sim.scenario, sim.overrides)
    anchor = None
    if sim.start is not None:
        start = sim.start
        close = recorded_index(start.dataset, start.at, path=start.path, store=start.store)
        scenario, anchor = anchor_scenario(scenario, close, start.at, dynamics=start.dynamics)
    plan = SimPlan.build(
        scenario,
        sim.horizon_days,
        sim.seed,
        steps_per_day=sim.steps_per_day,
        bars_per_day=sim.bars_per_day,
        spec=scenario_spec(scenario, sim.contract_overrides),
        branch_day=sim.branch_day,
    )
    return plan, anchor


def recorded_index(
    dataset: str, at: dt.date, *, path: int = 0, store: str | Path | None = None
) -> np.ndarray:
    """The daily index of a stored dataset up to and including ``at`` (each day's last spot
    close, oldest first). Raises ``ValueError`` naming the dataset when it has no spot bars
    on ``path`` by ``at`` or its record ends before ``at``."""
    with BarStore(store, read_only=True) as bars:
        data = bars.read_numpy(dataset, Kind.SPOT, columns=["ts", "close"], paths=[path])
    ts = np.asarray(data["ts"], "datetime64[us]")
    if len(ts) == 0:
        raise ValueError(f"dataset {dataset!r} has no spot bars on path {path}")
    day = ts.astype("datetime64[D]")  # ts is the start of the bar's period
    last = day.max().astype(dt.date)
    if at > last:
        raise ValueError(
            f"start.at = {at}: dataset {dataset!r} (path {path}) is recorded only up to {last}"
        )
    keep = day <= np.datetime64(at, "D")
    days, close = day[keep], np.asarray(data["close"], np.float64)[keep]
    if len(days) == 0:
        raise ValueError(f"start.at = {at}: dataset {dataset!r} has no spot bars up to it")
    closing = np.r_[days[1:] != days[:-1], True]  # the last bar of each day
    return close[closing]


def simulation_facts(market: MarketConfig) -> dict[str, Any]:
    """What a run record says of where a market's costs are measured from: ``hedge_date``,
    the ISO day a simulated market measures from (``SimPlan.hedge_date``: its branch date,
    or its first exchange day; ``None`` for a stored dataset), and ``anchor``, where it
    started from a recorded index (``tokbt.sim.anchor.Anchor`` as JSON values; ``None``
    without ``start``). The plan is built once for both."""
    if market.simulate is None:
        return {"hedge_date": None, "anchor": None}
    plan, anchor = anchored_plan(market.simulate)
    described = None
    if anchor is not None:
        described = dataclasses.asdict(anchor) | {
            "at": anchor.at.isoformat(),
            "half_life_days": anchor.half_life_days if np.isfinite(anchor.half_life_days) else None,
            "notes": list(anchor.notes),
        }
    return {"hedge_date": plan.hedge_date.isoformat(), "anchor": described}


def chunk_progress(
    progress: Progress | None, base: int, width: int, total: int
) -> Callable[[int], None]:
    """The engine's per-event callback for a chunk of ``width`` paths whose work starts at
    ``base`` path·events of ``total``: reports ``progress(done, total)``."""

    def advance(events: int) -> None:
        if progress is not None:
            progress(min(base + events * width, total), total)

    return advance


def _simulated(sim: SimulateMarket, chunk_paths: int) -> Iterator[MarketSource]:
    plan = build_plan(sim)
    for lo in range(0, sim.paths, chunk_paths):
        yield SimMarket(plan, simulate_paths(plan, range(lo, min(lo + chunk_paths, sim.paths))))


def _path_ids(store: BarStore, name: str, paths: int | list[int] | None) -> np.ndarray:
    """The path ids a config selects: all, the first N, or a list."""
    if isinstance(paths, list):
        return np.asarray(paths, dtype=np.int64)
    ids = np.asarray(Feed(store, name).path_ids)
    return ids if paths is None else ids[:paths]


def _stored(
    store: BarStore, name: str, ids: np.ndarray, chunk_paths: int
) -> Iterator[MarketSource]:
    for lo in range(0, len(ids), chunk_paths):
        yield Feed(store, name, paths=ids[lo : lo + chunk_paths].tolist())


def market_chunks(market: MarketSource, chunk_paths: int) -> Iterator[MarketSource]:
    """``market`` in chunks of at most ``chunk_paths`` paths, when it has more and can
    cut itself (a ``PathChunks`` source: ``TableMarket``, ``Feed``); else whole."""
    if isinstance(market, PathChunks) and len(market.path_ids) > chunk_paths:
        return market.path_chunks(chunk_paths)
    return iter([market])


# -- running ------------------------------------------------------------------------------------


def backtest(
    market: str | MarketSource,
    strategy: Any,
    *,
    params: dict[str, Any] | None = None,
    config: RunSettings | dict[str, Any] | None = None,
    store: str | Path | BarStore | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
    engine: Literal["auto", "python", "compiled"] | None = None,
) -> Result:
    """Replay ``market`` through ``strategy``; return the journal, positions, events and totals.

    Args:
        market: a dataset name (in ``store``) or any ``MarketSource`` (``Feed``,
            ``TableMarket``, ``tokbt.sim.SimMarket``). A source with more than
            ``chunk_paths`` paths that can cut itself (``PathChunks``) is replayed
            in chunks of paths, as a dataset is; the record keeps its fingerprint.
        strategy: a class (instantiated with ``params`` for each chunk of
            paths), an object with ``on_*`` hooks (deep-copied per chunk), or a
            ``module:Class`` / ``file.py:Class`` reference.
        config: broker, ledger and engine settings (``RunSettings`` or a dict).
        store: the store for a dataset name (default: TOKBT_STORE or ./tokbt.duckdb).
        out: a folder to write ``journal.parquet``, ``positions.parquet``,
            ``events.parquet``, ``paths.parquet`` and ``record.json`` to.
        progress: called as ``progress(done, total)`` (path·events) after each block.
        engine: which engine replays (overrides ``config``'s ``runner``): ``python``,
            ``compiled`` (a ``KernelStrategy``; ``UnsupportedError`` for another
            strategy) or ``auto`` (compiled when it can).
    """
    settings = (
        config if isinstance(config, RunSettings) else RunSettings.model_validate(config or {})
    )
    if engine is not None:
        settings = settings.model_copy(update={"runner": engine})
    if isinstance(market, str):
        own = not isinstance(store, BarStore)
        bs = store if isinstance(store, BarStore) else BarStore(store, read_only=True)
        try:
            ids = _path_ids(bs, market, None)
            sources = _stored(bs, market, ids, settings.chunk_paths)
            described = {"dataset": market}
            return _run(
                sources, len(ids), strategy, params, settings, out, described, None, progress
            )
        finally:
            if own:
                bs.close()
    described = {"market": market.name}
    n = len(market.path_ids)
    sources = market_chunks(market, settings.chunk_paths)
    return _run(
        sources,
        n,
        strategy,
        params,
        settings,
        out,
        described,
        None,
        progress,
        inputs=market.fingerprint,
    )


def run_config(
    config: BacktestConfig,
    *,
    store: str | Path | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
) -> Result:
    """Run a complete ``BacktestConfig`` (what ``tokbt backtest CONFIG.toml`` does)."""
    strategy = resolve(config.strategy.name)
    m = config.market
    described = {"market": m.model_dump(mode="json"), **simulation_facts(m)}
    params = config.strategy.params
    if m.simulate is not None:
        sim = m.simulate
        sources = _simulated(sim, config.chunk_paths)
        return _run(
            sources, sim.paths, strategy, params, config, out, described, sim.seed, progress, config
        )
    with BarStore(store or m.store, read_only=True) as bs:
        assert m.dataset is not None
        ids = _path_ids(bs, m.dataset, m.paths)
        sources = _stored(bs, m.dataset, ids, config.chunk_paths)
        return _run(
            sources, len(ids), strategy, params, config, out, described, None, progress, config
        )


def run_frame(source: MarketSource, ledger: LedgerConfig | None = None) -> RunFrame:
    """What the metrics need to know of a run over ``source`` besides its journal (known
    before the run: metrics measure rows as they are made); ``ledger``: the run's price
    rule for tokens (default: ``LedgerConfig()``'s)."""
    ledger = ledger or LedgerConfig()
    days = event_day(source.events)
    specs = [source.spec.contract(code) for code in source.contracts]
    contracts = [(c.code, c.delivery_start, c.delivery_end) for c in specs]
    plan = np.full(len(source.path_ids), np.nan)
    getter = getattr(source, "consumption_plan", None)
    plan_days, planned = getter() if getter is not None else (None, np.zeros((0, 0)))
    if len(planned):
        given = np.isfinite(planned).any(axis=0)
        plan = np.where(given, np.nansum(planned, axis=0), np.nan)
    cascades = {c.code: c.last_trading_day for c in specs if c.cascades_into}
    frame = RunFrame.build(
        source.path_ids, days[0], days[-1], contracts, source.spec.multiplier, plan, cascades
    )
    return dataclasses.replace(
        frame,
        plan_daily=_plan_by_day(frame, plan_days, planned),
        price_markup=ledger.consumption_markup,
        price_basis=ledger.consumption_basis,
        **_inception(frame, source),
    )


def _plan_by_day(frame: RunFrame, plan_days: Any, planned: np.ndarray) -> Floats | None:
    """The consumption plan ``(n_days, n_paths)`` (``planned`` on ``plan_days``) laid on the
    frame's days (``None``: no plan)."""
    if not len(planned) or not np.isfinite(planned).any():
        return None
    out = np.full((len(frame.days), frame.n_paths), np.nan)
    pos = (np.asarray(plan_days, "datetime64[D]") - frame.days[0]).astype(np.int64)
    inside = (pos >= 0) & (pos < len(frame.days))
    out[pos[inside]] = planned[inside]
    return out


def _inception(frame: RunFrame, source: MarketSource) -> dict[str, Any]:
    """The hedge date and each contract's settlement price on it, where the market knows
    them (``hedge_date``: a simulation's branch date, or its first exchange day)."""
    hedge_date = getattr(source, "hedge_date", None)
    if hedge_date is None:
        return {}
    day, prices = hedge_date()
    return {"inception": int((day - frame.days[0]).astype(np.int64)), "inception_prices": prices}


@dataclass(frozen=True)
class ChunkRun:
    """One strategy over one chunk of paths: the engine after its run and its metrics."""

    engine: Engine | CompiledEngine
    metrics: PathResults | None
    part: dict[str, Any]


def make_engine(
    source: MarketSource, strategy: Any, settings: RunSettings, outputs: Outputs
) -> Engine | CompiledEngine:
    """The engine ``settings.runner`` asks for: the compiled driver for a kernel strategy
    (``auto``, ``compiled``), else event by event in Python (``auto``, ``python``);
    ``compiled`` on another strategy is ``CompiledEngine``'s ``UnsupportedError``. Both
    drive the same core, so the choice changes speed, never results."""
    kwargs: dict[str, Any] = {
        "broker": settings.broker,
        "ledger": settings.ledger,
        "engine": settings.engine,
        "outputs": outputs,
    }
    if settings.runner == "python" or (settings.runner == "auto" and unsupported(strategy)):
        return Engine(source, strategy, **kwargs)
    return CompiledEngine(source, strategy, **kwargs)


def run_chunk(
    source: MarketSource,
    strategy: Any,
    params: dict[str, Any] | None,
    settings: RunSettings,
    files: dict[str, Path] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChunkRun:
    """Replay one chunk of paths through a fresh strategy and measure it.

    ``files`` (``journal``, ``positions``, ``events`` → Parquet paths) streams the
    rows to disk instead of memory. Metrics measure the journal rows as the ledger
    makes them (``Journal.tap``): with ``journal = "totals"`` no row is kept, turned
    into Arrow or written anywhere, so memory stays bounded whatever the run's length.
    """
    paths = dict(files or {})
    outputs = Outputs(
        journal=str(paths["journal"]) if "journal" in paths else None,
        positions=str(paths["positions"]) if "positions" in paths else None,
        events=str(paths["events"]) if "events" in paths else None,
        keep_journal_rows=settings.journal == "rows"
        or (settings.metrics is not None and "journal" in paths),
        keep_positions=settings.positions,
    )
    engine = make_engine(source, _make_strategy(strategy, params), settings, outputs)
    measurement = None
    if settings.metrics is not None:
        measurement = Measurement(run_frame(source, settings.ledger), settings.metrics)
        engine.ledger.journal.tap(measurement.core_rows)
    engine.run(progress)
    part = _collect(
        engine, journal=files is None and settings.journal == "rows", rest=files is None
    )
    metrics = None
    if measurement is not None:
        measurement.events(part["all_events"])
        metrics = measurement.finish()
    return ChunkRun(engine, metrics, part)


def _run(
    sources: Iterator[MarketSource],
    n_paths: int,
    strategy: Any,
    params: dict[str, Any] | None,
    settings: RunSettings,
    out: str | Path | None,
    market: dict[str, Any],
    seed: int | None,
    progress: Progress | None = None,
    full: BacktestConfig | None = None,
    *,
    inputs: Callable[[], dict[str, str]] | None = None,
) -> Result:
    """Run every source (a chunk of paths) in turn and assemble one ``Result``.

    The record's ``inputs`` is ``inputs()`` when given (one market cut into chunks:
    its fingerprint, as if run whole), else each source's fingerprint (one: a dict).
    """
    started = time.perf_counter()
    out_dir = Path(out) if out is not None else None
    work = Path(tempfile.mkdtemp(prefix="tokbt-run-")) if out_dir is not None else None
    parts: list[dict[str, Any]] = []
    measured: list[PathResults] = []
    fingerprints: list[dict[str, str]] = []
    done = 0
    try:
        for n, source in enumerate(sources):
            width, total = len(source.path_ids), n_paths * len(source.events)
            advance = chunk_progress(progress, done, width, total)
            files = None
            if work is not None:
                names = ("journal", "positions", "events")
                files = {k: work / f"{k}-{n:05d}.parquet" for k in names}
            chunk = run_chunk(source, strategy, params, settings, files, advance)
            done += width * len(source.events)
            parts.append(chunk.part)
            if chunk.metrics is not None:
                measured.append(chunk.metrics)
            if inputs is None:
                fingerprints.append(source.fingerprint())
        if inputs is not None:
            fingerprints.append(inputs())
    except BaseException:  # a failed run leaves nothing behind: no partial output
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        raise
    record: dict[str, Any] = {
        "tokbt": tokbt.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "strategy": full.strategy.name if full is not None else _label(strategy),
        "params": params or {},
        "config": (full or settings).model_dump(mode="json"),
        "market": market,
        "inputs": fingerprints if len(fingerprints) > 1 else (fingerprints or [{}])[0],
        "seed": seed,
        "engine": ",".join(sorted({p["engine"] for p in parts})),
        "paths": int(sum(len(p["paths"]) for p in parts)),
        "seconds": round(time.perf_counter() - started, 3),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    result = _assemble(parts, record)
    record["warnings"] = strategy_warnings(
        map(part_totals, parts), settings, strategy, str(record["strategy"])
    )
    if measured:
        result = dataclasses.replace(result, metrics=PathResults.concat(measured))
    if out_dir is not None and work is not None:
        _write(result, out_dir, work, len(parts))
        result.out = out_dir
    return result


def _collect(engine: Engine | CompiledEngine, *, journal: bool, rest: bool) -> dict[str, Any]:
    """Close the engine's logs; per-path totals, and the rows that are kept in memory."""
    rows = journal
    ledger = engine.ledger
    journal_log = ledger.journal
    ledger.events.close()
    if ledger.positions_log is not None:
        ledger.positions_log.close()
    journal_log.close()
    raw = ledger.events.to_arrow()
    events = raw if rest else EVENT_SCHEMA.empty_table()
    totals = {name: journal_log.net(kind=kind) for name, kind in _TOTALS}
    futures = totals["variation_margin"] + totals["final_settlement"]
    counts = _event_counts(raw, journal_log.path_ids)
    table = {
        "path": journal_log.path_ids,
        **totals,
        "futures_pnl": futures,
        "roll_pnl": ledger.roll_pnl,
        "unhedged_cost": -totals["consumption"],
        "hedged_cost": -(totals["consumption"] + futures + totals["fees"] + totals["interest"]),
        "equity_change": ledger.equity - ledger.opening.sum(axis=0),
        "fills": ledger.fills,
        "tick_cost": ledger.fill_costs[0],
        "execution_cost": ledger.fill_costs[1],
        **counts,
    }
    return {
        "journal": journal_log.to_arrow() if rows else JOURNAL_SCHEMA.empty_table(),
        "positions": (
            ledger.positions_log.to_arrow()
            if rest and ledger.positions_log
            else POSITION_SCHEMA.empty_table()
        ),
        "events": events,
        "all_events": raw,
        "paths": pa.table(table),
        "final_positions": ledger.positions.copy(),
        "pending": int(np.count_nonzero(engine.broker.pending)),
        "contracts": ledger.contracts,
        "engine": "compiled" if isinstance(engine, CompiledEngine) else "python",
    }


def strategy_warnings(
    totals: Iterable[Totals], settings: RunSettings, strategy: Any, label: str
) -> list[str]:
    """``tokbt.runs.warnings.run_warnings`` of one strategy's chunks (their ``Totals``)."""
    return run_warnings(
        Totals.merge(totals), settings.broker, strategy=label,
        trades=bool(getattr(strategy, "trades", True)),
    )  # fmt: skip


def part_totals(part: dict[str, Any]) -> Totals:
    """``tokbt.runs.warnings.Totals`` of one chunk (``_collect``'s part)."""
    return totals_of(part["paths"], part["all_events"], part["pending"])


def _event_counts(events: pa.Table, path_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Margin calls, liquidations and rejected orders per path (array position)."""
    order = np.argsort(path_ids)
    where = order[np.searchsorted(path_ids[order], events["path"].to_numpy())]
    kinds = events["event"].to_numpy(zero_copy_only=False)
    return {
        label: np.bincount(where[kinds == event], minlength=len(path_ids))
        for label, event in (
            ("margin_calls", "margin_call"),
            ("liquidations", "liquidation"),
            ("rejections", "order_rejected"),
        )
    }


def _assemble(parts: list[dict[str, Any]], record: dict[str, Any]) -> Result:
    def cat(name: str) -> pa.Table:
        return pa.concat_tables([p[name] for p in parts])

    seen: dict[str, Contract] = {}
    for p in parts:
        seen.update({c.code: c for c in p["contracts"]})
    codes = [c.code for c in sorted(seen.values(), key=delivery_key)]
    final = np.zeros((int(sum(len(p["paths"]) for p in parts)), len(codes)))
    row = 0
    for p in parts:
        cols = [codes.index(c.code) for c in p["contracts"]]
        final[row : row + len(p["paths"]), cols] = p["final_positions"]
        row += len(p["paths"])
    return Result(
        cat("journal"),
        cat("positions"),
        cat("events"),
        cat("paths"),
        record,
        None,
        final,
        tuple(codes),
    )


def _write(result: Result, out: Path, work: Path, n_parts: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in (
        ("journal", JOURNAL_SCHEMA),
        ("positions", POSITION_SCHEMA),
        ("events", EVENT_SCHEMA),
    ):
        with pq.ParquetWriter(out / f"{name}.parquet", schema, compression="zstd") as writer:
            for n in range(n_parts):
                part = work / f"{name}-{n:05d}.parquet"
                if part.exists():
                    for batch in pq.ParquetFile(part).iter_batches():
                        writer.write_batch(batch)
                    part.unlink()
    work.rmdir()
    pq.write_table(result.paths, out / "paths.parquet")
    (out / "record.json").write_text(json.dumps(result.record, indent=2, default=str))
