"""Metrics: per-path and across-path measures of a hedge, computed from the journal only.

Definitions: ``docs/metrics.md``. Per-path metrics are ``Metric`` objects with lifecycle
hooks, registered into named metric sets (``register``, ``metric_set``); ``measure`` runs a
set over a journal; ``evaluate`` turns the results of several policies on the same paths
into an ``Evaluation`` with bootstrap intervals and paired comparisons.
"""

from tokbt.metrics.evaluate import evaluate
from tokbt.metrics.evaluation import (
    PATH_METRICS,
    SERIES,
    SUMMARY_METRICS,
    Evaluation,
    MetricInfo,
)
from tokbt.metrics.path import (
    Metric,
    PathResults,
    measure,
    metric_set,
    metric_sets,
    register,
)
from tokbt.metrics.rows import EventRows, JournalRows, RunFrame

__all__ = [
    "PATH_METRICS",
    "SERIES",
    "SUMMARY_METRICS",
    "Evaluation",
    "EventRows",
    "JournalRows",
    "Metric",
    "MetricInfo",
    "PathResults",
    "RunFrame",
    "evaluate",
    "measure",
    "metric_set",
    "metric_sets",
    "register",
]
