"""A synthetic ``Evaluation`` and ``StoredRun`` that respect the data contract, for store and
report tests that must not depend on running backtests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tokbt.metrics.evaluation import (
    PATH_METRICS,
    QUANTILE_COLUMNS,
    SERIES,
    SUMMARY_METRICS,
    Evaluation,
)
from tokbt.runs.stored import StoredRun


def synthetic_evaluation(
    n_paths: int = 50,
    policies: tuple[str, ...] = ("no_hedge", "static", "rolling"),
    months: int = 12,
    seed: int = 0,
    sweep: bool = False,
) -> Evaluation:
    """Random but plausible frames in the documented layout and order."""
    rng = np.random.default_rng(seed)
    paths = []
    for policy in policies:
        frame = {"policy": policy, "path": np.arange(n_paths, dtype=np.int64)}
        for name in PATH_METRICS:
            frame[name] = rng.normal(1e6, 2e5, n_paths)
        paths.append(pd.DataFrame(frame))
    month = pd.date_range("2026-01-01", periods=months, freq="MS")
    monthly = []
    for policy in policies:
        grid = pd.MultiIndex.from_product([range(n_paths), month], names=["path", "month"])
        frame = grid.to_frame(index=False)
        frame.insert(0, "policy", policy)
        frame["path"] = frame["path"].astype(np.int64)
        frame["tokens"] = rng.uniform(1e3, 2e3, len(frame))
        frame["unhedged_cost"] = frame["tokens"] * rng.normal(10, 2, len(frame))
        frame["hedged_cost"] = frame["tokens"] * rng.normal(10, 1, len(frame))
        monthly.append(frame)
    days = pd.date_range("2026-01-01", periods=months * 30, freq="D")
    series = []
    for policy in policies:
        for name in SERIES:
            base = np.cumsum(rng.normal(0, 1, len(days)))
            frame = pd.DataFrame({"policy": policy, "series": name, "day": days})
            for k, col in enumerate(QUANTILE_COLUMNS):
                frame[col] = base + (k if col != "mean" else 2.5)
            series.append(frame)
    summary = pd.DataFrame(
        [
            (p, m, v, v - 0.1, v + 0.1)
            for p in policies
            for m in SUMMARY_METRICS
            for v in [float(rng.normal(0.3, 0.1))]
        ],
        columns=["policy", "metric", "value", "lo", "hi"],
    )
    comparisons = pd.DataFrame(
        [
            (p, policies[0], m, d, d - 0.05, d + 0.05, "better" if d > 0.05 else "")
            for p in policies[1:]
            for m in SUMMARY_METRICS
            for d in [float(rng.normal(0.05, 0.05))]
        ],
        columns=["policy", "baseline", "metric", "diff", "lo", "hi", "verdict"],
    )
    rows = []
    if sweep:
        for p in policies[1:]:
            rows += [(p, "ratio", float(rng.choice([0.5, 1.0]))), (p, "window", 60.0)]
    sweep_frame = pd.DataFrame(rows, columns=["policy", "param", "value"]).astype(
        {"policy": object, "param": object, "value": np.float64}
    )
    return Evaluation(
        policies=policies,
        baseline=policies[0],
        paths=pd.concat(paths, ignore_index=True),
        monthly=pd.concat(monthly, ignore_index=True),
        series=pd.concat(series, ignore_index=True),
        summary=summary,
        comparisons=comparisons,
        sweep=sweep_frame,
        confidence=0.95,
        resamples=200,
        seed=seed,
    )


def synthetic_run(run_id: str = "", **kwargs: object) -> StoredRun:
    """A ``StoredRun`` around ``synthetic_evaluation(**kwargs)``."""
    evaluation = synthetic_evaluation(**kwargs)  # type: ignore[arg-type]
    record = {
        "kind": "compare",
        "created": "2026-11-22T12:00:00+00:00",
        "tokbt": "0.1.0",
        "seed": 7,
        "config": {"market": {"simulate": {"scenario": "demand_explosion", "paths": 50}}},
        "inputs": {"simulation": "sha256:abc"},
        "market": {"simulate": {"scenario": "demand_explosion"}},
        "policies": [{"label": p, "strategy": p, "params": {}} for p in evaluation.policies],
        "paths": int(evaluation.paths["path"].nunique()),
        "seconds": {p: 1.0 for p in evaluation.policies} | {"total": 3.0},
        "python": "3.11.7",
        "numpy": "2.1.0",
    }
    return StoredRun(run_id=run_id, record=record, evaluation=evaluation)
