"""``tokbt paper``: the experiment's configs, tables and figure (on a tiny run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.runs import paper
from tokbt.runs.mc import cells


def test_the_main_runs_follow_the_paper_setting() -> None:
    runs = paper.main_runs(10_000)
    assert [(s, p) for s, p, _ in runs] == [
        ("baseline", "trend"),
        ("demand_explosion", "trend"),
        ("demand_explosion", "expected"),
        ("demand_explosion", "expected, schedule curve"),
        ("supply_shock", "trend"),
        ("price_war", "trend"),
    ]
    for _, plan, config in runs:
        sim = config.market.simulate
        assert sim is not None
        assert (sim.paths, sim.horizon_days) == (10_000, 1095)
        assert sim.overrides["consumption.plan"] == plan.split(",")[0]
        assert sim.overrides.get("curve.expectations", "persistent") == (
            "schedule" if "schedule" in plan else "persistent"
        )
        assert [p.key for p in config.policies] == list(paper.POLICIES)
        hedged = [p for p in config.policies if p.name != "no_hedge"]
        assert all(p.params == {"start": paper.START, "months": paper.MONTHS} for p in hedged)


def test_the_sensitivity_sweeps_one_factor_at_a_time() -> None:
    runs = dict(paper.sensitivity_runs(2_000))
    assert list(runs) == list(paper.SENSITIVITY)
    for factor, config in runs.items():
        _, key, levels = paper.SENSITIVITY[factor]
        assert list(config.grid) == [key]
        assert len(cells(config)) == len(levels)
    fixing = cells(runs["settlement rule"])[1].config.market.simulate
    assert fixing is not None
    assert fixing.overrides["contract"] == "tpi_month_fixing"


def test_the_claim_is_located_over_explosion_listing_and_hedge_start() -> None:
    runs = paper.locate_runs(10_000)
    assert len(runs) == len(paper.EXPLOSIONS) * len(paper.LISTING_DEPTHS) * 3
    seen = set()
    for labels, config in runs:
        sim = config.market.simulate
        assert sim is not None
        seen.add((labels["explosion"], labels["listing"], labels["start"]))
        assert sim.scenario == "demand_explosion"
        assert sim.contract_overrides == {"listing.months": labels["listing"]}
        for key, value in paper.EXPLOSIONS[labels["explosion"]].items():
            assert sim.overrides[key] == value
        start, branch = paper.hedge_start(labels["start"])
        assert sim.branch_day == branch
        hedged = [p for p in config.policies if p.name != "no_hedge"]
        assert [p.key for p in config.policies] == list(paper.LOCATE_POLICIES)
        # every month after the start month of the 36
        assert all(p.params == {"start": start, "months": 35 if start == 0 else 33} for p in hedged)
    assert len(seen) == len(runs)
    assert paper.hedge_start("from today (day 60)") == (60, 60)
    assert paper.hedge_start("day 60") == (60, 0)
    price_only = paper.EXPLOSIONS["price-only"]
    assert price_only["regimes.0.price_link"] == 0.0
    assert price_only["spot.cut_rate"] == 0.0


def test_a_tiny_paper_run_writes_tables_and_a_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paper, "SCENARIOS", ("baseline", "demand_explosion"))
    monkeypatch.setattr(paper, "HORIZON_DAYS", 150)
    monkeypatch.setattr(paper, "MONTHS", 3)
    monkeypatch.setattr(paper, "START", 10)
    factors = {k: paper.SENSITIVITY[k] for k in ("basis noise", "settlement rule")}
    monkeypatch.setattr(paper, "SENSITIVITY", factors)
    monkeypatch.setattr(paper, "LISTING_DEPTHS", (12,))
    monkeypatch.setattr(paper, "HEDGE_STARTS", ("day 0", "from today (day 10)"))
    out = tmp_path / "out"
    args = ["paper", "--paths", "8", "--sensitivity-paths", "8", "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--work", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    text = (out / "results.md").read_text()
    assert "| demand_explosion | expected | static |" in text
    assert "| basis noise | 0.05 |" in text
    assert "| settlement rule | tpi_month_fixing |" in text
    assert "From the paper" in text
    assert "tokbt's assumptions" in text
    assert (out / "sensitivity.png").stat().st_size > 10_000
    assert '"sensitivity_paths": 8' in (out / "results.json").read_text()
    assert "| price-only | 12 | from today (day 10) | from the hedge date |" in text
    assert "| quantity-driven | 12 | day 0 | 36-month cost |" in text
    assert (out / "locate.png").stat().st_size > 10_000
    assert "| demand_explosion, price-only | rolled, back-adjusted front | in |" in text
    assert "| baseline | trend | static |" in text  # with its market's rho^2 beside it
