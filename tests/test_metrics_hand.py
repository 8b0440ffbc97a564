"""Metrics against values computed by hand on a small journal, and against the ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tokbt.ledger import EVENT_SCHEMA, JOURNAL_SCHEMA
from tokbt.metrics.evaluate import evaluate
from tokbt.metrics.path import Metric, measure, metric_set, metric_sets, register
from tokbt.metrics.rows import RunFrame
from tokbt.runs import BacktestConfig, run_config

FEB, MAR = "TPI-2026-02", "TPI-2026-03"


def _ts(day: str) -> dt.datetime:
    """The event that describes ``day`` (its bars end at the next midnight)."""
    return dt.datetime.fromisoformat(day) + dt.timedelta(days=1)


def _journal() -> pa.Table:
    rows = [  # day, path, account, contract, kind, qty, price, amount
        ("2026-01-10", 0, "operating", None, "deposit", None, None, -500.0),
        ("2026-01-10", 0, "margin", None, "deposit", None, None, 500.0),
        ("2026-01-10", 0, "margin", FEB, "fill", 2.0, 10.0, 0.0),
        ("2026-01-10", 0, "margin", FEB, "fee", None, None, -4.0),
        ("2026-01-10", 0, "margin", FEB, "variation_margin", None, 11.0, 200.0),
        ("2026-01-15", 0, "operating", None, "consumption", 100.0, 10.0, -1000.0),
        ("2026-01-15", 1, "operating", None, "consumption", 50.0, 10.0, -500.0),
        ("2026-01-20", 0, "margin", MAR, "fill", 1.0, 11.0, 0.0),
        ("2026-01-20", 0, "margin", FEB, "variation_margin", None, 10.5, -100.0),
        ("2026-01-25", 0, "margin", MAR, "fill", -1.0, 12.0, 0.0),
        ("2026-01-25", 0, "margin", MAR, "variation_margin", None, 12.0, 100.0),
        ("2026-02-10", 0, "operating", None, "consumption", 200.0, 12.0, -2400.0),
        ("2026-02-10", 1, "operating", None, "consumption", 50.0, 12.0, -600.0),
        ("2026-02-20", 0, "operating", None, "consumption", 100.0, 9.0, -900.0),
        ("2026-02-28", 0, "margin", FEB, "final_settlement", -2.0, 11.5, 300.0),
        ("2026-03-02", 0, "margin", None, "withdrawal", None, None, -300.0),
        ("2026-03-02", 0, "operating", None, "withdrawal", None, None, 300.0),
        ("2026-03-05", 0, "operating", None, "consumption", 300.0, 11.0, -3300.0),
        ("2026-03-31", 0, "operating", None, "interest", None, None, -7.0),
    ]
    columns = list(zip(*rows, strict=True))
    return pa.table(
        {
            "ts": pa.array([_ts(d) for d in columns[0]], pa.timestamp("us")),
            "path": pa.array(columns[1], pa.int32()),
            "account": pa.array(columns[2]),
            "contract": pa.array(columns[3], pa.string()),
            "kind": pa.array(columns[4]),
            "qty": pa.array(columns[5], pa.float64()),
            "price": pa.array(columns[6], pa.float64()),
            "amount": pa.array(columns[7], pa.float64()),
        },
        schema=JOURNAL_SCHEMA,
    )


def _events() -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([_ts("2026-02-05")], pa.timestamp("us")),
            "path": pa.array([0], pa.int32()),
            "event": ["margin_call"],
            "contract": pa.array([None], pa.string()),
            "qty": pa.array([None], pa.float64()),
            "amount": pa.array([250.0]),
            "detail": ["due 2026-02-06"],
        },
        schema=EVENT_SCHEMA,
    )


def _frame() -> RunFrame:
    contracts = [
        (FEB, dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (MAR, dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
    ]
    return RunFrame.build(
        [0, 1], "2026-01-01", "2026-03-31", contracts, multiplier=100, plan_tokens=[600, np.nan]
    )


@pytest.fixture(scope="module")
def measured() -> dict[str, np.ndarray]:
    result = measure(_frame(), _journal(), _events())
    return {**result.columns, **{f"daily_{k}": v for k, v in result.daily.items()}} | {
        f"monthly_{k}": v for k, v in result.monthly.items()
    }


def test_costs_by_hand(measured: dict[str, np.ndarray]) -> None:
    m = measured
    assert m["tokens"].tolist() == [700.0, 100.0]
    assert m["unhedged_cost"].tolist() == [7600.0, 1100.0]
    # futures P&L 200 − 100 + 100 + 300 = 500; fees 4; funding 7
    assert m["futures_pnl"].tolist() == [500.0, 0.0]
    assert m["fees"].tolist() == [4.0, 0.0]
    assert m["funding_cost"].tolist() == [7.0, 0.0]
    assert m["hedged_cost"].tolist() == [7600 - 500 + 4 + 7, 1100.0]
    assert m["unit_cost_hedged"][0] == pytest.approx(7111 / 700)
    assert m["unit_cost_unhedged"][1] == pytest.approx(11.0)
    # the plan (600 M tokens) at the first price paid (10)
    assert m["budget"][0] == 6000.0
    assert np.isnan(m["budget"][1])
    assert m["overrun"][0] == 1111.0


def test_attribution_by_hand(measured: dict[str, np.ndarray]) -> None:
    m = measured
    # February is held to its final settlement, March is closed before it
    assert m["variation_margin"].tolist() == [100.0, 0.0]
    assert m["final_settlement"].tolist() == [300.0, 0.0]
    assert m["roll_pnl"].tolist() == [100.0, 0.0]
    # 2 contracts × 100 M tokens delivered; February's spend-weighted price
    # (2400 + 900) / 300 = 11 against the settlement price 11.5
    assert m["basis_pnl"][0] == pytest.approx(200 * 0.5)
    assert m["hedge_ratio"][0] == pytest.approx(200 / 700)
    assert m["hedge_ratio"][1] == 0.0


def test_funding_by_hand(measured: dict[str, np.ndarray]) -> None:
    m = measured
    # margin balance: 696 (10 Jan), 596, 696 (25 Jan), 996 (28 Feb), 696 (2 Mar)
    assert m["peak_margin"].tolist() == [996.0, 0.0]
    assert m["peak_funding"].tolist() == [500.0, 0.0]
    assert m["peak_credit"].tolist() == [0.0, 0.0]
    # hedge P&L: 196, 96, 196, 496, 489 → the worst fall is 100
    assert m["max_drawdown"].tolist() == [100.0, 0.0]
    margin = m["daily_margin_posted"][:, 0]
    assert margin[9] == 696.0  # 10 Jan is day 9
    assert margin[-1] == 696.0
    assert m["daily_funding_need"][-1, 0] == 200.0
    assert m["margin_calls"].tolist() == [1.0, 0.0]
    assert m["liquidations"].tolist() == [0.0, 0.0]


def test_hedge_ratio_over_time_by_hand(measured: dict[str, np.ndarray]) -> None:
    ratio = measured["daily_hedge_ratio"][:, 0]
    assert ratio[8] == 0.0  # 9 Jan: nothing held, 700 to come
    assert ratio[9] == pytest.approx(200 / 700)  # 2 contracts × 100 after 10 Jan
    assert ratio[19] == pytest.approx(300 / 600)  # + March, 100 consumed on 15 Jan
    assert ratio[24] == pytest.approx(200 / 600)  # March sold on 25 Jan
    assert np.isnan(ratio[-1])  # nothing left to consume


def test_monthly_cost_uses_hedge_accounting(measured: dict[str, np.ndarray]) -> None:
    tokens, unhedged = measured["monthly_tokens"][0], measured["monthly_unhedged_cost"][0]
    hedged = measured["monthly_hedged_cost"][0]
    assert tokens.tolist() == [100.0, 300.0, 300.0]
    assert unhedged.tolist() == [1000.0, 3300.0, 3300.0]
    # February's contract: −4 + 200 − 100 + 300 in February; March's +100 and the
    # interest −7 in March, although most of the cash moved in January
    assert hedged.tolist() == [1000.0, 3300.0 - 396.0, 3300.0 - 93.0]
    assert hedged.sum() == measured["hedged_cost"][0]


def test_rows_outside_the_frame_are_refused() -> None:
    late = (
        _journal()
        .slice(0, 1)
        .set_column(0, "ts", pa.array([dt.datetime(2026, 5, 1)], pa.timestamp("us")))
    )
    with pytest.raises(ValueError, match="outside the run's days"):
        measure(_frame(), late)
    stranger = _journal().slice(0, 1).set_column(1, "path", pa.array([9], pa.int32()))
    with pytest.raises(ValueError, match="path 9"):
        measure(_frame(), stranger)


def test_metric_sets_are_named_and_extensible() -> None:
    assert {"default", "costs"} <= set(metric_sets())
    with pytest.raises(KeyError, match="known: "):
        metric_set("nope")

    @register("test-only")
    class Rows(Metric):
        columns = ("rows",)

        def start(self, frame: RunFrame) -> None:
            super().start(frame)
            self.rows = np.zeros(frame.n_paths)

        def journal(self, rows) -> None:  # type: ignore[no-untyped-def]
            self.rows += np.bincount(rows.path, minlength=self.frame.n_paths)

        def finish(self) -> dict[str, np.ndarray]:
            return {"rows": self.rows}

    result = measure(_frame(), _journal(), metrics="test-only")
    assert result.columns["rows"].tolist() == [17.0, 2.0]
    costs = measure(_frame(), _journal(), metrics="costs")
    assert "roll_pnl" not in costs.columns
    assert costs.columns["hedged_cost"][0] == 7111.0


def test_evaluation_of_a_single_path_reads_over_time() -> None:
    journal = _journal().filter(pc.equal(_journal()["path"], 0))
    ev = evaluate({"a": measure(_frame_one(), journal)}, resamples=200)
    table = ev.summary.set_index("metric")
    assert np.isnan(table.loc["sd_cost", "value"])
    assert np.isfinite(table.loc["vr_std_monthly", "value"])
    assert np.isfinite(table.loc["vr_std_monthly", "lo"])
    assert np.isnan(table.loc["mean_cost", "lo"])  # nothing to resample across one path


def _frame_one() -> RunFrame:
    f = _frame()
    return RunFrame.build(
        [0],
        "2026-01-01",
        "2026-03-31",
        list(zip(f.contracts, f.delivery_start.tolist(), f.delivery_end.tolist(), strict=True)),
        multiplier=100,
        plan_tokens=[600],
    )


@pytest.mark.parametrize("policy", ["static", "rolling", "layered"])
def test_metrics_agree_with_the_ledger(policy: str) -> None:
    """On a simulated run the journal-only metrics equal the ledger's own totals."""
    config = BacktestConfig.model_validate(
        {
            "journal": "totals",
            "positions": False,
            "chunk_paths": 30,
            "ledger": {"funding_rate": 0.05, "margin_rate": 0.02},
            "broker": {"fee_per_contract": 0.5},
            "market": {
                "simulate": {
                    "scenario": "demand_explosion",
                    "paths": 60,
                    "horizon_days": 400,
                    "seed": 3,
                }
            },
            "strategy": {"name": policy, "params": {"start": 20, "months": 10}},
        }
    )
    result = run_config(config)
    assert result.metrics is not None
    m, totals = result.metrics.columns, result.paths.to_pandas()
    np.testing.assert_allclose(m["hedged_cost"], totals.hedged_cost, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(m["roll_pnl"], totals.roll_pnl, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(m["futures_pnl"], totals.futures_pnl, rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(m["margin_calls"], totals.margin_calls)
    np.testing.assert_array_equal(m["liquidations"], totals.liquidations)
    assert m["fees"].sum() > 0
    assert m["funding_cost"].sum() != 0
    monthly = result.metrics.monthly["hedged_cost"].sum(axis=1)
    np.testing.assert_allclose(monthly, totals.hedged_cost, rtol=1e-12, atol=1e-6)
    assert (m["peak_funding"] > 0).any()


def test_the_custom_metric_in_the_docs_runs() -> None:
    from tokbt.metrics import path as registry

    text = (Path(__file__).resolve().parents[1] / "docs/metrics.md").read_text()
    snippet = text.split("```python\n")[1].split("```")[0]
    before = list(registry._SETS["default"])
    try:
        exec(compile(snippet, "docs/metrics.md", "exec"), {})
        result = measure(_frame(), _journal())
        assert result.columns["fee_days"].tolist() == [1.0, 0.0]
        ev = evaluate({"a": result}, resamples=0)
        assert list(ev.paths.columns)[-1] == "fee_days"
    finally:
        registry._SETS["default"] = before


def test_the_metric_docs_define_every_metric() -> None:
    from tokbt.metrics import PATH_METRICS, SERIES, SUMMARY_METRICS

    text = (Path(__file__).resolve().parents[1] / "docs/metrics.md").read_text()
    for name in [*PATH_METRICS, *SERIES, *SUMMARY_METRICS]:
        assert f"`{name}`" in text, name


def test_results_show_as_html_tables_in_jupyter() -> None:
    from evaluation_fixtures import synthetic_run

    run = synthetic_run(run_id="abc123")
    html = run._repr_html_()
    assert "run abc123" in html
    assert "<table" in html
    assert "VR_std" in html
    assert "rolling" in run.evaluation._repr_html_()


def test_the_bootstrap_in_small_blocks_gives_the_same_intervals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memory is bounded by drawing resamples in blocks; the intervals do not change."""
    from evaluation_fixtures import synthetic_evaluation

    from tokbt.metrics import stats
    from tokbt.metrics.path import PathResults

    source = synthetic_evaluation(n_paths=300, policies=("a", "b"), months=6, seed=4)
    frame = RunFrame.build(np.arange(300), "2026-01-01", "2026-06-30")
    results = {}
    for policy in ("a", "b"):
        rows = source.paths[source.paths.policy == policy]
        columns = {c: rows[c].to_numpy() for c in rows.columns if c not in ("policy", "path")}
        monthly = source.monthly[source.monthly.policy == policy]
        arrays = {
            c: monthly[c].to_numpy().reshape(300, 6)
            for c in ("tokens", "unhedged_cost", "hedged_cost")
        }
        results[policy] = PathResults(frame, columns, {}, arrays)
    whole = evaluate(results, resamples=500, seed=3)
    monkeypatch.setattr(stats, "BLOCK_VALUES", 7 * 300)  # 7 resamples per block
    blocked = evaluate(results, resamples=500, seed=3)
    assert whole.equals(blocked)
    draws = stats.Resamples.draw(300, 6, 500, 3)
    assert draws.boot.shape == (500, 300)


def test_unit_cost_vr_divides_out_the_quantity() -> None:
    """VR_std of the unit cost is 1 − sd(h/q)/sd(u/q) across paths (numpy)."""
    from tokbt.metrics.path import PathResults

    rng = np.random.default_rng(8)
    n = 400
    tokens = rng.lognormal(7, 0.5, n)
    unit_u = rng.normal(10, 2, n)
    unit_h = 0.4 * unit_u + rng.normal(6, 0.3, n)
    frame = RunFrame.build(np.arange(n), "2026-01-01", "2026-02-28")
    columns = {
        "tokens": tokens,
        "unhedged_cost": tokens * unit_u,
        "hedged_cost": tokens * unit_h,
        "unit_cost_unhedged": unit_u,
        "unit_cost_hedged": unit_h,
    }
    monthly = {k: np.ones((n, 2)) for k in ("tokens", "unhedged_cost", "hedged_cost")}
    ev = evaluate({"p": PathResults(frame, columns, {}, monthly)}, resamples=50)
    got = ev.summary.set_index("metric")["value"]
    expected = 1 - np.std(unit_h, ddof=1) / np.std(unit_u, ddof=1)
    assert got["vr_std_unit"] == pytest.approx(expected, rel=1e-12)
    assert got["he_var_unit"] == pytest.approx(1 - (1 - expected) ** 2, rel=1e-12)
    assert got["vr_std"] != pytest.approx(expected, rel=1e-3)  # quantity risk is in the cost
