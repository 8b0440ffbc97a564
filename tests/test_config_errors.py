"""Every field a user writes in TOML rejects a bad value with a message naming the file, the
dotted field path and the rule (range, choices, type); unknown keys suggest the near one.

Cases are generated from the pydantic models' ``model_fields`` (so a new field is covered
without editing this file): for every field a value of the wrong type, for every bound
(``ge``, ``gt``, ``le``, ``lt``), pattern, minimum length and choice (``Literal``, enum) a
value that breaks it, and for every model a misspelt key. Hand-written rows cover the rules
that span fields. Each case goes through the path a user hits: ``load_config``,
``load_compare_config`` or ``load_mc_config`` on a TOML file, or the CLI for scenario files
(``tokbt sim show``) and contract specs (``tokbt contracts --spec``).
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
import itertools
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
import tomli_w
from pydantic import BaseModel
from typer.testing import CliRunner

from tokbt.cli import app
from tokbt.market import ContractSpec
from tokbt.runs.compare import CompareConfig, load_compare_config
from tokbt.runs.config import BacktestConfig, ConfigError, load_config
from tokbt.runs.mc import McConfig, load_mc_config
from tokbt.sim.params import Scenario
from tokbt.strategy import Strategy, discover

BACKTEST = {"market": {"dataset": "bars"}, "strategy": {"name": "no_hedge"}}
LISTS = {"policies": {"name": "no_hedge"}, "regimes": {"start_day": 0, "end_day": 10}}
"""The element a list of models starts with, so that ``policies.0.x`` can be set."""
BOUNDS = ((annotated_types.Ge, "ge", "≥"), (annotated_types.Gt, "gt", ">"),
          (annotated_types.Le, "le", "≤"), (annotated_types.Lt, "lt", "<"))  # fmt: skip
WRONG_TYPE = {int: "must be an integer", float: "must be a number", bool: "must be true or false",
              str: "must be a string", dt.date: "must be a date", dict: "must be a table",
              list: "must be a list", tuple: "must be a list"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One bad value: where it goes, what the message must say."""

    root: str  # backtest, compare, mc, scenario, contract
    path: str  # dotted field path, list elements as 0
    value: Any
    expected: tuple[str, ...]  # substrings of the message besides the file

    @property
    def id(self) -> str:
        return f"{self.root}:{self.path}={self.value!r}"[:80]


# -- cases from the models -----------------------------------------------------------------


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in {Union, types.UnionType}:
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds directly or as list elements (``X``, ``X | None``, ``list[X]``)."""
    inner = _strip_optional(annotation)
    if get_origin(inner) in {list, tuple}:
        inner = get_args(inner)[0]
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _choices(annotation: Any) -> list[Any] | None:
    inner = _strip_optional(annotation)
    if get_origin(inner) is Literal:
        return list(get_args(inner))
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return [m.value for m in inner]
    return None


def _wrong_type(annotation: Any) -> tuple[Any, str] | None:
    """A value of the wrong type for ``annotation`` and the rule the message must state."""
    inner = _strip_optional(annotation)
    if _choices(annotation) is not None or inner is Any:
        return None
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return "many", "must be a table"
    base = get_origin(inner) or inner
    if base in {Union, types.UnionType}:  # int | list[int]: the first member's rule
        base = get_origin(get_args(inner)[0]) or get_args(inner)[0]
    if base is str:
        return 7, WRONG_TYPE[str]
    return "many", WRONG_TYPE[base]


def _breaking(info: Any) -> list[tuple[Any, tuple[str, ...]]]:
    """Values that break each constraint of a field, with what the message must say."""
    out: list[tuple[Any, tuple[str, ...]]] = []
    ranges = [f"{sign} {getattr(m, key)}" for cls, key, sign in BOUNDS
              for m in info.metadata if isinstance(m, cls)]  # fmt: skip
    for m in info.metadata:
        step = 1 if _strip_optional(info.annotation) is int else 0.5
        for value in (
            m.ge - step if isinstance(m, annotated_types.Ge) else None,
            m.gt if isinstance(m, annotated_types.Gt) else None,
            m.le + step if isinstance(m, annotated_types.Le) else None,
            m.lt if isinstance(m, annotated_types.Lt) else None,
        ):
            if value is not None:
                out.append((value, ("must be", *ranges)))
        if getattr(m, "pattern", None):
            out.append(("bad value", ("must match the pattern",)))
        if isinstance(m, annotated_types.MinLen) and m.min_length:
            out.append(([], (f"must have at least {m.min_length}",)))
    choices = _choices(info.annotation)
    if choices is not None:
        out.append(("nonsense", ("must be one of " + ", ".join(repr(c) for c in choices),)))
    return out


def _misspelt(name: str) -> str:
    """``name`` missing its last letter, or with an ``x`` added to a short one (a near miss)."""
    return name[:-1] if len(name) > 3 else name + "x"


def model_cases(root: str, model: type[BaseModel], prefix: str = "") -> list[Case]:
    """A wrong type and every broken constraint for each field of ``model`` (recursively),
    and one misspelt key, as ``root`` config cases under ``prefix``."""
    first = next(iter(model.model_fields), None)
    near = _misspelt(first or "key")
    hint = f"did you mean '{first}'" if first else "unknown key"
    cases = [Case(root, f"{prefix}{near}", 1, (f"{prefix}{near}", hint))]
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        wrong = _wrong_type(info.annotation)
        if wrong is not None:
            cases.append(Case(root, path, wrong[0], (path, wrong[1])))
        cases += [Case(root, path, v, (path, *text)) for v, text in _breaking(info)]
        sub = _submodel(info.annotation)
        if sub is not None:
            inner = _strip_optional(info.annotation)
            index = ".0" if get_origin(inner) in {list, tuple} else ""
            cases += model_cases(root, sub, f"{path}{index}.")
    return cases


def strategy_cases() -> list[Case]:
    """Every parameter of every built-in strategy, as ``[strategy] params`` of a backtest."""
    cases = []
    for info in discover():
        if info.cls is None or not issubclass(info.cls, Strategy):
            continue
        cases += model_cases(f"strategy:{info.name}", info.cls.Params, "strategy.params.")
    return cases


SHARED = ("broker", "ledger", "engine", "market", "chunk_paths", "metrics")
"""Fields a comparison shares with a backtest (covered by the backtest's cases)."""
GENERATED = (
    model_cases("backtest", BacktestConfig)
    + [c for c in model_cases("compare", CompareConfig) if not c.path.startswith(SHARED)]
    + [c for c in model_cases("mc", McConfig) if c.path.split(".")[0] in {"grid", "retries"}]
    + strategy_cases()
    + model_cases("scenario", Scenario)
    + model_cases("contract", ContractSpec)
)

# -- rules that span fields, by hand -------------------------------------------------------

HAND: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("backtest", {"market": {"dataset": "d", "simulate": {}}},
     ("market: give exactly one of market.dataset and [market.simulate]",)),
    ("backtest", {"market": {"simulate": {}, "paths": 3}},
     ("market: market.paths applies to datasets",)),
    ("backtest", {"metrics": "fastest"}, ("metrics: no metric set 'fastest'",)),
    ("compare", {"policies": [{"name": "no_hedge"}, {"name": "no_hedge"}]},
     ("policy labels must be unique; repeated: no_hedge",)),
    ("compare", {"baseline": "static"}, ("baseline 'static' is not a policy label",)),
    ("compare", {"sweep": {"policy": "static", "params": {"ratio": [1.0]}}},
     ("sweep.policy 'static' is not a policy label",)),
    ("compare", {"sweep": {"policy": "no_hedge", "params": {}}},
     ("sweep: sweep.params names no parameter",)),
    ("compare", {"policies": [{"name": "static"}],
                 "sweep": {"policy": "static", "params": {"ratio": [1.0, -1.0]}}},
     ("sweep.params.ratio: must be ≥ 0.0 (got -1.0)",)),
    ("compare", {"policies": [{"name": "static", "params": {"months": 0}}]},
     ("policies.0.params.months: must be ≥ 1 and ≤ 120 (got 0)",)),
    ("mc", {"market": {"dataset": "d"}}, ("a Monte Carlo run needs [market.simulate]",)),
    ("mc", {"grid": {"ledger.margin_buffer": []}}, ("grid.ledger.margin_buffer has no values",)),
    ("mc", {"grid": {"ledger.margin_buffer": [0.5, -1.0]}},
     ("grid point {'ledger.margin_buffer': -1.0}: ledger.margin_buffer: must be ≥ 0 and ≤ 5",)),
    ("mc", {"policies": [{"name": "static"}], "grid": {"policies.static.params.ratio": [-1.0]}},
     ("grid point {'policies.static.params.ratio': -1.0}: policies.0.params.ratio: must be ≥",)),
    ("mc", {"grid": {"policies.nobody.params.ratio": [1.0]}},
     ("grid.policies.nobody.params.ratio: no policy labelled 'nobody'",)),
    ("scenario", {"spot": {"cut_sizes": {"low": 0.5, "high": 0.3}}},
     ("spot.cut_sizes: cut sizes: low 0.5 > high 0.3",)),
    ("scenario", {"regimes": [{"start_day": 10, "end_day": 10}]},
     ("regimes.0: regime 'regime': end_day must be after start_day",)),
    ("contract", {"listing": {"months": 2, "quarters": 1}},
     ("listing: quarters cascade into 3 months",)),
]  # fmt: skip


# -- running a case the way a user would ---------------------------------------------------


def _base(root: str, path: str) -> dict[str, Any]:
    if root in {"compare", "mc"}:
        return {"market": {"simulate": {}}, "policies": [{"name": "no_hedge"}]}
    if root.startswith("strategy:"):
        return {"market": {"dataset": "bars"}, "strategy": {"name": root.split(":")[1]}}
    if root == "backtest" and path.startswith("market.simulate"):
        return {"market": {"simulate": {}}, "strategy": {"name": "no_hedge"}}
    return copy.deepcopy(BACKTEST) if root == "backtest" else {}


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``doc[a][b]... = value`` for ``path = "a.b..."``; a ``0`` is a list's first element."""
    node: Any = doc
    parts = path.split(".")
    for part, after in itertools.pairwise(parts):
        if part == "0":
            continue
        if after == "0":
            node[part] = node.get(part) or [copy.deepcopy(LISTS[part])]
            node = node[part][0]
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = value


LOADERS: dict[str, Callable[[Path], object]] = {
    "backtest": load_config,
    "compare": load_compare_config,
    "mc": load_mc_config,
}
CLI = {"scenario": ["sim", "show", "{file}"], "contract": ["contracts", "--spec", "{file}"]}


def error_message(root: str, file: Path) -> str:
    """The error a user sees for config ``file`` of kind ``root`` (fails if it loads)."""
    kind = "backtest" if root.startswith("strategy:") else root
    if kind in LOADERS:
        with pytest.raises(ConfigError) as caught:
            LOADERS[kind](file)
        return str(caught.value)
    args = [str(file) if a == "{file}" else a for a in CLI[kind]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("error:"), result.output
    return result.output


def _check(tmp_path: Path, root: str, doc: dict[str, Any], expected: tuple[str, ...]) -> None:
    file = tmp_path / f"{root.replace(':', '_')}.toml"
    file.write_text(tomli_w.dumps(doc), encoding="utf-8")
    message = error_message(root, file)
    assert str(file) in message
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"


@pytest.mark.parametrize("case", GENERATED, ids=[c.id for c in GENERATED])
def test_every_field_rejects_a_bad_value_naming_file_field_and_rule(
    tmp_path: Path, case: Case
) -> None:
    doc = _base(case.root, case.path)
    _put(doc, case.path, case.value)
    _check(tmp_path, case.root, doc, case.expected)


@pytest.mark.parametrize(
    ("root", "extra", "expected"), HAND, ids=[f"{h[0]}-{i}" for i, h in enumerate(HAND)]
)
def test_rules_across_fields_name_file_and_fields(
    tmp_path: Path, root: str, extra: dict[str, Any], expected: tuple[str, ...]
) -> None:
    _check(tmp_path, root, _base(root, "") | extra, expected)


def test_every_model_a_user_writes_is_covered() -> None:
    """Each config model (and every built-in strategy's parameters) yields cases."""
    roots = {c.root for c in GENERATED}
    names = {info.name for info in discover() if info.cls is not None}
    assert {"backtest", "compare", "mc", "scenario", "contract"} <= roots
    assert {f"strategy:{n}" for n in names} <= roots
    assert len(GENERATED) > 300


def test_an_unreadable_or_misshapen_file_is_a_config_error(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"chunk_paths = 1\n# caf\xe9\n")
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for file, text in [(latin, "cannot read the config"), (folder, "cannot read the config")]:
        with pytest.raises(ConfigError, match=text) as caught:
            load_config(file)
        assert str(file) in str(caught.value)
    spec = tmp_path / "spec.json"
    spec.write_text("[1, 2]")
    result = CliRunner().invoke(app, ["contracts", "--spec", str(spec)])
    assert result.exit_code == 1
    assert "a contract spec is a table of fields, not list" in result.output
