"""``tokbt runs``: the run store — list, show, delete — and how a run is printed."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from tokbt.cli.common import StoreOpt, _fail, app, console, err_console
from tokbt.data import default_store_path
from tokbt.errors import TokbtError

runs_app = typer.Typer(help="Saved runs: list, show and delete them.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

RunIdArg = Annotated[str, typer.Argument(help="Run id or a unique prefix (4+ characters).")]


@runs_app.command("ls")
def runs_ls(store: StoreOpt = None) -> None:
    """List the saved runs, newest first, with the policy of the best VR_std.

    'tokbt runs show ID' gives the rest of a run's record (tokbt version, inputs, params).
    """
    from tokbt.runs.store import RunStore

    path = default_store_path(store)
    if not path.exists():
        console.print(f"no store at {path} yet: save a run first")
        return
    try:
        with RunStore(path, read_only=True) as rs:
            listing = rs.runs()
    except TokbtError as exc:
        raise _fail(exc) from None
    if listing.empty:
        console.print(f"store {path} holds no runs")
        return
    table = Table(title=f"runs in {path}", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    table.add_column("run", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("market", width=16, overflow="fold")
    table.add_column("policies", width=16, overflow="fold")
    for col in ("paths", "seed", "seconds"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("best", max_width=12, overflow="fold")
    table.add_column("VR_std", justify="right", no_wrap=True)
    for row in listing.to_dict("records"):
        table.add_row(
            escape(str(row["run_id"])),
            f"{row['created']:%Y-%m-%d %H:%M}",
            _text_or_dash(row["kind"]),
            _text_or_dash(row["market"]),
            escape(_policy_list(str(row["policies"]))),
            _text_or_dash(row["n_paths"], "{:,.0f}"),
            _text_or_dash(row["seed"], "{:.0f}"),
            _text_or_dash(row["seconds"], "{:,.1f}"),
            _text_or_dash(row["best"]),
            _text_or_dash(row["best_vr_std"], "{:.1%}"),
        )
    console.print(table)


def _policy_list(joined: str, limit: int = 36) -> str:
    """``joined`` (comma-joined labels), cut to about ``limit`` characters with a count."""
    labels = joined.split(", ")
    shown: list[str] = []
    for label in labels:
        if shown and len(", ".join([*shown, label])) > limit:
            return f"{', '.join(shown)} … ({len(labels)} in all)"
        shown.append(label)
    return joined


def _text_or_dash(value: Any, fmt: str = "{}") -> str:
    """``value`` formatted, or the reports' mark for a missing value."""
    from tokbt.report.values import MISSING

    if value is None or pd.isna(value):
        return MISSING
    return escape(fmt.format(value))


@runs_app.command("show")
def runs_show(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """The run's record, what its costs measure, its warnings, its summary metrics with
    confidence intervals and the comparisons."""
    from tokbt.runs.store import RunStore

    try:
        with RunStore(store, read_only=True) as rs:
            run = rs.load(run_id)
    except TokbtError as exc:
        raise _fail(exc) from None
    from tokbt.report.values import measure_note, run_warnings_of

    _print_record(run.run_id, run.record, run.evaluation)
    console.print(measure_note(run.record), highlight=False)
    _print_warnings(run_warnings_of(run.record))
    _print_summary(run.evaluation)
    _print_comparisons(run.evaluation)


def _print_record(run_id: str, rec: dict[str, Any], ev: Any) -> None:
    import json

    from tokbt.runs.store import market_name

    def show(line: str) -> None:
        console.print(line, highlight=False, soft_wrap=True, markup=False)

    show(
        f"run {run_id} · {rec.get('kind', '?')} · created {rec.get('created', '?')} · "
        f"tokbt {rec.get('tokbt', '?')}"
    )
    market = rec.get("market")
    show(
        f"seed {rec.get('seed')} · {rec.get('paths', '?')} paths · market "
        f"{market_name(market) or '?'} {json.dumps(market, separators=(', ', ': '))}"
    )
    inputs = rec.get("inputs")
    if isinstance(inputs, dict) and all(not isinstance(v, dict | list) for v in inputs.values()):
        show("inputs: " + ", ".join(f"{k} {v}" for k, v in inputs.items()))
    elif isinstance(inputs, list):
        show("inputs:")
        for part in inputs:
            show(f"  {json.dumps(part)}")
    elif inputs:
        show(f"inputs: {json.dumps(inputs)}")
    show(f"policies (baseline {ev.baseline}):")
    policies = rec.get("policies")
    if isinstance(policies, list):
        for p in policies:
            if isinstance(p, dict):
                params = json.dumps(p.get("params", {}))
                show(f"  {p.get('label', '?')}: {p.get('strategy', '?')} {params}")
    elif "strategy" in rec:
        show(f"  {rec['strategy']} {json.dumps(rec.get('params', {}))}")
    seconds = rec.get("seconds")
    if isinstance(seconds, dict):
        show("seconds: " + ", ".join(f"{k} {v:,.2f}" for k, v in seconds.items()))
    elif seconds is not None:
        show(f"seconds: {seconds}")
    show(f"intervals: {ev.confidence:.0%} bootstrap, {ev.resamples:,} resamples, seed {ev.seed}")


def _metric_text(value: float, lo: float, hi: float, unit: str, *, signed: bool = False) -> str:
    """A summary (or, ``signed``, comparison) cell, written as the reports write it."""
    from tokbt.report.values import fmt_cell

    return fmt_cell(value, lo, hi, unit, diff=signed)


def _metric_rows(frame: pd.DataFrame) -> list[tuple[str, str]]:
    from tokbt.metrics.evaluation import SUMMARY_METRICS

    metrics = [str(m) for m in dict.fromkeys(frame["metric"])]
    return [(m, SUMMARY_METRICS[m].label if m in SUMMARY_METRICS else m) for m in metrics]


def _print_summary(ev: Any) -> None:
    from rich.text import Text

    from tokbt.metrics.evaluation import SUMMARY_METRICS

    summary: pd.DataFrame = ev.summary
    cells = {(r["policy"], r["metric"]): r for r in summary.to_dict("records")}
    rows = _metric_rows(summary)
    columns = []
    for policy in ev.policies:
        texts = []
        for metric, _ in rows:
            unit = SUMMARY_METRICS[metric].unit if metric in SUMMARY_METRICS else ""
            r = cells.get((policy, metric))
            texts.append(
                Text("" if r is None else _metric_text(r["value"], r["lo"], r["hi"], unit))
            )
        columns.append((str(policy), texts))
    title = f"summary: value [lo, hi] ({ev.confidence:.0%} interval)"
    _print_grid(title, [label for _, label in rows], columns)


HEADLINE_FROM_HEDGE_DATE = (
    ("vr_std_after", "VR_std [CI]"),
    ("he_var_after", "HE_var"),
    ("share_quantity", "quantity"),
    ("share_timing", "timing"),
    ("cvar95_cost", "CVaR95 cost"),
    ("p95_peak_funding", "p95 funding"),
    ("mean_margin_calls", "calls/path"),
)
"""The headline of a run whose paths share their history up to a hedge date: VR_std and
HE_var of the cost after it, and the variance shares of the two parts a price hedge
cannot remove (quantity, months not listed yet)."""

HEADLINE = (
    ("vr_std", "VR_std [CI]"),
    ("he_var", "HE_var"),
    ("vr_std_unit", "VR unit cost"),
    ("vr_std_monthly", "VR monthly"),
    ("cvar95_cost", "CVaR95 cost"),
    ("p95_peak_funding", "p95 funding"),
    ("mean_margin_calls", "calls/path"),
)
"""The metrics (and short headers) of the one-screen table of ``compare``, ``mc``, ``demo``."""


def _headline_cell(value: float, lo: float, hi: float, unit: str) -> str:
    from tokbt.report.values import fmt_millions

    if unit == "USD":
        return fmt_millions(value, unit)
    return _metric_text(value, lo, hi, unit)


def _print_headline(ev: Any, run_id: str, record: dict[str, Any]) -> None:
    """What the figures measure, then policies × the headline metrics (the first with its
    interval); where the rest is."""
    from tokbt.metrics.evaluation import SUMMARY_METRICS
    from tokbt.report.values import MISSING, measure_note, shares_history

    console.print(measure_note(record), highlight=False)
    headline = HEADLINE_FROM_HEDGE_DATE if shares_history(record) else HEADLINE
    first = headline[0][0]
    cells = {(r["policy"], r["metric"]): r for r in ev.summary.to_dict("records")}
    title = f"per policy ({ev.confidence:.0%} interval; every metric: tokbt runs show {run_id})"
    if headline is HEADLINE_FROM_HEDGE_DATE:
        title += "\nVR_std, HE_var: of the cost after the hedge date; quantity, timing: their "
        title += "shares of its variance"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("policy", no_wrap=True)
    for _, header in headline:
        table.add_column(header, justify="right", no_wrap=True)
    for policy in ev.policies:
        row = [escape(str(policy))]
        for metric, _ in headline:
            r = cells.get((policy, metric))
            if r is None:
                row.append(MISSING)
                continue
            lo, hi = (r["lo"], r["hi"]) if metric == first else (np.nan, np.nan)
            row.append(_headline_cell(r["value"], lo, hi, SUMMARY_METRICS[metric].unit))
        table.add_row(*row)
    console.print(table)
    _print_warnings(record.get("warnings", []))


def _print_comparisons(ev: Any) -> None:
    from rich.text import Text

    from tokbt.metrics.evaluation import SUMMARY_METRICS

    comparisons: pd.DataFrame = ev.comparisons
    if comparisons.empty:
        return
    cells = {(r["policy"], r["metric"]): r for r in comparisons.to_dict("records")}
    rows = _metric_rows(comparisons)
    colour = {"better": "green", "worse": "red"}
    columns = []
    for policy in dict.fromkeys(comparisons["policy"]):
        texts = []
        for metric, _ in rows:
            unit = SUMMARY_METRICS[metric].unit if metric in SUMMARY_METRICS else ""
            r = cells.get((policy, metric))
            if r is None:
                texts.append(Text(""))
                continue
            text = Text(_metric_text(r["diff"], r["lo"], r["hi"], unit, signed=True))
            verdict = "" if pd.isna(r["verdict"]) else str(r["verdict"])
            if verdict:
                text.append(f" {verdict}", style=colour.get(verdict, ""))
            texts.append(text)
        columns.append((str(policy), texts))
    title = f"paired differences policy − {ev.baseline}: diff [lo, hi] verdict"
    _print_grid(title, [label for _, label in rows], columns)


def _print_grid(title: str, labels: list[str], columns: list[tuple[str, list[Any]]]) -> None:
    """Rows ``labels`` × ``columns`` (of ``rich.text.Text`` cells), in tables that fit the width."""
    from rich.text import Text

    label_width = max(len(x) for x in ["metric", *labels])
    budget = max(console.width - label_width - 4, 1)
    groups: list[list[tuple[str, list[Any]]]] = []
    used = 0
    for header, texts in columns:
        width = max(len(header), *(t.cell_len for t in texts)) + 2
        if not groups or used + width > budget:
            groups.append([])
            used = 0
        groups[-1].append((header, texts))
        used += width
    for k, group in enumerate(groups):
        table = Table(title=Text(title) if k == 0 else None, box=box.SIMPLE_HEAD)
        table.add_column("metric", no_wrap=True)
        for header, _ in group:
            table.add_column(Text(header), justify="right", no_wrap=True)
        for i, label in enumerate(labels):
            table.add_row(Text(label), *(texts[i] for _, texts in group))
        console.print(table)


@runs_app.command("rm")
def runs_rm(run_id: RunIdArg, store: StoreOpt = None) -> None:
    """Delete a saved run from every run table."""
    from tokbt.runs.store import RunStore

    try:
        with RunStore(store) as rs:
            deleted = rs.delete(run_id)
    except TokbtError as exc:
        raise _fail(exc) from None
    console.print(f"deleted run {deleted}")


def _print_warnings(warnings: list[str]) -> None:
    """What the run's settings did to its results (``tokbt.runs.warnings``), one line each."""
    for text in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
