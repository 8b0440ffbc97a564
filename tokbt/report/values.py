"""What every report format shows the same way: numbers, header facts, the main metrics.

The HTML, Markdown and JSON reports are drawn from one ``StoredRun``; this
module holds what they share so that a number reads the same in each: how a
value of a given unit is written (fractions and probabilities as percentages,
USD with thousands separators, NaN as "—"), which summary metrics make the
main table, and the facts of the report's header.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tokbt.metrics.evaluation import SUMMARY_METRICS, Evaluation, MetricInfo
from tokbt.runs.stored import StoredRun

MISSING = "—"
"""How a value that is NaN (or absent) is written."""

PERCENT_UNITS = frozenset({"fraction", "probability"})
"""Units written as percentages (and their differences as percentage points)."""

MAIN_METRICS = (
    "vr_std_after",
    "he_var_after",
    "vr_std",
    "he_var",
    "vr_std_unit",
    "vr_std_monthly",
    "mean_cost",
    "sd_cost",
    "p95_cost",
    "cvar95_cost",
    "budget_at_risk",
    "p_overrun",
    "p95_peak_funding",
    "mean_margin_calls",
    "p_liquidation",
    "mean_roll_pnl",
    "mean_fees",
    "mean_funding_cost",
)
"""The summary metrics of the main tables, in column order (the rest are in the full table)."""

MAIN_GROUPS = (
    ("Cost and risk", MAIN_METRICS[:12]),
    ("Cash, margin and trading costs", MAIN_METRICS[12:]),
)
"""``MAIN_METRICS`` split into the two main summary tables (a title and the metrics of each)."""


@dataclass(frozen=True)
class Comparison:
    """One row of ``Evaluation.comparisons``: ``policy − baseline`` on one metric."""

    policy: str
    baseline: str
    metric: str
    diff: float
    lo: float
    hi: float
    verdict: str


def summary_cells(ev: Evaluation) -> dict[tuple[str, str], tuple[float, float, float]]:
    """``(policy, metric) → (value, lo, hi)`` from ``ev.summary``."""
    frame = ev.summary
    keys = zip(frame["policy"].astype(str), frame["metric"].astype(str), strict=True)
    values = frame[["value", "lo", "hi"]].to_numpy(dtype=float)
    return {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in zip(keys, values, strict=True)}


def comparison_rows(ev: Evaluation) -> list[Comparison]:
    """The rows of ``ev.comparisons`` in frame order (policy order, then metric order)."""
    frame = ev.comparisons
    numbers = frame[["diff", "lo", "hi"]].to_numpy(dtype=float)
    texts = frame[["policy", "baseline", "metric"]].astype(str).to_numpy()
    verdicts = frame["verdict"].fillna("").astype(str)
    return [
        Comparison(str(t[0]), str(t[1]), str(t[2]), float(n[0]), float(n[1]), float(n[2]), v)
        for t, n, v in zip(texts, numbers, verdicts, strict=True)
    ]


def ordered_metrics(metrics: Iterable[object]) -> list[str]:
    """The distinct metric names of ``metrics``: those of ``SUMMARY_METRICS`` in its order,
    then any others in order of appearance."""
    present = list(dict.fromkeys(str(m) for m in metrics))
    known = [m for m in SUMMARY_METRICS if m in present]
    return known + [m for m in present if m not in SUMMARY_METRICS]


def metric_info(metric: str) -> MetricInfo:
    """The ``SUMMARY_METRICS`` entry of ``metric``, or a plain stand-in for an unknown name."""
    return SUMMARY_METRICS.get(metric, MetricInfo(metric, "", "none", ""))


def is_missing(value: object) -> bool:
    """True for ``None`` and for floats that are NaN or infinite."""
    if value is None:
        return True
    return isinstance(value, float) and not math.isfinite(value)


def fmt_value(value: float | None, unit: str) -> str:
    """``value`` written for its ``unit``: "62.3%", "1,234,567", "12.35", or "—" for NaN."""
    if value is None or is_missing(float(value)):
        return MISSING
    if unit in PERCENT_UNITS:
        return f"{float(value) * 100:,.1f}%"
    return _number(float(value), signed=False)


def fmt_diff(value: float | None, unit: str) -> str:
    """A signed difference for its ``unit``: "+5.2 pp" for percentages, "-12,345" otherwise."""
    if value is None or is_missing(float(value)):
        return MISSING
    if unit in PERCENT_UNITS:
        return f"{float(value) * 100:+,.1f} pp"
    return _number(float(value), signed=True)


def fmt_interval(lo: float | None, hi: float | None, unit: str, *, diff: bool = False) -> str:
    """The interval "[lo, hi]" in the unit's format; "—" when either end is NaN."""
    if lo is None or hi is None or is_missing(float(lo)) or is_missing(float(hi)):
        return MISSING
    fmt = fmt_diff if diff else fmt_value
    return f"[{fmt(lo, unit)}, {fmt(hi, unit)}]"


def fmt_cell(value: float, lo: float, hi: float, unit: str, *, diff: bool = False) -> str:
    """A value (or a difference, ``diff``) with its interval, "value [lo, hi]", or the value
    alone when the interval is missing: how the terminal and the Markdown report write a
    summary or comparison cell."""
    shown = fmt_diff(value, unit) if diff else fmt_value(value, unit)
    interval = fmt_interval(lo, hi, unit, diff=diff)
    return shown if interval == MISSING else f"{shown} {interval}"


def fmt_millions(value: float, unit: str) -> str:
    """A compact cell of a one-screen table: USD in millions ("30.7 M"), anything else as
    ``fmt_value``."""
    if unit == "USD" and not is_missing(float(value)):
        return f"{float(value) / 1e6:,.1f} M"
    return fmt_value(value, unit)


def _number(value: float, *, signed: bool) -> str:
    sign = "+" if signed else ""
    size = abs(value)
    if size >= 1000:
        return f"{value:{sign},.0f}"
    if size >= 1 or size == 0:
        return f"{value:{sign},.2f}"
    return f"{value:{sign}.3g}"


def unit_suffix(unit: str) -> str:
    """How a column header names the unit: "%" for percentages, the unit otherwise."""
    if unit in PERCENT_UNITS:
        return "%"
    return unit


def confidence_text(confidence: float) -> str:
    """The confidence level as a percentage: 0.95 → "95%"."""
    return f"{confidence * 100:g}%"


def run_title(run: StoredRun) -> str:
    """The report's title: "tokbt report — run <run_id>" (or "(not saved)")."""
    return f"tokbt report — run {run.run_id or '(not saved)'}"


def market_text(market: object) -> str:
    """One line naming the market of a run record: the scenario or the dataset.

    Understands ``{"simulate": {"scenario": ...}}``, ``{"dataset": ...}``,
    ``{"market": ...}`` (either of those, or a name) and a plain string; any
    other value is written as compact JSON.
    """
    if isinstance(market, str):
        return market or MISSING
    if not isinstance(market, dict) or not market:
        return MISSING if not market else json.dumps(jsonable(market), sort_keys=True)
    parts: list[str] = []
    simulate = market.get("simulate")
    if isinstance(simulate, dict):
        parts.append(f"simulated, scenario {simulate.get('scenario', 'custom')}")
    elif simulate is not None:
        parts.append("simulated")
    if market.get("dataset") is not None:
        parts.append(f"dataset {market['dataset']}")
    if not parts and "market" in market:
        return market_text(market["market"])
    if not parts:
        return json.dumps(jsonable(market), sort_keys=True)
    return "; ".join(parts)


def _simulate(record: dict[str, Any]) -> dict[str, Any]:
    market = record.get("market")
    simulate = market.get("simulate") if isinstance(market, dict) else None
    return simulate if isinstance(simulate, dict) else {}


def branch_day(record: dict[str, Any]) -> int:
    """The exchange day a simulated run's paths branch at (0: they do not)."""
    value = _simulate(record).get("branch_day", 0)
    return int(value) if isinstance(value, int | float) else 0


def recorded_start(record: dict[str, Any]) -> dict[str, Any] | None:
    """A simulated run's ``start`` on a recorded index (dataset, at, ...), if it has one."""
    start = _simulate(record).get("start")
    return start if isinstance(start, dict) else None


def shares_history(record: dict[str, Any]) -> bool:
    """Whether every path of the run shares one history up to its hedge date: a branched
    simulation, or one started from a recorded index."""
    return bool(branch_day(record) or recorded_start(record))


def measure_note(record: dict[str, Any]) -> str:
    """One sentence saying what the run's cost figures measure: from a hedge date all
    paths share (a branched simulation, or one started from a recorded index), over an
    unconditional simulation, or over one recorded history."""
    day = record.get("hedge_date")
    if not day:
        return "Recorded market: one history; costs are measured over the whole run."
    start = recorded_start(record)
    if start is not None:
        return (
            f"Hedging from today: every path starts from the recorded index "
            f"{start.get('dataset')} on {start.get('at')} — its level and the state a fit of "
            f"its history gives — and diverges after it; the cost is measured from the first "
            f"simulated exchange day ({day}): the risk a hedge placed then faces."
        )
    if branch_day(record):
        return (
            f"Hedging from today: every path shares one simulated history up to the hedge "
            f"date {day} (exchange day {branch_day(record)}) and diverges after it; the "
            "“from the hedge date” figures measure the cost after it — the risk a hedge "
            "placed that day faces."
        )
    return (
        f"Unconditional simulation: every path is its own world from the first day ({day}); "
        "the cost is measured over the whole horizon, so it includes what prices do before "
        "a policy's first trade."
    )


def run_warnings_of(record: dict[str, Any]) -> list[str]:
    """What the run's settings did to its results (``record["warnings"]``; none recorded:
    empty)."""
    warnings = record.get("warnings")
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


def record_kind(record: dict[str, Any]) -> str:
    """The run's kind: ``record["kind"]``, else "backtest" for a single-strategy record."""
    if record.get("kind"):
        return str(record["kind"])
    return "backtest" if "strategy" in record else MISSING


def header_facts(run: StoredRun) -> list[tuple[str, str]]:
    """The header's (name, value) pairs: kind, created, version, seed, paths, market, baseline."""
    record = run.record
    ev = run.evaluation
    n_paths = record.get("paths", ev.paths["path"].nunique() if len(ev.paths) else 0)
    return [
        ("run", run.run_id or "(not saved)"),
        ("kind", record_kind(record)),
        ("created", str(record.get("created", MISSING))),
        ("tokbt", str(record.get("tokbt", MISSING))),
        ("seed", str(record.get("seed", MISSING))),
        ("paths", f"{int(n_paths):,}" if isinstance(n_paths, int | float) else str(n_paths)),
        ("market", market_text(record.get("market"))),
        ("baseline", ev.baseline),
    ]


def params_text(params: object) -> str:
    """Strategy parameters as "k=v, k=v" (sorted by name); "—" when there are none."""
    if not isinstance(params, dict) or not params:
        return MISSING
    return ", ".join(
        f"{k}={json.dumps(jsonable(v), sort_keys=True)}" for k, v in sorted(params.items())
    )


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``, numpy scalars as Python, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
