"""``tokbt paper``: the experiment of Xing (arXiv 2603.21690) as far as its published
information goes, and how its headline depends on what it does not say.

The paper states (``../shared/DOMAIN.md`` §1): a mean-reverting jump-diffusion token price,
Monte Carlo over 10,000 paths, a 36-month horizon, an application-layer enterprise that
buys tokens, cash-settled futures on the TPI with daily mark-to-market and initial margin
of 8–12 %, and a 62–78 % cut in compute-cost volatility under a demand explosion. Every
other number is a documented tokbt assumption (``PAPER_FACTS`` and ``ASSUMPTIONS``).

Two parts:

* the **main table** — every scenario × the policies none / static 1:1 / minimum-variance /
  rolling / layered, on ``paths`` paths; the demand explosion twice, hedging the
  treasury's trend plan and the explosion-aware expected plan;
* the **sensitivity** — one factor at a time around the demand explosion with the
  expected plan (quantity risk, basis noise, hedge horizon, settlement rule), static 1:1
  against no hedge, on ``sensitivity_paths`` paths.

Nothing is tuned per policy: every policy waits ``START`` exchange days and hedges the
same ``MONTHS`` delivery months of the plan.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tokbt.metrics.evaluation import Evaluation
from tokbt.runs.backtest import build_plan
from tokbt.runs.config import SimulateMarket
from tokbt.runs.mc import Executor, McConfig, monte_carlo
from tokbt.runs.prop61 import prop61_table
from tokbt.sim import simulate_paths

SCENARIOS = ("baseline", "demand_explosion", "supply_shock", "price_war")
POLICIES = ("no_hedge", "static", "min_variance", "rolling", "layered")
START, MONTHS = 60, 33
TABLE = ("vr_std", "he_var", "vr_std_unit", "cvar95_cost", "mean_margin_calls", "p95_peak_funding")
PAPER_RANGE = (0.62, 0.78)

PAPER_FACTS = {
    "price process": "mean-reverting jump-diffusion (tokbt: OU in log price with up-jumps "
    "and price cuts, regime-switching; DOMAIN.md §4)",
    "paths": "10,000",
    "horizon": "36 months (1,095 days)",
    "hedger": "an application-layer enterprise buying tokens (long hedger)",
    "contract": "cash-settled TPI future, daily mark-to-market, initial margin 8–12 % "
    "(tokbt: 10 %)",
    "headline": "futures cut compute-cost volatility by 62–78 % under a demand explosion",
}
"""What the experiment takes from the paper (its abstract and secondary summaries)."""

ASSUMPTIONS = {
    "price parameters": "tokbt's scenario presets (`tokbt sim show NAME`): s0 2.34 USD/1M, "
    "κ 18/yr (half-life 14 days), σ 45 %/yr, jump and cut rates per scenario",
    "demand explosion": "months 6–24: price trend +60 %/yr, up-jumps 12/yr of +25 %, "
    "consumption growth 150 %/yr, elasticity to price shocks 0.8",
    "consumption": "1bn tokens/day at the start, +50 %/yr trend, AR(1) noise 5 %",
    "plan hedged": "`trend` (the treasury's +50 %/yr forecast) or `expected` (the expected "
    "path including the explosion's demand growth)",
    "futures curve": "model-implied expectations, no risk premium, basis noise 1 % (AR 0.9); "
    "`persistent` (default): priced with today's dynamics held constant, so a regime's "
    "start and end are surprises; `schedule`: the market knows the regime calendar",
    "policies": f"start after {START} exchange days, hedge {MONTHS} delivery months; "
    "static 1:1, min-variance h* on 60 days, rolling front-month stack, layered ladder",
    "costs": "fee 0.50/contract, half-spread 1 tick + 0.5/month, funding 5 %/yr, margin "
    "interest 3 %/yr",
    "volatility measured": "σ across paths of the 36-month cost (VR_std), also of the unit "
    "cost per 1M tokens (VR_std unit) — the paper does not say which",
}
"""Every choice the paper does not state, as tokbt makes it."""

SENSITIVITY: dict[str, tuple[str, str, list[Any]]] = {
    "quantity risk": (
        "price elasticity of demand in the explosion",
        "market.simulate.overrides.regimes.0.price_link",
        [0.0, 0.4, 0.8],
    ),
    "demand growth": (
        "consumption growth in the explosion (/yr)",
        "market.simulate.overrides.regimes.0.demand_growth",
        [0.5, 1.0, 1.5],
    ),
    "basis noise": (
        "basis noise of the futures curve (σ)",
        "market.simulate.overrides.curve.basis_sigma",
        [0.0, 0.01, 0.05, 0.1],
    ),
    "hedge horizon": (
        "delivery months hedged",
        "policies.static.params.months",
        [6, 12, 24, 33],
    ),
    "curve expectations": (
        "what the futures curve knows of the regime",
        "market.simulate.overrides.curve.expectations",
        ["persistent", "schedule"],
    ),
    "settlement rule": (
        "final settlement",
        "market.simulate.overrides.contract",
        ["tpi_month", "tpi_month_fixing"],
    ),
}
"""One-at-a-time factors: a label, the config path swept, and the levels."""


LISTING_DEPTHS = (12, 24, 36)
"""Serial months listed at a time (the contract spec's ``listing.months``)."""
HEDGE_STARTS = ("day 0", f"day {START}", f"from today (day {START})")
"""When the hedge is placed (``hedge_start``): on the first day (every path starts from the
same state), after ``START`` days of an unconditional simulation (the paths' forwards
already differ when the hedge is placed), or on day ``START`` of paths that share their
history up to it (measured from then: ``vr_std_after``)."""


def hedge_start(label: str) -> tuple[int, int]:
    """``(policy start, branch_day)`` in exchange days of a ``HEDGE_STARTS`` label."""
    if label.startswith("from today"):
        return START, START
    return (0, 0) if label == "day 0" else (START, 0)


EXPLOSIONS: dict[str, dict[str, Any]] = {
    "quantity-driven": {"consumption.plan": "expected"},
    "price-only": {
        "consumption.plan": "expected",
        "consumption.noise_sigma": 0.0,
        "regimes.0.price_link": 0.0,
        "spot.cut_rate": 0.0,
        "regimes.0.cut_rate": 0.0,
    },
}
"""The demand explosion as tokbt's preset has it (consumption surges with the price, so the
bill's spread is mostly quantity), and a price-only explosion: the same price regime, the
quantity known in advance (the plan is the expected path, no noise, no response to price)
and no permanent list-price cuts."""
LOCATE_POLICIES = ("no_hedge", "static", "min_variance")
LOCATE_TABLE = (
    "vr_std",
    "vr_std_after",
    "he_var",
    "he_var_after",
    "share_quantity",
    "share_timing",
)

HORIZON_DAYS = 1095


def _base(
    scenario: str,
    paths: int,
    plan: str,
    policies: tuple[str, ...],
    curve: str = "persistent",
    *,
    start: int = START,
    overrides: dict[str, Any] | None = None,
    branch_day: int = 0,
    listing: int | None = None,
) -> dict[str, Any]:
    market_overrides: dict[str, Any] = {"consumption.plan": plan} | (overrides or {})
    if curve != "persistent":
        market_overrides["curve.expectations"] = curve
    simulate: dict[str, Any] = {
        "scenario": scenario,
        "paths": paths,
        "horizon_days": HORIZON_DAYS,
        "seed": 2603,
        "overrides": market_overrides,
        "branch_day": branch_day,
    }
    if listing is not None:
        simulate["contract_overrides"] = {"listing.months": listing}
    months = MONTHS if start else MONTHS + 2  # every month after the start month
    return {
        "chunk_paths": 500,
        "baseline": "no_hedge",
        "market": {"simulate": simulate},
        "broker": {"fee_per_contract": 0.5},
        "ledger": {"funding_rate": 0.05, "margin_rate": 0.03},
        "policies": [
            {"name": p}
            if p == "no_hedge"
            else {"name": p, "params": {"start": start, "months": months}}
            for p in policies
        ],
        "bootstrap": {"resamples": 1000},
    }


PROP61_MARKETS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline", {}),
    "demand_explosion": ("demand_explosion", {}),
    "demand_explosion, schedule curve": ("demand_explosion", {"curve.expectations": "schedule"}),
    "supply_shock": ("supply_shock", {}),
    "price_war": ("price_war", {}),
    "demand_explosion, price-only": ("demand_explosion", EXPLOSIONS["price-only"]),
}
"""The markets Proposition 6.1 is measured on (scenario and overrides): the price processes
of the main table's rows (the plan hedged does not change prices) and the price-only
explosion of the claim's location."""


def prop61_market(scenario: str, plan: str) -> str:
    """The ``PROP61_MARKETS`` entry whose prices a main-table row (scenario, plan) trades."""
    return f"{scenario}, schedule curve" if "schedule" in plan else scenario


PROP61_PATHS = 2_000


def prop61_rows(paths: int = PROP61_PATHS) -> list[dict[str, Any]]:
    """Proposition 6.1 (``tokbt.runs.prop61``) on ``paths`` paths of each of
    ``PROP61_MARKETS`` (the paper's seed and horizon): one row per market, futures series
    and sample."""
    rows: list[dict[str, Any]] = []
    for market, (scenario, overrides) in PROP61_MARKETS.items():
        sim = SimulateMarket(
            scenario=scenario, paths=paths, horizon_days=HORIZON_DAYS, seed=2603,
            overrides=overrides,
        )  # fmt: skip
        plan = build_plan(sim)
        chunk = simulate_paths(plan, range(paths))
        rows += [{"market": market, **r.flat()} for r in prop61_table(plan, chunk)]
    return rows


def locate_runs(paths: int) -> list[tuple[dict[str, Any], McConfig]]:
    """``(labels, config)`` of the claim's location: each explosion × listing depth × hedge
    start, the demand explosion with the expected plan, no hedge / static / min-variance."""
    runs = []
    for explosion, overrides in EXPLOSIONS.items():
        for depth in LISTING_DEPTHS:
            for label in HEDGE_STARTS:
                start, branch = hedge_start(label)
                data = _base(
                    "demand_explosion", paths, "expected", LOCATE_POLICIES, start=start,
                    overrides=overrides, branch_day=branch, listing=depth,
                )  # fmt: skip
                labels = {"explosion": explosion, "listing": depth, "start": label}
                runs.append((labels, McConfig.model_validate(data)))
    return runs


def main_runs(paths: int) -> list[tuple[str, str, McConfig]]:
    """``(scenario, variant, config)`` of the main table: every scenario hedging the trend
    plan; the demand explosion also with the expected plan, on the default curve and on a
    curve that knows the regime calendar (``schedule``)."""
    runs = [
        (s, "trend", McConfig.model_validate(_base(s, paths, "trend", POLICIES))) for s in SCENARIOS
    ]
    explosion = [
        ("expected", _base("demand_explosion", paths, "expected", POLICIES)),
        (
            "expected, schedule curve",
            _base("demand_explosion", paths, "expected", POLICIES, "schedule"),
        ),
    ]
    for k, (variant, data) in enumerate(explosion):
        runs.insert(2 + k, ("demand_explosion", variant, McConfig.model_validate(data)))
    return runs


def sensitivity_runs(paths: int) -> list[tuple[str, McConfig]]:
    """``(factor, config)`` of the sensitivity: each factor swept alone."""
    out = []
    for factor, (_, key, levels) in SENSITIVITY.items():
        data = _base("demand_explosion", paths, "expected", ("no_hedge", "static"))
        data["grid"] = {key: levels}
        out.append((factor, McConfig.model_validate(data)))
    return out


@dataclasses.dataclass(frozen=True)
class PaperResult:
    """The main, sensitivity and claim-location tables (long frames), and the run settings."""

    main: pd.DataFrame
    sensitivity: pd.DataFrame
    paths: int
    sensitivity_paths: int
    locate: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    prop61: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)


def _rows(
    ev: Evaluation, extra: dict[str, Any], metrics: tuple[str, ...] = TABLE
) -> list[dict[str, Any]]:
    table = ev.summary.set_index(["policy", "metric"])
    rows = []
    for policy in ev.policies:
        row = dict(extra, policy=policy)
        for metric in metrics:
            value, lo, hi = table.loc[(policy, metric), ["value", "lo", "hi"]]
            row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = value, lo, hi
        rows.append(row)
    return rows


def run_paper(
    work: Path,
    *,
    paths: int = 10_000,
    sensitivity_paths: int = 2_000,
    executor: Executor | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> PaperResult:
    """Run the main table, the sensitivity and the claim's location into ``work`` (chunk
    files; resumable)."""
    main, sens, locate = [], [], []
    for scenario, plan, config in main_runs(paths):
        step = f"{scenario} ({plan} plan)"
        folder = work / f"{scenario}-{plan.replace(', ', '-').replace(' ', '_')}"
        run = monte_carlo(config, folder, executor=executor, progress=_tell(progress, step))
        main += _rows(run.evaluation, {"scenario": scenario, "plan": plan})
    for factor, config in sensitivity_runs(sensitivity_paths):
        run = monte_carlo(
            config,
            work / f"sensitivity-{factor.replace(' ', '_')}",
            executor=executor,
            progress=_tell(progress, factor),
        )
        for row in _rows(run.evaluation, {"factor": factor}):
            policy, _, level = row["policy"].partition(" [")
            row["policy"], row["level"] = policy, level.rstrip("]").split("=", 1)[-1]
            sens.append(row)
    for labels, config in locate_runs(paths):
        step = f"{labels['explosion']}, {labels['listing']} months, {labels['start']}"
        folder = work / "locate" / re.sub(r"[^A-Za-z0-9]+", "_", step).strip("_")
        run = monte_carlo(config, folder, executor=executor, progress=_tell(progress, step))
        locate += _rows(run.evaluation, labels, LOCATE_TABLE)
    if progress is not None:
        progress("Proposition 6.1", 0, 1)
    return PaperResult(
        pd.DataFrame(main),
        pd.DataFrame(sens),
        paths,
        sensitivity_paths,
        pd.DataFrame(locate),
        pd.DataFrame(prop61_rows(min(paths, PROP61_PATHS))),
    )


def _tell(
    progress: Callable[[str, int, int], None] | None, step: str
) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(step, done, total)


# -- writing ---------------------------------------------------------------------------------


def _pct(value: float, lo: float | None = None, hi: float | None = None) -> str:
    if not np.isfinite(value):
        return "—"
    text = f"{value:.1%}"
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:.1%}, {hi:.1%}]"
    return text


def main_markdown(result: PaperResult) -> str:
    """The main table: scenario × policy → VR_std (CI), HE_var, VR unit, CVaR95, calls, funding."""
    lines = [
        "| scenario | plan | policy | VR_std [95 % CI] | HE_var | VR_std unit cost | "
        "CVaR95 of cost | margin calls / path | p95 peak funding | ρ² daily (rolled front) | "
        "1 − √(1 − ρ²) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    bound = _prop61_bounds(result)
    for r in result.main.to_dict("records"):
        rho2, sigma = bound.get(prop61_market(str(r["scenario"]), str(r["plan"])), (NAN, NAN))
        lines.append(
            f"| {r['scenario']} | {r['plan']} | {r['policy']} | "
            f"{_pct(r['vr_std'], r['vr_std_lo'], r['vr_std_hi'])} | {_pct(r['he_var'])} | "
            f"{_pct(r['vr_std_unit'], r['vr_std_unit_lo'], r['vr_std_unit_hi'])} | "
            f"{r['cvar95_cost'] / 1e6:,.1f} M | {r['mean_margin_calls']:.1f} | "
            f"{r['p95_peak_funding'] / 1e6:,.2f} M | {_pct(rho2)} | {_pct(sigma)} |"
        )
    return "\n".join(lines) + "\n"


def sensitivity_markdown(result: PaperResult) -> str:
    """The sensitivity table: factor × level → static 1:1's VR_std and VR_std unit cost."""
    lines = [
        "| factor | level | VR_std [95 % CI] | VR_std unit cost [95 % CI] | in 62–78 % |",
        "|---|---|---:|---:|---|",
    ]
    static = result.sensitivity[result.sensitivity["policy"] == "static"]
    for r in static.to_dict("records"):
        inside = [
            name
            for name in ("vr_std", "vr_std_unit")
            if PAPER_RANGE[0] <= r[name] <= PAPER_RANGE[1]
        ]
        vr = _pct(r["vr_std"], r["vr_std_lo"], r["vr_std_hi"])
        lines.append(
            f"| {r['factor']} | {r['level']} | {vr} | "
            f"{_pct(r['vr_std_unit'], r['vr_std_unit_lo'], r['vr_std_unit_hi'])} | "
            f"{', '.join(inside) or 'no'} |"
        )
    return "\n".join(lines) + "\n"


NAN = float("nan")


def _prop61_bounds(result: PaperResult) -> dict[str, tuple[float, float]]:
    """Per market: ρ² and 1 − √(1 − ρ²) of the rolled front series in sample (what
    Proposition 6.1 promises a daily minimum-variance hedge)."""
    frame = result.prop61
    if not len(frame):
        return {}
    rolled = frame[(frame["series"] == "rolled") & (frame["sample"] == "in")]
    return {
        str(m): (float(a), float(b))
        for m, a, b in rolled[["market", "rho2", "vr_std_bound"]].itertuples(index=False)
    }


def prop61_markdown(result: PaperResult) -> str:
    """Proposition 6.1 per market and futures series: ρ, h*, ρ² (the variance reduction it
    predicts at h*), 1 − √(1 − ρ²) (the σ reduction), and the σ reduction realised by
    ``ΔS − h*·ΔF`` in and out of sample — daily index changes, not the cost."""
    lines = [
        "| market | futures series | sample | ρ | h* | ρ² | 1 − √(1 − ρ²) | realised σ "
        "reduction | ρ across paths (q25–q75) | ρ² in 62–78 % |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    names = {
        "front": "front month as it is",
        "rolled": "rolled, back-adjusted front",
        "decision": "min_variance's old window",
    }
    for r in result.prop61.to_dict("records"):
        lines.append(
            f"| {r['market']} | {names.get(str(r['series']), r['series'])} | {r['sample']} | "
            f"{r['rho']:.3f} | {r['h']:.2f} | {_pct(r['rho2'])} | {_pct(r['vr_std_bound'])} | "
            f"{_pct(r['vr_std'])} | {r['rho_q25']:.2f}–{r['rho_q75']:.2f} | "
            f"{'**yes**' if PAPER_RANGE[0] <= r['rho2'] <= PAPER_RANGE[1] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def located(row: dict[str, Any]) -> tuple[str, str]:
    """The VR_std that answers "what does the hedge remove" for a row of the location table,
    and its metric: the cost after the hedge date when the paths share their history up to
    it, else the horizon cost."""
    metric = "vr_std_after" if hedge_start(row["start"])[1] else "vr_std"
    return metric, ("from the hedge date" if metric == "vr_std_after" else "36-month cost")


def locate_markdown(result: PaperResult) -> str:
    """The claim's location: explosion × listing depth × hedge start → static 1:1's and
    min-variance's VR_std, HE_var, the quantity and timing shares, and whether it is in
    the paper's 62–78 %."""
    lines = [
        "| explosion | months listed | hedge placed | measured on | static VR_std [95 % CI] | "
        "static HE_var | min-variance VR_std | quantity share | timing share | in 62–78 % |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    frame = result.locate
    for record in frame[frame["policy"] == "static"].to_dict("records"):
        r = {str(k): v for k, v in record.items()}
        metric, measured = located(r)
        he = "he_var_after" if metric == "vr_std_after" else "he_var"
        same = (
            (frame["policy"] == "min_variance")
            & (frame["explosion"] == r["explosion"])
            & (frame["listing"] == r["listing"])
            & (frame["start"] == r["start"])
        )
        mv = frame.loc[same, metric]
        inside = PAPER_RANGE[0] <= r[metric] <= PAPER_RANGE[1]
        lines.append(
            f"| {r['explosion']} | {r['listing']} | {r['start']} | {measured} | "
            f"{_pct(r[metric], r[f'{metric}_lo'], r[f'{metric}_hi'])} | {_pct(r[he])} | "
            f"{_pct(float(mv.iloc[0])) if len(mv) else '—'} | {_pct(r['share_quantity'])} | "
            f"{_pct(r['share_timing'])} | {'**yes**' if inside else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def locate_figure(result: PaperResult, path: Path) -> Path:
    """One panel per explosion: static 1:1's VR_std (with its interval) by when the hedge is
    placed, one line per listing depth, and the paper's 62–78 % band."""
    fig = Figure(figsize=(12, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(EXPLOSIONS), sharey=True)
    frame = result.locate[result.locate["policy"] == "static"]
    colours = {12: "#9ecae1", 24: "#4292c6", 36: "#08519c"}
    starts = list(HEDGE_STARTS)
    for ax, explosion in zip(np.atleast_1d(axes), EXPLOSIONS, strict=True):
        ax.axhspan(*PAPER_RANGE, color="#f2c14e", alpha=0.25, label="paper: 62–78 %")
        for depth in LISTING_DEPTHS:
            rows = frame[(frame["explosion"] == explosion) & (frame["listing"] == depth)]
            records = [
                {str(k): v for k, v in r.items()}
                for r in rows.set_index("start").loc[starts].reset_index().to_dict("records")
            ]
            metric = [located(r)[0] for r in records]
            y = np.array([r[m] for r, m in zip(records, metric, strict=True)])
            lo = np.array([r[f"{m}_lo"] for r, m in zip(records, metric, strict=True)])
            hi = np.array([r[f"{m}_hi"] for r, m in zip(records, metric, strict=True)])
            err = np.nan_to_num(np.vstack([y - lo, hi - y]))
            ax.errorbar(range(len(starts)), y, yerr=err, fmt="o-", capsize=3,
                        color=colours[depth], label=f"{depth} months listed")  # fmt: skip
        ax.set_xticks(range(len(starts)), starts, fontsize=8)
        ax.set_title(f"{explosion} explosion", loc="left", fontsize=10)
        ax.set_xlabel("when the static 1:1 hedge is placed (and what is measured)", fontsize=8)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("VR_std = 1 − σ hedged / σ unhedged")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="best")
    fig.suptitle(
        f"Where the paper's 62–78 % holds: static 1:1 vs no hedge, demand explosion, expected "
        f"plan ({result.paths:,} paths per point; 95 % bootstrap intervals)\nday 0 and day 60: "
        "σ of the 36-month cost; from today: σ of the cost after the hedge date",
        fontsize=10,
    )
    fig.savefig(path, metadata={"Software": None})
    return path


def sensitivity_figure(result: PaperResult, path: Path) -> Path:
    """One panel per factor: static 1:1's VR_std and VR_std unit cost over the levels, with
    their intervals and the paper's 62–78 % band."""
    fig = Figure(figsize=(12, 6.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3).ravel()
    static = result.sensitivity[result.sensitivity["policy"] == "static"]
    for ax, factor in zip(axes, SENSITIVITY, strict=False):
        rows = static[static["factor"] == factor]
        x = np.arange(len(rows))
        ax.axhspan(*PAPER_RANGE, color="#f2c14e", alpha=0.25, label="paper: 62–78 %")
        for metric, colour, label in (
            ("vr_std", "#1f77b4", "VR_std (cost)"),
            ("vr_std_unit", "#d62728", "VR_std (unit cost)"),
        ):
            y = rows[metric].to_numpy()
            err = np.vstack(
                [y - rows[f"{metric}_lo"].to_numpy(), rows[f"{metric}_hi"].to_numpy() - y]
            )
            ax.errorbar(
                x, y, yerr=np.nan_to_num(err), fmt="o-", color=colour, capsize=3, label=label
            )
        ax.set_xticks(x, rows["level"].tolist())
        ax.set_title(factor, loc="left", fontsize=10)
        ax.set_xlabel(SENSITIVITY[factor][0], fontsize=8)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    for ax in axes[len(SENSITIVITY) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Static 1:1 hedge vs. no hedge, demand explosion, expected plan "
        f"({result.sensitivity_paths:,} paths per level; 95 % bootstrap intervals)",
        fontsize=11,
    )
    fig.savefig(path, metadata={"Software": None})
    return path


def write_paper(result: PaperResult, out: Path) -> list[Path]:
    """``results.md`` (both tables and the settings), ``results.json`` and ``sensitivity.png``."""
    out.mkdir(parents=True, exist_ok=True)
    facts = "\n".join(f"- **{k}**: {v}" for k, v in PAPER_FACTS.items())
    assumed = "\n".join(f"- **{k}**: {v}" for k, v in ASSUMPTIONS.items())
    text = (
        "# tokbt paper — results\n\n"
        f"Generated by `tokbt paper --paths {result.paths} --sensitivity-paths "
        f"{result.sensitivity_paths}`. Seed 2603. Narrative: [`../paper.md`](../paper.md).\n\n"
        "## From the paper\n\n" + facts + "\n\n## tokbt's assumptions\n\n" + assumed + "\n\n"
        f"## Scenario × policy ({result.paths:,} paths each)\n\n" + main_markdown(result) + "\n"
        "## Sensitivity: static 1:1, demand explosion, expected plan "
        f"({result.sensitivity_paths:,} paths per level)\n\n"
        + sensitivity_markdown(result)
        + "\n![sensitivity](sensitivity.png)\n"
        + (
            "\n## Where 62–78 % holds: explosion × listing depth × hedge start "
            f"({result.paths:,} paths each)\n\n"
            + locate_markdown(result)
            + "\n![where the claim holds](locate.png)\n"
            if len(result.locate)
            else ""
        )
        + (
            "\n## Proposition 6.1: ρ of daily index and futures changes "
            f"({int(result.prop61['n_paths'].iloc[0]):,} paths per market)\n\n"
            + prop61_markdown(result)
            if len(result.prop61)
            else ""
        )
    )
    md = out / "results.md"
    md.write_text(text)
    js = out / "results.json"
    payload = {
        "paths": result.paths,
        "sensitivity_paths": result.sensitivity_paths,
        "main": json.loads(result.main.to_json(orient="records")),
        "sensitivity": json.loads(result.sensitivity.to_json(orient="records")),
        "locate": json.loads(result.locate.to_json(orient="records")),
        "prop61": json.loads(result.prop61.to_json(orient="records")),
    }
    js.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    written = [md, js, sensitivity_figure(result, out / "sensitivity.png")]
    if len(result.locate):
        written.append(locate_figure(result, out / "locate.png"))
    return written
