"""The report's figures, drawn headless as inline SVG from an ``Evaluation``.

Every figure is a ``matplotlib.figure.Figure`` on its own SVG canvas (no
``pyplot``, no lasting change to global matplotlib state) and is rendered to
SVG text that can be placed inside an HTML page:

* deterministic — the SVG hash salt is fixed and the date left out, inside a
  ``matplotlib.rc_context`` around the render only, and the SVG metadata block
  (which names the matplotlib version) is dropped;
* text stays text (``svg.fonttype = none``), which keeps files small;
* every ``id`` (and every reference to it) carries a per-figure prefix, so
  several SVGs in one page never share an id.

Figures (see ``report_figures``): fan chart of monthly unit cost, distribution
of horizon cost, margin and funding need over time, hedge ratio over time,
P&L attribution waterfall, and the parameter-sweep map when a sweep was run.
Quantiles are computed before plotting and daily series thinned to a few
hundred points, so that a large run still gives a small page.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import colormaps, ticker
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tokbt.metrics.decompose import COMPONENTS
from tokbt.metrics.evaluation import Evaluation
from tokbt.report.values import summary_cells
from tokbt.sim.plot import FAN_QUANTILES, fan_quantiles

FIG_WIDTH = 11.0
"""Width of every figure in inches (the page scales it to the column width)."""

UNHEDGED = "#9a9a9a"
"""The colour of everything unhedged."""

MAX_SAMPLE_PATHS = 5
"""Runs with at most this many paths draw each path as a line instead of quantile bands."""

MAX_SERIES_POINTS = 240
"""Daily series are thinned to at most this many days before drawing."""

MAX_SWEEP_PANELS = 6
"""At most this many panels in the sweep figure."""

_GOOD = "#2e9e5b"  # a step that lowers cost
_BAD = "#d64545"  # a step that raises cost
_INK = "#333333"
_GRID = "#e4e4e4"
_NUMBER = re.compile(r"-?\d+\.\d{3,}")

SVG_FONTS = "'DejaVu Sans', Verdana, Arial, sans-serif"
"""The font list of the SVG text (matplotlib lays text out with DejaVu Sans metrics)."""


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report: an HTML id, a title, a caption and the inline SVG text."""

    id: str
    title: str
    caption: str
    svg: str


@dataclass(frozen=True)
class Step:
    """One bar of a waterfall: a running ``total`` or a ``delta`` added to the running total."""

    label: str
    value: float
    kind: Literal["total", "delta"]


# -- public ---------------------------------------------------------------------------------


def policy_colours(policies: Sequence[str]) -> dict[str, str]:
    """One colour per policy, in display order, from ``tab10`` without its grey (kept for
    the unhedged cost), then ``tab20``'s light shades (again without grey), repeating after
    18 policies; the same in every figure and table."""
    tab10 = [colormaps["tab10"](i) for i in range(10) if i != 7]
    light = [colormaps["tab20"](i) for i in range(20) if i % 2 and i != 15]
    palette = [mcolors.to_hex(c) for c in tab10 + light]
    return {p: palette[i % len(palette)] for i, p in enumerate(policies)}


def report_figures(ev: Evaluation) -> list[ReportFigure]:
    """Every figure of the report for ``ev``, in page order (the sweep one only after a sweep).

    The points of a sweep are drawn in the sweep figure only; the other figures show the
    listed policies (all policies when every one is a sweep point).
    """
    colours = policy_colours(ev.policies)
    n_paths = _n_paths(ev)
    full, ev = ev, listed_policies(ev)
    figures = [
        ReportFigure("fig-fan", "Unit cost per month", _fan_caption(n_paths), ""),
        ReportFigure("fig-distribution", "Horizon cost per policy", _DIST_CAPTION, ""),
        ReportFigure("fig-margin", "Margin posted and funding need", _MARGIN_CAPTION, ""),
        ReportFigure("fig-hedge-ratio", "Hedge ratio over time", _RATIO_CAPTION, ""),
        ReportFigure(
            "fig-waterfall",
            "Where the hedged cost comes from",
            _waterfall_caption(waterfall_window(list(_all_steps(ev).values())) is not None),
            "",
        ),
    ]
    builders: list[Callable[[Evaluation, dict[str, str]], Figure]] = [
        fan_figure,
        distribution_figure,
        margin_figure,
        hedge_ratio_figure,
        waterfall_figure,
    ]
    if variance_shares(ev):
        figures.append(
            ReportFigure(
                "fig-variance", "What the spread of the cost is made of", _SHARES_CAPTION, ""
            )
        )
        builders.append(variance_figure)
    if len(ev.sweep):
        caption = _sweep_caption(len(_sweep_panels(ev)))
        figures.append(ReportFigure("fig-sweep", "Parameter sweep", caption, ""))
        builders.append(sweep_figure)
    return [
        ReportFigure(
            f.id,
            f.title,
            f.caption,
            svg_text(build(full if f.id == "fig-sweep" else ev, colours), f.id),
        )
        for f, build in zip(figures, builders, strict=True)
    ]


def listed_policies(ev: Evaluation) -> Evaluation:
    """``ev`` with ``policies`` narrowed to those that are not sweep points (if any remain)."""
    swept = set(ev.sweep["policy"])
    listed = tuple(p for p in ev.policies if p not in swept)
    return dataclasses.replace(ev, policies=listed) if listed else ev


def svg_text(fig: Figure, prefix: str) -> str:
    """``fig`` as SVG text to inline in HTML: deterministic, ids prefixed with ``prefix``.

    The XML declaration, DOCTYPE and metadata are dropped, the fixed width and
    height replaced by the view box alone (the page sizes the SVG), and every
    ``id="x"``, ``url(#x)`` and ``href="#x"`` becomes ``<prefix>-x``.
    """
    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "tokbt", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    return prefix_ids(compact_svg(text), prefix).strip() + "\n"


def compact_svg(svg: str) -> str:
    """``svg`` made smaller without a visible change: coordinates in ``d``, ``x`` and ``y``
    attributes rounded to 0.01 pt, and matplotlib's long font fallback list shortened."""

    def rounded(match: re.Match[str]) -> str:
        return _NUMBER.sub(_round_number, match.group(0))

    svg = re.sub(r'\b(?:d|x|y)="[^"]*"', rounded, svg)
    return re.sub(r"font-family: 'DejaVu Sans'[^;\"]*", f"font-family: {SVG_FONTS}", svg)


def _round_number(match: re.Match[str]) -> str:
    text = f"{float(match.group(0)):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def prefix_ids(svg: str, prefix: str) -> str:
    """Every id of ``svg`` and every reference to one, prefixed with ``prefix-``."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))

    def rename(match: re.Match[str]) -> str:
        head, name, tail = match.group(1), match.group(2), match.group(3)
        return f"{head}{prefix}-{name}{tail}" if name in ids else match.group(0)

    svg = re.sub(r'(\bid=")([^"]+)(")', rename, svg)
    svg = re.sub(r"(url\(#)([^)]+)(\))", rename, svg)
    return re.sub(r'(href="#)([^"]+)(")', rename, svg)


def waterfall_steps(paths: pd.DataFrame) -> list[Step]:
    """The P&L attribution of one policy's mean hedged cost, from its ``paths`` rows.

    Means across paths of: the unhedged cost (a total), then the cost changes
    −(variation margin + final settlement − basis P&L) "hedge at spend price",
    −basis P&L, −roll P&L, +fees, +funding cost, and the hedged cost (a total).
    Since hedged cost = unhedged cost − futures P&L + fees + funding cost, the
    deltas take the first total to the last; if the frame's numbers do not
    (beyond rounding), an "unexplained" delta closes the gap, so that the
    drawn steps always add up to the mean hedged cost.
    """
    mean = {c: _mean(paths[c]) for c in _WATERFALL_COLUMNS}
    deltas = [
        Step(
            "hedge at spend price",
            -(mean["variation_margin"] + mean["final_settlement"] - mean["basis_pnl"]),
            "delta",
        ),
        Step("basis", -mean["basis_pnl"], "delta"),
        Step("roll P&L", -mean["roll_pnl"], "delta"),
        Step("fees", mean["fees"], "delta"),
        Step("funding cost", mean["funding_cost"], "delta"),
    ]
    start, end = mean["unhedged_cost"], mean["hedged_cost"]
    gap = end - (start + math.fsum(s.value for s in deltas))
    scale = max(abs(start), abs(end), *(abs(s.value) for s in deltas), 1.0)
    if math.isfinite(gap) and abs(gap) > 1e-9 * scale:
        deltas.append(Step("unexplained", gap, "delta"))
    return [Step("unhedged cost", start, "total"), *deltas, Step("hedged cost", end, "total")]


def _all_steps(ev: Evaluation) -> dict[str, list[Step]]:
    return {p: waterfall_steps(ev.paths[ev.paths["policy"] == p]) for p in ev.policies}


def waterfall_window(steps: Sequence[Sequence[Step]]) -> tuple[float, float] | None:
    """The value range a waterfall zooms to, or None to start the axis at zero.

    The steps of a hedge are often small next to the costs themselves, so
    when the running totals of every waterfall span less than half the largest
    total, the axis shows only that span (with room on the right for the
    labels) instead of starting at zero.
    """
    running: list[float] = []
    for one in steps:
        level = 0.0
        for step in one:
            level = step.value if step.kind == "total" else level + step.value
            running.append(level)
    finite = [v for v in running if math.isfinite(v)]
    if not finite:
        return None
    lo, hi = min(finite), max(finite)
    span = hi - lo
    if span <= 0 or span >= 0.5 * max(abs(lo), abs(hi)):
        return None
    return lo - 0.15 * span, hi + 0.4 * span


# -- figures --------------------------------------------------------------------------------


def fan_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """Small multiples of monthly unit cost (USD per 1M tokens), hedged vs unhedged."""
    fig, axes = _grid(len(ev.policies), ncols=4, panel_height=2.5, sharey=True)
    monthly = ev.monthly
    for ax, policy in zip(axes, ev.policies, strict=False):
        rows = monthly[monthly["policy"] == policy]
        months = np.sort(rows["month"].unique())
        _unit_fan(ax, rows, months, "unhedged_cost", UNHEDGED, zorder=1)
        _unit_fan(ax, rows, months, "hedged_cost", colours[policy], zorder=2)
        _panel_title(ax, policy, colours[policy])
        _date_axis(ax)
    for ax in axes[:: min(4, len(ev.policies))]:
        ax.set_ylabel("USD / 1M tokens")
    _fan_legend(fig, _n_paths(ev))
    return fig


def distribution_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """Violins of horizon cost: unhedged (grey) first, then each policy's hedged cost."""
    fig = _figure(4.2)
    ax = fig.subplots()
    first = ev.paths[ev.paths["policy"] == ev.policies[0]]
    data = [_finite(first["unhedged_cost"])]
    data += [_finite(ev.paths.loc[ev.paths["policy"] == p, "hedged_cost"]) for p in ev.policies]
    names = ["unhedged", *ev.policies]
    fills = [UNHEDGED, *(colours[p] for p in ev.policies)]
    for x, (values, colour) in enumerate(zip(data, fills, strict=True)):
        _violin(ax, x, values, colour)
    crowded = sum(len(n) for n in names) > 110
    ax.set_xticks(
        range(len(names)), names, rotation=20 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.set_ylabel("horizon cost (USD)")
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_usd_tick))
    _style(ax)
    handles = [
        Line2D([], [], marker="o", ls="none", mfc="white", mec=_INK, label="mean"),
        Line2D([], [], color=_INK, lw=2, label="95th percentile"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def margin_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """Two panels: margin posted and funding need over time (median, 5–95 % band)."""
    fig = _figure(6.0)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, name, title in zip(
        axes,
        ("margin_posted", "funding_need"),
        ("Margin posted (account balance)", "Funding need (cash moved into margin so far)"),
        strict=True,
    ):
        _series_panel(ax, ev, name, colours, ("q05", "q95"))
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel("USD")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_usd_tick))
    _policy_legend(axes[0], ev.policies, colours, band="5–95 % of paths")
    return fig


def hedge_ratio_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """The hedge ratio over time: median per policy and its 25–75 % band."""
    fig = _figure(3.6)
    ax = fig.subplots()
    _series_panel(ax, ev, "hedge_ratio", colours, ("q25", "q75"))
    ax.set_ylabel("hedge ratio")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    _policy_legend(ax, ev.policies, colours, band="25–75 % of paths")
    return fig


def waterfall_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """Small multiples: the mean P&L attribution waterfall of each policy, as horizontal
    bars read top to bottom from the unhedged to the hedged cost."""
    steps = _all_steps(ev)
    labels = [k for k in _STEP_TICKS if any(s.label == k for v in steps.values() for s in v)]
    fig, axes = _grid(len(ev.policies), ncols=3, panel_height=2.3, sharey=True, sharex=True)
    for ax, policy in zip(axes, ev.policies, strict=False):
        _waterfall(ax, steps[policy], labels, colours[policy])
        _panel_title(ax, policy, colours[policy])
    ax = axes[0]
    ax.set_yticks(range(len(labels)), [_STEP_TICKS[k] for k in labels])
    ax.set_ylim(len(labels) - 0.4, -0.6)
    zoom = waterfall_window(list(steps.values()))
    if zoom is not None:
        ax.set_xlim(*zoom)
    handles = [
        Patch(color=UNHEDGED, label="unhedged cost"),
        Patch(color=_GOOD, label="lowers cost"),
        Patch(color=_BAD, label="raises cost"),
        Patch(facecolor="white", edgecolor=_INK, label="hedged cost (policy colour)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
    for ax in axes[max(0, len(axes) - 3) :]:
        ax.set_xlabel("mean USD per path", fontsize=8)
    return fig


def variance_shares(ev: Evaluation) -> dict[str, dict[str, float]]:
    """``{policy: {part: share}}`` of the variance of the cost after the hedge date (the
    ``share_*`` summary metrics, cross terms last); empty when the run has none."""
    cells = summary_cells(ev)
    names = [f"share_{p.removeprefix('cost_')}" for p in COMPONENTS] + ["share_cross"]
    out = {
        str(policy): {n: cells[(policy, n)][0] for n in names}
        for policy in ev.policies
        if all((policy, n) in cells for n in names)
    }
    finite = any(np.isfinite(list(v.values())).all() for v in out.values())
    return out if finite else {}


def variance_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """One horizontal bar per policy: each part's share of the variance of the cost after
    the hedge date stacked from 0, the cross terms (the covariances between parts) hatched
    after them — or, when negative, to the left of 0; σ and VR_std beside each bar."""
    shares = variance_shares(ev)
    policies = list(shares)
    fig = _figure(0.55 * len(policies) + 1.6)
    ax = fig.subplots()
    cells = summary_cells(ev)
    for y, policy in enumerate(policies):
        left = 0.0
        for name, colour in _SHARE_COLOURS.items():
            value = shares[policy][name]
            if not math.isfinite(value) or value == 0.0:
                continue
            if name == "share_cross" and value < 0:
                ax.barh(y, value, left=0.0, color="white", edgecolor=_INK, hatch="///", lw=0.5)
                continue
            cross = name == "share_cross"
            ax.barh(y, value, left=left, color=colour, edgecolor=_INK if cross else "white",
                    hatch="///" if cross else None, lw=0.5)  # fmt: skip
            left += value
        sd, vr = cells[(policy, "sd_cost_after")][0], cells[(policy, "vr_std_after")][0]
        text = f"σ {_usd_short(sd, signed=False)} · VR_std {vr:.1%}" if math.isfinite(vr) else ""
        ax.annotate(text, (max(left, 1.0), y), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8, color=_INK)  # fmt: skip
    ax.set_yticks(range(len(policies)), policies)
    ax.set_ylim(len(policies) - 0.5, -0.5)
    ax.axvline(0, color="#999999", lw=0.6)
    ax.axvline(1, color="#999999", lw=0.6, ls=":")
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("share of the variance of the hedged cost after the hedge date", fontsize=8)
    ax.margins(x=0.18)
    _style(ax)
    ax.grid(False, axis="y")
    handles = [
        Patch(facecolor=c, edgecolor="white" if n != "share_cross" else _INK,
              hatch="///" if n == "share_cross" else None, label=_SHARE_LABELS[n])
        for n, c in _SHARE_COLOURS.items()
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False, fontsize=8)
    return fig


_SHARE_COLOURS = {
    "share_locked": "#7f7f7f",
    "share_hedge": "#1f77b4",
    "share_ratio": "#17becf",
    "share_basis": "#bcbd22",
    "share_timing": "#ff7f0e",
    "share_quantity": "#d62728",
    "share_frictions": "#9467bd",
    "share_cross": "#ffffff",
}
"""Each part's colour in the variance figure (the same for every policy)."""
_SHARE_LABELS = {
    "share_locked": "locked at the hedge date",
    "share_hedge": "hedge vs locked",
    "share_ratio": "ratio and rounding",
    "share_basis": "basis",
    "share_timing": "timing (months not yet listed)",
    "share_quantity": "quantity",
    "share_frictions": "fees and funding",
    "share_cross": "cross terms",
}
_SHARES_CAPTION = (
    "Why the hedged cost still varies from path to path after the hedge date: each part's "
    "share of its variance across paths (the parts add up to the cost, see docs/metrics.md). "
    "Price moves the hedge did not lock are “hedge vs locked”, “ratio and rounding” and "
    "“timing”; “quantity” is consumption beyond or short of the plan, which no price hedge "
    "removes. The hatched bar is the covariance between parts (negative: parts that offset "
    "each other, drawn left of zero); with it the shares add to 100 %. Beside each bar: the "
    "standard deviation of the cost after the hedge date and VR_std = 1 − σ_hedged/σ_unhedged."
)


def sweep_figure(ev: Evaluation, colours: dict[str, str]) -> Figure:
    """VR_std of the swept policies over their parameter values (line, or heat maps)."""
    panels = _sweep_panels(ev)[:MAX_SWEEP_PANELS]
    heat = any(p.y is not None for p in panels)
    ncols = min(len(panels), 3 if heat else 2)
    fig, axes = _grid(len(panels), ncols=ncols, panel_height=3.6 if heat else 3.2, sharey=False)
    for ax, panel in zip(axes, panels, strict=False):
        if panel.y is None:
            _sweep_line(ax, panel, colours)
        else:
            _sweep_heat(ax, panel)
    return fig


# -- fan ------------------------------------------------------------------------------------


def _unit_fan(
    ax: Axes, rows: pd.DataFrame, months: np.ndarray, cost: str, colour: str, zorder: int
) -> None:
    tokens = rows["tokens"].to_numpy(dtype=float)
    unit = np.divide(
        rows[cost].to_numpy(dtype=float),
        tokens,
        out=np.full(len(rows), np.nan),
        where=tokens > 0,
    )
    grid = (
        rows.assign(unit=unit).pivot(index="path", columns="month", values="unit").to_numpy(float)
    )
    if grid.shape[0] <= MAX_SAMPLE_PATHS:
        for path in grid:
            ax.plot(months, path, color=colour, lw=1.4, marker="o", ms=2.5, zorder=zorder + 1)
        return
    q05, q25, q50, q75, q95 = fan_quantiles(grid, FAN_QUANTILES)
    ax.fill_between(months, q05, q95, color=colour, alpha=0.18, lw=0, zorder=zorder)
    ax.fill_between(months, q25, q75, color=colour, alpha=0.38, lw=0, zorder=zorder)
    ax.plot(months, q50, color=colour, lw=1.8, zorder=zorder + 1)


def _fan_legend(fig: Figure, n_paths: int) -> None:
    if n_paths <= MAX_SAMPLE_PATHS:
        handles: list[Line2D | Patch] = [
            Line2D([], [], color=UNHEDGED, lw=1.4, marker="o", ms=2.5, label="unhedged, per path"),
            Line2D([], [], color=_INK, lw=1.4, marker="o", ms=2.5, label="hedged, per path"),
        ]
    else:
        handles = [
            Patch(color=UNHEDGED, alpha=0.45, label="unhedged 5–95 % / 25–75 %"),
            Line2D([], [], color=UNHEDGED, lw=1.8, label="unhedged median"),
            Patch(color=_INK, alpha=0.25, label="hedged 5–95 % / 25–75 % (policy colour)"),
            Line2D([], [], color=_INK, lw=1.8, label="hedged median"),
        ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)


# -- distribution ---------------------------------------------------------------------------


def _violin(ax: Axes, x: int, values: np.ndarray, colour: str) -> None:
    if values.size == 0:
        return
    if np.unique(values).size >= 2:
        parts = ax.violinplot([values], positions=[x], widths=0.8, showextrema=False)
        for body in cast("list[PolyCollection]", parts["bodies"]):
            body.set_facecolor(colour)
            body.set_edgecolor(colour)
            body.set_alpha(0.55)
    p95 = float(np.quantile(values, 0.95))
    ax.hlines(p95, x - 0.22, x + 0.22, color=_INK, lw=2, zorder=3)
    ax.plot([x], [float(values.mean())], "o", mfc="white", mec=_INK, ms=6, zorder=4)


# -- time series ----------------------------------------------------------------------------


def _series_panel(
    ax: Axes, ev: Evaluation, name: str, colours: dict[str, str], band: tuple[str, str]
) -> None:
    series = ev.series[ev.series["series"] == name]
    for policy in ev.policies:
        rows = _thin(series[series["policy"] == policy])
        if rows.empty:
            continue
        days = rows["day"].to_numpy()
        colour = colours[policy]
        lo, hi = rows[band[0]].to_numpy(float), rows[band[1]].to_numpy(float)
        ax.fill_between(days, lo, hi, color=colour, alpha=0.10, lw=0)
        ax.plot(days, rows["q50"].to_numpy(float), color=colour, lw=1.6)
    _date_axis(ax)
    _style(ax)


def _thin(rows: pd.DataFrame, limit: int = MAX_SERIES_POINTS) -> pd.DataFrame:
    """At most ``limit`` rows, evenly spread, first and last kept."""
    if len(rows) <= limit:
        return rows
    keep = np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(np.int64))
    return rows.iloc[keep]


def _policy_legend(ax: Axes, policies: Sequence[str], colours: dict[str, str], band: str) -> None:
    handles: list[Line2D | Patch] = [
        Line2D([], [], color=colours[p], lw=1.8, label=p) for p in policies
    ]
    handles.append(Patch(color=_INK, alpha=0.15, label=band))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


# -- waterfall ------------------------------------------------------------------------------


_WATERFALL_COLUMNS = (
    "unhedged_cost",
    "hedged_cost",
    "variation_margin",
    "final_settlement",
    "basis_pnl",
    "roll_pnl",
    "fees",
    "funding_cost",
)

_STEP_TICKS = {
    "unhedged cost": "unhedged cost",
    "hedge at spend price": "hedge at spend price",
    "basis": "basis",
    "roll P&L": "roll P&L",
    "fees": "fees",
    "funding cost": "funding cost",
    "unexplained": "unexplained",
    "hedged cost": "hedged cost",
}
"""Waterfall rows, top to bottom, and their axis labels."""


def _waterfall(ax: Axes, steps: Sequence[Step], rows: Sequence[str], colour: str) -> None:
    """Horizontal waterfall of ``steps`` on the rows ``rows`` (labels), values beside bars."""
    running = 0.0
    for step in steps:
        y = rows.index(step.label)
        value = step.value if math.isfinite(step.value) else 0.0
        if step.kind == "total":
            left, fill = 0.0, (UNHEDGED if y == 0 else colour)
            running = value
        else:
            left, fill = running, (_GOOD if value < 0 else _BAD)
            running += value
        ax.barh(y, value, left=left, color=fill, height=0.66, edgecolor="none", zorder=2)
        ax.annotate(
            _usd_short(step.value, signed=step.kind == "delta"),
            (max(left, left + value), y),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=7.5,
            color=_INK,
        )
        if y + 1 < len(rows):
            ax.plot([running, running], [y + 0.33, y + 0.67], color="#888888", lw=0.6, ls=":")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_usd_tick))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(4))
    ax.margins(x=0.25)
    ax.axvline(0, color="#999999", lw=0.6, zorder=1)
    _style(ax)
    ax.grid(False, axis="y")


# -- sweep ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SweepPanel:
    """One panel of the sweep figure: the rows it draws and which parameters are its axes."""

    title: str
    table: pd.DataFrame  # policy, the params..., value, lo, hi
    x: str
    y: str | None


def _sweep_panels(ev: Evaluation) -> list[_SweepPanel]:
    """Group swept policies by their parameter names; one panel per group (or per combination
    of the parameters beyond the first two)."""
    wide = ev.sweep.pivot(index="policy", columns="param", values="value")
    order = [p for p in ev.policies if p in wide.index]
    wide = wide.loc[order]
    vr = ev.summary[ev.summary["metric"] == "vr_std"].set_index("policy")[["value", "lo", "hi"]]
    panels: list[_SweepPanel] = []
    for names, members in _groups(wide):
        table = wide.loc[members, list(names)].join(vr, how="left")
        table.index.name = "policy"
        table = table.reset_index()
        varying = [n for n in names if table[n].nunique() > 1] or [names[0]]
        panels += _split_panels(table, varying)
    return panels


def _groups(wide: pd.DataFrame) -> list[tuple[tuple[str, ...], list[str]]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for policy, row in wide.iterrows():
        names = tuple(str(c) for c in wide.columns if pd.notna(row[c]))
        if names:
            groups.setdefault(names, []).append(str(policy))
    return list(groups.items())


def _split_panels(table: pd.DataFrame, varying: list[str]) -> list[_SweepPanel]:
    if len(varying) == 1:
        return [_SweepPanel(f"VR_std over {varying[0]}", table, varying[0], None)]
    x, y, rest = varying[0], varying[1], varying[2:]
    if not rest:
        return [_SweepPanel(f"VR_std over {x} × {y}", table, x, y)]
    panels = []
    values = table[rest].to_numpy(dtype=float)
    for combo in np.unique(values, axis=0):  # sorted
        part = table[np.all(values == combo, axis=1)]
        where = ", ".join(f"{n}={_num(float(v))}" for n, v in zip(rest, combo, strict=True))
        panels.append(_SweepPanel(f"VR_std over {x} × {y} at {where}", part, x, y))
    return panels


def _sweep_line(ax: Axes, panel: _SweepPanel, colours: dict[str, str]) -> None:
    table = panel.table.sort_values(panel.x, kind="stable")
    x = table[panel.x].to_numpy(float)
    y = table["value"].to_numpy(float)
    lo = np.nan_to_num(y - table["lo"].to_numpy(float), nan=0.0)
    hi = np.nan_to_num(table["hi"].to_numpy(float) - y, nan=0.0)
    if np.unique(x).size == x.size:
        ax.plot(x, y, color="#555555", lw=1, zorder=1)
    for i, policy in enumerate(table["policy"]):
        ax.errorbar(
            x[i],
            y[i],
            yerr=[[max(lo[i], 0.0)], [max(hi[i], 0.0)]],
            fmt="o",
            color=colours.get(str(policy), _INK),
            capsize=3,
            zorder=2,
        )
    ax.set_xlabel(panel.x)
    ax.set_ylabel("VR_std (CI bars)")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=0))
    ax.set_title(panel.title, loc="left", fontsize=10)
    _style(ax)


def _sweep_heat(ax: Axes, panel: _SweepPanel) -> None:
    assert panel.y is not None
    table = panel.table.drop_duplicates([panel.x, panel.y], keep="first")
    grid = table.pivot(index=panel.y, columns=panel.x, values="value").sort_index()
    grid = grid.reindex(sorted(grid.columns), axis=1)
    values = grid.to_numpy(float)
    image = ax.imshow(values, cmap="YlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [_num(float(v)) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [_num(float(v)) for v in grid.index])
    finite = values[np.isfinite(values)]
    mid = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
    spread = float(np.ptp(finite)) if finite.size else 1.0
    decimals = 0 if spread >= 0.05 else 1 if spread >= 0.005 else 2
    for (r, c), v in np.ndenumerate(values):
        text = "—" if not math.isfinite(v) else f"{v * 100:.{decimals + 1}f}%"
        dark = math.isfinite(v) and v > mid
        ax.text(c, r, text, ha="center", va="center", fontsize=8, color="white" if dark else _INK)
    ax.set_xlabel(panel.x)
    ax.set_ylabel(panel.y)
    ax.set_title(panel.title, loc="left", fontsize=10)
    colourbar = ax.figure.colorbar(image, ax=ax, shrink=0.85)
    colourbar.ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0, decimals=decimals))


# -- helpers --------------------------------------------------------------------------------


def _figure(height: float) -> Figure:
    return Figure(figsize=(FIG_WIDTH, height), layout="constrained")


def _grid(
    n: int, *, ncols: int, panel_height: float, sharey: bool, sharex: bool = False
) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels in rows of ``ncols``; unused cells hidden; the used axes."""
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = _figure(panel_height * nrows + 0.5)
    grid = fig.subplots(nrows, ncols, sharey=sharey, sharex=sharex, squeeze=False)
    axes = grid.ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[max(0, n - ncols) : n]:  # nothing below: show its x tick labels
        ax.xaxis.set_tick_params(labelbottom=True)
    return fig, axes[:n]


def _panel_title(ax: Axes, policy: str, colour: str) -> None:
    """The policy's name over its panel, in its colour (darkened when too light to read)."""
    r, g, b = mcolors.to_rgb(colour)
    if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55:
        r, g, b = r * 0.6, g * 0.6, b * 0.6
    ax.set_title(policy, loc="left", fontsize=10, color=(r, g, b), fontweight="bold")


def _style(ax: Axes) -> None:
    ax.grid(True, color=_GRID, lw=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    _style(ax)


def _n_paths(ev: Evaluation) -> int:
    return int(ev.paths["path"].nunique()) if len(ev.paths) else 0


def _mean(values: pd.Series) -> float:
    arr = values.to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def _finite(values: pd.Series) -> np.ndarray:
    arr = values.to_numpy(dtype=float)
    return np.asarray(arr[np.isfinite(arr)])


def _usd_tick(value: float, _pos: int | None = None) -> str:
    return _usd_short(value, signed=False)


def _usd_short(value: float, *, signed: bool) -> str:
    """``$1.23M``, ``−$45.6k``, ``+$12``: three significant digits, SI suffix."""
    if not math.isfinite(value):
        return "—"
    size = float(f"{abs(value):.3g}")
    sign = "−" if value < 0 and size > 0 else ("+" if signed and value > 0 else "")
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{sign}${size / limit:g}{suffix}"
    return f"{sign}${size:g}"


def _num(value: float) -> str:
    return f"{value:g}"


def _fan_caption(n_paths: int) -> str:
    drawn = (
        "each path is drawn as a line"
        if n_paths <= MAX_SAMPLE_PATHS
        else "the shaded bands hold the middle 90 % (light) and 50 % (dark) of paths "
        "and the line is the median"
    )
    return (
        "Unit cost paid each month (USD per million tokens: that month's cost divided by "
        "its tokens), one panel per policy, hedged in the policy's colour in front of the "
        f"unhedged cost in grey; {drawn}. A hedge that works narrows the coloured fan "
        "relative to the grey one."
    )


_DIST_CAPTION = (
    "Distribution across paths of the total cost over the horizon: the grey violin is the "
    "unhedged cost, then each policy's hedged cost. The width shows how often a cost occurs; "
    "the white dot marks the mean and the black bar the 95th percentile. Lower and narrower "
    "is better."
)

_MARGIN_CAPTION = (
    "Cash the hedge ties up, day by day: the balance of the margin account (top) and the "
    "net cash moved into it from operating cash and credit so far (bottom). Lines are the "
    "median across paths, bands the 5–95 % range of paths, one colour per policy."
)

_RATIO_CAPTION = (
    "Futures tokens held as a share of the tokens still to be consumed over the rest of the "
    "horizon (known after the fact): the median across paths per policy with its 25–75 % "
    "band. 100 % means the remaining consumption is fully hedged."
)


def _waterfall_caption(zoomed: bool) -> str:
    axis = (
        " The value axis is cut to the span of the steps (it does not start at zero)."
        if zoomed
        else ""
    )
    return (
        "How each policy gets from the mean unhedged cost (grey) to its mean hedged cost "
        "(last bar), averaged across paths: the futures P&L at the price paid for tokens "
        "('hedge at spend price'), the basis between the settlement average and that price, "
        "the P&L of contracts closed early ('roll P&L'), then fees and funding cost. Green "
        f"steps lower the cost, red steps raise it; the labels add up to the hedged cost.{axis}"
    )


def _sweep_caption(panels: int) -> str:
    shown = (
        f" Only the first {MAX_SWEEP_PANELS} of {panels} panels are drawn."
        if panels > MAX_SWEEP_PANELS
        else ""
    )
    return (
        "VR_std (1 − σ hedged / σ unhedged of the horizon cost; higher is better) of the "
        "policies of a parameter sweep over their parameter values: a line with "
        "confidence-interval bars for one parameter, a heat map with the value in each cell "
        f"for two, one heat map per value of the further parameters.{shown}"
    )
