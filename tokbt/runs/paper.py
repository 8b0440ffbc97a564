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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tokbt.metrics.evaluation import Evaluation
from tokbt.runs.mc import Executor, McConfig, monte_carlo

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


HORIZON_DAYS = 1095


def _base(
    scenario: str, paths: int, plan: str, policies: tuple[str, ...], curve: str = "persistent"
) -> dict[str, Any]:
    overrides = {"consumption.plan": plan}
    if curve != "persistent":
        overrides["curve.expectations"] = curve
    return {
        "chunk_paths": 500,
        "baseline": "no_hedge",
        "market": {
            "simulate": {
                "scenario": scenario,
                "paths": paths,
                "horizon_days": HORIZON_DAYS,
                "seed": 2603,
                "overrides": overrides,
            }
        },
        "broker": {"fee_per_contract": 0.5},
        "ledger": {"funding_rate": 0.05, "margin_rate": 0.03},
        "policies": [
            {"name": p}
            if p == "no_hedge"
            else {"name": p, "params": {"start": START, "months": MONTHS}}
            for p in policies
        ],
        "bootstrap": {"resamples": 1000},
    }


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
    """The main table and the sensitivity table (long frames), and the run settings."""

    main: pd.DataFrame
    sensitivity: pd.DataFrame
    paths: int
    sensitivity_paths: int


def _rows(ev: Evaluation, extra: dict[str, Any]) -> list[dict[str, Any]]:
    table = ev.summary.set_index(["policy", "metric"])
    rows = []
    for policy in ev.policies:
        row = dict(extra, policy=policy)
        for metric in TABLE:
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
    """Run the main table and the sensitivity into ``work`` (chunk files; resumable)."""
    main, sens = [], []
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
    return PaperResult(pd.DataFrame(main), pd.DataFrame(sens), paths, sensitivity_paths)


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
        "CVaR95 of cost | margin calls / path | p95 peak funding |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.main.to_dict("records"):
        lines.append(
            f"| {r['scenario']} | {r['plan']} | {r['policy']} | "
            f"{_pct(r['vr_std'], r['vr_std_lo'], r['vr_std_hi'])} | {_pct(r['he_var'])} | "
            f"{_pct(r['vr_std_unit'], r['vr_std_unit_lo'], r['vr_std_unit_hi'])} | "
            f"{r['cvar95_cost'] / 1e6:,.1f} M | {r['mean_margin_calls']:.1f} | "
            f"{r['p95_peak_funding'] / 1e6:,.2f} M |"
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
    )
    md = out / "results.md"
    md.write_text(text)
    js = out / "results.json"
    payload = {
        "paths": result.paths,
        "sensitivity_paths": result.sensitivity_paths,
        "main": json.loads(result.main.to_json(orient="records")),
        "sensitivity": json.loads(result.sensitivity.to_json(orient="records")),
    }
    js.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return [md, js, sensitivity_figure(result, out / "sensitivity.png")]
