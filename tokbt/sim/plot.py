"""A picture of a simulated world: spot fan chart, futures curves, consumption.

``plot_simulation`` draws one PNG of three panels from a ``SimPlan`` and a
``SimChunk``, headless (an Agg canvas on a ``matplotlib.figure.Figure``; no
``pyplot`` and no change to global matplotlib state):

1. the daily Token Price Index across paths: 5-95 % and 25-75 % quantile bands,
   the median, a few sample paths and the scenario's regime windows, on a log
   axis (prices move by orders of magnitude);
2. the futures curves of one sample path (the first drawn in panel 1): on a few
   evenly spaced exchange days, the settlement of every listed contract
   against its mid-delivery date, with that path's spot index;
3. realised daily consumption across paths (quantile bands, median) and the plan.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from tokbt.sim.simulate import SimChunk, SimPlan

FIG_DPI = 125
"""Resolution of the PNG, dots per inch."""
FIG_SIZE_PX = (1600, 1100)
"""Width and height of the PNG in pixels."""

FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
"""Quantiles of a fan chart: outer band, inner band, median."""

_LOG_SPAN = 8.0
"""Consumption is drawn on a log axis when what is shown spans more than this factor."""

_BAND = "#2c6fbb"  # the spot fan
_MEDIAN = "#0b2e59"
_CONSUMPTION = "#2a9d6f"  # the consumption fan
_CONSUMPTION_MEDIAN = "#145a40"
_PLAN = "#c0392b"
_REGIME = "#f4a261"
_SPOT_LINE = "#404040"
_SAMPLES = ("#e76f51", "#8e44ad", "#d4a017", "#16a085", "#c2185b", "#6d4c41", "#5c6bc0")
"""Sample-path colours: distinct from each other and from the blue fan."""


def fan_quantiles(values: np.ndarray, q: Sequence[float] = FAN_QUANTILES) -> np.ndarray:
    """Quantiles ``q`` across paths (axis 0) of ``values`` ``(n_paths, n_t)``.

    Returns ``(len(q), n_t)``: row ``i`` is quantile ``q[i]`` at each time,
    computed with ``np.nanquantile`` (linear interpolation), so NaNs are
    ignored; a column that is all NaN gives NaN (without a warning).
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"values must be (n_paths, n_t), got shape {arr.shape}")
    qs = np.asarray(q, dtype=float)
    if qs.ndim != 1 or np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"quantiles must be a sequence in [0, 1], got {q!r}")
    if arr.shape[0] == 0:
        return np.full((len(qs), arr.shape[1]), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return np.asarray(np.nanquantile(arr, qs, axis=0))


def plot_simulation(
    plan: SimPlan,
    chunk: SimChunk,
    out: str | Path,
    *,
    n_samples: int = 5,
    curve_dates: int = 4,
    title: str | None = None,
) -> Path:
    """Draw ``chunk`` (simulated from ``plan``) as a three-panel PNG at ``out``; return its path.

    The image is ``FIG_SIZE_PX`` pixels at ``FIG_DPI`` dots per inch, drawn on
    an Agg canvas (works headless, leaves ``pyplot`` and the global backend
    alone). Panels, top to bottom, all with calendar dates on the x axis:

    1. *Spot fan chart*: 5-95 % and 25-75 % bands and the median of the daily
       Token Price Index across paths, ``n_samples`` sample paths (evenly
       spread over the chunk's paths) as thin lines, log price axis, and the
       scenario's regime windows shaded and named.
    2. *Futures curves* of the first sample path: on ``curve_dates`` evenly
       spaced exchange days (first and last included), the settlement price of
       every contract listed that day at its mid-delivery date, as connected
       markers coloured by date, with the path's spot index as a thin line and
       the observation day marked on it; log price axis.
    3. *Consumption*: 5-95 % and 25-75 % bands and median of realised daily
       consumption (millions of tokens a day) across paths, the plan dashed,
       regime windows shaded.

    ``title`` replaces the default figure title (scenario, paths, days, seed).
    Parent directories of ``out`` are created. Raises ``ValueError`` if the
    chunk holds no path or ``n_samples``/``curve_dates`` is negative.
    """
    n_paths = chunk.index.shape[0]
    if n_paths == 0:
        raise ValueError("the chunk holds no path")
    if n_samples < 0 or curve_dates < 0:
        raise ValueError(f"n_samples ({n_samples}) and curve_dates ({curve_dates}) must be >= 0")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    rows = _sample_rows(n_paths, max(n_samples, 1))
    width, height = FIG_SIZE_PX
    fig = Figure(figsize=(width / FIG_DPI, height / FIG_DPI), dpi=FIG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax_spot, ax_curve, ax_cons = fig.subplots(3, 1, height_ratios=(1.25, 1.0, 0.9))

    _spot_panel(ax_spot, plan, chunk, rows[:n_samples] if n_samples else rows[:0])
    _curve_panel(ax_curve, plan, chunk, rows[0], curve_dates)
    _consumption_panel(ax_cons, plan, chunk)
    for ax in (ax_spot, ax_curve, ax_cons):
        _style(ax)

    sc = plan.scenario
    fig.suptitle(
        title
        or f"Simulated token market — scenario '{sc.name}': {n_paths} paths × {plan.n_days} days "
        f"from {sc.start:%Y-%m-%d}, seed {plan.seed}",
        fontsize=14,
        fontweight="bold",
    )
    fig.savefig(out, dpi=FIG_DPI, format="png", facecolor="white")
    return out


# -- panels --------------------------------------------------------------------------------


def _spot_panel(ax: Axes, plan: SimPlan, chunk: SimChunk, rows: np.ndarray) -> None:
    days = plan.days
    _fan(ax, days, chunk.index, _BAND, _MEDIAN, "median index")
    for i, row in enumerate(rows):
        first = i == 0
        ax.plot(
            days,
            chunk.index[row],
            color=_SAMPLES[i % len(_SAMPLES)],
            lw=1.1 if first else 0.8,
            alpha=0.95 if first else 0.8,
            label=f"path {chunk.paths[row]} (curves below)" if first else None,
            zorder=3 if first else 2,
        )
    if len(rows) > 1:
        ax.plot([], [], color=_SAMPLES[1], lw=0.8, label=f"{len(rows) - 1} other sample paths")
    regimes = _regime_windows(ax, plan, label=True)
    ax.set_yscale("log")
    _log_price_ticks(ax)
    ax.set_ylabel(f"Index ({plan.spec.quote_unit})")
    ax.set_title("Token Price Index across paths (daily close, log scale)", loc="left")
    _legend_and_span(ax, regimes, days)


def _curve_panel(ax: Axes, plan: SimPlan, chunk: SimChunk, row: int, n_dates: int) -> None:
    days = plan.days
    spot = chunk.index[row]
    ax.plot(days, spot, color=_SPOT_LINE, lw=0.8, label="spot index", zorder=2)
    n_ex = len(plan.exchange_days)
    picks = np.unique(np.linspace(0, n_ex - 1, n_dates if n_ex else 0).round().astype(np.int64))
    colours = _date_colours(len(picks))
    mids = np.array([_mid_delivery(c.delivery_start, c.delivery_end) for c in plan.contracts])
    right = days[-1]
    for colour, e in zip(colours, picks, strict=True):
        slots = plan.listed[e]
        listed = slots[slots >= 0]
        prices = chunk.settle[e, row, slots >= 0]
        ok = np.isfinite(prices)
        x, y = mids[listed][ok], prices[ok]
        order = np.argsort(x)
        day = days[plan.exchange_days[e]]
        ax.plot(
            x[order],
            y[order],
            "-o",
            color=colour,
            lw=1.6,
            ms=4.5,
            label=f"curve on {_fmt_day(day)}",
            zorder=4,
        )
        ax.plot(
            [day],
            [spot[plan.exchange_days[e]]],
            marker="D",
            ms=7,
            color=colour,
            mec="black",
            mew=0.8,
            ls="none",
            zorder=5,
        )
        if len(x):
            right = max(right, x.max())
    _regime_windows(ax, plan, label=False)
    ax.set_yscale("log")
    _log_price_ticks(ax)
    pad = np.timedelta64(12, "D")  # room for the first observation marker and the last point
    ax.set_xlim(days[0] - pad, right + pad)
    ax.axvline(days[-1], color="#999999", lw=0.8, ls=":", zorder=1)
    ax.set_ylabel(f"Price ({plan.spec.quote_unit})")
    ax.set_xlabel("Date (futures plotted at mid-delivery)")
    ax.set_title(
        f"Futures curves of path {chunk.paths[row]}: settlement of each listed contract on "
        f"{len(picks)} dates (◆ = observation day on the spot line; dotted = end of horizon)",
        loc="left",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)


def _consumption_panel(ax: Axes, plan: SimPlan, chunk: SimChunk) -> None:
    days = plan.days
    tokens = chunk.consumption.tokens
    bands = _fan(ax, days, tokens, _CONSUMPTION, _CONSUMPTION_MEDIAN, "median consumption")
    ax.plot(days, chunk.consumption.plan, color=_PLAN, lw=1.6, ls="--", label="plan", zorder=4)
    regimes = _regime_windows(ax, plan, label=False)
    shown = np.concatenate([bands[0], bands[-1], chunk.consumption.plan])
    shown = shown[np.isfinite(shown) & (shown > 0)]
    log = shown.size > 0 and shown.max() / shown.min() > _LOG_SPAN
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_fmt_number))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_ylabel("Consumption (M tokens/day)")
    ax.set_xlabel("Date")
    scale = "log scale" if log else "linear scale"
    ax.set_title(f"Realised daily token consumption across paths ({scale})", loc="left")
    _legend_and_span(ax, regimes, days)


# -- helpers -------------------------------------------------------------------------------


def _legend_and_span(ax: Axes, regimes: int, days: np.ndarray) -> None:
    """Legend outside the panel on the right (with the regime swatch), x axis over ``days``."""
    handles, labels = ax.get_legend_handles_labels()
    if regimes:
        handles.append(Patch(color=_REGIME, alpha=0.25))
        labels.append("regime window")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.set_xlim(days[0], days[-1])


def _fan(
    ax: Axes, x: np.ndarray, values: np.ndarray, colour: str, median_colour: str, what: str
) -> np.ndarray:
    """Draw the 5-95 % and 25-75 % bands and the median of ``values``; return the quantiles."""
    quantiles = fan_quantiles(values)
    q05, q25, q50, q75, q95 = quantiles
    ax.fill_between(x, q05, q95, color=colour, alpha=0.18, lw=0, label="5–95 % of paths")
    ax.fill_between(x, q25, q75, color=colour, alpha=0.38, lw=0, label="25–75 % of paths")
    ax.plot(x, q50, color=median_colour, lw=2.0, label=what, zorder=3)
    return quantiles


def _sample_rows(n_paths: int, n: int) -> np.ndarray:
    """``n`` distinct rows spread evenly over ``0..n_paths-1`` (fewer if there are fewer paths)."""
    return np.unique(np.linspace(0, n_paths - 1, min(n, n_paths)).round().astype(np.int64))


def _regime_windows(ax: Axes, plan: SimPlan, *, label: bool) -> int:
    """Shade the scenario's regimes inside the horizon; name them if ``label``; count them."""
    start, n = plan.days[0], plan.n_days
    text_at = blended_transform_factory(ax.transData, ax.transAxes)
    shown = 0
    for regime in plan.scenario.regimes:
        lo, hi = min(regime.start_day, n), min(regime.end_day, n)
        if hi <= lo:
            continue
        x0, x1 = start + np.timedelta64(lo, "D"), start + np.timedelta64(hi, "D")
        ax.axvspan(x0, x1, color=_REGIME, alpha=0.18, lw=0, zorder=0)
        if label:
            ax.text(
                x0 + (x1 - x0) / 2,
                0.97,
                f"{regime.name} (days {regime.start_day}–{regime.end_day})",
                transform=text_at,
                ha="center",
                va="top",
                fontsize=9,
                color="#8a4b10",
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.7},
            )
        shown += 1
    return shown


def _style(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=6, maxticks=14)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.grid(True, which="major", color="#dddddd", lw=0.7)
    ax.grid(True, which="minor", axis="y", color="#eeeeee", lw=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _log_price_ticks(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_fmt_price))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_fmt_price_minor))


def _fmt_price(value: float, _pos: int | None = None) -> str:
    """``$0.01``, ``$0.3``, ``$2``, ``$100``: as few digits as the value needs."""
    if value <= 0:
        return ""
    if value >= 1:
        return f"${value:,.0f}"
    decimals = max(0, int(np.ceil(-np.log10(value) - 1e-9)))
    return f"${value:.{decimals}f}"


def _fmt_price_minor(value: float, pos: int | None = None) -> str:
    """Label the 2x and 5x minor ticks of a log axis (enough to read a level)."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** np.floor(np.log10(value) + 1e-9)
    return _fmt_price(value, pos) if round(mantissa) in (2, 5) else ""


def _fmt_number(value: float, _pos: int | None = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:.2g}"


def _date_colours(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` colours from early (dark purple) to late (orange) along ``plasma``."""
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(x) for x in np.linspace(0.0, 0.8, n)] if n > 1 else [cmap(0.0)] * n


def _mid_delivery(first: dt.date, last: dt.date) -> np.datetime64:
    return np.datetime64(first, "D") + np.timedelta64((last - first).days // 2, "D")


def _fmt_day(day: np.datetime64) -> str:
    return str(np.datetime_as_string(day, unit="D"))
