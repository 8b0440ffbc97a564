"""The strategy plugin API: the ``Strategy`` base class and the plugin registry.

A hedge policy is a subclass of ``Strategy`` with a nested pydantic ``Params``
model (typed, with defaults; unknown keys are rejected) and any of the
lifecycle hooks ``on_start``, ``on_bar``, ``on_settle``, ``on_margin_call``,
``on_end`` — each receives the engine's ``Context`` and works on arrays over
paths, so one plugin runs one path or a million.

Plugins are found three ways, and the built-ins in ``strategies/`` use the
first like any outside package:

* an entry point in the group ``tokbt.strategies`` (``name = "pkg.mod:Class"``
  in a package's ``[project.entry-points."tokbt.strategies"]``);
* a ``package.module:Class`` path;
* a ``path/to/file.py:Class`` path.

A plugin that fails to import is reported with its name and the cause, and
does not hide the others (``discover``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from tokbt.errors import TokbtError
from tokbt.market.config_errors import describe

if TYPE_CHECKING:
    from tokbt.engine import Context
    from tokbt.ledger import MarginCall

ENTRY_POINT_GROUP = "tokbt.strategies"


class PluginError(TokbtError):
    """A strategy plugin cannot be found, imported or configured; the message
    names the plugin and the cause."""


class Strategy:
    """Base class of hedge policies.

    Subclasses declare ``class Params(Strategy.Params)`` with typed fields and
    defaults, and override the hooks they need. ``self.params`` holds the
    validated parameters. The docstring's first line is the one-line summary
    ``tokbt strategies ls`` shows.
    """

    class Params(BaseModel):
        """No parameters."""

        model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str] = ""
    """The registry name; set from the entry point (or the class name)."""
    trades: ClassVar[bool] = True
    """Whether the strategy is meant to trade: a run in which it fills nothing on any path
    is then reported (``tokbt.runs.warnings``). A baseline that never trades sets False."""

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self.params = self.make_params(params, **kwargs)

    @classmethod
    def make_params(cls, params: BaseModel | Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Validated ``Params`` from a model, a mapping and/or keywords;
        ``PluginError`` names the strategy, the field and the rule broken."""
        if isinstance(params, cls.Params) and not kwargs:
            return params
        data = dict(params.model_dump() if isinstance(params, BaseModel) else params or {})
        data.update(kwargs)
        try:
            return cls.Params.model_validate(data)
        except ValidationError as exc:
            problem = describe(exc, cls.Params)
            raise PluginError(f"strategy {cls.label()!r}: bad parameter: {problem}") from None

    @classmethod
    def label(cls) -> str:
        """The registry name, or the class name."""
        return cls.name or cls.__name__

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def parameters(cls) -> list[tuple[str, str, Any]]:
        """``(name, type, default)`` of each parameter."""
        out = []
        for key, info in cls.Params.model_fields.items():
            kind = getattr(info.annotation, "__name__", str(info.annotation))
            out.append((key, kind, info.get_default(call_default_factory=True)))
        return out

    # -- hooks: override the ones you need -------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        """Before the first event."""

    def on_bar(self, ctx: Context) -> None:
        """At every event, after fills and consumption (place orders here)."""

    def on_settle(self, ctx: Context) -> None:
        """After each daily settlement."""

    def on_margin_call(self, ctx: Context, call: MarginCall) -> None:
        """Inside a settlement that issued margin calls (``call.issued``) or found calls unmet
        by their deadline (``call.due``), before the margin-call model's liquidation orders
        (``call.liquidation``) execute: amend them in place to change what is sold; each
        may only reduce a due path's position in a contract still trading."""

    def on_end(self, ctx: Context) -> None:
        """After the last event."""


@dataclass
class PluginInfo:
    """One discovered plugin: its name, where it comes from (``origin``), the
    ``target`` it points to, and the class — or the error that kept it out."""

    name: str
    origin: str
    target: str
    cls: type | None = None
    error: str | None = None
    params: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The plugin's one-line doc (or its error)."""
        if self.cls is None:
            return f"cannot load: {self.error}"
        doc = getattr(self.cls, "summary", None)
        return doc() if callable(doc) else (self.cls.__doc__ or "").strip().split("\n")[0]


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _origin(ep: importlib.metadata.EntryPoint) -> str:
    dist = ep.dist
    return f"entry point ({dist.name} {dist.version})" if dist is not None else "entry point"


def discover() -> list[PluginInfo]:
    """Every registered plugin, loaded; a broken one carries its error instead."""
    found = []
    for ep in _entry_points():
        info = PluginInfo(ep.name, _origin(ep), ep.value)
        try:
            info.cls = _checked(ep.load(), ep.name)
            info.params = _params(info.cls)
        except Exception as exc:  # any import-time failure of a plugin is reported, not raised
            info.error = f"{type(exc).__name__}: {exc}"
        found.append(info)
    return found


def _params(cls: type) -> list[tuple[str, str, Any]]:
    getter = getattr(cls, "parameters", None)
    return list(getter()) if callable(getter) else []


def _checked(obj: Any, name: str, *, registered: bool = True) -> type:
    """``obj`` if it is a class; a registered ``Strategy`` takes its entry-point name
    unless its author declared one (a ``module:Class`` load names nothing)."""
    if not isinstance(obj, type):
        raise PluginError(f"strategy {name!r}: {obj!r} is not a class")
    cls: type = obj
    own = vars(cls)
    if registered and issubclass(cls, Strategy) and ("name" not in own or "_named_by" in own):
        cls.name = name
        cls._named_by = "entry point"  # type: ignore[attr-defined]
    return cls


def resolve(ref: str) -> type:
    """The strategy class for a registered name, ``module:Class`` or ``file.py:Class``."""
    for ep in _entry_points():
        if ep.name == ref:
            try:
                return _checked(ep.load(), ref)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"strategy {ref!r} ({ep.value}): importing it failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        known = ", ".join(e.name for e in _entry_points()) or "none"
        raise PluginError(
            f"strategy {ref!r}: not a registered name ({known}), module:Class or file.py:Class"
        )
    module = _import(ref, target)
    try:
        return _checked(getattr(module, attr), attr, registered=False)
    except AttributeError:
        raise PluginError(f"strategy {ref!r}: {target} has no {attr!r}") from None


def _import(ref: str, target: str) -> Any:
    try:
        if not target.endswith(".py"):
            return importlib.import_module(target)
        path = Path(target)
        if not path.is_file():
            raise PluginError(f"strategy {ref!r}: no such file {path}")
        spec = importlib.util.spec_from_file_location(f"tokbt_plugin_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"strategy {ref!r}: importing it failed: {type(exc).__name__}: {exc}"
        ) from exc


def create(strategy: str | type, params: Mapping[str, Any] | None = None) -> Any:
    """A strategy object from a reference or class, with validated ``params``."""
    cls = resolve(strategy) if isinstance(strategy, str) else strategy
    if isinstance(cls, type) and issubclass(cls, Strategy):
        return cls(params or {})
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise PluginError(f"strategy {cls.__name__!r}: bad parameters: {exc}") from None
