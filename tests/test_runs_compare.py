"""``tokbt compare``: policies on the same paths, sweeps, and config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tokbt.data import BarStore
from tokbt.runs import BacktestConfig, ConfigError, run_config
from tokbt.runs.compare import CompareConfig, compare, load_compare_config
from tokbt.sim import SimPlan, load_scenario, simulate_paths, write_simulation
from tokbt.strategy import PluginError

SIM = {"scenario": "demand_explosion", "paths": 40, "horizon_days": 300, "seed": 5}
PARAMS = {"start": 20, "months": 8}


def _config(**extra: Any) -> CompareConfig:
    data: dict[str, Any] = {
        "market": {"simulate": SIM},
        "policies": [
            {"name": "no_hedge"},
            {"name": "static", "params": PARAMS},
            {"name": "layered", "params": PARAMS},
        ],
        "bootstrap": {"resamples": 200},
    }
    return CompareConfig.model_validate(data | extra)


@pytest.fixture(scope="module")
def run() -> Any:
    return compare(_config())


def test_every_policy_sees_the_same_paths(run: Any) -> None:
    paths = run.evaluation.paths
    unhedged = paths.pivot(index="path", columns="policy", values="unhedged_cost")
    assert unhedged.shape == (40, 3)
    np.testing.assert_array_equal(unhedged["static"], unhedged["no_hedge"])
    np.testing.assert_array_equal(unhedged["layered"], unhedged["no_hedge"])
    assert run.evaluation.policies == ("no_hedge", "static", "layered")
    assert run.evaluation.baseline == "no_hedge"
    assert run.record["kind"] == "compare"
    assert [p["label"] for p in run.record["policies"]] == ["no_hedge", "static", "layered"]
    assert set(run.record["seconds"]) == {"no_hedge", "static", "layered", "total"}


def test_a_policy_in_a_comparison_equals_its_own_backtest(run: Any) -> None:
    alone = run_config(
        BacktestConfig.model_validate(
            {
                "journal": "totals",
                "positions": False,
                "market": {"simulate": SIM},
                "strategy": {"name": "static", "params": PARAMS},
            }
        )
    )
    assert alone.metrics is not None
    mine = run.evaluation.paths.query("policy == 'static'")
    for column, values in alone.metrics.columns.items():
        np.testing.assert_array_equal(mine[column].to_numpy(), values, err_msg=column)


def test_chunking_does_not_change_the_evaluation(run: Any) -> None:
    again = compare(_config(chunk_paths=15))
    assert again.evaluation.equals(run.evaluation)


def test_no_hedge_is_the_zero_of_hedge_effectiveness(run: Any) -> None:
    summary = run.evaluation.summary.set_index(["policy", "metric"])["value"]
    assert summary["no_hedge", "vr_std"] == 0.0
    assert summary["no_hedge", "mean_futures_pnl"] == 0.0
    diffs = run.evaluation.comparisons.set_index(["policy", "metric"])
    # the comparison of VR with a no-hedge baseline is the policy's own VR
    assert diffs.loc[("static", "vr_std"), "diff"] == pytest.approx(summary["static", "vr_std"])


def test_sweep_points_become_policies_with_their_values() -> None:
    config = _config(
        policies=[{"name": "static", "params": PARAMS}],
        sweep={"policy": "static", "params": {"ratio": [0.5, 1.0], "tailing_rate": [0.0, 0.1]}},
    )
    labels = [p.key for p, _ in config.expanded()]
    assert labels == [
        "static",
        "static[ratio=0.5,tailing_rate=0.0]",
        "static[ratio=0.5,tailing_rate=0.1]",
        "static[ratio=1.0,tailing_rate=0.0]",
        "static[ratio=1.0,tailing_rate=0.1]",
    ]
    run = compare(config)
    sweep = run.evaluation.sweep
    assert len(sweep) == 8
    assert sweep.query("policy == 'static[ratio=0.5,tailing_rate=0.1]'")["value"].tolist() == [
        0.5,
        0.1,
    ]
    vr = run.evaluation.summary.query("metric == 'vr_std'").set_index("policy")["value"]
    assert vr["static[ratio=1.0,tailing_rate=0.0]"] == vr["static"]  # the same policy
    assert vr["static[ratio=0.5,tailing_rate=0.0]"] != vr["static"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"baseline": "nope"}, "baseline 'nope' is not a policy label"),
        ({"sweep": {"policy": "nope", "params": {"ratio": [1]}}}, "sweep.policy 'nope'"),
        ({"sweep": {"policy": "static", "params": {"ratio": []}}}, "sweep.params.ratio"),
        ({"policies": [{"name": "static"}, {"name": "static"}]}, "repeated: static"),
        ({"policies": []}, "policies"),
    ],
)
def test_config_errors(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**extra)


def test_bad_parameters_fail_before_anything_runs() -> None:
    config = _config(policies=[{"name": "static", "params": {"ratio": "lots"}}])
    with pytest.raises(PluginError, match="ratio"):
        compare(config)


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cmp.toml"
    path.write_text('[market]\ndataset = "x"\n[[policies]]\nnome = "static"\n')
    with pytest.raises(ConfigError, match=r"cmp\.toml.*policies"):
        load_compare_config(path)


def test_the_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    config = load_compare_config(root / "examples/compare/demand_explosion.toml")
    assert config.market.simulate is not None
    assert config.market.simulate.paths == 1000
    names = {p.name for p in config.policies}
    assert names == {
        "no_hedge",
        "static",
        "min_variance",
        "rolling",
        "ewma",
        "layered",
        "volume_aware",
    }


def test_a_stored_dataset_can_be_compared(tmp_path: Path) -> None:
    scenario = load_scenario("baseline")
    plan = SimPlan.build(scenario, 200, 2)
    store = tmp_path / "s.duckdb"
    with BarStore(store) as bars:
        write_simulation(bars, "sim6", plan, 6)
    config = CompareConfig.model_validate(
        {
            "market": {"dataset": "sim6", "store": str(store)},
            "policies": [{"name": "no_hedge"}, {"name": "static", "params": {"months": 4}}],
            "bootstrap": {"resamples": 50},
        }
    )
    run = compare(config)
    assert run.record["paths"] == 6
    chunk = simulate_paths(plan, range(6))
    expected = (chunk.consumption.tokens * chunk.index).sum(axis=1)
    assert run.evaluation.paths.query("policy == 'no_hedge'")["unhedged_cost"].to_numpy() == (
        pytest.approx(expected, rel=1e-9)
    )
