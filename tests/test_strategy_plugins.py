"""Strategy plugins: the base class, discovery and loading (entry points, module:Class, files)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.strategy import PluginError, Strategy, create, discover, resolve

PLUGIN = '''
from tokbt.strategy import Strategy


class Ratio(Strategy):
    """Hold a ratio of the plan (a test plugin)."""

    class Params(Strategy.Params):
        ratio: float = 1.0
        months: int = 12
'''


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake installed distribution with three entry points: a good one, one whose
    module fails to import, and one that is not a class; plus a plain module."""
    (tmp_path / "good_plugin.py").write_text(PLUGIN)
    (tmp_path / "broken_plugin.py").write_text("raise ImportError('needs a missing library')\n")
    (tmp_path / "notaclass_plugin.py").write_text("thing = 42\n")
    dist = tmp_path / "fakeplugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[tokbt.strategies]\n"
        "ratio_plugin = good_plugin:Ratio\n"
        "broken = broken_plugin:Whatever\n"
        "not_a_class = notaclass_plugin:thing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtins_come_through_the_entry_points() -> None:
    found = {p.name: p for p in discover()}
    assert "no_hedge" in found
    assert found["no_hedge"].origin.startswith("entry point (tokbt")
    assert found["no_hedge"].target == "strategies.no_hedge:NoHedge"
    strategy = create("no_hedge")
    assert isinstance(strategy, Strategy)
    assert type(strategy).label() == "no_hedge"


def test_an_outside_entry_point_and_broken_ones(plugins: Path) -> None:
    found = {p.name: p for p in discover()}
    assert found["ratio_plugin"].cls is not None
    assert found["ratio_plugin"].origin == "entry point (fakeplugins 0.1)"
    assert found["ratio_plugin"].params == [("ratio", "float", 1.0), ("months", "int", 12)]
    assert found["ratio_plugin"].summary == "Hold a ratio of the plan (a test plugin)."
    # the broken plugins are listed with their cause, and hide nothing
    assert found["broken"].cls is None
    assert "needs a missing library" in (found["broken"].error or "")
    assert "is not a class" in (found["not_a_class"].error or "")
    assert "no_hedge" in found
    with pytest.raises(PluginError, match=r"'broken'.*needs a missing library"):
        resolve("broken")
    listing = CliRunner().invoke(app, ["strategies", "ls"])
    assert listing.exit_code == 0, listing.output
    for text in ("ratio_plugin", "ratio: float = 1.0", "broken", "cannot load", "no_hedge"):
        assert text in listing.output


def test_module_and_file_paths(plugins: Path) -> None:
    by_module = create("good_plugin:Ratio", {"ratio": 0.5})
    assert by_module.params.ratio == 0.5
    by_file = create(f"{plugins / 'good_plugin.py'}:Ratio", {"months": 3})
    assert by_file.params.months == 3
    assert by_file.params.ratio == 1.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ratio": "lots"}, r"ratio: must be a number"),
        ({"ratoi": 1.0}, r"ratoi: unknown key \(did you mean 'ratio'\?\)"),
        ({"months": 1.5}, r"months: must be a whole number"),
    ],
)
def test_a_bad_parameter_names_the_plugin_and_field(
    plugins: Path, params: dict[str, object], message: str
) -> None:
    with pytest.raises(PluginError, match=r"strategy 'ratio_plugin': bad parameter: " + message):
        create("ratio_plugin", params)


def test_unknown_references(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="not a registered name"):
        resolve("nonexistent")
    with pytest.raises(PluginError, match="no such file"):
        resolve(f"{tmp_path}/missing.py:X")
    with pytest.raises(PluginError, match="importing it failed"):
        resolve("no_such_module_xyz:X")


def test_params_are_frozen_and_documented() -> None:
    class Tiny(Strategy):
        """A tiny policy."""

        class Params(Strategy.Params):
            k: int = 2

    t = Tiny(k=5)
    assert t.params.k == 5
    with pytest.raises(Exception, match="frozen"):
        t.params.k = 1  # type: ignore[misc]
    assert Tiny.summary() == "A tiny policy."
    assert Tiny.parameters() == [("k", "int", 2)]
    assert textwrap.dedent(Strategy.__doc__ or "").startswith("Base class")
