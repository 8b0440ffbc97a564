"""The strategy how-to and the example plugin package.

``docs/write-a-strategy.md``: its central listing is at most 30 lines, runs and trades, and
passes the page's own tests. ``examples/budget_guard``: the package declares its entry point,
which resolves (through a fake installed distribution, as in ``test_strategy_plugins``); the
policy trades, is the same path by path alone or among others, looks nothing up ahead, and
its example config loads.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest

import tokbt
from tokbt.hedge import HedgePolicy, HedgeState
from tokbt.runs import load_config
from tokbt.sim import SimMarket, SimPlan, load_scenario, simulate_paths
from tokbt.strategy import PluginError, create, discover, resolve

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "write-a-strategy.md"
PLUGIN = ROOT / "examples" / "budget_guard"
PYPROJECT = tomllib.loads((PLUGIN / "pyproject.toml").read_text())
ENTRY_POINTS = PYPROJECT["project"]["entry-points"]["tokbt.strategies"]
TARGET = "tokbt_budget_guard.policy:BudgetGuard"


def _snippet(marker: str) -> str:
    """The ```python block between ``<!-- marker:start -->`` and ``<!-- marker:end -->``."""
    text = DOC.read_text()
    found = re.search(
        rf"<!-- {marker}:start -->\n```python\n(.*?)```\n<!-- {marker}:end -->", text, re.S
    )
    assert found is not None, f"no ```python block between the {marker} markers in {DOC}"
    return found.group(1)


def _market(n_days: int, paths: int | list[int]) -> SimMarket:
    plan = SimPlan.build(load_scenario("demand_explosion"), n_days, seed=11)
    ids = range(paths) if isinstance(paths, int) else np.asarray(paths)
    return SimMarket(plan, simulate_paths(plan, ids))


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"doc_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the how-to ---------------------------------------------------------------------------------


@pytest.fixture
def listing(tmp_path: Path) -> Path:
    """The page's listing saved as ``spike_guard.py``, as the page says."""
    path = tmp_path / "spike_guard.py"
    path.write_text(_snippet("listing"))
    return path


def test_the_listing_is_at_most_30_lines_and_trades(listing: Path) -> None:
    lines = listing.read_text().rstrip("\n").splitlines()
    assert len(lines) <= 30, f"the listing has {len(lines)} lines"
    assert f"{len(lines)} lines, imports and blank lines included" in DOC.read_text()
    assert "class SpikeGuard(Strategy):" in lines
    result = tokbt.backtest(_market(150, 4), f"{listing}:SpikeGuard", params={"months": 2})
    fills = result.journal.filter(pc.equal(result.journal["kind"], "fill"))
    assert fills.num_rows > 0
    assert (result.final_positions >= 0).all()
    # typed, frozen, validated parameters
    with pytest.raises(PluginError, match=r"months: must be ≥ 1 and ≤ 12"):
        create(f"{listing}:SpikeGuard", {"months": 13})


def test_the_listing_passes_the_pages_own_tests(
    listing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(listing.parent)  # the page runs pytest beside spike_guard.py
    tests = listing.parent / "test_spike_guard.py"
    tests.write_text(_snippet("tests"))
    module = _import(tests)
    module.test_a_path_alone_is_the_same_path_among_many()
    module.test_no_look_ahead()


def test_the_page_names_real_blocks_and_context_members() -> None:
    import tokbt.hedge
    from tokbt.engine import Context

    text = DOC.read_text()
    for block in re.findall(r"^\| `([A-Z]\w+)\(", text, re.M):
        assert hasattr(tokbt.hedge, block), block
    for member in set(re.findall(r"`ctx\.(\w+)", text)):
        assert hasattr(Context, member), member


# -- the plugin package -------------------------------------------------------------------------


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example package as if ``pip install``-ed: its folder on ``sys.path`` and a
    distribution whose entry points are the ones its ``pyproject.toml`` declares."""
    project = PYPROJECT["project"]
    dist = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in ENTRY_POINTS.items())
    (dist / "entry_points.txt").write_text("[tokbt.strategies]\n" + lines)
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_package_declares_its_entry_point() -> None:
    assert PYPROJECT["build-system"]["build-backend"] == "hatchling.build"
    assert any(d.startswith("tokbt") for d in PYPROJECT["project"]["dependencies"])
    assert ENTRY_POINTS == {"budget_guard": TARGET}
    assert "pip install -e examples/budget_guard" in (PLUGIN / "README.md").read_text()


def test_the_entry_point_is_discovered_and_resolves(installed: None) -> None:
    found = {p.name: p for p in discover()}
    info = found["budget_guard"]
    assert info.error is None
    assert info.origin == "entry point (tokbt-budget-guard 0.1.0)"
    assert info.target == TARGET
    assert info.summary.startswith("Budget guard")
    assert ("budget", "float | None", None) in info.params
    cls = resolve("budget_guard")
    assert cls is resolve(TARGET)
    assert issubclass(cls, HedgePolicy)
    with pytest.raises(PluginError, match=r"cap \(0.2\) must not be below floor \(0.5\)"):
        create("budget_guard", {"floor": 0.5, "cap": 0.2})


def test_the_policy_trades_more_cover_over_budget(installed: None) -> None:
    market = _market(200, 6)

    def contracts(budget: float) -> float:
        params = {"budget": budget, "months": 3, "rebalance_days": 5}
        result = tokbt.backtest(market, "budget_guard", params=params)
        fills = result.journal.filter(pc.equal(result.journal["kind"], "fill"))
        assert (fills["qty"].to_numpy() > 0).all()  # the ratchet only ever buys
        return float(pc.sum(fills["qty"]).as_py() or 0.0)

    under, over = contracts(100.0), contracts(0.01)  # never over budget; always far over
    assert under > 0
    assert over == pytest.approx(4 * under, rel=0.1)  # cap 1.0 vs floor 0.25


def test_the_policy_is_path_by_path_and_has_no_look_ahead(installed: None, tmp_path: Path) -> None:
    """The page's own two tests, run on the plugin instead of the listing."""
    tests = tmp_path / "test_budget_guard.py"
    tests.write_text(_snippet("tests"))
    module: Any = _import(tests)
    module.STRATEGY = resolve("budget_guard")
    module.test_a_path_alone_is_the_same_path_among_many()
    module.test_no_look_ahead()


def test_budget_ratio_is_a_ramp_per_path(installed: None) -> None:
    from tokbt_budget_guard import BudgetRatio

    block = BudgetRatio(2.0, floor=0.25, cap=1.0, trigger=0.2)
    level = np.array([1.5, 2.0, 2.2, 2.4, 3.0, np.nan])
    budget = np.full(len(level), 2.0)
    assert block.ratio(level, budget) == pytest.approx([0.25, 0.25, 0.625, 1.0, 1.0, 0.25])
    with pytest.raises(ValueError, match="below floor"):
        BudgetRatio(2.0, floor=0.5, cap=0.2)

    class Ctx:  # the two Context members the block reads
        n_paths = 3

        def spot(self, field: str, window: int) -> np.ndarray:
            return np.array([[2.0, np.nan, 2.0], [2.4, np.nan, 2.6]])[-window:]

    state = HedgeState(3)
    relative = BudgetRatio(None, lookback=2)  # the budget is the level at the first run
    assert relative(Ctx(), state)  # type: ignore[arg-type]
    assert state.ratio == pytest.approx([0.25, 0.25, 0.25])
    assert relative.fixed == pytest.approx([2.2, np.nan, 2.3], nan_ok=True)


def test_the_example_config_loads_and_names_the_plugin(installed: None) -> None:
    cfg = load_config(PLUGIN / "budget_guard.toml")
    assert cfg.strategy.name == "budget_guard"
    assert cfg.market.simulate is not None
    assert cfg.market.simulate.paths <= 250
    strategy = create(cfg.strategy.name, cfg.strategy.params)
    assert strategy.params.budget == 2.40
    assert (
        f"tokbt backtest examples/budget_guard/{'budget_guard.toml'}"
        in (PLUGIN / "README.md").read_text()
    )
