"""``tokbt compare``: several hedge policies on the same paths, measured and compared.

A comparison config is a TOML file (example: ``examples/compare/demand_explosion.toml``)::

    baseline = "static"          # the policy the others are compared with (default: first)

    [market.simulate]            # or: [market] dataset = "NAME"
    scenario = "demand_explosion"
    paths = 1000

    [[policies]]
    name = "static"              # a registered strategy, module:Class or file.py:Class
    params = { start = 60, months = 33 }

    [[policies]]
    label = "mv_120"             # optional; default: the name
    name = "min_variance"
    params = { start = 60, months = 33, window = 120 }

    [sweep]                      # optional: a grid over one policy's parameters
    policy = "static"
    params = { ratio = [0.5, 0.75, 1.0], tailing_rate = [0.0, 0.05] }

    [bootstrap]
    resamples = 1000
    confidence = 0.95
    seed = 0

plus the ``[broker]``, ``[ledger]``, ``[engine]`` tables and ``chunk_paths`` of a
backtest config. Every chunk of paths is simulated (or read) once and replayed
through every policy, so all policies see exactly the same paths.
"""

from __future__ import annotations

import datetime as dt
import itertools
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

import tokbt
from tokbt.data import BarStore
from tokbt.data.frames import MarketBlock, MarketSource
from tokbt.errors import TokbtError
from tokbt.metrics.evaluate import evaluate
from tokbt.metrics.path import PathResults
from tokbt.runs.backtest import (
    ChunkRun,
    Progress,
    _path_ids,
    _simulated,
    _stored,
    chunk_progress,
    part_totals,
    run_chunk,
    simulation_facts,
    strategy_warnings,
)
from tokbt.runs.config import MarketConfig, RunSettings, _Config, check_params, load_toml
from tokbt.runs.stored import StoredRun
from tokbt.runs.warnings import Totals
from tokbt.strategy import create, resolve


class Replay:
    """A market whose blocks are cut once and replayed for every policy of a comparison
    (the policies of a chunk run over the same paths: cutting the blocks again for each
    is work thrown away). Everything else is the wrapped source's."""

    def __init__(self, source: MarketSource) -> None:
        self.source = source
        self._blocks: list[MarketBlock] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def market_blocks(self) -> Iterator[MarketBlock]:
        """The source's blocks (cut on the first pass, kept for the next)."""
        if self._blocks is None:
            self._blocks = list(self.source.market_blocks())
        return iter(self._blocks)


def run_policy(
    source: MarketSource,
    policy: PolicyConfig,
    strategy: Any,
    settings: RunSettings,
    progress: Callable[[int], None] | None = None,
) -> ChunkRun:
    """``run_chunk`` of ``policy`` over ``source``; a ``TokbtError`` it raises is raised
    again, of the same class, with the policy's label in front (``policy 'x': ...``):
    two policies of one strategy differ only by their label."""
    try:
        return run_chunk(source, strategy, policy.params, settings, None, progress)
    except TokbtError as exc:
        raise _labelled(exc, policy.key) from exc


def _labelled(exc: TokbtError, label: str) -> TokbtError:
    message = f"policy {label!r}: {exc}"
    try:
        return type(exc)(message)
    except TypeError:  # a class with another constructor: keep the message, lose the class
        return TokbtError(message)


class PolicyConfig(_Config):
    """One policy of a comparison: a strategy, its parameters and a label."""

    name: str = Field(description="Registered strategy name, module:Class or file.py:Class.")
    label: str | None = Field(None, description="Label in the report (default: name).")
    params: dict[str, Any] = Field(default_factory=dict, description="Strategy parameters.")

    @property
    def key(self) -> str:
        """The label the policy is reported under."""
        return self.label or self.name


class SweepConfig(_Config):
    """A grid over parameters of one listed policy; each point becomes a policy."""

    policy: str = Field(description="Label of the listed policy whose parameters are swept.")
    params: dict[str, list[Any]] = Field(description="Parameter → the values to try.")

    @model_validator(mode="after")
    def _non_empty(self) -> Self:
        if not self.params:
            raise ValueError("sweep.params names no parameter")
        for name, values in self.params.items():
            if not values:
                raise ValueError(f"sweep.params.{name} has no values")
            for value in values:
                if not isinstance(value, int | float):  # a grid point is a number (bools too)
                    raise ValueError(
                        f"sweep.params.{name}: every value must be a number (got {value!r})"
                    )
        return self


class BootstrapConfig(_Config):
    """Confidence intervals: percentile bootstrap over paths."""

    resamples: int = Field(1000, ge=0, le=100_000, description="Resamples (0: no intervals).")
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level.")
    seed: int = Field(0, ge=0, description="Seed of the resampling.")


class CompareConfig(RunSettings):
    """A comparison: a market, policies, an optional sweep, and run settings."""

    journal: Literal["rows", "totals"] = Field(
        "totals", description='"rows" also keeps every journal row in the run store.'
    )
    positions: bool = Field(False, description="Keep the daily position log.")
    market: MarketConfig
    policies: list[PolicyConfig] = Field(min_length=1, description="The policies to compare.")
    baseline: str | None = Field(
        None, description="Policy label compared against (default: first)."
    )
    sweep: SweepConfig | None = None
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)

    @model_validator(mode="after")
    def _labels(self) -> Self:
        labels = [p.key for p in self.policies]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"policy labels must be unique; repeated: {', '.join(twice)}")
        if self.baseline is not None and self.baseline not in labels:
            raise ValueError(f"baseline {self.baseline!r} is not a policy label ({labels})")
        if self.sweep is not None and self.sweep.policy not in labels:
            raise ValueError(f"sweep.policy {self.sweep.policy!r} is not a policy label ({labels})")
        return self

    def expanded(self) -> list[tuple[PolicyConfig, dict[str, float] | None]]:
        """The listed policies, then one per sweep point (with its swept values)."""
        out: list[tuple[PolicyConfig, dict[str, float] | None]] = [(p, None) for p in self.policies]
        if self.sweep is None:
            return out
        base = next(p for p in self.policies if p.key == self.sweep.policy)
        names = list(self.sweep.params)
        for values in itertools.product(*self.sweep.params.values()):
            point = dict(zip(names, values, strict=True))
            label = f"{base.key}[" + ",".join(f"{k}={v}" for k, v in point.items()) + "]"
            policy = PolicyConfig(name=base.name, label=label, params=base.params | point)
            out.append((policy, {k: float(v) for k, v in point.items()}))
        return out


def load_compare_config(path: str | Path) -> CompareConfig:
    """Read and validate a comparison TOML file, policy parameters included;
    ``ConfigError`` names the file and field."""
    config = load_toml(path, CompareConfig)
    check_policies(path, config)
    return config


def check_policies(path: str | Path, config: CompareConfig, where: str = "") -> None:
    """Validate the parameters of every policy and sweep point of ``config`` (read from
    ``path``); ``where`` prefixes the field paths of the message."""
    listed = len(config.policies)
    for i, (policy, _) in enumerate(config.expanded()):
        at = f"policies.{i}" if i < listed else "sweep"
        check_params(path, f"{where}{at}", policy.name, policy.params)


def _sources(config: CompareConfig, store: BarStore | None) -> tuple[Iterator[MarketSource], int]:
    m = config.market
    if m.simulate is not None:
        return _simulated(m.simulate, config.chunk_paths), m.simulate.paths
    assert store is not None
    assert m.dataset is not None
    ids = _path_ids(store, m.dataset, m.paths)
    return _stored(store, m.dataset, ids, config.chunk_paths), len(ids)


def _with_policy(table: pa.Table, label: str) -> pa.Table:
    return table.add_column(0, "policy", pa.repeat(pa.scalar(label), table.num_rows))


def compare(
    config: CompareConfig,
    *,
    store: str | Path | None = None,
    progress: Progress | None = None,
) -> StoredRun:
    """Run every policy of ``config`` on the same paths; return the (unsaved) run.

    Args:
        config: the comparison.
        store: the bar store of a dataset market (default: the config's, TOKBT_STORE
            or ./tokbt.duckdb).
        progress: called as ``progress(done, total)`` in policy·path·events.
    """
    policies = config.expanded()
    strategies = {p.key: resolve(p.name) for p, _ in policies}
    for p, _ in policies:
        create(strategies[p.key], p.params)  # bad parameters fail before anything runs
    m = config.market
    bars = None if m.simulate is not None else BarStore(store or m.store, read_only=True)
    try:
        return _compare(config, policies, strategies, bars, progress)
    finally:
        if bars is not None:
            bars.close()


def _compare(
    config: CompareConfig,
    policies: list[tuple[PolicyConfig, dict[str, float] | None]],
    strategies: dict[str, Any],
    bars: BarStore | None,
    progress: Progress | None,
) -> StoredRun:
    started = time.perf_counter()
    sources, n_paths = _sources(config, bars)
    measured: dict[str, list[PathResults]] = {p.key: [] for p, _ in policies}
    totals: dict[str, list[Totals]] = {p.key: [] for p, _ in policies}  # for the warnings
    journals: list[pa.Table] = []
    seconds = dict.fromkeys(measured, 0.0)
    fingerprints: list[dict[str, str]] = []
    done = 0
    for market in sources:
        source = Replay(market) if len(policies) > 1 else market
        fingerprints.append(source.fingerprint())
        width, events = len(source.path_ids), len(source.events)
        for policy, _ in policies:
            tick = time.perf_counter()
            advance = chunk_progress(progress, done, width, len(policies) * n_paths * events)
            chunk = run_policy(source, policy, strategies[policy.key], config, advance)
            seconds[policy.key] += time.perf_counter() - tick
            assert chunk.metrics is not None
            measured[policy.key].append(chunk.metrics)
            totals[policy.key].append(part_totals(chunk.part))
            if config.journal == "rows":
                journals.append(_with_policy(chunk.part["journal"], policy.key))
            done += width * events
    results = {key: PathResults.concat(parts) for key, parts in measured.items()}
    boot = config.bootstrap
    evaluation = evaluate(
        results,
        baseline=config.baseline,
        confidence=boot.confidence,
        resamples=boot.resamples,
        seed=boot.seed,
        sweep={p.key: point for p, point in policies if point is not None},
    )
    record = _record(config, policies, fingerprints, seconds, started, n_paths)
    record["warnings"] = [
        f"{policy.key}: {text}"
        for policy, _ in policies
        for text in strategy_warnings(
            totals[policy.key], config, strategies[policy.key], policy.key
        )
    ]
    journal = pa.concat_tables(journals) if journals else None
    return StoredRun("", record, evaluation, journal)


def _record(
    config: CompareConfig,
    policies: list[tuple[PolicyConfig, dict[str, float] | None]],
    fingerprints: list[dict[str, str]],
    seconds: dict[str, float],
    started: float,
    n_paths: int,
) -> dict[str, Any]:
    m = config.market
    return {
        "kind": "compare",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tokbt": tokbt.__version__,
        "seed": m.simulate.seed if m.simulate is not None else None,
        "config": config.model_dump(mode="json"),
        "inputs": fingerprints if len(fingerprints) > 1 else (fingerprints or [{}])[0],
        "market": m.model_dump(mode="json", exclude_none=True),
        **simulation_facts(m),
        "policies": [{"label": p.key, "strategy": p.name, "params": p.params} for p, _ in policies],
        "paths": n_paths,
        "seconds": {k: round(v, 3) for k, v in seconds.items()}
        | {"total": round(time.perf_counter() - started, 3)},
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
