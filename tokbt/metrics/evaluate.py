"""From the per-path results of several policies on the same paths to an ``Evaluation``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tokbt.metrics.evaluation import PATH_METRICS, QUANTILE_COLUMNS, Evaluation
from tokbt.metrics.path import PathResults
from tokbt.metrics.stats import (
    Floats,
    Resamples,
    Sample,
    over_time_variance,
    summarise_and_compare,
)

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _paths_frame(results: Mapping[str, PathResults]) -> pd.DataFrame:
    """One row per policy and path; each column built once from the per-policy arrays (no
    per-policy frames to concatenate: a 100k-path run's frame is the largest object)."""
    lengths = [r.frame.n_paths for r in results.values()]
    extra = sorted({c for r in results.values() for c in r.columns} - set(PATH_METRICS))

    def column(name: str) -> Floats:
        parts = [
            r.columns.get(name, np.full(n, np.nan))
            for r, n in zip(results.values(), lengths, strict=True)
        ]
        return np.concatenate(parts, dtype=np.float64, casting="unsafe")

    frame: dict[str, Any] = {
        "policy": np.repeat(np.array(list(results), dtype=object), lengths),
        "path": np.concatenate([r.frame.path_ids for r in results.values()]),
    }
    for name in [*PATH_METRICS, *extra]:
        frame[name] = column(name)
    return pd.DataFrame(frame, copy=False)


def _monthly_frame(policy: str, result: PathResults, limit: int | None) -> pd.DataFrame:
    tokens = result.monthly["tokens"][:limit]
    paths, months = np.nonzero(tokens > 0)
    return pd.DataFrame(
        {
            "policy": np.full(len(paths), policy, dtype=object),
            "path": result.frame.path_ids[paths],
            "month": result.frame.months[months].astype("datetime64[ns]"),
            "tokens": tokens[paths, months],
            "unhedged_cost": result.monthly["unhedged_cost"][paths, months],
            "hedged_cost": result.monthly["hedged_cost"][paths, months],
        }
    )


def series_frame(policy: str, name: str, days: np.ndarray, values: Floats) -> pd.DataFrame:
    """The ``series`` rows of one policy's series ``values`` ``(days, paths)``: the mean and
    quantiles across paths of each day (NaN-aware)."""
    values = np.ascontiguousarray(values)  # a sum's rounding depends on the memory layout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # days where every path is NaN
        stats = [np.nanmean(values, axis=1), *np.nanquantile(values, _QUANTILES, axis=1)]
    frame = pd.DataFrame(
        {"policy": policy, "series": name, "day": np.asarray(days).astype("datetime64[ns]")}
    )
    for column, stat in zip(QUANTILE_COLUMNS, stats, strict=True):
        frame[column] = stat
    return frame


def _series_frame(policy: str, result: PathResults) -> pd.DataFrame:
    parts = [
        series_frame(policy, name, result.frame.days, values)
        for name, values in result.daily.items()
    ]
    return pd.concat(parts, ignore_index=True) if parts else _empty_series()


def _empty_series() -> pd.DataFrame:
    frame = pd.DataFrame({"policy": [], "series": [], "day": np.array([], "datetime64[ns]")})
    for column in QUANTILE_COLUMNS:
        frame[column] = np.array([], np.float64)
    return frame.astype({"policy": object, "series": object})


def _unit(result: PathResults, cost: str) -> Floats:
    tokens = result.monthly["tokens"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tokens > 0, result.monthly[cost] / tokens, np.nan)


def _sample(result: PathResults) -> Sample:
    n = result.frame.n_paths
    columns = {name: result.columns.get(name, np.full(n, np.nan)) for name in PATH_METRICS}
    for side in ("hedged", "unhedged"):
        if f"unit_cost_var_{side}" not in result.columns:
            columns[f"unit_cost_var_{side}"] = over_time_variance(_unit(result, f"{side}_cost"))
    if n == 1:
        return Sample(columns, _unit(result, "hedged_cost"), _unit(result, "unhedged_cost"))
    return Sample(columns, np.empty((n, 0)), np.empty((n, 0)))


def sweep_frame(sweep: Mapping[str, Mapping[str, float]] | None) -> pd.DataFrame:
    """The ``sweep`` frame from ``{policy: {param: value}}`` (empty when ``None``)."""
    rows = [
        (policy, param, float(value))
        for policy, params in (sweep or {}).items()
        for param, value in sorted(params.items())
    ]
    frame = pd.DataFrame(rows, columns=["policy", "param", "value"])
    return frame.astype({"policy": object, "param": object, "value": np.float64})


def evaluate(
    results: Mapping[str, PathResults],
    *,
    baseline: str | None = None,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    sweep: Mapping[str, Mapping[str, float]] | None = None,
    monthly_paths: int | None = None,
) -> Evaluation:
    """Summaries, intervals and paired comparisons of policies run on the same paths.

    Args:
        results: per policy label (in display order), its ``PathResults``.
        baseline: the policy the others are compared with (default: the first).
        confidence: level of every interval.
        resamples: bootstrap resamples (the same resamples for every policy).
        seed: the bootstrap's seed (intervals are reproducible).
        sweep: the parameter values of policies that come from a sweep.
        monthly_paths: keep the ``monthly`` rows of the first N paths only (a bound on
            the frame for large runs; the monthly metrics use every path).
    """
    policies = tuple(results)
    if not policies:
        raise ValueError("evaluate needs at least one policy")
    base = baseline or policies[0]
    if base not in results:
        raise ValueError(f"baseline {base!r} is not one of the policies {policies}")
    ids = results[policies[0]].frame.path_ids
    for policy, result in results.items():
        if not np.array_equal(result.frame.path_ids, ids):
            raise ValueError(f"policy {policy!r} was run on other paths than {policies[0]!r}")
    samples = {p: _sample(r) for p, r in results.items()}
    months = samples[policies[0]].months
    draws = Resamples.draw(len(ids), months, resamples, seed)
    summary, comparisons = summarise_and_compare(samples, base, draws, confidence)
    return Evaluation(
        policies=policies,
        baseline=base,
        paths=_paths_frame(results),
        monthly=pd.concat(
            [_monthly_frame(p, r, monthly_paths) for p, r in results.items()], ignore_index=True
        ),
        series=pd.concat([_series_frame(p, r) for p, r in results.items()], ignore_index=True),
        summary=summary,
        comparisons=comparisons,
        sweep=sweep_frame({k: v for k, v in (sweep or {}).items() if k in results}),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
